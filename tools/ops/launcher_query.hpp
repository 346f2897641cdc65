#pragma once
// One read-only query to one zmesh-launcher (StatusRequest, ProbeRequest) with a deadline,
// for `zmesh status` and `zmesh doctor`. On no answer, the error says how far the exchange
// got, from the socket's monitor: no tcp connection, a security handshake that failed (a
// wrong key), or a connected peer that never answered (a frozen launcher, or not one). An
// older launcher's "unknown message type" becomes "upgrade it".
// Thread: blocks the caller until the reply or the deadline; one call, one socket.

#include "zmesh/alloc/host_list.hpp"
#include "zmesh/alloc/internal/launcher_protocol.hpp"
#include "zmesh/core/config.hpp"

#include <fmt/format.h>
#include <zmq.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace zmesh::tools {

// How far an exchange got, in order.
enum class QueryStage {
  no_connection,     // no tcp connection
  connected,         // tcp connected, the ZMTP (security) handshake not done
  handshake_failed,  // the peer refused our key, or we its
  handshake_done,    // a ZeroMQ peer with our security mode and key
  answered,          // a launcher message came back
};

// Sends `request` ([type][body]) to the launcher at `host` and returns the first reply of
// `reply_type`, or an error saying what failed and what to do. The socket is secured as
// `config` says (CURVE with its key pair, or plain tcp when insecure). `stage`, when given,
// is set to how far the exchange got.
Result<std::pair<std::string, std::string>> query_launcher(zmq::context_t& context, const Config& config,
                                                           const HostEntry& host,
                                                           const std::pair<std::string, std::string>& request,
                                                           std::string_view reply_type, Deadline deadline,
                                                           QueryStage* stage = nullptr);

template <Message Reply, Message Request>
Result<Reply> ask_launcher(zmq::context_t& context, const Config& config, const HostEntry& host,
                           const Request& request, Deadline deadline, QueryStage* stage = nullptr) {
  auto reply = query_launcher(context, config, host, internal::launcher_frames(request), message_name<Reply>(),
                              deadline, stage);
  if (!reply) return std::move(reply).error();
  auto decoded = internal::decode_launcher_body<Reply>(reply->second);
  if (!decoded) {
    return Error(ErrorCode::decode_error,
                 fmt::format("the launcher at {} sent a {} that does not decode ({}); use the same zmesh "
                             "version on both sides",
                             host.to_string(), message_name<Reply>(), decoded.error().message));
  }
  return decoded;
}

}  // namespace zmesh::tools
