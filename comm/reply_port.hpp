#pragma once
// ReplyPort<T>: the reply port of a reducing cast (comm::reduce, tree_cast.hpp). It travels in
// the cast's message like a PortRef, but it is the same for every rank (the payload is encoded
// once), and a reply to it goes to the replying actor's own comm actor, which folds it into
// its subtree's one message up:
//   void loss(zmesh::Context& ctx, const LossQuery& query) {
//     zmesh::comm::reply(ctx, query.reply_to, 0.25).value();
//   }
// Thread: reply() and bind_reply() run on the actor's turn, in the handler of the cast (they
// read its header); a BoundReply is a value and may be sent later from any Sender.
// Failure: using the port outside the handler of the cast that carried it is an Error
// (invalid_argument) naming the port's cast and what to do instead.

#include "zmesh/comm/internal/messages.hpp"
#include "zmesh/comm/reducer.hpp"
#include "zmesh/core/context.hpp"

#include <cstdint>

namespace zmesh::comm {

template <class T>
struct ReplyPort {
  std::uint64_t cast_id = 0;
  MSGPACK_DEFINE(cast_id);
};

namespace internal {
// Where a reply to cast `cast_id` goes from the actor handling it, and what it says, but for
// the value.
struct ReplyRoute {
  PortRef<Contribution> to;
  Contribution reply;
};
Result<ReplyRoute> route_reply(const Context& ctx, std::uint64_t cast_id);
// Sends `reply` to the comm actor at `to`; on its own proc that actor, which never blocks,
// takes it on the calling thread (no hand-off to fold a reply).
void send_reply(Sender& from, const PortRef<Contribution>& to, const Contribution& reply);
}  // namespace internal

// A ReplyPort bound to the cast being handled, to reply later (after the handler returned).
template <class T>
class BoundReply {
 public:
  explicit BoundReply(internal::ReplyRoute route) : route_(std::move(route)) {}
  void send(Sender& from, const T& value) const {
    internal::Contribution reply = route_.reply;
    reply.value = pack_bytes(value);
    internal::send_reply(from, route_.to, reply);
  }

 private:
  internal::ReplyRoute route_;
};

template <class T>
Result<BoundReply<T>> bind_reply(const Context& ctx, const ReplyPort<T>& port) {
  auto route = internal::route_reply(ctx, port.cast_id);
  if (!route) return std::move(route).error();
  return BoundReply<T>(std::move(*route));
}

// Replies `value` to the reducing cast being handled.
template <class T>
Result<void> reply(Context& ctx, const ReplyPort<T>& port, const T& value) {
  auto bound = bind_reply(ctx, port);
  if (!bound) return std::move(bound).error();
  bound->send(ctx, value);
  return {};
}

}  // namespace zmesh::comm
