#pragma once
// A same-host lane between two processes that bypasses ZeroMQ: one unnamed tmpfs file holding
// two single-producer/single-consumer rings of records (forward: creator -> opener; reverse:
// opener -> creator), and one doorbell pipe per side that the other side rings.
// Thread: each side (the ShmLane object of one process) is used by one thread at a time; its
// owner serializes the calls (e.g. under its I/O mutex). The two sides run concurrently, in
// two processes (or two threads in tests) and share only the file and the pipes.
//
// The file: a 4096-byte header page (magic, version, token, ring size, the doorbell pipes'
// inodes; then at offsets 64 (forward) and 320 (reverse) one control block per ring, with
// `head`, `tail`, `reader_sleeping` and `writer_waiting` on 64-byte lines of their own), then
// the forward ring, then the reverse ring.
// `head` and `tail` count the bytes ever written and consumed. A record is 8-byte aligned:
// [u32 record_bytes][u32 part_count][u32 length of each part][the parts' bytes]; a record that
// does not fit before the end of the ring is preceded by a wrap marker (u32 0xFFFFFFFF) and
// starts at offset 0, the skipped bytes counting as used.
// Doorbells: a side polls its doorbell_fd() for POLLIN, which means "records for you, or room
// for you in your outgoing ring". Bells are rung only when asked for (a Dekker handshake on
// reader_sleeping / writer_waiting), so a busy lane makes no system calls. Each pipe is held
// through one read-write fd, so ringing never meets EPIPE or SIGPIPE, even when the peer died.
// Trust: the peer may be buggy or hostile. Every value read from the shared memory is copied
// out and checked before use (lengths against the ring and against head - tail); a broken
// format makes the lane broken for good (every later call reports the same decode_error),
// and nothing is ever read out of bounds. The bytes of a record may still change under the
// reader while it looks at them: they are the peer's to spoil, like bytes off a socket.
// Known limit (as for shm_region.hpp): a peer holding the file can shrink it, and this side
// then gets SIGBUS on its next access; tmpfs files made by O_TMPFILE cannot be sealed.
// Lifetime: the file never has a name; the kernel frees it with the last fd and mapping.

