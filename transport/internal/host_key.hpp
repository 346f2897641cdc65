#pragma once
// host_key: which procs can map each other's shared memory. Two procs share a "host" when
// they run under one kernel boot, in one pid namespace (a descriptor names the sender by
// pid), in one network namespace (the project's netns "hosts" emulate separate machines and
// keep getting bytes over tcp) and as one user (opening another proc's fd needs that).
// Thread: free function; the derived key is read once per process and never changes.
// Failure: a /proc file that cannot be read gives an empty key, which matches nobody's, so
// shared memory is simply not used.

#include "zmesh/core/config.hpp"

#include <string>

namespace zmesh::internal {

// config.host_key (ZMESH_HOST_KEY) when set, else "<boot id>/<pid ns>/<net ns>/<uid>".
std::string host_key(const Config& config);

}  // namespace zmesh::internal
