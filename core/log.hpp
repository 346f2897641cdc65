#pragma once
// Logger: one named logger per layer and owner ("zmesh.transport", "proc=train[3]").
// Warnings start with a stable id (ZM-...) then object, reason and a hint. Lines go to
// stderr through spdlog; the level comes from Config::log_level (ZMESH_LOG).
// Thread: Logger and RateLimiter are safe to use from any thread.

#include <fmt/format.h>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace zmesh {

class Logger {
 public:
  Logger(std::string_view component, std::string_view owner, std::string_view level);

  template <class... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::debug, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::info, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::warn, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::err, format, std::forward<Args>(args)...);
  }

 private:
  template <class... Args>
  void log(spdlog::level::level_enum level, fmt::format_string<Args...> format,
           Args&&... args) const {
    if (!logger_->should_log(level)) return;
    logger_->log(level, "{} {}", owner_, fmt::format(format, std::forward<Args>(args)...));
  }

  std::shared_ptr<spdlog::logger> logger_;
  std::string owner_;
};

// Lets one repeated line through per interval and counts the ones it held back.
// Thread-safe: warnings a peer can trigger come from several threads.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(std::chrono::milliseconds interval) : interval_(interval) {}
  // True when a line may be logged at `now`; `suppressed()` then tells how many were skipped.
  // Callers pass the default; a test passes its own times, so nothing has to sleep.
  bool allow(Clock::time_point now = Clock::now());
  std::uint64_t suppressed() const { return suppressed_.load(std::memory_order_relaxed); }

 private:
  Clock::duration interval_;
  std::atomic<Clock::rep> next_{0};  // ticks since the clock's epoch
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace zmesh
