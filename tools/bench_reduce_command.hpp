#pragma once
// `zmesh bench reduce` and `zmesh bench allreduce`: a training step over N procs, one step
// in flight. reduce: every proc's BenchReducer replies a float tensor of the payload size
// and the client gets their element-wise sum, by reduce<Sum> (folded in the comm tree) and
// by call() with the sum done on the client; allreduce: allreduce<Sum> hands the sum back to
// every actor, which reads every element. Each next to the same work on raw ZeroMQ in the
// same run (a ROUTER, N receiver processes: gather and sum, then broadcast the sum and wait
// for N acks), printing zmesh / raw. Also the hidden `zmesh bench-reduce-peer`, the raw
// receiver process.
// Thread: runs on the caller's thread (plus the mesh's and ZeroMQ's own threads).
// Failure: bad options print the problem and a hint on `err` and return 2; a failed run 1.

#include <iosfwd>
#include <span>
#include <string>

namespace zmesh::tools {

enum class ReduceBench { reduce, allreduce };

// `args` are the words after "bench reduce" or "bench allreduce"; returns the exit code.
int run_bench_reduce(ReduceBench bench, std::span<const std::string> args, std::ostream& out,
                     std::ostream& err);
// `args`: ADDRESS RANK. A raw ZeroMQ receiver for `zmesh bench reduce` and `allreduce`.
int run_bench_reduce_peer_command(std::span<const std::string> args, std::ostream& out,
                                  std::ostream& err);

}  // namespace zmesh::tools
