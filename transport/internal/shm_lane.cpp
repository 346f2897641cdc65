#include "zmesh/transport/internal/shm_lane.hpp"
#include "zmesh/transport/internal/native_fields.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace zmesh::internal {

// One ring's control block: each field on a cache line of its own, so that the producer's
// and the consumer's stores do not bounce one line between the cores. Only touched through
// std::atomic_ref: both processes map them.
struct LaneRing {
  alignas(64) std::uint64_t head;             // bytes ever written; the producer stores it
  alignas(64) std::uint64_t tail;             // bytes ever consumed; the consumer stores it
  alignas(64) std::uint32_t reader_sleeping;  // the consumer is about to poll its doorbell
  alignas(64) std::uint32_t writer_waiting;   // the producer waits for room
};

// The file's first page. Written once by the creator before the descriptor leaves it.
struct LaneHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t ring_bytes;
  std::uint8_t token[16];
  std::uint64_t creator_bell_inode;  // the doorbells, so that the opener knows it has ours
  std::uint64_t opener_bell_inode;
  LaneRing rings[2];  // forward, reverse
};
static_assert(sizeof(LaneHeader) <= ShmLane::rings_offset);
static_assert(offsetof(LaneHeader, rings) == 64 && sizeof(LaneRing) == 256,
              "the layout shm_lane.hpp documents (tests scribble into it)");
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free &&
                  std::atomic_ref<std::uint32_t>::is_always_lock_free,
              "the control blocks are shared between processes: their atomics must be lock-free");

namespace {

constexpr char descriptor_magic[8] = {'z', 'm', 'l', 'a', 'n', 'e', '1', '\0'};
constexpr char file_magic[8] = {'z', 'm', 'l', 'a', 'n', 'e', 'f', '\0'};
constexpr std::uint32_t file_version = 1;
constexpr std::uint32_t wrap_marker = 0xFFFFFFFF;
constexpr std::size_t record_header_bytes = 8;  // record_bytes, part_count

std::size_t round_up8(std::size_t bytes) {
  return (bytes + 7) & ~std::size_t{7};
}

bool valid_ring_size(std::uint64_t bytes) {
  return bytes >= ShmLane::min_ring_bytes && bytes <= ShmLane::max_ring_bytes &&
         (bytes & (bytes - 1)) == 0;
}

template <class T>
std::atomic_ref<T> shared(T& field) {
  return std::atomic_ref<T>(field);
}

std::uint32_t load_u32(const char* at) {
  std::uint32_t value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

void store_u32(char* at, std::uint32_t value) {
  std::memcpy(at, &value, sizeof value);
}

Error create_error(const std::string& dir, std::string_view step, int error) {
  return Error(ErrorCode::transport_failed,
               fmt::format("shared-memory lane in {}: {} failed: {}", dir, step,
                           std::strerror(error)));
}

Error bad_descriptor(const LaneDescriptor& d, std::string_view what) {
  return Error(ErrorCode::decode_error,
               fmt::format("shared-memory lane (pid {} fd {}): {}", d.pid, d.file_fd, what));
}

Error cannot_open(const LaneDescriptor& d, std::string_view what) {
  return Error(ErrorCode::transport_failed,
               fmt::format("shared-memory lane (pid {} fd {}): {} (this process cannot open it: "
                           "use ZeroMQ instead)",
                           d.pid, d.file_fd, what));
}

Error open_error(const LaneDescriptor& d, const std::string& what, int error) {
  const auto text = fmt::format("{}: {}", what, std::strerror(error));
  return fault_of_this_process(error) ? cannot_open(d, text) : bad_descriptor(d, text);
}

// A doorbell: a pipe held through ONE read-write fd. Reading and writing through the same
// open file means the pipe always has a reader, so ringing never raises SIGPIPE.
Result<UniqueFd> make_bell(const std::string& dir) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) return create_error(dir, "pipe2", errno);
  const UniqueFd read_end(ends[0]);
  const UniqueFd write_end(ends[1]);
  const auto path = fmt::format("/proc/self/fd/{}", read_end.get());
  UniqueFd bell(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!bell.valid()) return create_error(dir, fmt::format("open {} (doorbell)", path), errno);
  return bell;
}

