#include "launcher_server.hpp"

#include "launcher_queries.hpp"

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/alloc/bootstrap.hpp"
#include "zmesh/alloc/child_process.hpp"
#include "zmesh/alloc/host_list.hpp"
#include "zmesh/alloc/internal/launcher_protocol.hpp"
#include "zmesh/alloc/internal/proc_environment.hpp"
#include "zmesh/core/internal/unique_fd.hpp"
#include "zmesh/core/key_file.hpp"
#include "zmesh/transport/internal/handshake_watch.hpp"
#include "zmesh/transport/security.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <zmq.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

namespace zmesh::launcher {
namespace {

using internal::ClientBeat;
using internal::LaunchReply;
using internal::LaunchRequest;
using internal::LauncherBeat;
using internal::LauncherError;
using internal::OutputNote;
using internal::ProcExitNote;
using internal::ProcStartedNote;
using internal::Release;
using internal::SignalProc;
using internal::StopProcs;

constexpr std::size_t max_frames = 8;                  // routing id + 2, with room to see excess
constexpr std::int64_t max_message_bytes = 16 << 20;   // a launch request is a few KiB

// The first IPv4 address of `name`, or `name` itself when it does not resolve.
std::string resolve_ipv4(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return name;
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
  ::freeaddrinfo(found);
  return text;
}

std::string printable(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f) out.push_back(static_cast<char>(c));
    else out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

}  // namespace

Result<std::pair<std::string, std::uint16_t>> parse_listen_address(const std::string& text) {
  std::string rest = text;
  if (rest.rfind("tcp://", 0) == 0) {
    rest = rest.substr(6);
  } else if (rest.find("://") != std::string::npos) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("listen address \"{}\": only tcp://HOST:PORT is supported", text));
  }
  std::string host = rest;
  std::uint16_t port = 26600;
  if (const auto colon = rest.rfind(':'); colon != std::string::npos && rest.find(']') == std::string::npos) {
    host = rest.substr(0, colon);
    const std::string digits = rest.substr(colon + 1);
    char* end = nullptr;
    const long value = std::strtol(digits.c_str(), &end, 10);
    if (digits.empty() || *end != '\0' || value < 1 || value > 65535) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("listen address \"{}\": port \"{}\" is not in 1-65535", text, digits));
    }
    port = static_cast<std::uint16_t>(value);
  }
  if (host.empty()) return Error(ErrorCode::invalid_argument, fmt::format("listen address \"{}\" has no host", text));
  return std::make_pair(host, port);
}

Result<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(const std::string& text) {
  unsigned low = 0, high = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%u-%u%c", &low, &high, &tail) != 2 || low < 1 || high > 65535 || low > high) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("port range \"{}\": expected A-B with 1 <= A <= B <= 65535", text));
  }
  return std::make_pair(static_cast<std::uint16_t>(low), static_cast<std::uint16_t>(high));
}

struct LauncherServer::Impl {
  // One client: whoever sent a LaunchRequest from one routing id.
  struct Client {
    std::string identity;
    std::string name;
    std::string world;
    Millis interval{250};
    Millis lease{5000};
    Millis kill_timeout{2000};
    Clock::time_point last_heard;
    Clock::time_point next_beat;
    std::uint64_t beats = 0;
    std::set<std::uint32_t> live;               // started, exit not yet reported
    std::map<std::uint32_t, std::int64_t> pids;  // by rank, for zmesh status
    std::map<std::uint32_t, std::string> why;   // watchdog reasons, by rank
    bool stop_requested = false;
    std::optional<Clock::time_point> term_at;
    std::optional<Clock::time_point> kill_at;
    bool term_sent = false;
    bool kill_sent = false;
    bool forgetting = false;  // silent or released: erased once nothing runs
    std::unique_ptr<ChildProcessGroup> children;  // last: its callbacks post to the server
  };

