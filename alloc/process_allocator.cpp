#include "zmesh/alloc/process_allocator.hpp"

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/alloc/bootstrap.hpp"
#include "zmesh/alloc/child_process.hpp"
#include "zmesh/alloc/host_list.hpp"
#include "zmesh/alloc/internal/ipc_directory.hpp"
#include "zmesh/alloc/internal/proc_bootstrap.hpp"
#include "zmesh/alloc/internal/proc_environment.hpp"
#include "zmesh/alloc/world_name.hpp"
#include "zmesh/core/blocking_queue.hpp"
#include "zmesh/transport/node.hpp"
#include "zmesh/transport/security.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <thread>

namespace zmesh {
namespace {

std::string self_executable() {
  char path[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) return "/proc/self/exe";
  return std::string(path, static_cast<std::size_t>(length));
}

class ProcessAlloc final : public Alloc {
 public:
  ProcessAlloc(Runtime& runtime, AllocSpec spec, std::shared_ptr<const Registry> registry,
               ProcessAllocatorOptions options)
      : runtime_(runtime),
        config_(runtime.config()),
        spec_(std::move(spec)),
        world_{spec_.world.empty() ? unique_world_name("procs") : spec_.world},
        registry_(std::move(registry)),
        options_(std::move(options)),
        procs_(spec_.proc_count()) {
    if (options_.executable.empty()) options_.executable = self_executable();
  }

  ~ProcessAlloc() override {
    stop();
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    if (thread_.joinable()) thread_.join();
    // Kills (SIGKILL) and reaps whatever is still running: nothing outlives the alloc.
    children_.reset();
    client_.reset();  // what it still held comes back to the mailbox, which ignores it
    receiver_.reset();
    mailbox_.reset();
  }  // then ipc_directory_ goes, with the sockets of procs that could not remove their own

  Result<void> start() {
    const auto transport = to_string(spec_.transport);
    const auto bind_host = spec_.constraints.contains("bind_host") ? spec_.constraints.at("bind_host")
                                                                  : std::string("127.0.0.1");
    for (const auto& [key, value] : spec_.constraints) {
      if (key != "bind_host") {
        return Error(ErrorCode::invalid_argument,
                     fmt::format("unknown constraint \"{}\" for the process allocator (known: "
                                 "bind_host)",
                                 key));
      }
    }
    if (spec_.transport == AllocTransport::inproc) {
      return Error(ErrorCode::invalid_argument,
                   "the process allocator needs ipc or tcp: inproc cannot reach another process");
    }
    if (spec_.transport == AllocTransport::tcp && config_.curve.empty() && !config_.insecure) {
      // All these procs are our children on this host: a pair made now and passed in their
      // environment (readable by this user only) secures them with no key file to manage.
      auto keys = generate_key_pair();
      if (!keys) return std::move(keys).error();
      config_.curve = std::move(*keys);
    }
    if (spec_.transport == AllocTransport::ipc) {
      auto directory = internal::IpcDirectory::create(world_.name());
      if (!directory) return std::move(directory).error();
      ipc_directory_ = std::move(*directory);
    }
    const std::string client_address = spec_.transport == AllocTransport::tcp
                                           ? fmt::format("tcp://{}:0", bind_host)
                                           : fmt::format("ipc://{}/client", ipc_directory_.path());
    auto client = Node::start(runtime_,
                              ProcOptions{ProcId{WorldId{world_.name() + "-client"}, 0}, registry_,
                                          config_, nullptr, nullptr},
                              client_address);
    if (!client) return std::move(client).error();
    client_ = std::move(*client);
    auto mailbox = client_->proc().attach("allocator", [](Undeliverable) {
      // A child that died before our message arrived: its exit is reported on its own.
    });
    if (!mailbox) return std::move(mailbox).error();
    mailbox_.emplace(std::move(*mailbox));
    auto [port, receiver] = mailbox_->open_port<BootstrapHello>();
    port_ = port.id;
    receiver_.emplace(std::move(receiver));

    children_ = std::make_unique<ChildProcessGroup>(
        ChildProcessGroup::Callbacks{
            nullptr,
            [this](std::size_t index, pid_t, const ChildExit& exit) { child_exited(index, exit); }},
        config_);
    for (std::uint32_t rank = 0; rank < procs_.size(); ++rank) {
      ChildSpec child{options_.executable, options_.args,
                      {{std::string(env_bootstrap_proc), ProcId{world_, rank}.to_string()},
                       {std::string(env_bootstrap_client), client_->proc().id().to_string()},
                       {std::string(env_bootstrap_address), client_->address()},
                       {std::string(env_bootstrap_port), port_.to_string()},
                       {std::string(env_bootstrap_transport), std::string(transport)},
                       {std::string(env_bootstrap_host), bind_host},
                       {std::string(env_bootstrap_ipc_dir), ipc_directory_.path()}}};
      // The client's settings, so that both sides agree on limits and timeouts even when
      // the client set them in code rather than in its environment.
      const auto settings = config_.to_environment();
      child.environment.insert(child.environment.begin(), settings.begin(), settings.end());
      internal::add_malloc_tunables(child.environment);
      {
        std::lock_guard lock(mutex_);
        procs_[rank].started_at = Clock::now();
        procs_[rank].state = State::starting;
      }
      auto pid = children_->start(rank, child);
      if (!pid) {
        std::lock_guard lock(mutex_);
        procs_[rank].state = State::never_started;
        events_.push(AllocFailed{fmt::format("rank {}: {}", rank, pid.error().message)});
        stop_locked();
        break;
      }
      events_.push(ProcCreated{rank, spec_.coordinates(rank), *pid, local_host_name()});
    }
    thread_ = std::thread([this] { run(); });
    return {};
  }

