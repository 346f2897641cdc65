#pragma once
// What the comm tree holds, for diagnostics and tests: each proc's comm actor counters, and
// the casts the client still tracks (calls and reduces in progress).
//   auto stats = zmesh::comm::tree_stats(workers, zmesh::deadline_in(5s)).value();
//   // stats[rank]: that proc's CommStats, or why it did not answer
// Thread: thread-safe; blocks until every live proc answered or the deadline passed.

#include "zmesh/comm/comm_stats.hpp"
#include "zmesh/mesh/actor_mesh.hpp"

#include <cstddef>
#include <map>

namespace zmesh::comm {

// Every live proc's comm actor counters, by mesh rank; an error for a proc that did not
// answer by `deadline`.
std::map<std::uint32_t, Result<CommStats>> tree_stats(const ActorMeshBase& mesh, Deadline deadline);

// Casts the client's half of the tree is waiting to see finished (calls and reduces in
// progress): per-cast state held on the client.
std::size_t tracked_casts(const ActorMeshBase& mesh);

// Cast streams (actor meshes) the client holds counters for; they go when idle (or stopped),
// and each proc's share shows in CommStats::streams.
std::size_t client_streams(const ActorMeshBase& mesh);

}  // namespace zmesh::comm
