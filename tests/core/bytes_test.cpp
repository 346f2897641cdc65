// Bytes in messages: they travel as their own payload frames through the real envelope
// encode/decode path, shared and never copied; messages without them encode exactly as
// before; hostile references are decode_errors naming the index and the frame count.
#include "zmesh/core/bytes.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/core/proc.hpp"
#include "zmesh/core/tensor.hpp"

#include "testing/actors.hpp"

#include <gtest/gtest.h>

#include <array>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

struct Blob {
  ZMESH_MESSAGE("test.Blob");
  std::string name;
  Bytes data;
  Tensor<float> weights;
  std::uint32_t step = 0;
  MSGPACK_DEFINE(name, data, weights, step);
};

// The same as a Blob before it had bulk fields.
struct Plain {
  ZMESH_MESSAGE("test.Plain");
  std::string name;
  std::vector<int> values;
  std::uint32_t step = 0;
  MSGPACK_DEFINE(name, values, step);
};

Envelope envelope_of(const Blob& blob) {
  ActorId sender{ProcId{WorldId{"w"}, 1}, "client", 0};
  PortId destination{ActorId{ProcId{WorldId{"w"}, 2}, "worker", 0}, message_port_index("test.Blob")};
  return make_envelope(sender, destination, blob);
}

// The body of a one-field message whose field is a bulk reference: ext `type` with `body`.
Frame reference_body(std::int8_t type, std::string_view body) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> out(buffer);
  out.pack_array(1);
  out.pack_ext(body.size(), type);
  out.pack_ext_body(body.data(), static_cast<std::uint32_t>(body.size()));
  return Frame::copy_of(std::string_view(buffer.data(), buffer.size()));
}
Frame reference_to(std::uint32_t index) {
  const std::array<char, 4> big_endian{static_cast<char>(index >> 24), static_cast<char>(index >> 16),
                                       static_cast<char>(index >> 8), static_cast<char>(index)};
  return reference_body(bulk_reference_ext, std::string_view(big_endian.data(), 4));
}

struct OneBytes {
  ZMESH_MESSAGE("test.OneBytes");
  Bytes data;
  MSGPACK_DEFINE(data);
};

struct Two {
  ZMESH_MESSAGE("test.Two");
  Bytes first;
  std::vector<Bytes> more;
  MSGPACK_DEFINE(first, more);
};

TEST(BytesTest, RoundTripThroughTheEnvelopeSharesEveryPayloadFrame) {
  Blob blob{"grads", Bytes::adopt(std::string(100000, 'x')), Tensor<float>(std::vector<float>{1, 2, 3}), 7};
  const auto envelope = envelope_of(blob);
  ASSERT_EQ(envelope.payload.size(), 3u) << "body, the Bytes' frame, the tensor's frame";
  EXPECT_EQ(envelope.payload[1].data(), blob.data.frame().data()) << "encoding copied the Bytes";
  EXPECT_EQ(envelope.payload[2].data(), blob.weights.bytes().frame().data());
  EXPECT_LT(envelope.payload[0].size(), 64u) << "the bulk bytes leaked into the msgpack body";

  auto received = decode_envelope(encode_header(envelope), envelope.payload);
  ASSERT_TRUE(received.ok()) << received.error().describe();
  auto decoded = decode<Blob>(received->payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->name, "grads");
  EXPECT_EQ(decoded->step, 7u);
  EXPECT_EQ(decoded->data, blob.data);
  EXPECT_EQ(decoded->data.data(), blob.data.data()) << "decoding copied the Bytes";
  EXPECT_EQ(decoded->weights.shape(), TensorShape{3});
  EXPECT_EQ(std::vector<float>(decoded->weights.elements().begin(), decoded->weights.elements().end()),
            (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(decoded->weights.elements().data(), blob.weights.elements().data());
}

TEST(BytesTest, ABytesOutlivesTheMessageAndTheEnvelopeItCameIn) {
  Bytes kept;
  {
    Blob blob{"x", Bytes::copy_of(std::string_view("kept past the turn")), {}, 0};
    auto envelope = envelope_of(blob);
    auto decoded = decode<Blob>(envelope.payload);
    ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
    kept = decoded->data;
  }  // the sender's message, the envelope and the decoded message are gone
  EXPECT_EQ(kept.view(), "kept past the turn");
}

TEST(BytesTest, AMessageWithoutBulkFieldsEncodesByteForByteAsBefore) {
  const Plain plain{"grads", {1, 2, 3, -4}, 9};
  msgpack::sbuffer before;  // what encode() produced before bulk fields existed
  msgpack::pack(before, plain);
  const auto frames = encode_frames(plain);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].view(), std::string_view(before.data(), before.size()));
  EXPECT_EQ(frames[0].view(), encode(plain).view());
  ActorId sender{ProcId{WorldId{"w"}, 1}, "client", 0};
  const auto envelope = make_envelope(sender, PortId{sender, 3}, plain);
  ASSERT_EQ(envelope.payload.size(), 1u);
  EXPECT_EQ(envelope.payload[0].view(), std::string_view(before.data(), before.size()));
}

