// The README's promises on a bad day, on real process meshes: late replies after timeouts
// and pauses, throwing constructors, spawns that time out, oversized messages, forged
// replies, a blocked actor, a client that casts as fast as it can, and kill -9 leaving no
// socket file. Each case was a failure on the earlier main (issue 8).
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/selection_text.hpp"

#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"
#include "testing/wait.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::SlowWhere;
using testing::TroubleActor;
using testing::wait_until;
using testing::Where;
using testing::WhereReply;

// Resident memory of this process, in bytes.
std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

class RobustnessTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_EQ(testing::child_processes(), std::vector<pid_t>{}); }

  std::unique_ptr<ProcMesh> allocate(Runtime& runtime, std::uint32_t procs) {
    return testing::allocate_mesh(runtime, testing::spec_of({{"gpu", procs}}), /*local=*/false,
                                  deadline_in(60s));
  }
  // Every actor of `mesh` answers a plain call: none of them failed.
  template <class A>
  static void expect_all_answer(ActorMesh<A>& mesh) {
    auto replies = mesh.call(Where{}, deadline_in(20s));
    ASSERT_TRUE(replies.ok()) << replies.error().describe();
    EXPECT_EQ(replies->replies.size(), mesh.size());
    for (const auto& [rank, error] : replies->missing) ADD_FAILURE() << rank << ": " << error.describe();
  }

  Runtime runtime_{testing::mesh_test_config(Millis(3000))};
};

TEST_F(RobustnessTest, RepliesAfterACallTimedOutAreDroppedAndTheActorsLive) {
  auto mesh = allocate(runtime_, 2);
  ASSERT_TRUE(mesh);
  auto slow = mesh->spawn<TroubleActor>("slow", {}, deadline_in(20s)).value();
  const auto dropped_before = mesh->client().stats().late_replies_dropped;
  auto timed_out = slow.call(SlowWhere{500}, deadline_in(100ms));
  ASSERT_TRUE(timed_out.ok());
  EXPECT_EQ(timed_out->missing.size(), 2u);
  // A deadline already past: the call returns at once, the replies come later.
  auto past = slow.call(Where{}, Clock::now() - 1s);
  ASSERT_TRUE(past.ok());
  EXPECT_EQ(past->missing.size(), 2u);
  // All four late replies arrive at closed ports and are counted there, not bounced.
  ASSERT_TRUE(wait_until(20s, [&] {
    return mesh->client().stats().late_replies_dropped >= dropped_before + 4;
  })) << "dropped: " << mesh->client().stats().late_replies_dropped - dropped_before;
  expect_all_answer(slow);
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  EXPECT_EQ(mesh->events_queued(), 0u) << "a late reply was reported";
}

TEST_F(RobustnessTest, APausedProcsLateRepliesDoNotFailItsActor) {
  auto mesh = allocate(runtime_, 2);
  ASSERT_TRUE(mesh);
  auto actors = mesh->spawn<TroubleActor>("paused", {}, deadline_in(20s)).value();
  ASSERT_TRUE(mesh->kill(1, SIGSTOP).ok());
  ASSERT_TRUE(wait_until(20s, [&] { return testing::stopped(mesh->pid(1)); })) << "pid " << mesh->pid(1);
  auto during_pause = actors.call(Where{}, deadline_in(300ms));
  ASSERT_TRUE(mesh->kill(1, SIGCONT).ok());
  ASSERT_TRUE(during_pause.ok());
  EXPECT_TRUE(during_pause->missing.contains(1)) << [&] {
    std::string seen;
    for (const auto& [rank, reply] : during_pause->replies) seen += fmt::format(" replied {} (pid {})", rank, reply.pid);
    for (const auto& [rank, error] : during_pause->missing) seen += fmt::format(" missing {}: {}", rank, error.describe());
    return fmt::format("stopped pid {};{}", mesh->pid(1), seen);
  }();
  ASSERT_TRUE(wait_until(20s, [&] { return mesh->client().stats().late_replies_dropped >= 1; }));
  expect_all_answer(actors);
  // The pause may have been told (unresponsive), but nothing failed or crashed.
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  std::uint64_t read = 0;
  while (auto event = mesh->next_event(Clock::now())) {
    ++read;
    EXPECT_EQ(event->kind, MeshEvent::Kind::proc_unresponsive) << event->describe();
  }
  EXPECT_EQ(read, mesh->events_queued());
}

