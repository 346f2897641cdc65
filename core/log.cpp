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

bool RateLimiter::allow() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) {
    ++suppressed_;
    return false;
  }
  next_ = now + interval_;
  return true;
}

}  // namespace zmesh
