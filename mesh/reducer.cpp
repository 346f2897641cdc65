#include "zmesh/mesh/reducer.hpp"

#include "zmesh/mesh/internal/tensor_folds.hpp"

#include <fmt/ranges.h>

#include <cstring>

namespace zmesh {
namespace {

msgpack::object_handle unpack_object(std::string_view bytes) {
  return msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, decode_limits());
}

template <class Write>
std::string packed(Write write) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  write(packer);
  return std::string(buffer.data(), buffer.size());
}

Error decode_failure(std::string_view reducer, std::string_view what, const std::exception& e) {
  return Error(ErrorCode::decode_error,
               fmt::format("reducer {}: {} does not decode: {}", reducer, what, e.what()));
}

std::string_view type_name(msgpack::type::object_type type) {
  switch (type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "a boolean";
    case msgpack::type::STR:
      return "a string";
    case msgpack::type::BIN:
      return "binary";
    case msgpack::type::ARRAY:
      return "an array (a struct?)";
    case msgpack::type::MAP:
      return "a map";
    default:
      return "an extension";
  }
}

// -- numbers, for sum, min and max --

struct Number {
  enum class Kind { integer, floating } kind = Kind::integer;
  __int128 integer = 0;
  double floating = 0;

  double as_double() const {
    return kind == Kind::floating ? floating : static_cast<double>(integer);
  }
};

Result<Number> number_of(std::string_view reducer, std::string_view bytes) {
  try {
    auto handle = unpack_object(bytes);
    const msgpack::object& object = handle.get();
    switch (object.type) {
      case msgpack::type::POSITIVE_INTEGER:
        return Number{Number::Kind::integer, object.via.u64, 0};
      case msgpack::type::NEGATIVE_INTEGER:
        return Number{Number::Kind::integer, object.via.i64, 0};
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        return Number{Number::Kind::floating, 0, object.via.f64};
      default:
        return Error(ErrorCode::decode_error,
                     fmt::format("reducer {} folds numbers, but a reply is {}; reply with an "
                                 "integer or a floating-point number",
                                 reducer, type_name(object.type)));
    }
  } catch (const std::exception& e) {
    return decode_failure(reducer, "a reply", e);
  }
}

// A msgpack float64 written directly: msgpack-cxx 4.1's pack_double converts the value to an
// integer to test whether it is one, which is undefined behaviour from 2^64 on (a sum of two
// forged replies reaches it; found by fuzz_comm_messages).
std::string pack_float64(double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  std::string bytes(9, '\0');
  bytes[0] = static_cast<char>(0xcb);
  for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
  return bytes;
}

Result<std::string> pack_number(std::string_view reducer, const Number& number) {
  if (number.kind == Number::Kind::floating) return pack_float64(number.floating);
  if (number.integer >= 0 && number.integer <= std::numeric_limits<std::uint64_t>::max()) {
    return pack_bytes(static_cast<std::uint64_t>(number.integer));
  }
  if (number.integer < 0 && number.integer >= std::numeric_limits<std::int64_t>::min()) {
    return pack_bytes(static_cast<std::int64_t>(number.integer));
  }
  return Error(ErrorCode::invalid_argument,
               fmt::format("reducer {}: the sum no longer fits 64 bits", reducer));
}

// Lifts a reply that must be a number, unchanged.
Result<std::string> lift_number(std::string_view reducer, std::string_view input) {
  auto number = number_of(reducer, input);
  if (!number) return std::move(number).error();
  return std::string(input);
}

Result<std::string> add(std::string_view lower, std::string_view higher) {
  auto left = number_of("zmesh.sum", lower);
  if (!left) return std::move(left).error();
  auto right = number_of("zmesh.sum", higher);
  if (!right) return std::move(right).error();
  Number sum;
  if (left->kind == Number::Kind::floating || right->kind == Number::Kind::floating) {
    sum = Number{Number::Kind::floating, 0, left->as_double() + right->as_double()};
  } else {
    sum = Number{Number::Kind::integer, left->integer + right->integer, 0};
  }
  return pack_number("zmesh.sum", sum);
}

// Keeps the lower-ranked operand on ties, so the pick is deterministic.
Result<std::string> pick(std::string_view reducer, bool keep_smaller, std::string_view lower,
                         std::string_view higher) {
  auto left = number_of(reducer, lower);
  if (!left) return std::move(left).error();
  auto right = number_of(reducer, higher);
  if (!right) return std::move(right).error();
  bool take_right = false;
  if (left->kind == Number::Kind::integer && right->kind == Number::Kind::integer) {
    take_right = keep_smaller ? right->integer < left->integer : right->integer > left->integer;
  } else {
    take_right = keep_smaller ? right->as_double() < left->as_double()
                              : right->as_double() > left->as_double();
  }
  return std::string(take_right ? higher : lower);
}

// -- gather: an array of runs [start, count, value], values compared as msgpack --

Result<std::string> gather_lift(std::uint32_t rank, std::string_view input) {
  try {
    auto handle = unpack_object(input);  // checks it is one msgpack value
    return packed([&](auto& packer) {
      packer.pack_array(1);
      packer.pack_array(3);
      packer.pack(rank);
      packer.pack(std::uint32_t{1});
      packer.pack(handle.get());
    });
  } catch (const std::exception& e) {
    return decode_failure("zmesh.gather", "a reply", e);
  }
}

