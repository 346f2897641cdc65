#pragma once
// HandshakeWatch: hears, through a ZeroMQ socket monitor, when a CURVE handshake on one
// socket fails: at a listening socket a plain ZeroMQ peer or a peer with another key was
// refused; at a dialing socket the server refused us. drain() returns the refusals worth a
// log line: the first from each host, and, until some host was named, one a minute of those
// whose address could not be read (the peer had hung up first); refused() counts them all.
// Thread: belongs to the thread that owns the watched socket: poll handle() with it, call
// drain() when readable. On plain tcp it hears mechanism mismatches (a CURVE peer).

#include "zmesh/core/log.hpp"

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace zmesh::internal {

struct HandshakeRefusal {
  std::string peer;    // "10.0.0.9:51234" (a listener's peer), the dialed address, or empty
  std::string reason;  // "it speaks plain ZeroMQ (no CURVE), ...", ...

  // The peer for a log line: its address, or why there is none.
  std::string peer_text() const { return peer.empty() ? "(address unknown: it hung up first)" : peer; }
};

class HandshakeWatch {
 public:
  // `listening`: the watched socket binds (failures then name the accepted peer).
  HandshakeWatch(zmq::context_t& context, zmq::socket_t& watched, bool listening);
  // Stops the monitor before its reader closes. Destroy the watch before the watched socket.
  ~HandshakeWatch();
  HandshakeWatch(const HandshakeWatch&) = delete;
  HandshakeWatch& operator=(const HandshakeWatch&) = delete;

  void* handle() { return monitor_.handle(); }

  // Reads every pending event; returns the refusals to log (see above).
  std::vector<HandshakeRefusal> drain();

  std::uint64_t refused() const { return refused_; }
  // Connections accepted and not yet gone: those whose handshake is still going on.
  std::size_t accepted_open() const { return peers_.size(); }
  std::uint64_t succeeded() const { return succeeded_; }

 private:
  void refuse(HandshakeRefusal refusal, std::vector<HandshakeRefusal>& fresh);

  void* watched_;
  zmq::socket_t monitor_;
  bool listening_;
  std::map<int, std::string> peers_;  // accepted fd -> its peer's address
  std::string pending_reason_;        // a listener's failure waits for its DISCONNECTED(fd)
  std::set<std::string> reported_hosts_;
  RateLimiter unknown_peers_{std::chrono::minutes(1)};
  std::uint64_t refused_ = 0;
  std::uint64_t succeeded_ = 0;
};

}  // namespace zmesh::internal
