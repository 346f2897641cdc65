#pragma once
// BlockingQueue<T>: a closable multi-producer queue whose pop waits up to a deadline.
// Backs port receivers, event streams and undeliverable lists. A queue made with a
// capacity refuses (and counts) what would go past it, so that a stream nobody reads
// cannot grow without bound.
// Thread: every member is thread-safe.

#include "zmesh/core/config.hpp"
#include "zmesh/core/ring_deque.hpp"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

namespace zmesh {

template <class T>
class BlockingQueue {
 public:
  BlockingQueue() = default;
  explicit BlockingQueue(std::size_t capacity) : capacity_(capacity) {}

  // False (and `value` dropped) when the queue is closed or full; a full queue counts it.
  bool push(T value) {
    if (!push_quietly(std::move(value))) return false;
    ready_.notify_one();
    return true;
  }
  // As push, but a waiting pop goes on waiting until notify(): a producer that queues
  // several items in a row wakes the consumer once, not once per item.
  bool push_quietly(T value) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (items_.size() >= capacity_) {
      ++refused_;
      return false;
    }
    items_.push_back(std::move(value));
    ++pushed_;
    return true;
  }
  void notify() { ready_.notify_all(); }

  // The next item, or nothing when the deadline passes or the queue is closed and empty.
  std::optional<T> pop(Deadline deadline) {
    std::unique_lock lock(mutex_);
    ready_.wait_until(lock, deadline, [&] { return !items_.empty() || closed_; });
    return take(lock);
  }

  // Wakes every waiter; later pushes are refused, queued items can still be popped.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  // Items ever queued (popped or not): a consumer can tell how many happened in all.
  std::uint64_t pushed() const {
    std::lock_guard lock(mutex_);
    return pushed_;
  }
  // Pushes refused because the queue was full.
  std::uint64_t refused() const {
    std::lock_guard lock(mutex_);
    return refused_;
  }

 private:
  std::optional<T> take(std::unique_lock<std::mutex>&) {
    if (items_.empty()) return std::nullopt;
    T value = std::move(items_.front());
    items_.pop_front();
    return value;
  }

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  RingDeque<T> items_;
  std::size_t capacity_ = static_cast<std::size_t>(-1);
  std::uint64_t pushed_ = 0;
  std::uint64_t refused_ = 0;
  bool closed_ = false;
};

}  // namespace zmesh
