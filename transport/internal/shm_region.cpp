#include "zmesh/transport/internal/shm_region.hpp"
#include "zmesh/transport/internal/native_fields.hpp"

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

// The file's first bytes (ShmFile::header_size in all, the rest zero). `generation` and
// `leases` are only touched through std::atomic_ref: every proc mapping the file shares them.
struct ShmFileHeader {
  char magic[8];
  std::uint8_t token[16];
  std::uint64_t capacity;
  std::uint64_t generation;
  std::uint64_t size;
  std::uint64_t leases;  // receivers holding the contents; writing_bit while being rewritten
};
static_assert(sizeof(ShmFileHeader) <= ShmFile::header_size);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "the lease count is shared between processes: it must be lock-free");

namespace {

constexpr char descriptor_magic[8] = {'z', 'm', 's', 'h', 'd', '2', '\0', '\0'};
constexpr char file_magic[8] = {'z', 'm', 's', 'h', 'm', '2', '\0', '\0'};
constexpr std::uint64_t writing_bit = std::uint64_t{1} << 63;

std::atomic_ref<std::uint64_t> leases_of(ShmFileHeader* fields) {
  return std::atomic_ref<std::uint64_t>(fields->leases);
}
std::atomic_ref<std::uint64_t> generation_of(ShmFileHeader* fields) {
  return std::atomic_ref<std::uint64_t>(fields->generation);
}

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

// A descriptor that may well be genuine but that this proc cannot map now.
Error cannot_map(const ShmDescriptor& d, std::string_view what) {
  return Error(ErrorCode::transport_failed,
               fmt::format("shared-memory region (pid {} fd {} size {}): {}", d.pid, d.fd,
                           d.size, what));
}

}  // namespace

// -- Mapping, FdBudget --

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, size_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Mapping::~Mapping() {
  if (base_ != nullptr) ::munmap(base_, size_);
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
  put_native(out, d.pid);
  put_native(out, d.fd);
  put_native(out, d.size);
  put_native(out, d.inode);
  put_native(out, d.device);
  out.append(reinterpret_cast<const char*>(d.token.data()), d.token.size());
  put_native(out, d.generation);
  return out;
}

Result<ShmDescriptor> parse_shm_descriptor(std::string_view bytes) {
  auto fields =
      fixed_fields(bytes, shm_descriptor_size, descriptor_magic, "shared-memory descriptor");
  if (!fields) return std::move(fields).error();
  const char* in = *fields;
  ShmDescriptor d;
  d.pid = take_native<std::uint32_t>(in);
  d.fd = take_native<std::uint32_t>(in);
  d.size = take_native<std::uint64_t>(in);
  d.inode = take_native<std::uint64_t>(in);
  d.device = take_native<std::uint64_t>(in);
  std::memcpy(d.token.data(), in, d.token.size());
  in += d.token.size();
  d.generation = take_native<std::uint64_t>(in);
  return d;
}

// -- files --

ShmFile::~ShmFile() {
  if (budget_) budget_->give_back();
}

