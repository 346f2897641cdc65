#pragma once
// MeshPlace: the shape of the mesh a proc belongs to (dimension labels and sizes, outermost
// first), as core sees it without the geometry of mesh/: enough for an actor to learn its
// own coordinates (Context::coordinate, Context::point). A proc's rank is its row-major index.
// Thread: value type.

#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh {

struct MeshPlace {
  std::vector<std::string> labels;
  std::vector<std::uint32_t> sizes;

  // The index along `label` of the proc with row-major rank `rank`; nothing when there is no
  // such dimension.
  std::optional<std::uint32_t> coordinate(std::uint32_t rank, std::string_view label) const;
  // "host=1/2,gpu=3/4" for rank `rank`.
  std::string point(std::uint32_t rank) const;

  MSGPACK_DEFINE(labels, sizes);
};

}  // namespace zmesh
