#include "zmesh/transport/internal/shm_region.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zmesh::internal {
namespace {

constexpr char descriptor_magic[8] = {'z', 'm', 's', 'h', 'd', '1', '\0', '\0'};
constexpr char file_magic[8] = {'z', 'm', 's', 'h', 'm', '1', '\0', '\0'};

// The file's first bytes (header_size in all, the rest zero).
struct FileHeader {
  char magic[8];
  std::uint8_t token[16];
  std::uint64_t size;
};
static_assert(sizeof(FileHeader) <= ShmRegion::header_size);

std::string errno_text(int error) {
  return std::strerror(error);
}

Error create_error(const std::string& dir, std::string_view step, int error) {
  return Error(ErrorCode::transport_failed,
               fmt::format("shared memory in {}: {} failed: {}", dir, step, errno_text(error)));
}

Error bad_descriptor(const ShmDescriptor& d, std::string_view what) {
  return Error(ErrorCode::decode_error,
               fmt::format("shared-memory descriptor (pid {} fd {} size {}): {}", d.pid, d.fd,
                           d.size, what));
}

// Failures of this proc, not of the descriptor: out of descriptors or memory, or not
// allowed to open another proc's fd here. The bytes would arrive over the socket.
bool passing(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM || error == EAGAIN ||
         error == EACCES || error == EPERM;
}

// A descriptor that may well be genuine but that this proc cannot map now.
Error cannot_map(const ShmDescriptor& d, std::string_view what) {
  return Error(ErrorCode::transport_failed,
               fmt::format("shared-memory region (pid {} fd {} size {}): {}", d.pid, d.fd,
                           d.size, what));
}

bool write_all(int fd, const char* bytes, std::size_t size, off_t offset) {
  while (size > 0) {
    const auto written = ::pwrite(fd, bytes, size, offset);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    bytes += written;
    size -= static_cast<std::size_t>(written);
    offset += written;
  }
  return true;
}

template <class T>
void put(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <class T>
T take(const char*& in) {
  T value;
  std::memcpy(&value, in, sizeof value);
  in += sizeof value;
  return value;
}

}  // namespace

// -- Mapping, FdBudget --

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(const_cast<void*>(base_), size_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Mapping::~Mapping() {
  if (base_ != nullptr) ::munmap(const_cast<void*>(base_), size_);
}

bool FdBudget::take() noexcept {
  int free = free_.load(std::memory_order_relaxed);
  while (free > 0) {
    if (free_.compare_exchange_weak(free, free - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

// -- descriptors --

std::string encode_shm_descriptor(const ShmDescriptor& d) {
  std::string out;
  out.reserve(shm_descriptor_size);
  out.append(descriptor_magic, sizeof descriptor_magic);
  put(out, d.pid);
  put(out, d.fd);
  put(out, d.size);
  put(out, d.inode);
  put(out, d.device);
  out.append(reinterpret_cast<const char*>(d.token.data()), d.token.size());
  return out;
}

Result<ShmDescriptor> parse_shm_descriptor(std::string_view bytes) {
  if (bytes.size() != shm_descriptor_size) {
    return Error(ErrorCode::decode_error,
                 fmt::format("shared-memory descriptor of {} bytes, expected {}", bytes.size(),
                             shm_descriptor_size));
  }
  if (std::memcmp(bytes.data(), descriptor_magic, sizeof descriptor_magic) != 0) {
    return Error(ErrorCode::decode_error,
                 "shared-memory descriptor without its magic \"zmshd1\" (not a descriptor)");
  }
  const char* in = bytes.data() + sizeof descriptor_magic;
  ShmDescriptor d;
  d.pid = take<std::uint32_t>(in);
  d.fd = take<std::uint32_t>(in);
  d.size = take<std::uint64_t>(in);
  d.inode = take<std::uint64_t>(in);
  d.device = take<std::uint64_t>(in);
  std::memcpy(d.token.data(), in, d.token.size());
  return d;
}

// -- regions --

ShmRegion::~ShmRegion() {
  if (budget_) budget_->give_back();
}

Result<std::shared_ptr<const ShmRegion>> ShmRegion::create(const std::string& dir,
                                                           const Frame& frame) {
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return create_error(dir, "open(O_TMPFILE)", errno);
  // Receivers accept only tmpfs files (memory, not a disk); say so here, where it is fixable.
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0) return create_error(dir, "fstatfs", errno);
  if (fs.f_type != TMPFS_MAGIC) {
    return Error(ErrorCode::transport_failed,
                 fmt::format("shared memory in {}: not a tmpfs (receivers map only tmpfs "
                             "files); point ZMESH_SHM_DIR at one, such as /dev/shm",
                             dir));
  }
  const std::uint64_t size = frame.size();
  // Reserves the memory now: a full tmpfs fails here with ENOSPC, not later in a write.
  if (::fallocate(fd.get(), 0, 0, static_cast<off_t>(header_size + size)) != 0) {
    return create_error(dir, fmt::format("reserving {} bytes (fallocate)", header_size + size),
                        errno);
  }
  auto region = std::shared_ptr<ShmRegion>(new ShmRegion());
  ShmDescriptor& d = region->descriptor_;
  if (::getrandom(d.token.data(), d.token.size(), 0) != static_cast<ssize_t>(d.token.size())) {
    return create_error(dir, "getrandom", errno);
  }
  char header[header_size] = {};
  FileHeader fields{};
  std::memcpy(fields.magic, file_magic, sizeof file_magic);
  std::memcpy(fields.token, d.token.data(), d.token.size());
  fields.size = size;
  std::memcpy(header, &fields, sizeof fields);
  // pwrite, not mmap and memcpy: one copy into the page cache, no page faults.
  if (!write_all(fd.get(), header, header_size, 0) ||
      !write_all(fd.get(), frame.data(), size, header_size)) {
    return create_error(dir, "writing the frame", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return create_error(dir, "fstat", errno);
  d.pid = static_cast<std::uint32_t>(::getpid());
  d.fd = static_cast<std::uint32_t>(fd.get());
  d.size = size;
  d.inode = st.st_ino;
  d.device = st.st_dev;
  region->fd_ = std::move(fd);
  region->source_ = frame;
  region->data_ = frame.data();
  return std::shared_ptr<const ShmRegion>(std::move(region));
}

Result<std::shared_ptr<const ShmRegion>> ShmRegion::open(const ShmDescriptor& d,
                                                         std::shared_ptr<FdBudget> budget) {
  if (d.pid == 0 || d.fd > INT32_MAX || d.size > (std::uint64_t{1} << 47)) {
    return bad_descriptor(d, "pid 0, or fd or size out of range");
  }
  const std::string path = fmt::format("/proc/{}/fd/{}", d.pid, d.fd);
  // Looked at before it is opened: opening a device or a FIFO can have effects of its own.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (passing(error)) return cannot_map(d, fmt::format("{}: {}", path, errno_text(error)));
    return bad_descriptor(
        d, fmt::format("{}: {} (the sender exited, or not on this host)", path, errno_text(error)));
  }
  const auto same_file = [&](const struct stat& s) {
    return S_ISREG(s.st_mode) && s.st_ino == d.inode && s.st_dev == d.device;
  };
  if (!same_file(st)) {
    return bad_descriptor(
        d, fmt::format("{} is not the regular file with inode {} it names", path, d.inode));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    const int error = errno;
    const auto what = fmt::format("open {}: {}", path, errno_text(error));
    return passing(error) ? cannot_map(d, what) : bad_descriptor(d, what);
  }
  struct statfs fs {};
  if (::fstat(fd.get(), &st) != 0 || !same_file(st)) {
    return bad_descriptor(d, fmt::format("{} changed while being opened", path));
  }
  if (::fstatfs(fd.get(), &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
    return bad_descriptor(d, fmt::format("{} is not on a tmpfs", path));
  }
  if (st.st_nlink != 0) {
    return bad_descriptor(d, fmt::format("{} has a name (regions are unnamed files)", path));
  }
  if (static_cast<std::uint64_t>(st.st_size) != header_size + d.size) {
    return bad_descriptor(d, fmt::format("{} holds {} bytes, the descriptor says {} plus a "
                                         "{}-byte header",
                                         path, st.st_size, d.size, header_size));
  }
  const std::size_t total = header_size + d.size;
  void* base = ::mmap(nullptr, total, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) {
    const int error = errno;
    const auto what = fmt::format("mmap of {} bytes: {}", total, errno_text(error));
    return passing(error) ? cannot_map(d, what) : bad_descriptor(d, what);
  }
  auto region = std::shared_ptr<ShmRegion>(new ShmRegion());
  region->mapping_ = Mapping(base, total);
  FileHeader fields{};
  std::memcpy(&fields, base, sizeof fields);
  if (std::memcmp(fields.magic, file_magic, sizeof file_magic) != 0 ||
      std::memcmp(fields.token, d.token.data(), d.token.size()) != 0 || fields.size != d.size) {
    return bad_descriptor(d, fmt::format("{} is not the zmesh region the descriptor names "
                                         "(magic, token or size differ)",
                                         path));
  }
  region->data_ = static_cast<const char*>(base) + header_size;
  region->descriptor_ = d;
  if (budget && budget->take()) {
    region->descriptor_.pid = static_cast<std::uint32_t>(::getpid());
    region->descriptor_.fd = static_cast<std::uint32_t>(fd.get());
    region->fd_ = std::move(fd);
    region->budget_ = std::move(budget);
  }
  return std::shared_ptr<const ShmRegion>(std::move(region));
}

Frame region_frame(std::shared_ptr<const ShmRegion> region) {
  const char* data = region->data();
  const std::size_t size = region->size();
  return Frame::wrap_region(std::move(region), data, size);
}

}  // namespace zmesh::internal
