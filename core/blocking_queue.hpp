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
    Wake wake = Wake::none;
    {
      std::lock_guard lock(mutex_);
      if (!push_locked(std::move(value))) return false;
      wake = wake_locked();
    }
    wake_up(wake);
    return true;
  }
  // As push, but a waiting pop goes on waiting until notify(): a producer that queues
  // several items in a row wakes the consumer once, not once per item.
  bool push_quietly(T value) {
    std::lock_guard lock(mutex_);
    return push_locked(std::move(value));
  }
  // As push, and wakes every waiting pop whatever its batch: for news a batched consumer
  // must act on at once (a failure notice that changes what it waits for).
  bool push_waking(T value) {
    {
      std::lock_guard lock(mutex_);
      if (!push_locked(std::move(value))) return false;
      waking_queued_ = true;
    }
    ready_.notify_all();
    return true;
  }

  // Wakes the waiting pops whose batch is queued now.
  void notify() {
    Wake wake = Wake::none;
    {
      std::lock_guard lock(mutex_);
      wake = wake_locked();
    }
    wake_up(wake);
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
  // False (and `value` dropped) when closed or full; a full queue counts it.
  bool push_locked(T&& value) {
    if (closed_) return false;
    if (items_.size() >= capacity_) {
      ++refused_;
      return false;
    }
    items_.push_back(std::move(value));
    ++pushed_;
    return true;
  }
  std::optional<T> take(std::unique_lock<std::mutex>&) {
    if (items_.empty()) return std::nullopt;
    T value = std::move(items_.front());
    items_.pop_front();
    if (items_.empty()) waking_queued_ = false;
    return value;
  }

  // Whom the items queued now let go: nobody, one of the waiting pops (one item, and every
  // pop waits for one: any of them will do), or all (each checks its own batch).
  enum class Wake { none, one, all };
  Wake wake_locked() const {
    if (waiting_batches_.empty()) return Wake::none;
    const auto [smallest, largest] = std::minmax_element(waiting_batches_.begin(), waiting_batches_.end());
    if (items_.size() < *smallest) return Wake::none;
    return *largest == 1 && items_.size() == 1 ? Wake::one : Wake::all;
  }
  void wake_up(Wake wake) {
    if (wake == Wake::one) ready_.notify_one();
    if (wake == Wake::all) ready_.notify_all();
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
