#pragma once
// RemoteLink: how a Proc reaches procs other than itself. The transport layer implements
// it (one ROUTER per proc, DEALERs to peers, reliable sessions); core only sees this seam,
// so core never includes ZeroMQ.
// Thread: send() may be called from any thread.

#include "zmesh/core/envelope.hpp"

namespace zmesh {

class RemoteLink {
 public:
  virtual ~RemoteLink() = default;
  // Queues `envelope` for envelope.destination.actor.proc. Never blocks on the network;
  // a message that cannot be delivered comes back through the proc's undeliverable path.
  virtual void send(Envelope envelope) = 0;
};

}  // namespace zmesh
