#pragma once
// MeshState: what a ProcMesh and its ActorMeshes share: the alloc (and through it the
// client proc), the procs by rank, which ranks died and which actors failed and why, the
// event stream, and the gathers in progress (so a death can end them at once). One per ProcMesh: nothing here
// is process-wide, so meshes in one client never mix events.
// Thread: every member is thread-safe; mutex_ guards the mutable tables.

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/alloc/proc_agent.hpp"
#include "zmesh/core/blocking_queue.hpp"
#include "zmesh/core/log.hpp"
#include "zmesh/core/mailbox.hpp"
#include "zmesh/mesh/cast_router.hpp"
#include "zmesh/mesh/mesh_events.hpp"
#include "zmesh/mesh/shape.hpp"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

namespace zmesh::internal {

// Injected into a gather's reply port when a rank it waits on can no longer answer.
struct RankFailed {
  ZMESH_MESSAGE("zmesh.mesh.RankFailed");
  std::uint32_t rank = 0;
  Error reason;
  MSGPACK_DEFINE(rank, reason);
};

class MeshState {
 public:
  // Events kept for a consumer that does not read them; more are counted
  // (ProcMesh::dropped_events) and logged as ZM-EVENTS-DROPPED.
  static constexpr std::size_t event_queue_capacity = 65536;

  MeshState(std::unique_ptr<Alloc> alloc, Shape shape, std::vector<ProcRunning> procs);
  ~MeshState();

  // -- identity --
  Alloc& alloc() { return *alloc_; }
  Proc& client() { return alloc_->client(); }
  Mailbox& mailbox() { return *mailbox_; }
  const Config& config() const { return alloc_->client().config(); }
  const Shape& shape() const { return shape_; }
  const WorldId& world() const { return alloc_->world(); }
  const ProcRunning& proc(std::uint32_t rank) const { return procs_.at(rank); }
  // Where each rank runs: pid and host (from the alloc's ProcCreated events).
  void set_placement(std::uint32_t rank, pid_t pid, std::string host);
  pid_t pid(std::uint32_t rank) const { return placements_.at(rank).pid; }
  const std::string& host(std::uint32_t rank) const { return placements_.at(rank).host; }
  std::uint32_t size() const { return static_cast<std::uint32_t>(procs_.size()); }
  std::optional<std::uint32_t> rank_of(const ProcId& proc) const;
  std::string point_text(std::uint32_t rank) const;
  std::uint64_t next_cast_id() { return ++cast_ids_; }

  // -- the comm tree (cast_router.hpp) --
  // Null when casts go directly from the client. Set once by ProcMesh::allocate, before any
  // actor mesh exists, so readers need no lock.
  const std::shared_ptr<CastRouter>& router() const { return router_; }
  void set_router(std::shared_ptr<CastRouter> router) { router_ = std::move(router); }

  // -- liveness --
  // Why `rank` can no longer answer, if it cannot.
  std::optional<Error> dead(std::uint32_t rank) const;
  // Every rank where actor `name` can no longer answer, and why: its proc died or it failed.
  // One lock for a whole cast's plan (usually an empty map).
  std::map<std::uint32_t, Error> unreachable(const std::string& name) const;
  bool all_stopped() const;

  // -- events --
  BlockingQueue<MeshEvent>& events() { return events_; }
  // The owner is stopping every proc: what follows is what it asked for, not news.
  void stopping() { stopping_ = true; }
  // Reserves `name` for a new actor mesh; a live duplicate is an error and changes nothing.
  Result<void> add_actor_mesh(const std::string& name);
  // The owner is stopping the name's actors: their stops (and messages returned because of
  // them) are not news. Called before the stop requests go out, since the supervision
  // channel may report a stop before the agent's answer arrives.
  void actor_mesh_stopping(const std::string& name);
  // The name's actors were stopped on request: it may be spawned again.
  void actor_mesh_stopped(const std::string& name);
  // The spawn failed: forget the name.
  void remove_actor_mesh(const std::string& name);
  // The actor `name` on `rank` came up at `started_ns` (its proc's clock): earlier events of
  // that name on that rank belong to an earlier actor and no longer fail gathers.
  void actor_started(const std::string& name, std::uint32_t rank, std::int64_t started_ns);

  // -- what happens (called by the ProcMesh's monitor and subscriber threads) --
  void proc_stopped(std::uint32_t rank, const StopReason& reason, bool stop_requested);
  void proc_silent(std::uint32_t rank);
  void actor_event(std::uint32_t rank, const SupervisionEvent& event);
  void undeliverable(const Undeliverable& returned);

