#pragma once
// Sender: what every message source can do (send, open reply ports). An actor's Context
// and a client's Mailbox both are Senders, so the two share one send path.
// Thread: a Context belongs to its actor's turn; a Mailbox to one client thread at a time
// (its sends are thread-safe, but the object is not meant to be shared).

#include "zmesh/core/envelope.hpp"
#include "zmesh/core/port.hpp"

#include <utility>

namespace zmesh {

class Proc;

class Sender {
 public:
  const ActorId& self() const { return self_; }
  Proc& proc() const { return *proc_; }

  // Sends `message` to the handler for M of actor `to`.
  template <Message M>
  void send(const ActorId& to, const M& message) {
    send(handler_port<M>(to), message);
  }
  // Sends `message` to port `to`, with optional extra headers.
  template <Message M>
  void send(const PortRef<M>& to, const M& message, Headers headers = {}) {
    Envelope envelope = make_envelope(self_, to.id, message);
    envelope.headers = std::move(headers);
    send(std::move(envelope));
  }
  // Sends a prepared envelope; its sender becomes this sender.
  void send(Envelope envelope);
  // As send(), with flow control (Proc::send_bounded): waits for room until
  // `room_deadline`, then fails with backpressure; too_large over a size limit.
  Result<void> send_bounded(Envelope envelope, Deadline room_deadline);
  template <Message M>
  Result<void> send_bounded(const ActorId& to, const M& message, Deadline room_deadline) {
    return send_bounded(make_envelope(self_, handler_port<M>(to).id, message), room_deadline);
  }

  // Opens a reply port owned by this sender. A once port takes one message then closes.
  template <Message M>
  std::pair<PortRef<M>, PortReceiver<M>> open_port(bool once = false) {
    auto [id, queue] = open_port_queue(once);
    PortReceiver<M> receiver(id, std::move(queue), port_table());
    return {PortRef<M>{std::move(id)}, std::move(receiver)};
  }

 protected:
  Sender(Proc& proc, ActorId self) : proc_(&proc), self_(std::move(self)) {}

 private:
  std::pair<PortId, std::shared_ptr<BlockingQueue<Envelope>>> open_port_queue(bool once);
  std::weak_ptr<internal::PortTable> port_table() const;

  Proc* proc_;
  ActorId self_;
};

}  // namespace zmesh
