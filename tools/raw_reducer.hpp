#pragma once
// The raw ZeroMQ twin's receiver for `zmesh bench reduce` and `zmesh bench allreduce`: a
// DEALER (raw_receiver_socket) that says hello to the bench's ROUTER, then
//   [seq][floats: u64]         -> replies [seq][its gradient: floats * 4 bytes]
//   [seq][floats: u64][sum]    -> reads every element of sum, replies [seq][8 bytes]
// until a lone frame or the end of its context. The gradient and the reading are
// bench_reduce_actors.hpp's, the work BenchReducer does. Run by `zmesh bench-reduce-peer`
// (ipc, tcp) or by a thread (inproc).
// Thread: run the loop on one thread; `context.shutdown()` from another ends it.

#include <cstdint>

#include <zmq.hpp>

namespace zmesh::tools {

// Says hello, then answers until a lone frame or ETERM. `rank` makes its gradient.
void run_raw_reducer(zmq::socket_t& dealer, std::uint32_t rank);

}  // namespace zmesh::tools
