#pragma once
// Helpers shared by the same-host descriptors (shm_region.hpp, shm_lane.hpp): fixed fields
// in native byte order (both ends share the host), and which errno values of opening a
// peer's /proc/<pid>/fd/<n> are this process's fault rather than the descriptor's.
// Thread: free functions.

#include <cerrno>
#include <cstring>
#include <string>

namespace zmesh::internal {

template <class T>
void put_native(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// Reads a T at `in` (which the caller checked holds enough bytes) and moves past it.
template <class T>
T take_native(const char*& in) {
  T value;
  std::memcpy(&value, in, sizeof value);
  in += sizeof value;
  return value;
}

// Out of descriptors or memory, or not allowed to open another process's fds: the peer's
// descriptor may be fine, and the caller goes on over ZeroMQ instead.
inline bool fault_of_this_process(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM || error == EAGAIN ||
         error == EACCES || error == EPERM;
}

}  // namespace zmesh::internal
