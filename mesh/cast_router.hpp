#pragma once
// CastRouter: the seam between ActorMesh (mesh/) and the comm tree (comm/, the layer above):
// an ActorMesh hands every cast it has planned to the router of its ProcMesh, if one is
// installed, and sends directly from the client otherwise. mesh/ never includes comm/.
// How comm/ plugs in: through the registry, the one thing a client and its procs share. The
// actor type registered under comm_actor_type (comm::add_comm_actor) is spawned as "comm" on
// every proc by ProcMesh::allocate, and also implements CastRouterFactory, which gives the
// client its half of the tree (the root). Without that registration casts stay direct.
// Thread: a router is called from any client thread at once; implementations are thread-safe.
// Failure: send() waits for room in the links (flow control) until its room deadline and
// then fails with backpressure (or too_large), having told the ranks it did not reach to
// stop waiting for that cast; what cannot be delivered later comes back to the mesh's
// mailbox as undeliverable, like a direct send. finish() never blocks and never fails.

#include "zmesh/core/frame.hpp"
#include "zmesh/mesh/shape.hpp"

#include <msgpack.hpp>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace zmesh {

namespace internal {
class MeshState;
}

// The comm actor every proc runs, and the registered name of its type.
inline constexpr std::string_view comm_actor_name = "comm";
inline constexpr std::string_view comm_actor_type = "zmesh_comm";

// The comm actor's spawn parameters: none (everything it needs travels with each cast).
struct CommActorParams {
  MSGPACK_DEFINE();
};

// One cast, planned by ActorMesh::plan_cast: what the router must deliver.
struct CastOrder {
  std::string_view mesh_name;  // the actor mesh (its actors' name)
  const Shape& shape;          // the cast's shape (a slice's view for a slice)
  std::uint64_t cast_id = 0;
  const std::vector<std::uint32_t>& ranks;  // live base ranks chosen, ascending
  std::string_view type_name;               // the message type; selects the handler
  const Frames& payload;                    // the encoded message, shared, never copied
  bool tracked = false;                     // finish() will be called for this cast
};

class CastRouter {
 public:
  virtual ~CastRouter() = default;
  // Sends one cast down the tree. Per (client, actor) FIFO order holds across casts.
  virtual Result<void> send(const CastOrder& order, Deadline room_deadline) = 0;
  // A tracked cast is over; `unanswered` (base ranks) may never have received it, so the
  // router lets later casts to them stop waiting for it.
  virtual void finish(std::uint64_t cast_id, const std::vector<std::uint32_t>& unanswered) = 0;
};

class CastRouterFactory {
 public:
  virtual ~CastRouterFactory() = default;
  // The client half of the tree for one ProcMesh; `state` outlives it.
  virtual std::shared_ptr<CastRouter> make_router(internal::MeshState& state) = 0;
};

}  // namespace zmesh
