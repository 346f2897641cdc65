#pragma once
// TreeRouter: the client's half of the comm tree, its root. For each cast it numbers the cast
// for every rank it reaches (one counter per rank and stream, a stream being the client's
// mailbox and the actor mesh), cuts the ranks into at most `fanout` subtrees (DeliveryPlan)
// and sends each subtree's first rank one Cast: O(fan-out) sends whatever the mesh size, with
// the payload frames shared, never copied. For a reduce it is also the root of the fold: it
// waits for its children's partials, turns proc deaths and actor failures into lost parts (and
// tells the comm actor holding such a part), and returns one value and the ranks missing.
// Streams: the counters are numbered in generations (cast_sequencer.hpp). When a stream has
// been idle for `stream_idle` (or its mesh stopped), the router closes the generation: it
// sends every live proc its last counters (CloseGeneration), forgets all its counters and
// starts the next generation at 1; the procs free theirs once every cast the closed
// generation owes them came or was given up. When a proc dies it tells the others which
// casts may be lost with it (ProcLost), and during a call, which ranks below it the cast may
// not have reached (Unreached), so that nothing waits for the delivery timeout.
// Thread: every member is thread-safe; reduce() blocks its caller until its deadline at the
// latest, and several casts and reduces may run at once from different threads. The idle
// check runs as a wake of the shared TimerService (on its thread) and only takes mutex_ and
// sends.
// Failure: send() cannot fail (what cannot be delivered comes back as undeliverable);
// reduce() fails only on a bad request; replies that never came are missing ranks, not errors.

#include "zmesh/comm/comm_stats.hpp"
#include "zmesh/comm/internal/messages.hpp"
#include "zmesh/comm/internal/reduction.hpp"
#include "zmesh/comm/internal/timer_service.hpp"
#include "zmesh/mesh/reducer.hpp"
#include "zmesh/comm/routing.hpp"
#include "zmesh/mesh/actor_mesh.hpp"
#include "zmesh/mesh/cast_router.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace zmesh::comm {

class TreeRouter final : public CastRouter {
 public:
  // `timers` runs the idle check; a stream idle for `stream_idle` is closed.
  TreeRouter(zmesh::internal::MeshState& state, const std::shared_ptr<internal::TimerService>& timers,
             Clock::duration stream_idle);

  // The router casts to `mesh` travel through.
  static TreeRouter& of(const ActorMeshBase& mesh);

  // -- casting --
  Result<void> send(const CastOrder& order, Deadline room_deadline) override {
    auto sent = send(order, nullptr, room_deadline);
    if (!sent) return std::move(sent).error();
    return {};
  }
  void finish(std::uint64_t cast_id, const std::vector<std::uint32_t>& unanswered) override;
  void rank_failed(std::uint64_t cast_id, std::uint32_t rank, const PortId& reply_to) override;
  void proc_lost(std::uint32_t rank) override;
  void mesh_stopped(std::string_view mesh_name) override;

  // -- reducing --
  Result<Folded> reduce(const CastOrder& order, const ReducerOps& ops,
                        const std::map<std::uint32_t, Error>& skipped, Deadline deadline) override;

  // -- inspection --
  // Casts waiting for finish() (calls and reduces in progress): per-cast state on the client.
  std::size_t tracked() const;
  // Streams (actor meshes) the client holds counters for: those cast to in this generation.
  std::size_t streams() const;
  // Asks every live proc's comm actor for its counters.
  std::map<std::uint32_t, Result<CommStats>> stats(Deadline deadline);

 private:
  // A tracked cast's counter for each rank it was sent to, so that ranks that never got it can
  // be told to stop waiting for it.
  struct Tracked {
    std::string mesh_name;
    std::vector<std::uint32_t> ranks;
    std::vector<std::uint64_t> counters;
    std::uint64_t generation = 0;
    std::size_t fanout = 0;  // with `ranks`, gives the plan it was sent by
  };
  // One actor mesh's counters in the current generation.
  struct Stream {
    std::vector<std::uint64_t> counters;  // casts sent so far to each base rank
    Clock::time_point last_used;
  };

  // Numbers and sends `order`; with `reduction`, as a reducing cast whose root children report
  // to reduction->reply_to, with budgets that end before `deadline`, which also bounds the
  // wait for room in the links. Returns the plan it used. On backpressure, an untracked cast
  // tells the ranks it did not reach to skip it (a tracked one leaves that to finish()).
  Result<DeliveryPlan> send(const CastOrder& order, const internal::ReduceSpec* reduction,
                            Deadline deadline);
  // A rank of a reduce can no longer answer: marks its part lost here, or tells the comm
  // actor that holds its part.
  void rank_failed(const CastOrder& order, const DeliveryPlan& plan, internal::Reduction& root,
                   std::uint32_t rank, const Error& reason);
  ActorId comm_actor(std::uint32_t rank) const;
  // The timer's wake: closes the generation once a stream is idle, else re-arms.
  void check_idle();
  // Ends the current generation: the CloseGeneration for each rank, to send after unlocking.
  // Requires mutex_.
  std::vector<std::pair<std::uint32_t, internal::CloseGeneration>> close_generation();
  void send_closes(std::vector<std::pair<std::uint32_t, internal::CloseGeneration>> closes);

  zmesh::internal::MeshState& state_;
  const Clock::duration stream_idle_;
  mutable std::mutex mutex_;  // guards generation_, streams_, tracked_, idle_armed_
  std::uint64_t generation_ = 1;  // the receivers expect 1 first
  std::map<std::string, Stream, std::less<>> streams_;
  std::map<std::uint64_t, Tracked> tracked_;
  bool idle_armed_ = false;
  // Last: destroyed first, so no idle check runs on a router being torn down.
  std::unique_ptr<internal::TimerService::Handle> idle_timer_;
};

}  // namespace zmesh::comm
