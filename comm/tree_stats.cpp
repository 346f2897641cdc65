#include "zmesh/comm/tree_stats.hpp"

#include "zmesh/comm/internal/tree_router.hpp"

namespace zmesh::comm {

std::map<std::uint32_t, Result<CommStats>> tree_stats(const ActorMeshBase& mesh, Deadline deadline) {
  return TreeRouter::of(mesh).stats(deadline);
}

std::size_t tracked_casts(const ActorMeshBase& mesh) { return TreeRouter::of(mesh).tracked(); }

std::size_t client_streams(const ActorMeshBase& mesh) { return TreeRouter::of(mesh).streams(); }

}  // namespace zmesh::comm
