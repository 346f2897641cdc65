#pragma once
// IpcDirectory: where one process mesh's ipc sockets live: <base>/<client pid>-<world>/,
// with <base> = $XDG_RUNTIME_DIR/zmesh or /tmp/zmesh-<uid>, both mode 0700 and owned by
// this user, so no other user can open (connect to) a proc's socket. The client creates it
// and removes it with everything in it when the mesh ends; directories left by a client
// killed with SIGKILL are removed by the next client that starts (their pid is gone).
// Thread: a value owned by its allocator; the free function is stateless.

#include "zmesh/core/error.hpp"

#include <string>

namespace zmesh::internal {

// The user's private base directory, created (0700) when missing; fails naming it when it
// belongs to another user or others can open it.
Result<std::string> private_ipc_base();

class IpcDirectory {
 public:
  // Creates <base>/<pid>-<world>/ (0700), first removing directories of dead clients.
  static Result<IpcDirectory> create(const std::string& world);

  IpcDirectory() = default;
  IpcDirectory(IpcDirectory&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  IpcDirectory& operator=(IpcDirectory&& other) noexcept;
  IpcDirectory(const IpcDirectory&) = delete;
  IpcDirectory& operator=(const IpcDirectory&) = delete;
  ~IpcDirectory();  // removes the directory and its files

  const std::string& path() const { return path_; }

 private:
  explicit IpcDirectory(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace zmesh::internal
