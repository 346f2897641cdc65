// DeliveryPlan: the cast delivery tree. Examples pin the shape of the tree; a property test
// checks, on random shapes, views and selections, that routing delivers exactly eval()'s set,
// once per rank, with bounded fan-out and logarithmic depth, and that every node's own view
// (children_of, parent_of, subtree_of) agrees with the whole tree.
//
// The property test runs a fixed number of seeded random cases; set ZMESH_PROPERTY_CASES=N in
// the environment to run N cases instead. A failure prints the shape, selection, seed and
// fan-out of the case.

#include "zmesh/comm/routing.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "mesh/random_geometry.hpp"
#include "zmesh/mesh/selection_eval.hpp"
#include "zmesh/mesh/selection_text.hpp"

namespace zmesh {
namespace {

using Ranks = std::vector<std::size_t>;

DeliveryPlan plan_for(const std::string& shape, const std::string& selection, std::size_t fanout) {
  auto plan =
      DeliveryPlan::create(Shape::parse(shape).value(), parse_selection(selection).value(), fanout);
  EXPECT_TRUE(plan) << plan.error().describe();
  return std::move(plan).value();
}

Ranks children(const DeliveryPlan& plan, std::size_t rank) {
  return plan.children_of(rank).value();
}

Ranks iota(std::size_t begin, std::size_t end) {
  Ranks ranks;
  for (std::size_t rank = begin; rank < end; ++rank) ranks.push_back(rank);
  return ranks;
}

// Smallest h with fanout^h >= n: the depth bound for n >= 2 and fanout >= 2.
std::size_t ceil_log(std::size_t n, std::size_t fanout) {
  std::size_t depth = 0;
  for (std::size_t reach = 1; reach < n; reach *= fanout) ++depth;
  return depth;
}

TEST(RoutingTest, SplitsTheSelectedRanksIntoContiguousChunks) {
  const DeliveryPlan plan = plan_for("{host=4,gpu=8}", "*", 4);
  EXPECT_EQ(plan.root_children(), (Ranks{0, 8, 16, 24}));
  EXPECT_EQ(children(plan, 0), (Ranks{1, 3, 5, 7}));
  EXPECT_EQ(children(plan, 1), (Ranks{2}));
  EXPECT_EQ(children(plan, 7), Ranks{});
  EXPECT_EQ(plan.parent_of(0).value(), std::nullopt);
  EXPECT_EQ(plan.parent_of(5).value(), std::optional<std::size_t>(0));
  EXPECT_EQ(plan.parent_of(6).value(), std::optional<std::size_t>(5));
  const auto subtree = plan.subtree_of(8).value();
  EXPECT_EQ(Ranks(subtree.begin(), subtree.end()), iota(8, 16));
  EXPECT_EQ(plan.depth(), 3u);
}

TEST(RoutingTest, TheClientSendsDirectlyWhenTheFanOutCoversTheSelection) {
  const DeliveryPlan plan = plan_for("{host=4,gpu=8}", "*,0:4", 16);
  EXPECT_EQ(plan.root_children(),
            (Ranks{0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27}));
  for (std::size_t rank : plan.ranks()) {
    EXPECT_EQ(children(plan, rank), Ranks{});
    EXPECT_EQ(plan.parent_of(rank).value(), std::nullopt);
  }
  EXPECT_EQ(plan.depth(), 1u);
}

TEST(RoutingTest, TreeCoversOnlyTheSelectedRanks) {
  // 3 selected ranks out of 32: no relay through unselected ranks, and rank 0 is not involved.
  const DeliveryPlan plan = plan_for("{host=4,gpu=8}", "1:,5", 2);
  EXPECT_EQ(plan.ranks(), (Ranks{13, 21, 29}));
  EXPECT_EQ(plan.root_children(), (Ranks{13, 29}));
  EXPECT_EQ(children(plan, 13), (Ranks{21}));
  EXPECT_FALSE(plan.contains(0));
  auto unselected = plan.children_of(0);
  ASSERT_FALSE(unselected);
  EXPECT_EQ(unselected.error().code, ErrorCode::not_found);
  EXPECT_EQ(unselected.error().message,
            "rank 0 is not one of the 3 ranks this cast delivers to (13 .. 29); it has no place "
            "in the delivery tree");
  EXPECT_EQ(plan.parent_of(14).error().code, ErrorCode::not_found);
  EXPECT_EQ(plan.subtree_of(14).error().code, ErrorCode::not_found);
}

TEST(RoutingTest, ViewsRouteOverBaseRanks) {
  const Shape view = Shape::parse("{host=4,gpu=8}")
                         .value()
                         .select("host", 2, 4)
                         .value()
                         .select("gpu", 0, 8, 4)
                         .value();
  const DeliveryPlan plan = DeliveryPlan::create(view, Selection::all(), 2).value();
  EXPECT_EQ(plan.ranks(), (Ranks{16, 20, 24, 28}));
  EXPECT_EQ(plan.root_children(), (Ranks{16, 24}));
  EXPECT_EQ(children(plan, 16), (Ranks{20}));
  EXPECT_EQ(DeliveryPlan::create(view.slice(), Selection::all(), 2).value().ranks(), plan.ranks());
}

TEST(RoutingTest, FanOutOneMakesAChain) {
  const DeliveryPlan plan = plan_for("{x=4}", "*", 1);
  EXPECT_EQ(plan.root_children(), Ranks{0});
  EXPECT_EQ(children(plan, 0), Ranks{1});
  EXPECT_EQ(children(plan, 2), Ranks{3});
  EXPECT_EQ(plan.depth(), 4u);
}

TEST(RoutingTest, EmptyAndSingleRankPlans) {
  const DeliveryPlan empty = plan_for("{host=2,gpu=8}", "false", 16);
  EXPECT_EQ(empty.ranks(), Ranks{});
  EXPECT_EQ(empty.root_children(), Ranks{});
  EXPECT_EQ(empty.depth(), 0u);
  ASSERT_EQ(empty.tree().size(), 1u);
  EXPECT_EQ(empty.tree()[0], (DeliveryNode{std::nullopt, {}}));

  const DeliveryPlan single = plan_for("{}@5[]", "true", 16);
  EXPECT_EQ(single.root_children(), Ranks{5});
  EXPECT_EQ(single.depth(), 1u);
}

TEST(RoutingTest, WholeTreeListsTheOriginFirstThenBreadthFirst) {
  const DeliveryPlan plan = plan_for("{x=7}", "*", 2);
  const std::vector<DeliveryNode> expected = {
      {std::nullopt, {0, 4}},
      {0, {1, 3}},
      {4, {5, 6}},
      {1, {2}},
      {3, {}},
      {5, {}},
      {6, {}},
      {2, {}},
  };
  EXPECT_EQ(plan.tree(), expected);
  EXPECT_EQ(plan.depth(), 3u);
}

TEST(RoutingTest, BadInputIsRejected) {
  const Shape shape = Shape::parse("{host=2,gpu=8}").value();
  auto no_fanout = DeliveryPlan::create(shape, Selection::all(), 0);
  ASSERT_FALSE(no_fanout);
  EXPECT_EQ(no_fanout.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(no_fanout.error().message.find("fan-out 0"), std::string::npos);

  auto misfit = DeliveryPlan::create(shape, parse_selection("*,0:9").value(), 4);
  ASSERT_FALSE(misfit);
  EXPECT_EQ(misfit.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(misfit.error().message.find("gpu has 8 indices"), std::string::npos);

  EXPECT_EQ(DeliveryPlan::over_ranks({3, 1}, 2).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(DeliveryPlan::over_ranks({1, 1}, 2).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(DeliveryPlan::over_ranks({1, 2}, 0).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(DeliveryPlan::over_ranks({1, 5, 9}, 2).value().root_children(), (Ranks{1, 9}));
}

// Checks one plan against the set it must deliver and against itself (fatal on failure).
void check_plan(const DeliveryPlan& plan, const Slice& slice, const Ranks& expected,
                std::size_t fanout) {
  ASSERT_EQ(plan.ranks(), expected);
  const std::size_t n = expected.size();

  // Walk down from the origin using only each node's own view of the tree.
  std::map<std::size_t, std::size_t> received;                // rank -> times reached
  std::vector<std::pair<std::size_t, std::size_t>> frontier;  // rank, level
  const Ranks first_level = plan.root_children();
  ASSERT_LE(first_level.size(), fanout);
  for (std::size_t rank : first_level) {
    ASSERT_EQ(plan.parent_of(rank).value(), std::nullopt) << "rank " << rank;
    frontier.emplace_back(rank, 1);
  }
  std::size_t deepest = 0;
  while (!frontier.empty()) {
    const auto [rank, level] = frontier.back();
    frontier.pop_back();
    ASSERT_TRUE(slice.contains(rank)) << "rank " << rank << " is outside " << slice.to_string();
    ASSERT_EQ(++received[rank], 1u) << "rank " << rank << " received twice";
    deepest = std::max(deepest, level);
    auto kids = plan.children_of(rank);
    ASSERT_TRUE(kids) << kids.error().describe();
    ASSERT_LE(kids->size(), fanout) << "rank " << rank;
    std::size_t below = 1;
    for (std::size_t child : *kids) {
      ASSERT_EQ(plan.parent_of(child).value(), std::optional<std::size_t>(rank));
      below += plan.subtree_of(child).value().size();
      frontier.emplace_back(child, level + 1);
    }
    const auto subtree = plan.subtree_of(rank).value();
    ASSERT_EQ(subtree.front(), rank);
    ASSERT_EQ(subtree.size(), below) << "rank " << rank;
  }
  ASSERT_EQ(received.size(), n) << "some selected ranks were never reached";

  ASSERT_EQ(deepest, plan.depth());
  const std::size_t bound = n <= 1 ? n : (fanout == 1 ? n : ceil_log(n, fanout));
  ASSERT_LE(deepest, bound) << n << " ranks, fan-out " << fanout;

  // The whole-tree listing agrees with the per-node answers.
  const std::vector<DeliveryNode> tree = plan.tree();
  ASSERT_EQ(tree.size(), n + 1);
  ASSERT_EQ(tree.front().rank, std::nullopt);
  ASSERT_EQ(tree.front().children, first_level);
  for (std::size_t i = 1; i < tree.size(); ++i) {
    ASSERT_TRUE(tree[i].rank.has_value());
    ASSERT_EQ(tree[i].children, plan.children_of(*tree[i].rank).value());
  }
}

TEST(RoutingPropertyTest, DeliversExactlyTheSelectedRanksOnceWithBoundedFanOut) {
  const std::size_t cases = testing::property_cases(2000);
  testing::RandomGeometry random(777);
  for (std::size_t i = 0; i < cases; ++i) {
    const Shape shape = random.shape(600);
    const Selection selection = random.selection(shape.slice().sizes());
    const std::uint64_t seed = random.uniform(0, 1000);
    const Ranks expected = eval(selection, shape, seed).value();
    for (std::size_t fanout :
         {std::size_t{2}, std::size_t{3}, std::size_t{16}, random.uniform(1, 40)}) {
      SCOPED_TRACE("case " + std::to_string(i) + ": selection \"" + to_string(selection) +
                   "\" on " + shape.to_string() + " seed " + std::to_string(seed) + " fan-out " +
                   std::to_string(fanout));
      auto plan = DeliveryPlan::create(shape, selection, fanout, seed);
      ASSERT_TRUE(plan) << plan.error().describe();
      check_plan(*plan, shape.slice(), expected, fanout);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(RoutingPropertyTest, DepthIsLogarithmicOnLargeSelections) {
  for (std::size_t n : {2u, 15u, 16u, 17u, 255u, 256u, 257u, 1000u, 4096u, 10000u}) {
    for (std::size_t fanout : {2u, 3u, 4u, 16u, 64u}) {
      const DeliveryPlan plan = DeliveryPlan::over_ranks(iota(0, n), fanout).value();
      SCOPED_TRACE(std::to_string(n) + " ranks, fan-out " + std::to_string(fanout));
      check_plan(plan, Slice::row_major({n}).value(), iota(0, n), fanout);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace zmesh
