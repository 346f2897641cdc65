#pragma once
// CastInfo: what an actor receiving a cast can learn about it: the mesh and cast ids, the
// original sender, and its own rank and point in the cast's shape (for a cast to a slice,
// the position inside that slice).
// Thread: value types; read it from the handler's Context.

#include "zmesh/core/context.hpp"
#include "zmesh/mesh/point.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zmesh {

inline constexpr std::string_view cast_header_key = "zmesh.cast";

// Travels in the envelope header of every cast delivery.
struct CastHeader {
  std::string mesh;        // "<world>/<actor mesh name>"
  std::uint64_t cast_id = 0;
  ActorId origin;          // who cast
  std::uint32_t rank = 0;  // receiver's rank in the cast shape
  std::vector<std::string> labels;
  std::vector<std::uint32_t> sizes;
  MSGPACK_DEFINE(mesh, cast_id, origin, rank, labels, sizes);
};

// encode_to_string(CastHeader{mesh, cast_id, origin, rank, labels, sizes}), byte for byte,
// packed from the fields where they lie: the comm actor makes one per delivery, and copying
// the ids and labels into a CastHeader first cost an allocation per string.
std::string encode_cast_header(std::string_view mesh, std::uint64_t cast_id, const ActorId& origin,
                               std::uint32_t rank, const std::vector<std::string>& labels,
                               const std::vector<std::size_t>& sizes);

struct CastInfo {
  std::string mesh;
  std::uint64_t cast_id = 0;
  ActorId origin;
  std::uint32_t rank = 0;
  Point point;  // in the cast's shape, e.g. host=1/2,gpu=3/4
};

// The cast the current message belongs to; nothing when it was not a cast.
std::optional<CastInfo> cast_info(const Context& ctx);

}  // namespace zmesh
