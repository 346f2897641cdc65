#include "zmesh/mesh/internal/mesh_state.hpp"

#include "zmesh/alloc/proc_agent.hpp"
#include "zmesh/core/reply.hpp"

namespace zmesh::internal {

MeshState::MeshState(std::unique_ptr<Alloc> alloc, Shape shape, std::vector<ProcRunning> procs)
    : alloc_(std::move(alloc)), shape_(std::move(shape)), procs_(std::move(procs)), placements_(procs_.size()) {
  for (const auto& running : procs_) ranks_.emplace(running.proc, running.rank);
  auto mailbox = alloc_->client().attach(
      "mesh", [this](Undeliverable returned) { undeliverable(returned); });
  // The client proc is new and ours: the name cannot be taken.
  mailbox_.emplace(std::move(mailbox).value());
}

MeshState::~MeshState() {
  router_.reset();   // it sends through the mailbox
  mailbox_.reset();  // before the alloc (and its client proc) goes
  alloc_.reset();
}

std::optional<std::uint32_t> MeshState::rank_of(const ProcId& proc) const {
  auto it = ranks_.find(proc);
  if (it == ranks_.end()) return std::nullopt;
  return it->second;
}

std::string MeshState::point_text(std::uint32_t rank) const {
  auto point = shape_.point_of_base_rank(rank);
  return point ? point->to_string() : fmt::format("rank {}", rank);
}

std::optional<Error> MeshState::dead(std::uint32_t rank) const {
  std::lock_guard lock(mutex_);
  auto it = dead_.find(rank);
  if (it == dead_.end()) return std::nullopt;
  return it->second;
}

std::map<std::uint32_t, Error> MeshState::unreachable(const std::string& name) const {
  std::lock_guard lock(mutex_);
  std::map<std::uint32_t, Error> gone = dead_;
  if (auto it = actor_meshes_.find(name); it != actor_meshes_.end()) {
    for (const auto& [rank, error] : it->second.failed) gone.emplace(rank, error);
  }
  return gone;
}

void MeshState::set_placement(std::uint32_t rank, pid_t pid, std::string host) {
  placements_.at(rank) = Placement{pid, std::move(host)};
}

bool MeshState::all_stopped() const {
  std::lock_guard lock(mutex_);
  return dead_.size() == procs_.size();
}

Result<void> MeshState::add_actor_mesh(const std::string& name) {
  if (name == agent_actor_name) {
    return Error(ErrorCode::duplicate, fmt::format("\"{}\" is the name of every proc's agent; "
                                                   "pick another actor mesh name",
                                                   name));
  }
  std::lock_guard lock(mutex_);
  auto it = actor_meshes_.find(name);
  if (it != actor_meshes_.end() && !it->second.stopped) {
    return Error(ErrorCode::duplicate,
                 fmt::format("an actor mesh named \"{}\" already exists on {}; the existing one "
                             "is untouched",
                             name, world().to_string()));
  }
  actor_meshes_[name] = ActorMeshEntry{};
  return {};
}

void MeshState::actor_mesh_stopping(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto it = actor_meshes_.find(name); it != actor_meshes_.end()) it->second.stopping = true;
}

void MeshState::actor_mesh_stopped(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto it = actor_meshes_.find(name); it != actor_meshes_.end()) it->second.stopped = true;
}

void MeshState::actor_started(const std::string& name, std::uint32_t rank, std::int64_t started_ns) {
  std::lock_guard lock(mutex_);
  if (auto it = actor_meshes_.find(name); it != actor_meshes_.end()) {
    it->second.started_ns[rank] = started_ns;
  }
}

void MeshState::remove_actor_mesh(const std::string& name) {
  std::lock_guard lock(mutex_);
  actor_meshes_.erase(name);
}

void MeshState::proc_stopped(std::uint32_t rank, const StopReason& reason, bool stop_requested) {
  const bool clean = reason.kind == StopReason::Kind::stopped;
  const Error error(ErrorCode::proc_failed,
                    fmt::format("rank {} ({}) {}", rank, point_text(rank), reason.describe()));
  {
    std::lock_guard lock(mutex_);
    if (dead_.contains(rank)) return;
    dead_.emplace(rank, error);
    fail_gathers(rank, "", error);
  }
  // Casts it was relaying may be lost: the comm tree stops waiting for them soon. Not when
  // the owner stops every proc: nothing waits then.
  if (router_ && !stopping_) router_->proc_lost(rank);
  // Queued before waiters learn of the death, so that once stop() returns every event it
  // caused is in the stream.
  if (!clean || !(stop_requested || stopping_)) {
    MeshEvent event;
    event.kind = MeshEvent::Kind::proc_crashed;
    event.rank = rank;
    event.point = point_text(rank);
    event.reason = reason;
    push_event(std::move(event));
  }
  dead_changed_.notify_all();
}

