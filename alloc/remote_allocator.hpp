#pragma once
// RemoteAllocator: procs on other hosts, started by the zmesh-launcher of each host. The
// first dimension of the spec maps to hosts (element i on hosts[i]); each launcher starts
// the rest of its slice (e.g. {host=3,gpu=2}: two procs per host). Procs bootstrap to this
// client directly over tcp (hello/start/started, as process-allocated procs do), so the
// Alloc event stream is the same as ProcessAllocator's and ProcMesh works unchanged.
// Leases both ways: this client and every launcher heartbeat each other. A launcher that
// falls silent past Config::heartbeat_timeout is a lost host: each of its procs is reported
// once as stopped(host_lost) and messages to them come back at once; its procs die with it
// (parent-death signal). A client that falls silent is reaped by the launchers.
// Thread: see Alloc. One I/O thread owns the launcher sockets; one allocator thread handles
// bootstrap and proc heartbeats.
// Failure: allocate() fails at once for a bad spec or options (naming them); a launcher that
// refuses (missing executable, too many procs, ...) ends the stream with AllocFailed naming
// the host and its reason. Plain tcp for now (CURVE keys come next; see docs/launcher.md).

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/alloc/host_list.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/transport/runtime.hpp"

#include <memory>
#include <string>
#include <vector>

namespace zmesh {

struct RemoteAllocatorOptions {
  // The launchers; at least as many as the spec's first dimension (the first ones are used).
  std::vector<HostEntry> hosts;
  // The program each proc runs, an absolute path valid on every host; empty: this binary.
  std::string executable;
  std::vector<std::string> args;
  // Variables passed to the procs besides every ZMESH_* variable of this process.
  std::vector<std::string> environment_names;
  // The address the procs use to reach this client (an IP of this host they can route
  // to); empty: the local address this host uses to reach the first launcher.
  std::string client_host;
  // Proc output goes to this process's stdout/stderr as "[rank] line".
  bool forward_output = true;
};

class RemoteAllocator {
 public:
  // Asks each launcher for its share and returns the event stream at once. The transport
  // must be tcp; no constraints are known yet.
  static Result<std::unique_ptr<Alloc>> allocate(Runtime& runtime, AllocSpec spec,
                                                 std::shared_ptr<const Registry> registry,
                                                 RemoteAllocatorOptions options);
};

}  // namespace zmesh
