// Reducers and the per-node fold: the built-ins fold msgpack values exactly, a gather stays
// run-length compressed, folds go in rank order whatever order the parts report in, and parts
// that never report become missing ranks with the reason.
#include "zmesh/mesh/reducer.hpp"
#include "zmesh/comm/internal/reduction.hpp"
#include "zmesh/mesh/value_mesh.hpp"

#include <gtest/gtest.h>

#include "testing/comm_actors.hpp"

namespace zmesh::comm {
namespace {

using internal::Reduction;

template <class T>
Frames bytes(const T& value) {
  return encode_value_frames(value);
}

// Lifts `inputs` (one per rank 0..n-1) and folds them left to right with `reducer`.
template <class Value, class Input>
Result<Value> fold_all(std::string_view reducer, const std::vector<Input>& inputs) {
  auto ops = builtin_reducer(reducer);
  EXPECT_TRUE(ops.has_value()) << reducer;
  std::optional<Frames> acc;
  for (std::size_t rank = 0; rank < inputs.size(); ++rank) {
    auto lifted = ops->lift(static_cast<std::uint32_t>(rank), bytes(inputs[rank]));
    if (!lifted) return std::move(lifted).error();
    if (!acc) {
      acc = *lifted;
      continue;
    }
    auto folded = ops->fold(*acc, *lifted);
    if (!folded) return std::move(folded).error();
    acc = *folded;
  }
  return decode_value_frames<Value>(*acc, "result");
}

TEST(BuiltinReducers, SumIsExactForSignedUnsignedAndFloatingNumbers) {
  EXPECT_EQ(fold_all<std::int64_t>("zmesh.sum", std::vector<std::int64_t>{5, -7, 3}).value(), 1);
  EXPECT_EQ(fold_all<std::int64_t>("zmesh.sum", std::vector<std::int64_t>{-5, -7}).value(), -12);
  EXPECT_EQ(
      fold_all<std::uint64_t>("zmesh.sum", std::vector<std::uint64_t>{UINT64_MAX - 1, 1}).value(),
      UINT64_MAX);
  EXPECT_DOUBLE_EQ(fold_all<double>("zmesh.sum", std::vector<double>{0.5, 0.25, 1.0}).value(),
                   1.75);
  auto overflow = fold_all<std::uint64_t>("zmesh.sum", std::vector<std::uint64_t>{UINT64_MAX, 1});
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.error().code, ErrorCode::invalid_argument);
}

TEST(BuiltinReducers, MinMaxAndCount) {
  const std::vector<std::int64_t> values{4, -2, 9, -2, 7};
  EXPECT_EQ(fold_all<std::int64_t>("zmesh.min", values).value(), -2);
  EXPECT_EQ(fold_all<std::int64_t>("zmesh.max", values).value(), 9);
  EXPECT_EQ(fold_all<std::uint64_t>("zmesh.count", values).value(), 5u);
  EXPECT_DOUBLE_EQ(fold_all<double>("zmesh.max", std::vector<double>{1.5, -3.0}).value(), 1.5);
}

TEST(BuiltinReducers, NonNumbersAreADecodeErrorNamingTheReducer) {
  auto folded = fold_all<std::int64_t>("zmesh.sum", std::vector<std::string>{"a", "b"});
  ASSERT_FALSE(folded.ok());
  EXPECT_EQ(folded.error().code, ErrorCode::decode_error);
  EXPECT_NE(folded.error().message.find("zmesh.sum folds numbers, but a reply is a string"),
            std::string::npos)
      << folded.error().message;
}

TEST(BuiltinReducers, GatherKeepsRunsOfEqualValuesAndWorksForAnyType) {
  auto runs = fold_all<std::vector<ValueRun<std::string>>>(
      "zmesh.gather", std::vector<std::string>{"a", "a", "b", "b", "b", "a"});
  ASSERT_TRUE(runs.ok()) << runs.error().describe();
  EXPECT_EQ(*runs, (std::vector<ValueRun<std::string>>{{0, 2, "a"}, {2, 3, "b"}, {5, 1, "a"}}));
  const ValueMesh<std::string> mesh(Extent::create({"x"}, {6}).value(), *runs);
  EXPECT_EQ(mesh.size(), 6u);
  EXPECT_EQ(*mesh.get(4), "b");
  EXPECT_EQ(mesh.get(6), nullptr);
  EXPECT_EQ(mesh.to_map().at(5), "a");
}

TEST(CustomReducers, EraseRoundTripsTheTypedFold) {
  auto ops = reducer_ops<testing::Joined>();
  ASSERT_TRUE(ops.ok());
  auto left = ops->lift(0, bytes(std::string("x")));
  auto right = ops->lift(1, bytes(std::string("y")));
  EXPECT_EQ(decode_value_frames<std::string>(ops->fold(*left, *right).value(), "joined").value(), "x y");
  EXPECT_EQ(ops->lift(0, bytes(42)).error().code, ErrorCode::decode_error);
}

TEST(ReducerTable, HasTheBuiltinsAndRefusesDuplicates) {
  ReducerTable table;
  EXPECT_NE(table.find("zmesh.gather"), nullptr);
  ASSERT_TRUE(table.add(erase_reducer<testing::Joined>()).ok());
  auto again = table.add(erase_reducer<testing::Joined>());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::duplicate);
}