void MeshState::proc_silent(std::uint32_t rank) {
  // A proc being stopped falls silent on its way out: that is what the owner asked for.
  if (stopping_ || dead(rank)) return;
  MeshEvent event;
  event.kind = MeshEvent::Kind::proc_unresponsive;
  event.rank = rank;
  event.point = point_text(rank);
  event.detail = fmt::format("no heartbeat for {} ms; it is stopped if none comes within {} ms",
                             config().heartbeat_timeout.count() / 2,
                             config().heartbeat_timeout.count());
  push_event(std::move(event));
}

void MeshState::actor_event(std::uint32_t rank, const SupervisionEvent& event) {
  if (event.actor.name == agent_actor_name) {
    // Agents stop with their procs (that stop is the proc's event). An agent that fails
    // leaves a proc that can no longer spawn, stop or answer heartbeats: say so now, before
    // the watchdog does.
    if (event.kind != SupervisionKind::actor_failed) return;
    MeshEvent failed;
    failed.kind = MeshEvent::Kind::actor_failed;
    failed.rank = rank;
    failed.point = point_text(rank);
    failed.actor = event.actor.name;
    failed.detail = fmt::format("the proc's agent failed, so the proc cannot be managed any "
                                "more: {}",
                                event.describe());
    push_event(std::move(failed));
    return;
  }
  if (event.kind == SupervisionKind::undeliverable) return;  // MeshState::undeliverable tells
  const bool failed = event.kind == SupervisionKind::actor_failed;
  const Error reason(ErrorCode::actor_failed,
                     fmt::format("rank {} ({}): {}", rank, point_text(rank), event.describe()));
  {
    std::lock_guard lock(mutex_);
    auto it = actor_meshes_.find(event.actor.name);
    const bool of_mesh = it != actor_meshes_.end() && event.actor.pid == 0;
    if (of_mesh) {
      const auto started = it->second.started_ns.find(rank);
      if (started != it->second.started_ns.end() && event.unix_time_ns < started->second) {
        return;  // about the actor a failed spawn left and its cleanup stopped, not this one
      }
    }
    fail_gathers(rank, event.actor.name, reason);
    if (of_mesh && failed) it->second.failed.emplace(rank, reason);
    // Stops the owner asked for are not news; nor are those of a proc being stopped.
    if (!failed && (stopping_ || dead_.contains(rank) || (of_mesh && it->second.stopping))) return;
  }
  MeshEvent news;
  news.kind = failed ? MeshEvent::Kind::actor_failed : MeshEvent::Kind::actor_stopped;
  news.rank = rank;
  news.point = point_text(rank);
  news.actor = event.actor.name;
  news.detail = event.describe();
  push_event(std::move(news));
}

void MeshState::undeliverable(const Undeliverable& returned) {
  auto rank = rank_of(returned.destination.actor.proc);
  if (!rank) return;  // not one of our procs: the sender learned it from the send itself
  const std::string& actor = returned.destination.actor.name;
  if (actor == agent_actor_name) return;  // the proc's death says more
  const Error reason(ErrorCode::undeliverable,
                     fmt::format("rank {} ({}): {} undeliverable: {}", *rank, point_text(*rank),
                                 returned.type_name, returned.reason.describe()));
  {
    std::lock_guard lock(mutex_);
    fail_gathers(*rank, actor, reason);
    // Returned because its proc died or its actor failed: that was told once already, and
    // the gathers waiting on the rank end with it. Nor is a stop in progress news.
    if (returned.reason.code == ErrorCode::proc_failed || dead_.contains(*rank) || stopping_) return;
    if (auto it = actor_meshes_.find(actor);
        it != actor_meshes_.end() && (it->second.failed.contains(*rank) || it->second.stopping)) {
      return;
    }
  }
  MeshEvent event;
  event.kind = MeshEvent::Kind::undeliverable;
  event.rank = *rank;
  event.point = point_text(*rank);
  event.actor = actor;
  event.detail = fmt::format("{} came back: {}", returned.type_name, returned.reason.describe());
  push_event(std::move(event));
}

void MeshState::push_event(MeshEvent event) {
  if (events_.push(std::move(event)) || events_.closed()) return;
  if (events_dropped_limiter_.allow()) {
    client().log().warn("ZM-EVENTS-DROPPED {} events of {} dropped so far: the queue holds {} "
                        "and nobody reads it; call ProcMesh::next_event()",
                        events_.refused(), world().to_string(), event_queue_capacity);
  }
}

bool MeshState::wait_all_stopped(Deadline deadline) {
  std::unique_lock lock(mutex_);
  return dead_changed_.wait_until(lock, deadline, [&] { return dead_.size() == procs_.size(); });
}

