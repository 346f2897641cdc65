// BlockingQueue's batched pop: a consumer owed N items sleeps until N are queued, and is
// not woken by the pushes before that (each wake-up is a context switch), yet still gets
// what came when the deadline passes or the queue closes.
#include "zmesh/core/blocking_queue.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>

namespace zmesh {
namespace {

using namespace std::chrono_literals;

// A line of /proc/self/task/<tid>/status or stat, for the waiting thread's state and how
// often it went to sleep.
std::string task_file(pid_t tid, const char* name) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/" + name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// 'S' when the thread sleeps (in the queue's wait, here).
char task_state(pid_t tid) {
  const std::string stat = task_file(tid, "stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

// Times the thread gave up the CPU by blocking: each wake-up and sleep again adds one.
long voluntary_switches(pid_t tid) {
  const std::string status = task_file(tid, "status");
  const auto at = status.find("voluntary_ctxt_switches:");
  return at == std::string::npos ? -1 : std::stol(status.substr(at + 24));
}

// Waits (up to 10 s) until the thread sleeps; false if it never does.
bool wait_until_sleeping(pid_t tid) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (task_state(tid) != 'S') {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(BlockingQueueTest, ABatchedPopSleepsThroughThePushesBeforeItsBatch) {
  constexpr int batch = 50;
  BlockingQueue<int> queue;
  std::atomic<pid_t> waiter_tid{0};
  std::optional<int> popped;
  std::size_t left_after_pop = 0;
  std::thread waiter([&] {
    waiter_tid = gettid();
    popped = queue.pop(deadline_in(60s), batch);
    left_after_pop = queue.size();
  });
  while (waiter_tid.load() == 0) std::this_thread::yield();
  const pid_t tid = waiter_tid.load();
  ASSERT_TRUE(wait_until_sleeping(tid));
  const long before = voluntary_switches(tid);
  ASSERT_GE(before, 0);
  for (int i = 0; i < batch - 1; ++i) {
    queue.push(i);  // push notifies: only a waiter whose batch is there may wake
    ASSERT_TRUE(wait_until_sleeping(tid)) << "push " << i;
  }
  // Every push after the first would have cost a wake-up (and a sleep again) if it woke the
  // waiter; a stray wake-up of the kernel's own may add one.
  EXPECT_LE(voluntary_switches(tid) - before, 1) << "the waiter was woken before its batch was queued";
  queue.push(batch - 1);
  waiter.join();
  ASSERT_TRUE(popped.has_value());
  EXPECT_EQ(*popped, 0);  // the first item, in order
  EXPECT_EQ(left_after_pop, static_cast<std::size_t>(batch - 1));
}

TEST(BlockingQueueTest, ABatchedPopReturnsWhatCameWhenTheDeadlinePasses) {
  BlockingQueue<int> queue;
  EXPECT_FALSE(queue.pop(deadline_in(0ms), 3).has_value());  // nothing came: nothing
  queue.push(7);
  auto popped = queue.pop(deadline_in(0ms), 3);  // one of three came: that one
  ASSERT_TRUE(popped.has_value());
  EXPECT_EQ(*popped, 7);
}

TEST(BlockingQueueTest, CloseWakesABatchedPopWithWhatIsQueued) {
  BlockingQueue<int> queue;
  queue.push(1);
  std::optional<int> first, second;
  std::thread waiter([&] {
    first = queue.pop(deadline_in(60s), 10);
    second = queue.pop(deadline_in(60s), 10);
  });
  queue.close();
  waiter.join();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, 1);
  EXPECT_FALSE(second.has_value());  // closed and empty
}

// A failure notice (push_waking) changes what a batched consumer waits for: it ends the
// wait at once, whether it came before the pop or during it, and later pops take what is
// queued without waiting for their batch.
TEST(BlockingQueueTest, AWakingPushEndsABatchedWaitAtOnce) {
  const auto started = std::chrono::steady_clock::now();
  BlockingQueue<int> queue;
  queue.push(1);
  queue.push_waking(2);
  ASSERT_EQ(queue.pop(deadline_in(60s), 5), std::optional<int>(1));
  ASSERT_EQ(queue.pop(deadline_in(60s), 4), std::optional<int>(2));
  std::optional<int> popped;
  std::thread waiter([&] { popped = queue.pop(deadline_in(60s), 5); });
  queue.push(3);
  queue.push_waking(4);
  waiter.join();
  EXPECT_EQ(popped, std::optional<int>(3));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s) << "a pop waited for its deadline";
}

// A plain pop waiting beside a batched one is woken by the first push, whatever the other
// waits for.
TEST(BlockingQueueTest, APlainPopIsNotHeldBackByABatchedOne) {
  BlockingQueue<int> queue;
  std::optional<int> batched, plain;
  std::atomic<pid_t> batched_tid{0};
  std::thread batched_waiter([&] {
    batched_tid = gettid();
    batched = queue.pop(deadline_in(60s), 100);
  });
  while (batched_tid.load() == 0) std::this_thread::yield();
  ASSERT_TRUE(wait_until_sleeping(batched_tid.load()));
  std::thread plain_waiter([&] { plain = queue.pop(deadline_in(60s)); });
  queue.push(5);
  plain_waiter.join();  // returns with the item (or the test times out)
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(*plain, 5);
  queue.close();
  batched_waiter.join();
  EXPECT_FALSE(batched.has_value());
}

}  // namespace
}  // namespace zmesh
