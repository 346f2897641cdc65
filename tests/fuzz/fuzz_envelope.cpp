// fuzz_envelope: feeds the input, as the envelope header frame, to zmesh::decode_envelope
// (core/envelope.hpp), which every proc runs on every message it receives.
// Asserts: no crash, leak or UB on any bytes; the payload frames pass through untouched; an
// envelope that decodes re-encodes (encode_header) to a header that decodes to an equal
// envelope (sender, destination, type, headers), and that second encoding is byte-identical
// (so forwarding a message never changes it). Also exercises Headers::get and lane_of.

#include "fuzz_check.hpp"

#include "zmesh/core/envelope.hpp"

#include <cstddef>
#include <cstdint>

namespace {

bool same_envelope(const zmesh::Envelope& a, const zmesh::Envelope& b) {
  return a.sender == b.sender && a.destination == b.destination && a.type_name == b.type_name &&
         a.headers == b.headers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace zmesh;
  const Frame header = fuzz::frame_of(data, size);
  const Frame payload = Frame::copy_of(std::string_view("payload"));
  auto decoded = decode_envelope(header, Frames{payload});
  if (!decoded) {
    FUZZ_CHECK(decoded.error().code == ErrorCode::decode_error ||
                   decoded.error().code == ErrorCode::version_mismatch,
               decoded.error().describe());
    return 0;
  }
  FUZZ_CHECK(decoded->payload.size() == 1 && decoded->payload[0].view() == "payload",
             "decode_envelope changed the payload frames");

  // Things a receiver does with a fresh envelope.
  (void)lane_of(decoded->type_name);
  (void)queued_bytes(*decoded);
  (void)decoded->sender.to_string();
  (void)decoded->destination.to_string();
  for (const auto& [key, encoded] : decoded->headers.raw()) {
    (void)decoded->headers.get<std::string>(key);
    (void)decoded->headers.get<std::uint64_t>(key);
  }

  const Frame reencoded = encode_header(*decoded);
  auto again = decode_envelope(reencoded, Frames{payload});
  FUZZ_CHECK(again.ok(), fmt::format("a decoded envelope re-encodes to an undecodable header: {}",
                                     again.error().describe()));
  FUZZ_CHECK(same_envelope(*decoded, *again), "re-encoding changed the envelope");
  const Frame twice = encode_header(*again);
  FUZZ_CHECK(reencoded.view() == twice.view(), "encode_header is not stable across a decode");
  return 0;
}
