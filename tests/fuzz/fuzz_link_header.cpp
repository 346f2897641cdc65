// fuzz_link_header: feeds the input, as the link-header frame in front of every message between
// two Endpoints, to zmesh::internal::parse_link_header (transport/internal/link_header.hpp).
// Asserts: no crash, leak or UB on any bytes; every view of a parsed header lies inside the
// input, and a data header's envelope header is the rest of the input after it; a data/skip
// sender's bytes decode with msgpack to the same world and rank; whatever
// parses re-encodes with the real encoders (encode_data_prefix + put_uint, encode_ack,
// encode_reject) to a header that parses to the same fields, and no longer than the input
// (the encoders use msgpack's shortest forms). Then the input's first bytes are read as raw
// session/seq/reason values, and each encoder's output must parse back to exactly them.
// The input is also read as a shared-memory descriptor (transport/internal/shm_region.hpp):
// whatever parses re-encodes to exactly the input (a fixed layout).

#include "fuzz_check.hpp"

#include "zmesh/core/ids.hpp"
#include "zmesh/transport/internal/link_header.hpp"
#include "zmesh/transport/internal/shm_region.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using zmesh::internal::LinkHeader;
using zmesh::internal::LinkKind;

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

std::string encode_like(const LinkHeader& header) {
  using namespace zmesh::internal;
  switch (header.kind) {
    case LinkKind::data:
    case LinkKind::skip: {
      const zmesh::ProcId sender{zmesh::WorldId{std::string(header.sender_world)},
                                 header.sender_rank};
      std::string out = encode_data_prefix(header.kind, sender, header.session);
      char tail[18];
      char* end = put_uint(put_uint(tail, header.seq), header.floor);
      FUZZ_CHECK(static_cast<std::size_t>(end - tail) ==
                     uint_size(header.seq) + uint_size(header.floor),
                 "put_uint wrote a different size than uint_size");
      out.append(tail, end);
      out.append(header.envelope_header);  // empty for a skip
      return out;
    }
    case LinkKind::ack:
    case LinkKind::nack:
      return encode_ack(header.kind, header.session, header.seq);
    case LinkKind::reject:
      return encode_reject(header.session, header.seq, header.reason);
    case LinkKind::hello:
      return encode_hello(header.session, header.host_key);
    case LinkKind::lane_offer:
      return encode_lane_offer(header.session, header.lane_descriptor);
    case LinkKind::lane_answer:
      return encode_lane_answer(header.session, header.lane_accepted, header.reason);
  }
  FUZZ_CHECK(false, "parse_link_header returned an unknown kind");
  return {};
}

void check_same(const LinkHeader& a, const LinkHeader& b, std::string_view what) {
  FUZZ_CHECK(a.kind == b.kind && a.sender_world == b.sender_world &&
                 a.sender_rank == b.sender_rank && a.session == b.session && a.seq == b.seq &&
                 a.floor == b.floor && a.reason == b.reason && a.host_key == b.host_key &&
                 a.lane_descriptor == b.lane_descriptor && a.lane_accepted == b.lane_accepted &&
                 a.envelope_header == b.envelope_header,
             std::string(what));
}

std::uint64_t read_u64(const std::uint8_t*& data, std::size_t& size) {
  std::uint64_t value = 0;
  const std::size_t n = size < 8 ? size : 8;
  std::memcpy(&value, data, n);
  data += n;
  size -= n;
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace zmesh::internal;
  // A heap copy exactly as long as the frame, so ASan catches any read past its end.
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string_view input(bytes);

  auto parsed = parse_link_header(input);
  if (parsed) {
    const LinkHeader& header = *parsed;
    (void)to_string(header.kind);
    FUZZ_CHECK(inside(header.sender_bytes, input) && inside(header.sender_world, input) &&
                   inside(header.reason, input) && inside(header.host_key, input) &&
                   inside(header.envelope_header, input),
               "a view of the parsed header points outside the frame");
    FUZZ_CHECK((header.kind == LinkKind::data) == !header.envelope_header.empty(),
               "a data header without its envelope header, or another kind with one");
    FUZZ_CHECK(header.envelope_header.empty() ||
                   header.envelope_header.data() + header.envelope_header.size() ==
                       input.data() + input.size(),
               "the envelope header is not the rest of the frame");
    if (header.kind == LinkKind::data || header.kind == LinkKind::skip) {
      auto sender = zmesh::decode_value<zmesh::ProcId>(
          zmesh::Frame::copy_of(header.sender_bytes), "link header sender");
      FUZZ_CHECK(sender.ok() && sender->world.name() == header.sender_world &&
                     sender->rank == header.sender_rank,
                 "the sender bytes do not decode (msgpack) to the parsed world and rank");
    }
    const std::string again = encode_like(header);
    FUZZ_CHECK(again.size() <= input.size(), "re-encoding is longer than the parsed input");
    auto reparsed = parse_link_header(again);
    FUZZ_CHECK(reparsed.ok(), fmt::format("a re-encoded header does not parse: {}",
                                          reparsed.error().message));
    check_same(header, *reparsed, "re-encoding changed the header");
  } else {
    FUZZ_CHECK(parsed.error().code == zmesh::ErrorCode::decode_error, parsed.error().describe());
  }

  if (auto descriptor = parse_shm_descriptor(input)) {
    FUZZ_CHECK(encode_shm_descriptor(*descriptor) == input,
               "a parsed shared-memory descriptor does not re-encode to its bytes");
  } else {
    FUZZ_CHECK(descriptor.error().code == zmesh::ErrorCode::decode_error,
               descriptor.error().describe());
  }

  // The encoders, with values taken from the input.
  const std::uint8_t* rest = data;
  std::size_t left = size;
  const std::uint64_t session = read_u64(rest, left);
  const std::uint64_t seq = read_u64(rest, left);
  const std::string_view reason(reinterpret_cast<const char*>(rest), left);

  for (LinkKind kind : {LinkKind::ack, LinkKind::nack}) {
    auto ack = parse_link_header(encode_ack(kind, session, seq));
    FUZZ_CHECK(ack.ok() && ack->kind == kind && ack->session == session && ack->seq == seq,
               "encode_ack does not round-trip");
  }
  const std::string reject_bytes = encode_reject(session, seq, reason);
  auto reject = parse_link_header(reject_bytes);
  FUZZ_CHECK(reject.ok() && reject->kind == LinkKind::reject && reject->session == session &&
                 reject->seq == seq && reject->reason == reason,
             "encode_reject does not round-trip");
  const std::string hello_bytes = encode_hello(session, reason);
  auto hello = parse_link_header(hello_bytes);
  FUZZ_CHECK(hello.ok() && hello->kind == LinkKind::hello && hello->session == session &&
                 hello->host_key == reason,
             "encode_hello does not round-trip");
  LinkHeader data_header;
  data_header.kind = (session & 1) ? LinkKind::skip : LinkKind::data;
  data_header.sender_world = reason;
  data_header.sender_rank = static_cast<std::uint32_t>(seq >> 32);
  data_header.session = session;
  data_header.seq = seq;
  data_header.floor = seq ^ session;
  if (data_header.kind == LinkKind::data) data_header.envelope_header = "\x85 an envelope header";
  const std::string data_bytes = encode_like(data_header);
  auto data_parsed = parse_link_header(data_bytes);
  FUZZ_CHECK(data_parsed.ok(), "encode_data_prefix + put_uint does not parse");
  check_same(data_header, *data_parsed, "encode_data_prefix + put_uint does not round-trip");
  return 0;
}
