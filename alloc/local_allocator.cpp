#include "zmesh/alloc/local_allocator.hpp"

#include "zmesh/alloc/event_log.hpp"
#include "zmesh/alloc/host_list.hpp"
#include "zmesh/alloc/local_network.hpp"
#include "zmesh/alloc/proc_agent.hpp"
#include "zmesh/alloc/world_name.hpp"
#include "zmesh/core/blocking_queue.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <thread>

namespace zmesh {
namespace {

class LocalAlloc final : public Alloc {
 public:
  LocalAlloc(Runtime& runtime, AllocSpec spec, std::shared_ptr<const Registry> registry)
      : runtime_(runtime),
        spec_(std::move(spec)),
        world_{spec_.world.empty() ? unique_world_name("local") : spec_.world},
        registry_(std::move(registry)),
        scheduler_(std::make_shared<Scheduler>(runtime.config().proc_threads)),
        procs_(spec_.proc_count()) {}

  ~LocalAlloc() override {
    stop();
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake_.notify_all();
    if (housekeeper_.joinable()) housekeeper_.join();
    if (client_) {
      network_.leave(client_->id());
      client_.reset();
    }
  }

  Result<void> start() {
    const Config& config = runtime_.config();
    client_ = std::make_unique<Proc>(ProcOptions{ProcId{WorldId{world_.name() + "-client"}, 0},
                                                 registry_, config, scheduler_, nullptr});
    network_.join(*client_);
    for (std::uint32_t rank = 0; rank < procs_.size(); ++rank) {
      if (auto started = start_proc(rank); !started) return started;
    }
    housekeeper_ = std::thread([this] { housekeep(); });
    return {};
  }

  const AllocSpec& spec() const override { return spec_; }
  const WorldId& world() const override { return world_; }
  std::optional<AllocEvent> next_event(Deadline deadline) override { return events_.pop(deadline); }
  bool ended() const override {
    std::lock_guard lock(mutex_);
    return live_ == 0 && events_.size() == 0;
  }
  Proc& client() override { return *client_; }
  std::string client_address() const override { return ""; }

  void stop() override {
    std::lock_guard lock(mutex_);
    for (std::uint32_t rank = 0; rank < procs_.size(); ++rank) {
      request_end(rank, StopReason{StopReason::Kind::stopped, 0, 0, false, {}, "stop requested"});
    }
  }

  Result<void> kill(std::uint32_t rank, int signal) override {
    std::lock_guard lock(mutex_);
    if (rank >= procs_.size() || !procs_[rank].proc || procs_[rank].ending) {
      return Error(ErrorCode::not_found, fmt::format("rank {} is not running", rank));
    }
    request_end(rank, StopReason{StopReason::Kind::killed, 0, signal, false, {},
                                 "local proc killed by test hook"});
    return {};
  }

 private:
  struct LocalProc {
    std::unique_ptr<SupervisionPublisher> publisher;
    std::unique_ptr<EventLog> events;
    std::unique_ptr<Proc> proc;
    bool ending = false;
    StopReason reason;
  };

  Result<void> start_proc(std::uint32_t rank) {
    const Config& config = runtime_.config();
    LocalProc& local = procs_[rank];
    const ProcId id{world_, rank};
    auto publisher = SupervisionPublisher::bind(
        runtime_.context(), id, fmt::format("inproc://zmesh-sup-{}-{}", world_.name(), rank), config);
    if (!publisher) return std::move(publisher).error();
    local.publisher = std::move(*publisher);
    local.events = std::make_unique<EventLog>(local.publisher.get());
    EventLog* events = local.events.get();
    local.proc = std::make_unique<Proc>(ProcOptions{
        id, registry_, config, scheduler_,
        [events](const SupervisionEvent& event) { events->append(event); }});
    network_.join(*local.proc);
    ProcAgent::Hooks hooks;
    hooks.rank = rank;
    hooks.events = events;
    hooks.supervision_address = local.publisher->address();
    hooks.stop_proc = [this, rank](const std::string& reason) {
      std::lock_guard lock(mutex_);
      request_end(rank, StopReason{StopReason::Kind::stopped, 0, 0, false, {}, reason});
    };
    auto agent = local.proc->spawn_actor(std::string(agent_actor_name),
                                         std::make_unique<ProcAgent>(std::move(hooks)));
    if (!agent) return std::move(agent).error();
    {
      std::lock_guard lock(mutex_);
      ++live_;
    }
    events_.push(ProcCreated{rank, spec_.coordinates(rank), ::getpid(), local_host_name()});
    events_.push(ProcRunning{rank, id, "", *agent, local.publisher->address()});
    return {};
  }

  // Marks `rank` for ending; the housekeeper does the work (a proc cannot be destroyed
  // from its own actor's turn). Requires mutex_.
  void request_end(std::uint32_t rank, StopReason reason) {
    LocalProc& local = procs_[rank];
    if (!local.proc || local.ending) return;
    local.ending = true;
    local.reason = std::move(reason);
    wake_.notify_all();
  }

  void housekeep() {
    const Config& config = runtime_.config();
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait_for(lock, config.heartbeat_interval);
      for (std::uint32_t rank = 0; rank < procs_.size(); ++rank) {
        LocalProc& local = procs_[rank];
        if (!local.proc || !local.ending) continue;
        auto proc = std::move(local.proc);
        StopReason reason = local.reason;
        lock.unlock();
        network_.leave(proc->id());
        if (reason.kind == StopReason::Kind::stopped) {
          (void)proc->stop(deadline_in(config.stop_timeout));
        } else {
          local.events->silence();
        }
        proc.reset();
        events_.push(ProcStopped{rank, std::move(reason)});
        lock.lock();
        --live_;
      }
      for (auto& local : procs_) {
        if (local.proc && !local.ending) local.events->heartbeat();
      }
      if (closing_ && live_ == 0) return;
    }
  }

  Runtime& runtime_;
  const AllocSpec spec_;
  const WorldId world_;
  std::shared_ptr<const Registry> registry_;
  std::shared_ptr<Scheduler> scheduler_;
  LocalNetwork network_;
  std::unique_ptr<Proc> client_;
  BlockingQueue<AllocEvent> events_;

  mutable std::mutex mutex_;  // guards procs_[*].proc/ending/reason, live_, closing_
  std::condition_variable wake_;
  std::vector<LocalProc> procs_;
  std::uint32_t live_ = 0;
  bool closing_ = false;
  std::thread housekeeper_;
};

}  // namespace

Result<std::unique_ptr<Alloc>> LocalAllocator::allocate(Runtime& runtime, AllocSpec spec,
                                                        std::shared_ptr<const Registry> registry) {
  if (auto valid = spec.validate(); !valid) return std::move(valid).error();
  auto alloc = std::make_unique<LocalAlloc>(runtime, std::move(spec), std::move(registry));
  if (auto started = alloc->start(); !started) return std::move(started).error();
  return std::unique_ptr<Alloc>(std::move(alloc));
}

}  // namespace zmesh
