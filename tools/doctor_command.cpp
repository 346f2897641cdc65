#include "zmesh/tools/doctor_command.hpp"

#include "zmesh/tools/net/reach_listener.hpp"
#include "zmesh/tools/ops/host_checks.hpp"
#include "zmesh/tools/ops/host_options.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <unistd.h>

#include <climits>
#include <future>
#include <ostream>
#include <vector>

namespace zmesh::tools {
namespace {

namespace po = boost::program_options;
using State = CheckResult::State;

constexpr int usage_error = 2;

std::string self_executable() {
  char path[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, static_cast<std::size_t>(length)) : "/proc/self/exe";
}

void print_table(std::ostream& out, const std::vector<HostChecks>& reports) {
  std::size_t width = 4;
  for (const auto& report : reports) width = std::max(width, report.host.to_string().size());
  const auto names = HostChecks::names();
  std::string header = fmt::format("{:<{}}", "host", width);
  for (const auto& name : names) header += fmt::format("  {:<10}", name);
  fmt::print(out, "{}\n", header.substr(0, header.find_last_not_of(' ') + 1));
  for (const auto& report : reports) {
    std::string row = fmt::format("{:<{}}", report.host.to_string(), width);
    for (const auto* result : report.results()) {
      row += fmt::format("  {:<10}", result->state == State::ok ? "ok" : result->state == State::failed ? "FAIL" : "-");
    }
    fmt::print(out, "{}\n", row.substr(0, row.find_last_not_of(' ') + 1));
  }
}

void print_findings(std::ostream& out, const std::vector<HostChecks>& reports) {
  const auto names = HostChecks::names();
  for (const auto& report : reports) {
    const auto results = report.results();
    bool first = true;
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i]->state != State::failed) continue;
      if (first) fmt::print(out, "\n{}:\n", report.host.to_string());
      first = false;
      fmt::print(out, "  {} FAILED: {}\n    what to do: {}\n", names[i], results[i]->detail, results[i]->todo);
    }
    if (first && report.ok()) {
      fmt::print(out, "{}: ready: launcher protocol {}, runs {}, reaches back {}\n", report.host.to_string(),
                 report.protocol.detail, report.executable.detail, report.reach.detail);
    }
  }
}

}  // namespace

int run_doctor_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  po::options_description described(
      "zmesh doctor: check every launcher host before a job (name, launcher, key, version, "
      "executable, reach back)\noptions");
  ClusterArguments cluster;
  std::string executable, client_host;
  std::uint32_t timeout_ms = 3000;
  described.add_options()("help,h", "show this help");
  add_cluster_options(described, cluster);
  described.add_options()("executable", po::value(&executable),
                          "the program the procs run (default: this zmesh binary)")(
      "client-host", po::value(&client_host),
      "the address of this machine procs connect back to (default: the one that routes to each host)")(
      "timeout-ms", po::value(&timeout_ms)->default_value(timeout_ms), "deadline of each step");
  po::variables_map values;
  if (!parse_tool_options("doctor", args, described, values, err)) return usage_error;
  if (values.count("help")) {
    out << described << "\nexample: zmesh doctor --hosts node1,node2 --executable /shared/bin/trainer\n";
    return 0;
  }
  auto hosts = launcher_hosts(cluster.hosts);
  if (!hosts) {
    err << "zmesh doctor: " << hosts.error().message << "\nhint: zmesh doctor --hosts node1,node2\n";
    return usage_error;
  }
  auto config = tool_config(cluster.key_file, cluster.insecure);
  if (!config) {
    err << "zmesh doctor: " << config.error().message << "\nhint: fix that ZMESH_* variable or --key\n";
    return usage_error;
  }
  DoctorTarget target;
  target.executable = executable.empty() ? self_executable() : executable;
  target.client_host = client_host;
  target.timeout = Millis(timeout_ms);

  fmt::print(out, "zmesh doctor: effective configuration (ZMESH_* variables; docs/configuration.md)\n");
  for (const auto& line : config->describe()) fmt::print(out, "  {}\n", line);
  std::optional<ReachListener> listener;
  try {
    listener.emplace(client_host.empty() ? "0.0.0.0" : client_host);
  } catch (const Exception& e) {
    err << "zmesh doctor: " << e.error().message << '\n';
    return usage_error;
  }
  target.reach_port = listener->port();
  fmt::print(out, "\nchecking {} host{} ({}): executable {}, {}, {} ms per step, reach back on port {}\n",
             hosts->hosts.size(), hosts->hosts.size() == 1 ? "" : "s", hosts->source, target.executable,
             security_text(*config), timeout_ms, target.reach_port);
  out.flush();

  zmq::context_t context;
  std::vector<std::future<HostChecks>> running;
  for (const auto& host : hosts->hosts) {
    running.push_back(std::async(std::launch::async, [&context, &config = *config, host, &target] {
      return check_host(context, config, host, target);
    }));
  }
  std::vector<HostChecks> reports;
  for (auto& future : running) reports.push_back(future.get());
  print_table(out, reports);
  print_findings(out, reports);
  std::size_t failing = 0;
  for (const auto& report : reports) failing += !report.ok();
  if (failing == 0) {
    fmt::print(out, "\nall {} hosts ready\n", reports.size());
    return 0;
  }
  fmt::print(out, "\n{} of {} hosts not ready (see above)\n", failing, reports.size());
  return 1;
}

}  // namespace zmesh::tools
