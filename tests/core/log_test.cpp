// RateLimiter, driven deterministically: every call gets its `now` from the test, nothing
// sleeps, and the assertions are on what it let through and the count it held back.
#include "zmesh/core/log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace zmesh {
namespace {

using namespace std::chrono_literals;

const RateLimiter::Clock::time_point t0 = RateLimiter::Clock::time_point{} + 1h;

TEST(RateLimiterTest, LetsOneLineThroughPerIntervalAndCountsTheRest) {
  RateLimiter limiter(1000ms);
  EXPECT_TRUE(limiter.allow(t0)) << "the first line always goes out";
  EXPECT_FALSE(limiter.allow(t0));
  EXPECT_FALSE(limiter.allow(t0 + 999ms));
  EXPECT_EQ(limiter.suppressed(), 2u);
  EXPECT_TRUE(limiter.allow(t0 + 1000ms)) << "the interval has passed";
  EXPECT_FALSE(limiter.allow(t0 + 1500ms));
  // The next interval counts from the line let through, not from the ones held back.
  EXPECT_TRUE(limiter.allow(t0 + 2000ms));
  EXPECT_EQ(limiter.suppressed(), 3u) << "the count is cumulative";
}

TEST(RateLimiterTest, ALongSilenceLetsTheNextLineThrough) {
  RateLimiter limiter(1000ms);
  ASSERT_TRUE(limiter.allow(t0));
  EXPECT_TRUE(limiter.allow(t0 + 1h));
  EXPECT_FALSE(limiter.allow(t0 + 1h + 1ms));
  EXPECT_EQ(limiter.suppressed(), 1u);
}

TEST(RateLimiterTest, OfManyThreadsArrivingAtOnceExactlyOneLogs) {
  RateLimiter limiter(1000ms);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 100; ++j) allowed += limiter.allow(t0 + 10ms) ? 1 : 0;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 1);
  EXPECT_EQ(limiter.suppressed(), 799u);
}

}  // namespace
}  // namespace zmesh
