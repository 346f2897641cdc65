#pragma once
// Actor: the base class of user actors. An actor lists its handlers, one per message type,
// and handles one message at a time; what a handler returns is its reply (reply.hpp):
//   class Trainer : public zmesh::Actor {
//    public:
//     struct Params { double lr = 0.1; MSGPACK_DEFINE(lr); };
//     explicit Trainer(const Params& p) : lr_(p.lr) {}
//     Loss step(zmesh::Context& ctx, const Step& s);   // answers calls and reduces
//     void stop_early(const Halt&);                     // casts only
//     using Handlers = zmesh::Handlers<&Trainer::step, &Trainer::stop_early>;
//   };
// `Handlers` lets an ActorMesh<Trainer> check at compile time that Trainer handles what it
// is sent, and gives calls their reply type. Handlers can also be added at run time with
// on<M>(callable) in the constructor (not checked at compile time).
// Thread: an actor's members are only touched by whichever pool thread runs its turn; the
// runtime guarantees one turn at a time, so actors need no locks of their own.
// Failure: an exception from a handler or hook fails the actor (see supervision.hpp).

#include "zmesh/core/envelope.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/message.hpp"
#include "zmesh/core/reply.hpp"
#include "zmesh/core/supervision.hpp"

#include <functional>
#include <memory>
#include <type_traits>
#include <string>
#include <string_view>
#include <unordered_map>

namespace zmesh {

class Context;

// What a member function handler takes and returns:
// Reply (A::*)(Context&, const M&) or Reply (A::*)(const M&), Reply possibly void.
template <class F>
struct HandlerTraits;
template <class A, class R, class M>
struct HandlerTraits<R (A::*)(Context&, const M&)> {
  using ActorType = A;
  using MessageType = M;
  using Return = R;
};
template <class A, class R, class M>
struct HandlerTraits<R (A::*)(const M&)> {
  using ActorType = A;
  using MessageType = M;
  using Return = R;
};

namespace internal {
template <class M, class... Traits>
struct ReturnFor {
  static constexpr bool found = false;
  using type = void;
};
template <class M, class First, class... Rest>
struct ReturnFor<M, First, Rest...>
    : std::conditional_t<std::is_same_v<typename First::MessageType, M>,
                         ReturnFor<void, First>, ReturnFor<M, Rest...>> {};
template <class First>
struct ReturnFor<void, First> {
  static constexpr bool found = true;
  using type = typename First::Return;
};
}  // namespace internal

// The handlers of an actor type, as member function pointers (see the example above).
template <auto... Fns>
struct Handlers {
  // Whether one of them takes M.
  template <class M>
  static constexpr bool handles =
      internal::ReturnFor<M, HandlerTraits<decltype(Fns)>...>::found;
  // What the handler of M returns.
  template <class M>
  using return_for = typename internal::ReturnFor<M, HandlerTraits<decltype(Fns)>...>::type;
};

// An actor type that lists its handlers.
template <class A>
concept DeclaresHandlers = requires { typename A::Handlers; };
// Actor type A has a handler for message M.
template <class A, class M>
concept Handles = DeclaresHandlers<A> && A::Handlers::template handles<M>;
// What A's handler of M answers (void: nothing, or no such handler).
template <class A, class M>
struct ReplyTypeOf {
  using type = void;
};
template <class A, class M>
  requires Handles<A, M>
struct ReplyTypeOf<A, M> {
  using type = reply_of_t<typename A::Handlers::template return_for<M>>;
};
template <class A, class M>
using reply_type_t = typename ReplyTypeOf<A, M>::type;

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
  bool never_blocks() const { return never_blocks_; }
  bool has_handlers() const { return !handlers_.empty(); }

  // Registers every handler of `Handlers` (make_actor does it for actors that list them).
  template <auto... Fns>
  void add_handlers(Handlers<Fns...>) {
    (on(Fns), ...);
  }

 protected:
  // Registers a member function handler: Reply (Self::*)(Context&, const M&) or (const M&).
  template <Message M, class Self, class R>
  void on(R (Self::*handler)(Context&, const M&)) {
    Self* self = static_cast<Self*>(this);
    on<M>([self, handler](Context& ctx, const M& message) -> R { return (self->*handler)(ctx, message); });
  }
  template <Message M, class Self, class R>
  void on(R (Self::*handler)(const M&)) {
    Self* self = static_cast<Self*>(this);
    on<M>([self, handler](Context&, const M& message) -> R { return (self->*handler)(message); });
  }
  // Registers `handler(ctx, const M&)`, any callable; what it returns is the reply.
  template <Message M, class Callable>
    requires std::invocable<Callable, Context&, const M&>
  void on(Callable handler) {
    on_raw(std::string(message_name<M>()),
           [handler = std::move(handler)](Context& ctx, Envelope& envelope) -> Result<void> {
             // All the frames: bulk fields (bytes.hpp) share theirs, read in place.
             auto message = decode<M>(envelope.payload);
             if (!message) return std::move(message).error();
             using R = std::invoke_result_t<Callable&, Context&, const M&>;
             if constexpr (std::is_void_v<R>) {
               handler(ctx, *message);
             } else if constexpr (std::is_same_v<std::remove_cvref_t<R>, Result<void>>) {
               if (auto done = handler(ctx, *message); !done) internal::send_reply_error(ctx, done.error());
             } else if constexpr (!std::is_same_v<std::remove_cvref_t<R>, reply_of_t<R>>) {
               auto answer = handler(ctx, *message);
               if (answer) {
                 internal::send_reply(ctx, encode_value_frames(*answer));
               } else {
                 internal::send_reply_error(ctx, answer.error());
               }
             } else {
               internal::send_reply(ctx, encode_value_frames(handler(ctx, *message)));
             }
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
  // Looked up by the envelope's type name as a string_view, without building a string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };
  std::unordered_map<std::string, RawHandler, NameHash, std::equal_to<>> handlers_;
  bool never_blocks_ = false;
};

// Constructs an actor of type A and registers the handlers it lists.
template <class A, class... Args>
std::unique_ptr<A> make_actor(Args&&... args) {
  auto actor = std::make_unique<A>(std::forward<Args>(args)...);
  if constexpr (DeclaresHandlers<A>) actor->add_handlers(typename A::Handlers{});
  return actor;
}

}  // namespace zmesh
