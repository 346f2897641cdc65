// CastSequencer: casts reach the local actor in the client's order whatever order they arrive
// in; skipped and given-up casts never block the stream, and never run late; a closed
// generation frees its streams, and the next one starts at 1 without breaking the order,
// whatever order casts of both and the close arrive in.
#include "zmesh/comm/internal/cast_sequencer.hpp"
#include "zmesh/comm/internal/rank_runs.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace zmesh::comm::internal {
namespace {

Envelope cast_number(std::uint64_t n) {
  Envelope envelope;
  envelope.type_name = "cast " + std::to_string(n);
  return envelope;
}

class CastSequencerTest : public ::testing::Test {
 protected:
  void offer(std::uint64_t counter, const StreamKey& stream = first_) {
    sequencer_.offer(stream, 1, counter, cast_number(counter), now_, deliver_);
  }
  void skip(std::uint64_t counter) { sequencer_.skip(first_, 1, counter, now_, deliver_); }
  // Cast `counter` of generation `generation`, named "g<generation>.<counter>".
  bool offer_in(std::uint64_t generation, std::uint64_t counter, const StreamKey& stream = first_) {
    Envelope envelope;
    envelope.type_name = fmt::format("g{}.{}", generation, counter);
    return sequencer_.offer(stream, generation, counter, std::move(envelope), now_, deliver_);
  }
  void close(std::uint64_t generation, const std::map<std::string, std::uint64_t>& last) {
    sequencer_.close(first_.origin, generation, last, now_, deliver_);
  }

  static inline const StreamKey first_{ActorId{ProcId{WorldId{"w-client"}, 0}, "mesh", 0}, "a"};
  static inline const StreamKey second_{ActorId{ProcId{WorldId{"w-client"}, 0}, "mesh", 0}, "b"};
  CastSequencer sequencer_{5s, 200ms};
  Clock::time_point now_ = Clock::now();
  std::vector<std::string> delivered_;
  CastSequencer::Deliver deliver_ = [this](Envelope&& e) { delivered_.push_back(e.type_name); };
};

TEST_F(CastSequencerTest, DeliversInCounterOrderWhateverTheArrivalOrder) {
  offer(3);
  offer(2);
  EXPECT_TRUE(delivered_.empty());
  EXPECT_EQ(sequencer_.held(), 2u);
  offer(1);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"cast 1", "cast 2", "cast 3"}));
  EXPECT_EQ(sequencer_.held(), 0u);
  EXPECT_EQ(sequencer_.arrived_early(), 2u);
  EXPECT_FALSE(sequencer_.next_expiry().has_value());
}

TEST_F(CastSequencerTest, StreamsAreIndependent) {
  offer(2);
  offer(1, second_);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"cast 1"}));
  EXPECT_EQ(sequencer_.streams(), 2u);
}

TEST_F(CastSequencerTest, SkippedCastReleasesItsSuccessorsAndIsDroppedIfItComesLate) {
  offer(3);
  skip(2);
  offer(1);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"cast 1", "cast 3"}));
  offer(2);  // it was given up: delivering it now would break the order
  EXPECT_EQ(delivered_.size(), 2u);
  EXPECT_EQ(sequencer_.dropped_late(), 1u);
}

TEST_F(CastSequencerTest, SkipOfADeliveredCastChangesNothing) {
  offer(1);
  skip(1);
  offer(2);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"cast 1", "cast 2"}));
  EXPECT_EQ(sequencer_.held(), 0u);
}

TEST_F(CastSequencerTest, SkipDoesNotCancelACastAlreadyHeld) {
  offer(2);
  skip(2);
  offer(1);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"cast 1", "cast 2"}));
}

TEST_F(CastSequencerTest, DuplicateIsDropped) {
  offer(1);
  offer(1);
  offer(3);
  offer(3);
  EXPECT_EQ(delivered_.size(), 1u);
  EXPECT_EQ(sequencer_.dropped_late(), 2u);
}

TEST_F(CastSequencerTest, GapIsGivenUpAfterTheGapTimeout) {
  offer(2);
  offer(4);
  ASSERT_TRUE(sequencer_.next_expiry().has_value());
  EXPECT_EQ(*sequencer_.next_expiry(), now_ + 5s);
  sequencer_.expire(now_ + 4s, deliver_);
  EXPECT_TRUE(delivered_.empty());
  sequencer_.expire(now_ + 5s, deliver_);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"cast 2"}));
  EXPECT_EQ(sequencer_.given_up(), 1u);
  // The next gap is waited for afresh, from when the first one was given up.
  EXPECT_EQ(*sequencer_.next_expiry(), now_ + 10s);
  sequencer_.expire(now_ + 10s, deliver_);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"cast 2", "cast 4"}));
  EXPECT_EQ(sequencer_.given_up(), 2u);
  offer(1);
  offer(3);
  EXPECT_EQ(delivered_.size(), 2u);
  EXPECT_EQ(sequencer_.dropped_late(), 2u);
}

TEST_F(CastSequencerTest, ClosedGenerationFreesItsStreams) {
  offer_in(1, 1);
  offer_in(1, 1, second_);
  EXPECT_EQ(sequencer_.streams(), 2u);
  close(1, {{"a", 1}, {"b", 1}});
  EXPECT_EQ(sequencer_.streams(), 0u);
  EXPECT_EQ(sequencer_.held(), 0u);
  EXPECT_FALSE(sequencer_.next_expiry().has_value());
  // The next generation starts at 1 again.
  offer_in(2, 1);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"g1.1", "g1.1", "g2.1"}));
  EXPECT_EQ(sequencer_.streams(), 1u);
}

