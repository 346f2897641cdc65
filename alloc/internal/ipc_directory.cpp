#include "zmesh/alloc/internal/ipc_directory.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace zmesh::internal {
namespace {

namespace fs = std::filesystem;

// Only characters that are safe in a path component; anything else becomes '_'.
std::string path_safe(const std::string& name) {
  std::string safe = name;
  for (char& c : safe) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) c = '_';
  }
  return safe;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// Directories "<pid>-<world>" whose client is gone (killed before it could clean up).
void remove_abandoned(const std::string& base) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(base, error)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end == name.data() + name.size() || *end != '-' || pid <= 0) continue;
    if (!alive(pid)) fs::remove_all(entry.path(), error);
  }
}

}  // namespace

Result<std::string> private_ipc_base() {
  std::string base;
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime && ::access(runtime, W_OK) == 0) {
    base = fmt::format("{}/zmesh", runtime);
  } else {
    base = fmt::format("/tmp/zmesh-{}", ::geteuid());
  }
  if (::mkdir(base.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error(ErrorCode::transport_failed,
                 fmt::format("cannot create the ipc socket directory {}: {}", base, std::strerror(errno)));
  }
  struct stat info {};
  if (::lstat(base.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != ::geteuid() ||
      (info.st_mode & 077) != 0) {
    return Error(ErrorCode::unauthenticated,
                 fmt::format("the ipc socket directory {} is not a directory that only this user "
                             "(uid {}) can open; remove it and try again (another user may have "
                             "made it to reach your procs)",
                             base, ::geteuid()));
  }
  return base;
}

Result<IpcDirectory> IpcDirectory::create(const std::string& world) {
  auto base = private_ipc_base();
  if (!base) return std::move(base).error();
  remove_abandoned(*base);
  std::string path = fmt::format("{}/{}-{}", *base, ::getpid(), path_safe(world));
  if (::mkdir(path.c_str(), 0700) != 0) {
    return Error(ErrorCode::transport_failed,
                 fmt::format("cannot create the ipc socket directory {}: {}", path, std::strerror(errno)));
  }
  return IpcDirectory(std::move(path));
}

IpcDirectory& IpcDirectory::operator=(IpcDirectory&& other) noexcept {
  if (this != &other) {
    std::error_code error;
    if (!path_.empty()) fs::remove_all(path_, error);
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

IpcDirectory::~IpcDirectory() {
  std::error_code error;
  if (!path_.empty()) fs::remove_all(path_, error);
}

}  // namespace zmesh::internal
