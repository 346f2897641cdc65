#include "zmesh/mesh/cast_info.hpp"

namespace zmesh {

std::optional<CastInfo> cast_info(const Context& ctx) {
  auto header = ctx.headers().get<CastHeader>(cast_header_key);
  if (!header) return std::nullopt;
  std::vector<std::size_t> sizes(header->sizes.begin(), header->sizes.end());
  auto extent = Extent::create(header->labels, std::move(sizes));
  if (!extent) return std::nullopt;
  auto point = Point::of_rank(*extent, header->rank);
  if (!point) return std::nullopt;
  return CastInfo{header->mesh, header->cast_id, header->origin, header->rank, std::move(*point)};
}

}  // namespace zmesh
