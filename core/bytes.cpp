#include "zmesh/core/bytes.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace zmesh::internal {

std::string bulk_reference_of(const Bytes& bytes) {
  const std::uint32_t index = append_bulk_frame(bytes.frame());
  // Big-endian, as msgpack's own integers, so the body reads the same on every host.
  return std::string{static_cast<char>(index >> 24), static_cast<char>(index >> 16),
                     static_cast<char>(index >> 8), static_cast<char>(index)};
}

Bytes resolve_bulk_reference(const msgpack::object& object) {
  if (object.type != msgpack::type::EXT || object.via.ext.type() != bulk_reference_ext ||
      object.via.ext.size != 4) {
    throw std::runtime_error(fmt::format(
        "a bulk field holds no bulk reference (an ext value of type {} and 4 bytes), but a "
        "msgpack value of type {}{}",
        bulk_reference_ext, static_cast<int>(object.type),
        object.type == msgpack::type::EXT
            ? fmt::format(" (ext type {}, {} bytes)", object.via.ext.type(), object.via.ext.size)
            : std::string()));
  }
  const auto* body = reinterpret_cast<const unsigned char*>(object.via.ext.data());
  const std::uint32_t index = (std::uint32_t{body[0]} << 24) | (std::uint32_t{body[1]} << 16) |
                              (std::uint32_t{body[2]} << 8) | std::uint32_t{body[3]};
  return Bytes(bulk_frame(index));
}

}  // namespace zmesh::internal
