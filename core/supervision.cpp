#include "zmesh/core/supervision.hpp"

#include <fmt/format.h>

#include <chrono>

namespace zmesh {

std::string_view to_string(ActorStatus status) noexcept {
  switch (status) {
    case ActorStatus::created: return "created";
    case ActorStatus::initializing: return "initializing";
    case ActorStatus::idle: return "idle";
    case ActorStatus::processing: return "processing";
    case ActorStatus::stopping: return "stopping";
    case ActorStatus::stopped: return "stopped";
    case ActorStatus::failed: return "failed";
  }
  return "unknown";
}

std::string_view to_string(SupervisionKind kind) noexcept {
  switch (kind) {
    case SupervisionKind::actor_failed: return "actor_failed";
    case SupervisionKind::actor_stopped: return "actor_stopped";
    case SupervisionKind::undeliverable: return "undeliverable";
  }
  return "unknown";
}

std::string SupervisionEvent::describe() const {
  switch (kind) {
    case SupervisionKind::actor_failed:
      if (message_type.empty()) return fmt::format("{} failed: {}", actor.to_string(), reason);
      return fmt::format("{} failed handling {}: {}", actor.to_string(), message_type, reason);
    case SupervisionKind::actor_stopped:
      return fmt::format("{} stopped: {}", actor.to_string(), reason);
    case SupervisionKind::undeliverable:
      return fmt::format("{} sent {} that was undeliverable: {}", actor.to_string(), message_type,
                         reason);
  }
  return reason;
}

std::int64_t unix_time_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace zmesh
