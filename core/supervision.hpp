#pragma once
// Actor lifecycle states and supervision events: the record that an actor failed or
// stopped (or that a message of ours was undeliverable), with the reason, sent to
// whoever owns it: the parent actor, then the proc, then the mesh owner.
// Thread: value types.

#include "zmesh/core/ids.hpp"
#include "zmesh/core/message.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace zmesh {

// created -> initializing -> idle <-> processing -> stopping -> stopped | failed
enum class ActorStatus : std::uint8_t {
  created,
  initializing,
  idle,
  processing,
  stopping,
  stopped,
  failed,
};
std::string_view to_string(ActorStatus status) noexcept;
inline bool is_terminal(ActorStatus status) {
  return status == ActorStatus::stopped || status == ActorStatus::failed;
}

enum class SupervisionKind : std::uint8_t {
  actor_failed,    // a handler (or a hook) threw; `message_type` names the message
  actor_stopped,   // stopped on request or because its parent stopped
  undeliverable,   // a message sent by a non-actor sender (a client mailbox) came back
};
std::string_view to_string(SupervisionKind kind) noexcept;

struct SupervisionEvent {
  ZMESH_MESSAGE("zmesh.SupervisionEvent");
  SupervisionKind kind = SupervisionKind::actor_failed;
  ActorId actor;
  std::string message_type;  // the message being handled when it failed ("" if none)
  std::string reason;
  std::int64_t unix_time_ns = 0;  // when it happened, by the proc's system clock

  // "train[3].worker[0] failed handling app.Step: division by zero"
  std::string describe() const;
  MSGPACK_DEFINE(kind, actor, message_type, reason, unix_time_ns);
};

// The current system time in the form events carry.
std::int64_t unix_time_now_ns();

}  // namespace zmesh

MSGPACK_ADD_ENUM(zmesh::ActorStatus);
MSGPACK_ADD_ENUM(zmesh::SupervisionKind);
