#pragma once
// ActorMesh<A>: the actors named `name` on every proc of a ProcMesh, or a view of some of
// them: what a controller casts to, calls and reduces over.
//   workers.cast(Step{7});                                              // no reply wanted
//   auto losses = workers.call(Step{7}, deadline_in(5s));               // one reply per rank
//   auto total = workers.reduce<zmesh::Sum>(Step{7}, deadline_in(5s));  // folded in the tree
//   auto half = workers.slice("gpu", 0, 2).value();                     // a view
// The reply is what A's handler of the message returns; A lists its handlers
// (Actor::Handlers), so sending A a message it does not handle does not compile.
// Everything travels the comm tree (comm/): the client sends at most fan-out messages
// whatever the mesh size, and every cast from one client to one actor mesh keeps one order.
// Ranks: every result and event names ranks of the ProcMesh ("mesh ranks"), whatever view
// was addressed; point_of(rank) gives the point ("host=1/2,gpu=3/4"). A handler learns its
// own with Context::rank() and cast_info(ctx).
// Failures: a call or reduce never waits past its deadline; ranks that gave nothing are in
// `missing`, with why (their proc died, their actor failed, the handler returned an error,
// the deadline passed). Ranks whose proc died or whose actor failed are not sent to again:
// casts list them in CastResult::skipped. live() is the view of the ranks still running.
// Flow control: a cast waits for room in the links (a slow or blocked receiver fills them)
// until its deadline (Config::delivery_timeout when none is given; try_cast: not at all),
// then fails with ErrorCode::backpressure; a message over ZMESH_MAX_MESSAGE_BYTES fails at
// once with too_large. Memory stays bounded whatever the send rate.
// Thread: every member is thread-safe; several casts and calls may run at once.

#include "zmesh/core/actor.hpp"
#include "zmesh/core/reply.hpp"
#include "zmesh/mesh/cast_info.hpp"
#include "zmesh/mesh/cast_router.hpp"
#include "zmesh/mesh/mesh_events.hpp"
#include "zmesh/mesh/reducer.hpp"
#include "zmesh/mesh/selection.hpp"
#include "zmesh/mesh/shape.hpp"
#include "zmesh/mesh/value_mesh.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace zmesh {

namespace internal {
class MeshState;
}

// What a cast did: the mesh ranks it was sent to, and those it left out and why (their proc
// died or their actor failed).
struct CastResult {
  std::uint64_t cast_id = 0;
  std::vector<std::uint32_t> sent;
  std::map<std::uint32_t, Error> skipped;
};

// The replies of a call by mesh rank, and the chosen ranks that gave none and why.
template <class Reply>
struct Gathered {
  std::map<std::uint32_t, Reply> replies;
  std::map<std::uint32_t, Error> missing;
  bool complete() const { return missing.empty(); }
};

// The folded replies of a reduce: the value (none when no rank replied), how many ranks it
// folds, and the chosen ranks (mesh ranks) that gave nothing and why.
template <class T>
struct Reduced {
  std::optional<T> value;
  std::uint64_t contributors = 0;
  std::map<std::uint32_t, Error> missing;
  bool complete() const { return missing.empty(); }
};

// Stands in for the reply of a handler that returns nothing, so that calling one fails with
// ActorMesh's own message rather than a cascade from inside the standard library.
struct NoReply {
  MSGPACK_DEFINE();
};
template <class A, class M>
using call_reply_t = std::conditional_t<std::is_void_v<reply_type_t<A, M>>, NoReply, reply_type_t<A, M>>;

