#include "zmesh/mesh/selection.hpp"

#include <algorithm>
#include <limits>
#include <string>

namespace zmesh {

Selection Selection::index(std::size_t index) {
  Selection selection(Kind::range);
  selection.range_.begin = index;
  // No dimension has an index SIZE_MAX, so "from SIZE_MAX to the end" is the same single
  // (never fitting) index without overflowing index + 1.
  if (index < std::numeric_limits<std::size_t>::max()) selection.range_.end = index + 1;
  return selection;
}

Result<Selection> Selection::range(std::size_t begin, std::optional<std::size_t> end,
                                   std::size_t step) {
  if (step == 0) {
    return make_error(ErrorCode::invalid_argument,
                      "range step 0 is invalid; the step must be at least 1");
  }
  if (end && *end <= begin) {
    return make_error(ErrorCode::invalid_argument,
                      "range " + std::to_string(begin) + ":" + std::to_string(*end) +
                          " is empty; the end must be greater than the begin");
  }
  Selection selection(Kind::range);
  selection.range_ = IndexRange{begin, end, step};
  return selection;
}

Result<Selection> Selection::chain(std::vector<Selection> groups) {
  if (groups.empty()) {
    return make_error(ErrorCode::invalid_argument, "a chain needs at least one group");
  }
  for (std::size_t i = 0; i + 1 < groups.size(); ++i) {
    if (!groups[i].is_one_dimensional()) {
      return make_error(ErrorCode::invalid_argument,
                        "group " + std::to_string(i + 1) +
                            " of the chain is not one-dimensional, so no group can "
                            "follow it; only the last group may span several "
                            "dimensions");
    }
  }
  if (groups.size() == 1) return std::move(groups.front());
  Selection selection(Kind::chain);
  if (groups.back().kind() == Kind::chain) {
    Selection last = std::move(groups.back());
    groups.pop_back();
    for (auto& group : last.members_) groups.push_back(std::move(group));
  }
  selection.members_ = std::move(groups);
  return selection;
}

Selection Selection::union_of(std::vector<Selection> members) {
  if (members.empty()) return false_();
  if (members.size() == 1) return std::move(members.front());
  Selection selection(Kind::union_);
  for (auto& member : members) {
    if (member.kind_ == Kind::union_) {
      for (auto& inner : member.members_) selection.members_.push_back(std::move(inner));
    } else {
      selection.members_.push_back(std::move(member));
    }
  }
  return selection;
}

Selection Selection::intersection_of(std::vector<Selection> members) {
  if (members.empty()) return true_();
  if (members.size() == 1) return std::move(members.front());
  Selection selection(Kind::intersection);
  for (auto& member : members) {
    if (member.kind_ == Kind::intersection) {
      for (auto& inner : member.members_) selection.members_.push_back(std::move(inner));
    } else {
      selection.members_.push_back(std::move(member));
    }
  }
  return selection;
}

bool Selection::is_one_dimensional() const noexcept {
  switch (kind_) {
    case Kind::all:
    case Kind::any:
    case Kind::first:
    case Kind::range:
      return true;
    case Kind::union_:
    case Kind::intersection:
      return std::all_of(members_.begin(), members_.end(),
                         [](const Selection& member) { return member.is_one_dimensional(); });
    case Kind::false_:
    case Kind::true_:
    case Kind::chain:
      return false;
  }
  return false;
}

std::size_t Selection::depth() const noexcept {
  switch (kind_) {
    case Kind::false_:
    case Kind::true_:
      return 0;
    case Kind::all:
    case Kind::any:
    case Kind::first:
    case Kind::range:
      return 1;
    case Kind::chain:
      return members_.size() - 1 + members_.back().depth();
    case Kind::union_:
    case Kind::intersection: {
      std::size_t depth = 0;
      for (const auto& member : members_) depth = std::max(depth, member.depth());
      return depth;
    }
  }
  return 0;
}

}  // namespace zmesh
