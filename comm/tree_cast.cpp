#include "zmesh/comm/tree_cast.hpp"

namespace zmesh::comm {

Error internal::no_tree(const ActorMeshBase& mesh) {
  return Error(ErrorCode::not_found,
               fmt::format("actor mesh \"{}\" has no comm tree: its procs run no comm actor; "
                           "register it with zmesh::comm::add_comm_actor(registry) in the "
                           "registry given to zmesh::init and to the allocator",
                           mesh.name()));
}

Result<std::map<std::uint32_t, Result<CommStats>>> tree_stats(const ActorMeshBase& mesh,
                                                              Deadline deadline) {
  TreeRouter* tree = TreeRouter::of(mesh);
  if (tree == nullptr) return internal::no_tree(mesh);
  return tree->stats(deadline);
}

}  // namespace zmesh::comm
