#include "zmesh/alloc/remote_allocator.hpp"

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/alloc/bootstrap.hpp"
#include "zmesh/alloc/internal/launcher_protocol.hpp"
#include "zmesh/alloc/internal/proc_bootstrap.hpp"
#include "zmesh/core/internal/unique_fd.hpp"
#include "zmesh/alloc/world_name.hpp"
#include "zmesh/core/blocking_queue.hpp"
#include "zmesh/transport/internal/handshake_watch.hpp"
#include "zmesh/transport/node.hpp"
#include "zmesh/transport/security.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zmq.hpp>

#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <thread>

extern char** environ;

namespace zmesh {
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

std::string self_executable() {
  char path[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) return "/proc/self/exe";
  return std::string(path, static_cast<std::size_t>(length));
}

// Every ZMESH_* variable of this process (but the bootstrap ones and the key: each launcher
// gives its procs its own, and a secret never travels) plus `names`.
std::vector<std::pair<std::string, std::string>> proc_environment(const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, std::string>> environment;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string name(text.substr(0, equals));
    const bool zmesh = name.rfind("ZMESH_", 0) == 0 && name.rfind("ZMESH_BOOTSTRAP_", 0) != 0 &&
                       name != "ZMESH_KEY" && name != "ZMESH_KEY_FILE" && name != "ZMESH_INSECURE";
    const bool listed = std::find(names.begin(), names.end(), name) != names.end();
    if (zmesh || listed) environment.emplace_back(name, std::string(text.substr(equals + 1)));
  }
  return environment;
}

