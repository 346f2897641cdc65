#include "zmesh/tools/ops/host_options.hpp"

#include <fmt/format.h>

#include <vector>

namespace zmesh::tools {

namespace po = boost::program_options;

void add_cluster_options(po::options_description& described, ClusterArguments& into) {
  described.add_options()("hosts", po::value(&into.hosts),
                          "launchers, host[:port] comma-separated (default port 26600); default: ZMESH_HOSTS, "
                          "ZMESH_HOSTFILE or SLURM_JOB_NODELIST")(
      "key", po::value(&into.key_file), "the launchers' key file (as ZMESH_KEY_FILE)")(
      "insecure", po::bool_switch(&into.insecure), "plain tcp, for launchers started with --insecure");
}

bool parse_tool_options(std::string_view command, std::span<const std::string> args,
                        const po::options_description& described, po::variables_map& values, std::ostream& err) {
  try {
    po::store(po::command_line_parser(std::vector<std::string>(args.begin(), args.end())).options(described).run(),
              values);
    po::notify(values);
    return true;
  } catch (const po::error& e) {
    err << "zmesh " << command << ": " << e.what() << "\nhint: zmesh " << command << " --help\n";
    return false;
  }
}

Result<HostSelection> launcher_hosts(const std::string& list) {
  return find_hosts(HostSources{.list = list});
}

Result<Config> tool_config(const std::string& key_file, bool insecure) {
  auto config = Config::from_environment();
  if (!config) return std::move(config).error();
  if (!key_file.empty()) {
    if (auto used = config->use_key_file(key_file); !used) {
      return Error(used.error().code, fmt::format("--key: {}", used.error().message));
    }
  }
  if (insecure) config->insecure = true;
  return config;
}

std::string security_text(const Config& config) {
  if (!config.curve.empty()) {
    return config.key_file.empty() ? "CURVE (ZMESH_KEY)" : fmt::format("CURVE (key file {})", config.key_file);
  }
  return config.insecure ? "plain tcp (--insecure)" : "no key";
}

std::string human_duration(std::uint64_t ms) {
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f}s", ms / 1000.0);
  const std::uint64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60);
  return fmt::format("{}d{:02}h{:02}m", s / 86400, s % 86400 / 3600, s % 3600 / 60);
}

}  // namespace zmesh::tools
