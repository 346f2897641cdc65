#pragma once
// Socket security: CURVE on every tcp socket zmesh opens, with the cluster's key pair from
// Config (see core/key_file.hpp). Sockets that bind are CURVE servers, sockets that dial are
// clients; both use the one pair, so a peer without the key file fails the handshake and can
// neither send nor read anything. ipc and inproc sockets stay as they are.
// Thread: free functions; call them on the thread that owns the socket, before bind/connect.

#include "zmesh/core/config.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/key_file.hpp"

#include <string_view>

namespace zmq {
class socket_t;
}

namespace zmesh {

enum class SocketRole { server, client };

// True when secure_socket() turns CURVE on for `address` (tcp with keys).
bool uses_curve(std::string_view address, const Config& config);

// Makes `socket` use the configured security for `address`: tcp with keys gets CURVE, tcp
// with config.insecure stays plain. Fails (ErrorCode::unauthenticated, saying what to set)
// for tcp with neither, and for a pair whose halves do not belong together.
Result<void> secure_socket(zmq::socket_t& socket, std::string_view address, const Config& config,
                           SocketRole role);

// A fresh pair from libzmq's generator: what `zmesh keygen` writes, and what an allocator
// uses for its own procs when the user configured none.
Result<CurveKeyPair> generate_key_pair();

}  // namespace zmesh
