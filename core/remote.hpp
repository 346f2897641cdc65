#pragma once
// RemoteLink: how a Proc reaches procs other than itself. The transport layer implements
// it (one ROUTER per proc, DEALERs to peers, reliable sessions); core only sees this seam,
// so core never includes ZeroMQ.
// Thread: every member may be called from any thread.
// Flow control: data-lane messages count against a bounded per-link window (messages and
// bytes, Config::link_window_*); control-lane messages (lane_of) are never counted, never
// wait and travel in their own sequence space, so data can never starve them.

#include "zmesh/core/envelope.hpp"

#include <cstddef>

namespace zmesh {

class RemoteLink {
 public:
  virtual ~RemoteLink() = default;

  // Queues `envelope` whatever the window holds: for control traffic, undeliverable
  // notices and replies, whose volume the requests that caused them already bound. Never
  // blocks; a message that cannot be delivered comes back through the proc's undeliverable
  // path.
  virtual void send(Envelope envelope) = 0;

  // Queues a data message once its link's window has room, waiting for room until
  // `room_deadline` (a past deadline: do not wait). Errors, with nothing queued:
  // backpressure (no room in time; names the peer, what is queued and the limits),
  // too_large (bigger than this proc's or the peer's max_message_bytes; names both).
  // Called on the transport's own I/O thread it never waits.
  virtual Result<void> send_bounded(Envelope envelope, Deadline room_deadline) = 0;

  // Whether a data message of `bytes` to `proc` would be queued now without waiting.
  virtual bool has_room(const ProcId& proc, std::size_t bytes) const = 0;

  // The proc refused a message earlier (Proc::offer returned false) and now has room:
  // retry held messages. Cheap, and harmless when nothing is held.
  virtual void retry_held() = 0;
};

}  // namespace zmesh