// call() sleeps until every rank's reply could be there (one wake-up for all of them): a
// paused rank, which neither answers nor fails, must not cost the replies the others sent
// before the deadline, and the call ends at its deadline, not later.
TEST_F(RobustnessTest, AStoppedRankLeavesTheOtherRepliesOfACallIntact) {
  auto mesh = allocate(runtime_, 4);
  ASSERT_TRUE(mesh);
  auto actors = mesh->spawn<TroubleActor>("paused", {}, deadline_in(20s)).value();
  ASSERT_TRUE(mesh->kill(2, SIGSTOP).ok());
  ASSERT_TRUE(wait_until(20s, [&] { return testing::stopped(mesh->pid(2)); })) << "pid " << mesh->pid(2);
  // Well inside the heartbeat timeout (3 s here): the paused proc must still count as
  // alive when it is let go.
  const auto deadline = deadline_in(1s);
  auto during_pause = actors.call(Where{}, deadline);
  const auto returned = Clock::now();
  ASSERT_TRUE(mesh->kill(2, SIGCONT).ok());
  ASSERT_TRUE(during_pause.ok()) << during_pause.error().describe();
  EXPECT_LT(returned, deadline + 2s) << "the call outlived its deadline";
  ASSERT_EQ(during_pause->missing.size(), 1u);
  EXPECT_EQ(during_pause->missing.at(2).code, ErrorCode::timeout) << during_pause->missing.at(2).describe();
  for (std::uint32_t rank : {0u, 1u, 3u}) {
    ASSERT_TRUE(during_pause->replies.contains(rank)) << "rank " << rank << "'s reply was lost";
    EXPECT_EQ(during_pause->replies.at(rank).pid, mesh->pid(rank));
  }
  expect_all_answer(actors);
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
}

TEST_F(RobustnessTest, AThrowingConstructorFailsTheSpawnOnThatRankOnly) {
  auto mesh = allocate(runtime_, 3);
  ASSERT_TRUE(mesh);
  TroubleActor::Params params;
  params.throw_in_constructor_on = 1;
  auto spawned = mesh->spawn<TroubleActor>("fragile", params, deadline_in(20s));
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code, ErrorCode::actor_failed) << spawned.error().describe();
  EXPECT_NE(spawned.error().message.find("failed on 1 of 3 ranks: rank 1"), std::string::npos)
      << spawned.error().message;
  EXPECT_NE(spawned.error().message.find("threw a non-standard exception"), std::string::npos)
      << spawned.error().message;
  // Every proc lives, and the name is free on every rank (ranks 0 and 2 were cleaned up).
  auto again = mesh->spawn<TroubleActor>("fragile", {}, deadline_in(20s));
  ASSERT_TRUE(again.ok()) << again.error().describe();
  expect_all_answer(*again);
}

TEST_F(RobustnessTest, ASpawnThatTimesOutStopsLateActorsAndFreesTheName) {
  auto mesh = allocate(runtime_, 2);
  ASSERT_TRUE(mesh);
  TroubleActor::Params params;
  params.slow_init_on = 1;
  params.slow_init_ms = 1500;
  auto spawned = mesh->spawn<TroubleActor>("late", params, deadline_in(300ms));
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code, ErrorCode::timeout) << spawned.error().describe();
  EXPECT_NE(spawned.error().message.find("rank 1"), std::string::npos) << spawned.error().message;
  // Rank 1's actor comes up after the spawn gave up; the stop sent behind the spawn ends it.
  // Its stop drains asynchronously, so the name frees up shortly after: a leaked actor would
  // keep it taken forever.
  std::optional<ActorMesh<TroubleActor>> again;
  ASSERT_TRUE(wait_until(20s, [&] {
    auto attempt = mesh->spawn<TroubleActor>("late", {}, deadline_in(10s));
    if (attempt) again.emplace(std::move(*attempt));
    return again.has_value();
  }));
  expect_all_answer(*again);
}

