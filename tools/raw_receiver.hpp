#pragma once
// The raw ZeroMQ twin's receiver for `zmesh bench cast`: a DEALER that says hello to the
// bench's ROUTER, then reads every byte of each [seq][payload] and answers with [seq] (8
// bytes), until a lone frame or the end of its context. Over tcp it pays for CURVE as zmesh does (same key pair). Run
// by `zmesh bench-peer` (local procs), by a thread (inproc), or by a RawPeer actor's thread
// in a proc on another host (`--hosts`).
// Thread: make the socket on any thread, then run the loop on one; `context.shutdown()`
// from another thread ends it.

#include "zmesh/core/config.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <zmq.hpp>

namespace zmesh::tools {

// A DEALER connected to `address`, secured as `config` says. `rank`, when given, names it
// ("r<rank>"); else the ROUTER picks an identity.
Result<zmq::socket_t> raw_receiver_socket(zmq::context_t& context, const std::string& address,
                                          std::optional<std::uint32_t> rank, const Config& config);

// Reads every byte of [data, data + size) (a sum of 64-bit words the compiler cannot drop):
// what every bench receiver, zmesh or raw, does with each payload.
void read_every_byte(const void* data, std::size_t size);

// Says hello, then answers until a lone frame or ETERM.
void run_raw_receiver(zmq::socket_t& dealer);

}  // namespace zmesh::tools
