#pragma once
// Reducers: how the replies to a cast fold into one value on their way up the comm tree.
// Built in: Sum<T>, Min<T>, Max<T> (numbers, or Tensor<T> element-wise), Mean<Tensor<T>>,
// Count<T> (how many replied) and Gather<T> (a ValueMesh: rank -> value, run-length
// compressed). Relays fold without knowing T - the
// built-ins work on msgpack values - so they need no registration. A user-defined reducer:
//   struct Longest {
//     static constexpr std::string_view name = "app.longest";  // unique and stable
//     using Input = std::string;  // what each actor replies
//     using Value = std::string;  // what is folded, and what the client gets
//     static Value lift(std::uint32_t rank, const Input& input) { return input; }
//     static Value fold(const Value& lower, const Value& higher);  // associative
//   };
// is registered on the procs with zmesh::add_reducer<Longest>(*registry). Folds always go in
// rank order (lower ranks on the left), so `fold` need not be commutative.
// Integer sums are exact within 64 bits (signed or unsigned); one float operand makes the sum
// a double.
// Thread: ReducerOps are immutable; a ReducerTable is filled before zmesh::init and then
// only read, like the Registry that holds it.
// Failure: a reply or partial that does not decode as the reducer expects, or a sum that
// overflows, is an Error (decode_error, invalid_argument) that makes the ranks concerned
// missing; it never fails the comm actor.

#include "zmesh/core/error.hpp"
#include "zmesh/core/message.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/core/tensor.hpp"
#include "zmesh/mesh/value_mesh.hpp"

#include <fmt/format.h>
#include <msgpack.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace zmesh {

template <class R>
concept Reducer = requires {
  { R::name } -> std::convertible_to<std::string_view>;
  typename R::Input;
  typename R::Value;
};

// A reducer that brings its own (typed) lift and fold: it must be registered on the procs.
template <class R>
concept CustomReducer = Reducer<R> &&
    requires(std::uint32_t rank, const typename R::Input& input, const typename R::Value& value) {
  { R::lift(rank, input) } -> std::convertible_to<typename R::Value>;
  { R::fold(value, value) } -> std::convertible_to<typename R::Value>;
};

// -- built-in reducers (no registration needed) --
// Sum, Min and Max fold numbers, or Tensor<T>s element-wise (below).
#define ZMESH_NUMBERS_ONLY(reducer)                                                          \
  static_assert(std::is_arithmetic_v<T>, reducer "<T> folds numbers: T must be an arithmetic " \
                                                 "type, or a zmesh::Tensor to fold element-wise " \
                                                 "(reply with a zmesh::Tensor<float>, not a "   \
                                                 "std::vector<float>)")
template <class T>
struct Sum {
  ZMESH_NUMBERS_ONLY("Sum");
  static constexpr std::string_view name = "zmesh.sum";
  using Input = T;
  using Value = T;
};
template <class T>
struct Min {
  ZMESH_NUMBERS_ONLY("Min");
  static constexpr std::string_view name = "zmesh.min";
  using Input = T;
  using Value = T;
};
template <class T>
struct Max {
  ZMESH_NUMBERS_ONLY("Max");
  static constexpr std::string_view name = "zmesh.max";
  using Input = T;
  using Value = T;
};
// The element-wise mean of floating-point tensors (below); there is no scalar Mean.
template <class T>
struct Mean {
  static_assert(sizeof(T) == 0,
                "Mean<T> averages zmesh::Tensor<float> or zmesh::Tensor<double> element-wise; for "
                "numbers, reduce with Sum and divide by contributors");
};
#undef ZMESH_NUMBERS_ONLY

// Element-wise over tensors: every rank replies a Tensor<T> of one shape, and each comm actor
// folds the elements where they lie (one pass, no msgpack per element, in place once it owns
// the buffer). Sums and means are computed in T: integer sums wrap around like unsigned
// arithmetic, float sums round at every fold, in rank order within each tree node. A NaN in
// either operand makes Min and Max give NaN. Mean divides the sum by the contributors at the
// client. Tensors of another shape or element type make their ranks missing, saying so.
template <TensorElement T>
struct ElementWise {
  using Input = Tensor<T>;
  using Value = Tensor<T>;
};
template <TensorElement T>
struct Sum<Tensor<T>> : ElementWise<T> {
  static constexpr std::string_view name = "zmesh.tensor.sum";
};
template <TensorElement T>
struct Min<Tensor<T>> : ElementWise<T> {
  static constexpr std::string_view name = "zmesh.tensor.min";
};
template <TensorElement T>
struct Max<Tensor<T>> : ElementWise<T> {
  static constexpr std::string_view name = "zmesh.tensor.max";
};
template <TensorElement T>
  requires std::is_floating_point_v<T>
