#pragma once
// ProcessAllocator: procs as child processes on this host, running the same binary (whose
// main calls zmesh::init first). Each child gets its proc id and the client's address in
// ZMESH_BOOTSTRAP_* variables, says hello, is started (start -> started proves both
// directions work), and is then watched: heartbeats both ways, exit monitoring with precise
// reasons, stop = ask, then SIGTERM, then SIGKILL. Children die with their parent (parent-
// death signal) and exit when their client falls silent; a dead proc is never respawned.
// Thread: see Alloc. One allocator thread handles bootstrap, heartbeats and stop escalation;
// the ChildProcessGroup's monitor thread reports exits.

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/transport/runtime.hpp"

#include <memory>
#include <string>
#include <vector>

namespace zmesh {

struct ProcessAllocatorOptions {
  // The program each child runs; empty: this very binary (/proc/self/exe).
  std::string executable;
  std::vector<std::string> args;
};

class ProcessAllocator {
 public:
  // Starts one child per point of `spec` and returns the event stream at once; the procs
  // report running as they come up. Transport: ipc (default) or tcp (constraint
  // "bind_host", default 127.0.0.1); inproc cannot cross processes and is refused.
  static Result<std::unique_ptr<Alloc>> allocate(Runtime& runtime, AllocSpec spec,
                                                 std::shared_ptr<const Registry> registry,
                                                 ProcessAllocatorOptions options = {});
};

}  // namespace zmesh
