#pragma once
// `zmesh bench cast`: casts to every actor of a mesh and waits for every reply, with 1 and
// K casts in flight, over N procs x payload sizes; and the same work with raw ZeroMQ (a
// client ROUTER sending the payload to N receiver processes, each answering 8 bytes) in the
// same run, printing zmesh / raw for each row. Also the hidden `zmesh bench-peer`, the raw
// receiver process. `zmesh bench reduce` and `allreduce` are bench_reduce_command.hpp's;
// run_bench_command dispatches to them.
// Thread: runs on the caller's thread (plus the mesh's and ZeroMQ's own threads).
// Failure: bad options print the problem and a hint on `err` and return 2; a failed run 1.

#include <iosfwd>
#include <span>
#include <string>

namespace zmesh::tools {

// `args` are the words after "bench"; returns the process exit code.
int run_bench_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `args`: ADDRESS RANK. A raw ZeroMQ receiver for `zmesh bench cast`.
int run_bench_peer_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);

}  // namespace zmesh::tools
