#pragma once
// LinkHeader: the small msgpack array at the start of every message between two Endpoints
// that carries the reliable-session fields (session, sequence number, floor, acks). In a
// data message the envelope header follows it in the same frame (one frame less per
// message than two frames would be), then the payload frames.
// Thread: free functions on bytes. Failure: parse_link_header() returns decode_error naming
// the first field that is wrong; it never reads past the frame or allocates for a forged length.
//
// Wire format (each a msgpack array whose first item is the magic "zm2"; "zm1", the form
// before the envelope header joined the link header's frame, is refused by name):
//   data   ["zm2", 0, sender, session, seq, floor(, lane)]  envelope header
//                                                           in the same frame, then payload
//   data   ["zm2", 0, sender, session, seq, floor, lane, ack_session, ack_through]
//                                                           the same, carrying an ack of the
//                                                           receiver's own messages on that
//                                                           lane (piggybacked: no ack message)
//   skip   ["zm2", 4, sender, session, seq, floor(, lane)]  alone: seq was given up, count it
//                                                           as consumed
//   ack    ["zm2", 1, session, acked_through(, lane)]       receiver -> sender, cumulative
//   nack   ["zm2", 2, session, acked_through(, lane)]       as ack, and "a gap was seen: resend
//                                                           now"
//   reject ["zm2", 3, session, seq, reason(, lane)]         seq arrived but cannot be used
//   data   ["zm2", 0, sender, session, seq, floor, lane, ack_session, ack_through, shm]
//                                                           a message with large frames
//                                                           (ack_session 0: no ack); shm
//                                                           is a bit mask of the payload
//                                                           frames that are shared-memory
//                                                           descriptors (shm_region.hpp)
//   hello  ["zm2", 5, session, host_key]                    receiver -> sender: "this is my
//                                                           host", the answer to a data
//                                                           header with shm = 0
//   lane_offer  ["zm2", 6, session, descriptor]         sender -> receiver: "read my
//                                                           messages from this shared-memory
//                                                           lane" (shm_lane.hpp); same host
//   lane_answer ["zm2", 7, session, accepted, reason]   receiver -> sender: 1 the lane is
//                                                           read from now on, 0 it is not
//                                                           (refused, or closed later): send
//                                                           over the socket
// sender is the ProcId as msgpack ([[world], rank]); integers use msgpack's shortest form.
// lane (optional last item, 0 when absent): 0 data, 1 control (zmesh::Lane). Each lane of a
// session has its own sequence space, acks and resends, so control traffic never waits
// behind data. Data-lane headers leave it out, which keeps the hot path's header short.

#include "zmesh/core/error.hpp"
#include "zmesh/core/ids.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zmesh::internal {

enum class LinkKind : std::uint8_t {
  data = 0,
  ack = 1,
  nack = 2,
  reject = 3,
  skip = 4,
  hello = 5,
  lane_offer = 6,
  lane_answer = 7
};

std::string_view to_string(LinkKind kind) noexcept;

struct LinkHeader {
  LinkKind kind = LinkKind::data;
  std::string_view sender_bytes;  // data/skip: the sender ProcId exactly as encoded
  std::string_view sender_world;  // data/skip: decoded parts of the sender ProcId
  std::uint32_t sender_rank = 0;
  std::uint64_t session = 0;
  std::uint64_t seq = 0;    // data/skip/reject: the sequence number; ack/nack: acked_through
  std::uint64_t floor = 0;  // data/skip: lowest seq the sender still holds
  std::string_view reason;  // reject only
  std::uint8_t lane = 0;    // every kind: 0 data, 1 control (static_cast of zmesh::Lane)
  // data only: an ack riding along, for the receiver's sending session `ack_session`.
  bool has_ack = false;
  std::uint64_t ack_session = 0;
  std::uint64_t ack_through = 0;
  // data only: the 10-item form, whose payload frames flagged in shm_frames (bit i: payload
  // frame i) are shared-memory descriptors.
  bool has_shm = false;
  std::uint64_t shm_frames = 0;
  std::string_view host_key;  // hello only
  std::string_view lane_descriptor;  // lane_offer only: encode_lane_descriptor's bytes
  bool lane_accepted = false;        // lane_answer only (its reason is in `reason`)
  // data only: the rest of the frame after the link header, the envelope header (never
  // empty: a data frame without one is refused).
  std::string_view envelope_header;
};

// Parses the link header at the start of a message's first frame; the views point into
// `bytes`. Only a data header may have bytes after it (its envelope header).
Result<LinkHeader> parse_link_header(std::string_view bytes);

// The fixed start of a data or skip header for one sender and session: ["zm2", kind, sender,
// session. Append seq and floor with put_uint to complete it, and then, for lane 1 or
// `with_ack`, the lane (one byte: put_uint(out, lane)); with `with_ack` (data only), then the
// ack's session and acked_through; with `with_shm` (data only, implies with_ack: session 0
// when there is none), then the shm frame mask.
std::string encode_data_prefix(LinkKind kind, const ProcId& sender, std::uint64_t session,
                               std::uint8_t lane = 0, bool with_ack = false,
                               bool with_shm = false);
// The sender field of data headers: the ProcId as msgpack ([[world], rank]), byte for byte
// what LinkHeader::sender_bytes holds for it.
std::string encode_sender(const ProcId& sender);

// Bytes msgpack needs for `value` in its shortest unsigned form (1, 2, 3, 5 or 9).
std::size_t uint_size(std::uint64_t value) noexcept;
// Writes `value` at `out` (uint_size(value) bytes) and returns the end.
char* put_uint(char* out, std::uint64_t value) noexcept;

// An ack or nack header.
std::string encode_ack(LinkKind kind, std::uint64_t session, std::uint64_t acked_through,
                       std::uint8_t lane = 0);
// A hello header: this endpoint's host key, answering sender session `session`.
std::string encode_hello(std::uint64_t session, std::string_view host_key);
// The lane headers (shm_lane.hpp): an offer of the lane `descriptor` names for sending
// session `session`, and the receiver's answer.
std::string encode_lane_offer(std::uint64_t session, std::string_view descriptor);
std::string encode_lane_answer(std::uint64_t session, bool accepted, std::string_view reason);
// A reject header.
std::string encode_reject(std::uint64_t session, std::uint64_t seq, std::string_view reason,
                          std::uint8_t lane = 0);

}  // namespace zmesh::internal
