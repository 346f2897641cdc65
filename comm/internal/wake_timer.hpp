#pragma once
// WakeTimer: calls `wake` once the earliest armed time has come, on a thread of its own that
// is started on the first arm(). A comm actor uses it to flush reductions whose budget is
// spent and to give up gaps in its streams: actors have no timers, so the timer posts a Wake
// message and the actor does the work on its own turn.
// Thread: arm() and stop() are thread-safe; `wake` runs on the timer thread and must not block.
// Failure: none; arming after stop() does nothing.

#include "zmesh/core/config.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace zmesh::comm::internal {

class WakeTimer {
 public:
  explicit WakeTimer(std::function<void()> wake) : wake_(std::move(wake)) {}
  WakeTimer(const WakeTimer&) = delete;
  WakeTimer& operator=(const WakeTimer&) = delete;
  ~WakeTimer() { stop(); }

  // Wakes at `at` unless an earlier wake is armed already; a later one is re-armed after it.
  void arm(Clock::time_point at);
  // Joins the thread; no wake runs after it returns. Idempotent.
  void stop();

 private:
  void run();

  std::function<void()> wake_;
  std::mutex mutex_;  // guards due_, stopping_, thread_ (its start)
  std::condition_variable changed_;
  std::optional<Clock::time_point> due_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace zmesh::comm::internal