std::map<std::uint32_t, Error> MeshState::collect(
    const std::string& mesh_name, const PortId& port, const std::set<std::uint32_t>& ranks,
    const std::function<Result<void>()>& send, std::string_view type_name, Deadline deadline,
    const std::function<Result<Envelope>(Deadline, std::size_t)>& next,
    const std::function<Result<void>(std::uint32_t, const Envelope&)>& accept,
    std::string_view answerer, const std::function<void(std::uint32_t, const Error&)>& on_failed) {
  std::map<std::uint32_t, Error> missing;
  std::set<std::uint32_t> pending = ranks;
  const auto started = Clock::now();
  const auto handle = begin_gather(mesh_name, port, ranks);
  if (auto sent = send(); !sent) {
    end_gather(handle);
    for (auto rank : ranks) missing.emplace(rank, sent.error());
    return missing;
  }
  const std::string_view expected_actor =
      !answerer.empty() ? answerer : !mesh_name.empty() ? std::string_view(mesh_name) : agent_actor_name;
  while (!pending.empty()) {
    // Every pending rank sends one message here, a reply or its RankFailed: sleeping until
    // that many are queued wakes this thread once for all of them, not once per reply.
    auto envelope = next(deadline, pending.size());
    if (!envelope) break;  // deadline passed, or the port closed with the client
    // A reply carrying its handler's error has no payload frame; anything else without one
    // is malformed.
    if (envelope->payload.empty() && !envelope->headers.contains(reply_error_key)) continue;
    if (envelope->type_name == message_name<RankFailed>()) {
      if (envelope->payload.empty()) continue;
      if (envelope->from_network) continue;  // only this client makes these
      auto failed = decode<RankFailed>(envelope->payload.front());
      if (failed && pending.erase(failed->rank) > 0) {
        missing.emplace(failed->rank, failed->reason);
        if (on_failed) on_failed(failed->rank, failed->reason);
      }
      continue;
    }
    auto rank = rank_of(envelope->sender.proc);
    // A reply counts only from the actor that was asked, and once: anything else that
    // names this port (a forged or misdirected message) is dropped.
    if (envelope->type_name != type_name || !rank || !pending.contains(*rank) ||
        envelope->sender.name != expected_actor || envelope->sender.pid != 0) {
      continue;
    }
    pending.erase(*rank);
    if (auto accepted = accept(*rank, *envelope); !accepted) {
      missing.emplace(*rank, std::move(accepted).error());
    }
  }
  end_gather(handle);
  const auto waited = std::chrono::duration_cast<Millis>(Clock::now() - started).count();
  for (auto rank : pending) {
    missing.emplace(rank, Error(ErrorCode::timeout,
                                fmt::format("rank {} ({}) gave no {} within {} ms", rank,
                                            point_text(rank), type_name, waited)));
  }
  return missing;
}

std::map<std::uint32_t, Error> MeshState::ask_all_agents(
    const PortId& port, const std::function<void(std::uint32_t)>& send,
    std::string_view type_name, Deadline deadline,
    const std::function<Result<Envelope>(Deadline, std::size_t)>& next,
    const std::function<Result<void>(std::uint32_t, const Envelope&)>& accept,
    std::string_view answerer) {
  std::set<std::uint32_t> live;
  std::map<std::uint32_t, Error> missing;
  for (std::uint32_t rank = 0; rank < size(); ++rank) {
    if (auto error = dead(rank)) {
      missing.emplace(rank, *error);
    } else {
      live.insert(rank);
    }
  }
  missing.merge(collect(
      "", port, live,
      [&]() -> Result<void> {
        for (auto rank : live) send(rank);
        return {};
      },
      type_name, deadline, next, accept, answerer));
  return missing;
}

std::uint64_t MeshState::begin_gather(std::string mesh_name, PortId port,
                                      std::set<std::uint32_t> ranks) {
  std::lock_guard lock(mutex_);
  const auto handle = next_gather_++;
  // Ranks already dead fail at once.
  for (auto rank : ranks) {
    if (auto it = dead_.find(rank); it != dead_.end()) {
      client().deliver(make_envelope(ActorId{proc(rank).proc, "proc", 0}, port,
                                     RankFailed{rank, it->second}));
    }
  }
  gathers_.emplace(handle, Gather{std::move(mesh_name), std::move(port), std::move(ranks)});
  return handle;
}

void MeshState::end_gather(std::uint64_t handle) {
  std::lock_guard lock(mutex_);
  gathers_.erase(handle);
}

void MeshState::fail_gathers(std::uint32_t rank, const std::string& mesh_name, const Error& reason) {
  for (auto& [handle, gather] : gathers_) {
    if (!mesh_name.empty() && gather.mesh_name != mesh_name) continue;
    if (!gather.ranks.contains(rank)) continue;
    client().deliver(make_envelope(ActorId{proc(rank).proc, "proc", 0}, gather.port,
                                   RankFailed{rank, reason}));
  }
}

}  // namespace zmesh::internal
