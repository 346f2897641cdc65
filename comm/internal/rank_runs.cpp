#include "zmesh/comm/internal/rank_runs.hpp"

#include <fmt/format.h>

namespace zmesh::comm::internal {

void compress(std::span<const std::size_t> ranks, std::span<const std::uint64_t> counters,
              std::vector<RankRun>& runs) {
  runs.clear();
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const auto rank = static_cast<std::uint32_t>(ranks[i]);
    if (!runs.empty()) {
      RankRun& last = runs.back();
      if (last.counter == counters[i] && last.first + last.count == rank) {
        ++last.count;
        continue;
      }
    }
    runs.push_back(RankRun{rank, 1, counters[i]});
  }
}

std::vector<RankRun> compress(std::span<const std::size_t> ranks,
                              std::span<const std::uint64_t> counters) {
  std::vector<RankRun> runs;
  compress(ranks, counters, runs);
  return runs;
}

Result<void> expand(const std::vector<RankRun>& runs, const Shape& shape, RankList& list) {
  list.ranks.clear();
  list.counters.clear();
  std::uint64_t total = 0;
  std::uint64_t next_free = 0;  // runs must start at or after this
  for (const auto& run : runs) {
    const std::uint64_t end = std::uint64_t{run.first} + run.count;
    if (run.count == 0 || run.first < next_free || end > (std::uint64_t{1} << 32)) {
      return Error(ErrorCode::decode_error,
                   fmt::format("bad rank run {}+{} in a cast: runs must be non-empty, ascending "
                               "and disjoint",
                               run.first, run.count));
    }
    next_free = end;
    total += run.count;
  }
  if (total > shape.num_ranks() || total > max_cast_ranks) {
    return Error(ErrorCode::decode_error,
                 fmt::format("a cast carries {} ranks, more than its shape {} has ({}) or than "
                             "one cast may carry ({})",
                             total, shape.to_string(), shape.num_ranks(), max_cast_ranks));
  }
  list.ranks.reserve(total);
  list.counters.reserve(total);
  for (const auto& run : runs) {
    for (std::uint32_t i = 0; i < run.count; ++i) {
      const std::size_t rank = std::size_t{run.first} + i;
      if (!shape.slice().contains(rank)) {
        return Error(ErrorCode::decode_error,
                     fmt::format("rank {} in a cast is not in its shape {}", rank,
                                 shape.to_string()));
      }
      list.ranks.push_back(rank);
      list.counters.push_back(run.counter);
    }
  }
  return {};
}

Result<RankList> expand(const std::vector<RankRun>& runs, const Shape& shape) {
  RankList list;
  if (auto expanded = expand(runs, shape, list); !expanded) return std::move(expanded).error();
  return list;
}

std::string rank_text(const Shape& shape, std::size_t base_rank) {
  auto view = shape.view_rank_of(base_rank);
  auto point = shape.point_of_base_rank(base_rank);
  if (!view || !point) return fmt::format("base rank {}", base_rank);
  return fmt::format("rank {} ({})", *view, point->to_string());
}

}  // namespace zmesh::comm::internal