  const AllocSpec& spec() const override { return spec_; }
  const WorldId& world() const override { return world_; }
  std::optional<AllocEvent> next_event(Deadline deadline) override { return events_.pop(deadline); }
  bool ended() const override {
    std::lock_guard lock(mutex_);
    for (const auto& proc : procs_) {
      if (!proc.gone()) return false;
    }
    return events_.size() == 0;
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
    return children_->signal(rank, signal);
  }

 private:
  using State = internal::ProcState;
  using ChildProc = internal::BootstrapRecord;

  void stop_locked() {
    if (stop_requested_) return;
    stop_requested_ = true;
    stop_started_ = Clock::now();
    for (const auto& proc : procs_) {
      if (proc.state == State::running) mailbox_->send(proc.agent, StopProc{"allocation stopped"});
    }
  }

  // The allocator thread: bootstrap replies, heartbeats, watchdogs, stop escalation.
  void run() {
    internal::run_bootstrap_loop(
        *receiver_, config_,
        [this] {
          std::lock_guard lock(mutex_);
          return closing_;
        },
        [this](const Envelope& envelope) { handle(envelope); }, [this](std::uint64_t beat) { tick(beat); });
  }

  void handle(const Envelope& envelope) {
    auto message = internal::decode_bootstrap_message(envelope, world_, procs_.size());
    if (!message) return;
    std::lock_guard lock(mutex_);
    ChildProc& proc = procs_[message->rank];
    internal::take_bootstrap_message(proc, *message, bootstrap_context(), stop_requested_);
  }

  internal::BootstrapContext bootstrap_context() {
    return {world_, client_->endpoint(), *mailbox_, port_, events_};
  }

