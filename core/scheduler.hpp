#pragma once
// Scheduler: the small thread pool that runs actor turns. One proc owns one by default;
// procs of one process (local allocation, tests) can share one so that a thousand procs
// do not mean two thousand threads.
// Thread: schedule() is thread-safe; the pool threads are owned by the Scheduler and
// joined by its destructor (after every queued task ran). Idle threads block.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace zmesh {

// A unit of work the pool runs; an actor cell runs one turn of its mailbox.
class Runnable {
 public:
  virtual ~Runnable() = default;
  virtual void run() = 0;
};

class Scheduler {
 public:
  explicit Scheduler(std::uint32_t threads);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler();

  // Thread-safe. Runs `task` once on a pool thread, in FIFO order with other tasks.
  void schedule(std::shared_ptr<Runnable> task);
  std::uint32_t threads() const { return static_cast<std::uint32_t>(threads_.size()); }

 private:
  void work();

  std::mutex mutex_;  // guards queue_, idle_, stopping_
  std::condition_variable ready_;
  std::deque<std::shared_ptr<Runnable>> queue_;
  std::uint32_t idle_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace zmesh