  // -- gathers --
  // Calls `send` (which sends the requests; its error makes every rank missing with it),
  // then waits for one reply of `type_name` on
  // `port` (read through `next(deadline, batch)`, which may sleep until `batch` messages are
  // queued) from each of `ranks` (base ranks), until each answered or
  // can no longer answer (its proc died, or the actor of mesh `mesh_name` failed: such news
  // arrives on the port as RankFailed at once), or the deadline passed. `accept(rank,
  // reply)` takes each reply; an error it returns counts the rank as missing; `on_failed`, if
  // given, hears of each rank that can no longer answer as it happens. Only a reply
  // from the actor that was asked (`answerer`, or else `mesh_name`, or else the agent, on
  // that rank's proc) counts, once. Returns the missing ranks and why. The wait is
  // registered before `send`, so no failure is missed.
  std::map<std::uint32_t, Error> collect(
      const std::string& mesh_name, const PortId& port, const std::set<std::uint32_t>& ranks,
      const std::function<Result<void>()>& send, std::string_view type_name, Deadline deadline,
      const std::function<Result<Envelope>(Deadline, std::size_t)>& next,
      const std::function<Result<void>(std::uint32_t, const Envelope&)>& accept,
      std::string_view answerer = {},
      const std::function<void(std::uint32_t, const Error&)>& on_failed = {});
  // collect() for one request to the agent (or the actor named `answerer`) of every proc:
  // `send(rank)` sends it to the live ones; dead ranks are missing with the reason their
  // proc died.
  std::map<std::uint32_t, Error> ask_all_agents(
      const PortId& port, const std::function<void(std::uint32_t)>& send,
      std::string_view type_name, Deadline deadline,
      const std::function<Result<Envelope>(Deadline, std::size_t)>& next,
      const std::function<Result<void>(std::uint32_t, const Envelope&)>& accept,
      std::string_view answerer = agent_actor_name);
  // The `next` of collect() and ask_all_agents() for a port's receiver.
  template <class Receiver>
  static auto envelopes_of(Receiver& receiver) {
    return [&receiver](Deadline until, std::size_t batch) { return receiver.recv_envelope(until, batch); };
  }
  // Blocks until every proc has been reported stopped, or the deadline.
  bool wait_all_stopped(Deadline deadline);

  // A wait on `ranks` (base) of actor mesh `mesh_name` (every mesh when empty) whose replies
  // arrive on `port`: from now until end_gather(handle), RankFailed is delivered to `port` at
  // once for each of them that can no longer answer (and for those already dead). collect()
  // uses it; so do layers above (comm/) that run their own gather loop.
  std::uint64_t begin_gather(std::string mesh_name, PortId port, std::set<std::uint32_t> ranks);
  void end_gather(std::uint64_t handle);

  // Sends `request` (made with a reply port) to the agent of `rank`; waits for the reply.
  template <Message Reply, class MakeRequest>
  Result<Reply> ask_agent(std::uint32_t rank, MakeRequest make_request, Deadline deadline) {
    auto [reply_to, replies] = mailbox_->open_port<Reply>(/*once=*/true);
    mailbox_->send(proc(rank).agent, make_request(reply_to));
    return replies.recv(deadline);
  }

 private:
  struct Gather {
    std::string mesh_name;
    PortId port;
    std::set<std::uint32_t> ranks;
  };
  // Queue an event unless its queue is full (then it is counted and logged, rate-limited).
  void push_event(MeshEvent event);
  // Ends the waits on `rank` (of `mesh_name`, or of every mesh when empty). Requires mutex_.
  void fail_gathers(std::uint32_t rank, const std::string& mesh_name, const Error& reason);

  std::unique_ptr<Alloc> alloc_;
  Shape shape_;
  std::vector<ProcRunning> procs_;
  std::unordered_map<ProcId, std::uint32_t> ranks_;
  std::optional<Mailbox> mailbox_;
  std::atomic<std::uint64_t> cast_ids_{0};
  std::shared_ptr<CastRouter> router_;
  struct Placement {
    pid_t pid = 0;
    std::string host;
  };
  std::vector<Placement> placements_;
  BlockingQueue<MeshEvent> events_{event_queue_capacity};
  std::atomic<bool> stopping_{false};
  RateLimiter events_dropped_limiter_{std::chrono::seconds(1)};

  mutable std::mutex mutex_;  // guards dead_, actor_meshes_, gathers_, next_gather_
  std::condition_variable dead_changed_;
  std::map<std::uint32_t, Error> dead_;
  struct ActorMeshEntry {
    bool stopping = false;  // the owner asked to stop these actors
    bool stopped = false;
    std::map<std::uint32_t, std::int64_t> started_ns;  // by rank
    std::map<std::uint32_t, Error> failed;             // by rank
  };
  std::map<std::string, ActorMeshEntry> actor_meshes_;
  std::map<std::uint64_t, Gather> gathers_;
  std::uint64_t next_gather_ = 1;
};

}  // namespace zmesh::internal
