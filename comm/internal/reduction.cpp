#include "zmesh/comm/internal/reduction.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace zmesh::comm::internal {

std::uint32_t level_margin(std::uint32_t remaining_ms, std::size_t depth) {
  const std::uint64_t share = remaining_ms / (4 * std::max<std::uint64_t>(depth, 1));
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(share, 1, 100));
}

Reduction::Reduction(const ReducerOps* ops, std::vector<std::uint32_t> view_ranks,
                     std::vector<Part> parts)
    : ops_(ops),
      view_ranks_(std::move(view_ranks)),
      parts_(std::move(parts)),
      reports_(parts_.size()),
      waiting_(parts_.size()) {}

std::optional<std::size_t> Reduction::waiting_part(std::uint32_t head) const {
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    if (parts_[i].head == head && !reports_[i].done) return i;
  }
  return std::nullopt;
}

bool Reduction::waiting_for(std::uint32_t head) const {
  return waiting_part(head).has_value();
}

void Reduction::contribute(std::uint32_t head, std::uint32_t rank, const Frames& input) {
  auto part = waiting_part(head);
  if (!part || ops_ == nullptr) return;  // with no reducer every part was lost already
  auto lifted = ops_->lift(rank, input);
  if (!lifted) {
    lose(head, lifted.error());
    return;
  }
  reports_[*part] = Report{true, std::move(*lifted), 1, {}};
  --waiting_;
}

Result<void> Reduction::check(const Part& part, const Partial& partial) const {
  const std::size_t size = part.end - part.begin;
  std::uint64_t missing = 0;
  for (const auto& run : partial.missing) missing += run.count;
  if (partial.contributors > size || missing > size || partial.contributors + missing > size) {
    return Error(ErrorCode::decode_error,
                 fmt::format("a partial result from rank {} counts {} contributors and {} missing "
                             "ranks for a part of {} ranks",
                             part.head, partial.contributors, missing, size));
  }
  const auto first = view_ranks_.begin() + static_cast<std::ptrdiff_t>(part.begin);
  const auto last = view_ranks_.begin() + static_cast<std::ptrdiff_t>(part.end);
  for (const auto& run : partial.missing) {
    for (std::uint64_t rank = run.first; rank < std::uint64_t{run.first} + run.count; ++rank) {
      if (!std::binary_search(first, last, rank)) {
        return Error(ErrorCode::decode_error,
                     fmt::format("a partial result from rank {} names rank {} missing, which is "
                                 "not in its part",
                                 part.head, rank));
      }
    }
  }
  return {};
}

void Reduction::report(std::uint32_t head, Partial partial) {
  auto part = waiting_part(head);
  if (!part) return;
  // It came over the network: a part that does not add up is lost, not trusted.
  if (auto valid = check(parts_[*part], partial); !valid) {
    lose(head, valid.error());
    return;
  }
  Report& report = reports_[*part];
  report.done = true;
  if (partial.has_value) {
    Frames value;
    value.reserve(partial.value.size());
    for (auto& frame : partial.value) value.push_back(frame.frame());
    report.value = std::move(value);
  }
  report.contributors = partial.contributors;
  report.missing = std::move(partial.missing);
  --waiting_;
}

void Reduction::lose(std::uint32_t head, const Error& reason) {
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    if (parts_[i].head != head || reports_[i].done) continue;
    reports_[i] = Report{true, std::nullopt, 0, missing_runs(parts_[i], reason)};
    --waiting_;
  }
}

std::vector<MissingRun> Reduction::missing_runs(const Part& part, const Error& reason) const {
  std::vector<MissingRun> runs;
  for (std::size_t i = part.begin; i < part.end; ++i) {
    const std::uint32_t rank = view_ranks_[i];
    if (!runs.empty() && runs.back().first + runs.back().count == rank) {
      ++runs.back().count;
    } else {
      runs.push_back(MissingRun{rank, 1, reason});
    }
  }
  return runs;
}

Reduction::Folded Reduction::finish(const std::function<Error(const Part&)>& waiting_reason) const {
  Folded folded;
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    const Report& report = reports_[i];
    if (!report.done) {
      auto runs = missing_runs(parts_[i], waiting_reason(parts_[i]));
      folded.missing.insert(folded.missing.end(), runs.begin(), runs.end());
      continue;
    }
    if (report.value && folded.value) {
      auto combined = ops_->fold(*folded.value, *report.value);
      if (!combined) {
        // What this part reported cannot be folded in: all of it counts as missing.
        auto runs = missing_runs(parts_[i], combined.error());
        folded.missing.insert(folded.missing.end(), runs.begin(), runs.end());
        continue;
      }
      folded.value = std::move(*combined);
    } else if (report.value) {
      folded.value = report.value;
    }
    folded.contributors += report.contributors;
    folded.missing.insert(folded.missing.end(), report.missing.begin(), report.missing.end());
  }
  return folded;
}

}  // namespace zmesh::comm::internal
