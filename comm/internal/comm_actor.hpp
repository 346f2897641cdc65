#pragma once
// CommActor: the comm tree's node on every proc (named "comm"). For each cast it receives, it
// forwards the same payload frames to its children - at most the cast's fan-out, cut by
// DeliveryPlan from the subtree it was given - and hands the cast to its own proc's actor in
// the client's order (CastSequencer). For a reducing cast it folds its actor's reply with its
// children's partials and sends one Partial up when its subtree is complete or its budget is
// spent, then frees the cast's state. A reducing cast's deliveries carry a reply route to this
// actor, so the local actor's return value comes back here to be folded. zmesh::init
// registers it (comm/init.hpp); it folds the built-in reducers and those the program added
// to its registry (add_reducer).
// It frees a stream's state when the client closes its generation (CastSequencer).
// Thread: an actor (one turn at a time) whose handlers never block, so it runs on its proc's
// I/O thread when idle. Its timer is a wake registered with the registry's TimerService, whose
// one thread (per program, not per comm actor) only posts Wake messages to it.
// Failure: a malformed or misrouted cast goes back to its sender as undeliverable; a child that
// cannot be reached makes its subtree missing from the cast's reduction; nothing here throws.

#include "zmesh/comm/comm_stats.hpp"
#include "zmesh/comm/internal/cast_sequencer.hpp"
#include "zmesh/comm/internal/messages.hpp"
#include "zmesh/comm/internal/rank_runs.hpp"
#include "zmesh/comm/internal/reduction.hpp"
#include "zmesh/comm/internal/timer_service.hpp"
#include "zmesh/mesh/reducer.hpp"
#include "zmesh/core/actor.hpp"
#include "zmesh/core/log.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/mesh/cast_router.hpp"
#include "zmesh/mesh/shape.hpp"

#include <map>
#include <memory>
#include <optional>

namespace zmesh::comm {

class CommActor : public Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit CommActor(const Params& params);

  // -- hooks --
  void init(Context& ctx) override;
  void cleanup(Context& ctx) override;
  void on_undeliverable(Context& ctx, const Undeliverable& returned) override;

 private:
  struct CastKey {
    ActorId origin;
    std::string actor;
    std::uint64_t cast_id = 0;
    friend auto operator<=>(const CastKey&, const CastKey&) = default;
  };
  // One reducing cast in progress here.
  struct Pending {
    internal::Reduction reduction;
    PortId reply_to;
    Clock::time_point due;
    std::string mesh;
    Shape shape;
    std::uint32_t budget_ms = 0;
  };
  using PendingMap = std::map<CastKey, Pending>;

  // -- handlers --
  Result<void> cast(Context& ctx, Envelope& envelope);
  void reply(Context& ctx, const Envelope& envelope);
  void partial(Context& ctx, const internal::Partial& partial);
  void slot_lost(Context& ctx, const internal::SlotLost& lost);
  void skip(Context& ctx, const internal::SkipCasts& skip);
  void unreached(Context& ctx, const internal::Unreached& unreached);
  void close_generation(Context& ctx, const internal::CloseGeneration& close);
  void proc_lost(Context& ctx, const internal::ProcLost& lost);
  void wake(Context& ctx, const internal::Wake& wake);
  void stats(Context& ctx, const CommStatsQuery& query);

  // -- helpers --
  // Decodes a cast's control frame into control_, whose strings and vectors keep their
  // capacity from cast to cast (up to a bound, comm_actor.cpp). Refuses a frame with fewer
  // fields than CastControl has (msgpack would leave the rest as the last cast set them).
  Result<void> decode_control(const Frame& frame);
  // The cached shape lives until the next call (a full cache is emptied before it grows).
  Result<const Shape*> shape_of(const std::string& text);
  // Sends the cast on to this node's children; returns the parts of its subtree: this node's
  // own actor, then each child's subtree.
  Result<std::vector<internal::Reduction::Part>> forward(Context& ctx,
                                                         const internal::CastControl& control,
                                                         const internal::RankList& list,
                                                         const Envelope& envelope);
  // The cast as the local actor sees it: sent by the origin, with its place in the cast.
  Envelope delivery_of(Context& ctx, const internal::CastControl& control, const Shape& shape,
                       std::uint32_t view_rank, const Envelope& envelope);
  // Starts the reduction of a cast whose subtree is `ranks` (base, this node first); false
  // when that cast is being reduced here already.
  bool start_reduction(const internal::CastControl& control, const Shape& shape,
                       const std::vector<std::size_t>& ranks,
                       const std::vector<internal::Reduction::Part>& parts);
  // Sends the partial up and frees the cast when its subtree is complete.
  void flush_if_complete(Context& ctx, PendingMap::iterator it);
  void flush(Context& ctx, PendingMap::iterator it);
  void deliver(Context& ctx, Envelope&& delivery);
  void arm_timer();

  ReducerTable reducers_;
  std::uint32_t rank_ = 0;
  std::optional<Logger> log_;                         // made in init(): needs the proc
  std::optional<internal::CastSequencer> sequencer_;  // made in init(): needs the config
  std::unique_ptr<internal::TimerService::Handle> timer_;  // made in init(): needs the proc
  PendingMap pending_;
  // Parsed cast shapes by text; casts of one stream repeat theirs.
  std::map<std::string, Shape, std::less<>> shapes_;
  // The cast being handled (decode_control) and its ranks: reused, so that a cast's decode
  // does not allocate. Handlers of one actor never run concurrently or re-entrantly.
  internal::CastControl control_;
  internal::RankList ranks_;
  CommStats counters_;
  RateLimiter forward_warnings_{std::chrono::seconds(1)};
};

}  // namespace zmesh::comm
