#include "zmesh/comm/internal/rank_runs.hpp"

#include <fmt/format.h>

namespace zmesh::comm::internal {

std::vector<RankRun> compress(std::span<const std::size_t> ranks,
                              std::span<const std::uint64_t> counters) {
  std::vector<RankRun> runs;
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
  return runs;
}

Result<RankList> expand(const std::vector<RankRun>& runs) {
  RankList list;
  for (const auto& run : runs) {
    if (run.count == 0 || (!list.ranks.empty() && run.first <= list.ranks.back()) ||
        std::uint64_t{run.first} + run.count > (std::uint64_t{1} << 32)) {
      return Error(ErrorCode::decode_error,
                   fmt::format("bad rank run {}+{} in a cast: runs must be non-empty, ascending "
                               "and disjoint",
                               run.first, run.count));
    }
    for (std::uint32_t i = 0; i < run.count; ++i) {
      list.ranks.push_back(std::size_t{run.first} + i);
      list.counters.push_back(run.counter);
    }
  }
  return list;
}

std::string rank_text(const Shape& shape, std::size_t base_rank) {
  auto view = shape.view_rank_of(base_rank);
  auto point = shape.point_of_base_rank(base_rank);
  if (!view || !point) return fmt::format("base rank {}", base_rank);
  return fmt::format("rank {} ({})", *view, point->to_string());
}

}  // namespace zmesh::comm::internal