struct Mean<Tensor<T>> : ElementWise<T> {
  static constexpr std::string_view name = "zmesh.tensor.mean";
  // The relays sum; the client divides once.
  static Tensor<T> finish(const Tensor<T>& sum, std::uint64_t contributors) {
    std::vector<T> mean(sum.elements().begin(), sum.elements().end());
    const T divisor = static_cast<T>(contributors);
    for (T& x : mean) x /= divisor;
    return Tensor<T>::adopt(std::move(mean), sum.shape()).value();
  }
};

// How many ranks replied; what they replied (a T) is ignored.
template <class T>
struct Count {
  static constexpr std::string_view name = "zmesh.count";
  using Input = T;
  using Value = std::uint64_t;
};
// Every rank's reply, as a ValueMesh over the cast's shape.
template <class T>
struct Gather {
  static constexpr std::string_view name = "zmesh.gather";
  using Input = T;
  using Value = ValueMesh<T>;
};

template <class V>
struct IsValueMesh : std::false_type {};
template <class T>
struct IsValueMesh<ValueMesh<T>> : std::true_type {
  using Element = T;
};

// A reducer as the relays run it: encoded values in, encoded values out. A value is its
// frames (encode_value_frames): the msgpack body, then one frame per bulk field, so a
// Tensor travels and folds as its own frame, never as msgpack elements.
struct ReducerOps {
  std::string name;
  // One actor's reply (an Input) -> an accumulator (a Value).
  std::function<Result<Frames>(std::uint32_t rank, const Frames& input)> lift;
  // Two accumulators -> one; `lower` covers lower ranks than `higher`.
  std::function<Result<Frames>(const Frames& lower, const Frames& higher)> fold;
};

// The built-in reducer called `name`, if there is one.
std::optional<ReducerOps> builtin_reducer(std::string_view name);

// -- msgpack bytes <-> values --
template <class T>
Result<T> unpack_bytes(std::string_view bytes, std::string_view what) {
  try {
    auto handle = msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, decode_limits());
    return handle.get().as<T>();
  } catch (const std::exception& e) {
    return Error(ErrorCode::decode_error,
                 fmt::format("{} ({} bytes) does not decode: {}", what, bytes.size(), e.what()));
  }
}
template <class T>
std::string pack_bytes(const T& value) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, value);
  return std::string(buffer.data(), buffer.size());
}

// The relay form of a user-defined reducer.
template <CustomReducer R>
ReducerOps erase_reducer() {
  using Input = typename R::Input;
  using Value = typename R::Value;
  return ReducerOps{std::string(R::name),
                    [](std::uint32_t rank, const Frames& input) -> Result<Frames> {
                      auto decoded = decode_value_frames<Input>(
                          input, fmt::format("a reply for reducer {}", R::name));
                      if (!decoded) return std::move(decoded).error();
                      return encode_value_frames<Value>(R::lift(rank, *decoded));
                    },
                    [](const Frames& lower, const Frames& higher) -> Result<Frames> {
                      const auto what = fmt::format("a partial value of reducer {}", R::name);
                      auto left = decode_value_frames<Value>(lower, what);
                      if (!left) return std::move(left).error();
                      auto right = decode_value_frames<Value>(higher, what);
                      if (!right) return std::move(right).error();
                      return encode_value_frames<Value>(R::fold(*left, *right));
                    }};
}

// The relay form of any reducer: its own for a CustomReducer, the built-in one otherwise.
template <Reducer R>
Result<ReducerOps> reducer_ops() {
  if constexpr (CustomReducer<R>) {
    return erase_reducer<R>();
  } else {
    auto builtin = builtin_reducer(R::name);
    if (!builtin) {
      return Error(
          ErrorCode::not_found,
          fmt::format("reducer \"{}\" is neither built in nor defines lift and fold", R::name));
    }
    return std::move(*builtin);
  }
}

// The client's value from a reduce's folded frames; a Gather's ValueMesh spans `extent`.
template <class V>
Result<V> decode_reduced(const Frames& value, const Extent& extent) {
  if constexpr (IsValueMesh<V>::value) {
    using T = typename IsValueMesh<V>::Element;
    auto runs = decode_value_frames<std::vector<ValueRun<T>>>(value, "the gathered value mesh");
    if (!runs) return std::move(runs).error();
    return V(extent, std::move(*runs));
  } else {
    return decode_value_frames<V>(value, "the reduced value");
  }
}

// The reducers a comm actor can fold, by name: the built-ins plus the registered ones.
class ReducerTable {
 public:
  ReducerTable();
  // A second reducer of one name is a duplicate error.
  Result<void> add(ReducerOps ops);
  const ReducerOps* find(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, ReducerOps, std::less<>> ops_;
};

// Makes reducer R known to the comm actors of every proc that uses `registry` (add it before
// zmesh::init, like actor types). Errors: another reducer has R's name.
template <CustomReducer R>
Result<void> add_reducer(Registry& registry) {
  auto table = registry.extension<ReducerTable>();
  if (!table) {
    table = std::make_shared<ReducerTable>();
    registry.set_extension(table);
  }
  return table->add(erase_reducer<R>());
}

}  // namespace zmesh
