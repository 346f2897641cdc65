#pragma once
// Actor: the base class of user actors. An actor registers one typed handler per message
// type in its constructor and then handles one message at a time:
//   class Echo : public zmesh::Actor {
//    public:
//     struct Params { MSGPACK_DEFINE(); };
//     explicit Echo(const Params&) { on<Ping>(&Echo::ping); }
//     void ping(zmesh::Context& ctx, const Ping& m) { ctx.send(m.reply_to, Pong{m.seq}); }
//   };
// Thread: an actor's members are only touched by whichever pool thread runs its turn; the
// runtime guarantees one turn at a time, so actors need no locks of their own.
// Failure: an exception from a handler or hook fails the actor (see supervision.hpp).

#include "zmesh/core/envelope.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/message.hpp"
#include "zmesh/core/supervision.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace zmesh {

class Context;

class Actor {
 public:
  Actor() = default;
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;
  virtual ~Actor() = default;

  // -- hooks (run on the actor's turn) --
  // Runs before the first message; throwing fails the spawn with the exception's text.
  virtual void init(Context&) {}
  // Runs once when the actor stops or fails, after its children are gone.
  virtual void cleanup(Context&) {}
  // A child failed or stopped. Return true when handled; false passes it to our parent
  // (and from a root actor to the proc's owner).
  virtual bool on_child_event(Context&, const SupervisionEvent&) { return false; }
  // A message this actor sent came back. The default fails this actor, which turns the
  // loss into a supervision event instead of letting it pass unnoticed; a returned reply
  // (sent to a port, whose caller gave up or ended) is ignored: late replies are normal.
  virtual void on_undeliverable(Context&, const Undeliverable& returned);

  // -- dispatch (used by the runtime) --
  using RawHandler = std::function<Result<void>(Context&, Envelope&)>;
  // The handler for `type_name`, or nullptr.
  const RawHandler* find_handler(std::string_view type_name) const;
  std::vector<std::string> handled_types() const;
  bool never_blocks() const { return never_blocks_; }

 protected:
  // Registers `handler(ctx, const M&)` (a member function of the derived actor or any callable).
  template <Message M, class Self>
  void on(void (Self::*handler)(Context&, const M&)) {
    Self* self = static_cast<Self*>(this);
    on<M>([self, handler](Context& ctx, const M& message) { (self->*handler)(ctx, message); });
  }
  template <Message M, class Callable>
    requires std::invocable<Callable, Context&, const M&>
  void on(Callable handler) {
    on_raw(std::string(message_name<M>()),
           [handler = std::move(handler)](Context& ctx, Envelope& envelope) -> Result<void> {
             if (envelope.payload.empty()) {
               return Error(ErrorCode::decode_error,
                            fmt::format("{} arrived with no payload frame", message_name<M>()));
             }
             auto message = decode<M>(envelope.payload.front());
             if (!message) return std::move(message).error();
             handler(ctx, *message);
             return {};
           });
  }
  // Registers a handler that sees the envelope itself: the payload frames undecoded, for
  // actors that forward bytes (the comm actor) or decode lazily.
  void on_raw(std::string type_name, RawHandler handler);

  // A promise that this actor's handlers never block and return quickly. The runtime may
  // then run them on the thread that delivers the message (the transport's I/O thread)
  // when the actor is idle, which saves a thread hand-off (~20 us across cores) per
  // message. A handler that breaks the promise stalls every link of its proc.
  void handlers_never_block() { never_blocks_ = true; }

 private:
  std::unordered_map<std::string, RawHandler> handlers_;
  bool never_blocks_ = false;
};

}  // namespace zmesh
