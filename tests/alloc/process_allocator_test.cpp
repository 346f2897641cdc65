// The process allocator's event stream: per proc created -> running -> stopped, in that
// order, one stopped per proc after stop(), then the stream ends; and bad specs are refused
// with errors that name the culprit.
#include "zmesh/alloc/process_allocator.hpp"

#include "testing/mesh_testing.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

TEST(ProcessAllocatorTest, EventsComeInOrderAndStopGivesOneStoppedPerProc) {
  Runtime runtime(Config::from_environment().value());
  AllocSpec spec;
  spec.dimensions = {{"host", 2}, {"gpu", 2}};
  auto alloc = ProcessAllocator::allocate(runtime, spec, testing::registry()).value();
  std::map<std::uint32_t, std::vector<std::string>> seen;
  std::uint32_t running = 0;
  while (running < 4) {
    auto event = alloc->next_event(deadline_in(30s));
    ASSERT_TRUE(event.has_value()) << "allocation stalled";
    if (auto* created = std::get_if<ProcCreated>(&*event)) {
      seen[created->rank].push_back("created");
      EXPECT_GT(created->pid, 0);
      EXPECT_EQ(created->coordinates, spec.coordinates(created->rank));
    } else if (auto* up = std::get_if<ProcRunning>(&*event)) {
      seen[up->rank].push_back("running");
      EXPECT_EQ(up->proc, (ProcId{alloc->world(), up->rank}));
      EXPECT_EQ(up->agent.name, "agent");
      ++running;
    } else {
      FAIL() << describe(*event);
    }
  }
  alloc->stop();
  std::uint32_t stopped = 0;
  while (stopped < 4) {
    auto event = alloc->next_event(deadline_in(30s));
    ASSERT_TRUE(event.has_value()) << "stop stalled";
    auto* down = std::get_if<ProcStopped>(&*event);
    ASSERT_NE(down, nullptr) << describe(*event);
    EXPECT_EQ(down->reason.kind, StopReason::Kind::stopped) << down->reason.describe();
    seen[down->rank].push_back("stopped");
    ++stopped;
  }
  for (const auto& [rank, events] : seen) {
    EXPECT_EQ(events, (std::vector<std::string>{"created", "running", "stopped"})) << "rank " << rank;
  }
  // Every proc gone and every event taken: a duplicate stopped would still be queued.
  EXPECT_TRUE(alloc->ended());
}

TEST(ProcessAllocatorTest, ProcsGetMallocThresholdsUnlessTheUserSetGlibcTunables) {
  Runtime runtime(Config::from_environment().value());
  AllocSpec spec;
  spec.dimensions = {{"proc", 1}};
  auto alloc = ProcessAllocator::allocate(runtime, spec, testing::registry()).value();
  pid_t pid = 0;
  while (true) {
    auto event = alloc->next_event(deadline_in(30s));
    ASSERT_TRUE(event.has_value()) << "allocation stalled";
    if (auto* created = std::get_if<ProcCreated>(&*event)) pid = created->pid;
    if (std::holds_alternative<ProcRunning>(*event)) break;
  }
  ASSERT_GT(pid, 0);
  EXPECT_EQ(testing::malloc_tunables_in_environment_of(pid), 1);
  alloc->stop();
  while (!alloc->ended()) ASSERT_TRUE(alloc->next_event(deadline_in(30s)).has_value()) << "stop stalled";
}

TEST(ProcessAllocatorTest, BadSpecsAreRefusedNamingTheCulprit) {
  Runtime runtime(Config::from_environment().value());
  AllocSpec zero;
  zero.dimensions = {{"gpu", 0}};
  auto refused = ProcessAllocator::allocate(runtime, zero, testing::registry());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("\"gpu\" has size 0"), std::string::npos);
  AllocSpec twice;
  twice.dimensions = {{"gpu", 2}, {"gpu", 2}};
  EXPECT_NE(ProcessAllocator::allocate(runtime, twice, testing::registry()).error().message.find("twice"),
            std::string::npos);
  AllocSpec inproc;
  inproc.dimensions = {{"gpu", 1}};
  inproc.transport = AllocTransport::inproc;
  EXPECT_EQ(ProcessAllocator::allocate(runtime, inproc, testing::registry()).error().code,
            ErrorCode::invalid_argument);
  AllocSpec unknown;
  unknown.dimensions = {{"gpu", 1}};
  unknown.constraints["rack"] = "7";
  EXPECT_NE(ProcessAllocator::allocate(runtime, unknown, testing::registry()).error().message.find("\"rack\""),
            std::string::npos);
}

TEST(ProcessAllocatorTest, AProgramThatNeverCallsInitIsCaughtByTheWatchdog) {
  Config config = Config::from_environment().value();
  config.bootstrap_timeout = 1000ms;
  Runtime runtime(config);
  AllocSpec spec;
  spec.dimensions = {{"gpu", 1}};
  auto alloc = ProcessAllocator::allocate(runtime, spec, testing::registry(),
                                          ProcessAllocatorOptions{"/bin/sleep", {"600"}})
                   .value();
  std::optional<ProcStopped> stopped;
  while (!stopped) {
    auto event = alloc->next_event(deadline_in(30s));
    ASSERT_TRUE(event.has_value());
    if (auto* down = std::get_if<ProcStopped>(&*event)) stopped = *down;
  }
  EXPECT_EQ(stopped->reason.kind, StopReason::Kind::watchdog);
  EXPECT_NE(stopped->reason.detail.find("zmesh::init"), std::string::npos) << stopped->reason.describe();
}

}  // namespace
}  // namespace zmesh
