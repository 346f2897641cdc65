#include "zmesh/transport/internal/handshake_watch.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <cstring>
#include <random>

namespace zmesh::internal {
namespace {

constexpr int watched_events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;

// The peer of an accepted connection, read while its descriptor is still open (the monitor
// reports ACCEPTED right after accept(), long before a refused handshake closes it).
std::string peer_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, ntohs(v4.sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    return fmt::format("[{}]:{}", text, ntohs(v6.sin6_port));
  }
  return "";
}

std::string host_of(const std::string& peer) {
  const auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

std::string reason_of(std::uint16_t event, std::uint32_t value) {
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
      return "it speaks plain ZeroMQ (no CURVE), or CURVE to a plain peer: one side lacks the key";
    }
    return fmt::format("its CURVE handshake is malformed or uses another key (protocol error {:#x})",
                       value);
  }
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) return fmt::format("authentication failed (status {})", value);
  return fmt::format("the handshake broke off ({}): most likely the other side has another key",
                     std::strerror(static_cast<int>(value)));
}

}  // namespace

HandshakeWatch::HandshakeWatch(zmq::context_t& context, zmq::socket_t& watched, bool listening)
    : watched_(watched.handle()), monitor_(context, zmq::socket_type::pair), listening_(listening) {
  // Random, not the socket's handle: a closed socket's monitor address stays taken until
  // libzmq reaps it, and a new socket may get the old one's memory.
  std::random_device random;
  const std::string address =
      fmt::format("inproc://zmesh-handshake-watch-{:08x}{:08x}{:08x}", random(), random(), random());
  if (zmq_socket_monitor(watched.handle(), address.c_str(), watched_events) != 0) {
    throw zmq::error_t();
  }
  monitor_.set(zmq::sockopt::linger, 0);
  // libzmq sends monitor events from its I/O thread with a blocking send: were this queue
  // ever full, every socket of the context would stall until drain() ran. Unbounded here,
  // the events (a few dozen bytes each) wait for the owner's next drain() instead.
  monitor_.set(zmq::sockopt::rcvhwm, 0);
  monitor_.connect(address);
}

HandshakeWatch::~HandshakeWatch() {
  // Stop the monitor first. Were the reader closed while the watched socket still reports
  // (its connections close after it), libzmq's I/O thread would block for ever sending the
  // event to a pair without a peer, and with it every socket of the context: listeners stay
  // bound, dialers never reconnect.
  zmq_socket_monitor(watched_, nullptr, 0);
}

void HandshakeWatch::refuse(HandshakeRefusal refusal, std::vector<HandshakeRefusal>& fresh) {
  ++refused_;
  const bool worth_a_line = refusal.peer.empty() ? reported_hosts_.empty() && unknown_peers_.allow()
                                                 : reported_hosts_.insert(host_of(refusal.peer)).second;
  if (worth_a_line) fresh.push_back(std::move(refusal));
}

std::vector<HandshakeRefusal> HandshakeWatch::drain() {
  std::vector<HandshakeRefusal> fresh;
  for (;;) {
    zmq::message_t header;
    zmq::message_t address;
    if (!monitor_.recv(header, zmq::recv_flags::dontwait)) break;
    if (!header.more() || !monitor_.recv(address, zmq::recv_flags::dontwait)) break;
    if (header.size() < 6) continue;
    std::uint16_t event = 0;
    std::uint32_t value = 0;
    std::memcpy(&event, header.data(), sizeof event);
    std::memcpy(&value, static_cast<const char*>(header.data()) + 2, sizeof value);
    const int fd = static_cast<int>(value);
    switch (event) {
      case ZMQ_EVENT_ACCEPTED:
        peers_[fd] = peer_of(fd);
        break;
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        ++succeeded_;
        break;
      case ZMQ_EVENT_DISCONNECTED: {
        auto peer = peers_.find(fd);
        if (!pending_reason_.empty()) {
          refuse({peer == peers_.end() ? std::string() : peer->second, std::move(pending_reason_)}, fresh);
          pending_reason_.clear();
        }
        if (peer != peers_.end()) peers_.erase(peer);
        break;
      }
      default: {
        std::string reason = reason_of(event, value);
        if (!listening_) {
          refuse({address.to_string(), std::move(reason)}, fresh);
        } else {
          // The failure names no peer; the DISCONNECTED that follows names its descriptor.
          if (!pending_reason_.empty()) refuse({std::string(), std::move(pending_reason_)}, fresh);
          pending_reason_ = std::move(reason);
        }
      }
    }
  }
  return fresh;
}

}  // namespace zmesh::internal
