#pragma once
// MeshEvent: what a ProcMesh tells its owner, on one stream (ProcMesh::next_event) that one
// consumer waits on: procs that crashed or went silent, actors that failed or stopped on
// their own, messages that came back. Each happening is one event: a proc's death is one
// proc_crashed (not also one per actor on it), an actor's failure one actor_failed. What
// the owner asked for itself (ProcMesh::stop, ActorMesh::stop) makes no events; the call
// returns when it is done.
// Thread: value types.

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/core/supervision.hpp"

#include <cstdint>
#include <string>

namespace zmesh {

struct MeshEvent {
  enum class Kind : std::uint8_t {
    proc_crashed,       // the proc exited, was killed, or its host was lost: see `reason`
    proc_unresponsive,  // no heartbeat within the deadline (it may still recover)
    actor_failed,       // an actor threw, or could not start: later casts skip its rank
    actor_stopped,      // an actor stopped itself (Context::stop_self)
    undeliverable,      // a message to an actor came back: see `detail`
  };
  Kind kind = Kind::proc_crashed;
  std::uint32_t rank = 0;  // the mesh rank of the proc
  std::string point;       // "host=1/2,gpu=3/4"
  std::string actor;       // the actor (its actor mesh's name); empty for proc events
  StopReason reason;       // for proc_crashed
  std::string detail;      // for the others: what happened, in words

  bool about_proc() const { return kind == Kind::proc_crashed || kind == Kind::proc_unresponsive; }
  // "rank 3 (host=0/2,gpu=3/4) crashed: killed by signal 9 (SIGKILL)"
  std::string describe() const;
};
std::string_view to_string(MeshEvent::Kind kind) noexcept;

}  // namespace zmesh
