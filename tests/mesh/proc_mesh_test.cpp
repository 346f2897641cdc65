// Process and local meshes end to end: allocation, spawn, casts to all and to slices,
// calls with deadlines, proc deaths, actor failures, undeliverables, stop, and no process
// left behind.
#include "zmesh/alloc/local_allocator.hpp"
#include "zmesh/alloc/process_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/selection_text.hpp"

#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"
#include "testing/wait.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <map>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::Where;
using testing::WhereReply;
using testing::WorkerActor;

using testing::spec_of;

Config fast_config() {
  // Many sanitized processes on two cores start slowly: a patient watchdog.
  return testing::mesh_test_config(Millis(15000));
}

enum class Kind { local, process };

class MeshTest : public ::testing::TestWithParam<Kind> {
 protected:
  std::unique_ptr<ProcMesh> allocate(std::vector<std::pair<std::string, std::uint32_t>> dims) {
    return testing::allocate_mesh(runtime_, spec_of(std::move(dims)), GetParam() == Kind::local,
                                  deadline_in(30s));
  }
  // Every test's meshes are gone by now: so must be every proc they started.
  void TearDown() override { EXPECT_EQ(testing::child_processes(), std::vector<pid_t>{}); }

  Runtime runtime_{fast_config()};
};

TEST_P(MeshTest, CastToAllReachesEachActorOnceWithItsPoint) {
  auto mesh = allocate({{"host", 2}, {"gpu", 2}, {"x", 8}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s));
  ASSERT_TRUE(workers.ok()) << workers.error().describe();
  auto replies = workers->call<WhereReply>(
      Selection::all(), [](PortRef<WhereReply> reply_to) { return Where{reply_to}; },
      deadline_in(20s));
  ASSERT_TRUE(replies.ok()) << replies.error().describe();
  EXPECT_TRUE(replies->complete()) << replies->missing.begin()->second.describe();
  ASSERT_EQ(replies->replies.size(), 32u);
  for (const auto& [rank, reply] : replies->replies) {
    EXPECT_EQ(reply.rank, rank);
    EXPECT_EQ(reply.received, 1u) << "rank " << rank << " got the cast more than once";
    EXPECT_EQ(reply.point, Point::of_rank(workers->shape().extent(), rank)->to_string());
    EXPECT_EQ(reply.proc, mesh->proc(rank).to_string());
  }
}

