// Liveness, the silence bookkeeping of the supervision subscriber, driven deterministically:
// every call gets its `now` from the test and nothing sleeps.
#include "zmesh/transport/internal/liveness.hpp"

#include <gtest/gtest.h>

namespace zmesh::internal {
namespace {

using namespace std::chrono_literals;

const Clock::time_point t0 = Clock::time_point{} + 1h;
constexpr auto limit = 150ms;

TEST(LivenessTest, ASilenceIsReportedOnceAfterTheLimit) {
  Liveness liveness(t0);
  EXPECT_FALSE(liveness.newly_silent(t0 + limit, limit)) << "reported at the limit, not after it";
  EXPECT_TRUE(liveness.newly_silent(t0 + limit + 1ms, limit));
  EXPECT_FALSE(liveness.newly_silent(t0 + limit + 2ms, limit));
  EXPECT_FALSE(liveness.newly_silent(t0 + 1h, limit)) << "one silence, however long, is one report";
}

TEST(LivenessTest, APeerHeardAtItsCadenceIsNeverSilent) {
  Liveness liveness(t0);
  // Heartbeats every 20 ms for three limits' worth, checked between them.
  for (auto now = t0; now < t0 + 3 * limit; now += 20ms) {
    EXPECT_FALSE(liveness.newly_silent(now + 10ms, limit));
    liveness.heard(now + 20ms);
  }
}

TEST(LivenessTest, HearingThePeerAgainMakesTheNextSilenceANewOne) {
  Liveness liveness(t0);
  ASSERT_TRUE(liveness.newly_silent(t0 + 1s, limit));
  liveness.heard(t0 + 2s);
  EXPECT_FALSE(liveness.newly_silent(t0 + 2s + limit, limit)) << "the limit counts from the hearing";
  EXPECT_TRUE(liveness.newly_silent(t0 + 2s + limit + 1ms, limit));
  EXPECT_FALSE(liveness.newly_silent(t0 + 3s, limit));
}

}  // namespace
}  // namespace zmesh::internal
