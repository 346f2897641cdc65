// Process and local meshes end to end: allocation, spawn, casts to all and to slices,
// calls and reduces with deadlines, what a handler's context knows, handler errors, proc
// deaths, actor failures (one event, then skipped), stop (no events), and no process left
// behind. Every result names mesh ranks.
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
  auto replies = workers->call(Where{}, deadline_in(20s));
  ASSERT_TRUE(replies.ok()) << replies.error().describe();
  EXPECT_TRUE(replies->complete()) << replies->missing.begin()->second.describe();
  ASSERT_EQ(replies->replies.size(), 32u);
  for (const auto& [rank, reply] : replies->replies) {
    EXPECT_EQ(reply.rank, rank);
    EXPECT_EQ(reply.received, 1u) << "rank " << rank << " got the cast more than once";
    EXPECT_EQ(reply.point, Point::of_rank(workers->shape().extent(), rank)->to_string());
    EXPECT_EQ(reply.point, mesh->point_of(rank));
    EXPECT_EQ(reply.proc, mesh->proc(rank).to_string());
    // The pid the mesh reports for a rank is the process its actors run in.
    EXPECT_EQ(reply.pid, mesh->pid(rank)) << "rank " << rank;
    EXPECT_FALSE(mesh->host(rank).empty()) << "rank " << rank;
  }
}