void write_line(int fd, std::uint32_t rank, std::string_view line) {
  std::string text = fmt::format("[{}] {}\n", rank, line);
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t written = ::write(fd, rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
}

class RemoteAlloc final : public Alloc {
 public:
  RemoteAlloc(Runtime& runtime, AllocSpec spec, std::shared_ptr<const Registry> registry,
              RemoteAllocatorOptions options)
      : runtime_(runtime),
        config_(runtime.config()),
        spec_(std::move(spec)),
        world_{spec_.world.empty() ? unique_world_name("remote") : spec_.world},
        registry_(std::move(registry)),
        options_(std::move(options)),
        log_("zmesh.alloc", "remote=" + world_.name(), config_.log_level),
        procs_(spec_.proc_count()) {
    if (options_.executable.empty()) options_.executable = self_executable();
  }

  ~RemoteAlloc() override {
    if (io_thread_.joinable()) {
      // Nothing may outlive the alloc: every proc ends (on request, or the launchers
      // escalate), then each launcher is told to forget us.
      stop();
      {
        std::unique_lock lock(mutex_);
        all_exited_.wait_until(lock, deadline_in(config_.term_timeout + config_.kill_timeout + Millis(3000)),
                               [this] { return all_exited_locked(); });
      }
      std::lock_guard lock(mutex_);
      for (std::size_t host = 0; host < hosts_.size(); ++host) {
        if (!hosts_[host].refused) outgoing_.emplace_back(host, internal::launcher_frames(Release{}));
      }
    }
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake();
    if (io_thread_.joinable()) io_thread_.join();
    if (proc_thread_.joinable()) proc_thread_.join();
    client_.reset();
    receiver_.reset();
    mailbox_.reset();
  }

  Result<void> start() {
    if (spec_.transport != AllocTransport::tcp) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("the remote allocator needs transport tcp (procs run on other hosts), "
                               "not {}",
                               to_string(spec_.transport)));
    }
    if (!spec_.constraints.empty()) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("unknown constraint \"{}\" for the remote allocator (it knows none yet)",
                               spec_.constraints.begin()->first));
    }
    const auto& [label, host_count] = spec_.dimensions.front();
    if (options_.hosts.size() < host_count) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("alloc spec {} puts its first dimension \"{}\" on hosts: it needs {} "
                               "launcher hosts, got {}",
                               spec_.describe(), label, host_count, options_.hosts.size()));
    }
    if (options_.executable.front() != '/') {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("executable \"{}\" must be an absolute path (it runs on other hosts)",
                               options_.executable));
    }
    std::string client_host = options_.client_host;
    if (client_host.empty()) {
      auto local = local_address_towards(options_.hosts.front());
      if (!local) {
        return Error(local.error().code, fmt::format("{}; set the client address (RemoteAllocatorOptions::client_host)",
                                                     local.error().message));
      }
      client_host = *local;
    }
    auto client = Node::start(runtime_,
                              ProcOptions{ProcId{WorldId{world_.name() + "-client"}, 0}, registry_,
                                          config_, nullptr, nullptr},
                              fmt::format("tcp://{}:0", client_host));
    if (!client) {
      const bool no_key = client.error().code == ErrorCode::unauthenticated;
      return Error(client.error().code,
                   fmt::format("client endpoint at {}: {}{}", client_host, client.error().message,
                               no_key ? "" : " (is it an address of this host?)"));
    }
    client_ = std::move(*client);
    auto mailbox = client_->proc().attach("allocator", [](Undeliverable) {});
    if (!mailbox) return std::move(mailbox).error();
    mailbox_.emplace(std::move(*mailbox));
    auto [port, receiver] = mailbox_->open_port<BootstrapHello>();
    port_ = port.id;
    receiver_.emplace(std::move(receiver));

    wake_fd_ = internal::UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_fd_.valid()) return Error(ErrorCode::internal, fmt::format("eventfd: {}", std::strerror(errno)));

    const std::uint32_t per_host = spec_.proc_count() / host_count;
    const auto environment = [&] {
      auto variables = proc_environment(options_.environment_names);
      variables.emplace_back("ZMESH_HEARTBEAT_INTERVAL_MS", std::to_string(config_.heartbeat_interval.count()));
      variables.emplace_back("ZMESH_HEARTBEAT_TIMEOUT_MS", std::to_string(config_.heartbeat_timeout.count()));
      variables.emplace_back("ZMESH_BOOTSTRAP_TIMEOUT_MS", std::to_string(config_.bootstrap_timeout.count()));
      return variables;
    }();
    const std::string client_name = fmt::format("pid {} on {}", ::getpid(), local_host_name());
    const auto started = Clock::now();
    for (std::uint32_t host = 0; host < host_count; ++host) {
      HostLink link;
      link.entry = options_.hosts[host];
      link.address = fmt::format("tcp://{}", link.entry.to_string());
      link.last_heard = started;
      LaunchRequest request;
      request.client = client_name;
      request.world = world_.name();
      for (std::uint32_t rank = host * per_host; rank < (host + 1) * per_host; ++rank) {
        request.ranks.push_back(rank);
        procs_[rank].host = host;
        procs_[rank].state = State::requested;
        auto coordinates = spec_.coordinates(rank);
        std::vector<std::string> parts;
        for (std::size_t d = 0; d < coordinates.size(); ++d) {
          parts.push_back(fmt::format("{}={}/{}", spec_.dimensions[d].first, coordinates[d], spec_.dimensions[d].second));
        }
        request.points.push_back(fmt::format("{}", fmt::join(parts, ",")));
      }
      request.executable = options_.executable;
      request.args = options_.args;
      request.environment = environment;
      request.client_proc = client_->proc().id().to_string();
      request.client_address = client_->address();
      request.hello_port = port_.to_string();
      request.heartbeat_interval_ms = static_cast<std::uint32_t>(config_.heartbeat_interval.count());
      request.lease_ms = static_cast<std::uint32_t>(config_.heartbeat_timeout.count());
      request.kill_timeout_ms = static_cast<std::uint32_t>(config_.kill_timeout.count());
      link.request = internal::launcher_frames(request);
      hosts_.push_back(std::move(link));
    }
    io_thread_ = std::thread([this] { io_loop(); });
    proc_thread_ = std::thread([this] { proc_loop(); });
    return {};
  }

  const AllocSpec& spec() const override { return spec_; }
  const WorldId& world() const override { return world_; }
  std::optional<AllocEvent> next_event(Deadline deadline) override { return events_.pop(deadline); }
  bool ended() const override {
    std::lock_guard lock(mutex_);
    return all_exited_locked() && events_.size() == 0;
  }
  Proc& client() override { return client_->proc(); }
  std::string client_address() const override { return client_->address(); }

  void stop() override {
    std::lock_guard lock(mutex_);
    stop_locked();
  }

  Result<void> kill(std::uint32_t rank, int signal) override {
    if (rank >= procs_.size()) {
      return Error(ErrorCode::not_found, fmt::format("no rank {} (the alloc has {} procs)", rank, procs_.size()));
    }
    std::size_t host = 0;
    {
      std::lock_guard lock(mutex_);
      if (procs_[rank].gone()) {
        return Error(ErrorCode::not_found, fmt::format("rank {} is not running", rank));
      }
      host = procs_[rank].host;
    }
    post(host, internal::launcher_frames(SignalProc{rank, signal, ""}));
    return {};
  }

 private:
  using State = internal::ProcState;
  struct RemoteProc : internal::BootstrapRecord {
    std::size_t host = 0;
  };
  // Host `index` by the name its launcher gave, or as listed before it replied.
  std::string launcher_host(std::size_t index) const {
    const auto& link = hosts_[index];
    return link.name.empty() ? link.entry.host : link.name;
  }
  struct HostLink {
    HostEntry entry;
    std::string address;  // tcp://host:port
    std::string name;     // as the launcher names itself, once it replied
    std::pair<std::string, std::string> request;
    Clock::time_point last_heard;
    bool replied = false;
    bool refused = false;  // it refused the request: nothing more is sent to it
    bool lost = false;
  };

  bool all_exited_locked() const {
    for (const auto& proc : procs_) {
      if (!proc.gone()) return false;
    }
    return true;
  }

  void stop_locked() {
    if (stop_requested_) return;
    stop_requested_ = true;
    for (const auto& proc : procs_) {
      if (proc.state == State::running) mailbox_->send(proc.agent, StopProc{"allocation stopped"});
    }
    const auto grace = static_cast<std::uint32_t>(config_.term_timeout.count());
    for (std::size_t host = 0; host < hosts_.size(); ++host) {
      if (!hosts_[host].refused) outgoing_.emplace_back(host, internal::launcher_frames(StopProcs{grace}));
    }
    wake();
  }

  // -- any thread: hand a message to the I/O thread --
  void post(std::size_t host, std::pair<std::string, std::string> frames) {
    {
      std::lock_guard lock(mutex_);
      outgoing_.emplace_back(host, std::move(frames));
    }
    wake();
  }
  void wake() {
    const std::uint64_t one = 1;
    if (wake_fd_.valid()) (void)!::write(wake_fd_.get(), &one, sizeof one);
  }

  // -- the I/O thread: launcher sockets, leases --
  void io_loop() {
    std::vector<zmq::socket_t> sockets;
    std::vector<std::unique_ptr<internal::HandshakeWatch>> handshakes;  // by host
    const std::string identity = fmt::format("{}@{}:{}", world_.name(), local_host_name(), ::getpid());
    for (auto& host : hosts_) {
      zmq::socket_t socket(runtime_.context(), zmq::socket_type::dealer);
      socket.set(zmq::sockopt::linger, 1000);
      socket.set(zmq::sockopt::routing_id, identity);
      socket.set(zmq::sockopt::maxmsgsize, std::int64_t{16} << 20);
      socket.set(zmq::sockopt::rcvhwm, 100000);  // bursts of proc output
      // start() checked that the configuration allows tcp (its client endpoint is tcp too).
      (void)secure_socket(socket, host.address, config_, SocketRole::client);
      // Watched even on plain tcp: a CURVE launcher refuses a plain client just as loudly.
      handshakes.push_back(std::make_unique<internal::HandshakeWatch>(runtime_.context(), socket, false));
      socket.connect(host.address);
      send(socket, host.request);
      sockets.push_back(std::move(socket));
    }
    std::uint64_t beats = 0;
    auto next_beat = Clock::now() + config_.heartbeat_interval;
    for (;;) {
      std::vector<std::pair<std::size_t, std::pair<std::string, std::string>>> outgoing;
      {
        std::lock_guard lock(mutex_);
        outgoing.swap(outgoing_);
        if (closing_) {
          for (auto& [host, frames] : outgoing) send(sockets[host], frames);
          return;  // the sockets linger to flush the Release messages
        }
      }
      for (auto& [host, frames] : outgoing) send(sockets[host], frames);

      std::vector<zmq::pollitem_t> items;
      for (auto& socket : sockets) items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
      for (auto& watch : handshakes) items.push_back({watch->handle(), 0, ZMQ_POLLIN, 0});
      items.push_back({nullptr, wake_fd_.get(), ZMQ_POLLIN, 0});
      const auto wait = std::max(Millis(0), std::chrono::duration_cast<Millis>(next_beat - Clock::now()) + Millis(1));
      zmq::poll(items.data(), items.size(), wait);
      if (items.back().revents & ZMQ_POLLIN) {
        std::uint64_t count = 0;
        (void)!::read(wake_fd_.get(), &count, sizeof count);
      }
      for (std::size_t host = 0; host < handshakes.size(); ++host) {
        if (!(items[sockets.size() + host].revents & ZMQ_POLLIN)) continue;
        for (const auto& refusal : handshakes[host]->drain()) refused_handshake(host, refusal);
      }
      for (std::size_t host = 0; host < sockets.size(); ++host) {
        if (!(items[host].revents & ZMQ_POLLIN)) continue;
        for (int i = 0; i < 256 && receive(host, sockets[host]); ++i) {
        }
      }
      const auto now = Clock::now();
      if (now >= next_beat) {
        next_beat = now + config_.heartbeat_interval;
        ++beats;
        for (std::size_t host = 0; host < sockets.size(); ++host) {
          bool quiet = false;
          {
            std::lock_guard lock(mutex_);
            quiet = hosts_[host].lost || hosts_[host].refused;
          }
          if (!quiet) send(sockets[host], internal::launcher_frames(ClientBeat{beats}));
        }
        check_launchers(now);
      }
    }
  }

  static void send(zmq::socket_t& socket, const std::pair<std::string, std::string>& frames) {
    try {
      // Non-blocking: a launcher that is not (yet) reachable must not stall the others; ZeroMQ
      // queues up to the high-water mark, beyond which beats are dropped (the lease decides).
      (void)socket.send(zmq::buffer(frames.first), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      (void)socket.send(zmq::buffer(frames.second), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
    }
  }

  bool receive(std::size_t host, zmq::socket_t& socket) {
    std::vector<zmq::message_t> frames;
    for (;;) {
      zmq::message_t frame;
      if (!socket.recv(frame, frames.empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none)) return false;
      const bool more = frame.more();
      if (frames.size() < 4) frames.push_back(std::move(frame));
      if (!more) break;
    }
    std::lock_guard lock(mutex_);
    HostLink& link = hosts_[host];
    if (link.lost) return true;  // it came back too late: its procs were already reported
    link.last_heard = Clock::now();
    if (frames.size() != 2) {
      log_.warn("ZM-LAUNCHER-GARBAGE from {}: {} frames, expected 2", link.address, frames.size());
      return true;
    }
    handle(host, frames[0].to_string(), frames[1].to_string());
    return true;
  }

  // The launcher did not accept our key (or runs without keys): before it answered, that
  // ends the allocation at once, naming the host, instead of a bootstrap timeout later.
  void refused_handshake(std::size_t host, const internal::HandshakeRefusal& refusal) {
    std::lock_guard lock(mutex_);
    HostLink& link = hosts_[host];
    const std::string why = fmt::format(
        "launcher {} refused this client's CURVE key: {}; every host and client needs the same "
        "key file (ZMESH_KEY_FILE={}, --key on the launcher); `zmesh doctor --hosts {}` checks it",
        link.address, refusal.reason, config_.key_file.empty() ? "unset" : config_.key_file,
        link.entry.host);
    if (link.replied || link.refused || link.lost) {
      log_.warn("ZM-LAUNCHER-HANDSHAKE-REFUSED {}", why);
      return;
    }
    link.refused = true;
    for (auto& proc : procs_) {
      if (proc.host == host && proc.state == State::requested) proc.state = State::never_started;
    }
    events_.push(AllocFailed{why});
    stop_locked();
    all_exited_.notify_all();
  }

  // mutex_ held.
  void handle(std::size_t host, const std::string& type, const std::string& body) {
    HostLink& link = hosts_[host];
    auto in_host = [&](std::uint32_t rank) { return rank < procs_.size() && procs_[rank].host == host; };
    if (type == message_name<LauncherBeat>()) return;
    if (type == message_name<LaunchReply>()) {
      auto reply = internal::decode_launcher_body<LaunchReply>(body);
      if (!reply) return;
      link.replied = true;
      link.name = reply->host;
      if (reply->ok) return;
      link.refused = true;
      for (auto& proc : procs_) {
        if (proc.host == host && (proc.state == State::requested)) proc.state = State::never_started;
      }
      events_.push(AllocFailed{fmt::format("launcher {} ({}) refused: {}", link.address, reply->host,
                                           reply->error.message)});
      stop_locked();
      all_exited_.notify_all();
    } else if (type == message_name<ProcStartedNote>()) {
      auto note = internal::decode_launcher_body<ProcStartedNote>(body);
      if (!note || !in_host(note->rank) || procs_[note->rank].state != State::requested) return;
      procs_[note->rank].state = State::starting;
      procs_[note->rank].started_at = Clock::now();
      events_.push(ProcCreated{note->rank, spec_.coordinates(note->rank), static_cast<pid_t>(note->pid),
                                  launcher_host(procs_[note->rank].host)});
    } else if (type == message_name<OutputNote>()) {
      auto note = internal::decode_launcher_body<OutputNote>(body);
      if (!note || !in_host(note->rank) || !options_.forward_output) return;
      write_line(note->is_stderr ? STDERR_FILENO : STDOUT_FILENO, note->rank, note->line);
    } else if (type == message_name<ProcExitNote>()) {
      auto note = internal::decode_launcher_body<ProcExitNote>(body);
      if (!note || !in_host(note->rank)) return;
      RemoteProc& proc = procs_[note->rank];
      if (proc.gone()) return;
      StopReason reason;
      if (proc.watchdog) {
        reason = *proc.watchdog;
      } else {
        reason.kind = static_cast<StopReason::Kind>(note->kind);
        reason.code = note->code;
        reason.signal = note->signal;
        reason.core_dumped = note->core_dumped;
        reason.detail = note->detail;
        // We asked it to stop (straight to its agent, which can beat our StopProcs to the
        // launcher): a clean exit is then a stop.
        if (reason.kind == StopReason::Kind::exited && reason.code == 0 && stop_requested_) {
          reason.kind = StopReason::Kind::stopped;
        }
      }
      reason.stderr_tail = note->stderr_tail;
      proc_gone(note->rank, std::move(reason));
    } else if (type == message_name<LauncherError>()) {
      auto note = internal::decode_launcher_body<LauncherError>(body);
      if (link.refused) return;  // it forgot us after refusing: our stop crossed its reply
      log_.warn("ZM-LAUNCHER-ERROR {}: {}", link.address, note ? note->error.message : "(undecodable)");
    } else {
      log_.warn("ZM-LAUNCHER-GARBAGE {} sent an unknown message type \"{}\"", link.address, type.substr(0, 100));
    }
  }

  // mutex_ held: `rank` ended for `reason`; reported once.
  void proc_gone(std::uint32_t rank, StopReason reason) {
    RemoteProc& proc = procs_[rank];
    proc.state = State::exited;
    const auto description = reason.describe();
    events_.push(ProcStopped{rank, std::move(reason)});
    // Messages still on their way to it come back now, not at their deadline.
    client_->endpoint().forget(ProcId{world_, rank}, description);
    all_exited_.notify_all();
  }

  void check_launchers(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    for (std::size_t host = 0; host < hosts_.size(); ++host) {
      HostLink& link = hosts_[host];
      if (link.lost || now - link.last_heard <= config_.heartbeat_timeout) continue;
      bool any = false;
      for (const auto& proc : procs_) any = any || (proc.host == host && proc.state != State::exited && proc.state != State::never_started);
      if (!any) continue;  // nothing of ours runs there: silence costs nothing
      link.lost = true;
      const auto silent = std::chrono::duration_cast<Millis>(now - link.last_heard).count();
      const std::string detail =
          link.replied
              ? fmt::format("launcher {} ({}) silent for {} ms; its procs die with it", link.address, link.name, silent)
              : fmt::format("no answer from the launcher at {} for {} ms; is zmesh-launcher running "
                            "there and reachable from this host?",
                            link.address, silent);
      log_.warn("ZM-HOST-LOST {}", detail);
      for (std::uint32_t rank = 0; rank < procs_.size(); ++rank) {
        const RemoteProc& proc = procs_[rank];
        if (proc.host != host || proc.gone()) continue;
        proc_gone(rank, StopReason{StopReason::Kind::host_lost, 0, 0, false, {}, detail});
      }
    }
  }

  // -- the allocator thread: bootstrap replies, proc heartbeats, watchdogs --
  void proc_loop() {
    internal::run_bootstrap_loop(
        *receiver_, config_,
        [this] {
          std::lock_guard lock(mutex_);
          return closing_;
        },
        [this](const Envelope& envelope) { handle_proc(envelope); }, [this](std::uint64_t beat) { tick(beat); });
  }

  void handle_proc(const Envelope& envelope) {
    auto message = internal::decode_bootstrap_message(envelope, world_, procs_.size());
    if (!message) return;
    std::lock_guard lock(mutex_);
    RemoteProc& proc = procs_[message->rank];
    const auto* hello = std::get_if<BootstrapHello>(&message->body);
    if (hello && proc.state == State::requested) {
      // Its hello overtook the launcher's ProcStartedNote (they travel different
      // connections): the hello proves it started, and carries its pid.
      proc.state = State::starting;
      proc.started_at = Clock::now();
      events_.push(ProcCreated{hello->rank, spec_.coordinates(hello->rank), static_cast<pid_t>(hello->pid),
                                  launcher_host(proc.host)});
    }
    internal::take_bootstrap_message(proc, *message, bootstrap_context(), stop_requested_);
  }

  internal::BootstrapContext bootstrap_context() {
    return {world_, client_->endpoint(), *mailbox_, port_, events_};
  }

  void tick(std::uint64_t beat) {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    const std::string hint =
        fmt::format("does its main call zmesh::init first? can it reach this client at {}?", client_->address());
    for (std::uint32_t rank = 0; rank < procs_.size(); ++rank) {
      RemoteProc& proc = procs_[rank];
      auto verdict = internal::beat_or_verdict(proc, bootstrap_context(), beat, now, config_, hint);
      if (!verdict) continue;
      outgoing_.emplace_back(proc.host, internal::launcher_frames(SignalProc{rank, SIGKILL, verdict->detail}));
      proc.watchdog = std::move(verdict);
      wake();
    }
  }

  Runtime& runtime_;
  const Config config_;
  const AllocSpec spec_;
  const WorldId world_;
  std::shared_ptr<const Registry> registry_;
  RemoteAllocatorOptions options_;
  Logger log_;

  std::unique_ptr<Node> client_;
  std::optional<Mailbox> mailbox_;
  PortId port_;
  std::optional<PortReceiver<BootstrapHello>> receiver_;
  BlockingQueue<AllocEvent> events_;
  internal::UniqueFd wake_fd_;

  // Guards procs_, hosts_ (but the sockets, which the I/O thread owns), outgoing_,
  // stop_requested_, closing_.
  mutable std::mutex mutex_;
  std::condition_variable all_exited_;
  std::vector<RemoteProc> procs_;
  std::vector<HostLink> hosts_;
  std::vector<std::pair<std::size_t, std::pair<std::string, std::string>>> outgoing_;
  bool stop_requested_ = false;
  bool closing_ = false;
  std::thread io_thread_;
  std::thread proc_thread_;
};

}  // namespace

Result<std::unique_ptr<Alloc>> RemoteAllocator::allocate(Runtime& runtime, AllocSpec spec,
                                                         std::shared_ptr<const Registry> registry,
                                                         RemoteAllocatorOptions options) {
  if (auto valid = spec.validate(); !valid) return std::move(valid).error();
  auto alloc = std::make_unique<RemoteAlloc>(runtime, std::move(spec), std::move(registry), std::move(options));
  if (auto started = alloc->start(); !started) return std::move(started).error();
  return std::unique_ptr<Alloc>(std::move(alloc));
}

}  // namespace zmesh
