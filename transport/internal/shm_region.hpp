#pragma once
// Shared memory for peers on the same host: an ShmFile is an unnamed tmpfs file (O_TMPFILE)
// that a sender writes frames into and each same-host receiver maps read-only; an ShmRegion
// is one frame's bytes in such a file, and what a Frame then points into (no copy).
// What travels instead of the bytes is a ShmDescriptor: the pid and fd number of a proc that
// holds the file open (the receiver opens /proc/<pid>/fd/<fd>), its inode, a random token
// that only the file itself and its descriptors carry, and the generation and size of the
// contents it means.
// Reuse: opening, mapping and faulting in a fresh file costs far more than the copy (about
// 0.4 ms per MiB for each receiver here, against 0.02 ms to read a warm mapping), so files
// are kept and written again (shm_pool.hpp). The file's header counts the receivers that
// hold its current contents (leases, taken before the message is acked, dropped with the
// last Frame); a sender rewrites a file only when it holds no reference to it itself and
// no lease is out, and each write bumps the generation, so a descriptor of older contents
// (a message given up and delivered late) is refused instead of read.
// Lifetime: the file never has a name, so nothing can be left behind in the directory; the
// kernel frees its memory when the last fd and mapping are gone, whoever dies first.
// A receiver keeps the fd too (within an FdBudget), so a relay can share the file on.
// Thread: an ShmFile is created and written by the thread that owns its pool or cache (the
// endpoint's I/O work); leases are dropped on any thread (atomic, in the shared header).
// An ShmRegion is immutable once made; its last reference may go on any thread.
// Failure: create() and open() return an Error naming the directory or the descriptor and
// what was wrong; open() maps nothing that is not a zmesh file with that token
// (decode_error), and says transport_failed when the fault is this proc's (out of
// descriptors or memory, not allowed), so that the receiver can ask for bytes instead.

#include "zmesh/core/config.hpp"  // Clock
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

// A shared mapping of (part of) a file, unmapped on destruction.
class Mapping {
 public:
  Mapping() = default;
  Mapping(void* base, std::size_t size) noexcept : base_(base), size_(size) {}
  Mapping(Mapping&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept;
  ~Mapping();
  char* data() const noexcept { return static_cast<char*>(base_); }

 private:
  void* base_ = nullptr;
  std::size_t size_ = 0;
};

// How many received files may keep their fd open at once, so that a receiver holding
// many frames (full mailboxes) cannot run out of descriptors: beyond it a file is mapped
// without its fd and, if sent on, copied into a file of this proc instead of shared. One per
// Endpoint. Thread-safe.
class FdBudget {
 public:
  explicit FdBudget(int limit) noexcept : free_(limit) {}
  bool take() noexcept;
  void give_back() noexcept { free_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<int> free_;
};

// What travels instead of a frame's bytes: a fixed 64-byte frame (same host, so native
// byte order): magic "zmshd2\0\0", pid u32, fd u32, size u64, inode u64, device u64, token
// (16 bytes), generation u64.
struct ShmDescriptor {
  std::uint32_t pid = 0;
  std::uint32_t fd = 0;
  std::uint64_t size = 0;  // the frame's bytes (the file holds a header before them)
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
  std::array<std::uint8_t, 16> token{};
  std::uint64_t generation = 0;  // which contents of the file
};
inline constexpr std::size_t shm_descriptor_size = 64;
std::string encode_shm_descriptor(const ShmDescriptor& descriptor);
// Checks the length and magic only; open() checks the rest against the file.
Result<ShmDescriptor> parse_shm_descriptor(std::string_view bytes);

struct ShmFileHeader;

class ShmFile {
 public:
  // Bytes of the file before the contents: magic, token, capacity, generation, size, leases;
  // 64 keeps the contents aligned for any element type a Tensor may read in place.
  static constexpr std::size_t header_size = 64;

