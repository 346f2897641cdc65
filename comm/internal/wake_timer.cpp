#include "zmesh/comm/internal/wake_timer.hpp"

namespace zmesh::comm::internal {

void WakeTimer::arm(Clock::time_point at) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (due_ && *due_ <= at) return;
    due_ = at;
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  changed_.notify_one();
}

void WakeTimer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void WakeTimer::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!due_) {
      changed_.wait(lock);
      continue;
    }
    if (Clock::now() < *due_) {
      changed_.wait_until(lock, *due_);
      continue;
    }
    due_.reset();
    lock.unlock();
    wake_();
    lock.lock();
  }
}

}  // namespace zmesh::comm::internal
