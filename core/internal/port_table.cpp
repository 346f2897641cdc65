#include "zmesh/core/internal/port_table.hpp"

namespace zmesh::internal {

std::pair<PortId, std::shared_ptr<PortQueue>> PortTable::open(const ActorId& owner, bool once) {
  auto queue = std::make_shared<PortQueue>();
  std::lock_guard lock(mutex_);
  PortId id{owner, next_index_++};
  if (closed_) {
    queue->close();
  } else {
    ports_.emplace(id, Entry{queue, once});
  }
  return {std::move(id), std::move(queue)};
}

bool PortTable::deliver(Envelope& envelope, std::vector<std::shared_ptr<PortQueue>>* to_notify) {
  std::shared_ptr<PortQueue> queue;
  {
    std::lock_guard lock(mutex_);
    auto it = ports_.find(envelope.destination);
    if (it == ports_.end()) return false;
    queue = it->second.queue;
    if (it->second.once) ports_.erase(it);
  }
  // A receiver that already closed just drops it. A message made in this process (a
  // RankFailed notice, say) wakes a receiver waiting for a batch of replies at once: it may
  // change what the receiver waits for.
  if (!envelope.from_network) {
    queue->push_waking(std::move(envelope));
  } else if (to_notify == nullptr) {
    queue->push(std::move(envelope));
  } else if (queue->push_quietly(std::move(envelope)) &&
             (to_notify->empty() || to_notify->back() != queue)) {
    to_notify->push_back(std::move(queue));
  }
  return true;
}

void PortTable::close(const PortId& id) {
  std::shared_ptr<PortQueue> queue;
  {
    std::lock_guard lock(mutex_);
    auto it = ports_.find(id);
    if (it == ports_.end()) return;
    queue = std::move(it->second.queue);
    ports_.erase(it);
  }
  queue->close();
}

void PortTable::close_all() {
  std::unordered_map<PortId, Entry> ports;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    ports.swap(ports_);
  }
  for (auto& [id, entry] : ports) entry.queue->close();
}

void close_port(const std::weak_ptr<PortTable>& table, const PortId& id) {
  if (auto open = table.lock()) open->close(id);
}

}  // namespace zmesh::internal