  // A new unnamed file in `dir` (a tmpfs directory) with room for `capacity` bytes, mapped
  // for writing. Fails (ENOSPC, EMFILE, not a tmpfs, ...) with a message naming `dir`.
  static Result<std::shared_ptr<ShmFile>> create(const std::string& dir, std::uint64_t capacity);
  // Opens and maps (read-only, but for the header) the file `descriptor` names, checking
  // that it is an unnamed regular file on a tmpfs with that inode and token and room for
  // the size. Keeps the fd when `budget` has room (the file can then be shared on). Pages
  // are faulted in as the reader touches them.
  static Result<std::shared_ptr<ShmFile>> open(const ShmDescriptor& descriptor,
                                               const std::shared_ptr<FdBudget>& budget);

  ShmFile(const ShmFile&) = delete;
  ShmFile& operator=(const ShmFile&) = delete;
  ~ShmFile();

  std::uint64_t capacity() const noexcept { return capacity_; }
  const std::array<std::uint8_t, 16>& token() const noexcept { return token_; }
  std::uint64_t inode() const noexcept { return inode_; }
  std::uint64_t device() const noexcept { return device_; }
  bool has_fd() const noexcept { return fd_.valid(); }
  const char* data() const noexcept { return data_; }

  // Sender: takes the file for writing when no lease is out; false otherwise.
  bool try_claim() noexcept;
  // Sender, after try_claim(): copies `frame` in and publishes it as the next generation,
  // which it returns. Leases may be taken again from then on.
  std::uint64_t write(const Frame& frame) noexcept;
  // Receiver: a lease on the contents `generation`; false when the file holds other
  // contents by now (or is being written).
  bool lease(std::uint64_t generation) noexcept;
  void release_lease() noexcept;
  // The size of the contents, as their writer recorded it; stable while a lease is held.
  std::uint64_t contents_size() const noexcept;
  // Leases out now (what tests check; the pool tries try_claim() instead).
  std::uint64_t leases() const noexcept;

  // The owning pool's or cache's bookkeeping: when this file was last written or mapped.
  Clock::time_point last_used{};

 private:
  friend class ShmRegion;
  ShmFile() = default;

  UniqueFd fd_;
  Mapping contents_;  // the whole file: writable for the sender, read-only for receivers
  Mapping header_;    // receivers: the first page, writable, for the lease count
  ShmFileHeader* fields_ = nullptr;
  const char* data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t inode_ = 0;
  std::uint64_t device_ = 0;
  std::array<std::uint8_t, 16> token_{};
  std::shared_ptr<FdBudget> budget_;  // set when fd_ counts against it
};

// One frame's bytes in an ShmFile. The sender's keeps the frame it was written from (the
// sender's copies still read its own buffer); a receiver's holds a lease on the contents.
class ShmRegion final : public SharedRegion {
 public:
  // Sender: writes `frame` into `file`, which the caller claimed (ShmFile::try_claim).
  static std::shared_ptr<const ShmRegion> write(std::shared_ptr<ShmFile> file, const Frame& frame);
  // Sender, once: a new file of the frame's size holding it (tests; the pool reuses files).
  static Result<std::shared_ptr<const ShmRegion>> create(const std::string& dir,
                                                         const Frame& frame);
  // Receiver: the contents `descriptor` names in `file` (opened from it, or cached), with a
  // lease on them; decode_error when the file holds other contents by now.
  static Result<std::shared_ptr<const ShmRegion>> lease(std::shared_ptr<ShmFile> file,
                                                        const ShmDescriptor& descriptor);

  ShmRegion(const ShmRegion&) = delete;
  ShmRegion& operator=(const ShmRegion&) = delete;
  ~ShmRegion() override;

  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return descriptor_.size; }
  // Whether this proc can share the region on (it holds the file's fd).
  bool shareable() const noexcept { return file_->has_fd(); }
  // The descriptor naming this proc's fd; only when shareable().
  const ShmDescriptor& descriptor() const noexcept { return descriptor_; }
  const std::shared_ptr<ShmFile>& file() const noexcept { return file_; }

 private:
  ShmRegion() = default;

  std::shared_ptr<ShmFile> file_;
  Frame source_;        // sender: its own buffer
  bool leased_ = false;  // receiver: gives its lease back on destruction
  const char* data_ = nullptr;
  ShmDescriptor descriptor_;
};

// A Frame of the region's bytes, holding the region.
Frame region_frame(std::shared_ptr<const ShmRegion> region);

}  // namespace zmesh::internal