TEST(BytesTest, SeveralBulkFieldsGetFramesInFieldOrder) {
  const Two two{Bytes::copy_of(std::string_view("a")), {Bytes::copy_of(std::string_view("b")), Bytes()}};
  const auto frames = encode_frames(two);
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[1].view(), "a");
  EXPECT_EQ(frames[2].view(), "b");
  EXPECT_TRUE(frames[3].empty());
  auto decoded = decode<Two>(frames);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->first.view(), "a");
  ASSERT_EQ(decoded->more.size(), 2u);
  EXPECT_EQ(decoded->more[0].view(), "b");
  EXPECT_TRUE(decoded->more[1].empty());
}

TEST(BytesTest, AReferenceToAMissingFrameIsADecodeErrorNamingIndexAndCount) {
  const Frames payload{reference_to(5), Frame::copy_of(std::string_view("only one"))};
  auto decoded = decode<OneBytes>(payload);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, ErrorCode::decode_error);
  EXPECT_NE(decoded.error().message.find("frame 5"), std::string::npos) << decoded.error().message;
  EXPECT_NE(decoded.error().message.find("2 frames"), std::string::npos) << decoded.error().message;
  EXPECT_NE(decoded.error().message.find("test.OneBytes"), std::string::npos) << decoded.error().message;

  for (std::uint32_t index : {0u, 2u, 0xffffffffu}) {
    auto bad = decode<OneBytes>(Frames{reference_to(index), Frame::copy_of(std::string_view("x"))});
    ASSERT_FALSE(bad.ok()) << "index " << index;
    EXPECT_EQ(bad.error().code, ErrorCode::decode_error);
    EXPECT_NE(bad.error().message.find(fmt::format("frame {},", index)), std::string::npos)
        << bad.error().message;
  }
}

TEST(BytesTest, MalformedReferencesAreDecodeErrors) {
  const Frame bulk = Frame::copy_of(std::string_view("bulk"));
  const std::vector<Frame> bodies = {
      reference_body(bulk_reference_ext, std::string_view("\0\0\1", 3)),      // 3 bytes
      reference_body(bulk_reference_ext, std::string_view("\0\0\0\1\0", 5)),  // 5 bytes
      reference_body(7, std::string_view("\0\0\0\1", 4)),                     // another ext type
      encode_value(std::make_tuple(std::string("bytes inline"))),             // a string
      encode_value(std::make_tuple(1)),                                       // an integer
  };
  for (const auto& body : bodies) {
    auto decoded = decode<OneBytes>(Frames{body, bulk});
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, ErrorCode::decode_error);
    EXPECT_NE(decoded.error().message.find("bulk reference"), std::string::npos) << decoded.error().message;
  }
}

TEST(BytesTest, DecodingTheBodyAloneRefusesBulkReferences) {
  const auto frames = encode_frames(OneBytes{Bytes::copy_of(std::string_view("abc"))});
  auto decoded = decode<OneBytes>(frames.front());
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, ErrorCode::decode_error);
  EXPECT_NE(decoded.error().message.find("without its bulk frames"), std::string::npos)
      << decoded.error().message;
}

TEST(BytesTest, EncodingABytesWhereItsFrameWouldBeLostThrows) {
  const OneBytes message{Bytes::copy_of(std::string_view("abc"))};
  EXPECT_THROW(encode(message), std::logic_error);
  EXPECT_THROW(encode_value(message.data), std::logic_error);
  // The scope of a failed encode is gone: the next one works.
  EXPECT_EQ(encode_frames(message).size(), 2u);
}

struct Relayed {
  ZMESH_MESSAGE("test.Relayed");
  Bytes data;
  std::uintptr_t seen_at = 0;  // where the handler read the bytes
  MSGPACK_DEFINE(data, seen_at);
};
struct Relay {
  ZMESH_MESSAGE("test.Relay");
  Bytes data;
  PortRef<Relayed> reply_to;
  MSGPACK_DEFINE(data, reply_to);
};
// Sends the Bytes it receives on, as they came.
class RelayActor : public Actor {
 public:
  void relay(Context& ctx, const Relay& message) {
    ctx.send(message.reply_to, Relayed{message.data, reinterpret_cast<std::uintptr_t>(message.data.data())});
  }
  using Handlers = zmesh::Handlers<&RelayActor::relay>;
};

TEST(BytesTest, AHandlerReadsTheSendersBufferAndSendsItOnWithoutACopy) {
  Proc proc(ProcOptions{ProcId{WorldId{"test"}, 0}, nullptr, Config{}, nullptr, nullptr});
  auto relay = proc.spawn<RelayActor>("relay");
  ASSERT_TRUE(relay.ok()) << relay.error().describe();
  auto client = proc.attach("client").value();
  auto [reply_to, replies] = client.open_port<Relayed>(/*once=*/true);
  const Bytes data = Bytes::adopt(std::string(1 << 20, 'z'));
  client.send(*relay, Relay{data, reply_to});
  auto relayed = replies.recv(deadline_in(5s));
  ASSERT_TRUE(relayed.ok()) << relayed.error().describe();
  EXPECT_EQ(relayed->seen_at, reinterpret_cast<std::uintptr_t>(data.data())) << "the handler got a copy";
  EXPECT_EQ(relayed->data.data(), data.data()) << "the port receiver got a copy";
}

}  // namespace
}  // namespace zmesh
