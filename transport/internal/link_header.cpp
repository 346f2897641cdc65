#include "zmesh/transport/internal/link_header.hpp"

#include <fmt/format.h>

#include <cstring>

namespace zmesh::internal {
namespace {

constexpr std::string_view magic = "zm2";
// The magic of the form before the envelope header joined the link header's frame.
constexpr std::string_view previous_magic = "zm1";

Error bad_header(std::string_view what) {
  return Error(ErrorCode::decode_error, fmt::format("bad link header: {}", what));
}

// Reads the few msgpack types a link header uses, checking every length against the frame.
class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : next_(reinterpret_cast<const unsigned char*>(bytes.data())), end_(next_ + bytes.size()) {}

  bool at_end() const { return next_ == end_; }

  Result<std::uint32_t> array(std::string_view what) {
    if (next_ == end_) return bad_header(fmt::format("ends before {}", what));
    const unsigned char tag = *next_++;
    if ((tag & 0xf0) == 0x90) return std::uint32_t{tag & 0x0fu};
    if (tag != 0xdc && tag != 0xdd) {
      return bad_header(fmt::format("{} is not an array (type byte 0x{:02x})", what, tag));
    }
    auto size = big_endian(tag == 0xdc ? 2 : 4, what);
    if (!size) return std::move(size).error();
    return static_cast<std::uint32_t>(*size);
  }

  Result<std::uint64_t> uint(std::string_view what) {
    if (next_ == end_) return bad_header(fmt::format("ends before {}", what));
    const unsigned char tag = *next_++;
    if (tag <= 0x7f) return std::uint64_t{tag};
    if (tag < 0xcc || tag > 0xcf) {
      return bad_header(
          fmt::format("{} is not an unsigned integer (type byte 0x{:02x})", what, tag));
    }
    return big_endian(std::size_t{1} << (tag - 0xcc), what);  // 0xcc..0xcf: 1, 2, 4, 8 bytes
  }

  Result<std::string_view> str(std::string_view what) {
    if (next_ == end_) return bad_header(fmt::format("ends before {}", what));
    const unsigned char tag = *next_++;
    std::uint64_t size = 0;
    if ((tag & 0xe0) == 0xa0) {
      size = tag & 0x1fu;
    } else if (tag >= 0xd9 && tag <= 0xdb) {
      auto length = big_endian(std::size_t{1} << (tag - 0xd9), what);  // 1, 2 or 4 bytes
      if (!length) return std::move(length).error();
      size = *length;
    } else {
      return bad_header(fmt::format("{} is not a string (type byte 0x{:02x})", what, tag));
    }
    if (static_cast<std::uint64_t>(end_ - next_) < size) {
      return bad_header(fmt::format("{} claims {} bytes, {} remain", what, size, end_ - next_));
    }
    const std::string_view text(reinterpret_cast<const char*>(next_), size);
    next_ += size;
    return text;
  }

  const unsigned char* position() const { return next_; }
  std::string_view rest() const {
    return std::string_view(reinterpret_cast<const char*>(next_),
                            static_cast<std::size_t>(end_ - next_));
  }

 private:
  Result<std::uint64_t> big_endian(std::size_t bytes, std::string_view what) {
    if (static_cast<std::size_t>(end_ - next_) < bytes) {
      return bad_header(fmt::format("{} is cut short", what));
    }
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < bytes; ++i) value = (value << 8) | next_[i];
    next_ += bytes;
    return value;
  }

  const unsigned char* next_;
  const unsigned char* end_;
};

#define ZMESH_READ(target, expression)                             \
  auto target##_result = (expression);                             \
  if (!target##_result) return std::move(target##_result).error(); \
  auto target = *target##_result

Result<void> parse_sender(Reader& in, LinkHeader& header) {
  const auto* start = in.position();
  ZMESH_READ(outer, in.array("sender"));
  if (outer != 2) return bad_header(fmt::format("sender has {} items, expected 2", outer));
  ZMESH_READ(world, in.array("sender world"));
  if (world != 1) return bad_header(fmt::format("sender world has {} items, expected 1", world));
  ZMESH_READ(name, in.str("sender world name"));
  ZMESH_READ(rank, in.uint("sender rank"));
  if (rank > UINT32_MAX) return bad_header(fmt::format("sender rank {} is too large", rank));
  header.sender_world = name;
  header.sender_rank = static_cast<std::uint32_t>(rank);
  header.sender_bytes = std::string_view(reinterpret_cast<const char*>(start),
                                         static_cast<std::size_t>(in.position() - start));
  return {};
}

void put_array(std::string& out, std::uint32_t size) {
  out.push_back(static_cast<char>(0x90 | size));  // every array here has fewer than 16 items
}

void put_str(std::string& out, std::string_view text) {
  if (text.size() < 32) {
    out.push_back(static_cast<char>(0xa0 | text.size()));
  } else if (text.size() <= 0xff) {
    out.push_back(static_cast<char>(0xd9));
    out.push_back(static_cast<char>(text.size()));
  } else if (text.size() <= 0xffff) {
    out.push_back(static_cast<char>(0xda));
    out.push_back(static_cast<char>(text.size() >> 8));
    out.push_back(static_cast<char>(text.size()));
  } else {
    const auto size = static_cast<std::uint32_t>(text.size());
    out.push_back(static_cast<char>(0xdb));
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(size >> shift));
  }
  out.append(text);
}

