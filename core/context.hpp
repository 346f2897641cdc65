#pragma once
// Context: what a handler can see and do during its actor's turn: who it is, the message
// being handled (sender, headers), sending, reply ports, child actors, stopping itself.
// Thread: valid only on the actor's own turn (inside handlers and hooks).

#include "zmesh/core/registry.hpp"
#include "zmesh/core/sender.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace zmesh {

namespace internal {
class ActorCell;
}

class Context : public Sender {
 public:
  // -- the message being handled (empty outside a handler) --
  const Envelope* current() const { return current_; }
  // The actor or mailbox that sent the current message.
  const ActorId& sender() const;
  const Headers& headers() const;

  // -- where this actor runs --
  // The mesh rank of its proc: 0 .. mesh size - 1 (the rank every result and event names).
  std::uint32_t rank() const { return self().proc.rank; }
  // Its proc's index along dimension `label` of the mesh's shape ("gpu"), or nothing when
  // the shape has no such dimension (or the proc is in no mesh).
  std::optional<std::uint32_t> coordinate(std::string_view label) const;
  // Its proc's point in the mesh's shape: "host=1/2,gpu=3/4" ("rank N" outside a mesh).
  std::string point() const;

  // -- children --
  // Spawns a child actor; it stops when this actor stops or fails, and its supervision
  // events come to on_child_event(). Errors: a bad name, or init() threw.
  template <SpawnableActor A>
  Result<ActorId> spawn_child(std::string name, const params_t<A>& params = {}) {
    return spawn_child_actor(std::move(name), construct_actor<A>(params));
  }
  Result<ActorId> spawn_child_actor(std::string name, std::unique_ptr<Actor> actor);

  // Stops this actor after the current message (messages already queued are dropped
  // back to their senders as undeliverable).
  void stop_self();

 private:
  friend class internal::ActorCell;
  Context(Proc& proc, ActorId self, internal::ActorCell& cell) : Sender(proc, std::move(self)), cell_(&cell) {}

  internal::ActorCell* cell_;
  const Envelope* current_ = nullptr;
};

}  // namespace zmesh
