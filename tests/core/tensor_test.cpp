// Tensors in messages: round trips of every element type and shape through the real
// encode/decode path without copies, adoption of a vector without a copy, a misaligned
// received frame (copied once, values intact), and hostile element types, sizes and shapes
// (decode_errors naming both sides).
#include "zmesh/core/envelope.hpp"
#include "zmesh/core/tensor.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <numeric>

namespace zmesh {
namespace {

template <class T>
struct Holds {
  ZMESH_MESSAGE("test.Holds");
  Tensor<T> values;
  std::string label;
  MSGPACK_DEFINE(values, label);
};

template <class T>
class TensorTypesTest : public ::testing::Test {};
using ElementTypes = ::testing::Types<float, double, char, std::int8_t, std::uint8_t, std::int16_t,
                                      std::uint16_t, std::int32_t, std::uint32_t, std::int64_t, std::uint64_t>;
TYPED_TEST_SUITE(TensorTypesTest, ElementTypes);

TYPED_TEST(TensorTypesTest, RoundTripKeepsShapeAndElementsAndSharesTheFrame) {
  using T = TypeParam;
  std::vector<T> values(2 * 3 * 5);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<T>(i % 2 == 0 ? i : 1);  // no overflow: i < 30
  const std::vector<T> expected = values;
  auto tensor = Tensor<T>::adopt(std::move(values), {2, 3, 5});
  ASSERT_TRUE(tensor.ok()) << tensor.error().describe();
  const Holds<T> message{*tensor, "t"};
  const auto frames = encode_frames(message);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].size(), expected.size() * sizeof(T));

  auto decoded = decode<Holds<T>>(frames);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->values.shape(), (TensorShape{2, 3, 5}));
  EXPECT_EQ(std::vector<T>(decoded->values.elements().begin(), decoded->values.elements().end()), expected);
  EXPECT_EQ(decoded->values.elements().data(), message.values.elements().data()) << "copied";
  EXPECT_EQ(decoded->label, "t");
}

TEST(TensorTest, AdoptingAVectorDoesNotCopyItAndASpanIsCopiedOnce) {
  std::vector<float> values(1000, 1.5f);
  const float* where = values.data();
  const Tensor<float> adopted(std::move(values));
  EXPECT_EQ(adopted.elements().data(), where);
  EXPECT_EQ(adopted.shape(), TensorShape{1000});

  const std::vector<double> source{1, 2, 3};
  const Tensor<double> copied{std::span<const double>(source)};
  EXPECT_NE(copied.elements().data(), source.data());
  EXPECT_EQ(std::vector<double>(copied.elements().begin(), copied.elements().end()), source);
}

TEST(TensorTest, AShapeThatDoesNotFitTheElementsIsInvalid) {
  auto wrong = Tensor<float>::adopt(std::vector<float>(6), {4, 2});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(wrong.error().message.find("[4, 2] has 8 elements, but 6"), std::string::npos)
      << wrong.error().message;
  auto bytes = Tensor<std::int32_t>::adopt(Bytes::copy_of(std::string_view("1234567")), {2});
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.error().message.find("7 bytes"), std::string::npos) << bytes.error().message;
  EXPECT_TRUE(Tensor<std::int32_t>::adopt(Bytes::copy_of(std::string_view("12345678")), {2}).ok());
}

TEST(TensorTest, AScalarAndAnEmptyTensorRoundTrip) {
  const Holds<double> scalar{Tensor<double>::adopt({2.5}, {}).value(), "scalar"};
  auto decoded = decode<Holds<double>>(encode_frames(scalar));
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->values.shape(), TensorShape{});
  ASSERT_EQ(decoded->values.size(), 1u);
  EXPECT_EQ(decoded->values.elements()[0], 2.5);

  auto empty = decode<Holds<float>>(encode_frames(Holds<float>{}));
  ASSERT_TRUE(empty.ok()) << empty.error().describe();
  EXPECT_TRUE(empty->values.empty());
  EXPECT_EQ(empty->values.shape(), TensorShape{0});
}

