#pragma once
// ActorMesh<A>: the actors named `name` on every proc of a ProcMesh, or a slice of them.
//   mesh.cast(parse_selection("*,0:2").value(), Step{...});       // fire and forget
//   auto replies = mesh.call<Loss>(Selection::all(),
//       [](PortRef<Loss> reply_to) { return Query{reply_to}; }, deadline_in(5s));
// A call returns every reply by rank plus the ranks that did not answer and why (their
// proc died, the actor failed, or the deadline passed): it never waits past its deadline.
// Flow control: a cast waits for room in the links (a slow or blocked receiver fills them)
// until its deadline (Config::delivery_timeout when none is given; try_cast: not at all),
// then fails with ErrorCode::backpressure; a message over ZMESH_MAX_MESSAGE_BYTES fails at
// once with too_large. Memory stays bounded whatever the send rate.
// Thread: casts and calls are thread-safe; events are for one consumer.

#include "zmesh/core/port.hpp"
#include "zmesh/mesh/cast_info.hpp"
#include "zmesh/mesh/internal/mesh_state.hpp"
#include "zmesh/mesh/mesh_events.hpp"
#include "zmesh/mesh/selection.hpp"
#include "zmesh/mesh/shape.hpp"

#include <map>
#include <memory>
#include <set>
#include <string>

namespace zmesh {

// What a cast did: which ranks (of the mesh's shape) it was sent to, and which it could not
// reach at all (their proc is known dead).
struct CastResult {
  std::uint64_t cast_id = 0;
  std::vector<std::uint32_t> sent;
  std::map<std::uint32_t, Error> skipped;
};

// Replies of a call, by rank of the mesh's (view) shape, and the ranks that gave none.
template <class Reply>
struct Gathered {
  std::map<std::uint32_t, Reply> replies;
  std::map<std::uint32_t, Error> missing;
  bool complete() const { return missing.empty(); }
};

class ActorMeshBase {
 public:
  const std::string& name() const { return name_; }
  // The shape casts and calls are addressed in (a slice's shape for a slice).
  const Shape& shape() const { return shape_; }
  std::size_t size() const { return shape_.num_ranks(); }
  // The actor at `rank` of this mesh's shape.
  Result<ActorId> actor(std::size_t rank) const;

  // The next event about this actor mesh (failures, stops, undeliverables), or nothing.
  std::optional<ActorEvent> next_event(Deadline deadline) { return events_->pop(deadline); }
  // Events not queued because the queue was full (nobody read them); see ZM-EVENTS-DROPPED.
  std::uint64_t dropped_events() const { return events_->refused(); }

  // Stops the actors on every live proc of the base mesh; waits for the agents' answers.
  Result<void> stop(Deadline deadline);

  // Sends one payload (an encoded M) to the handler for `type_name` of each chosen actor,
  // waiting for room in the links until `room_deadline`.
  Result<CastResult> cast_frames(const Selection& selection, const std::string& type_name,
                                 const Frames& payload, Deadline room_deadline);
  // Config::delivery_timeout from now: how long a cast given no deadline waits for room.
  Deadline room_deadline() const { return deadline_in(state_->config().delivery_timeout); }
  // too_large, naming the size and the limit, when `payload` cannot travel.
  Result<void> check_size(std::string_view type_name, const Frames& payload) const;

  // A cast decided but not sent: the live base ranks chosen, and what the caller is told.
  // Layers above (comm/) plan with it and send through cast_router() themselves.
  struct CastPlan {
    std::vector<std::uint32_t> base_ranks;
    CastResult result;
  };
  Result<CastPlan> plan_cast(const Selection& selection);
  // The comm tree casts travel through (cast_router.hpp); null: casts go directly.
  CastRouter* cast_router() const { return state_->router().get(); }

 protected:
  ActorMeshBase(std::shared_ptr<internal::MeshState> state, std::string name, Shape shape,
                std::shared_ptr<BlockingQueue<ActorEvent>> events)
      : state_(std::move(state)), name_(std::move(name)), shape_(std::move(shape)), events_(std::move(events)) {}

  // `tracked`: a gather waits for it, and tells the router when it is over.
  Result<void> send_cast(const CastPlan& plan, const std::string& type_name,
                         const Frames& payload, bool tracked, Deadline room_deadline);

  // Casts `payload` as planned and collects one `reply_type` per rank (MeshState::collect),
  // in this mesh's view ranks.
  std::map<std::uint32_t, Error> cast_and_collect(
      const CastPlan& plan, const std::string& type_name, const Frames& payload,
      const PortId& port, const std::string& reply_type, Deadline deadline,
      const std::function<Result<Envelope>(Deadline)>& next,
      const std::function<Result<void>(std::uint32_t, const Envelope&)>& accept);

  std::shared_ptr<internal::MeshState> state_;
  std::string name_;
  Shape shape_;
  std::shared_ptr<BlockingQueue<ActorEvent>> events_;
};

template <class A>
class ActorMesh : public ActorMeshBase {
 public:
  ActorMesh(std::shared_ptr<internal::MeshState> state, std::string name, Shape shape,
            std::shared_ptr<BlockingQueue<ActorEvent>> events)
      : ActorMeshBase(std::move(state), std::move(name), std::move(shape), std::move(events)) {}

  // Sends `message` to every actor `selection` chooses in this mesh's shape; waits for room
  // until `room_deadline` (backpressure after it).
  template <Message M>
  Result<CastResult> cast(const Selection& selection, const M& message, Deadline room_deadline) {
    return cast_frames(selection, std::string(message_name<M>()), Frames{encode(message)},
                       room_deadline);
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

  // Casts make_message(reply port) and gathers one Reply from each chosen actor.
  template <Message Reply, class MakeMessage>
  Result<Gathered<Reply>> call(const Selection& selection, MakeMessage make_message,
                               Deadline deadline) {
    auto plan = plan_cast(selection);
    if (!plan) return std::move(plan).error();
    auto [reply_to, receiver] = state_->mailbox().template open_port<Reply>();
    const auto message = make_message(reply_to);
    Gathered<Reply> result;
    result.missing = cast_and_collect(
        *plan, std::string(message_name<std::decay_t<decltype(message)>>()),
        Frames{encode(message)}, reply_to.id, std::string(message_name<Reply>()), deadline,
        [&receiver](Deadline until) { return receiver.recv_envelope(until); },
        [&result](std::uint32_t rank, const Envelope& envelope) -> Result<void> {
          auto reply = decode<Reply>(envelope.payload.front());
          if (!reply) return std::move(reply).error();
          result.replies.emplace(rank, std::move(*reply));
          return {};
        });
    return result;
  }

  // A view of the chosen indices of one dimension (the dimension stays).
  Result<ActorMesh> slice(std::string_view label, std::size_t begin, std::size_t end,
                          std::size_t step = 1) const {
    auto view = shape_.select(label, begin, end, step);
    if (!view) return std::move(view).error();
    return ActorMesh(state_, name_, std::move(*view), events_);
  }
  // A view with one dimension fixed at `index` (the dimension goes).
  Result<ActorMesh> at(std::string_view label, std::size_t index) const {
    auto view = shape_.at(label, index);
    if (!view) return std::move(view).error();
    return ActorMesh(state_, name_, std::move(*view), events_);
  }
};

}  // namespace zmesh
