#pragma once
// Helpers shared by the same-host descriptors (shm_region.hpp, shm_lane.hpp): fixed fields
// in native byte order (both ends share the host), and which errno values of opening a
// peer's /proc/<pid>/fd/<n> are this process's fault rather than the descriptor's.
// Thread: free functions.

#include "zmesh/core/error.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace zmesh::internal {

template <class T>
void put_native(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// Where the fields of a fixed-size frame of `size` bytes begin, after its 8-byte `magic`;
// decode_error naming `what` (and the magic as text) when the size or the magic is wrong.
inline Result<const char*> fixed_fields(std::string_view bytes, std::size_t size,
                                        const char (&magic)[8], std::string_view what) {
  if (bytes.size() != size) {
    return Error(ErrorCode::decode_error,
                 fmt::format("{} of {} bytes, expected {}", what, bytes.size(), size));
  }
  if (std::memcmp(bytes.data(), magic, sizeof magic) != 0) {
    return Error(ErrorCode::decode_error,
                 fmt::format("{} without its magic \"{}\" (not one, or from another zmesh "
                             "release)",
                             what, std::string_view(magic, ::strnlen(magic, sizeof magic))));
  }
  return bytes.data() + sizeof magic;
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
