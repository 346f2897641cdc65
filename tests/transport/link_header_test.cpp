// The link-header codec: round trips, msgpack compatibility, the envelope header behind a
// data header, and refusal of forged input.
#include "zmesh/transport/internal/link_header.hpp"

#include <gtest/gtest.h>
#include <msgpack.hpp>

namespace zmesh::internal {
namespace {

const ProcId sender{WorldId{"train"}, 300};

std::string data_header(LinkKind kind, std::uint64_t session, std::uint64_t seq,
                        std::uint64_t floor) {
  std::string bytes = encode_data_prefix(kind, sender, session);
  char buffer[18];
  char* end = put_uint(put_uint(buffer, seq), floor);
  bytes.append(buffer, end);
  return bytes;
}

// What follows a data header in its frame; the link header does not look inside it.
const std::string envelope = "\x85\xa1v\x01 the envelope header";

TEST(LinkHeaderTest, DataHeaderRoundTrips) {
  for (std::uint64_t value : {0ull, 1ull, 127ull, 128ull, 255ull, 256ull, 65535ull, 65536ull,
                              4294967295ull, 4294967296ull, ~0ull}) {
    const std::string bytes = data_header(LinkKind::data, ~0ull - 1, value, value / 2) + envelope;
    auto parsed = parse_link_header(bytes);  // views into `bytes`
    ASSERT_TRUE(parsed.ok()) << value << ": " << parsed.error().describe();
    EXPECT_EQ(parsed->kind, LinkKind::data);
    EXPECT_EQ(parsed->sender_world, "train");
    EXPECT_EQ(parsed->sender_rank, 300u);
    EXPECT_EQ(parsed->session, ~0ull - 1);
    EXPECT_EQ(parsed->seq, value);
    EXPECT_EQ(parsed->floor, value / 2);
    EXPECT_EQ(parsed->envelope_header, envelope);
  }
}

TEST(LinkHeaderTest, IsOrdinaryMsgpack) {
  const std::string bytes = data_header(LinkKind::skip, 42, 7, 3);
  auto handle = msgpack::unpack(bytes.data(), bytes.size());
  const auto items = handle.get().as<std::vector<msgpack::object>>();
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(items[0].as<std::string>(), "zm2");
  EXPECT_EQ(items[1].as<int>(), static_cast<int>(LinkKind::skip));
  EXPECT_EQ(items[2].as<ProcId>(), sender);
  EXPECT_EQ(items[3].as<std::uint64_t>(), 42u);
  EXPECT_EQ(items[4].as<std::uint64_t>(), 7u);
  EXPECT_EQ(items[5].as<std::uint64_t>(), 3u);
  // The sender bytes are exactly msgpack's encoding of the ProcId.
  msgpack::sbuffer expected;
  msgpack::pack(expected, sender);
  EXPECT_EQ(parse_link_header(bytes)->sender_bytes, std::string(expected.data(), expected.size()));
}

TEST(LinkHeaderTest, AckAndRejectRoundTrip) {
  const std::string ack_bytes = encode_ack(LinkKind::nack, 9, 1000);
  auto ack = parse_link_header(ack_bytes);
  ASSERT_TRUE(ack.ok()) << ack.error().describe();
  EXPECT_EQ(ack->kind, LinkKind::nack);
  EXPECT_EQ(ack->session, 9u);
  EXPECT_EQ(ack->seq, 1000u);
  const std::string reason(300, 'r');  // needs the str16 form
  const std::string reject_bytes = encode_reject(9, 12, reason);
  auto reject = parse_link_header(reject_bytes);
  ASSERT_TRUE(reject.ok()) << reject.error().describe();
  EXPECT_EQ(reject->kind, LinkKind::reject);
  EXPECT_EQ(reject->seq, 12u);
  EXPECT_EQ(reject->reason, reason);
}

TEST(LinkHeaderTest, DataHeaderCarriesAPiggybackedAck) {
  std::string bytes = encode_data_prefix(LinkKind::data, sender, 42, 0, /*with_ack=*/true);
  char buffer[40];
  char* end = put_uint(put_uint(put_uint(put_uint(put_uint(buffer, 7), 3), 0), ~0ull), 65536);
  bytes.append(buffer, end);
  const std::string frame = bytes + envelope;
  auto parsed = parse_link_header(frame);
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(parsed->kind, LinkKind::data);
  EXPECT_EQ(parsed->envelope_header, envelope);
  EXPECT_EQ(parsed->seq, 7u);
  EXPECT_EQ(parsed->floor, 3u);
  EXPECT_EQ(parsed->lane, 0u);
  EXPECT_TRUE(parsed->has_ack);
  EXPECT_EQ(parsed->ack_session, ~0ull);
  EXPECT_EQ(parsed->ack_through, 65536u);
  // Plain data headers carry none.
  auto plain = parse_link_header(data_header(LinkKind::data, 42, 7, 3) + envelope);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->has_ack);
  // Still ordinary msgpack: nine items.
  auto handle = msgpack::unpack(bytes.data(), bytes.size());
  EXPECT_EQ(handle.get().as<std::vector<msgpack::object>>().size(), 9u);
}

// The bytes of a literal, embedded NULs included.
template <std::size_t N>
std::string bytes_of(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

void expect_refused(std::string_view bytes, std::string_view problem) {
  auto parsed = parse_link_header(bytes);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ErrorCode::decode_error);
  EXPECT_NE(parsed.error().message.find(std::string(problem)), std::string::npos)
      << parsed.error().message;
}

TEST(LinkHeaderTest, RefusesForgedAndTruncatedInput) {
  expect_refused("", "ends before the header");
  expect_refused(bytes_of("\xdd\xff\xff\xff\xff\xa3zm2\x00"),
                 "array of 4294967295 items, expected 6");
  expect_refused("\x96\xa3zm3", "the magic is not \"zm2\"");
  expect_refused("\x96\xa3zm2\x09", "unknown kind 9");
  expect_refused(bytes_of("\x92\xa3zm2\x00"), "a data header is an array of 2 items");
  // Eight items: a lane and half an ack. A skip cannot carry an ack at all.
  expect_refused(bytes_of("\x98\xa3zm2\x00"), "a data header is an array of 8 items");
  expect_refused(bytes_of("\x99\xa3zm2\x04"), "a skip header is an array of 9 items");
  const std::string whole = data_header(LinkKind::data, 1, 2, 1) + envelope;
  for (std::size_t cut = 0; cut < whole.size() - envelope.size(); ++cut) {
    EXPECT_FALSE(parse_link_header(std::string_view(whole).substr(0, cut)).ok()) << cut;
  }
  // A data header must have its envelope header behind it; no other kind may have anything.
  expect_refused(data_header(LinkKind::data, 1, 2, 1),
                 "a data header without the envelope header after it");
  expect_refused(data_header(LinkKind::skip, 1, 2, 1) + "x", "bytes left over");
  expect_refused(encode_ack(LinkKind::ack, 1, 2) + "x", "bytes left over");
  // The form of an older release (its envelope header in a frame of its own) is named.
  std::string older = whole;
  older.replace(older.find("zm2"), 3, "zm1");
  expect_refused(older, "an older zmesh release");
  // A string length pointing far past the end of the frame.
  expect_refused(bytes_of("\x96\xdb\xff\xff\xff\xf0zm2"), "claims 4294967280 bytes");
  expect_refused(bytes_of("\x96\xa3zm2\x00\x92\x91\xa1w\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
                 "sender rank 4294967296 is too large");
}

TEST(LinkHeaderTest, ControlLaneRoundTripsAndDataLaneLeavesTheLaneOut) {
  // Data: no lane item, which keeps the hot path's header short.
  EXPECT_EQ(encode_data_prefix(LinkKind::data, sender, 5)[0], '\x96');
  EXPECT_EQ(encode_ack(LinkKind::ack, 5, 1)[0], '\x94');
  EXPECT_EQ(parse_link_header(data_header(LinkKind::data, 5, 2, 1) + envelope)->lane, 0u);

  std::string bytes = encode_data_prefix(LinkKind::data, sender, 5, 1);
  char buffer[27];
  bytes.append(buffer, put_uint(put_uint(put_uint(buffer, 300), 200), 1));
  bytes += envelope;
  auto data = parse_link_header(bytes);
  ASSERT_TRUE(data.ok()) << data.error().describe();
  EXPECT_EQ(data->lane, 1u);
  EXPECT_EQ(data->seq, 300u);
  EXPECT_EQ(data->floor, 200u);
  const std::string ack_bytes = encode_ack(LinkKind::nack, 5, 77, 1);
  auto ack = parse_link_header(ack_bytes);  // views into ack_bytes
  ASSERT_TRUE(ack.ok()) << ack.error().describe();
  EXPECT_EQ(ack->lane, 1u);
  EXPECT_EQ(ack->seq, 77u);
  const std::string reject_bytes = encode_reject(5, 8, "no", 1);
  auto reject = parse_link_header(reject_bytes);
  ASSERT_TRUE(reject.ok()) << reject.error().describe();
  EXPECT_EQ(reject->lane, 1u);
  EXPECT_EQ(reject->reason, "no");
}

TEST(LinkHeaderTest, SharedMemoryFormAndHelloRoundTrip) {
  // The 10-item data form: lane, ack (session 0: none) and the descriptor frame mask.
  std::string bytes = encode_data_prefix(LinkKind::data, sender, 5, 0, true, true);
  EXPECT_EQ(bytes[0], '\x9a');
  char buffer[48];
  char* end = put_uint(put_uint(put_uint(buffer, 300), 200), 0);
  bytes.append(buffer, put_uint(put_uint(put_uint(end, 0), 0), 0x5));
  bytes += envelope;
  auto data = parse_link_header(bytes);
  ASSERT_TRUE(data.ok()) << data.error().describe();
  EXPECT_TRUE(data->has_shm);
  EXPECT_EQ(data->shm_frames, 0x5u);
  EXPECT_FALSE(data->has_ack);
  EXPECT_EQ(data->seq, 300u);

  const std::string hello_bytes = encode_hello(5, "boot/1/2/0");
  auto hello = parse_link_header(hello_bytes);
  ASSERT_TRUE(hello.ok()) << hello.error().describe();
  EXPECT_EQ(hello->kind, LinkKind::hello);
  EXPECT_EQ(hello->session, 5u);
  EXPECT_EQ(hello->host_key, "boot/1/2/0");
  expect_refused(hello_bytes + "x", "bytes left over");
  std::string five_items = hello_bytes;
  five_items[0] = '\x95';
  expect_refused(five_items + "\x01", "a hello header is an array of 5 items, expected 4");
}

TEST(LinkHeaderTest, LaneOfferAndAnswerRoundTrip) {
  const std::string descriptor("zmlane1\0\x01\x02", 10);
  const std::string offer_bytes = encode_lane_offer(9, descriptor);
  auto offer = parse_link_header(offer_bytes);
  ASSERT_TRUE(offer.ok()) << offer.error().describe();
  EXPECT_EQ(offer->kind, LinkKind::lane_offer);
  EXPECT_EQ(offer->session, 9u);
  EXPECT_EQ(offer->lane_descriptor, descriptor);
  expect_refused(offer_bytes + "x", "bytes left over");

  const std::string accepted_bytes = encode_lane_answer(9, true, "");
  auto accepted = parse_link_header(accepted_bytes);
  ASSERT_TRUE(accepted.ok()) << accepted.error().describe();
  EXPECT_EQ(accepted->kind, LinkKind::lane_answer);
  EXPECT_TRUE(accepted->lane_accepted);
  const std::string refused_bytes = encode_lane_answer(9, false, "no such pid");
  auto refused = parse_link_header(refused_bytes);
  ASSERT_TRUE(refused.ok()) << refused.error().describe();
  EXPECT_FALSE(refused->lane_accepted);
  EXPECT_EQ(refused->reason, "no such pid");
  std::string two = encode_lane_answer(9, false, "");
  two[two.size() - 2] = 2;
  expect_refused(two, "a lane answer of 2");
}

TEST(LinkHeaderTest, RefusesUnknownLane) {
  std::string ack = encode_ack(LinkKind::ack, 5, 77, 1);
  ack.back() = 2;
  expect_refused(ack, "unknown lane 2");
}

}  // namespace
}  // namespace zmesh::internal