class ActorMeshBase {
 public:
  const std::string& name() const { return name_; }
  // The shape selections are evaluated in (a slice's shape for a slice).
  const Shape& shape() const { return shape_; }
  // The mesh ranks of this view, ascending.
  std::vector<std::uint32_t> ranks() const;
  std::size_t size() const { return ranks().size(); }
  // "host=1/2,gpu=3/4": where mesh rank `rank` sits in the ProcMesh.
  std::string point_of(std::uint32_t rank) const;
  // The actor at mesh rank `rank`; an error when this view does not hold it.
  Result<ActorId> actor(std::uint32_t rank) const;
  // Why the actor at mesh rank `rank` can no longer answer (its proc died or it failed).
  std::optional<Error> dead(std::uint32_t rank) const;
  // The selection, over this view's shape, of exactly these mesh ranks; invalid_argument
  // names a rank this view does not hold.
  Result<Selection> select_ranks(std::span<const std::uint32_t> ranks) const;

  // Stops the actors on every live proc of the base mesh; waits for the agents' answers.
  Result<void> stop(Deadline deadline);

  // Config::delivery_timeout from now: how long a cast given no deadline waits for room.
  Deadline room_deadline() const;

  // The client's half of the comm tree these casts travel (for inspection: comm::tree_stats).
  CastRouter& cast_router() const;

  // Advanced: casts an encoded message (frame 0) with more frames that travel untouched, for
  // an actor that reads them with a raw handler (Actor::on_raw), as `zmesh bench cast` does
  // with its payload. Not checked at compile time.
  Result<CastResult> cast_frames(const Selection& selection, std::string_view type_name,
                                 const Frames& payload, Deadline room_deadline);

 protected:
  ActorMeshBase(std::shared_ptr<internal::MeshState> state, std::string name, Shape shape,
                std::shared_ptr<const std::set<std::uint32_t>> only, std::uint32_t fanout)
      : state_(std::move(state)), name_(std::move(name)), shape_(std::move(shape)),
        only_(std::move(only)), fanout_(fanout) {}

  // The typed members below, once the message is encoded.
  // Casts and gathers one reply per chosen rank; `accept(rank, value frames)` decodes each
  // (its error makes the rank missing). Returns the missing ranks.
  Result<std::map<std::uint32_t, Error>> call_frames(
      const Selection& selection, std::string_view type_name, const Frames& payload,
      Deadline deadline, const std::function<Result<void>(std::uint32_t, const Frames&)>& accept);
  // Casts and folds the replies with `ops` in the tree; missing ranks are mesh ranks.
  Result<Folded> reduce_frames(const Selection& selection, std::string_view type_name,
                               const Frames& payload, const ReducerOps& ops, Deadline deadline);
  // Every mesh rank whose proc died or whose actor failed, and why.
  std::map<std::uint32_t, Error> unreachable() const;
  // The view of this mesh's ranks for which `keep` holds.
  std::shared_ptr<const std::set<std::uint32_t>> only(
      const std::function<bool(std::uint32_t)>& keep) const;

  std::shared_ptr<internal::MeshState> state_;
  std::string name_;
  Shape shape_;
  // Null: every rank of shape_; else only these mesh ranks (live(), only_ranks()).
  std::shared_ptr<const std::set<std::uint32_t>> only_;
  std::uint32_t fanout_ = 0;  // 0: Config::cast_fanout

 private:
  struct CastPlan {
    std::vector<std::uint32_t> base_ranks;  // live, chosen
    CastResult result;
  };
  Result<CastPlan> plan_cast(const Selection& selection);
  Result<void> check_size(std::string_view type_name, const Frames& payload) const;
};

template <class A>
class ActorMesh : public ActorMeshBase {
 public:
  // -- casting: no reply --
  // Sends `message` to every actor `selection` chooses in this mesh's shape; waits for room
  // until `room_deadline` (backpressure after it).
  template <Message M>
  Result<CastResult> cast(const Selection& selection, const M& message, Deadline room_deadline) {
    check_handles<M>();
    return cast_frames(selection, message_name<M>(), encode_frames(message), room_deadline);
  }
  template <Message M>
  Result<CastResult> cast(const Selection& selection, const M& message) {
    return cast(selection, message, room_deadline());
  }
  template <Message M>
  Result<CastResult> cast(const M& message) {
    return cast(Selection::all(), message);
  }
  // cast() that never waits: backpressure at once when a link or mailbox is full.
  template <Message M>
  Result<CastResult> try_cast(const Selection& selection, const M& message) {
    return cast(selection, message, Deadline::min());
  }

