#pragma once
// CastControlFrames: the control frame of one cast for each child of a tree node. Children
// differ only in the ranks they carry, so the fields they share (names, shape, headers,
// reduction) are packed once per node and each child's frame is those bytes around its
// ranks: one allocation per child instead of a full encode. The bytes are exactly what
// encode(CastControl) gives, so receivers decode them as before.
// Thread: a value built and used by one thread.

#include "zmesh/comm/internal/messages.hpp"
#include "zmesh/core/frame.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace zmesh::comm::internal {

class CastControlFrames {
 public:
  // `control`'s ranks are ignored: each frame gets its own.
  explicit CastControlFrames(const CastControl& control);

  // The frame of a child whose subtree is `ranks` with stream `counters` (rank_runs.hpp).
  Frame with_ranks(std::span<const std::size_t> ranks, std::span<const std::uint64_t> counters);

 private:
  std::string before_ranks_;  // the array header and the fields before `ranks`
  std::string after_ranks_;   // the fields after it
  std::vector<RankRun> runs_;  // scratch, reused from child to child
  std::string ranks_;          // scratch: runs_ packed
};

}  // namespace zmesh::comm::internal
