#pragma once
// CastRouter: the seam between ActorMesh (mesh/) and the comm tree (comm/, the layer above).
// Every cast, call and reduce of an ActorMesh travels the comm tree. mesh/ never includes
// comm/: the comm layer puts a CastTree in the registry (zmesh::init does it, see
// comm/init.hpp), and ProcMesh::allocate starts the tree's actor on every proc and asks the
// CastTree for the client's half, the root (a CastRouter). A registry without a CastTree
// fails the allocation with an error saying what to call.
// Thread: a router is called from any client thread at once; implementations are thread-safe.
// Failure: send() waits for room in the links (flow control) until its room deadline and
// then fails with backpressure (or too_large), having told the ranks it did not reach to
// stop waiting for that cast; what cannot be delivered later comes back to the mesh's
// mailbox as undeliverable, like a direct send. finish() and the notices (rank_failed,
// proc_lost, mesh_stopped) never block and never fail.

#include "zmesh/core/envelope.hpp"
#include "zmesh/core/frame.hpp"
#include "zmesh/mesh/reducer.hpp"
#include "zmesh/mesh/shape.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh {

namespace internal {
class MeshState;
}

// The comm actor every proc runs: its name on each proc.
inline constexpr std::string_view comm_actor_name = "comm";

// One cast, planned by an ActorMesh: what the router must deliver.
struct CastOrder {
  std::string_view mesh_name;  // the actor mesh (its actors' name)
  const Shape& shape;          // the cast's shape (a slice's view for a slice)
  std::uint64_t cast_id = 0;
  const std::vector<std::uint32_t>& ranks;  // live base ranks chosen, ascending
  std::string_view type_name;               // the message type; selects the handler
  const Frames& payload;                    // the encoded message, shared, never copied
  bool tracked = false;                     // finish() will be called for this cast
  const Headers* headers = nullptr;         // extra header entries for every delivery
  std::uint32_t fanout = 0;                 // children per tree node; 0: Config::cast_fanout
};

// A reduce's outcome at the root: the folded value's frames (none when no rank replied),
// how many ranks it folds, and every chosen rank that gave nothing (by rank of the cast's
// shape) and why.
struct Folded {
  std::optional<Frames> value;
  std::uint64_t contributors = 0;
  std::map<std::uint32_t, Error> missing;
};

class CastRouter {
 public:
  virtual ~CastRouter() = default;
  // Sends one cast down the tree. Per (client, actor) FIFO order holds across casts.
  virtual Result<void> send(const CastOrder& order, Deadline room_deadline) = 0;
  // A tracked cast is over; `unanswered` (base ranks) may never have received it, so the
  // router lets later casts to them stop waiting for it.
  virtual void finish(std::uint64_t cast_id, const std::vector<std::uint32_t>& unanswered) = 0;
  // During tracked cast `cast_id` (a call gathering on `reply_to`), base rank `rank` can no
  // longer answer. If its proc died, the ranks it relayed the cast to that never got it
  // answer `reply_to` at once with why, instead of letting the call wait for its deadline.
  virtual void rank_failed(std::uint64_t cast_id, std::uint32_t rank, const PortId& reply_to) = 0;
  // The proc at base rank `rank` died: casts it was relaying may be lost.
  virtual void proc_lost(std::uint32_t rank) = 0;
  // The actors of `mesh_name` stopped: its stream state can go.
  virtual void mesh_stopped(std::string_view mesh_name) = 0;
  // Casts `order` (whose ranks are live), folding the replies with `ops` on the way up;
  // `skipped` are ranks of the cast's shape left out because their proc is known dead.
  // Returns by `deadline`; fails only on a bad request.
  virtual Result<Folded> reduce(const CastOrder& order, const ReducerOps& ops,
                                const std::map<std::uint32_t, Error>& skipped,
                                Deadline deadline) = 0;
};

// The comm tree as the layers below see it: the actor type every proc runs as "comm", and
// the client's half for one ProcMesh.
class CastTree {
 public:
  virtual ~CastTree() = default;
  // The registered type name of the comm actor.
  virtual std::string_view actor_type() const = 0;
  // The client's half of the tree for one ProcMesh; `state` outlives it.
  virtual std::shared_ptr<CastRouter> make_router(internal::MeshState& state) const = 0;
};

}  // namespace zmesh