Result<std::uint64_t> inode_of(const std::string& dir, const UniqueFd& fd) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return create_error(dir, "fstat (doorbell)", errno);
  return static_cast<std::uint64_t>(st.st_ino);
}

// The opener's end of doorbell `name`: creator's fd `fd`, which must be the pipe `inode`.
Result<UniqueFd> open_bell(const LaneDescriptor& d, std::uint32_t fd, std::uint64_t inode,
                           std::string_view name) {
  const std::string path = fmt::format("/proc/{}/fd/{}", d.pid, fd);
  // Looked at before it is opened: opening a device or a socket can have effects of its own.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return open_error(d, fmt::format("{} doorbell {}", name, path), errno);
  }
  const auto is_bell = [&](const struct stat& s) {
    return S_ISFIFO(s.st_mode) && static_cast<std::uint64_t>(s.st_ino) == inode;
  };
  if (!is_bell(st)) {
    return bad_descriptor(d, fmt::format("{} is not the {} doorbell the lane names (a pipe "
                                         "with inode {})",
                                         path, name, inode));
  }
  UniqueFd bell(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!bell.valid()) return open_error(d, fmt::format("open {}", path), errno);
  if (::fstat(bell.get(), &st) != 0 || !is_bell(st)) {
    return bad_descriptor(d, fmt::format("{} changed while being opened", path));
  }
  return bell;
}

}  // namespace

// -- descriptors --

std::string encode_lane_descriptor(const LaneDescriptor& d) {
  std::string out;
  out.reserve(lane_descriptor_size);
  out.append(descriptor_magic, sizeof descriptor_magic);
  put_native(out, d.pid);
  put_native(out, d.file_fd);
  put_native(out, d.creator_bell_fd);
  put_native(out, d.opener_bell_fd);
  put_native(out, d.inode);
  put_native(out, d.device);
  out.append(reinterpret_cast<const char*>(d.token.data()), d.token.size());
  put_native(out, d.ring_bytes);
  out.resize(lane_descriptor_size, '\0');
  return out;
}

Result<LaneDescriptor> parse_lane_descriptor(std::string_view bytes) {
  auto fields = fixed_fields(bytes, lane_descriptor_size, descriptor_magic,
                             "shared-memory lane descriptor");
  if (!fields) return std::move(fields).error();
  const char* in = *fields;
  LaneDescriptor d;
  d.pid = take_native<std::uint32_t>(in);
  d.file_fd = take_native<std::uint32_t>(in);
  d.creator_bell_fd = take_native<std::uint32_t>(in);
  d.opener_bell_fd = take_native<std::uint32_t>(in);
  d.inode = take_native<std::uint64_t>(in);
  d.device = take_native<std::uint64_t>(in);
  std::memcpy(d.token.data(), in, d.token.size());
  in += d.token.size();
  d.ring_bytes = take_native<std::uint32_t>(in);
  return d;
}

// -- making and opening --

ShmLane::~ShmLane() = default;

