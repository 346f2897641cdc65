#pragma once
// The comm tree's wire messages. Down the tree: Cast (a control frame, then the cast's payload
// frames, shared and never re-encoded). Up the tree: an actor's returned reply to its own
// proc's comm actor, tagged with a Contribution (which cast and rank), and Partial (a comm
// actor's folded subtree, to its parent or the client).
// From the client: SlotLost (a part of a reduction will never report), SkipCasts (a cast will
// never arrive), Unreached (a call's cast may be lost with a dead relay: skip it if it has
// not come, and answer for the actor), CloseGeneration (the client's stream counters start
// afresh: cast_sequencer.hpp) and ProcLost (a proc died: gaps it may cause are given up
// soon). Each names its stream (origin, actor) and cast id where it has one, so a failure
// anywhere in the tree is attributed to the right mesh and cast. (Stats: comm_stats.hpp.)
// Thread: value types.

#include "zmesh/core/bytes.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/message.hpp"
#include "zmesh/core/port.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace zmesh::comm::internal {

// Consecutive base ranks first .. first+count-1; each is this cast's `counter`-th cast of its
// stream, so that its comm actor delivers the stream's casts in the client's order.
struct RankRun {
  std::uint32_t first = 0;
  std::uint32_t count = 0;
  std::uint64_t counter = 0;
  friend bool operator==(const RankRun&, const RankRun&) = default;
  MSGPACK_DEFINE(first, count, counter);
};

// How the replies of a cast fold on their way up.
struct ReduceSpec {
  std::string reducer;          // registered reducer name (reducer.hpp)
  PortId reply_to;              // where this node sends its Partial: parent comm actor or client
  std::uint32_t budget_ms = 0;  // this node sends its Partial at the latest this long after receipt
  std::uint32_t margin_ms = 0;  // its children's budget is this much smaller
  MSGPACK_DEFINE(reducer, reply_to, budget_ms, margin_ms);
};

// Frame 0 of a Cast envelope; frames 1.. are the payload.
struct CastControl {
  ZMESH_MESSAGE("zmesh.comm.Cast");
  std::string mesh;  // "<world>/<actor mesh>": for logs and errors
  std::uint64_t cast_id = 0;
  ActorId origin;         // who cast: the stream is (origin, actor)
  std::string actor;      // the destination actors' name
  std::string type_name;  // the payload's message type: selects the handler
  std::string shape;      // the cast's (view) shape, as Shape text
  std::uint32_t fanout = 0;
  std::uint64_t generation = 0;  // of the origin's stream counters the runs' counters are in
  std::vector<RankRun> ranks;    // the receiver's subtree, ascending, the receiver first
  std::map<std::string, std::string> headers;  // encoded header entries for each delivery
  bool reduce = false;
  ReduceSpec reduction;  // when `reduce`
  MSGPACK_DEFINE(mesh, cast_id, origin, actor, type_name, shape, fanout, generation, ranks,
                 headers, reduce, reduction);
};
// CastControl's MSGPACK_DEFINE: 8 fields, then ranks, then 3 more.
inline constexpr std::uint32_t cast_control_fields = 12;

// View ranks first .. first+count-1 that gave no reply, and why.
struct MissingRun {
  std::uint32_t first = 0;
  std::uint32_t count = 0;
  Error reason;
  MSGPACK_DEFINE(first, count, reason);
};

// Which reducing cast and rank a reply answers: the tag of the reply route a comm actor puts
// in its local deliveries (`value` stays empty there: the reply's payload is the value).
struct Contribution {
  ZMESH_MESSAGE("zmesh.comm.Contribution");
  ActorId origin;
  std::string actor;
  std::uint64_t cast_id = 0;
  std::uint32_t rank = 0;  // the replying actor's rank in the cast's shape
  std::string value;       // msgpack of the reducer's input
  MSGPACK_DEFINE(origin, actor, cast_id, rank, value);
};

// A subtree's folded replies: one message up per node and cast.
struct Partial {
  ZMESH_MESSAGE("zmesh.comm.Partial");
  ActorId origin;
  std::string actor;
  std::uint64_t cast_id = 0;
  std::uint32_t from = 0;  // base rank of the node that folded it
  bool has_value = false;
  // The accumulator's frames, when has_value: its msgpack body, then its bulk frames (a
  // tensor's elements), each sent as a frame of its own (a Bytes field), never re-encoded.
  std::vector<Bytes> value;
  std::uint64_t contributors = 0;
  std::vector<MissingRun> missing;
  MSGPACK_DEFINE(origin, actor, cast_id, from, has_value, value, contributors, missing);
};

// From the client: a part of a node's reduction will never report: its own actor (`part` is
// the node's rank) or the subtree of its child `part`.
struct SlotLost {
  ZMESH_MESSAGE("zmesh.comm.SlotLost");
  ActorId origin;
  std::string actor;
  std::uint64_t cast_id = 0;
  std::uint32_t part = 0;
  Error reason;
  MSGPACK_DEFINE(origin, actor, cast_id, part, reason);
};

// From the client: these casts of the stream were given up for the receiving proc (its
// relay died, or the cast's reply never came); do not wait for them.
struct SkipCasts {
  ZMESH_MESSAGE("zmesh.comm.SkipCasts");
  ActorId origin;
  std::string actor;
  std::uint64_t generation = 0;
  std::vector<std::uint64_t> counters;
  MSGPACK_DEFINE(origin, actor, generation, counters);
};

// From the client, during a call whose cast went through a relay that died: if cast `counter`
// has not reached the receiver, it never will (it is skipped), and the receiver answers the
// call's `reply_to` for its actor with `reason`; if it has, the actor's own reply comes.
struct Unreached {
  ZMESH_MESSAGE("zmesh.comm.Unreached");
  ActorId origin;
  std::string actor;
  std::uint64_t generation = 0;
  std::uint64_t counter = 0;
  PortId reply_to;
  Error reason;
  MSGPACK_DEFINE(origin, actor, generation, counter, reply_to, reason);
};

// From the client to every live proc: the origin's stream counters of `generation` end; `last`
// holds, per actor, the last counter it sent this proc in that generation (none: no cast).
// The next generation's counters start at 1 again (cast_sequencer.hpp).
struct CloseGeneration {
  ZMESH_MESSAGE("zmesh.comm.CloseGeneration");
  ActorId origin;
  std::uint64_t generation = 0;
  std::map<std::string, std::uint64_t> last;
  MSGPACK_DEFINE(origin, generation, last);
};

// From the client to every live proc once it learns that proc `rank` died: casts of
// `generation` up to `upto` (per actor; and all casts of earlier generations) were sent before
// the death was known and may have been lost with it, so a gap among them is given up after a
// short grace instead of the delivery timeout.
struct ProcLost {
  ZMESH_MESSAGE("zmesh.comm.ProcLost");
  ActorId origin;
  std::uint32_t rank = 0;
  std::uint64_t generation = 0;
  std::map<std::string, std::uint64_t> upto;
  MSGPACK_DEFINE(origin, rank, generation, upto);
};

// Raised by the comm actor's timer (the shared TimerService): flush what is due.
struct Wake {
  ZMESH_MESSAGE("zmesh.comm.Wake");
  MSGPACK_DEFINE();
};

}  // namespace zmesh::comm::internal
