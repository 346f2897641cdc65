#pragma once
// Tensor<T>: a typed, immutable view over a Bytes plus a shape (dimension sizes, row-major),
// for bulk arithmetic data in a message field. The elements travel as their own payload
// frame, exactly as a Bytes does (bytes.hpp); the msgpack body holds a 3-array
// [element tag, shape, bulk reference], e.g. ["f32", [4, 256], ext(frame 1)], so a later
// reader (a comm actor folding tensors element-wise) can find the tag, shape and frame
// without decoding the elements.
//   struct Grads { ZMESH_MESSAGE("app.Grads"); zmesh::Tensor<float> g; MSGPACK_DEFINE(g); };
//   Grads grads{zmesh::Tensor<float>(std::move(values))};   // adopts the vector, no copy
//   float sum = 0; for (float x : message.g.elements()) sum += x;  // in place in a handler
// Elements are in host byte order; zmesh runs on little-endian hosts only (checked below).
// Alignment: a received frame may start anywhere in ZeroMQ's receive buffer. Decoding
// checks the address; a frame not aligned for T is copied once into an aligned buffer, so
// elements() is always a valid span (zero copy whenever the frame is aligned, which
// buffers zmesh allocates always are).
// Lifetime: as for Bytes, a Tensor shares ownership of its frame and stays valid after the
// handler's turn (defined behaviour).
// Thread: immutable, copies may be used from any thread.
// Failure: a tag other than T's, a shape whose element count overflows, or a frame whose
// size is not elements * sizeof(T) is a decode_error naming both sides; the factories
// return Error{invalid_argument} for a shape that does not fit the elements.

#include "zmesh/core/bytes.hpp"
#include "zmesh/core/error.hpp"

#include <fmt/format.h>
#include <msgpack.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace zmesh {

static_assert(std::endian::native == std::endian::little,
              "zmesh::Tensor sends elements in host byte order and assumes little-endian hosts");

// An element type a Tensor can hold: arithmetic, except long double, whose layout differs
// between platforms and compilers, and bool, whose std::vector is bit-packed (use
// std::uint8_t for masks).
template <class T>
concept TensorElement = std::is_arithmetic_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T> &&
                        !std::is_same_v<T, long double> && !std::is_same_v<T, bool>;

// The wire tag of element type T: a kind letter (f floating, i signed, u unsigned) and its
// width in bits, e.g. "f32", "u8". char is i8 or u8 as its signedness is.
template <TensorElement T>
constexpr std::string_view element_tag() {
  constexpr std::size_t bits = sizeof(T) * 8;
  if constexpr (std::is_floating_point_v<T>) {
    static_assert(bits == 32 || bits == 64, "only 32- and 64-bit floating point elements");
    return bits == 32 ? "f32" : "f64";
  } else if constexpr (std::is_signed_v<T>) {
    return bits == 8 ? "i8" : bits == 16 ? "i16" : bits == 32 ? "i32" : "i64";
  } else {
    return bits == 8 ? "u8" : bits == 16 ? "u16" : bits == 32 ? "u32" : "u64";
  }
}

using TensorShape = std::vector<std::uint64_t>;

namespace internal {
// The number of elements of `shape`, or invalid_argument when the product overflows.
Result<std::uint64_t> tensor_elements(const TensorShape& shape);
// "[4, 256]".
std::string shape_text(const TensorShape& shape);
// Checks that `bytes` holds exactly the elements of `shape`; the error names both.
Result<void> check_tensor_bytes(std::string_view tag, std::size_t element_size,
                                const TensorShape& shape, const Bytes& bytes);
// Decodes the [tag, shape, reference] array of a tensor whose elements are `tag`; throws
// std::runtime_error naming what was wrong (decode_value makes it a decode_error).
struct DecodedTensor {
  TensorShape shape;
  Bytes bytes;
};
DecodedTensor decode_tensor(const msgpack::object& object, std::string_view tag,
                            std::size_t element_size);
}  // namespace internal

template <TensorElement T>
class Tensor {
 public:
  // An empty one-dimensional tensor (shape [0]).
  Tensor() : shape_{0} {}
  // One copy of `elements` into a new buffer; one dimension.
  explicit Tensor(std::span<const T> elements) : Tensor(std::vector<T>(elements.begin(), elements.end())) {}
  // Adopts `elements` without a copy; one dimension.
  explicit Tensor(std::vector<T>&& elements)
      : shape_{elements.size()}, bytes_(own(std::move(elements))) {}

  // Adopts `elements` (no copy) as a tensor of `shape`; invalid_argument if they differ.
  static Result<Tensor> adopt(std::vector<T> elements, TensorShape shape) {
    const std::size_t count = elements.size();
    return adopt(own(std::move(elements)), std::move(shape), count);
  }
  // Views `bytes` as a tensor of `shape`; invalid_argument unless bytes.size() is exactly
  // the shape's element count * sizeof(T). Copies once if `bytes` is not aligned for T.
  static Result<Tensor> adopt(Bytes bytes, TensorShape shape) {
    if (auto fits = internal::check_tensor_bytes(element_tag<T>(), sizeof(T), shape, bytes); !fits) {
      return Error(ErrorCode::invalid_argument, fits.error().message);
    }
    return Tensor(std::move(shape), aligned(std::move(bytes)));
  }

  std::span<const T> elements() const noexcept {
    return {reinterpret_cast<const T*>(bytes_.data()), bytes_.size() / sizeof(T)};
  }
  std::size_t size() const noexcept { return bytes_.size() / sizeof(T); }
  bool empty() const noexcept { return bytes_.empty(); }
  const TensorShape& shape() const noexcept { return shape_; }
  // The buffer, shared: what travels as the payload frame.
  const Bytes& bytes() const noexcept { return bytes_; }

  // -- msgpack (see the header comment for the layout) --
  template <class Packer>
  void msgpack_pack(Packer& out) const {
    out.pack_array(3);
    out.pack(element_tag<T>());
    out.pack(shape_);
    out.pack(bytes_);
  }
  void msgpack_unpack(const msgpack::object& object) {
    auto decoded = internal::decode_tensor(object, element_tag<T>(), sizeof(T));
    shape_ = std::move(decoded.shape);
    bytes_ = aligned(std::move(decoded.bytes));
  }

 private:
  Tensor(TensorShape shape, Bytes bytes) : shape_(std::move(shape)), bytes_(std::move(bytes)) {}

  static Result<Tensor> adopt(Bytes bytes, TensorShape shape, std::size_t count) {
    auto expected = internal::tensor_elements(shape);
    if (!expected) return std::move(expected).error();
    if (*expected != count) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("a tensor of shape {} has {} elements, but {} were given",
                               internal::shape_text(shape), *expected, count));
    }
    return Tensor(std::move(shape), std::move(bytes));
  }
  // A Bytes owning `elements`: the vector itself, so the buffer is aligned for T.
  static Bytes own(std::vector<T>&& elements) {
    auto holder = std::make_shared<const std::vector<T>>(std::move(elements));
    return Bytes(Frame::wrap(holder, holder->data(), holder->size() * sizeof(T)));
  }
  // `bytes` if aligned for T, else one copy into an aligned buffer.
  static Bytes aligned(Bytes bytes) {
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(T) == 0) return bytes;
    if (bytes.empty()) return Bytes();  // no elements: nothing to copy, and no odd address
    std::vector<T> copy(bytes.size() / sizeof(T));
    std::memcpy(copy.data(), bytes.data(), copy.size() * sizeof(T));
    return own(std::move(copy));
  }

  TensorShape shape_;
  Bytes bytes_;
};

}  // namespace zmesh
