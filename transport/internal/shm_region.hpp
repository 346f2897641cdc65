#pragma once
// ShmRegion: one payload frame's bytes in shared memory, for peers on the same host: an
// unnamed tmpfs file (O_TMPFILE), written once by the proc that sends the frame and mapped
// read-only by each same-host receiver, whose Frame then points into the mapping (no copy).
// What travels instead of the bytes is a ShmDescriptor: the pid and fd number of a proc that
// holds the file open (the receiver opens /proc/<pid>/fd/<fd>), its inode, size and a random
// token that only the file itself and its descriptors carry.
// Lifetime: the file never has a name, so nothing can be left behind in the directory; the
// kernel frees its memory when the last fd and mapping are gone, whoever dies first. The
// sender keeps its fd in the region, which its unacked message holds; a receiver maps the
// file before it acks the message, so "acked" implies "mapped" (transport/internal/io_loop.cpp).
// A received region keeps its fd too (within an FdBudget), so a relay can share it on.
// Thread: a region is immutable once made; its last reference may go on any thread.
// Failure: create() and open() return an Error naming the directory or the descriptor and
// what was wrong; open() maps nothing that is not a zmesh region with that token
// (decode_error), and says transport_failed when the fault is this proc's (out of
// descriptors or memory, not allowed), so that the receiver can ask for bytes instead.

#include "zmesh/core/error.hpp"
#include "zmesh/core/frame.hpp"
#include "zmesh/core/internal/unique_fd.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace zmesh::internal {

// A read-only shared mapping of a whole file, unmapped on destruction.
class Mapping {
 public:
  Mapping() = default;
  Mapping(const void* base, std::size_t size) noexcept : base_(base), size_(size) {}
  Mapping(Mapping&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept;
  ~Mapping();
  const char* data() const noexcept { return static_cast<const char*>(base_); }

 private:
  const void* base_ = nullptr;
  std::size_t size_ = 0;
};

// How many received regions may keep their fd open at once, so that a receiver holding
// many frames (full mailboxes) cannot run out of descriptors: beyond it a region is mapped
// without its fd and, if sent on, copied into a new region instead of shared. One per
// Endpoint. Thread-safe.
class FdBudget {
 public:
  explicit FdBudget(int limit) noexcept : free_(limit) {}
  bool take() noexcept;
  void give_back() noexcept { free_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<int> free_;
};

// What travels instead of a frame's bytes: a fixed 56-byte frame (same host, so native
// byte order): magic "zmshd1\0\0", pid u32, fd u32, size u64, inode u64, device u64, token.
struct ShmDescriptor {
  std::uint32_t pid = 0;
  std::uint32_t fd = 0;
  std::uint64_t size = 0;  // the frame's bytes (the file holds a header before them)
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  std::array<std::uint8_t, 16> token{};
};
inline constexpr std::size_t shm_descriptor_size = 56;
std::string encode_shm_descriptor(const ShmDescriptor& descriptor);
// Checks the length and magic only; open() checks the rest against the file.
Result<ShmDescriptor> parse_shm_descriptor(std::string_view bytes);

class ShmRegion final : public SharedRegion {
 public:
  // Bytes of the file before the frame's: magic, token, size; 64 keeps the frame's bytes
  // aligned for any element type a Tensor may read in place.
  static constexpr std::size_t header_size = 64;

  // Writes `frame`'s bytes into a new unnamed file in `dir` (a tmpfs directory). The
  // region keeps `frame` too: the sender's copies of the frame still read its own buffer.
  // Fails (ENOSPC, EMFILE, not a tmpfs, ...) with a message naming `dir`.
  static Result<std::shared_ptr<const ShmRegion>> create(const std::string& dir,
                                                         const Frame& frame);
  // Opens and maps the region `descriptor` names, checking that it is an unnamed regular
  // file on a tmpfs with that inode, size and token. Keeps the fd when `budget` has room
  // (the region can then be shared on). The pages are faulted in as the reader touches
  // them (no MAP_POPULATE: a handler that reads part of a frame pays for that part only).
  static Result<std::shared_ptr<const ShmRegion>> open(const ShmDescriptor& descriptor,
                                                       std::shared_ptr<FdBudget> budget);

  ShmRegion(const ShmRegion&) = delete;
  ShmRegion& operator=(const ShmRegion&) = delete;
  ~ShmRegion() override;

  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return descriptor_.size; }
  // Whether this proc can share the region on (it holds the fd).
  bool shareable() const noexcept { return fd_.valid(); }
  // The descriptor naming this proc's fd; only when shareable().
  const ShmDescriptor& descriptor() const noexcept { return descriptor_; }

 private:
  ShmRegion() = default;

  UniqueFd fd_;
  Mapping mapping_;                   // received regions
  Frame source_;                      // created regions: the sender's own buffer
  std::shared_ptr<FdBudget> budget_;  // set when fd_ counts against it
  const char* data_ = nullptr;
  ShmDescriptor descriptor_;
};

// A Frame of the region's bytes, holding the region.
Frame region_frame(std::shared_ptr<const ShmRegion> region);

}  // namespace zmesh::internal
