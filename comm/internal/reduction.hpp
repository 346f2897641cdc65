#pragma once
// Reduction: one cast's fold at one node of the tree, or at the client (the root). Its parts
// are what reports to this node - the node's own actor, then each child's whole subtree, in
// rank order - and finish() folds what they reported in that order (so reducers need only be
// associative) into one Partial once every part reported (complete()) or the budget is spent.
// Parts that never reported become missing ranks, with the reason.
// Thread: owned by one comm actor, or by the client thread running the reduce.
// Failure: a reply or partial that does not fold makes its part's ranks missing with the
// Error; finish() itself cannot fail.

#include "zmesh/comm/internal/messages.hpp"
#include "zmesh/mesh/reducer.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace zmesh::comm::internal {

// How much earlier each level of a tree `depth` levels deep must report than the level above,
// so that a child's partial reaches its parent before the parent reports up: a share of the
// time left, `remaining_ms`, such that all levels together use at most a quarter of it, and
// between 1 and 100 ms per level.
std::uint32_t level_margin(std::uint32_t remaining_ms, std::size_t depth);

class Reduction {
 public:
  // A part: `head` (base rank) reports for the ranks at positions [begin, end) of the node's
  // view ranks. The node's own actor is the part headed by the node's own rank.
  struct Part {
    std::uint32_t head = 0;
    std::size_t begin = 0;
    std::size_t end = 0;
  };
  struct Folded {
    std::optional<Frames> value;
    std::uint64_t contributors = 0;
    std::vector<MissingRun> missing;
  };

  // `ops` null: the reducer is unknown here, and every part must be lost. `view_ranks` are the
  // ranks of the node's subtree in the cast's shape, ascending; `parts` cover them in order.
  Reduction(const ReducerOps* ops, std::vector<std::uint32_t> view_ranks, std::vector<Part> parts);

  // Whether the part headed by `head` exists and has not reported yet.
  bool waiting_for(std::uint32_t head) const;
  // The reply of the actor heading part `head`, whose rank in the cast's shape is `rank`.
  void contribute(std::uint32_t head, std::uint32_t rank, const Frames& input);
  // The folded subtree of the child heading part `head`. One that does not add up (more
  // contributors or missing ranks than the part has, or ranks outside it: a forged or
  // corrupt message) loses the part instead.
  void report(std::uint32_t head, Partial partial);
  // Part `head` will never report.
  void lose(std::uint32_t head, const Error& reason);
  bool complete() const { return waiting_ == 0; }
  // Parts that have not reported yet: each sends one message (its Partial, or a RankFailed
  // for it) before the reduction can complete.
  std::size_t waiting() const { return waiting_; }

  // Folds the parts in rank order; a part still waiting is missing with `waiting_reason(part)`.
  Folded finish(const std::function<Error(const Part&)>& waiting_reason) const;

 private:
  struct Report {
    bool done = false;
    std::optional<Frames> value;
    std::uint64_t contributors = 0;
    std::vector<MissingRun> missing;
  };

  // The index of the part headed by `head`, if it has not reported yet.
  std::optional<std::size_t> waiting_part(std::uint32_t head) const;
  // Whether `partial` fits `part`: checked before anything is allocated for its runs.
  Result<void> check(const Part& part, const Partial& partial) const;
  // The part's ranks as missing runs, all for `reason`.
  std::vector<MissingRun> missing_runs(const Part& part, const Error& reason) const;

  const ReducerOps* ops_;
  std::vector<std::uint32_t> view_ranks_;
  std::vector<Part> parts_;
  std::vector<Report> reports_;  // one per part
  std::size_t waiting_;
};

}  // namespace zmesh::comm::internal