TEST_P(MeshTest, CastToASliceReachesOnlyTheSliceAndRepliesNameMeshRanks) {
  auto mesh = allocate({{"host", 2}, {"gpu", 2}, {"x", 8}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  auto slice = workers.slice("x", 2, 6).value();
  auto replies = slice.call(parse_selection("1,*,1:3").value(), Where{}, deadline_in(20s));
  ASSERT_TRUE(replies.ok()) << replies.error().describe();
  EXPECT_TRUE(replies->complete());
  // host=1, gpu in {0,1}, x in slice positions {1,2} -> base x {3,4}
  std::set<std::uint32_t> ranks;
  for (const auto& [rank, reply] : replies->replies) {
    ranks.insert(rank);
    EXPECT_EQ(reply.proc, mesh->proc(rank).to_string()) << "replies are keyed by mesh rank";
    // cast_info: the position in the cast's (the slice's) shape.
    EXPECT_EQ(reply.point, Point::of_rank(slice.shape().extent(), reply.rank)->to_string())
        << "the point must be in the slice's shape";
    EXPECT_EQ(slice.shape().base_rank_of(reply.rank).value(), rank);
  }
  std::set<std::uint32_t> expected;
  for (std::uint32_t gpu : {0, 1}) {
    for (std::uint32_t x : {3, 4}) expected.insert(16 + gpu * 8 + x);
  }
  EXPECT_EQ(ranks, expected);
}

TEST_P(MeshTest, ContextKnowsItsMeshRankPointAndCoordinates) {
  auto mesh = allocate({{"host", 2}, {"gpu", 3}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  auto all = workers.call(testing::WhoAmI{"gpu"}, deadline_in(20s));
  ASSERT_TRUE(all.ok()) << all.error().describe();
  ASSERT_TRUE(all->complete());
  ASSERT_EQ(all->replies.size(), 6u);
  for (const auto& [rank, identity] : all->replies) {
    EXPECT_EQ(identity.rank, rank);
    EXPECT_EQ(identity.point, mesh->point_of(rank));
    EXPECT_EQ(identity.coordinate, static_cast<std::int64_t>(rank % 3));
  }
  // Through a slice, the context still names the mesh rank and the mesh's coordinates.
  auto slice = workers.slice("gpu", 1, 3).value();
  auto sliced = slice.call(testing::WhoAmI{"host"}, deadline_in(20s));
  ASSERT_TRUE(sliced.ok()) << sliced.error().describe();
  ASSERT_TRUE(sliced->complete());
  std::set<std::uint32_t> ranks;
  for (const auto& [rank, identity] : sliced->replies) {
    ranks.insert(rank);
    EXPECT_EQ(identity.rank, rank);
    EXPECT_EQ(identity.point, mesh->point_of(rank));
    EXPECT_EQ(identity.coordinate, static_cast<std::int64_t>(rank / 3));
  }
  EXPECT_EQ(ranks, (std::set<std::uint32_t>{1, 2, 4, 5}));
  EXPECT_EQ(slice.ranks(), (std::vector<std::uint32_t>{1, 2, 4, 5}));
  // A dimension the mesh does not have.
  auto none = workers.call(parse_selection("0,0").value(), testing::WhoAmI{"nope"}, deadline_in(20s));
  ASSERT_TRUE(none.ok() && none->complete());
  EXPECT_EQ(none->replies.at(0).coordinate, -1);
}

TEST_P(MeshTest, AHandlerErrorMakesThatRankMissingWithItsText) {
  auto mesh = allocate({{"gpu", 4}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  auto replies = workers.call(testing::Refuse{{1}}, deadline_in(20s));
  ASSERT_TRUE(replies.ok()) << replies.error().describe();
  EXPECT_EQ(replies->replies, (std::map<std::uint32_t, std::string>{{0, "0"}, {2, "2"}, {3, "3"}}));
  ASSERT_EQ(replies->missing.size(), 1u);
  ASSERT_TRUE(replies->missing.contains(1));
  EXPECT_EQ(replies->missing.at(1).code, ErrorCode::invalid_argument) << replies->missing.at(1).describe();
  EXPECT_NE(replies->missing.at(1).message.find("rank 1 refuses"), std::string::npos)
      << replies->missing.at(1).message;

  // A reduce over a slice: missing and folded values name mesh ranks, not slice positions.
  auto slice = workers.slice("gpu", 1, 4).value();  // mesh ranks 1, 2, 3
  auto joined = slice.reduce<testing::Joined>(testing::Refuse{{2}}, deadline_in(20s));
  ASSERT_TRUE(joined.ok()) << joined.error().describe();
  ASSERT_TRUE(joined->value.has_value());
  EXPECT_EQ(*joined->value, "1 3");
  EXPECT_EQ(joined->contributors, 2u);
  ASSERT_EQ(joined->missing.size(), 1u);
  ASSERT_TRUE(joined->missing.contains(2)) << "missing must name the mesh rank";
  EXPECT_NE(joined->missing.at(2).message.find("rank 2 refuses"), std::string::npos)
      << joined->missing.at(2).message;

  // A selection within the slice (its positions 1 and 2): results in mesh ranks 2 and 3.
  auto picked = slice.reduce<testing::Joined>(parse_selection("1:3").value(), testing::Refuse{{2}},
                                              deadline_in(20s));
  ASSERT_TRUE(picked.ok()) << picked.error().describe();
  EXPECT_EQ(picked->value, std::optional<std::string>("3"));
  EXPECT_EQ(picked->contributors, 1u);
  ASSERT_EQ(picked->missing.size(), 1u);
  EXPECT_TRUE(picked->missing.contains(2));
  auto called = slice.call(parse_selection("0:2").value(), testing::Refuse{{}}, deadline_in(20s));
  ASSERT_TRUE(called.ok()) << called.error().describe();
  EXPECT_EQ(called->replies, (std::map<std::uint32_t, std::string>{{1, "1"}, {2, "2"}}));
  EXPECT_TRUE(called->complete());

  // A handler's error is an answer, not a failure: the actor lives and no event is made.
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  EXPECT_EQ(mesh->events_queued(), 0u);
}

TEST_P(MeshTest, DuplicateSpawnFailsAndLeavesTheMeshAlone) {
  auto mesh = allocate({{"gpu", 3}});
  ASSERT_TRUE(mesh);
  auto first = mesh->spawn<WorkerActor>("worker", {"a"}, deadline_in(20s));
  ASSERT_TRUE(first.ok());
  auto second = mesh->spawn<WorkerActor>("worker", {"b"}, deadline_in(20s));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::duplicate);
  auto replies = first->call(Where{}, deadline_in(20s));
  ASSERT_TRUE(replies.ok());
  EXPECT_TRUE(replies->complete());
  // stop() returns once every event it caused is queued: none, and none before it.
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  EXPECT_EQ(mesh->events_queued(), 0u);
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
  auto event = mesh->next_event(deadline_in(10s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, MeshEvent::Kind::actor_failed) << event->describe();
  EXPECT_EQ(event->rank, 2u);
  EXPECT_EQ(event->point, "gpu=2/4");
  EXPECT_EQ(event->actor, "worker");
  EXPECT_NE(event->detail.find("test.Boom"), std::string::npos) << event->detail;
  EXPECT_NE(event->detail.find("bad batch"), std::string::npos) << event->detail;
  // A call now: rank 2's actor is gone, so it is missing at once with the reason.
  auto replies = workers.call(Where{}, deadline_in(20s));
  ASSERT_TRUE(replies.ok());
  EXPECT_EQ(replies->replies.size(), 3u);
  ASSERT_EQ(replies->missing.size(), 1u);
  EXPECT_EQ(replies->missing.begin()->first, 2u);
  EXPECT_EQ(replies->missing.begin()->second.code, ErrorCode::actor_failed);
  EXPECT_NE(replies->missing.begin()->second.message.find("bad batch"), std::string::npos)
      << replies->missing.begin()->second.describe();
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  EXPECT_EQ(mesh->events_queued(), 1u) << "one failure, one event";
}

TEST_P(MeshTest, FailedActorIsSkippedByLaterCastsWithoutAnUndeliverableFlood) {
  auto mesh = allocate({{"gpu", 4}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  ASSERT_TRUE(workers.cast(parse_selection("2").value(), testing::Boom{"bad batch"}).ok());
  auto event = mesh->next_event(deadline_in(10s));
  ASSERT_TRUE(event.has_value());
  ASSERT_EQ(event->kind, MeshEvent::Kind::actor_failed) << event->describe();
  ASSERT_TRUE(workers.dead(2).has_value());
  EXPECT_EQ(workers.dead(2)->code, ErrorCode::actor_failed);
  EXPECT_FALSE(workers.dead(1).has_value());
  // 100 steps: each cast skips rank 2 and says why; none comes back.
  for (int step = 0; step < 100; ++step) {
    auto cast = workers.cast(Where{});
    ASSERT_TRUE(cast.ok()) << cast.error().describe();
    EXPECT_EQ(cast->sent, (std::vector<std::uint32_t>{0, 1, 3}));
    ASSERT_EQ(cast->skipped.size(), 1u);
    ASSERT_TRUE(cast->skipped.contains(2));
    EXPECT_EQ(cast->skipped.at(2).code, ErrorCode::actor_failed);
    EXPECT_NE(cast->skipped.at(2).message.find("bad batch"), std::string::npos)
        << cast->skipped.at(2).message;
  }
  // Every live actor got each of the 100 casts (and this call): nothing else was lost.
  auto replies = workers.call(Where{}, deadline_in(20s));
  ASSERT_TRUE(replies.ok());
  for (const auto& [rank, reply] : replies->replies) EXPECT_EQ(reply.received, 101u) << rank;

  // live(): the ranks still running, and a call to it is complete.
  auto live = workers.live();
  EXPECT_EQ(live.ranks(), (std::vector<std::uint32_t>{0, 1, 3}));
  EXPECT_EQ(live.size(), 3u);
  auto from_live = live.call(Where{}, deadline_in(20s));
  ASSERT_TRUE(from_live.ok());
  EXPECT_TRUE(from_live->complete());
  EXPECT_EQ(from_live->replies.size(), 3u);
  auto live_cast = live.cast(Where{});
  ASSERT_TRUE(live_cast.ok());
  EXPECT_TRUE(live_cast->skipped.empty()) << "live() leaves the failed rank out altogether";
  EXPECT_EQ(live_cast->sent, (std::vector<std::uint32_t>{0, 1, 3}));

  // only_ranks(): an explicit list of mesh ranks; the failed one is still skipped with why.
  const std::vector<std::uint32_t> wanted{2, 3};
  auto listed = workers.only_ranks(wanted);
  EXPECT_EQ(listed.ranks(), wanted);
  auto listed_cast = listed.cast(Where{});
  ASSERT_TRUE(listed_cast.ok());
  EXPECT_EQ(listed_cast->sent, (std::vector<std::uint32_t>{3}));
  ASSERT_EQ(listed_cast->skipped.size(), 1u);
  EXPECT_TRUE(listed_cast->skipped.contains(2));
  const std::vector<std::uint32_t> others{0, 3};
  auto listed_call = workers.only_ranks(others).call(Where{}, deadline_in(20s));
  ASSERT_TRUE(listed_call.ok());
  EXPECT_TRUE(listed_call->complete());
  std::set<std::uint32_t> answered;
  for (const auto& [rank, reply] : listed_call->replies) answered.insert(rank);
  EXPECT_EQ(answered, (std::set<std::uint32_t>{0, 3}));

  // select_ranks(): the same list as a selection of the view's shape, for one message.
  auto chosen = workers.select_ranks(others);
  ASSERT_TRUE(chosen.ok()) << chosen.error().describe();
  auto selected = workers.call(*chosen, Where{}, deadline_in(20s));
  ASSERT_TRUE(selected.ok());
  EXPECT_TRUE(selected->complete());
  answered.clear();
  for (const auto& [rank, reply] : selected->replies) answered.insert(rank);
  EXPECT_EQ(answered, (std::set<std::uint32_t>{0, 3}));
  auto outside = workers.slice("gpu", 0, 2).value().select_ranks(others);
  ASSERT_FALSE(outside.ok()) << "rank 3 is not in gpu 0:2";
  EXPECT_NE(outside.error().message.find("rank 3"), std::string::npos) << outside.error().message;

  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  EXPECT_EQ(mesh->events_queued(), 1u) << "one failure, one event, no undeliverables";
  EXPECT_EQ(mesh->dropped_events(), 0u);
}

TEST_P(MeshTest, KilledProcIsOneEventAndEndsTheCallWithinItsDeadline) {
  auto mesh = allocate({{"gpu", 4}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  ASSERT_TRUE(mesh->kill(1, SIGKILL).ok());
  auto event = mesh->next_event(deadline_in(10s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, MeshEvent::Kind::proc_crashed) << event->describe();
  EXPECT_EQ(event->rank, 1u);
  EXPECT_EQ(event->reason.kind, StopReason::Kind::killed);
  EXPECT_EQ(event->reason.signal, SIGKILL);
  auto replies = workers.call(Where{}, deadline_in(10s));
  ASSERT_TRUE(replies.ok());
  EXPECT_EQ(replies->replies.size(), 3u);
  ASSERT_TRUE(replies->missing.contains(1));
  EXPECT_EQ(replies->missing.at(1).code, ErrorCode::proc_failed);
  auto cast = workers.cast(Where{});
  ASSERT_TRUE(cast.ok());
  ASSERT_TRUE(cast->skipped.contains(1));
  EXPECT_EQ(cast->skipped.at(1).code, ErrorCode::proc_failed);
  EXPECT_EQ(workers.live().ranks(), (std::vector<std::uint32_t>{0, 2, 3}));
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  EXPECT_EQ(mesh->events_queued(), 1u) << "a proc's death is one event, not one per actor";
}

TEST_P(MeshTest, StopMakesNoEventsAndLeavesNothing) {
  auto mesh = allocate({{"gpu", 3}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {"t"}, deadline_in(20s)).value();
  ASSERT_TRUE(workers.stop(deadline_in(20s)).ok());
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  // What the owner asked for is not news: neither stop made an event.
  EXPECT_EQ(mesh->events_queued(), 0u);
  EXPECT_FALSE(mesh->next_event(Clock::now()).has_value());
  for (std::uint32_t rank = 0; rank < 3; ++rank) {
    ASSERT_TRUE(workers.dead(rank).has_value()) << rank;
    EXPECT_EQ(workers.dead(rank)->code, ErrorCode::proc_failed);
  }
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
    auto replies = workers.call(Where{}, deadline_in(20s));
    ASSERT_TRUE(replies.ok());
    ASSERT_TRUE(replies->complete());
    for (const auto& [rank, reply] : replies->replies) EXPECT_EQ(reply.received, static_cast<std::uint64_t>(round));
  }
}

}  // namespace
}  // namespace zmesh
