#pragma once
// TimerService: one timer thread for everything of the comm tree that shares a registry - the
// comm actors of every proc in this process and the client's routers - instead of a thread per
// comm actor. zmesh::init puts one in the registry (comm/init.hpp). Actors have no timers, so a
// client of the service registers a `wake` that only posts a message (or does non-blocking
// bookkeeping under its own lock); the real work happens on the client's own turn.
// Thread: the service owns its thread, started on the first arm() and joined by the destructor;
// wakes run on that thread, one at a time, and must not block. add(), Handle::arm() and the
// Handle's destructor are thread-safe. Failure: none.

#include "zmesh/core/config.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

namespace zmesh::comm::internal {

class TimerService : public std::enable_shared_from_this<TimerService> {
 public:
  // One registered wake. Destroying it removes the wake: none runs after the destructor
  // returns (it waits for one running on the timer thread, unless called from that thread).
  class Handle {
   public:
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle();
    // Wakes at `at` unless an earlier wake is armed already; a later one is re-armed after it.
    void arm(Clock::time_point at);

   private:
    friend class TimerService;
    Handle(std::shared_ptr<TimerService> service, std::uint64_t id)
        : service_(std::move(service)), id_(id) {}
    std::shared_ptr<TimerService> service_;
    std::uint64_t id_;
  };

  TimerService() = default;
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;
  ~TimerService();

  // Registers `wake`. The service must be owned by a shared_ptr; the handle keeps it alive.
  std::unique_ptr<Handle> add(std::function<void()> wake);

  // For tests: the name of the timer thread (as /proc/self/task/*/comm shows it).
  static constexpr const char* thread_name = "zmesh-timer";

 private:
  struct Entry {
    std::function<void()> wake;
    std::optional<Clock::time_point> due;
  };

  void arm(std::uint64_t id, Clock::time_point at);
  void remove(std::uint64_t id);
  void run();

  std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;  // an earlier wake was armed, or stopping
  std::condition_variable finished_;  // running_ changed
  std::map<std::uint64_t, Entry> entries_;
  std::set<std::pair<Clock::time_point, std::uint64_t>> queue_;  // armed wakes by time
  std::uint64_t next_id_ = 1;
  std::uint64_t running_ = 0;  // the id whose wake runs now; 0: none
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace zmesh::comm::internal
