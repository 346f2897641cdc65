#include "zmesh/core/mesh_place.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace zmesh {

std::optional<std::uint32_t> MeshPlace::coordinate(std::uint32_t rank, std::string_view label) const {
  // Row-major: the last dimension varies fastest.
  std::uint32_t rest = rank;
  for (std::size_t d = sizes.size(); d-- > 0;) {
    const std::uint32_t size = std::max<std::uint32_t>(1, sizes[d]);
    if (d < labels.size() && labels[d] == label) return rest % size;
    rest /= size;
  }
  return std::nullopt;
}

std::string MeshPlace::point(std::uint32_t rank) const {
  if (labels.size() != sizes.size() || labels.empty()) return fmt::format("rank {}", rank);
  std::string text;
  for (std::size_t d = 0; d < labels.size(); ++d) {
    if (d > 0) text += ',';
    text += fmt::format("{}={}/{}", labels[d], coordinate(rank, labels[d]).value_or(0), sizes[d]);
  }
  return text;
}

}  // namespace zmesh