// A node of rank 10 with view ranks 0..5: itself (0), child 12 (1..3) and child 14 (4..5).
class ReductionTest : public ::testing::Test {
 protected:
  Reduction make(const ReducerOps* ops) {
    return Reduction(ops, {0, 1, 2, 3, 4, 5}, {{10, 0, 1}, {12, 1, 4}, {14, 4, 6}});
  }
  internal::Partial partial(std::uint32_t from, std::string text, std::uint64_t contributors,
                            std::vector<internal::MissingRun> missing = {}) {
    internal::Partial p;
    p.from = from;
    p.has_value = true;
    for (auto& frame : bytes(text)) p.value.emplace_back(std::move(frame));
    p.contributors = contributors;
    p.missing = std::move(missing);
    return p;
  }
  ReducerOps joined_ = erase_reducer<testing::Joined>();
};

TEST_F(ReductionTest, FoldsInRankOrderWhateverTheReportOrder) {
  auto reduction = make(&joined_);
  reduction.report(14, partial(14, "4 5", 2));
  EXPECT_FALSE(reduction.complete());
  reduction.report(12, partial(12, "1 2 3", 3));
  reduction.contribute(10, 0, bytes(std::string("0")));
  ASSERT_TRUE(reduction.complete());
  auto folded = reduction.finish([](const Reduction::Part&) { return Error(); });
  EXPECT_EQ(decode_value_frames<std::string>(*folded.value, "joined").value(), "0 1 2 3 4 5");
  EXPECT_EQ(folded.contributors, 6u);
  EXPECT_TRUE(folded.missing.empty());
}

TEST_F(ReductionTest, LostAndSilentPartsBecomeMissingRanksWithTheirReason) {
  auto reduction = make(&joined_);
  reduction.report(12, partial(12, "1 3", 2, {{2, 1, Error(ErrorCode::timeout, "slow")}}));
  reduction.lose(14, Error(ErrorCode::proc_failed, "relay died"));
  reduction.report(14, partial(14, "late", 2));  // after the loss: ignored
  EXPECT_FALSE(reduction.complete());
  EXPECT_TRUE(reduction.waiting_for(10));
  auto folded = reduction.finish([](const Reduction::Part& part) {
    return Error(ErrorCode::timeout, std::to_string(part.head));
  });
  EXPECT_EQ(decode_value_frames<std::string>(*folded.value, "joined").value(), "1 3");
  EXPECT_EQ(folded.contributors, 2u);
  ASSERT_EQ(folded.missing.size(), 3u);
  EXPECT_EQ(folded.missing[0].first, 0u);
  EXPECT_EQ(folded.missing[0].reason.message, "10");
  EXPECT_EQ(folded.missing[1].reason.message, "slow");
  EXPECT_EQ(folded.missing[2].first, 4u);
  EXPECT_EQ(folded.missing[2].count, 2u);
  EXPECT_EQ(folded.missing[2].reason.code, ErrorCode::proc_failed);
}

TEST_F(ReductionTest, AReplyOfTheWrongTypeMakesItsRankMissing) {
  auto reduction = make(&joined_);
  reduction.contribute(10, 0, bytes(42));
  EXPECT_FALSE(reduction.waiting_for(10));
  auto folded = reduction.finish([](const Reduction::Part&) { return Error(); });
  ASSERT_FALSE(folded.missing.empty());
  EXPECT_EQ(folded.missing[0].reason.code, ErrorCode::decode_error);
}

// Found by fuzz_comm_messages: a Partial is wire input, and its missing runs once made the
// client loop 2^32 times or throw for ranks outside the cast.
TEST_F(ReductionTest, APartialThatDoesNotAddUpLosesItsPartInsteadOfBeingTrusted) {
  auto reduction = make(&joined_);
  reduction.report(12, partial(12, "x", 1, {{1, 0xffffffffu, Error(ErrorCode::timeout, "forged")}}));
  reduction.report(14, partial(14, "y", 1, {{99, 1, Error(ErrorCode::timeout, "not mine")}}));
  reduction.contribute(10, 0, bytes(std::string("0")));
  ASSERT_TRUE(reduction.complete());
  auto folded = reduction.finish([](const Reduction::Part&) { return Error(); });
  EXPECT_EQ(decode_value_frames<std::string>(*folded.value, "joined").value(), "0");
  ASSERT_EQ(folded.missing.size(), 2u);
  EXPECT_EQ(folded.missing[0].first, 1u);
  EXPECT_EQ(folded.missing[0].count, 3u);
  EXPECT_EQ(folded.missing[0].reason.code, ErrorCode::decode_error);
  EXPECT_NE(folded.missing[1].reason.message.find("rank 99"), std::string::npos)
      << folded.missing[1].reason.message;
}

TEST(Budget, LevelsTogetherUseAtMostAQuarterOfTheTimeLeft) {
  EXPECT_EQ(internal::level_margin(5000, 1), 100u) << "at most 100 ms a level";
  EXPECT_EQ(internal::level_margin(1000, 10), 25u) << "a deep tree still leaves its leaves 750 ms";
  EXPECT_EQ(internal::level_margin(200, 2), 25u);
  EXPECT_EQ(internal::level_margin(5, 3), 1u) << "at least 1 ms";
  EXPECT_EQ(internal::level_margin(0, 0), 1u);
}

}  // namespace
}  // namespace zmesh::comm
