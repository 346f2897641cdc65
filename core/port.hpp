#pragma once
// Ports: typed addresses inside an actor's mailbox.
//  - PortRef<M>: a port id that can travel inside messages ("reply to me here").
//  - PortReceiver<M>: the receiving end of a port opened on demand; recv(deadline), or
//    recv(deadline, n) to sleep until n messages are there (one wake-up for n replies).
// Every actor also has one well-known handler port per message type it handles
// (handler_port<M>(actor)), so a PortRef can point straight at a handler.
// Thread: PortRef is a value; a PortReceiver belongs to one thread at a time.

#include "zmesh/core/blocking_queue.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/core/message.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <memory>

namespace zmesh {

namespace internal {
class PortTable;
// Unbinds port `id` from its table, if the table (its proc) still exists.
void close_port(const std::weak_ptr<PortTable>& table, const PortId& id);
}  // namespace internal

template <Message M>
struct PortRef {
  PortId id;
  friend bool operator==(const PortRef&, const PortRef&) = default;
  MSGPACK_DEFINE(id);
};

// The port of `actor` whose messages go to its handler for M.
template <Message M>
PortRef<M> handler_port(const ActorId& actor) {
  return PortRef<M>{PortId{actor, message_port_index(message_name<M>())}};
}

inline bool is_handler_port(std::uint64_t index) { return (index >> 63) != 0; }

template <Message M>
class PortReceiver {
 public:
  PortReceiver(PortId id, std::shared_ptr<BlockingQueue<Envelope>> queue,
               std::weak_ptr<internal::PortTable> table)
      : id_(std::move(id)), queue_(std::move(queue)), table_(std::move(table)) {}
  PortReceiver(PortReceiver&&) noexcept = default;
  PortReceiver& operator=(PortReceiver&&) noexcept = default;
  ~PortReceiver() { internal::close_port(table_, id_); }

  const PortId& id() const { return id_; }
  PortRef<M> ref() const { return PortRef<M>{id_}; }

  // The next message, or timeout when `deadline` passes, or stopped when the proc closed.
  // `batch`: sleep until that many messages are queued (a caller owed N replies passes N,
  // then N-1, ...), so the thread wakes once for them; at the deadline it returns the first
  // of fewer, and times out only when none came.
  Result<M> recv(Deadline deadline, std::size_t batch = 1) {
    auto envelope = recv_envelope(deadline, batch);
    if (!envelope) return std::move(envelope).error();
    if (envelope->type_name != message_name<M>() || envelope->payload.empty()) {
      return Error(ErrorCode::decode_error,
                   fmt::format("port {} expects {} but received {}", id_.to_string(),
                               message_name<M>(), envelope->type_name));
    }
    return decode<M>(envelope->payload);
  }

  // The next envelope undecoded (headers and frames as sent); `batch` as for recv.
  Result<Envelope> recv_envelope(Deadline deadline, std::size_t batch = 1) {
    if (!queue_) return Error(ErrorCode::stopped, "port receiver was moved from");
    auto envelope = queue_->pop(deadline, batch);
    if (envelope) return std::move(*envelope);
    if (queue_->closed()) {
      return Error(ErrorCode::stopped, fmt::format("port {} was closed", id_.to_string()));
    }
    return Error(ErrorCode::timeout,
                 fmt::format("no message on port {} before the deadline", id_.to_string()));
  }

 private:
  PortId id_;
  std::shared_ptr<BlockingQueue<Envelope>> queue_;
  std::weak_ptr<internal::PortTable> table_;
};

}  // namespace zmesh