TEST(TensorTest, AMisalignedFrameIsCopiedOnceIntoAnAlignedBuffer) {
  std::vector<double> values(64);
  std::iota(values.begin(), values.end(), 0.5);
  auto frames = encode_frames(Holds<double>{Tensor<double>(std::span<const double>(values)), ""});
  // As ZeroMQ may hand it over: the same bytes, starting at an odd address.
  auto storage = std::make_shared<std::string>(values.size() * sizeof(double) + 1, '\0');
  std::memcpy(storage->data() + 1, values.data(), values.size() * sizeof(double));
  frames[1] = Frame::wrap(storage, storage->data() + 1, values.size() * sizeof(double));

  auto decoded = decode<Holds<double>>(frames);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  const auto elements = decoded->values.elements();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(elements.data()) % alignof(double), 0u);
  EXPECT_EQ(std::vector<double>(elements.begin(), elements.end()), values);
}

TEST(TensorTest, AnEmptyFrameAtAnOddAddressDecodesToAnEmptyTensor) {
  // Found by fuzz_bulk_messages: copying zero misaligned elements passed memcpy a null pointer.
  auto frames = encode_frames(Holds<double>{Tensor<double>::adopt(std::vector<double>{}, {0, 4}).value(), ""});
  auto storage = std::make_shared<std::string>("x");
  frames[1] = Frame::wrap(storage, storage->data() + 1, 0);
  auto decoded = decode<Holds<double>>(frames);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_TRUE(decoded->values.empty());
  EXPECT_EQ(decoded->values.shape(), (TensorShape{0, 4}));
}

// The body of a Holds<T> whose tensor is [tag, shape, reference to frame 1], forged.
Frame forged_tensor_body(std::string_view tag, const TensorShape& shape) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> out(buffer);
  out.pack_array(2);
  out.pack_array(3);
  out.pack(tag);
  out.pack(shape);
  out.pack_ext(4, bulk_reference_ext);
  out.pack_ext_body("\0\0\0\1", 4);
  out.pack(std::string("label"));
  return Frame::copy_of(std::string_view(buffer.data(), buffer.size()));
}

TEST(TensorTest, AnotherElementTypeIsADecodeErrorNamingBoth) {
  const auto frames = encode_frames(Holds<double>{Tensor<double>(std::vector<double>{1, 2}), ""});
  auto decoded = decode<Holds<float>>(frames);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, ErrorCode::decode_error);
  EXPECT_NE(decoded.error().message.find("f64 elements arrived where a Tensor<f32>"), std::string::npos)
      << decoded.error().message;
}

TEST(TensorTest, AFrameOfTheWrongSizeIsADecodeErrorNamingBoth) {
  const Frames frames{forged_tensor_body("f32", {10}), Frame::copy_of(std::string_view(std::string(39, 'x')))};
  auto decoded = decode<Holds<float>>(frames);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, ErrorCode::decode_error);
  EXPECT_NE(decoded.error().message.find("shape [10] needs 10 elements of 4 bytes, but its buffer "
                                         "holds 39 bytes"),
            std::string::npos)
      << decoded.error().message;
}

TEST(TensorTest, HostileShapesAndReferencesAreDecodeErrors) {
  const Frame bulk = Frame::copy_of(std::string_view("12345678"));
  const std::vector<Frames> hostile = {
      {forged_tensor_body("f32", {std::uint64_t{1} << 40, std::uint64_t{1} << 40}), bulk},  // overflow
      {forged_tensor_body("f32", {std::uint64_t{1} << 62}), bulk},  // bytes overflow
      {forged_tensor_body("f32", TensorShape(33, 1)), bulk},        // too many dimensions
      {forged_tensor_body("f32", {2})},                             // frame 1 missing
      {forged_tensor_body("", {2}), bulk},                          // no tag
      {encode_value(std::make_tuple(std::make_tuple(1, 2), "x")), bulk},  // not a tensor
  };
  for (const auto& frames : hostile) {
    auto decoded = decode<Holds<float>>(frames);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, ErrorCode::decode_error) << decoded.error().message;
  }
  // A shape that is no list of sizes is named as such.
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> out(buffer);
  out.pack_array(2);
  out.pack_array(3);
  out.pack(std::string("f32"));
  out.pack(std::vector<int>{-2});
  out.pack_ext(4, bulk_reference_ext);
  out.pack_ext_body("\0\0\0\1", 4);
  out.pack(std::string("label"));
  auto negative = decode<Holds<float>>(Frames{Frame::copy_of(std::string_view(buffer.data(), buffer.size())), bulk});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("shape is not a list of dimension sizes"), std::string::npos)
      << negative.error().message;
  // The same forgery with the right size decodes: the checks above are what failed.
  EXPECT_TRUE(decode<Holds<float>>(Frames{forged_tensor_body("f32", {2}), bulk}).ok());
}

}  // namespace
}  // namespace zmesh
