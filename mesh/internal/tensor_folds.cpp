#include "zmesh/mesh/internal/tensor_folds.hpp"

#include "zmesh/core/tensor.hpp"

#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <tuple>

namespace zmesh::internal {
namespace {

enum class Op { sum, min, max };

// Where a tensor value's parts are: its element tag and shape, and the index of the frame
// that holds the elements.
struct TensorParts {
  std::string tag;
  TensorShape shape;
  std::size_t frame = 0;
};

using ElementTypes = std::tuple<float, double, std::int8_t, std::int16_t, std::int32_t,
                                std::int64_t, std::uint8_t, std::uint16_t, std::uint32_t,
                                std::uint64_t>;

// Calls visit(T{}) for the element type whose tag is `tag`; false when there is none.
template <class Visit>
bool with_element(std::string_view tag, Visit&& visit) {
  return std::apply(
      [&](auto... types) {
        return ((element_tag<decltype(types)>() == tag ? (visit(types), true) : false) || ...);
      },
      ElementTypes{});
}

Result<TensorParts> tensor_parts(std::string_view reducer, const Frames& value) {
  if (value.empty()) {
    return Error(ErrorCode::decode_error, fmt::format("reducer {}: a value has no frames", reducer));
  }
  try {
    const msgpack::object object = unpack_scratch(value.front().data(), value.front().size());
    if (object.type != msgpack::type::ARRAY || object.via.array.size != 3 ||
        object.via.array.ptr[0].type != msgpack::type::STR) {
      throw std::runtime_error("it is not a [tag, shape, reference] array; reply with a zmesh::Tensor");
    }
    const msgpack::object& tag = object.via.array.ptr[0];
    TensorParts parts{std::string(tag.via.str.ptr, tag.via.str.size), {}, 0};
    std::size_t element_size = 0;
    if (!with_element(parts.tag, [&](auto type) { element_size = sizeof(type); })) {
      throw std::runtime_error(fmt::format("its element tag \"{}\" is not a known element type", parts.tag));
    }
    // Checks the shape, the reference and the element frame's size against each other.
    BulkDecodeScope scope(value);
    parts.shape = decode_tensor(object, parts.tag, element_size).shape;
    const auto* index = reinterpret_cast<const unsigned char*>(object.via.array.ptr[2].via.ext.data());
    parts.frame = (std::size_t{index[0]} << 24) | (std::size_t{index[1]} << 16) |
                  (std::size_t{index[2]} << 8) | std::size_t{index[3]};
    return parts;
  } catch (const std::exception& e) {
    return Error(ErrorCode::decode_error,
                 fmt::format("reducer {}: a value is not a tensor: {}", reducer, e.what()));
  }
}

// The encoded body of a tensor whose elements are frame 1.
Frame tensor_body(std::string_view tag, const TensorShape& shape) {
  msgpack::sbuffer buffer(64);
  msgpack::packer<msgpack::sbuffer> out(buffer);
  out.pack_array(3);
  out.pack(tag);
  out.pack(shape);
  const char reference[4] = {0, 0, 0, 1};
  out.pack_ext(sizeof reference, bulk_reference_ext);
  out.pack_ext_body(reference, sizeof reference);
  return Frame::copy_of(std::string_view(buffer.data(), buffer.size()));
}

// Owns an element buffer that a fold allocated; its type marks the buffer as one a later
// fold may write in place (std::get_deleter finds it).
template <class T>
struct FoldBuffer {
  void operator()(const void* elements) const { delete[] static_cast<const T*>(elements); }
};

template <class T>
T combine(Op op, T a, T b) {
  switch (op) {
    case Op::sum:
      if constexpr (std::is_integral_v<T>) {
        // Wraps around, as unsigned arithmetic does (signed overflow would be undefined).
        using Unsigned = std::make_unsigned_t<T>;
        return static_cast<T>(static_cast<Unsigned>(a) + static_cast<Unsigned>(b));
      } else {
        return a + b;
      }
    case Op::min:
    case Op::max:
      if constexpr (std::is_floating_point_v<T>) {
        if (a != a || b != b) return a + b;  // NaN
      }
      return (op == Op::min ? b < a : a < b) ? b : a;
  }
  return a;
}

// out[i] = combine(x[i], y[i]); x and y may lie anywhere in a receive buffer.
template <class T, Op op>
void fold_elements(const std::byte* x, const std::byte* y, T* out, std::size_t count) {
  const auto aligned = [](const std::byte* p) {
    return reinterpret_cast<std::uintptr_t>(p) % alignof(T) == 0;
  };
  if (aligned(x) && aligned(y)) {
    const T* a = reinterpret_cast<const T*>(x);
    const T* b = reinterpret_cast<const T*>(y);
    for (std::size_t i = 0; i < count; ++i) out[i] = combine<T>(op, a[i], b[i]);
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      T a;
      T b;
      std::memcpy(&a, x + i * sizeof(T), sizeof(T));
      std::memcpy(&b, y + i * sizeof(T), sizeof(T));
      out[i] = combine<T>(op, a, b);
    }
  }
}

template <class T>
Frames fold_tensors(Op op, const Frames& lower, const TensorParts& left, const Frames& higher,
                    const TensorParts& right) {
  const Frame& a = lower[left.frame];
  const Frame& b = higher[right.frame];
  const std::size_t count = a.size() / sizeof(T);
  T* out = nullptr;
  Frames folded;
  if (std::get_deleter<FoldBuffer<T>>(a.owner()) != nullptr && a.owner().use_count() == 1) {
    // A buffer an earlier fold made, held only by the accumulator this fold replaces: no one
    // else can see it change, so the elements are folded where they are.
    out = const_cast<T*>(reinterpret_cast<const T*>(a.data()));
    folded = lower;
  } else {
    std::shared_ptr<const void> buffer(std::make_unique_for_overwrite<T[]>(count).release(),
                                       FoldBuffer<T>{});
    out = const_cast<T*>(static_cast<const T*>(buffer.get()));
    folded = Frames{tensor_body(left.tag, left.shape),
                    Frame::wrap(std::move(buffer), out, count * sizeof(T))};
  }
  const std::byte* x = a.bytes().data();
  const std::byte* y = b.bytes().data();
  switch (op) {
    case Op::sum:
      fold_elements<T, Op::sum>(x, y, out, count);
      break;
    case Op::min:
      fold_elements<T, Op::min>(x, y, out, count);
      break;
    case Op::max:
      fold_elements<T, Op::max>(x, y, out, count);
      break;
  }
  return folded;
}

ReducerOps element_wise(std::string_view name, Op op) {
  const std::string reducer(name);
  auto lift = [reducer](std::uint32_t, const Frames& input) -> Result<Frames> {
    auto parts = tensor_parts(reducer, input);
    if (!parts) return std::move(parts).error();
    return input;
  };
  auto fold = [reducer, op](const Frames& lower, const Frames& higher) -> Result<Frames> {
    auto left = tensor_parts(reducer, lower);
    if (!left) return std::move(left).error();
    auto right = tensor_parts(reducer, higher);
    if (!right) return std::move(right).error();
    if (left->tag != right->tag || left->shape != right->shape) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("reducer {}: a {} tensor of shape {} does not fold element-wise "
                               "with a {} tensor of shape {}; every rank must reply the same "
                               "element type and shape",
                               reducer, left->tag, shape_text(left->shape), right->tag,
                               shape_text(right->shape)));
    }
    Frames folded;
    with_element(left->tag, [&](auto type) {
      folded = fold_tensors<decltype(type)>(op, lower, *left, higher, *right);
    });
    return folded;
  };
  return ReducerOps{reducer, std::move(lift), std::move(fold)};
}

}  // namespace

std::optional<ReducerOps> tensor_reducer(std::string_view name) {
  if (name == Sum<Tensor<float>>::name || name == Mean<Tensor<float>>::name) {
    return element_wise(name, Op::sum);  // a mean is a sum until the client divides
  }
  if (name == Min<Tensor<float>>::name) return element_wise(name, Op::min);
  if (name == Max<Tensor<float>>::name) return element_wise(name, Op::max);
  return std::nullopt;
}

}  // namespace zmesh::internal
