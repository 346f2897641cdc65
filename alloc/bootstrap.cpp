#include "zmesh/alloc/bootstrap.hpp"

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/alloc/event_log.hpp"
#include "zmesh/alloc/proc_agent.hpp"
#include "zmesh/transport/node.hpp"
#include "zmesh/transport/supervision_channel.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

namespace zmesh {
namespace {

constexpr int exit_boot_failed = 70;
constexpr int exit_client_lost = 71;

std::string getenv_string(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  return value ? value : "";
}

[[noreturn]] void fail_boot(const std::string& why) {
  std::fprintf(stderr, "ZM-BOOT-FAILED %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(exit_boot_failed);
}

template <class T>
T or_fail(Result<T> result, std::string_view what) {
  if (!result) fail_boot(fmt::format("{}: {}", what, result.error().describe()));
  return std::move(*result);
}

// Binds through `bind(address)`; for "tcp://HOST:0" with ZMESH_BOOTSTRAP_PORTS=A-B set (a
// launcher's --proc-ports), the first port of A-B that binds instead of any port.
template <class Bind>
auto bind_in_port_range(const std::string& address, Bind bind) -> decltype(bind(address)) {
  const std::string range = getenv_string("ZMESH_BOOTSTRAP_PORTS");
  unsigned low = 0, high = 0;
  if (range.empty() || address.size() < 2 || address.compare(address.size() - 2, 2, ":0") != 0 ||
      std::sscanf(range.c_str(), "%u-%u", &low, &high) != 2 || low == 0 || high > 65535 || low > high) {
    return bind(address);
  }
  const std::string base = address.substr(0, address.size() - 1);
  auto result = bind(base + std::to_string(low));
  for (unsigned port = low + 1; !result && port <= high; ++port) result = bind(base + std::to_string(port));
  if (!result) {
    return Error(result.error().code, fmt::format("no free port in {} (ZMESH_BOOTSTRAP_PORTS): {}", range,
                                                  result.error().message));
  }
  return result;
}

// Addresses for this proc's endpoint and supervision publisher.
std::pair<std::string, std::string> local_addresses(const ProcId& id, const std::string& transport) {
  if (transport == "tcp") {
    std::string host = getenv_string(env_bootstrap_host);
    if (host.empty()) host = "127.0.0.1";
    return {fmt::format("tcp://{}:0", host), fmt::format("tcp://{}:0", host)};
  }
  // In the mesh's private directory (alloc/internal/ipc_directory.hpp): only this user can
  // open it, and the client removes it, with the files of procs killed by SIGKILL.
  const auto base = fmt::format("{}/{}-{}", getenv_string(env_bootstrap_ipc_dir), id.rank, ::getpid());
  return {fmt::format("ipc://{}", base), fmt::format("ipc://{}-sup", base)};
}

int run_proc(std::shared_ptr<const Registry> registry) {
  // Signals are taken synchronously by the main loop below; threads created from here on
  // inherit the mask, so none of them is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const Config config = or_fail(Config::from_environment(), "configuration");
  const ProcId id = or_fail(ProcId::parse(getenv_string(env_bootstrap_proc)), env_bootstrap_proc);
  const ProcId client = or_fail(ProcId::parse(getenv_string(env_bootstrap_client)), env_bootstrap_client);
  const PortId hello_port = or_fail(PortId::parse(getenv_string(env_bootstrap_port)), env_bootstrap_port);
  const std::string client_address = getenv_string(env_bootstrap_address);
  const auto [address, supervision_address] = local_addresses(id, getenv_string(env_bootstrap_transport));

  Runtime runtime(config);
  auto publisher = or_fail(bind_in_port_range(supervision_address,
                                              [&](const std::string& at) {
                                                return SupervisionPublisher::bind(runtime.context(), id, at, config);
                                              }),
                           "supervision publisher");
  EventLog events(publisher.get());
  auto node = or_fail(bind_in_port_range(address,
                                         [&](const std::string& at) {
                                           return Node::start(runtime,
                                                              ProcOptions{id, registry, config, nullptr,
                                                                          [&events](const SupervisionEvent& event) {
                                                                            events.append(event);
                                                                          }},
                                                              at);
                                         }),
                      "endpoint");
  if (auto routed = node->endpoint().add_route(client, client_address); !routed) {
    fail_boot(fmt::format("client address {}: {}", client_address, routed.error().describe()));
  }

  std::atomic<std::int64_t> last_heard_ns{Clock::now().time_since_epoch().count()};
  std::atomic<bool> stop_requested{false};
  ProcAgent::Hooks hooks;
  hooks.rank = id.rank;
  hooks.events = &events;
  hooks.supervision_address = publisher->address();
  Endpoint* endpoint = &node->endpoint();
  hooks.add_route = [endpoint](const ProcId& proc, const std::string& route) {
    return endpoint->add_route(proc, route);
  };
  hooks.stop_proc = [&stop_requested](const std::string&) {
    stop_requested = true;
    ::kill(::getpid(), SIGUSR1);  // wakes the main loop
  };
  hooks.heard_from_client = [&last_heard_ns] {
    last_heard_ns = Clock::now().time_since_epoch().count();
  };
  const ActorId agent = or_fail(node->proc().spawn_actor(std::string(agent_actor_name),
                                                        std::make_unique<ProcAgent>(std::move(hooks))),
                                "agent");
  {
    auto boot = or_fail(node->proc().attach("boot"), "boot mailbox");
    boot.send(PortRef<BootstrapHello>{hello_port},
              BootstrapHello{id.rank, ::getpid(), id, node->address(), agent,
                             config.max_message_bytes});
  }

  // Heartbeats out, client liveness in, until told to stop.
  int exit_code = 0;
  Deadline silent_after = Clock::now() + config.bootstrap_timeout;
  for (;;) {
    const auto tick = config.heartbeat_interval;
    timespec timeout{static_cast<time_t>(tick.count() / 1000), static_cast<long>((tick.count() % 1000) * 1000000)};
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (stop_requested || signal == SIGTERM || signal == SIGINT) break;
    events.heartbeat();
    const Deadline heard = Deadline(Clock::duration(last_heard_ns.load()));
    silent_after = std::max(silent_after, heard + config.heartbeat_timeout);
    if (Clock::now() > silent_after) {
      std::fprintf(stderr,
                   "ZM-CLIENT-LOST %s: no word from client %s for %lld ms; exiting so that no "
                   "orphan proc is left\n",
                   id.to_string().c_str(), client.to_string().c_str(),
                   static_cast<long long>(config.heartbeat_timeout.count()));
      exit_code = exit_client_lost;
      break;
    }
  }
  // A handler that never returns keeps ~Proc waiting for it (ZM-PROC-HUNG), and with it this
  // process, whose client may be gone and whose launcher may be unable to kill it (frozen):
  // the teardown gets its drain and flush deadlines, then the process exits anyway.
  std::thread([code = exit_code, limit = config.stop_timeout + config.linger, id] {
    std::this_thread::sleep_for(limit);
    std::fprintf(stderr, "ZM-PROC-EXIT-FORCED %s: a handler did not return within %lld ms of the stop\n",
                 id.to_string().c_str(), static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(code);
  }).detach();
  // Stops actors (their stop events are published as they happen), flushes the endpoint.
  // No heartbeat after this: it would announce events that no agent is left to serve.
  node.reset();
  publisher.reset();
  return exit_code;
}

}  // namespace

bool started_as_proc() { return !getenv_string(env_bootstrap_proc).empty(); }

void run_if_started_as_proc(int, char**, std::shared_ptr<const Registry> registry) {
  if (!started_as_proc()) return;
  const int code = run_proc(std::move(registry));
  std::fflush(stdout);
  std::fflush(stderr);
  std::exit(code);
}

}  // namespace zmesh