  // -- calling: every chosen rank's reply --
  template <Message M>
  Result<Gathered<call_reply_t<A, M>>> call(const Selection& selection, const M& message,
                                            Deadline deadline) {
    using Reply = call_reply_t<A, M>;
    check_replies<M>();
    Gathered<Reply> gathered;
    auto missing = call_frames(selection, message_name<M>(), encode_frames(message), deadline,
                               [&gathered](std::uint32_t rank, const Frames& value) -> Result<void> {
                                 auto reply = decode_value_frames<Reply>(value, "the reply");
                                 if (!reply) return std::move(reply).error();
                                 gathered.replies.emplace(rank, std::move(*reply));
                                 return {};
                               });
    if (!missing) return std::move(missing).error();
    gathered.missing = std::move(*missing);
    return gathered;
  }
  template <Message M>
  Result<Gathered<call_reply_t<A, M>>> call(const M& message, Deadline deadline) {
    return call(Selection::all(), message, deadline);
  }

  // -- reducing: the replies folded on their way up the tree --
  // R is a reducer template over the reply type (Sum, Min, Max, Count, Gather) ...
  template <template <class> class R, Message M>
  auto reduce(const Selection& selection, const M& message, Deadline deadline) {
    check_replies<M>();
    return reduce<R<reply_type_t<A, M>>>(selection, message, deadline);
  }
  template <template <class> class R, Message M>
  auto reduce(const M& message, Deadline deadline) {
    return reduce<R>(Selection::all(), message, deadline);
  }
  // ... or a reducer type: a built-in one, or one of your own (reducer.hpp).
  template <Reducer R, Message M>
  Result<Reduced<typename R::Value>> reduce(const Selection& selection, const M& message,
                                            Deadline deadline) {
    check_replies<M>();
    static_assert(std::is_convertible_v<reply_type_t<A, M>, typename R::Input>,
                  "the reducer's Input is not what the actor's handler of this message returns");
    auto ops = reducer_ops<R>();
    if (!ops) return std::move(ops).error();
    auto folded = reduce_frames(selection, message_name<M>(), encode_frames(message), *ops, deadline);
    if (!folded) return std::move(folded).error();
    Reduced<typename R::Value> reduced;
    reduced.contributors = folded->contributors;
    reduced.missing = std::move(folded->missing);
    if (folded->value) {
      auto value = decode_reduced<typename R::Value>(*folded->value, shape_.extent());
      if (!value) return std::move(value).error();
      if constexpr (requires { R::finish(*value, reduced.contributors); }) {
        reduced.value = R::finish(*value, reduced.contributors);  // Mean divides here
      } else {
        reduced.value = std::move(*value);
      }
    }
    return reduced;
  }
  template <Reducer R, Message M>
  Result<Reduced<typename R::Value>> reduce(const M& message, Deadline deadline) {
    return reduce<R>(Selection::all(), message, deadline);
  }

