#include "zmesh/mesh/mesh_events.hpp"

#include <fmt/format.h>

namespace zmesh {

std::string_view to_string(ProcEvent::Kind kind) noexcept {
  switch (kind) {
    case ProcEvent::Kind::stopped: return "stopped";
    case ProcEvent::Kind::crashed: return "crashed";
    case ProcEvent::Kind::unresponsive: return "unresponsive";
    case ProcEvent::Kind::actor_failed: return "actor_failed";
  }
  return "unknown";
}

std::string ProcEvent::describe() const {
  const bool has_reason = kind == Kind::stopped || kind == Kind::crashed;
  return fmt::format("rank {} ({}) {}: {}", rank, point, to_string(kind),
                     has_reason ? reason.describe() : detail);
}

std::string ActorEvent::describe() const {
  return fmt::format("rank {} ({}): {}", rank, point, event.describe());
}

}  // namespace zmesh