TEST_F(RobustnessTest, OversizedCastsAndCallsFailAtOnceNamingTheSize) {
  Config config = testing::mesh_test_config(Millis(3000));
  config.max_message_bytes = 64 * 1024;
  Runtime runtime(config);
  auto mesh = allocate(runtime, 2);
  ASSERT_TRUE(mesh);
  auto actors = mesh->spawn<testing::EchoActor>("sized", {""}, deadline_in(20s)).value();
  const testing::Ping huge{1, std::string(100 * 1024, 'x'), {}};
  auto cast = actors.cast(huge);
  ASSERT_FALSE(cast.ok());
  EXPECT_EQ(cast.error().code, ErrorCode::too_large);
  EXPECT_NE(cast.error().message.find("over the limit of 65536 bytes"), std::string::npos)
      << cast.error().message;
  // A call or reduce of it fails the same way, at once, whatever its deadline.
  const auto started = Clock::now();
  auto call = actors.call(huge, deadline_in(30s));
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.error().code, ErrorCode::too_large) << call.error().describe();
  EXPECT_NE(call.error().message.find("test.Ping"), std::string::npos) << call.error().message;
  auto reduce = actors.reduce<zmesh::Count>(huge, deadline_in(30s));
  ASSERT_FALSE(reduce.ok());
  EXPECT_EQ(reduce.error().code, ErrorCode::too_large) << reduce.error().describe();
  EXPECT_LT(Clock::now() - started, 10s);
  // Nothing was sent, so nothing stalls: the next call answers at once.
  auto small = actors.call(testing::Ping{2, "small", {}}, deadline_in(20s));
  ASSERT_TRUE(small.ok()) << small.error().describe();
  EXPECT_TRUE(small->complete());
  EXPECT_EQ(small->replies.size(), 2u);
}

TEST_F(RobustnessTest, OnlyTheAddressedActorsRepliesCountOnce) {
  auto mesh = allocate(runtime_, 2);
  ASSERT_TRUE(mesh);
  auto actors = mesh->spawn<TroubleActor>("honest", {}, deadline_in(20s)).value();
  auto forgers = mesh->spawn<TroubleActor>("forger", {}, deadline_in(20s)).value();
  // Each honest actor has the forger on its proc send 5 forged replies to the call's reply
  // route: they reach the caller long before the real ones.
  auto replies = actors.call(testing::ForgedWhere{"forger", 5, 300}, deadline_in(20s));
  ASSERT_TRUE(replies.ok());
  EXPECT_TRUE(replies->complete());
  ASSERT_EQ(replies->replies.size(), 2u);
  for (const auto& [rank, reply] : replies->replies) {
    EXPECT_NE(reply.proc, "forged") << "rank " << rank << " took a forged reply";
    EXPECT_EQ(reply.proc, mesh->proc(rank).to_string());
  }
}

TEST_F(RobustnessTest, ABlockedActorPushesBackOnItsSenderAndTheMeshSurvives) {
  Config config = testing::mesh_test_config(Millis(1500));
  config.mailbox_max_messages = 16;
  config.link_window_messages = 32;
  Runtime runtime(config);
  auto mesh = allocate(runtime, 2);
  ASSERT_TRUE(mesh);
  auto actors = mesh->spawn<TroubleActor>("blocked", {}, deadline_in(20s)).value();
  const auto rank0 = parse_selection("0").value();
  ASSERT_TRUE(actors.cast(rank0, testing::Hang{}).ok());
  std::optional<Error> pushed_back;
  for (int i = 0; i < 100000 && !pushed_back; ++i) {
    auto cast = actors.cast(rank0, Where{}, deadline_in(200ms));
    if (!cast) pushed_back = cast.error();
  }
  ASSERT_TRUE(pushed_back.has_value()) << "100000 casts to a blocked actor were all taken";
  EXPECT_EQ(pushed_back->code, ErrorCode::backpressure) << pushed_back->describe();
  // Control traffic still flows to the blocked proc: its agent spawns and stops actors, and
  // heartbeats keep the watchdog (1.5 s) quiet for twice its deadline.
  const auto until = Clock::now() + 2 * config.heartbeat_timeout;
  int rounds = 0;
  while (Clock::now() < until) {
    auto other = mesh->spawn<TroubleActor>("other" + std::to_string(rounds++), {}, deadline_in(10s));
    ASSERT_TRUE(other.ok()) << other.error().describe();
    ASSERT_TRUE(other->stop(deadline_in(10s)).ok());
  }
  while (auto event = mesh->next_event(Clock::now())) {
    EXPECT_NE(event->kind, MeshEvent::Kind::proc_crashed) << "a healthy proc was killed: " << event->describe();
  }
}

