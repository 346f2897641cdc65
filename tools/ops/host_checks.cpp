#include "zmesh/tools/ops/host_checks.hpp"

#include "zmesh/alloc/internal/launcher_protocol.hpp"
#include "zmesh/tools/net/tcp_check.hpp"
#include "zmesh/tools/ops/launcher_query.hpp"
#include "zmesh/transport/security.hpp"

#include <fmt/format.h>

namespace zmesh::tools {
namespace {

using internal::ProbeReply;
using internal::ProbeRequest;
using State = CheckResult::State;

CheckResult ok(std::string detail) { return {State::ok, std::move(detail), {}}; }
CheckResult failed(std::string detail, std::string todo) { return {State::failed, std::move(detail), std::move(todo)}; }

}  // namespace

std::vector<std::string> HostChecks::names() {
  return {"resolve", "launcher", "handshake", "protocol", "executable", "reach back"};
}

std::vector<const CheckResult*> HostChecks::results() const {
  return {&resolve, &launcher, &handshake, &protocol, &executable, &reach};
}

bool HostChecks::ok() const {
  for (const auto* result : results()) {
    if (result->state != State::ok) return false;
  }
  return true;
}

HostChecks check_host(zmq::context_t& context, const Config& config, const HostEntry& host,
                      const DoctorTarget& target) {
  HostChecks checks{host, {}, {}, {}, {}, {}, {}};
  auto ip = resolve_ipv4(host.host);
  if (!ip) {
    checks.resolve = failed(ip.error().message, "fix the name in --hosts, or this machine's DNS or /etc/hosts");
    return checks;
  }
  checks.resolve = ok(*ip);

  if (auto connected = tcp_connect_check(*ip, host.port, target.timeout); !connected) {
    checks.launcher = failed(
        connected.error().message,
        connected.error().code == ErrorCode::timeout
            ? fmt::format("check that {} is up and that its firewall lets this machine reach tcp port {}",
                          host.host, host.port)
            : fmt::format("start the launcher there: zmesh-launcher --listen tcp://{}:{} (docs/launcher.md)", *ip,
                          host.port));
    return checks;
  }
  checks.launcher = ok(fmt::format("tcp port {} open", host.port));

  std::string client_host = target.client_host;
  if (client_host.empty()) {
    auto towards = local_address_towards(HostEntry{*ip, host.port, 0});
    if (!towards) {
      checks.reach = failed(towards.error().message, "give an address of this machine with --client-host");
    } else {
      client_host = *towards;
    }
  }
  ProbeRequest request;
  request.executable = target.executable;
  request.reach_host = client_host;
  request.reach_port = target.reach_port;
  request.timeout_ms = static_cast<std::uint32_t>(target.timeout.count());
  QueryStage stage = QueryStage::no_connection;
  // The launcher's own tcp connect may take the whole timeout: wait for it on top.
  const HostEntry launcher{*ip, host.port, 0};
  auto reply = ask_launcher<ProbeReply>(context, config, launcher, request,
                                        deadline_in(2 * target.timeout + Millis(500)), &stage);
  const std::string mode = uses_curve("tcp://" + launcher.to_string(), config) ? "CURVE" : "plain tcp";
  if (!reply && reply.error().code == ErrorCode::unauthenticated && stage == QueryStage::no_connection) {
    checks.handshake = failed(reply.error().message,
                              "give the launchers' key file (--key FILE or ZMESH_KEY_FILE), or --insecure for "
                              "launchers started with --insecure");
    return checks;
  }
  if (stage == QueryStage::handshake_failed) {
    checks.handshake = failed(reply.error().message,
                              "use the key file the launchers use: --key FILE (or ZMESH_KEY_FILE); "
                              "zmesh keygen makes one, copy it to every host");
    return checks;
  }
  if (stage == QueryStage::no_connection || stage == QueryStage::connected) {
    checks.handshake = failed(reply.error().message,
                              fmt::format("make sure a zmesh-launcher of this version listens on {} with the "
                                          "same security mode as this client ({})",
                                          host.to_string(), mode));
    return checks;
  }
  checks.handshake = ok(mode);
  if (!reply) {
    checks.protocol = failed(reply.error().message,
                             reply.error().code == ErrorCode::timeout
                                 ? "look at the launcher's log there; restart it if it is stuck"
                                 : "run the same zmesh version on this machine and on every launcher host");
    return checks;
  }
  if (!reply->ok) {
    checks.protocol = failed(reply->error.message, reply->error.code == ErrorCode::version_mismatch
                                                       ? "run the same zmesh version everywhere"
                                                       : "retry in a few seconds");
    return checks;
  }
  checks.protocol = ok(fmt::format("version {} at {}", reply->version, reply->host));
  checks.executable = reply->executable_problem.empty()
                          ? ok(target.executable)
                          : failed(reply->executable_problem,
                                   fmt::format("install it at the same path on {} (every host runs the same "
                                               "path), or name another with --executable",
                                               host.host));
  if (checks.reach.state != State::failed) {
    checks.reach = reply->reach_problem.empty()
                       ? ok(fmt::format("{}:{}", client_host, target.reach_port))
                       : failed(reply->reach_problem,
                                fmt::format("let {} reach {} over tcp (routing, firewall), or give an "
                                            "address of this machine it can reach with --client-host",
                                            host.host, client_host));
  }
  return checks;
}

}  // namespace zmesh::tools