#include "zmesh/core/error.hpp"
#include "zmesh/core/internal/unique_fd.hpp"
#include "zmesh/transport/internal/shm_region.hpp"  // Mapping

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh::internal {

// What travels to the peer inside a ZeroMQ message: a fixed 64-byte frame (same host, so
// native byte order): magic "zmlane1\0", then the fields in this order, then 4 zero bytes.
struct LaneDescriptor {
  std::uint32_t pid = 0;              // the creator
  std::uint32_t file_fd = 0;          // creator's fd of the lane file
  std::uint32_t creator_bell_fd = 0;  // creator's fd of the creator's doorbell pipe
  std::uint32_t opener_bell_fd = 0;   // creator's fd of the opener's doorbell pipe
  std::uint64_t inode = 0, device = 0;
  std::array<std::uint8_t, 16> token{};
  std::uint32_t ring_bytes = 0;
};
inline constexpr std::size_t lane_descriptor_size = 64;
std::string encode_lane_descriptor(const LaneDescriptor& descriptor);
// Checks the length and magic only; ShmLane::open() checks the rest against the file.
Result<LaneDescriptor> parse_lane_descriptor(std::string_view bytes);

struct LaneRing;

class ShmLane {
 public:
  // Ring sizes: a power of two in [min_ring_bytes, max_ring_bytes].
  static constexpr std::size_t min_ring_bytes = 4096;
  static constexpr std::size_t max_ring_bytes = std::size_t{1} << 30;
  // Where the forward ring begins in the file (the reverse ring follows it); for tests.
  static constexpr std::size_t rings_offset = 4096;
  // Parts of one record at most (more is too_large).
  static constexpr std::size_t max_parts = 1024;

  // The creator: a new lane in `dir` (a tmpfs directory) with two rings of `ring_bytes` each.
  // invalid_argument for a bad ring size; transport_failed naming `dir` and the failed step.
  static Result<std::unique_ptr<ShmLane>> create(const std::string& dir, std::size_t ring_bytes);
  // The opener: maps the lane `descriptor` names (through /proc/<pid>/fd/<n>), checking the
  // file's inode, device, magic, version, token and ring size, and the doorbells' inodes.
  // decode_error when it is not that lane; transport_failed when the fault is this process's
  // (EMFILE, ENOMEM, EACCES...), so that the caller can go on over ZeroMQ.
  static Result<std::unique_ptr<ShmLane>> open(const LaneDescriptor& descriptor);

  ShmLane(const ShmLane&) = delete;
  ShmLane& operator=(const ShmLane&) = delete;
  ~ShmLane();

  // The creator's: what to send to the peer. The opener's is the one it was opened from.
  LaneDescriptor descriptor() const { return descriptor_; }
  bool creator() const noexcept { return creator_; }
  // Creator, once the peer opened the lane: its descriptor of the file is needed no more
  // (the mapping stays), one descriptor less per lane.
  void close_file() noexcept { file_.reset(); }

  // Appends ONE record made of `parts` to this side's outgoing ring (creator: forward; opener:
  // reverse); the reader gets the same parts back.
  //   written:   done; the peer's doorbell was rung if (and only if) it said it sleeps.
  //   full:      no room now; the reader was asked to ring this side's doorbell once it frees
  //              some: poll doorbell_fd(), call woke(), then try again.
  //   too_large: more than max_parts parts, or more than max_record_bytes() in all; nothing
  //              was asked of the reader (the caller must send it another way).
  //   broken:    the lane is broken (the peer's counters make no sense); see error().
  enum class Write { written, full, too_large, broken };
  Write write(std::span<const std::string_view> parts);
  // The largest record: 8 bytes + 4 per part + the parts' bytes must not exceed it. A quarter
  // of the ring, so that several records are in flight and a wrap never needs more than half.
  std::size_t max_record_bytes() const noexcept { return ring_bytes_ / 4; }
  // Whether write() takes `parts` as one record (it is not too_large), room aside: for a
  // caller that must choose between the lane and another way before it writes.
  bool fits(std::span<const std::string_view> parts) const noexcept;

  // The oldest record of this side's incoming ring: its parts, as views into the ring that
  // stay valid until pop(). false when the ring is empty; decode_error (naming what was
  // wrong) when the peer broke the format, after which the lane is broken for good.
  Result<bool> peek(std::vector<std::string_view>& parts);
  // Frees the record peek() returned (nothing without one); rings the writer's doorbell when
  // it waits for room.
  void pop();

  // Sleep protocol of the reading side's I/O loop: call before a poll that may wait; false
  // means input is already there (do not wait). After the poll returns (by the doorbell or
  // not), call woke(): it drains the doorbell and says this side is awake.
  bool prepare_to_sleep();
  void woke();
  // As woke() after a poll whose doorbell was not readable: nothing to drain, no system call.
  void awake() noexcept;
  // This side's doorbell: POLLIN when rung.
  int doorbell_fd() const noexcept { return own_bell_.get(); }

  // Writer: whether the reader has left records of ours unread, and how far it has read
  // (its own counter, as it reports it: a hint, such as "it has stopped reading").
  bool unread() const noexcept;
  std::uint64_t peer_read() const noexcept;

  // Why the lane is broken, if it is.
  const std::optional<Error>& error() const noexcept { return broken_; }

  // For tests and stats; this side's thread only.
  struct Counters {
    std::uint64_t bells_rung = 0;  // doorbell writes this side made
    std::uint64_t records_written = 0;
    std::uint64_t records_read = 0;
  };
  const Counters& counters() const noexcept { return counters_; }

 private:
  ShmLane() = default;
  void ring_peer();
  Error fail(std::string what);

  Mapping mapping_;
  UniqueFd file_;  // creator: the fd the opener opens through /proc
  UniqueFd own_bell_;   // polled by this side
  UniqueFd peer_bell_;  // rung by this side
  LaneRing* out_ = nullptr;  // control block of the ring this side writes
  LaneRing* in_ = nullptr;   // control block of the ring this side reads
  char* out_bytes_ = nullptr;
  const char* in_bytes_ = nullptr;
  std::size_t ring_bytes_ = 0;
  // This side's own counters, kept here: the shared copies are written, never trusted back.
  std::uint64_t head_ = 0;     // of the outgoing ring
  std::uint64_t tail_ = 0;     // of the incoming ring
  std::uint64_t pending_ = 0;  // bytes the record peek() returned takes (wrap skip included)
  bool creator_ = false;
  LaneDescriptor descriptor_;
  std::optional<Error> broken_;
  Counters counters_;
};

}  // namespace zmesh::internal
