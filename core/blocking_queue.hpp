#pragma once
// BlockingQueue<T>: a closable multi-producer queue whose pop waits up to a deadline.
// Backs port receivers, event streams and undeliverable lists. A queue made with a
// capacity refuses (and counts) what would go past it, so that a stream nobody reads
// cannot grow without bound. A pop may ask to sleep until several items are queued: a
// consumer that needs N replies is then woken once, not N times (a thread wake-up costs
// more than the reply).
// Thread: every member is thread-safe.

#include "zmesh/core/config.hpp"
#include "zmesh/core/ring_deque.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace zmesh {

template <class T>
class BlockingQueue {
 public:
  BlockingQueue() = default;
  explicit BlockingQueue(std::size_t capacity) : capacity_(capacity) {}

  // False (and `value` dropped) when the queue is closed or full; a full queue counts it.
  bool push(T value) {
    if (!push_quietly(std::move(value))) return false;
    notify();
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
  // As push, and wakes every waiting pop whatever its batch: for news a batched consumer
  // must act on at once (a failure notice that changes what it waits for).
  bool push_waking(T value) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return false;
      if (items_.size() >= capacity_) {
        ++refused_;
        return false;
      }
      items_.push_back(std::move(value));
      ++pushed_;
      waking_queued_ = true;
    }
    ready_.notify_all();
    return true;
  }

  // Wakes the waiting pops whose batch is queued now.
  void notify() {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      wake = items_.size() >= smallest_batch_locked();
    }
    if (wake) ready_.notify_all();
  }

  // The next item, or nothing when the deadline passes or the queue is closed and empty.
  // With `batch` > 1 it sleeps until that many items are queued (or the deadline, or close)
  // and then returns the first; a deadline that passes with fewer queued still returns one.
  std::optional<T> pop(Deadline deadline, std::size_t batch = 1) {
    std::unique_lock lock(mutex_);
    batch = std::max<std::size_t>(batch, 1);
    if (items_.size() < batch && !closed_ && !waking_queued_) {
      waiting_batches_.push_back(batch);
      ready_.wait_until(lock, deadline,
                        [&] { return items_.size() >= batch || closed_ || waking_queued_; });
      waiting_batches_.erase(std::find(waiting_batches_.begin(), waiting_batches_.end(), batch));
    }
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
    if (items_.empty()) waking_queued_ = false;
    return value;
  }

  // The fewest queued items that would let a waiting pop return; SIZE_MAX with none waiting
  // (notify then wakes nobody, as a condition variable without waiters would).
  std::size_t smallest_batch_locked() const {
    if (waiting_batches_.empty()) return static_cast<std::size_t>(-1);
    return *std::min_element(waiting_batches_.begin(), waiting_batches_.end());
  }

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  RingDeque<T> items_;
  std::vector<std::size_t> waiting_batches_;  // one entry per pop waiting now, its batch
  std::size_t capacity_ = static_cast<std::size_t>(-1);
  std::uint64_t pushed_ = 0;
  // An item of push_waking is queued: pops take what is there without waiting for their
  // batch until the queue is empty again.
  bool waking_queued_ = false;
  std::uint64_t refused_ = 0;
  bool closed_ = false;
};

}  // namespace zmesh