TEST_F(CastSequencerTest, NextGenerationWaitsForWhatTheClosedOneStillOwes) {
  // Generation 1 sent casts 1..3 here; 2 and 3 took a slow path. Generation 2's first casts
  // and the close overtake them.
  offer_in(1, 1);
  offer_in(2, 2);
  offer_in(2, 1);
  close(1, {{"a", 3}});
  EXPECT_EQ(delivered_, (std::vector<std::string>{"g1.1"}));
  offer_in(1, 3);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"g1.1"}));
  offer_in(1, 2);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"g1.1", "g1.2", "g1.3", "g2.1", "g2.2"}));
  EXPECT_EQ(sequencer_.streams(), 1u) << "generation 1's stream is freed";
  EXPECT_EQ(sequencer_.held(), 0u);
  EXPECT_FALSE(offer_in(1, 2)) << "a copy of a closed generation's cast is late";
  EXPECT_EQ(sequencer_.dropped_late(), 1u);
}

TEST_F(CastSequencerTest, CloseBeforeAnyCastOfItsGenerationWaitsForThem) {
  close(1, {{"a", 2}});
  offer_in(2, 1);
  EXPECT_TRUE(delivered_.empty());
  offer_in(1, 2);
  skip(1);  // the client gave cast 1 up; cast 2 still runs, before generation 2
  EXPECT_EQ(delivered_, (std::vector<std::string>{"g1.2", "g2.1"}));
  close(2, {{"a", 1}});
  EXPECT_EQ(sequencer_.streams(), 0u);
}

TEST_F(CastSequencerTest, GenerationThatNeverCompletesIsGivenUpAfterTheTimeout) {
  offer_in(1, 1);
  close(1, {{"a", 2}});
  offer_in(2, 1);
  ASSERT_TRUE(sequencer_.next_expiry().has_value());
  EXPECT_EQ(*sequencer_.next_expiry(), now_ + 5s);
  sequencer_.expire(now_ + 5s, deliver_);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"g1.1", "g2.1"}));
  EXPECT_EQ(sequencer_.given_up(), 1u);
  EXPECT_FALSE(offer_in(1, 2)) << "given up: it must not run after generation 2's casts";
}

TEST_F(CastSequencerTest, GapThatMayBeLostWithADeadProcIsGivenUpAfterTheGrace) {
  offer_in(1, 1);
  offer_in(1, 1, second_);
  // The client learns of a death after sending casts up to 2 here (cast 2 is lost).
  sequencer_.lost(first_.origin, 1, {{"a", 2}});
  offer_in(1, 3);
  offer_in(1, 3, second_);  // stream b's cast 2 was sent after the death was known
  ASSERT_TRUE(sequencer_.next_expiry().has_value());
  EXPECT_EQ(*sequencer_.next_expiry(), now_ + 200ms);
  sequencer_.expire(now_ + 200ms, deliver_);
  EXPECT_EQ(delivered_, (std::vector<std::string>{"g1.1", "g1.1", "g1.3"}));
  EXPECT_EQ(*sequencer_.next_expiry(), now_ + 5s) << "b's gap waits the full timeout";
}

TEST(RankRuns, CompressMergesConsecutiveRanksWithEqualCounters) {
  const std::vector<std::size_t> ranks{0, 1, 2, 5, 6, 7, 8};
  const std::vector<std::uint64_t> counters{4, 4, 4, 4, 4, 9, 9};
  const auto runs = compress(ranks, counters);
  EXPECT_EQ(runs, (std::vector<RankRun>{{0, 3, 4}, {5, 2, 4}, {7, 2, 9}}));
  auto list = expand(runs, Shape::parse("{rank=9}").value());
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->ranks, ranks);
  EXPECT_EQ(list->counters, counters);
}

TEST(RankRuns, ExpandRejectsOverlappingOrEmptyRuns) {
  const auto shape = Shape::parse("{rank=8}").value();
  EXPECT_EQ(expand({{0, 3, 1}, {2, 1, 1}}, shape).error().code, ErrorCode::decode_error);
  EXPECT_EQ(expand({{0, 0, 1}}, shape).error().code, ErrorCode::decode_error);
  EXPECT_EQ(expand({{0xffffffffu, 2, 1}}, shape).error().code, ErrorCode::decode_error);
}

// A forged cast (73 bytes on the wire) once claimed 2^32-1 ranks and made a proc allocate
// gigabytes: runs are checked against the cast's shape before anything is allocated.
TEST(RankRuns, ExpandRejectsRunsBeyondTheShapeBeforeAllocating) {
  const auto shape = Shape::parse("{host=2,gpu=4}").value();
  auto huge = expand({{0, 0xffffffffu, 1}}, shape);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code, ErrorCode::decode_error);
  EXPECT_NE(huge.error().message.find("4294967295 ranks"), std::string::npos) << huge.error().message;
  auto outside = expand({{6, 3, 1}}, shape);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("rank 8"), std::string::npos) << outside.error().message;
  EXPECT_TRUE(expand({{0, 8, 1}}, shape).ok());
}

}  // namespace
}  // namespace zmesh::comm::internal