Result<std::shared_ptr<ShmFile>> ShmFile::create(const std::string& dir, std::uint64_t capacity) {
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
  const std::uint64_t total = header_size + capacity;
  // Reserves the memory now: a full tmpfs fails here with ENOSPC, not later in a write.
  if (::fallocate(fd.get(), 0, 0, static_cast<off_t>(total)) != 0) {
    return create_error(dir, fmt::format("reserving {} bytes (fallocate)", total), errno);
  }
  void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return create_error(dir, fmt::format("mmap of {} bytes", total), errno);
  auto file = std::shared_ptr<ShmFile>(new ShmFile());
  file->contents_ = Mapping(base, total);
  if (::getrandom(file->token_.data(), file->token_.size(), 0) !=
      static_cast<ssize_t>(file->token_.size())) {
    return create_error(dir, "getrandom", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return create_error(dir, "fstat", errno);
  auto* fields = static_cast<ShmFileHeader*>(base);
  std::memcpy(fields->magic, file_magic, sizeof file_magic);
  std::memcpy(fields->token, file->token_.data(), file->token_.size());
  fields->capacity = capacity;
  file->fields_ = fields;
  file->data_ = static_cast<const char*>(base) + header_size;
  file->capacity_ = capacity;
  file->inode_ = st.st_ino;
  file->device_ = st.st_dev;
  file->fd_ = std::move(fd);
  return file;
}

Result<std::shared_ptr<ShmFile>> ShmFile::open(const ShmDescriptor& d,
                                               const std::shared_ptr<FdBudget>& budget) {
  if (d.pid == 0 || d.fd > INT32_MAX || d.size > (std::uint64_t{1} << 47)) {
    return bad_descriptor(d, "pid 0, or fd or size out of range");
  }
  const std::string path = fmt::format("/proc/{}/fd/{}", d.pid, d.fd);
  // Looked at before it is opened: opening a device or a FIFO can have effects of its own.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (fault_of_this_process(error)) {
      return cannot_map(d, fmt::format("{}: {}", path, errno_text(error)));
    }
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
  // Read-write only for the lease count in the header; the contents are mapped read-only.
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    const int error = errno;
    const auto what = fmt::format("open {}: {}", path, errno_text(error));
    return fault_of_this_process(error) ? cannot_map(d, what) : bad_descriptor(d, what);
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
  const auto total = static_cast<std::uint64_t>(st.st_size);
  if (total < header_size + d.size) {
    return bad_descriptor(d, fmt::format("{} holds {} bytes, less than the {} the descriptor "
                                         "says plus a {}-byte header",
                                         path, total, d.size, header_size));
  }
  const auto mapping_error = [&](std::uint64_t bytes) {
    const int error = errno;
    const auto what = fmt::format("mmap of {} bytes: {}", bytes, errno_text(error));
    return fault_of_this_process(error) ? cannot_map(d, what) : bad_descriptor(d, what);
  };
  void* base = ::mmap(nullptr, total, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return mapping_error(total);
  auto file = std::shared_ptr<ShmFile>(new ShmFile());
  file->contents_ = Mapping(base, total);
  void* header = ::mmap(nullptr, header_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (header == MAP_FAILED) return mapping_error(header_size);
  file->header_ = Mapping(header, header_size);
  auto* fields = static_cast<ShmFileHeader*>(header);
  if (std::memcmp(fields->magic, file_magic, sizeof file_magic) != 0 ||
      std::memcmp(fields->token, d.token.data(), d.token.size()) != 0 ||
      fields->capacity != total - header_size) {
    return bad_descriptor(d, fmt::format("{} is not the zmesh region the descriptor names "
                                         "(magic, token or size differ)",
                                         path));
  }
  file->fields_ = fields;
  file->data_ = static_cast<const char*>(base) + header_size;
  file->capacity_ = total - header_size;
  file->inode_ = d.inode;
  file->device_ = d.device;
  file->token_ = d.token;
  if (budget && budget->take()) {
    file->fd_ = std::move(fd);
    file->budget_ = budget;
  }
  return file;
}

bool ShmFile::try_claim() noexcept {
  std::uint64_t none = 0;
  // Acquire: what the last receiver read happens before this proc writes again.
  return leases_of(fields_).compare_exchange_strong(none, writing_bit, std::memory_order_acquire,
                                                    std::memory_order_relaxed);
}

std::uint64_t ShmFile::write(const Frame& frame) noexcept {
  std::memcpy(contents_.data() + header_size, frame.data(), frame.size());
  fields_->size = frame.size();
  const std::uint64_t generation =
      generation_of(fields_).load(std::memory_order_relaxed) + 1;
  generation_of(fields_).store(generation, std::memory_order_release);
  leases_of(fields_).store(0, std::memory_order_release);
  return generation;
}

bool ShmFile::lease(std::uint64_t generation) noexcept {
  auto leases = leases_of(fields_);
  std::uint64_t seen = leases.load(std::memory_order_relaxed);
  do {
    if ((seen & writing_bit) != 0) return false;
  } while (!leases.compare_exchange_weak(seen, seen + 1, std::memory_order_acquire,
                                         std::memory_order_relaxed));
  // With the lease held the sender cannot start another write: the contents stay these.
  if (generation_of(fields_).load(std::memory_order_acquire) != generation) {
    release_lease();
    return false;
  }
  return true;
}

std::uint64_t ShmFile::contents_size() const noexcept {
  return fields_->size;
}

void ShmFile::release_lease() noexcept {
  // Release: this proc's reads of the contents happen before the sender's next write.
  leases_of(fields_).fetch_sub(1, std::memory_order_release);
}

std::uint64_t ShmFile::leases() const noexcept {
  return leases_of(fields_).load(std::memory_order_acquire);
}

// -- regions --

ShmRegion::~ShmRegion() {
  if (leased_) file_->release_lease();
}

std::shared_ptr<const ShmRegion> ShmRegion::write(std::shared_ptr<ShmFile> file,
                                                  const Frame& frame) {
  auto region = std::shared_ptr<ShmRegion>(new ShmRegion());
  ShmDescriptor& d = region->descriptor_;
  d.generation = file->write(frame);
  d.pid = static_cast<std::uint32_t>(::getpid());
  d.fd = static_cast<std::uint32_t>(file->fd_.get());
  d.size = frame.size();
  d.inode = file->inode();
  d.device = file->device();
  d.token = file->token();
  region->source_ = frame;
  region->data_ = frame.data();
  region->file_ = std::move(file);
  return region;
}

Result<std::shared_ptr<const ShmRegion>> ShmRegion::create(const std::string& dir,
                                                           const Frame& frame) {
  auto file = ShmFile::create(dir, frame.size());
  if (!file) return std::move(file).error();
  (void)(*file)->try_claim();  // new: nobody else knows it
  return write(std::move(*file), frame);
}

Result<std::shared_ptr<const ShmRegion>> ShmRegion::lease(std::shared_ptr<ShmFile> file,
                                                          const ShmDescriptor& d) {
  if (d.size > file->capacity()) {
    return bad_descriptor(d, fmt::format("the region has room for {} bytes, the descriptor says {}",
                                         file->capacity(), d.size));
  }
  if (!file->lease(d.generation)) {
    return bad_descriptor(d, fmt::format("the region holds other contents by now (generation "
                                         "{} was given up and written over)",
                                         d.generation));
  }
  auto region = std::shared_ptr<ShmRegion>(new ShmRegion());
  region->leased_ = true;
  region->file_ = file;  // gives the lease back on every path from here
  if (file->contents_size() != d.size) {
    return bad_descriptor(d, fmt::format("the region holds {} bytes, the descriptor says {}",
                                         file->contents_size(), d.size));
  }
  region->data_ = file->data();
  region->descriptor_ = d;
  if (file->has_fd()) {
    region->descriptor_.pid = static_cast<std::uint32_t>(::getpid());
    region->descriptor_.fd = static_cast<std::uint32_t>(file->fd_.get());
  }
  region->file_ = std::move(file);
  return std::shared_ptr<const ShmRegion>(std::move(region));
}

Frame region_frame(std::shared_ptr<const ShmRegion> region) {
  const char* data = region->data();
  const std::size_t size = region->size();
  return Frame::wrap_region(std::move(region), data, size);
}

}  // namespace zmesh::internal
