#pragma once
// LocalAllocator: procs as threads of this process. Fast to start (a thousand procs in a
// few seconds), no sockets between procs (a LocalNetwork), one shared Scheduler, and the
// same agent, event log and supervision PUB channel (over inproc://) as real procs, so
// meshes behave the same on it. Used by tests and for large in-process meshes.
// Thread: see Alloc. A housekeeping thread publishes heartbeats and ends stopped procs.

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/transport/runtime.hpp"

#include <memory>

namespace zmesh {

class LocalAllocator {
 public:
  // Starts every proc of `spec` (all in this process) and returns their event stream.
  static Result<std::unique_ptr<Alloc>> allocate(Runtime& runtime, AllocSpec spec,
                                                 std::shared_ptr<const Registry> registry);
};

}  // namespace zmesh
