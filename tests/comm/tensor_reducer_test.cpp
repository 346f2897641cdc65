// The element-wise tensor reducers as the relays run them: for every element type and odd
// sizes, Sum, Min and Max folded over encoded tensors equal a brute-force fold exactly
// (integer sums wrap, NaN wins Min and Max); elements at unaligned addresses fold the same;
// a fold writes in place only into a buffer no one else holds; values that are not tensors
// or do not match in shape or type are errors naming both sides.
#include "zmesh/mesh/reducer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace zmesh {
namespace {

template <class T>
Frames encoded(std::vector<T> values) {
  return encode_value_frames(Tensor<T>(std::move(values)));
}

template <class T>
std::vector<T> decoded(const Frames& value) {
  auto tensor = decode_value_frames<Tensor<T>>(value, "a folded tensor");
  EXPECT_TRUE(tensor.ok()) << tensor.error().describe();
  if (!tensor) return {};
  return {tensor->elements().begin(), tensor->elements().end()};
}

// Lifts `inputs` and folds them left to right, as a node folds its parts.
template <class T>
std::vector<T> fold_all(std::string_view reducer, const std::vector<std::vector<T>>& inputs) {
  auto ops = builtin_reducer(reducer);
  EXPECT_TRUE(ops.has_value()) << reducer;
  std::optional<Frames> acc;
  for (std::size_t rank = 0; rank < inputs.size(); ++rank) {
    auto lifted = ops->lift(static_cast<std::uint32_t>(rank), encoded(inputs[rank]));
    EXPECT_TRUE(lifted.ok()) << lifted.error().describe();
    if (!acc) {
      acc = *lifted;
      continue;
    }
    auto folded = ops->fold(*acc, *lifted);
    EXPECT_TRUE(folded.ok()) << folded.error().describe();
    acc = std::move(*folded);
  }
  return decoded<T>(*acc);
}

template <class T>
T wrapping_sum(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using Unsigned = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<Unsigned>(a) + static_cast<Unsigned>(b));
  } else {
    return a + b;
  }
}

template <class T>
class TensorFoldTest : public ::testing::Test {};
using ElementTypes = ::testing::Types<float, double, std::int8_t, std::int16_t, std::int32_t,
                                      std::int64_t, std::uint8_t, std::uint16_t, std::uint32_t,
                                      std::uint64_t>;
TYPED_TEST_SUITE(TensorFoldTest, ElementTypes);

TYPED_TEST(TensorFoldTest, SumMinAndMaxEqualABruteForceFoldForOddSizes) {
  using T = TypeParam;
  std::mt19937_64 random(7);
  for (std::size_t size : {std::size_t{1}, std::size_t{7}, std::size_t{1023}, std::size_t{4099}}) {
    for (std::size_t parts : {std::size_t{2}, std::size_t{5}}) {
      std::vector<std::vector<T>> inputs(parts, std::vector<T>(size));
      for (auto& input : inputs) {
        for (T& x : input) {
          // Whole range for integers, so sums wrap; any value for floats.
          if constexpr (std::is_integral_v<T>) {
            x = static_cast<T>(random());
          } else {
            x = static_cast<T>(std::uniform_real_distribution<double>(-1e6, 1e6)(random));
          }
        }
      }
      std::vector<T> sum = inputs.front();
      std::vector<T> min = inputs.front();
      std::vector<T> max = inputs.front();
      for (std::size_t k = 1; k < parts; ++k) {
        for (std::size_t i = 0; i < size; ++i) {
          sum[i] = wrapping_sum(sum[i], inputs[k][i]);
          min[i] = std::min(min[i], inputs[k][i]);
          max[i] = std::max(max[i], inputs[k][i]);
        }
      }
      EXPECT_EQ(fold_all<T>("zmesh.tensor.sum", inputs), sum) << size << " x " << parts;
      EXPECT_EQ(fold_all<T>("zmesh.tensor.min", inputs), min) << size << " x " << parts;
      EXPECT_EQ(fold_all<T>("zmesh.tensor.max", inputs), max) << size << " x " << parts;
    }
  }
}

