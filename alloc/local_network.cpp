#include "zmesh/alloc/local_network.hpp"

#include <fmt/format.h>

#include <thread>

namespace zmesh {

void LocalNetwork::join(Proc& proc) {
  auto link = std::make_unique<Link>(*this, proc);
  proc.set_remote(link.get());
  auto member = std::make_shared<Member>();
  member->proc = &proc;
  std::unique_lock lock(mutex_);
  members_[proc.id()] = std::move(member);
  links_[proc.id()] = std::move(link);
}

void LocalNetwork::leave(const ProcId& proc) {
  std::shared_ptr<Member> member;
  {
    std::unique_lock lock(mutex_);
    auto it = members_.find(proc);
    if (it == members_.end()) return;
    member = std::move(it->second);
    members_.erase(it);
  }
  member->proc->set_remote(nullptr);
  // Deliveries already under way finish quickly (they only enqueue): wait them out.
  while (member->users.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  // The link object stays: a send already inside it must not touch freed memory.
}

void LocalNetwork::Link::send(Envelope envelope) {
  std::shared_ptr<Member> destination;
  {
    std::shared_lock lock(network_.mutex_);
    auto it = network_.members_.find(envelope.destination.actor.proc);
    if (it != network_.members_.end()) {
      destination = it->second;
      destination->users.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  if (destination) {
    destination->proc->deliver(std::move(envelope));
    destination->users.fetch_sub(1, std::memory_order_acq_rel);
    return;
  }
  const auto to = envelope.destination.actor.proc.to_string();
  self_.return_undeliverable(
      std::move(envelope),
      Error(ErrorCode::undeliverable, fmt::format("no route to {}: it is not running", to)));
}

Result<void> LocalNetwork::Link::send_bounded(Envelope envelope, Deadline room_deadline) {
  std::shared_ptr<Member> destination;
  {
    std::shared_lock lock(network_.mutex_);
    auto it = network_.members_.find(envelope.destination.actor.proc);
    if (it != network_.members_.end()) {
      destination = it->second;
      destination->users.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  if (!destination) {
    send(std::move(envelope));  // returns it as undeliverable, naming the missing proc
    return {};
  }
  auto delivered = destination->proc->deliver_bounded(std::move(envelope), room_deadline);
  destination->users.fetch_sub(1, std::memory_order_acq_rel);
  return delivered;
}

bool LocalNetwork::Link::has_room(const ProcId& proc, std::size_t bytes) const {
  // In-process procs share memory: the link never fills, only mailboxes do, and those are
  // checked per actor by Proc::has_room on the receiving side.
  (void)proc;
  (void)bytes;
  return true;
}

}  // namespace zmesh