  void tick(std::uint64_t beat) {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    for (std::uint32_t rank = 0; rank < procs_.size(); ++rank) {
      ChildProc& proc = procs_[rank];
      auto verdict = internal::beat_or_verdict(proc, bootstrap_context(), beat, now, config_,
                                               "does its main call zmesh::init first?");
      if (!verdict) continue;
      proc.watchdog = std::move(verdict);
      (void)children_->signal(rank, SIGKILL);
    }
    if (stop_requested_) {
      const auto waited = now - stop_started_;
      const int signal = waited > config_.term_timeout + config_.kill_timeout ? SIGKILL
                         : waited > config_.term_timeout                      ? SIGTERM
                                                                              : 0;
      for (std::uint32_t rank = 0; signal != 0 && rank < procs_.size(); ++rank) {
        ChildProc& proc = procs_[rank];
        if (proc.gone()) continue;
        if (!proc.watchdog) {
          proc.watchdog = StopReason{StopReason::Kind::watchdog, 0, 0, false, {},
                                     fmt::format("missed its exit deadline ({} ms); sent SIG{}",
                                                 std::chrono::duration_cast<Millis>(waited).count(),
                                                 sigabbrev_np(signal))};
        }
        (void)children_->signal(rank, signal);
      }
    }
  }

  // On the child group's monitor thread.
  void child_exited(std::size_t index, const ChildExit& exit) {
    std::lock_guard lock(mutex_);
    ChildProc& proc = procs_.at(index);
    proc.state = State::exited;
    StopReason reason;
    if (proc.watchdog) {
      reason = *proc.watchdog;
      reason.stderr_tail = exit.stderr_tail;
    } else if (exit.kind == ChildExit::Kind::exited && exit.code == 0) {
      reason.kind = stop_requested_ ? StopReason::Kind::stopped : StopReason::Kind::exited;
    } else if (exit.kind == ChildExit::Kind::exited) {
      reason = StopReason{StopReason::Kind::exited, exit.code, 0, false, exit.stderr_tail, ""};
    } else if (exit.kind == ChildExit::Kind::unknown) {
      reason = StopReason{StopReason::Kind::exited, -1, 0, false, exit.stderr_tail,
                          "reaped elsewhere in this program (SIGCHLD ignored or waitpid(-1)), "
                          "so its exit status is unknown"};
    } else {
      reason = StopReason{StopReason::Kind::killed, 0, exit.signal, exit.core_dumped, exit.stderr_tail, ""};
    }
    const auto description = reason.describe();
    events_.push(ProcStopped{static_cast<std::uint32_t>(index), std::move(reason)});
    // Messages still on their way to it come back now, not at their deadline.
    client_->endpoint().forget(ProcId{world_, static_cast<std::uint32_t>(index)}, description);
  }

  Runtime& runtime_;
  Config config_;  // the runtime's; start() may add a key pair for tcp, then it is fixed
  internal::IpcDirectory ipc_directory_;  // ipc only; declared early: removed last
  const AllocSpec spec_;
  const WorldId world_;
  std::shared_ptr<const Registry> registry_;
  ProcessAllocatorOptions options_;

  std::unique_ptr<Node> client_;
  std::optional<Mailbox> mailbox_;
  PortId port_;  // hellos, started replies and heartbeat acks all arrive here
  std::optional<PortReceiver<BootstrapHello>> receiver_;
  std::unique_ptr<ChildProcessGroup> children_;
  BlockingQueue<AllocEvent> events_;

  mutable std::mutex mutex_;  // guards procs_, stop_requested_, stop_started_, closing_
  std::vector<ChildProc> procs_;
  bool stop_requested_ = false;
  Clock::time_point stop_started_;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Alloc>> ProcessAllocator::allocate(Runtime& runtime, AllocSpec spec,
                                                          std::shared_ptr<const Registry> registry,
                                                          ProcessAllocatorOptions options) {
  if (auto valid = spec.validate(); !valid) return std::move(valid).error();
  auto alloc = std::make_unique<ProcessAlloc>(runtime, std::move(spec), std::move(registry),
                                              std::move(options));
  if (auto started = alloc->start(); !started) return std::move(started).error();
  return std::unique_ptr<Alloc>(std::move(alloc));
}

}  // namespace zmesh
