#include "zmesh/mesh/cast_info.hpp"

namespace zmesh {

std::string encode_cast_header(std::string_view mesh, std::uint64_t cast_id, const ActorId& origin,
                               std::uint32_t rank, const std::vector<std::string>& labels,
                               const std::vector<std::size_t>& sizes) {
  std::string out;
  out.reserve(64 + mesh.size() + 16 * labels.size());
  internal::StringSink sink{out};
  msgpack::packer<internal::StringSink> pack(sink);
  pack.pack_array(6);
  pack.pack(mesh);
  pack.pack(cast_id);
  pack.pack(origin);
  pack.pack(rank);
  pack.pack(labels);
  pack.pack_array(static_cast<std::uint32_t>(sizes.size()));
  for (auto size : sizes) pack.pack(static_cast<std::uint32_t>(size));
  return out;
}

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
