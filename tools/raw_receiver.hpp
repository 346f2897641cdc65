#pragma once
// The raw ZeroMQ twin's receiver for `zmesh bench cast`: a DEALER that says hello to the
// bench's ROUTER, then answers each [seq][payload] with [seq] (8 bytes), until a lone frame
// or the end of its context. Run by `zmesh bench-peer` (local procs), by a thread (inproc),
// or by a RawPeer actor's thread in a proc on another host (`--hosts`).
// Thread: blocks the calling thread; `context.shutdown()` from another thread ends it.

#include <cstdint>
#include <optional>
#include <string>

#include <zmq.hpp>

namespace zmesh::tools {

// `rank`, when given, names the receiver ("r<rank>"); else the ROUTER picks an identity.
void run_raw_receiver(zmq::context_t& context, const std::string& address, std::optional<std::uint32_t> rank);

}  // namespace zmesh::tools
