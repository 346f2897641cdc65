#pragma once
// payload_checksum: FNV-1a over every byte of a frame, so that the shared-memory tests and
// transport_peer can tell a large payload arrived intact without printing it.
// Thread: a pure function.

#include "zmesh/core/frame.hpp"

#include <cstdint>

namespace zmesh::testing {

inline std::uint64_t payload_checksum(const Frame& frame) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const std::byte byte : frame.bytes()) {
    hash = (hash ^ static_cast<std::uint64_t>(byte)) * 1099511628211ull;
  }
  return hash;
}

}  // namespace zmesh::testing