Result<std::unique_ptr<ShmLane>> ShmLane::create(const std::string& dir, std::size_t ring_bytes) {
  if (!valid_ring_size(ring_bytes)) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("shared-memory lane: ring size {} is not a power of two from {} to {}",
                             ring_bytes, min_ring_bytes, max_ring_bytes));
  }
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return create_error(dir, "open(O_TMPFILE)", errno);
  // Openers accept only tmpfs files (memory, not a disk); say so here, where it is fixable.
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0) return create_error(dir, "fstatfs", errno);
  if (fs.f_type != TMPFS_MAGIC) {
    return Error(ErrorCode::transport_failed,
                 fmt::format("shared-memory lane in {}: not a tmpfs (peers map only tmpfs "
                             "files); point ZMESH_SHM_DIR at one, such as /dev/shm",
                             dir));
  }
  const std::size_t total = rings_offset + 2 * ring_bytes;
  // Reserves the memory now: a full tmpfs fails here with ENOSPC, not later as SIGBUS.
  if (::fallocate(fd.get(), 0, 0, static_cast<off_t>(total)) != 0) {
    return create_error(dir, fmt::format("reserving {} bytes (fallocate)", total), errno);
  }
  void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return create_error(dir, fmt::format("mmap of {} bytes", total), errno);
  auto lane = std::unique_ptr<ShmLane>(new ShmLane());
  lane->mapping_ = Mapping(base, total);
  LaneDescriptor& d = lane->descriptor_;
  if (::getrandom(d.token.data(), d.token.size(), 0) != static_cast<ssize_t>(d.token.size())) {
    return create_error(dir, "getrandom", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return create_error(dir, "fstat", errno);
  auto creator_bell = make_bell(dir);
  if (!creator_bell) return std::move(creator_bell).error();
  auto opener_bell = make_bell(dir);
  if (!opener_bell) return std::move(opener_bell).error();
  auto creator_inode = inode_of(dir, *creator_bell);
  if (!creator_inode) return std::move(creator_inode).error();
  auto opener_inode = inode_of(dir, *opener_bell);
  if (!opener_inode) return std::move(opener_inode).error();

  auto* header = static_cast<LaneHeader*>(base);
  std::memcpy(header->magic, file_magic, sizeof file_magic);
  header->version = file_version;
  header->ring_bytes = static_cast<std::uint32_t>(ring_bytes);
  std::memcpy(header->token, d.token.data(), d.token.size());
  header->creator_bell_inode = *creator_inode;
  header->opener_bell_inode = *opener_inode;

  d.pid = static_cast<std::uint32_t>(::getpid());
  d.file_fd = static_cast<std::uint32_t>(fd.get());
  d.creator_bell_fd = static_cast<std::uint32_t>(creator_bell->get());
  d.opener_bell_fd = static_cast<std::uint32_t>(opener_bell->get());
  d.inode = static_cast<std::uint64_t>(st.st_ino);
  d.device = static_cast<std::uint64_t>(st.st_dev);
  d.ring_bytes = static_cast<std::uint32_t>(ring_bytes);

  lane->creator_ = true;
  lane->file_ = std::move(fd);
  lane->own_bell_ = std::move(*creator_bell);
  lane->peer_bell_ = std::move(*opener_bell);
  lane->out_ = &header->rings[0];
  lane->in_ = &header->rings[1];
  lane->out_bytes_ = static_cast<char*>(base) + rings_offset;
  lane->in_bytes_ = lane->out_bytes_ + ring_bytes;
  lane->ring_bytes_ = ring_bytes;
  return lane;
}

Result<std::unique_ptr<ShmLane>> ShmLane::open(const LaneDescriptor& d) {
  if (d.pid == 0 || d.pid > INT32_MAX || d.file_fd > INT32_MAX || d.creator_bell_fd > INT32_MAX ||
      d.opener_bell_fd > INT32_MAX) {
    return bad_descriptor(d, "pid 0, or pid or an fd out of range");
  }
  if (!valid_ring_size(d.ring_bytes)) {
    return bad_descriptor(d, fmt::format("ring size {} is not a power of two from {} to {}",
                                         d.ring_bytes, min_ring_bytes, max_ring_bytes));
  }
  const std::string path = fmt::format("/proc/{}/fd/{}", d.pid, d.file_fd);
  // Looked at before it is opened: opening a device or a FIFO can have effects of its own.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (fault_of_this_process(error)) {
      return cannot_open(d, fmt::format("{}: {}", path, std::strerror(error)));
    }
    return bad_descriptor(d, fmt::format("{}: {} (the creator exited, or is not on this host)",
                                         path, std::strerror(error)));
  }
  const auto same_file = [&](const struct stat& s) {
    return S_ISREG(s.st_mode) && static_cast<std::uint64_t>(s.st_ino) == d.inode &&
           static_cast<std::uint64_t>(s.st_dev) == d.device;
  };
  if (!same_file(st)) {
    return bad_descriptor(d, fmt::format("{} is not the regular file with inode {} on device {} "
                                         "the descriptor names",
                                         path, d.inode, d.device));
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return open_error(d, fmt::format("open {}", path), errno);
  struct statfs fs {};
  if (::fstat(fd.get(), &st) != 0 || !same_file(st)) {
    return bad_descriptor(d, fmt::format("{} changed while being opened", path));
  }
  if (::fstatfs(fd.get(), &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
    return bad_descriptor(d, fmt::format("{} is not on a tmpfs", path));
  }
  if (st.st_nlink != 0) {
    return bad_descriptor(d, fmt::format("{} has a name (lanes are unnamed files)", path));
  }
  const std::size_t total = rings_offset + 2 * std::size_t{d.ring_bytes};
  if (static_cast<std::uint64_t>(st.st_size) != total) {
    return bad_descriptor(d, fmt::format("{} holds {} bytes, not the {} of a lane with {}-byte "
                                         "rings",
                                         path, st.st_size, total, d.ring_bytes));
  }
  void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return open_error(d, fmt::format("mmap of {} bytes", total), errno);
  auto lane = std::unique_ptr<ShmLane>(new ShmLane());
  lane->mapping_ = Mapping(base, total);
  auto* header = static_cast<LaneHeader*>(base);
  if (std::memcmp(header->magic, file_magic, sizeof file_magic) != 0 ||
      header->version != file_version) {
    return bad_descriptor(d, fmt::format("{} is not a zmesh lane of version {} (magic or "
                                         "version differ)",
                                         path, file_version));
  }
  if (std::memcmp(header->token, d.token.data(), d.token.size()) != 0) {
    return bad_descriptor(d, fmt::format("{} is a lane with another token than the "
                                         "descriptor's (not the lane it names)",
                                         path));
  }
  if (header->ring_bytes != d.ring_bytes) {
    return bad_descriptor(d, fmt::format("{} has {}-byte rings, the descriptor says {}", path,
                                         header->ring_bytes, d.ring_bytes));
  }
  auto creator_bell = open_bell(d, d.creator_bell_fd, header->creator_bell_inode, "creator's");
  if (!creator_bell) return std::move(creator_bell).error();
  auto opener_bell = open_bell(d, d.opener_bell_fd, header->opener_bell_inode, "opener's");
  if (!opener_bell) return std::move(opener_bell).error();

  lane->own_bell_ = std::move(*opener_bell);
  lane->peer_bell_ = std::move(*creator_bell);
  lane->out_ = &header->rings[1];
  lane->in_ = &header->rings[0];
  lane->in_bytes_ = static_cast<const char*>(base) + rings_offset;
  lane->out_bytes_ = static_cast<char*>(base) + rings_offset + d.ring_bytes;
  lane->ring_bytes_ = d.ring_bytes;
  lane->descriptor_ = d;
  // The creator may have written records already: start from where the rings are now.
  lane->head_ = shared(lane->out_->head).load(std::memory_order_acquire);
  lane->tail_ = shared(lane->in_->tail).load(std::memory_order_acquire);
  if (lane->head_ % 8 != 0 || lane->tail_ % 8 != 0) {
    return bad_descriptor(d, fmt::format("{}: the rings' counters are not 8-byte aligned "
                                         "(head {}, tail {})",
                                         path, lane->head_, lane->tail_));
  }
  return lane;
}

// -- writing --

bool ShmLane::fits(std::span<const std::string_view> parts) const noexcept {
  if (parts.size() > max_parts) return false;
  std::size_t bytes = record_header_bytes + 4 * parts.size();
  for (const auto part : parts) {
    if (part.size() > max_record_bytes()) return false;  // and bytes cannot overflow
    bytes += part.size();
  }
  return bytes <= max_record_bytes();
}

ShmLane::Write ShmLane::write(std::span<const std::string_view> parts) {
  if (broken_) return Write::broken;
  if (!fits(parts)) return Write::too_large;
  std::size_t bytes = record_header_bytes + 4 * parts.size();
  for (const auto part : parts) bytes += part.size();

  const std::size_t room = round_up8(bytes);
  const std::size_t position = head_ & (ring_bytes_ - 1);
  const std::size_t to_end = ring_bytes_ - position;
  // A record never straddles the end of the ring: the reader gets each part as one view.
  const std::size_t skip = room <= to_end ? 0 : to_end;
  const std::uint64_t needed = skip + room;

  auto tail = shared(out_->tail);
  std::uint64_t used = head_ - tail.load(std::memory_order_acquire);
  const auto insane = [&] { return used > ring_bytes_ || used % 8 != 0; };
  const auto fail_tail = [&] {
    fail(fmt::format("the reader's tail is {} bytes behind this side's head, beyond the "
                     "{}-byte ring or not 8-byte aligned",
                     used, ring_bytes_));
    return Write::broken;
  };
  if (insane()) return fail_tail();
  if (ring_bytes_ - used < needed) {
    // Dekker with pop(): this side publishes that it waits, then looks at the tail again;
    // pop() publishes the tail, then looks at writer_waiting. All four are seq_cst, so at
    // least one side sees the other's store: room is found here, or the bell rings.
    auto waiting = shared(out_->writer_waiting);
    waiting.store(1, std::memory_order_seq_cst);
    used = head_ - tail.load(std::memory_order_seq_cst);
    if (insane()) return fail_tail();
    if (ring_bytes_ - used < needed) return Write::full;
    // Room after all. A bell the reader may still ring for it is a spurious wake-up only.
    waiting.store(0, std::memory_order_relaxed);
  }

  char* at = out_bytes_ + position;
  if (skip != 0) {
    store_u32(at, wrap_marker);
    at = out_bytes_;
  }
  store_u32(at, static_cast<std::uint32_t>(bytes));
  store_u32(at + 4, static_cast<std::uint32_t>(parts.size()));
  char* lengths = at + record_header_bytes;
  char* data = lengths + 4 * parts.size();
  for (const auto part : parts) {
    store_u32(lengths, static_cast<std::uint32_t>(part.size()));
    lengths += 4;
    if (!part.empty()) std::memcpy(data, part.data(), part.size());
    data += part.size();
  }
  head_ += needed;
  ++counters_.records_written;
  // Release (of the bytes above) and the Dekker store with prepare_to_sleep().
  shared(out_->head).store(head_, std::memory_order_seq_cst);
  auto sleeping = shared(out_->reader_sleeping);
  if (sleeping.load(std::memory_order_seq_cst) != 0 &&
      sleeping.exchange(0, std::memory_order_relaxed) != 0) {
    ring_peer();
  }
  return Write::written;
}

// -- reading --

Result<bool> ShmLane::peek(std::vector<std::string_view>& parts) {
  parts.clear();
  if (broken_) return *broken_;
  const std::uint64_t head = shared(in_->head).load(std::memory_order_acquire);
  const std::uint64_t available = head - tail_;
  if (available > ring_bytes_ || available % 8 != 0) {
    return fail(fmt::format("the writer's head is {} bytes past the reader's tail, beyond the "
                            "{}-byte ring or not 8-byte aligned",
                            available, ring_bytes_));
  }
  if (available == 0) return false;
  // Every value below comes from the peer: each is copied out once, then checked, then used.
  std::size_t position = tail_ & (ring_bytes_ - 1);
  std::uint64_t skip = 0;
  std::uint32_t record_bytes = load_u32(in_bytes_ + position);
  if (record_bytes == wrap_marker) {
    // The writer wraps only when a record does not fit before the end, and records take at
    // most a quarter of the ring: never at offset 0, never as the last bytes written.
    if (position == 0) return fail("a wrap marker at the start of the ring");
    skip = ring_bytes_ - position;
    if (skip >= available) return fail("a wrap marker with no record written after it");
    position = 0;
    record_bytes = load_u32(in_bytes_);
  }
  // position is 8-aligned and below the ring's end, so the 8 header bytes are inside it.
  const std::uint32_t part_count = load_u32(in_bytes_ + position + 4);
  if (record_bytes < record_header_bytes || record_bytes > max_record_bytes()) {
    return fail(fmt::format("a record of {} bytes (from {} to {} are valid; a wrap marker in "
                            "the wrong place?)",
                            record_bytes, record_header_bytes, max_record_bytes()));
  }
  const std::size_t room = round_up8(record_bytes);
  if (room > available - skip) {
    return fail(fmt::format("a record of {} bytes where only {} were written", record_bytes,
                            available - skip));
  }
  if (position + room > ring_bytes_) return fail("a record straddling the end of the ring");
  if (part_count > max_parts ||
      record_header_bytes + 4 * std::size_t{part_count} > record_bytes) {
    return fail(fmt::format("{} parts in a record of {} bytes (at most {} parts, 4 bytes of "
                            "length each)",
                            part_count, record_bytes, max_parts));
  }
  const char* lengths = in_bytes_ + position + record_header_bytes;
  const char* data = lengths + 4 * std::size_t{part_count};
  const std::size_t data_bytes = record_bytes - record_header_bytes - 4 * std::size_t{part_count};
  std::size_t offset = 0;
  parts.reserve(part_count);
  for (std::uint32_t i = 0; i < part_count; ++i) {
    const std::uint32_t length = load_u32(lengths + 4 * std::size_t{i});
    if (length > data_bytes - offset) {
      parts.clear();
      return fail(fmt::format("part {} of {} bytes overruns its record ({} bytes of parts, {} "
                              "used before it)",
                              i, length, data_bytes, offset));
    }
    parts.emplace_back(data + offset, length);
    offset += length;
  }
  if (offset != data_bytes) {
    parts.clear();
    return fail(fmt::format("parts of {} bytes in all in a record holding {}", offset,
                            data_bytes));
  }
  pending_ = skip + room;
  return true;
}

void ShmLane::pop() {
  if (pending_ == 0) return;
  tail_ += pending_;
  pending_ = 0;
  ++counters_.records_read;
  // Release (this side is done with the bytes) and the Dekker store with write()'s wait.
  shared(in_->tail).store(tail_, std::memory_order_seq_cst);
  auto waiting = shared(in_->writer_waiting);
  if (waiting.load(std::memory_order_seq_cst) != 0 &&
      waiting.exchange(0, std::memory_order_relaxed) != 0) {
    ring_peer();
  }
}

// -- sleeping --

bool ShmLane::prepare_to_sleep() {
  // Broken: "input is there", so that the caller peeks and meets the error.
  if (broken_) return false;
  // Dekker with write(): this side says it sleeps, then looks at the head again; write()
  // stores the head, then looks at reader_sleeping.
  auto sleeping = shared(in_->reader_sleeping);
  sleeping.store(1, std::memory_order_seq_cst);
  if (shared(in_->head).load(std::memory_order_seq_cst) != tail_) {
    sleeping.store(0, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void ShmLane::woke() {
  // A short read means the pipe is empty (for now); a later bell just wakes the loop again.
  char buffer[256];
  while (::read(own_bell_.get(), buffer, sizeof buffer) == static_cast<ssize_t>(sizeof buffer)) {
  }
  awake();
}

std::uint64_t ShmLane::peer_read() const noexcept {
  return shared(out_->tail).load(std::memory_order_acquire);
}

bool ShmLane::unread() const noexcept { return peer_read() != head_; }

void ShmLane::awake() noexcept {
  shared(in_->reader_sleeping).store(0, std::memory_order_relaxed);
}

void ShmLane::ring_peer() {
  ++counters_.bells_rung;
  const char byte = 1;
  // EAGAIN: the pipe is full, so the bell rings already. Other errors cannot happen to a
  // pipe this side holds open for reading too (no EPIPE); there is nothing to do about them.
  while (::write(peer_bell_.get(), &byte, 1) < 0 && errno == EINTR) {
  }
}

Error ShmLane::fail(std::string what) {
  broken_ = Error(ErrorCode::decode_error,
                  fmt::format("shared-memory lane (creator pid {}, {} side): {}; the peer is "
                              "buggy or hostile: drop the lane and its peer's link",
                              descriptor_.pid, creator_ ? "creator" : "opener", what));
  return *broken_;
}

}  // namespace zmesh::internal
