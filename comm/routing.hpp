#pragma once
// DeliveryPlan: the tree a cast travels down, over exactly the ranks its selection chooses.
// Every node builds the same plan from (shape, selection, fan-out, seed) - no central table -
// so a cast could carry only its selection; the cast's origin (the client) is the virtual root.
// The comm tree (comm_actor.hpp) sends each child its subtree's ranks instead (as runs: one
// for "*"), so that a node plans its own subtree only (over_ranks), not the whole selection.
// Thread: immutable value type. Failure: Result; fan-out 0 or a selection that does not fit
// the shape -> invalid_argument; asking about a rank the plan does not deliver to -> not_found.
//
// Scheme. S = eval(selection), sorted. The origin cuts S into at most `fanout` contiguous
// chunks of nearly equal size (larger ones first) and sends to the first rank of each chunk;
// that rank owns the rest of its chunk and cuts it the same way, and so on. Hence:
//  - each selected rank receives exactly once, and no unselected rank relays;
//  - no node, the origin included, has more than `fanout` children;
//  - the depth below the origin is at most ceil(log_fanout(|S|)) for |S| >= 2 (|S| for
//    fanout 1, which makes a chain);
//  - a node's subtree is a contiguous run of S (subtree_of), so with host-major ranks a
//    subtree spans few hosts, and a reducer knows how many replies to wait for.
// A node finds its place by binary search and a walk down O(depth) chunk levels.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "zmesh/core/error.hpp"
#include "zmesh/mesh/selection.hpp"
#include "zmesh/mesh/shape.hpp"
#include "zmesh/mesh/slice.hpp"

namespace zmesh {

// One node of a whole tree listing: rank nullopt is the origin.
struct DeliveryNode {
  std::optional<std::size_t> rank;
  std::vector<std::size_t> children;
  friend bool operator==(const DeliveryNode&, const DeliveryNode&) = default;
};

class DeliveryPlan {
 public:
  // -- construction --
  // The plan over eval(selection, shape, seed), in base ranks.
  static Result<DeliveryPlan> create(const Shape& shape, const Selection& selection,
                                     std::size_t fanout, std::uint64_t seed = 0);
  static Result<DeliveryPlan> create(const Slice& slice, const Selection& selection,
                                     std::size_t fanout, std::uint64_t seed = 0);
  // The plan over explicit ranks, which must be sorted ascending and distinct.
  static Result<DeliveryPlan> over_ranks(std::vector<std::size_t> ranks, std::size_t fanout);

  // -- the delivered set --
  // Every rank the cast delivers to, sorted ascending.
  const std::vector<std::size_t>& ranks() const noexcept { return ranks_; }
  std::size_t fanout() const noexcept { return fanout_; }
  bool contains(std::size_t rank) const noexcept;

  // -- one node's view --
  // The ranks the origin sends to (at most fanout).
  std::vector<std::size_t> root_children() const;
  // The ranks `rank` forwards to (at most fanout), ascending.
  Result<std::vector<std::size_t>> children_of(std::size_t rank) const;
  // The rank that sends to `rank`, where replies go up; nullopt means the origin.
  Result<std::optional<std::size_t>> parent_of(std::size_t rank) const;
  // `rank` followed by all its descendants: the contiguous run of ranks() it is responsible for.
  Result<std::span<const std::size_t>> subtree_of(std::size_t rank) const;

  // -- the whole tree (tools and tests) --
  // Levels below the origin: 0 for an empty plan, 1 when the origin reaches every rank.
  std::size_t depth() const noexcept;
  // The origin, then every rank, breadth first, each with its children.
  std::vector<DeliveryNode> tree() const;

 private:
  // A chunk of positions in ranks_: [begin, end).
  struct Span {
    std::size_t begin;
    std::size_t end;
  };
  // Where a position sits: its parent's position (nullopt: the origin) and the span it owns.
  struct Place {
    std::optional<std::size_t> parent;
    Span owned;
  };

  DeliveryPlan(std::vector<std::size_t> ranks, std::size_t fanout)
      : ranks_(std::move(ranks)), fanout_(fanout) {}

  Result<std::size_t> position_of(std::size_t rank) const;
  Place locate(std::size_t position) const;
  // Heads of the chunks that `span` is cut into.
  std::vector<std::size_t> chunk_heads(Span span) const;

  std::vector<std::size_t> ranks_;
  std::size_t fanout_;
};

}  // namespace zmesh
