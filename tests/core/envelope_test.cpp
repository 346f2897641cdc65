// Envelopes: header round trip, unknown keys kept, version and garbage errors.
#include "zmesh/core/envelope.hpp"

#include "testing/actors.hpp"

#include <gtest/gtest.h>

namespace zmesh {
namespace {

Envelope sample() {
  ActorId sender{ProcId{WorldId{"w"}, 1}, "client", 0};
  PortId destination{ActorId{ProcId{WorldId{"w"}, 2}, "echo", 0}, 7};
  auto envelope = make_envelope(sender, destination, testing::Pong{42, "hello"});
  envelope.headers.set("cast.rank", std::uint32_t{5});
  envelope.headers.set("future.key", std::vector<std::string>{"from", "a", "newer", "peer"});
  return envelope;
}

TEST(EnvelopeTest, HeaderRoundTripKeepsEveryHeaderAndThePayloadUntouched) {
  const auto original = sample();
  const auto header = encode_header(original);
  auto decoded = decode_envelope(header, original.payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->sender, original.sender);
  EXPECT_EQ(decoded->destination, original.destination);
  EXPECT_EQ(decoded->type_name, "test.Pong");
  EXPECT_EQ(decoded->headers, original.headers);
  EXPECT_EQ(decoded->headers.get<std::uint32_t>("cast.rank"), 5u);
  EXPECT_EQ(decoded->payload.front().data(), original.payload.front().data()) << "payload copied";
  auto pong = decode<testing::Pong>(decoded->payload.front());
  ASSERT_TRUE(pong.ok());
  EXPECT_EQ(pong->seq, 42u);
  EXPECT_EQ(pong->text, "hello");
}

TEST(EnvelopeTest, UnknownTopLevelKeysAreSkipped) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> out(buffer);
  const auto original = sample();
  out.pack_map(6);
  out.pack(std::string("zz-new-field"));
  out.pack(std::vector<int>{1, 2, 3});
  out.pack(std::string("v"));
  out.pack(envelope_format_version);
  out.pack(std::string("src"));
  out.pack(original.sender);
  out.pack(std::string("dst"));
  out.pack(original.destination);
  out.pack(std::string("type"));
  out.pack(original.type_name);
  out.pack(std::string("hdr"));
  out.pack_map(0);
  auto decoded = decode_envelope(Frame::copy_of(std::string_view(buffer.data(), buffer.size())), {});
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->destination, original.destination);
}

TEST(EnvelopeTest, WrongFormatVersionIsAClearError) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> out(buffer);
  out.pack_map(1);
  out.pack(std::string("v"));
  out.pack(envelope_format_version + 1);
  auto decoded = decode_envelope(Frame::copy_of(std::string_view(buffer.data(), buffer.size())), {});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, ErrorCode::version_mismatch);
  EXPECT_NE(decoded.error().message.find("same zmesh release"), std::string::npos);
}

TEST(EnvelopeTest, GarbageHeadersAreDecodeErrors) {
  const std::vector<std::string> garbage = {
      "",                                   // empty
      "\xc1",                               // never-used msgpack byte
      "\x93\x01\x02",                       // truncated array
      "\xdd\xff\xff\xff\xff",               // array claiming 4 billion elements
      "\x81\xa1v\x01",                      // version only: missing fields
      "\x85\xa1v\x01\xa3src\x01\xa3""dst\x01\xa4type\x01\xa3hdr\x01",  // wrong field types
  };
  for (const auto& bytes : garbage) {
    auto decoded = decode_envelope(Frame::copy_of(bytes), {});
    ASSERT_FALSE(decoded.ok()) << "accepted garbage of " << bytes.size() << " bytes";
    EXPECT_EQ(decoded.error().code, ErrorCode::decode_error) << decoded.error().describe();
  }
}

}  // namespace
}  // namespace zmesh
