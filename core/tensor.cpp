#include "zmesh/core/tensor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <limits>
#include <stdexcept>

namespace zmesh::internal {
namespace {

// More dimensions than any real tensor has; a forged shape fails before it is multiplied.
constexpr std::size_t max_dimensions = 32;

}  // namespace

Result<std::uint64_t> tensor_elements(const TensorShape& shape) {
  if (shape.size() > max_dimensions) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("a tensor shape has {} dimensions, at most {} are allowed",
                             shape.size(), max_dimensions));
  }
  std::uint64_t count = 1;
  for (std::uint64_t size : shape) {
    if (size != 0 && count > std::numeric_limits<std::uint64_t>::max() / size) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("tensor shape {} has more than 2^64 elements", shape_text(shape)));
    }
    count *= size;
  }
  return count;
}

std::string shape_text(const TensorShape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Result<void> check_tensor_bytes(std::string_view tag, std::size_t element_size,
                                const TensorShape& shape, const Bytes& bytes) {
  auto count = tensor_elements(shape);
  if (!count) return std::move(count).error();
  const bool fits = *count <= std::numeric_limits<std::uint64_t>::max() / element_size &&
                    *count * element_size == bytes.size();
  if (!fits) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("a {} tensor of shape {} needs {} elements of {} bytes, but its "
                             "buffer holds {} bytes",
                             tag, shape_text(shape), *count, element_size, bytes.size()));
  }
  return {};
}

DecodedTensor decode_tensor(const msgpack::object& object, std::string_view tag,
                            std::size_t element_size) {
  if (object.type != msgpack::type::ARRAY || object.via.array.size != 3) {
    throw std::runtime_error(fmt::format(
        "a Tensor<{}> field holds no [tag, shape, reference] array (msgpack type {})", tag,
        static_cast<int>(object.type)));
  }
  const msgpack::object* parts = object.via.array.ptr;
  if (parts[0].type != msgpack::type::STR) {
    throw std::runtime_error(fmt::format("a Tensor<{}> field's element tag is not a string", tag));
  }
  const std::string_view sent(parts[0].via.str.ptr, parts[0].via.str.size);
  if (sent != tag) {
    throw std::runtime_error(fmt::format(
        "a tensor of {} elements arrived where a Tensor<{}> was expected", sent, tag));
  }
  DecodedTensor decoded;
  try {
    parts[1].convert(decoded.shape);
  } catch (const std::exception&) {
    throw std::runtime_error(fmt::format(
        "a Tensor<{}> field's shape is not a list of dimension sizes (msgpack type {})", tag,
        static_cast<int>(parts[1].type)));
  }
  decoded.bytes = resolve_bulk_reference(parts[2]);
  if (auto fits = check_tensor_bytes(tag, element_size, decoded.shape, decoded.bytes); !fits) {
    throw std::runtime_error(fits.error().message);
  }
  return decoded;
}

}  // namespace zmesh::internal