  // -- allreduce: reduce, then hand the result to every chosen actor --
  // Reduces the replies to `message` with R as reduce() does, then casts
  // `make_result(value)` - a message A handles, holding the value (a Tensor is shared, not
  // copied) - down the tree to every chosen rank and waits until each has handled it. That
  // handler must return a value (ignored here), so that "handled" can be counted. Returns
  // the reduced value; `missing` names each chosen rank that did not contribute or did not
  // take the result, and why, and all of it comes back by `deadline`. With no contribution
  // at all nothing is sent down.
  //   auto step = trainers.allreduce<zmesh::Sum>(
  //       Backward{batch}, [](const zmesh::Tensor<float>& sum) { return Apply{sum}; }, deadline);
  template <template <class> class R, Message M, class MakeResult>
  auto allreduce(const Selection& selection, const M& message, MakeResult make_result,
                 Deadline deadline) {
    check_replies<M>();
    using Value = typename R<reply_type_t<A, M>>::Value;
    using Down = std::invoke_result_t<MakeResult&, const Value&>;
    static_assert(Message<Down>, "allreduce's make_result must return a message for the actors");
    check_replies<Down>();
    auto reduced = reduce<R<reply_type_t<A, M>>>(selection, message, deadline);
    if (!reduced || !reduced->value) return reduced;
    auto taken = reduce<Count<reply_type_t<A, Down>>>(selection, make_result(*reduced->value), deadline);
    if (!taken) return Result<Reduced<Value>>(std::move(taken).error());
    reduced->missing.merge(taken->missing);  // a rank missing in both keeps its first reason
    return reduced;
  }
  template <template <class> class R, Message M, class MakeResult>
  auto allreduce(const M& message, MakeResult make_result, Deadline deadline) {
    return allreduce<R>(Selection::all(), message, std::move(make_result), deadline);
  }

  // -- views --
  // The chosen indices of one dimension (the dimension stays).
  Result<ActorMesh> slice(std::string_view label, std::size_t begin, std::size_t end,
                          std::size_t step = 1) const {
    auto view = shape_.select(label, begin, end, step);
    if (!view) return std::move(view).error();
    return ActorMesh(state_, name_, std::move(*view), only_, fanout_);
  }
  // One dimension fixed at `index` (the dimension goes).
  Result<ActorMesh> at(std::string_view label, std::size_t index) const {
    auto view = shape_.at(label, index);
    if (!view) return std::move(view).error();
    return ActorMesh(state_, name_, std::move(*view), only_, fanout_);
  }
  // The ranks of this view whose proc and actor still run.
  ActorMesh live() const {
    const auto gone = unreachable();
    return ActorMesh(state_, name_, shape_,
                     only([&gone](std::uint32_t rank) { return !gone.contains(rank); }), fanout_);
  }
  // Only the given mesh ranks of this view (others are ignored).
  ActorMesh only_ranks(std::span<const std::uint32_t> ranks) const {
    const std::set<std::uint32_t> wanted(ranks.begin(), ranks.end());
    return ActorMesh(state_, name_, shape_,
                     only([&wanted](std::uint32_t rank) { return wanted.contains(rank); }), fanout_);
  }
  // The same actors, cast to through a tree of `fanout` children per node (0: the
  // configured ZMESH_CAST_FANOUT). A flat tree (fan-out >= size) costs the client one send
  // per rank and adds no hops; a narrow one spreads the sends over the procs.
  ActorMesh with_fanout(std::uint32_t fanout) const {
    return ActorMesh(state_, name_, shape_, only_, fanout);
  }

 private:
  friend class ProcMesh;
  ActorMesh(std::shared_ptr<internal::MeshState> state, std::string name, Shape shape,
            std::shared_ptr<const std::set<std::uint32_t>> only, std::uint32_t fanout)
      : ActorMeshBase(std::move(state), std::move(name), std::move(shape), std::move(only), fanout) {}

  template <class M>
  static constexpr void check_handles() {
    static_assert(DeclaresHandlers<A>,
                  "the actor type lists no handlers: add `using Handlers = "
                  "zmesh::Handlers<&YourActor::handler, ...>;` to it (core/actor.hpp)");
    static_assert(Handles<A, M>, "the actor type has no handler for this message: add one to its Handlers");
  }
  template <class M>
  static constexpr void check_replies() {
    check_handles<M>();
    static_assert(!std::is_void_v<reply_type_t<A, M>>,
                  "the actor's handler of this message returns nothing, so there is no reply to "
                  "call or reduce for: make it return the reply, or cast()");
  }
};

}  // namespace zmesh
