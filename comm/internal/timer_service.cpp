#include "zmesh/comm/internal/timer_service.hpp"

#include <pthread.h>

namespace zmesh::comm::internal {

TimerService::Handle::~Handle() { service_->remove(id_); }

void TimerService::Handle::arm(Clock::time_point at) { service_->arm(id_, at); }

TimerService::~TimerService() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_one();
  if (!thread_.joinable()) return;
  // The last owner may be a wake itself (one that dropped what held the service).
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

std::unique_ptr<TimerService::Handle> TimerService::add(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  const auto id = next_id_++;
  entries_.emplace(id, Entry{std::move(wake), std::nullopt});
  return std::unique_ptr<Handle>(new Handle(shared_from_this(), id));
}

void TimerService::arm(std::uint64_t id, Clock::time_point at) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (stopping_ || it == entries_.end()) return;
    Entry& entry = it->second;
    if (entry.due && *entry.due <= at) return;
    if (entry.due) queue_.erase({*entry.due, id});
    entry.due = at;
    queue_.emplace(at, id);
    if (!thread_.joinable()) {
      thread_ = std::thread([this] { run(); });
      // Named here, not by the thread itself: once arm() returns, the name is there to see.
      pthread_setname_np(thread_.native_handle(), thread_name);
    }
  }
  changed_.notify_one();
}

void TimerService::remove(std::uint64_t id) {
  std::unique_lock lock(mutex_);
  if (thread_.get_id() != std::this_thread::get_id()) {
    finished_.wait(lock, [&] { return running_ != id; });
  }
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (it->second.due) queue_.erase({*it->second.due, id});
  entries_.erase(it);
}

void TimerService::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const auto [at, id] = *queue_.begin();
    if (Clock::now() < at) {
      changed_.wait_until(lock, at);
      continue;
    }
    queue_.erase(queue_.begin());
    Entry& entry = entries_.at(id);
    entry.due.reset();
    // The entry stays while its wake runs: remove() waits for running_ to change.
    running_ = id;
    lock.unlock();
    entry.wake();
    lock.lock();
    running_ = 0;
    finished_.notify_all();
  }
}

}  // namespace zmesh::comm::internal