TEST_P(MeshTest, CastToASliceReachesOnlyTheSlice) {
  auto mesh = allocate({{"host", 2}, {"gpu", 2}, {"x", 8}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  auto slice = workers.slice("x", 2, 6).value();
  auto replies = slice.call<WhereReply>(
      parse_selection("1,*,1:3").value(),
      [](PortRef<WhereReply> reply_to) { return Where{reply_to}; }, deadline_in(20s));
  ASSERT_TRUE(replies.ok()) << replies.error().describe();
  EXPECT_TRUE(replies->complete());
  // host=1, gpu in {0,1}, x in slice positions {1,2} -> base x {3,4}
  std::set<std::string> procs;
  for (const auto& [rank, reply] : replies->replies) {
    procs.insert(reply.proc);
    EXPECT_EQ(reply.point, Point::of_rank(slice.shape().extent(), rank)->to_string())
        << "the point must be in the slice's shape";
  }
  std::set<std::string> expected;
  for (std::uint32_t gpu : {0, 1}) {
    for (std::uint32_t x : {3, 4}) expected.insert(mesh->proc(16 + gpu * 8 + x).to_string());
  }
  EXPECT_EQ(procs, expected);
}

TEST_P(MeshTest, DuplicateSpawnFailsAndLeavesTheMeshAlone) {
  auto mesh = allocate({{"gpu", 3}});
  ASSERT_TRUE(mesh);
  auto first = mesh->spawn<WorkerActor>("worker", {"a"}, deadline_in(20s));
  ASSERT_TRUE(first.ok());
  auto second = mesh->spawn<WorkerActor>("worker", {"b"}, deadline_in(20s));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::duplicate);
  auto replies = first->call<WhereReply>(
      Selection::all(), [](PortRef<WhereReply> r) { return Where{r}; }, deadline_in(20s));
  ASSERT_TRUE(replies.ok());
  EXPECT_TRUE(replies->complete());
  EXPECT_FALSE(first->next_event(deadline_in(100ms)).has_value());
}

TEST_P(MeshTest, SpawnFailureIsReportedPerRank) {
  auto mesh = allocate({{"gpu", 2}});
  ASSERT_TRUE(mesh);
  auto failing = mesh->spawn<testing::FailingInitActor>("f", {true}, deadline_in(20s));
  ASSERT_FALSE(failing.ok());
  EXPECT_NE(failing.error().message.find("failed on 2 of 2 ranks"), std::string::npos)
      << failing.error().message;
  EXPECT_NE(failing.error().message.find("rank 1 (gpu=1/2)"), std::string::npos);
  EXPECT_NE(failing.error().message.find("init refused"), std::string::npos);
}

TEST_P(MeshTest, ThrowingActorGivesOneActorEventAndFailsThePendingCall) {
  auto mesh = allocate({{"gpu", 4}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  ASSERT_TRUE(workers.cast(parse_selection("2").value(), testing::Boom{"bad batch"}).ok());
  auto event = workers.next_event(deadline_in(10s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->rank, 2u);
  EXPECT_EQ(event->event.kind, SupervisionKind::actor_failed);
  EXPECT_EQ(event->event.message_type, "test.Boom");
  EXPECT_EQ(event->event.reason, "bad batch");
  EXPECT_FALSE(workers.next_event(deadline_in(300ms)).has_value()) << "one failure, one event";
  // A call now: rank 2's actor is gone, so it is missing at once with the reason.
  auto replies = workers.call<WhereReply>(
      Selection::all(), [](PortRef<WhereReply> r) { return Where{r}; }, deadline_in(20s));
  ASSERT_TRUE(replies.ok());
  EXPECT_EQ(replies->replies.size(), 3u);
  ASSERT_EQ(replies->missing.size(), 1u);
  EXPECT_EQ(replies->missing.begin()->first, 2u);
  EXPECT_NE(replies->missing.begin()->second.message.find("has ended"), std::string::npos)
      << replies->missing.begin()->second.describe();
}

TEST_P(MeshTest, KilledProcIsOneEventAndEndsTheCallWithinItsDeadline) {
  auto mesh = allocate({{"gpu", 4}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  ASSERT_TRUE(mesh->kill(1, SIGKILL).ok());
  auto event = mesh->next_event(deadline_in(10s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, ProcEvent::Kind::crashed);
  EXPECT_EQ(event->rank, 1u);
  EXPECT_EQ(event->reason.kind, StopReason::Kind::killed);
  EXPECT_EQ(event->reason.signal, SIGKILL);
  auto replies = workers.call<WhereReply>(
      Selection::all(), [](PortRef<WhereReply> r) { return Where{r}; }, deadline_in(10s));
  ASSERT_TRUE(replies.ok());
  EXPECT_EQ(replies->replies.size(), 3u);
  ASSERT_TRUE(replies->missing.contains(1));
  EXPECT_EQ(replies->missing.at(1).code, ErrorCode::proc_failed);
}

TEST_P(MeshTest, StopReportsEachProcOnceAndLeavesNothing) {
  auto mesh = allocate({{"gpu", 3}});
  ASSERT_TRUE(mesh);
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  std::set<std::uint32_t> stopped;
  while (auto event = mesh->next_event(deadline_in(200ms))) {
    EXPECT_EQ(event->kind, ProcEvent::Kind::stopped) << event->describe();
    EXPECT_TRUE(stopped.insert(event->rank).second) << "two events for rank " << event->rank;
  }
  EXPECT_EQ(stopped.size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Allocators, MeshTest, ::testing::Values(Kind::local, Kind::process),
                         [](const auto& info) {
                           return info.param == Kind::local ? "Local" : "Process";
                         });

}  // namespace
}  // namespace zmesh

namespace zmesh {
namespace {

TEST(TcpMeshTest, ProcessMeshOverTcpPingsEveryActor) {
  Runtime runtime(fast_config());
  AllocSpec spec = spec_of({{"gpu", 3}});
  spec.transport = AllocTransport::tcp;
  auto alloc = ProcessAllocator::allocate(runtime, spec, testing::registry());
  ASSERT_TRUE(alloc.ok()) << alloc.error().describe();
  auto mesh = ProcMesh::allocate(runtime, std::move(*alloc), deadline_in(30s));
  ASSERT_TRUE(mesh.ok()) << mesh.error().describe();
  auto workers = (*mesh)->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  for (int round = 1; round <= 3; ++round) {
    auto replies = workers.call<WhereReply>(
        Selection::all(), [](PortRef<WhereReply> r) { return Where{r}; }, deadline_in(20s));
    ASSERT_TRUE(replies.ok());
    ASSERT_TRUE(replies->complete());
    for (const auto& [rank, reply] : replies->replies) EXPECT_EQ(reply.received, static_cast<std::uint64_t>(round));
  }
}

}  // namespace
}  // namespace zmesh
