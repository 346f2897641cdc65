#include "zmesh/core/scheduler.hpp"

namespace zmesh {

Scheduler::Scheduler(std::uint32_t threads) {
  threads_.reserve(threads);
  for (std::uint32_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void Scheduler::schedule(std::shared_ptr<Runnable> task) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
    // Waking a thread costs ~20 us across cores: only wake when one is actually idle.
    wake = idle_ > 0;
  }
  if (wake) ready_.notify_one();
}

void Scheduler::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (queue_.empty()) {
      if (stopping_) return;
      ++idle_;
      ready_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      --idle_;
      continue;
    }
    auto task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task->run();
    task.reset();
    lock.lock();
  }
}

}  // namespace zmesh
