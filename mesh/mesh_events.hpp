#pragma once
// What a mesh client is told about its procs and actors. One ProcEvent per proc that
// stops, crashes or goes silent (never one per actor of it), and one per actor failure;
// ActorEvents for each actor of an actor mesh that fails, stops, or could not be reached.
// Thread: value types.

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/core/supervision.hpp"

#include <cstdint>
#include <string>

namespace zmesh {

struct ProcEvent {
  enum class Kind : std::uint8_t {
    stopped,       // stopped on request
    crashed,       // exited, was killed, or its host was lost: see `reason`
    unresponsive,  // no heartbeat within the deadline (it may still recover)
    actor_failed,  // an actor on the proc failed (its actor mesh, if any, is told too)
  };
  Kind kind = Kind::stopped;
  std::uint32_t rank = 0;
  std::string point;   // "host=1/2,gpu=3/4"
  StopReason reason;   // for stopped and crashed
  std::string detail;  // for unresponsive and actor_failed

  // "rank 3 (host=0/2,gpu=3/4) crashed: killed by signal 9 (SIGKILL)"
  std::string describe() const;
};
std::string_view to_string(ProcEvent::Kind kind) noexcept;

struct ActorEvent {
  std::uint32_t rank = 0;  // rank in the mesh's base shape
  std::string point;
  SupervisionEvent event;

  std::string describe() const;
};

}  // namespace zmesh