void append_uint(std::string& out, std::uint64_t value) {
  char buffer[9];
  out.append(buffer, put_uint(buffer, value));
}

}  // namespace

std::string_view to_string(LinkKind kind) noexcept {
  switch (kind) {
    case LinkKind::data:
      return "data";
    case LinkKind::ack:
      return "ack";
    case LinkKind::nack:
      return "nack";
    case LinkKind::reject:
      return "reject";
    case LinkKind::skip:
      return "skip";
    case LinkKind::hello:
      return "hello";
    case LinkKind::lane_offer:
      return "lane offer";
    case LinkKind::lane_answer:
      return "lane answer";
  }
  return "?";
}

Result<LinkHeader> parse_link_header(std::string_view bytes) {
  Reader in(bytes);
  LinkHeader header;
  ZMESH_READ(items, in.array("the header"));
  ZMESH_READ(tag, in.str("the magic"));
  if (tag == previous_magic) {
    return bad_header(
        "the magic is \"zm1\": the sender runs an older zmesh release, whose data frames this "
        "one (\"zm2\") cannot read; build every node from the same release");
  }
  if (tag != magic) return bad_header("the magic is not \"zm2\" (another protocol or version)");
  ZMESH_READ(kind, in.uint("the kind"));
  if (kind > static_cast<std::uint64_t>(LinkKind::lane_answer)) {
    return bad_header(fmt::format("unknown kind {}", kind));
  }
  header.kind = static_cast<LinkKind>(kind);
  std::uint32_t expected_items = 6;
  switch (header.kind) {
    case LinkKind::data:
    case LinkKind::skip:
      expected_items = 6;
      break;
    case LinkKind::ack:
    case LinkKind::nack:
      expected_items = 4;
      break;
    case LinkKind::reject:
      expected_items = 5;
      break;
    case LinkKind::hello:
      if (items != 4) {
        return bad_header(fmt::format("a hello header is an array of {} items, expected 4", items));
      }
      {
        ZMESH_READ(session, in.uint("the session"));
        ZMESH_READ(host_key, in.str("the host key"));
        header.session = session;
        header.host_key = host_key;
      }
      if (!in.at_end()) return bad_header("bytes left over after the last field");
      return header;
    case LinkKind::lane_offer:
      if (items != 4) {
        return bad_header(
            fmt::format("a lane offer header is an array of {} items, expected 4", items));
      }
      {
        ZMESH_READ(session, in.uint("the session"));
        ZMESH_READ(descriptor, in.str("the lane descriptor"));
        header.session = session;
        header.lane_descriptor = descriptor;
      }
      if (!in.at_end()) return bad_header("bytes left over after the last field");
      return header;
    case LinkKind::lane_answer:
      if (items != 5) {
        return bad_header(
            fmt::format("a lane answer header is an array of {} items, expected 5", items));
      }
      {
        ZMESH_READ(session, in.uint("the session"));
        ZMESH_READ(accepted, in.uint("the answer"));
        ZMESH_READ(reason, in.str("the reason"));
        if (accepted > 1) return bad_header(fmt::format("a lane answer of {} (0 or 1)", accepted));
        header.session = session;
        header.lane_accepted = accepted == 1;
        header.reason = reason;
      }
      if (!in.at_end()) return bad_header("bytes left over after the last field");
      return header;
  }
  // One more item: the lane; for data, three more: the lane and a piggybacked ack; four
  // more: and the shared-memory frame mask.
  const bool with_shm = header.kind == LinkKind::data && items == expected_items + 4;
  const bool with_ack = header.kind == LinkKind::data && items == expected_items + 3;
  if (items != expected_items && items != expected_items + 1 && !with_ack && !with_shm) {
    return bad_header(fmt::format("a {} header is an array of {} items, expected {} or {}",
                                  to_string(header.kind), items, expected_items,
                                  expected_items + 1));
  }
  if (header.kind == LinkKind::data || header.kind == LinkKind::skip) {
    if (auto sender = parse_sender(in, header); !sender) return std::move(sender).error();
  }
  ZMESH_READ(session, in.uint("the session"));
  header.session = session;
  ZMESH_READ(seq, in.uint("the sequence number"));
  header.seq = seq;
  if (header.kind == LinkKind::data || header.kind == LinkKind::skip) {
    ZMESH_READ(floor, in.uint("the floor"));
    header.floor = floor;
  } else if (header.kind == LinkKind::reject) {
    ZMESH_READ(reason, in.str("the reason"));
    header.reason = reason;
  }
  if (items > expected_items) {
    ZMESH_READ(lane, in.uint("the lane"));
    if (lane > 1) return bad_header(fmt::format("unknown lane {} (0 data, 1 control)", lane));
    header.lane = static_cast<std::uint8_t>(lane);
  }
  if (with_ack) {
    ZMESH_READ(ack_session, in.uint("the piggybacked ack's session"));
    ZMESH_READ(ack_through, in.uint("the piggybacked ack"));
    header.has_ack = true;
    header.ack_session = ack_session;
    header.ack_through = ack_through;
  }
  if (with_shm) {
    ZMESH_READ(ack_session, in.uint("the piggybacked ack's session"));
    ZMESH_READ(ack_through, in.uint("the piggybacked ack"));
    ZMESH_READ(shm_frames, in.uint("the shared-memory frame mask"));
    header.has_ack = ack_session != 0;
    header.ack_session = ack_session;
    header.ack_through = ack_through;
    header.has_shm = true;
    header.shm_frames = shm_frames;
  }
  if (header.kind == LinkKind::data) {
    header.envelope_header = in.rest();
    if (header.envelope_header.empty()) {
      return bad_header("a data header without the envelope header after it");
    }
    return header;
  }
  if (!in.at_end()) return bad_header("bytes left over after the last field");
  return header;
}