TYPED_TEST(TensorFoldTest, ElementsAtUnalignedAddressesFoldTheSame) {
  using T = TypeParam;
  std::vector<T> a(33);
  std::vector<T> b(33);
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<T>(i);
    b[i] = static_cast<T>(2 * i + 1);
  }
  // As a receive buffer may hold it: one byte past an aligned address.
  auto unaligned = [](const std::vector<T>& values) {
    auto holder = std::make_shared<std::string>(values.size() * sizeof(T) + 1, '\0');
    std::memcpy(holder->data() + 1, values.data(), values.size() * sizeof(T));
    Frames frames = encode_value_frames(Tensor<T>(std::vector<T>(values)));
    frames[1] = Frame::wrap(holder, holder->data() + 1, values.size() * sizeof(T));
    return frames;
  };
  auto ops = builtin_reducer("zmesh.tensor.sum").value();
  auto folded = ops.fold(unaligned(a), unaligned(b));
  ASSERT_TRUE(folded.ok()) << folded.error().describe();
  const auto sums = decoded<T>(*folded);
  ASSERT_EQ(sums.size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(sums[i], wrapping_sum(a[i], b[i])) << i;
}

TEST(TensorFolds, NanInEitherOperandWinsMinAndMax) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::string_view reducer : {"zmesh.tensor.min", "zmesh.tensor.max"}) {
    const auto folded = fold_all<float>(reducer, {{nan, 1.0f, 2.0f}, {0.0f, nan, 3.0f}});
    ASSERT_EQ(folded.size(), 3u);
    EXPECT_TRUE(std::isnan(folded[0])) << reducer;
    EXPECT_TRUE(std::isnan(folded[1])) << reducer;
    EXPECT_EQ(folded[2], reducer == "zmesh.tensor.min" ? 2.0f : 3.0f);
  }
}

TEST(TensorFolds, AFoldWritesInPlaceOnlyIntoItsOwnUnsharedBuffer) {
  auto ops = builtin_reducer("zmesh.tensor.sum").value();
  const Frames a = encoded(std::vector<float>{1, 2, 3});
  const Frames b = encoded(std::vector<float>{10, 20, 30});
  // The first fold must not write into an input: it makes a buffer of its own.
  auto first = ops.fold(a, b);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(decoded<float>(a), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(decoded<float>(b), (std::vector<float>{10, 20, 30}));
  const char* own = (*first)[1].data();
  // Held only by the accumulator: the next fold reuses it ...
  Frames acc = std::move(*first);
  auto second = ops.fold(acc, b);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[1].data(), own);
  acc = std::move(*second);
  EXPECT_EQ(decoded<float>(acc), (std::vector<float>{21, 42, 63}));
  // ... but not while anyone else holds it.
  const Frames kept = acc;
  auto third = ops.fold(acc, b);
  ASSERT_TRUE(third.ok());
  EXPECT_NE((*third)[1].data(), own);
  EXPECT_EQ(decoded<float>(kept), (std::vector<float>{21, 42, 63}));
  EXPECT_EQ(decoded<float>(*third), (std::vector<float>{31, 62, 93}));
}

TEST(TensorFolds, MeanDividesTheSumByTheContributorsAtTheClient) {
  auto sum = Tensor<double>(std::vector<double>{3, 6, 9});
  auto mean = Mean<Tensor<double>>::finish(sum, 3);
  EXPECT_EQ(std::vector<double>(mean.elements().begin(), mean.elements().end()),
            (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(mean.shape(), sum.shape());
}

TEST(TensorFolds, ValuesThatDoNotFoldAreErrorsNamingBothSides) {
  auto ops = builtin_reducer("zmesh.tensor.sum").value();
  auto shapes = ops.fold(encoded(std::vector<float>(4)), encoded(std::vector<float>(5)));
  ASSERT_FALSE(shapes.ok());
  EXPECT_EQ(shapes.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(shapes.error().message.find("shape [4]"), std::string::npos) << shapes.error().message;
  EXPECT_NE(shapes.error().message.find("shape [5]"), std::string::npos) << shapes.error().message;

  auto types = ops.fold(encoded(std::vector<float>(4)), encoded(std::vector<std::int32_t>(4)));
  ASSERT_FALSE(types.ok());
  EXPECT_NE(types.error().message.find("f32"), std::string::npos) << types.error().message;
  EXPECT_NE(types.error().message.find("i32"), std::string::npos) << types.error().message;

  auto number = ops.lift(0, encode_value_frames(2.5));
  ASSERT_FALSE(number.ok());
  EXPECT_EQ(number.error().code, ErrorCode::decode_error);
  EXPECT_NE(number.error().message.find("not a tensor"), std::string::npos) << number.error().message;

  // A body whose reference names a frame the value does not have.
  Frames truncated = encoded(std::vector<float>(4));
  truncated.pop_back();
  auto missing = ops.lift(0, truncated);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::decode_error);

  // Elements whose frame is not a whole number of them.
  Frames short_frame = encoded(std::vector<float>(4));
  short_frame[1] = Frame::copy_of(std::string_view("abc"));
  EXPECT_FALSE(ops.lift(0, short_frame).ok());
}

}  // namespace
}  // namespace zmesh