  LauncherOptions options;
  Config config;
  Logger log;
  std::string host;  // "tnode2 (10.250.0.12)", for messages
  std::string address;
  zmq::context_t context{1};
  zmq::socket_t router{context, zmq::socket_type::router};
  std::optional<internal::HandshakeWatch> handshakes;  // with CURVE: refused peers, logged
  internal::UniqueFd wake_fd;
  std::atomic<bool> stop{false};

  std::mutex posted_mutex;  // guards posted
  std::vector<std::function<void()>> posted;

  std::map<std::string, std::unique_ptr<Client>> clients;  // main thread only
  std::uint64_t dropped_sends = 0;
  bool shutting_down = false;
  RateLimiter garbage_log{Millis(1000)};
  RateLimiter drop_log{Millis(1000)};
  std::optional<LauncherQueries> queries;  // last: its probe threads post to the server

  Impl(LauncherOptions opts, Config cfg)
      : options(std::move(opts)), config(std::move(cfg)), log("zmesh.launcher", "launcher=" + options.listen, "info") {
    auto listen = parse_listen_address(options.listen);
    if (!listen) throw Exception(listen.error());
    const auto& [listen_host, port] = *listen;
    const bool wildcard = listen_host == "*" || listen_host == "0.0.0.0";
    if (options.advertise.empty()) options.advertise = wildcard ? resolve_ipv4(local_host_name()) : listen_host;
    host = fmt::format("{} ({})", local_host_name(), options.advertise);
    wake_fd = internal::UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_fd.valid()) {
      throw Exception(Error(ErrorCode::internal, fmt::format("eventfd: {}", std::strerror(errno))));
    }
    router.set(zmq::sockopt::linger, 500);
    router.set(zmq::sockopt::router_mandatory, 1);
    router.set(zmq::sockopt::maxmsgsize, max_message_bytes);
    router.set(zmq::sockopt::sndhwm, 100000);  // bursts of proc output; beyond: dropped, counted, logged
    const std::string endpoint = fmt::format("tcp://{}:{}", wildcard ? "*" : listen_host, port);
    if (auto secured = secure_socket(router, endpoint, config, SocketRole::server); !secured) {
      throw Exception(Error(secured.error().code,
                            fmt::format("zmesh-launcher cannot listen: {}", secured.error().message)));
    }
    try {
      router.bind(endpoint);
    } catch (const zmq::error_t& e) {
      const std::string hint = e.num() == EADDRINUSE
                                   ? "; is another zmesh-launcher (or another program) running "
                                     "there? choose another --listen port"
                               : e.num() == EADDRNOTAVAIL || e.num() == ENODEV
                                   ? "; that address is not one of this host's interfaces"
                                   : "";
      throw Exception(Error(ErrorCode::transport_failed,
                            fmt::format("zmesh-launcher cannot listen on {}: {}{}", endpoint, e.what(), hint)));
    }
    address = router.get(zmq::sockopt::last_endpoint);
    if (wildcard) address = fmt::format("tcp://{}:{}", options.advertise, port);
    if (uses_curve(endpoint, config)) {
      handshakes.emplace(context, router, true);
    } else {
      log.warn("ZM-LAUNCHER-INSECURE listening without CURVE (--insecure): anyone who can reach "
               "this port can start processes as this user; keep it on a trusted network");
    }
    queries.emplace(host, LauncherQueries::Hooks{
                              [this] { return client_status(); },
                              [this](const std::string& identity, const std::pair<std::string, std::string>& frames) {
                                send_frames(identity, frames);
                              },
                              [this](std::function<void()> task) { post(std::move(task)); }});
  }

  void report_refused_handshakes() {
    for (const auto& refusal : handshakes->drain()) {
      log.warn("ZM-LAUNCHER-HANDSHAKE-REFUSED a peer at {} failed the CURVE handshake on {}: {}; it can "
               "neither start, stop nor watch anything (logged once per host)",
               refusal.peer_text(), address, refusal.reason);
    }
  }

  // What the procs need to secure their own sockets: this launcher's pair (or insecure),
  // whatever the client's environment said; the key file's path stays on this host.
  void add_security(std::vector<std::pair<std::string, std::string>>& environment) const {
    std::erase_if(environment, [](const auto& variable) {
      return variable.first == "ZMESH_KEY" || variable.first == "ZMESH_KEY_FILE" ||
             variable.first == "ZMESH_INSECURE";
    });
    environment.emplace_back("ZMESH_KEY_FILE", "");
    environment.emplace_back("ZMESH_KEY", config.curve.empty() ? std::string() : key_pair_text(config.curve));
    environment.emplace_back("ZMESH_INSECURE", config.insecure ? "1" : "0");
  }

  // -- any thread --
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(posted_mutex);
      posted.push_back(std::move(task));
    }
    const std::uint64_t one = 1;
    (void)!::write(wake_fd.get(), &one, sizeof one);
  }

  // -- main thread: sending --
  template <class T>
  void send(const std::string& identity, const T& message) {
    send_frames(identity, internal::launcher_frames(message));
  }

  void send_frames(const std::string& identity, const std::pair<std::string, std::string>& frames) {
    const auto& [type, body] = frames;
    try {
      if (!router.send(zmq::buffer(identity), zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
          !router.send(zmq::buffer(type), zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
          !router.send(zmq::buffer(body), zmq::send_flags::dontwait)) {
        dropped(identity, type, "the client is far behind (send queue full)");
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == EHOSTUNREACH) {
        ++dropped_sends;  // the client is gone (expected): its lease will lapse; only counted
      } else {
        dropped(identity, type, e.what());
      }
    }
  }

  void dropped(const std::string& identity, std::string_view type, std::string_view why) {
    ++dropped_sends;
    if (drop_log.allow()) {
      log.warn("ZM-LAUNCHER-SEND-DROPPED {} to {}: {} ({} dropped so far)", type, printable(identity), why,
               dropped_sends);
    }
  }

  void refuse(const std::string& identity, Error error) {
    if (garbage_log.allow()) log.warn("ZM-LAUNCHER-BAD-INPUT from {}: {}", printable(identity), error.message);
    send(identity, LauncherError{std::move(error)});
  }

  // -- main thread: the loop --
  void run(int signal_fd) {
    log.info("zmesh-launcher on {} serving at {}", host, address);
    while (!stop) {
      zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, signal_fd, ZMQ_POLLIN, 0},
                                 {nullptr, wake_fd.get(), ZMQ_POLLIN, 0},
                                 {handshakes ? handshakes->handle() : nullptr, -1, ZMQ_POLLIN, 0}};
      zmq::poll(items, handshakes ? 4 : 3, next_timeout());  // poll() skips a negative signal_fd
      if (handshakes && (items[3].revents & ZMQ_POLLIN)) report_refused_handshakes();
      if (signal_fd >= 0 && (items[1].revents & ZMQ_POLLIN)) {
        signalfd_siginfo info{};
        if (::read(signal_fd, &info, sizeof info) == sizeof info) {
          log.info("got SIG{}: stopping every proc and exiting", sigabbrev_np(static_cast<int>(info.ssi_signo)));
          break;
        }
      }
      if (items[2].revents & ZMQ_POLLIN) run_posted();
      for (int i = 0; i < 256 && receive_one(); ++i) {
      }
      tick(Clock::now());
    }
    shutdown();
  }

  std::chrono::milliseconds next_timeout() const {
    auto next = Clock::now() + Millis(1000);
    for (const auto& [identity, client] : clients) {
      next = std::min(next, client->next_beat);
      if (!client->forgetting) next = std::min(next, client->last_heard + client->lease);
      if (client->term_at && !client->term_sent) next = std::min(next, *client->term_at);
      if (client->kill_at && !client->kill_sent) next = std::min(next, *client->kill_at);
    }
    const auto wait = std::chrono::duration_cast<Millis>(next - Clock::now()) + Millis(1);
    return std::max(wait, Millis(0));
  }

  void run_posted() {
    std::uint64_t count = 0;
    (void)!::read(wake_fd.get(), &count, sizeof count);
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard lock(posted_mutex);
      tasks.swap(posted);
    }
    for (auto& task : tasks) task();
  }

  // Reads one message if there is one; false when none was waiting.
  bool receive_one() {
    std::vector<zmq::message_t> frames;
    std::size_t total = 0;
    for (;;) {
      zmq::message_t frame;
      if (!router.recv(frame, frames.empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none)) return false;
      const bool more = frame.more();
      ++total;
      if (frames.size() < max_frames) frames.push_back(std::move(frame));
      if (!more) break;
    }
    const std::string identity = frames[0].to_string();
    if (total != 3) {
      refuse(identity, Error(ErrorCode::decode_error,
                             fmt::format("garbage: expected 2 frames [type][msgpack body], got {}; "
                                         "is this a zmesh client of the same version?",
                                         total - 1)));
      return true;
    }
    handle(identity, frames[1].to_string(), frames[2].to_string());
    return true;
  }

  template <class T>
  std::optional<T> body_of(const std::string& identity, const std::string& body) {
    auto decoded = internal::decode_launcher_body<T>(body);
    if (!decoded) {
      refuse(identity, Error(ErrorCode::decode_error, fmt::format("garbage: {}", decoded.error().message)));
      return std::nullopt;
    }
    return std::move(*decoded);
  }

  void handle(const std::string& identity, const std::string& type, const std::string& body) {
    auto found = clients.find(identity);
    Client* client = found == clients.end() ? nullptr : found->second.get();
    if (client) client->last_heard = Clock::now();
    if (type == message_name<LaunchRequest>()) {
      if (auto request = body_of<LaunchRequest>(identity, body)) launch(identity, client, std::move(*request));
      return;
    }
    if (LauncherQueries::is_query(type)) {
      if (auto answered = queries->answer(identity, type, body); !answered) refuse(identity, answered.error());
      return;
    }
    const bool known = type == message_name<ClientBeat>() || type == message_name<StopProcs>() ||
                       type == message_name<SignalProc>() || type == message_name<Release>();
    if (!known) {
      refuse(identity, Error(ErrorCode::not_found,
                             fmt::format("unknown message type \"{}\" (known: {}, {}, {}, {}, {}, {})",
                                         printable(type.substr(0, 100)), message_name<LaunchRequest>(),
                                         message_name<ClientBeat>(), message_name<StopProcs>(),
                                         message_name<SignalProc>(), message_name<Release>(),
                                         LauncherQueries::names())));
      return;
    }
    if (!client) {
      refuse(identity, Error(ErrorCode::not_found,
                             fmt::format("{} from a client this launcher does not know (forgotten "
                                         "after its lease lapsed, or never launched): send {} first",
                                         type, message_name<LaunchRequest>())));
      return;
    }
    if (type == message_name<ClientBeat>()) {
      (void)body_of<ClientBeat>(identity, body);
    } else if (type == message_name<StopProcs>()) {
      if (auto stop_request = body_of<StopProcs>(identity, body)) {
        log.info("client {}: stop {} procs (SIGTERM after {} ms)", client->name, client->live.size(),
                 stop_request->grace_ms);
        begin_stop(*client, Clock::now() + Millis(stop_request->grace_ms), true);
      }
    } else if (type == message_name<SignalProc>()) {
      if (auto request = body_of<SignalProc>(identity, body)) {
        if (!client->live.contains(request->rank)) {
          refuse(identity, Error(ErrorCode::not_found,
                                 fmt::format("{}: rank {} is not running here for you", host, request->rank)));
        } else {
          if (!request->why.empty()) client->why.try_emplace(request->rank, request->why);
          if (auto sent = client->children->signal(request->rank, request->signal); !sent) {
            refuse(identity, sent.error());
          }
        }
      }
    } else if (type == message_name<Release>()) {
      log.info("client {} released this launcher ({} procs still running)", client->name, client->live.size());
      client->forgetting = true;
      begin_stop(*client, Clock::now(), client->stop_requested);
      forget_if_done(identity);
    }
  }

  void begin_stop(Client& client, Clock::time_point term_at, bool requested) {
    client.stop_requested = client.stop_requested || requested;
    if (!client.term_at || term_at < *client.term_at) {
      client.term_at = term_at;
      client.kill_at = term_at + client.kill_timeout;
    }
  }

  Result<void> check_request(const LaunchRequest& request, Client* existing) {
    if (request.version != internal::launcher_protocol_version) {
      return Error(ErrorCode::version_mismatch,
                   fmt::format("{}: client speaks launcher protocol {}, this launcher {}; use the "
                               "same zmesh version on both sides",
                               host, request.version, internal::launcher_protocol_version));
    }
    if (existing) {
      return Error(ErrorCode::duplicate, fmt::format("{}: client {} already has procs here", host, request.client));
    }
    if (request.ranks.empty()) {
      return Error(ErrorCode::invalid_argument, fmt::format("{}: the request asks for 0 procs", host));
    }
    const std::uint32_t limit = std::min(options.max_procs, internal::launcher_max_procs_per_request);
    if (request.ranks.size() > limit) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("{}: the request asks for {} procs; this launcher starts at most {} "
                               "per client (--max-procs)",
                               host, request.ranks.size(), limit));
    }
    if (std::set<std::uint32_t>(request.ranks.begin(), request.ranks.end()).size() != request.ranks.size()) {
      return Error(ErrorCode::invalid_argument, fmt::format("{}: the request names a rank twice", host));
    }
    if (request.world.empty() || request.client_proc.empty() || request.hello_port.empty()) {
      return Error(ErrorCode::invalid_argument, fmt::format("{}: the request has no world, client or hello port", host));
    }
    if (request.client_address.rfind("tcp://", 0) != 0) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("{}: client address \"{}\" is not tcp://: procs on other hosts "
                               "reach their client over tcp",
                               host, request.client_address));
    }
    if (request.heartbeat_interval_ms == 0 || request.lease_ms < 2 * request.heartbeat_interval_ms) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("{}: lease {} ms must be at least twice the heartbeat interval {} ms",
                               host, request.lease_ms, request.heartbeat_interval_ms));
    }
    return check_executable(host, request.executable);
  }

  // For zmesh status: every client and its running procs.
  std::vector<internal::ClientStatus> client_status() const {
    std::vector<internal::ClientStatus> out;
    const auto now = Clock::now();
    for (const auto& [identity, client] : clients) {
      internal::ClientStatus status;
      status.name = client->name;
      status.state = client->forgetting ? "forgetting it (lease lapsed or released): stopping its procs"
                     : client->stop_requested ? "stopping its procs on its request"
                                              : "serving";
      status.heard_ms_ago = static_cast<std::uint64_t>(std::chrono::duration_cast<Millis>(now - client->last_heard).count());
      status.lease_ms = static_cast<std::uint64_t>(client->lease.count());
      for (const auto rank : client->live) {
        const auto pid = client->pids.find(rank);
        status.procs.push_back({rank, pid == client->pids.end() ? 0 : pid->second,
                                client->kill_sent   ? "stopping (SIGKILL sent)"
                                : client->term_sent ? "stopping (SIGTERM sent)"
                                                    : "running"});
      }
      out.push_back(std::move(status));
    }
    return out;
  }

  void launch(const std::string& identity, Client* existing, LaunchRequest request) {
    if (auto valid = check_request(request, existing); !valid) {
      log.warn("ZM-LAUNCHER-REFUSED client {} ({}): {}", request.client, printable(identity), valid.error().message);
      send(identity, LaunchReply{false, host, valid.error()});
      return;
    }
    auto client = std::make_unique<Client>();
    client->identity = identity;
    client->name = fmt::format("{} [{}]", request.client, request.world);
    client->world = request.world;
    client->interval = Millis(request.heartbeat_interval_ms);
    client->lease = Millis(request.lease_ms);
    client->kill_timeout = Millis(request.kill_timeout_ms);
    client->last_heard = Clock::now();
    client->next_beat = Clock::now();
    client->children = std::make_unique<ChildProcessGroup>(
        ChildProcessGroup::Callbacks{
            [this, identity](std::size_t rank, std::string_view line, bool is_stderr) {
              post([this, identity, note = OutputNote{static_cast<std::uint32_t>(rank), is_stderr,
                                                       std::string(line)}] {
                if (clients.contains(identity)) send(identity, note);
              });
            },
            [this, identity](std::size_t rank, pid_t pid, const ChildExit& exit) {
              post([this, identity, rank, pid, exit] { proc_exited(identity, static_cast<std::uint32_t>(rank), pid, exit); });
            }},
        config);
    Client& added = *client;
    clients.emplace(identity, std::move(client));
    log.info("client {}: {} procs (ranks {}) of {} args [{}]", added.name, request.ranks.size(), fmt::join(request.ranks, ","), request.executable, fmt::join(request.args, " "));

    std::vector<std::pair<std::string, std::string>> environment = request.environment;
    add_security(environment);
    internal::add_malloc_tunables(environment);
    environment.emplace_back(std::string(env_bootstrap_client), request.client_proc);
    environment.emplace_back(std::string(env_bootstrap_address), request.client_address);
    environment.emplace_back(std::string(env_bootstrap_port), request.hello_port);
    environment.emplace_back(std::string(env_bootstrap_transport), "tcp");
    environment.emplace_back(std::string(env_bootstrap_host), options.advertise);
    if (options.proc_ports) {
      environment.emplace_back("ZMESH_BOOTSTRAP_PORTS",
                               fmt::format("{}-{}", options.proc_ports->first, options.proc_ports->second));
    }
    std::vector<ProcStartedNote> started;
    for (const std::uint32_t rank : request.ranks) {
      ChildSpec spec{request.executable, request.args, environment};
      spec.environment.emplace_back(std::string(env_bootstrap_proc), fmt::format("{}[{}]", request.world, rank));
      auto pid = added.children->start(rank, spec);
      if (!pid) {
        const Error error(pid.error().code, fmt::format("{}: rank {}: {}", host, rank, pid.error().message));
        log.warn("ZM-LAUNCHER-START-FAILED client {}: {}", added.name, error.message);
        send(identity, LaunchReply{false, host, error});
        added.forgetting = true;
        begin_stop(added, Clock::now(), false);
        return;
      }
      added.live.insert(rank);
      added.pids[rank] = *pid;
      started.push_back(ProcStartedNote{rank, *pid});
    }
    send(identity, LaunchReply{true, host, {}});
    for (const auto& note : started) send(identity, note);
  }

  void proc_exited(const std::string& identity, std::uint32_t rank, pid_t pid, const ChildExit& exit) {
    auto found = clients.find(identity);
    if (found == clients.end()) return;
    Client& client = *found->second;
    client.live.erase(rank);
    ProcExitNote note;
    note.rank = rank;
    note.stderr_tail = exit.stderr_tail;
    if (shutting_down) {
      note.kind = static_cast<std::uint8_t>(StopReason::Kind::host_lost);
      note.detail = fmt::format("the launcher on {} was stopped (SIGTERM) and took its procs with it", host);
    } else if (auto why = client.why.find(rank); why != client.why.end()) {
      note.kind = static_cast<std::uint8_t>(StopReason::Kind::watchdog);
      note.detail = why->second;
    } else if (exit.kind == ChildExit::Kind::exited && exit.code == 0) {
      note.kind = static_cast<std::uint8_t>(client.stop_requested ? StopReason::Kind::stopped : StopReason::Kind::exited);
      note.stderr_tail.clear();
    } else if (exit.kind == ChildExit::Kind::exited) {
      note.kind = static_cast<std::uint8_t>(StopReason::Kind::exited);
      note.code = exit.code;
    } else if (exit.kind == ChildExit::Kind::killed) {
      note.kind = static_cast<std::uint8_t>(StopReason::Kind::killed);
      note.signal = exit.signal;
      note.core_dumped = exit.core_dumped;
    } else {
      note.kind = static_cast<std::uint8_t>(StopReason::Kind::exited);
      note.code = -1;
      note.detail = "reaped elsewhere in the launcher, so its exit status is unknown";
    }
    log.info("client {}: rank {} (pid {}) {}", client.name, rank, pid, exit.describe());
    send(identity, note);
    forget_if_done(identity);
  }

  void forget_if_done(const std::string& identity) {
    auto found = clients.find(identity);
    if (found == clients.end() || !found->second->forgetting || !found->second->live.empty()) return;
    log.info("forgot client {}", found->second->name);
    clients.erase(found);  // joins its group's monitor thread: nothing of it is running
  }

  void tick(Clock::time_point now) {
    std::vector<std::string> done;
    for (auto& [identity, client_ptr] : clients) {
      Client& client = *client_ptr;
      if (now >= client.next_beat) {
        send(identity, LauncherBeat{++client.beats});
        client.next_beat = now + client.interval;
      }
      if (!client.forgetting && now - client.last_heard > client.lease) {
        log.warn("ZM-LAUNCHER-CLIENT-LOST client {}: silent for {} ms (lease {} ms); stopping its "
                 "{} procs (SIGTERM, SIGKILL after {} ms) and forgetting it",
                 client.name, std::chrono::duration_cast<Millis>(now - client.last_heard).count(),
                 client.lease.count(), client.live.size(), client.kill_timeout.count());
        client.forgetting = true;
        begin_stop(client, now, false);
      }
      if (client.term_at && !client.term_sent && now >= *client.term_at) {
        client.term_sent = true;
        for (auto rank : client.live) {
          if (client.stop_requested) {
            client.why.try_emplace(rank, fmt::format("missed its exit deadline; the launcher on {} sent SIGTERM", host));
          }
          (void)client.children->signal(rank, SIGTERM);
        }
      }
      if (client.kill_at && !client.kill_sent && now >= *client.kill_at) {
        client.kill_sent = true;
        for (auto rank : client.live) {
          client.why.try_emplace(rank, fmt::format("missed its exit deadline; the launcher on {} sent SIGKILL", host));
          (void)client.children->signal(rank, SIGKILL);
        }
      }
      if (client.forgetting && client.live.empty()) done.push_back(identity);
    }
    for (const auto& identity : done) forget_if_done(identity);
  }

  void shutdown() {
    std::size_t procs = 0;
    Millis kill_after{0};
    for (auto& [identity, client] : clients) {
      procs += client->live.size();
      kill_after = std::max(kill_after, client->kill_timeout);
    }
    shutting_down = true;
    log.info("stopping {} procs of {} clients", procs, clients.size());
    const auto deadline = Clock::now() + kill_after + Millis(3000);
    for (auto& [identity, client] : clients) {
      for (auto rank : client->live) (void)client->children->signal(rank, SIGTERM);
    }
    for (auto& [identity, client] : clients) {
      if (!client->children->terminate_all(kill_after, deadline)) {
        log.error("ZM-LAUNCHER-STUCK client {}: procs still running after SIGKILL", client->name);
      }
    }
    run_posted();  // their exit notes go out before the socket closes
    clients.clear();
    log.info("stopped");
  }
};

LauncherServer::LauncherServer(LauncherOptions options, Config config)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(config))) {}
LauncherServer::~LauncherServer() = default;
const std::string& LauncherServer::address() const { return impl_->address; }
const std::string& LauncherServer::advertise() const { return impl_->options.advertise; }
void LauncherServer::run(int signal_fd) { impl_->run(signal_fd); }
void LauncherServer::request_stop() {
  impl_->stop = true;
  impl_->post([] {});
}

}  // namespace zmesh::launcher