Result<std::string> gather_fold(std::string_view lower, std::string_view higher) {
  try {
    auto left_handle = unpack_object(lower);
    auto right_handle = unpack_object(higher);
    const msgpack::object& left = left_handle.get();
    const msgpack::object& right = right_handle.get();
    auto runs_of = [](const msgpack::object& object) {
      if (object.type != msgpack::type::ARRAY) throw msgpack::type_error();
      for (const auto& run : std::span(object.via.array.ptr, object.via.array.size)) {
        if (run.type != msgpack::type::ARRAY || run.via.array.size != 3)
          throw msgpack::type_error();
      }
      return std::span(object.via.array.ptr, object.via.array.size);
    };
    auto left_runs = runs_of(left);
    auto right_runs = runs_of(right);
    // Adjacent ranks with equal values across the seam become one run.
    bool merge = false;
    std::uint32_t merged_count = 0;
    if (!left_runs.empty() && !right_runs.empty()) {
      const auto* last = left_runs.back().via.array.ptr;
      const auto* first = right_runs.front().via.array.ptr;
      merge = last[0].as<std::uint32_t>() + last[1].as<std::uint32_t>() ==
                  first[0].as<std::uint32_t>() &&
              last[2] == first[2];
      if (merge) merged_count = last[1].as<std::uint32_t>() + first[1].as<std::uint32_t>();
    }
    return packed([&](auto& packer) {
      packer.pack_array(
          static_cast<std::uint32_t>(left_runs.size() + right_runs.size() - (merge ? 1 : 0)));
      for (std::size_t i = 0; i < left_runs.size(); ++i) {
        if (merge && i + 1 == left_runs.size()) {
          const auto* last = left_runs[i].via.array.ptr;
          packer.pack_array(3);
          packer.pack(last[0]);
          packer.pack(merged_count);
          packer.pack(last[2]);
        } else {
          packer.pack(left_runs[i]);
        }
      }
      for (std::size_t i = merge ? 1 : 0; i < right_runs.size(); ++i) packer.pack(right_runs[i]);
    });
  } catch (const std::exception& e) {
    return decode_failure("zmesh.gather", "a partial value mesh", e);
  }
}

// A value with no bulk frames: its msgpack body.
Frames body_only(std::string bytes) { return Frames{Frame::from_string(std::move(bytes))}; }

Result<std::string_view> body_of(std::string_view reducer, const Frames& value) {
  if (value.empty()) {
    return Error(ErrorCode::decode_error, fmt::format("reducer {}: a value has no frames", reducer));
  }
  return value.front().view();
}

// The relay form of a built-in reducer over msgpack bodies (numbers, gathers).
using BodyLift = std::function<Result<std::string>(std::uint32_t, std::string_view)>;
using BodyFold = std::function<Result<std::string>(std::string_view, std::string_view)>;
ReducerOps on_bodies(std::string name, BodyLift lift, BodyFold fold) {
  auto lift_frames = [name, lift = std::move(lift)](std::uint32_t rank,
                                                    const Frames& input) -> Result<Frames> {
    auto body = body_of(name, input);
    if (!body) return std::move(body).error();
    auto lifted = lift(rank, *body);
    if (!lifted) return std::move(lifted).error();
    return body_only(std::move(*lifted));
  };
  auto fold_frames = [name, fold = std::move(fold)](const Frames& lower,
                                                    const Frames& higher) -> Result<Frames> {
    auto left = body_of(name, lower);
    if (!left) return std::move(left).error();
    auto right = body_of(name, higher);
    if (!right) return std::move(right).error();
    auto folded = fold(*left, *right);
    if (!folded) return std::move(folded).error();
    return body_only(std::move(*folded));
  };
  return ReducerOps{std::move(name), std::move(lift_frames), std::move(fold_frames)};
}

}  // namespace

std::optional<ReducerOps> builtin_reducer(std::string_view name) {
  if (name == Sum<int>::name) {
    return on_bodies(
        std::string(name),
        [](std::uint32_t, std::string_view input) { return lift_number("zmesh.sum", input); }, add);
  }
  if (name == Min<int>::name || name == Max<int>::name) {
    const bool smaller = name == Min<int>::name;
    const std::string reducer(name);
    return on_bodies(
        reducer,
        [reducer](std::uint32_t, std::string_view input) { return lift_number(reducer, input); },
        [reducer, smaller](std::string_view lower, std::string_view higher) {
          return pick(reducer, smaller, lower, higher);
        });
  }
  if (name == Count<int>::name) {
    return on_bodies(std::string(name),
                     [](std::uint32_t, std::string_view) -> Result<std::string> {
                       return pack_bytes(std::uint64_t{1});
                     },
                     add);
  }
  if (name == Gather<int>::name) return on_bodies(std::string(name), gather_lift, gather_fold);
  return internal::tensor_reducer(name);
}

ReducerTable::ReducerTable() {
  for (auto name :
       {Sum<int>::name, Min<int>::name, Max<int>::name, Count<int>::name, Gather<int>::name,
        Sum<Tensor<float>>::name, Min<Tensor<float>>::name, Max<Tensor<float>>::name,
        Mean<Tensor<float>>::name}) {
    ops_.emplace(std::string(name), *builtin_reducer(name));
  }
}

Result<void> ReducerTable::add(ReducerOps ops) {
  auto name = ops.name;
  if (!ops_.emplace(name, std::move(ops)).second) {
    return Error(ErrorCode::duplicate,
                 fmt::format("reducer \"{}\" is already registered (registered: {}); give each "
                             "reducer its own name",
                             name, fmt::join(names(), ", ")));
  }
  return {};
}

const ReducerOps* ReducerTable::find(std::string_view name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> ReducerTable::names() const {
  std::vector<std::string> names;
  for (const auto& [name, ops] : ops_) names.push_back(name);
  return names;
}

}  // namespace zmesh
