#include "zmesh/mesh/mesh_events.hpp"

#include <fmt/format.h>

namespace zmesh {

std::string_view to_string(MeshEvent::Kind kind) noexcept {
  switch (kind) {
    case MeshEvent::Kind::proc_crashed: return "crashed";
    case MeshEvent::Kind::proc_unresponsive: return "unresponsive";
    case MeshEvent::Kind::actor_failed: return "actor failed";
    case MeshEvent::Kind::actor_stopped: return "actor stopped";
    case MeshEvent::Kind::undeliverable: return "undeliverable";
  }
  return "unknown";
}

std::string MeshEvent::describe() const {
  if (kind == Kind::proc_crashed) {
    return fmt::format("rank {} ({}) crashed: {}", rank, point, reason.describe());
  }
  if (about_proc()) return fmt::format("rank {} ({}) {}: {}", rank, point, to_string(kind), detail);
  return fmt::format("rank {} ({}) \"{}\" {}: {}", rank, point, actor, to_string(kind), detail);
}

}  // namespace zmesh
