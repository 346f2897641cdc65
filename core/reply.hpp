#pragma once
// Replies as return values. A handler that returns a value answers the message it handled:
// whoever wants the answer (a call's gather, a reduce's comm actor) puts a ReplyRoute in the
// request's envelope header, and after the handler returns the runtime sends the value
// there. A message sent without a route (a plain cast) drops the value, so one handler
// serves casts, calls and reduces alike. A handler returning Result<T> answers with its
// error instead when it fails: the caller sees that rank as missing, with that error.
// Thread: send_reply() runs on the actor's turn (it reads the message being handled).

#include "zmesh/core/error.hpp"
#include "zmesh/core/frame.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/message.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace zmesh {

class Context;
struct Envelope;

// Header of a request: where its handler's return value goes.
inline constexpr std::string_view reply_route_key = "zmesh.reply";
// Header of a reply: the route's tag, echoed (opaque to the actor).
inline constexpr std::string_view reply_tag_key = "zmesh.reply.tag";
// Header of a reply that carries the handler's error instead of a value.
inline constexpr std::string_view reply_error_key = "zmesh.reply.error";

struct ReplyRoute {
  PortId port;      // where the reply goes
  std::string tag;  // echoed back in the reply's header, so the receiver can match it
  MSGPACK_DEFINE(port, tag);
};

// The envelope type of every reply; its payload is the value's frames: its msgpack body, then
// one frame per bulk field it holds (a Tensor reply travels as its own frame, not copied).
struct ReplyMessage {
  ZMESH_MESSAGE("zmesh.Reply");
  MSGPACK_DEFINE();
};

// What a handler answers: T for a handler returning T or Result<T>; void for none.
template <class R>
struct ReplyOf {
  using type = R;
};
template <class T>
struct ReplyOf<Result<T>> {
  using type = T;
};
template <class R>
using reply_of_t = typename ReplyOf<std::remove_cvref_t<R>>::type;

namespace internal {
// Sends `value` (encoded) or `error` along the reply route of the message `ctx` is handling;
// nothing when it has none. A reply to an actor of the same proc is handed over on this
// thread when that actor never blocks (the comm actor), which saves a wake-up per reply.
void send_reply(Context& ctx, Frames value);
void send_reply_error(Context& ctx, const Error& error);

// The error a reply carries, if it carries one instead of a value.
std::optional<Error> reply_error(const Envelope& reply);
}  // namespace internal

}  // namespace zmesh
