#include "zmesh/core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace zmesh {
namespace {

// Every logger writes to the process's one stderr; sharing its sink keeps lines whole.
std::shared_ptr<spdlog::sinks::sink> stderr_sink() {
  static const auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return sink;
}

}  // namespace

Logger::Logger(std::string_view component, std::string_view owner, std::string_view level)
    : logger_(std::make_shared<spdlog::logger>(std::string(component), stderr_sink())),
      owner_(owner) {
  logger_->set_level(spdlog::level::from_str(std::string(level)));
  logger_->set_pattern("%H:%M:%S.%e %^%l%$ %n %v");
}

bool RateLimiter::allow(Clock::time_point now) {
  const auto ticks = now.time_since_epoch().count();
  auto next = next_.load(std::memory_order_relaxed);
  // Of several threads arriving at once, the one that moves `next_` logs.
  if (ticks < next || !next_.compare_exchange_strong(next, ticks + interval_.count(),
                                                   std::memory_order_relaxed)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

}  // namespace zmesh
