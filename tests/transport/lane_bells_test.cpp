// LaneBells, the one epoll descriptor over all lane doorbells: it reports exactly the rung
// doorbells it watches, forgets those it no longer watches, and a doorbell closed and
// replaced by a new one with the same descriptor number is watched again (the case a set
// kept by number alone would miss). Waits are polls with a deadline, never sleeps.
#include "zmesh/transport/internal/lane_bells.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <vector>

namespace zmesh::internal {
namespace {

constexpr int deadline_ms = 5000;

struct Pipe {
  UniqueFd read_end, write_end;
};

Pipe make_pipe() {
  std::array<int, 2> ends{};
  EXPECT_EQ(::pipe2(ends.data(), O_CLOEXEC | O_NONBLOCK), 0);
  return {UniqueFd(ends[0]), UniqueFd(ends[1])};
}

void ring(const Pipe& pipe) { ASSERT_EQ(::write(pipe.write_end.get(), "x", 1), 1); }

void drain(const Pipe& pipe) {
  char buffer[16];
  while (::read(pipe.read_end.get(), buffer, sizeof buffer) > 0) {
  }
}

bool readable(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, timeout_ms) > 0 && (entry.revents & POLLIN) != 0;
}

std::vector<int> sorted(std::span<const int> fds) {
  std::vector<int> out(fds.begin(), fds.end());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(LaneBellsTest, ReportsExactlyTheRungDoorbellsItWatches) {
  auto bells = LaneBells::create();
  ASSERT_TRUE(bells) << bells.error().message;
  std::vector<Pipe> pipes;
  for (int i = 0; i < 5; ++i) pipes.push_back(make_pipe());
  std::vector<int> watched;
  for (const auto& pipe : pipes) watched.push_back(pipe.read_end.get());
  bells->watch(watched);
  EXPECT_FALSE(readable(bells->fd(), 0));
  EXPECT_TRUE(bells->rung(8).empty());

  ring(pipes[1]);
  ring(pipes[3]);
  ASSERT_TRUE(readable(bells->fd(), deadline_ms));
  EXPECT_EQ(sorted(bells->rung(8)),
            sorted(std::vector<int>{pipes[1].read_end.get(), pipes[3].read_end.get()}));
  // Level-triggered: still rung until drained; a limit of one reports one now, the rest later.
  EXPECT_EQ(bells->rung(1).size(), 1u);
  drain(pipes[1]);
  EXPECT_EQ(sorted(bells->rung(8)), std::vector<int>{pipes[3].read_end.get()});
  drain(pipes[3]);
  EXPECT_TRUE(bells->rung(8).empty());
  EXPECT_FALSE(readable(bells->fd(), 0));
}

TEST(LaneBellsTest, ForgetsDoorbellsNoLongerWatched) {
  auto bells = LaneBells::create();
  ASSERT_TRUE(bells);
  Pipe kept = make_pipe();
  Pipe dropped = make_pipe();
  bells->watch(std::vector<int>{kept.read_end.get(), dropped.read_end.get()});
  bells->watch(std::vector<int>{kept.read_end.get()});
  ring(dropped);
  EXPECT_TRUE(bells->rung(8).empty()) << "a doorbell no longer watched was reported";
  ring(kept);
  EXPECT_EQ(bells->rung(8).size(), 1u);
  bells->watch({});
  EXPECT_TRUE(bells->rung(8).empty());
}

TEST(LaneBellsTest, ANewDoorbellWithAClosedOnesNumberIsWatched) {
  auto bells = LaneBells::create();
  ASSERT_TRUE(bells);
  Pipe first = make_pipe();
  const int number = first.read_end.get();
  bells->watch(std::vector<int>{number});
  first = Pipe{};  // the lane closes: the kernel drops the registration
  Pipe second = make_pipe();
  ASSERT_EQ(second.read_end.get(), number) << "the kernel gave another number; nothing to test";
  bells->watch(std::vector<int>{number});
  ring(second);
  ASSERT_TRUE(readable(bells->fd(), deadline_ms)) << "the new doorbell is not watched";
  EXPECT_EQ(bells->rung(8).size(), 1u);
}

}  // namespace
}  // namespace zmesh::internal
