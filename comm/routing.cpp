#include "zmesh/comm/routing.hpp"

#include <algorithm>
#include <deque>
#include <string>

#include "zmesh/mesh/selection_eval.hpp"

namespace zmesh {

namespace {

// Cutting `length` positions into min(fanout, length) chunks: the first `larger` chunks have
// `size + 1` positions, the others `size`.
struct Cut {
  std::size_t count;
  std::size_t size;
  std::size_t larger;
};

Cut cut(std::size_t length, std::size_t fanout) {
  const std::size_t count = std::min(fanout, length);
  return {count, length / count, length % count};
}

std::size_t chunk_begin(const Cut& cut, std::size_t chunk) {
  return chunk * cut.size + std::min(chunk, cut.larger);
}

// The chunk holding `offset` (0 <= offset < length).
std::size_t chunk_of(const Cut& cut, std::size_t offset) {
  const std::size_t in_larger = cut.larger * (cut.size + 1);
  if (offset < in_larger) return offset / (cut.size + 1);
  return cut.larger + (offset - in_larger) / cut.size;
}

// The size of the first (a largest) chunk.
std::size_t largest_chunk(const Cut& cut) {
  return cut.size + (cut.larger > 0 ? 1 : 0);
}

Error bad_fanout(std::size_t fanout) {
  return make_error(ErrorCode::invalid_argument,
                    "fan-out " + std::to_string(fanout) +
                        " is invalid; each node needs at least 1 child (16 is a good default)");
}

}  // namespace

Result<DeliveryPlan> DeliveryPlan::create(const Shape& shape, const Selection& selection,
                                          std::size_t fanout, std::uint64_t seed) {
  if (fanout == 0) return bad_fanout(fanout);
  auto ranks = eval(selection, shape, seed);
  if (!ranks) return std::move(ranks).error();
  return DeliveryPlan(std::move(ranks).value(), fanout);
}

Result<DeliveryPlan> DeliveryPlan::create(const Slice& slice, const Selection& selection,
                                          std::size_t fanout, std::uint64_t seed) {
  if (fanout == 0) return bad_fanout(fanout);
  auto ranks = eval(selection, slice, seed);
  if (!ranks) return std::move(ranks).error();
  return DeliveryPlan(std::move(ranks).value(), fanout);
}

Result<DeliveryPlan> DeliveryPlan::over_ranks(std::vector<std::size_t> ranks, std::size_t fanout) {
  if (fanout == 0) return bad_fanout(fanout);
  for (std::size_t i = 1; i < ranks.size(); ++i) {
    if (ranks[i - 1] >= ranks[i]) {
      return make_error(ErrorCode::invalid_argument,
                        "delivery ranks must be sorted and distinct, but rank " +
                            std::to_string(ranks[i - 1]) + " comes before rank " +
                            std::to_string(ranks[i]) + " (position " + std::to_string(i) + ")");
    }
  }
  return DeliveryPlan(std::move(ranks), fanout);
}

bool DeliveryPlan::contains(std::size_t rank) const noexcept {
  return std::binary_search(ranks_.begin(), ranks_.end(), rank);
}

Result<std::size_t> DeliveryPlan::position_of(std::size_t rank) const {
  const auto found = std::lower_bound(ranks_.begin(), ranks_.end(), rank);
  if (found == ranks_.end() || *found != rank) {
    std::string message = "rank " + std::to_string(rank) + " is not one of the " +
                          std::to_string(ranks_.size()) + " ranks this cast delivers to";
    if (!ranks_.empty()) {
      message +=
          " (" + std::to_string(ranks_.front()) + " .. " + std::to_string(ranks_.back()) + ")";
    }
    return make_error(ErrorCode::not_found, message + "; it has no place in the delivery tree");
  }
  return static_cast<std::size_t>(found - ranks_.begin());
}

DeliveryPlan::Place DeliveryPlan::locate(std::size_t position) const {
  Place place{std::nullopt, Span{0, ranks_.size()}};
  // Descend from the origin's span; each step enters the chunk holding `position`.
  while (true) {
    const Cut c = cut(place.owned.end - place.owned.begin, fanout_);
    const std::size_t chunk = chunk_of(c, position - place.owned.begin);
    const std::size_t begin = place.owned.begin + chunk_begin(c, chunk);
    const std::size_t end = place.owned.begin + chunk_begin(c, chunk + 1);
    if (begin == position) return Place{place.parent, Span{begin, end}};
    // `position` lies below this chunk's head, which owns the rest of the chunk.
    place = Place{begin, Span{begin + 1, end}};
  }
}

std::vector<std::size_t> DeliveryPlan::chunk_heads(Span span) const {
  std::vector<std::size_t> heads;
  if (span.begin == span.end) return heads;
  const Cut c = cut(span.end - span.begin, fanout_);
  heads.reserve(c.count);
  for (std::size_t chunk = 0; chunk < c.count; ++chunk) {
    heads.push_back(ranks_[span.begin + chunk_begin(c, chunk)]);
  }
  return heads;
}

std::vector<std::size_t> DeliveryPlan::root_children() const {
  return chunk_heads(Span{0, ranks_.size()});
}

Result<std::vector<std::size_t>> DeliveryPlan::children_of(std::size_t rank) const {
  auto position = position_of(rank);
  if (!position) return std::move(position).error();
  const Place place = locate(*position);
  return chunk_heads(Span{place.owned.begin + 1, place.owned.end});
}

Result<std::optional<std::size_t>> DeliveryPlan::parent_of(std::size_t rank) const {
  auto position = position_of(rank);
  if (!position) return std::move(position).error();
  const Place place = locate(*position);
  if (!place.parent) return std::optional<std::size_t>();
  return std::optional<std::size_t>(ranks_[*place.parent]);
}

Result<std::span<const std::size_t>> DeliveryPlan::subtree_of(std::size_t rank) const {
  auto position = position_of(rank);
  if (!position) return std::move(position).error();
  const Place place = locate(*position);
  return std::span<const std::size_t>(ranks_).subspan(place.owned.begin,
                                                      place.owned.end - place.owned.begin);
}

std::size_t DeliveryPlan::depth() const noexcept {
  if (ranks_.empty()) return 0;
  // The first chunk of every cut is a largest one, and a larger chunk is never shallower, so
  // the deepest path follows first chunks.
  std::size_t chunk = largest_chunk(cut(ranks_.size(), fanout_));
  std::size_t depth = 1;
  while (chunk > 1) {
    chunk = largest_chunk(cut(chunk - 1, fanout_));
    ++depth;
  }
  return depth;
}

std::vector<DeliveryNode> DeliveryPlan::tree() const {
  std::vector<DeliveryNode> nodes;
  nodes.reserve(ranks_.size() + 1);
  // Each queued entry: the node's position (nullopt: the origin) and the span below it.
  std::deque<std::pair<std::optional<std::size_t>, Span>> queue;
  queue.emplace_back(std::nullopt, Span{0, ranks_.size()});
  while (!queue.empty()) {
    const auto [position, below] = queue.front();
    queue.pop_front();
    DeliveryNode node;
    if (position) node.rank = ranks_[*position];
    if (below.begin < below.end) {
      const Cut c = cut(below.end - below.begin, fanout_);
      for (std::size_t chunk = 0; chunk < c.count; ++chunk) {
        const std::size_t head = below.begin + chunk_begin(c, chunk);
        const std::size_t end = below.begin + chunk_begin(c, chunk + 1);
        node.children.push_back(ranks_[head]);
        queue.emplace_back(head, Span{head + 1, end});
      }
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

}  // namespace zmesh
