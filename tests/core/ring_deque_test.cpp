#include "zmesh/core/ring_deque.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>
#include <string>

namespace zmesh {
namespace {

// Every operation, in a random mix across many wrap-arounds and growths, leaves the ring
// holding exactly what a std::deque given the same operations holds, in the same order.
TEST(RingDequeTest, MatchesAStdDequeUnderARandomMixOfOperations) {
  RingDeque<std::string> ring;
  std::deque<std::string> model;
  std::mt19937 random(7);
  for (int step = 0; step < 200000; ++step) {
    const auto op = random() % 10;
    const std::string value = std::to_string(step);
    if (op < 4) {
      ring.push_back(value);
      model.push_back(value);
    } else if (op < 5) {
      ring.push_front(value);
      model.push_front(value);
    } else if (op < 9 && !model.empty()) {
      ASSERT_EQ(ring.front(), model.front()) << "step " << step;
      ring.pop_front();
      model.pop_front();
    } else if (!model.empty()) {
      ASSERT_EQ(ring.back(), model.back()) << "step " << step;
      ring.pop_back();
      model.pop_back();
    }
    ASSERT_EQ(ring.size(), model.size()) << "step " << step;
  }
  std::size_t i = 0;
  for (const auto& value : ring) ASSERT_EQ(value, model[i++]);
  ASSERT_EQ(i, model.size());
}

TEST(RingDequeTest, EraseIfKeepsTheOrderOfTheRest) {
  RingDeque<int> ring;
  for (int i = 0; i < 10; ++i) ring.push_front(i);  // wrapped: 9 8 ... 0
  EXPECT_EQ(ring.erase_if([](int v) { return v % 3 == 0; }), 4u);
  const std::vector<int> expected{8, 7, 5, 4, 2, 1};
  ASSERT_EQ(ring.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(ring[i], expected[i]);
}

// Move-only elements are moved, never copied, through growth and removal.
TEST(RingDequeTest, HoldsMoveOnlyValues) {
  RingDeque<std::unique_ptr<int>> ring;
  for (int i = 0; i < 100; ++i) ring.push_back(std::make_unique<int>(i));
  ring.erase_if([](const std::unique_ptr<int>& v) { return *v % 2 == 1; });
  ASSERT_EQ(ring.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(*ring.front(), 2 * i);
    ring.pop_front();
  }
}

// A burst grows the ring; once drained, it gives the memory back instead of keeping the
// burst's size for ever. Up to the kept size, a steady flow never allocates again.
TEST(RingDequeTest, ABurstsMemoryIsReleasedOnceTheRingDrains) {
  RingDeque<int> ring;
  for (int i = 0; i < 100000; ++i) ring.push_back(i);
  EXPECT_GE(ring.capacity(), 100000u);
  while (!ring.empty()) ring.pop_front();
  EXPECT_EQ(ring.capacity(), 0u);

  for (int i = 0; i < 500; ++i) ring.push_back(i);
  const auto steady = ring.capacity();
  for (int round = 0; round < 1000; ++round) {
    ring.pop_front();
    ring.push_back(round);
  }
  while (!ring.empty()) ring.pop_front();
  EXPECT_EQ(ring.capacity(), steady) << "a ring within the kept size keeps its slots";
}

TEST(RingDequeTest, SwapExchangesContents) {
  RingDeque<int> a, b;
  a.push_back(1);
  a.push_back(2);
  b.push_back(3);
  a.swap(b);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a.front(), 3);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.back(), 2);
}

}  // namespace
}  // namespace zmesh