#undef ZMESH_READ

std::string encode_data_prefix(LinkKind kind, const ProcId& sender, std::uint64_t session,
                               std::uint8_t lane, bool with_ack, bool with_shm) {
  std::string out;
  put_array(out, with_shm ? 10 : with_ack ? 9 : lane == 0 ? 6 : 7);
  put_str(out, magic);
  append_uint(out, static_cast<std::uint64_t>(kind));
  out += encode_sender(sender);
  append_uint(out, session);
  return out;
}

std::string encode_sender(const ProcId& sender) {
  std::string out;
  put_array(out, 2);
  put_array(out, 1);
  put_str(out, sender.world.name());
  append_uint(out, sender.rank);
  return out;
}

std::size_t uint_size(std::uint64_t value) noexcept {
  if (value <= 0x7f) return 1;
  if (value <= 0xff) return 2;
  if (value <= 0xffff) return 3;
  if (value <= 0xffffffff) return 5;
  return 9;
}

char* put_uint(char* out, std::uint64_t value) noexcept {
  const std::size_t size = uint_size(value);
  if (size == 1) {
    *out = static_cast<char>(value);
    return out + 1;
  }
  static constexpr unsigned char tags[] = {0, 0, 0xcc, 0xcd, 0, 0xce, 0, 0, 0, 0xcf};
  *out++ = static_cast<char>(tags[size]);
  for (std::size_t i = size - 1; i > 0; --i) *out++ = static_cast<char>(value >> (8 * (i - 1)));
  return out;
}

std::string encode_ack(LinkKind kind, std::uint64_t session, std::uint64_t acked_through,
                       std::uint8_t lane) {
  std::string out;
  put_array(out, lane == 0 ? 4 : 5);
  put_str(out, magic);
  append_uint(out, static_cast<std::uint64_t>(kind));
  append_uint(out, session);
  append_uint(out, acked_through);
  if (lane != 0) append_uint(out, lane);
  return out;
}

std::string encode_hello(std::uint64_t session, std::string_view host_key) {
  std::string out;
  put_array(out, 4);
  put_str(out, magic);
  append_uint(out, static_cast<std::uint64_t>(LinkKind::hello));
  append_uint(out, session);
  put_str(out, host_key);
  return out;
}

std::string encode_lane_offer(std::uint64_t session, std::string_view descriptor) {
  std::string out;
  put_array(out, 4);
  put_str(out, magic);
  append_uint(out, static_cast<std::uint64_t>(LinkKind::lane_offer));
  append_uint(out, session);
  put_str(out, descriptor);
  return out;
}

std::string encode_lane_answer(std::uint64_t session, bool accepted, std::string_view reason) {
  std::string out;
  put_array(out, 5);
  put_str(out, magic);
  append_uint(out, static_cast<std::uint64_t>(LinkKind::lane_answer));
  append_uint(out, session);
  append_uint(out, accepted ? 1 : 0);
  put_str(out, reason);
  return out;
}

std::string encode_reject(std::uint64_t session, std::uint64_t seq, std::string_view reason,
                          std::uint8_t lane) {
  std::string out;
  put_array(out, lane == 0 ? 5 : 6);
  put_str(out, magic);
  append_uint(out, static_cast<std::uint64_t>(LinkKind::reject));
  append_uint(out, session);
  append_uint(out, seq);
  put_str(out, reason);
  if (lane != 0) append_uint(out, lane);
  return out;
}

}  // namespace zmesh::internal
