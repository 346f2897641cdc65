#pragma once
// PortTable: the reply ports opened on one proc (port id -> receiving queue).
// Shared between the Proc and the PortReceivers it hands out, so a receiver outliving
// its proc unbinds harmlessly.
// Thread: every member is thread-safe (one mutex guards the map).

#include "zmesh/core/blocking_queue.hpp"
#include "zmesh/core/envelope.hpp"

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace zmesh::internal {

using PortQueue = BlockingQueue<Envelope>;

class PortTable {
 public:
  // Opens a new port of `owner`; a once port accepts one message and then closes.
  std::pair<PortId, std::shared_ptr<PortQueue>> open(const ActorId& owner, bool once);
  // Pushes `envelope` into its port. False when no such port is open (envelope untouched).
  // With `to_notify`, the receiver is not woken: its queue is added there (once in a row)
  // for the caller to notify() later.
  bool deliver(Envelope& envelope, std::vector<std::shared_ptr<PortQueue>>* to_notify = nullptr);
  void close(const PortId& id);
  void close_all();

 private:
  struct Entry {
    std::shared_ptr<PortQueue> queue;
    bool once = false;
  };
  std::mutex mutex_;  // guards ports_, next_index_, closed_
  std::unordered_map<PortId, Entry> ports_;
  std::uint64_t next_index_ = 1;
  bool closed_ = false;
};

}  // namespace zmesh::internal