TEST_F(RobustnessTest, ACastingLoopKeepsMemoryBoundedAndLosesNoProc) {
  Config config = testing::mesh_test_config(Millis(3000));
  // Small bounds, so that the short CI form reaches them within its seconds.
  config.link_window_messages = 256;
  config.mailbox_max_messages = 256;
  Runtime runtime(config);
  auto mesh = allocate(runtime, 4);
  ASSERT_TRUE(mesh);
  auto actors = mesh->spawn<TroubleActor>("flooded", {}, deadline_in(20s)).value();
  // ZMESH_SOAK_SECONDS makes the long form (20 s in the issue); CI runs 4 s.
  const char* soak = std::getenv("ZMESH_SOAK_SECONDS");
  const auto seconds = std::chrono::seconds(soak ? std::atoi(soak) : 4);
  // 5 ms per message: far slower than any client that never waits, even a sanitized one
  // sharing two cores with other tests (at 1 ms a loaded CI machine could keep up).
  const testing::Nap payload{5000, std::string(1024, 'x')};
  std::int64_t peak = 0;
  std::uint64_t casts = 0, pushed_back = 0;
  const auto started_rss = resident_bytes();
  for (const auto until = Clock::now() + seconds; Clock::now() < until;) {
    auto cast = actors.try_cast(Selection::all(), payload);
    cast ? ++casts : ++pushed_back;
    if ((casts + pushed_back) % 256 == 0) peak = std::max(peak, resident_bytes());
  }
  RecordProperty("casts", static_cast<int>(casts));
  RecordProperty("peak_growth_mb", static_cast<int>((peak - started_rss) >> 20));
  EXPECT_GT(casts, 0u);
  EXPECT_GT(pushed_back, 0u) << "the procs kept up with " << casts
                             << " casts: no flow control was needed";
  // Without flow control this grew by about 250 MB in 4 s. The bound leaves room for the
  // address sanitizer's quarantine of freed memory (256 MB by default).
  EXPECT_LT(peak - started_rss, std::int64_t{512} << 20)
      << casts << " casts, " << pushed_back << " pushed back";
  expect_all_answer(actors);
  while (auto event = mesh->next_event(Clock::now())) {
    EXPECT_NE(event->kind, MeshEvent::Kind::proc_crashed) << event->describe();
  }
}

TEST_F(RobustnessTest, KillingProcsWithSigkillLeavesNoSocketFile) {
  const auto before = testing::ipc_directories(::getpid());
  {
    auto mesh = allocate(runtime_, 3);
    ASSERT_TRUE(mesh);
    ASSERT_TRUE(mesh->kill(0, SIGKILL).ok());
    ASSERT_TRUE(mesh->kill(2, SIGKILL).ok());
    std::set<std::uint32_t> crashed;
    while (crashed.size() < 2) {
      auto event = mesh->next_event(deadline_in(10s));
      ASSERT_TRUE(event.has_value());
      if (event->kind == MeshEvent::Kind::proc_crashed) crashed.insert(event->rank);
    }
  }
  // The mesh's directory went with it, socket files of the killed procs included.
  EXPECT_EQ(testing::ipc_directories(::getpid()), before);
}

}  // namespace
}  // namespace zmesh
