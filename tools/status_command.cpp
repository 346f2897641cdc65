#include "zmesh/tools/status_command.hpp"

#include "zmesh/tools/ops/host_options.hpp"
#include "zmesh/tools/ops/launcher_query.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <future>
#include <ostream>
#include <vector>

namespace zmesh::tools {
namespace {

namespace po = boost::program_options;
using internal::StatusReply;
using internal::StatusRequest;

constexpr int usage_error = 2;

void print_block(std::ostream& out, const HostEntry& host, const Result<StatusReply>& reply) {
  if (!reply) {
    fmt::print(out, "{}: NO ANSWER: {}\n  what to do: zmesh doctor --hosts {} checks that host step by step\n",
               host.to_string(), reply.error().message, host.to_string());
    return;
  }
  if (!reply->ok) {
    fmt::print(out, "{} ({}): REFUSED: {}\n", host.to_string(), reply->host, reply->error.message);
    return;
  }
  std::size_t procs = 0;
  for (const auto& client : reply->clients) procs += client.procs.size();
  fmt::print(out, "{} at {}: up {}, protocol {}, {} client{}, {} proc{}\n", reply->host, host.to_string(),
             human_duration(reply->uptime_ms), reply->version, reply->clients.size(),
             reply->clients.size() == 1 ? "" : "s", procs, procs == 1 ? "" : "s");
  for (const auto& client : reply->clients) {
    fmt::print(out, "  client {}: {}, heard {} ago (lease {}), {} proc{}\n", client.name, client.state,
               human_duration(client.heard_ms_ago), human_duration(client.lease_ms), client.procs.size(),
               client.procs.size() == 1 ? "" : "s");
    if (client.procs.empty()) continue;
    fmt::print(out, "    {:>6} {:>8}  {}\n", "rank", "pid", "state");
    for (const auto& proc : client.procs) fmt::print(out, "    {:>6} {:>8}  {}\n", proc.rank, proc.pid, proc.state);
  }
}

}  // namespace

int run_status_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  po::options_description described(
      "zmesh status: each launcher's clients, their procs (rank, pid, state) and its uptime\noptions");
  ClusterArguments cluster;
  std::uint32_t timeout_ms = 3000;
  described.add_options()("help,h", "show this help");
  add_cluster_options(described, cluster);
  described.add_options()("timeout-ms", po::value(&timeout_ms)->default_value(timeout_ms),
                          "how long to wait for every answer");
  po::variables_map values;
  if (!parse_tool_options("status", args, described, values, err)) return usage_error;
  if (values.count("help")) {
    out << described << "\nexample: zmesh status --hosts node1,node2:26601\n";
    return 0;
  }
  auto hosts = launcher_hosts(cluster.hosts);
  if (!hosts) {
    err << "zmesh status: " << hosts.error().message << "\nhint: zmesh status --hosts node1,node2\n";
    return usage_error;
  }
  auto config = tool_config(cluster.key_file, cluster.insecure);
  if (!config) {
    err << "zmesh status: " << config.error().message << '\n';
    return usage_error;
  }
  fmt::print(out, "zmesh status: asking {} launcher{} ({}), {} ms deadline, {}\n", hosts->hosts.size(),
             hosts->hosts.size() == 1 ? "" : "s", hosts->source, timeout_ms, security_text(*config));
  out.flush();
  zmq::context_t context;
  const Deadline deadline = deadline_in(Millis(timeout_ms));
  std::vector<std::future<Result<StatusReply>>> replies;
  for (const auto& host : hosts->hosts) {
    replies.push_back(std::async(std::launch::async, [&context, &config = *config, host, deadline] {
      return ask_launcher<StatusReply>(context, config, host, StatusRequest{}, deadline);
    }));
  }
  int silent = 0;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const auto reply = replies[i].get();
    silent += !reply || !reply->ok;
    print_block(out, hosts->hosts[i], reply);
  }
  if (silent > 0) fmt::print(out, "{} of {} launchers did not answer\n", silent, hosts->hosts.size());
  return silent > 0 ? 1 : 0;
}

}  // namespace zmesh::tools
