#pragma once
// Rank runs: the compact form of a subtree's ranks and their stream counters in a Cast. A cast
// to "*" is one run however many ranks it reaches, so a Cast stays small, and each node cuts
// its own list for its children instead of re-evaluating the selection. Also how errors name
// a rank (rank_text).
// Thread: pure functions. Failure: expand() rejects runs that are empty, overlap or descend.

#include "zmesh/comm/internal/messages.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/mesh/shape.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace zmesh::comm::internal {

// Ranks (ascending) with one counter each.
struct RankList {
  std::vector<std::size_t> ranks;
  std::vector<std::uint64_t> counters;
};

// Runs of `ranks[i]` (ascending) with `counters[i]`: consecutive ranks with equal counters
// share a run. The first form reuses `runs` (cleared first), for a node cutting one cast for
// each of its children.
void compress(std::span<const std::size_t> ranks, std::span<const std::uint64_t> counters,
              std::vector<RankRun>& runs);
std::vector<RankRun> compress(std::span<const std::size_t> ranks,
                              std::span<const std::uint64_t> counters);

// Most ranks one cast may carry: a bound on what a forged cast can make a proc allocate.
inline constexpr std::size_t max_cast_ranks = std::size_t{1} << 20;

// The ranks and counters of `runs`, which must be non-empty, ascending, disjoint, and all
// ranks of `shape` (the cast's shape), at most max_cast_ranks. Everything is checked
// before anything is allocated: the runs come from the wire. The first form fills `list`
// (cleared first), reusing its memory from cast to cast.
Result<void> expand(const std::vector<RankRun>& runs, const Shape& shape, RankList& list);
Result<RankList> expand(const std::vector<RankRun>& runs, const Shape& shape);

// "rank 5 (x=1/2,y=1/4)": a base rank as errors name it, by its rank and point in the cast's
// shape (a view's own numbering for a cast to a view).
std::string rank_text(const Shape& shape, std::size_t base_rank);

}  // namespace zmesh::comm::internal
