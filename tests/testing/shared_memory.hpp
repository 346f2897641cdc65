#pragma once
// Test helpers for shared memory: whether bytes lie in a MAP_SHARED file mapping (so a
// payload was mapped, not copied), and a small tmpfs mounted for one test (root only), whose
// free space shows whether regions were freed.
// Thread: free functions and a scoped mount owned by the test's thread.

#include "testing/wait.hpp"

#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace zmesh::testing {

// Whether `address` lies in a shared mapping of a file (per /proc/self/maps: the
// permissions end in 's' and a path follows).
inline bool in_shared_mapping(const void* address) {
  const auto target = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long long begin = 0, end = 0;
    char permissions[5] = {};
    if (std::sscanf(line.c_str(), "%llx-%llx %4s", &begin, &end, permissions) != 3) continue;
    if (target < begin || target >= end) continue;
    return permissions[3] == 's' && line.find('/') != std::string::npos;
  }
  return false;
}

// Free bytes of the file system holding `dir`.
inline std::uint64_t free_bytes(const std::string& dir) {
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return 0;
  return std::uint64_t{fs.f_bfree} * fs.f_frsize;
}

// Entries in `dir` (regions are unnamed files: there should never be any).
inline std::size_t entries_in(const std::string& dir) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++count;
  return count;
}

// A tmpfs of `size` ("1m", "64m") mounted on a fresh directory for the test's lifetime.
// Mounting needs root (CAP_SYS_ADMIN): check ok() and skip with skip_reason() otherwise.
class ScopedTmpfs {
 public:
  ScopedTmpfs(const std::string& tag, const std::string& size) : dir_(unique_temp_path(tag)) {
    std::filesystem::create_directories(dir_);
    const std::string options = "size=" + size + ",mode=0700";
    if (::mount("zmesh-test", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      skip_reason_ = "mounting a tmpfs failed (" + std::string(std::strerror(errno)) +
                     "): this test needs root (CAP_SYS_ADMIN)";
    }
  }
  ~ScopedTmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ignored;
    std::filesystem::remove(dir_, ignored);
  }
  ScopedTmpfs(const ScopedTmpfs&) = delete;
  ScopedTmpfs& operator=(const ScopedTmpfs&) = delete;

  bool ok() const { return mounted_; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string skip_reason_;
};

}  // namespace zmesh::testing
