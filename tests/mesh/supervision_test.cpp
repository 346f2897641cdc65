// Supervision end to end: exit reasons, a proc killed mid-call, a client killed with
// SIGKILL (no orphan survives it), forwarded output, undeliverables, independent meshes,
// and large meshes. Event counts are exact: ProcMesh::events_queued() after stop().
#include "zmesh/alloc/child_process.hpp"
#include "zmesh/comm/tree_stats.hpp"
#include "zmesh/alloc/local_allocator.hpp"
#include "zmesh/alloc/process_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/selection_text.hpp"

#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"
#include "testing/wait.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <fstream>
#include <future>
#include <mutex>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::Where;
using testing::WhereReply;
using testing::WorkerActor;

Config fast_config() { return testing::mesh_test_config(Millis(1500)); }

std::unique_ptr<ProcMesh> allocate(Runtime& runtime, std::vector<std::pair<std::string, std::uint32_t>> dims,
                                   bool local = false, Deadline deadline = deadline_in(60s)) {
  return testing::allocate_mesh(runtime, testing::spec_of(std::move(dims)), local, deadline);
}

// A process that is gone: no such pid, or a zombie (then reaped if it is ours).
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string skip, state;
  stat >> skip >> skip >> state;
  if (state == "Z") {
    ::waitpid(pid, nullptr, WNOHANG);
    return true;
  }
  return false;
}

class SupervisionTest : public ::testing::Test {
 protected:
  // Each test's meshes are gone by now: so must be every proc they started.
  void TearDown() override { EXPECT_EQ(testing::child_processes(), std::vector<pid_t>{}); }
  Runtime runtime_{fast_config()};
};

TEST_F(SupervisionTest, ExitCodeAndWatchdogAreReportedAsSuch) {
  auto mesh = allocate(runtime_, {{"gpu", 3}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {""}, deadline_in(20s)).value();
  ASSERT_TRUE(workers.cast(parse_selection("0").value(), testing::Exit{3}).ok());
  auto exited = mesh->next_event(deadline_in(10s));
  ASSERT_TRUE(exited.has_value());
  EXPECT_EQ(exited->kind, MeshEvent::Kind::proc_crashed) << exited->describe();
  EXPECT_EQ(exited->rank, 0u);
  EXPECT_EQ(exited->reason.kind, StopReason::Kind::exited);
  EXPECT_EQ(exited->reason.code, 3);

  // A stopped (frozen) proc answers no heartbeat: the watchdog kills it and says so.
  ASSERT_TRUE(mesh->kill(2, SIGSTOP).ok());
  std::uint64_t read = 1;
  std::optional<MeshEvent> frozen;
  while (auto event = mesh->next_event(deadline_in(10s))) {
    ++read;
    if (event->kind == MeshEvent::Kind::proc_crashed) {
      frozen = event;
      break;
    }
    // Before the watchdog acts, the silence may be told as such.
    EXPECT_EQ(event->kind, MeshEvent::Kind::proc_unresponsive) << event->describe();
    EXPECT_EQ(event->rank, 2u) << event->describe();
  }
  ASSERT_TRUE(frozen.has_value());
  EXPECT_EQ(frozen->rank, 2u);
  EXPECT_EQ(frozen->reason.kind, StopReason::Kind::watchdog) << frozen->describe();
  EXPECT_NE(frozen->reason.detail.find("no heartbeat answer"), std::string::npos);
  // Stopping the rest adds nothing: every event was one of those read.
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  EXPECT_EQ(mesh->events_queued(), read);
}

TEST_F(SupervisionTest, KillMidCallEndsTheCallNamingTheRank) {
  auto mesh = allocate(runtime_, {{"gpu", 4}});
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {""}, deadline_in(20s)).value();
  // Rank 1's actor is stuck, so its reply to the call cannot come until its proc dies.
  ASSERT_TRUE(workers.cast(parse_selection("1").value(), testing::Hang{}).ok());
  const auto started = Clock::now();
  auto pending = std::async(std::launch::async, [&] { return workers.call(Where{}, deadline_in(60s)); });
  // The call is on its way (the client tracks it) and cannot end before rank 1 answers.
  ASSERT_TRUE(testing::wait_until(20s, [&] { return comm::tracked_casts(workers) == 1; }));
  ASSERT_EQ(pending.wait_for(0s), std::future_status::timeout) << "the call did not wait";
  ASSERT_TRUE(mesh->kill(1, SIGKILL).ok());
  auto replies = pending.get();
  ASSERT_TRUE(replies.ok());
  EXPECT_LT(Clock::now() - started, 30s) << "the call waited for its deadline";
  EXPECT_EQ(replies->replies.size(), 3u);
  ASSERT_TRUE(replies->missing.contains(1));
  EXPECT_EQ(replies->missing.at(1).code, ErrorCode::proc_failed);
  EXPECT_NE(replies->missing.at(1).message.find("killed by signal 9"), std::string::npos)
      << replies->missing.at(1).message;
  auto event = mesh->next_event(deadline_in(5s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->rank, 1u);
  EXPECT_EQ(event->kind, MeshEvent::Kind::proc_crashed) << event->describe();
  EXPECT_EQ(comm::tracked_casts(workers), 0u) << "the call's state outlived it";
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  EXPECT_EQ(mesh->events_queued(), 1u) << "one event per proc death";
}

TEST_F(SupervisionTest, MessageToAnActorThatStoppedItselfComesBackAsAnEvent) {
  auto mesh = allocate(runtime_, {{"gpu", 2}}, /*local=*/false);
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {""}, deadline_in(20s)).value();
  auto quitters = mesh->spawn<WorkerActor>("quitter", {""}, deadline_in(20s)).value();
  ASSERT_TRUE(quitters.cast(testing::Quit{}).ok());
  // Not asked for by the owner: each stop is news, once.
  std::set<std::uint32_t> stopped;
  while (stopped.size() < 2) {
    auto event = mesh->next_event(deadline_in(10s));
    ASSERT_TRUE(event.has_value()) << "a stop_self was not reported";
    EXPECT_EQ(event->kind, MeshEvent::Kind::actor_stopped) << event->describe();
    EXPECT_EQ(event->actor, "quitter") << event->describe();
    EXPECT_TRUE(stopped.insert(event->rank).second) << event->describe();
  }
  // The quitters are gone but their procs live: a cast to them comes back, once per rank.
  ASSERT_TRUE(quitters.cast(testing::Boom{"x"}).ok());
  std::set<std::uint32_t> ranks;
  while (ranks.size() < 2) {
    auto event = mesh->next_event(deadline_in(10s));
    ASSERT_TRUE(event.has_value()) << "undeliverable not reported";
    EXPECT_EQ(event->kind, MeshEvent::Kind::undeliverable) << event->describe();
    EXPECT_EQ(event->actor, "quitter") << "the event names the wrong actor mesh: " << event->describe();
    EXPECT_NE(event->detail.find("test.Boom"), std::string::npos) << event->detail;
    EXPECT_NE(event->detail.find("has ended"), std::string::npos) << event->detail;
    EXPECT_TRUE(ranks.insert(event->rank).second) << event->describe();
  }
  // The other actor mesh is untouched.
  auto replies = workers.call(Where{}, deadline_in(20s));
  ASSERT_TRUE(replies.ok());
  EXPECT_TRUE(replies->complete());
  ASSERT_TRUE(mesh->stop(deadline_in(20s)).ok());
  EXPECT_EQ(mesh->events_queued(), 4u) << "two stops, two undeliverables, nothing else";
}

TEST_F(SupervisionTest, TwoMeshesInOneClientDoNotMixEvents) {
  auto first = allocate(runtime_, {{"gpu", 2}}, /*local=*/true);
  auto second = allocate(runtime_, {{"gpu", 2}}, /*local=*/true);
  ASSERT_TRUE(first && second);
  auto a = first->spawn<WorkerActor>("worker", {""}, deadline_in(20s)).value();
  auto b = second->spawn<WorkerActor>("worker", {""}, deadline_in(20s)).value();
  ASSERT_TRUE(a.cast(parse_selection("1").value(), testing::Boom{"only in the first"}).ok());
  auto event = first->next_event(deadline_in(10s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, MeshEvent::Kind::actor_failed) << event->describe();
  EXPECT_EQ(event->rank, 1u);
  EXPECT_NE(event->detail.find("only in the first"), std::string::npos) << event->detail;
  ASSERT_TRUE(first->kill(0, SIGKILL).ok());
  auto death = first->next_event(deadline_in(5s));
  ASSERT_TRUE(death.has_value());
  EXPECT_EQ(death->kind, MeshEvent::Kind::proc_crashed) << death->describe();
  EXPECT_EQ(death->rank, 0u);
  // The second mesh still answers in full, and neither stop adds an event.
  auto replies = b.call(Where{}, deadline_in(20s));
  ASSERT_TRUE(replies.ok());
  EXPECT_TRUE(replies->complete());
  ASSERT_TRUE(first->stop(deadline_in(20s)).ok());
  ASSERT_TRUE(second->stop(deadline_in(20s)).ok());
  EXPECT_EQ(first->events_queued(), 2u);
  EXPECT_EQ(second->events_queued(), 0u) << "the first mesh's events reached the second";
}

TEST_F(SupervisionTest, CastTo4x4x4ProcessMesh) {
  // 64 processes starting at once on two cores (under sanitizers, beside another test) can
  // starve heartbeats, the bootstrap and the configuration for a while: generous deadlines
  // keep the watchdogs for real hangs (CI once needed more than 60 s to configure them).
  Config patient = fast_config();
  patient.heartbeat_timeout = 30s;
  patient.bootstrap_timeout = 90s;
  Runtime runtime(patient);
  auto mesh = allocate(runtime, {{"x", 4}, {"y", 4}, {"z", 4}}, false, deadline_in(150s));
  ASSERT_TRUE(mesh);
  auto spawned = mesh->spawn<WorkerActor>("worker", {""}, deadline_in(60s));
  ASSERT_TRUE(spawned.ok()) << spawned.error().describe();
  auto workers = std::move(spawned).value();
  auto replies = workers.call(Where{}, deadline_in(60s));
  ASSERT_TRUE(replies.ok());
  EXPECT_TRUE(replies->complete());
  EXPECT_EQ(replies->replies.size(), 64u);
  std::set<std::int64_t> pids;
  for (const auto& [rank, reply] : replies->replies) {
    EXPECT_EQ(reply.received, 1u);
    pids.insert(reply.pid);
  }
  EXPECT_EQ(pids.size(), 64u) << "each proc is its own process";
}

TEST_F(SupervisionTest, LocalAllocatorRuns1024Procs) {
  const auto started = Clock::now();
  auto mesh = allocate(runtime_, {{"host", 32}, {"gpu", 32}}, /*local=*/true);
  ASSERT_TRUE(mesh);
  const auto allocated = Clock::now();
  auto workers = mesh->spawn<WorkerActor>("worker", {""}, deadline_in(60s)).value();
  auto replies = workers.call(parse_selection("*,0:32:2").value(), Where{}, deadline_in(60s));
  ASSERT_TRUE(replies.ok());
  EXPECT_TRUE(replies->complete());
  EXPECT_EQ(replies->replies.size(), 512u);
  ASSERT_TRUE(mesh->stop(deadline_in(60s)).ok());
  std::cout << "1024 local procs: allocated in "
            << std::chrono::duration_cast<Millis>(allocated - started).count() << " ms, whole test "
            << std::chrono::duration_cast<Millis>(Clock::now() - started).count() << " ms\n";
}

// Runs tests/mesh/mesh_client as a separate client process, collecting its output lines.
class ClientProcess {
 public:
  ClientProcess(const std::string& mode, std::uint32_t procs)
      : group_({[this](std::size_t, std::string_view line, bool is_stderr) {
                  std::lock_guard lock(mutex_);
                  (is_stderr ? err_ : out_).emplace_back(line);
                },
                [this](std::size_t, pid_t, const ChildExit& exit) {
                  std::lock_guard lock(mutex_);
                  exit_ = exit;
                }},
               fast_config()) {
    pid_ = group_.start(0, ChildSpec{ZMESH_MESH_CLIENT, {mode, std::to_string(procs)}, {}}).value();
  }
  pid_t pid() const { return pid_; }
  std::vector<std::string> out() {
    std::lock_guard lock(mutex_);
    return out_;
  }
  std::vector<std::string> err() {
    std::lock_guard lock(mutex_);
    return err_;
  }
  std::optional<ChildExit> exit() {
    std::lock_guard lock(mutex_);
    return exit_;
  }
  ChildProcessGroup& group() { return group_; }

 private:
  std::mutex mutex_;
  std::vector<std::string> out_, err_;
  std::optional<ChildExit> exit_;
  pid_t pid_ = 0;
  ChildProcessGroup group_;
};

TEST(ClientProcessTest, ProcOutputReachesTheClientPrefixedWithItsRank) {
  ClientProcess client("print", 3);
  ASSERT_TRUE(testing::wait_until(60s, [&] { return client.exit().has_value(); }));
  EXPECT_EQ(client.exit()->kind, ChildExit::Kind::exited);
  EXPECT_EQ(client.exit()->code, 0) << client.exit()->describe();
  auto out = client.out();
  auto err = client.err();
  for (int rank = 0; rank < 3; ++rank) {
    const auto line = fmt::format("[{}] out line from rank {}", rank, rank);
    EXPECT_NE(std::find(out.begin(), out.end(), line), out.end()) << "missing: " << line;
    const auto err_line = fmt::format("[{}] err line from rank {}", rank, rank);
    EXPECT_NE(std::find(err.begin(), err.end(), err_line), err.end()) << "missing: " << err_line;
  }
}

TEST(ClientProcessTest, KillingTheClientLeavesNoProcBehind) {
  // Orphans are re-parented to us while this test runs, so we can see (and reap) them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::vector<pid_t> pids;
  pid_t client_pid = 0;
  {
    ClientProcess client("hold", 4);
    client_pid = client.pid();
    ASSERT_TRUE(testing::wait_until(60s, [&] {
      auto out = client.out();
      return std::find(out.begin(), out.end(), "ready") != out.end() || client.exit().has_value();
    }));
    for (const auto& line : client.out()) {
      if (line.rfind("pid ", 0) == 0) pids.push_back(std::stoi(line.substr(4)));
    }
    ASSERT_EQ(pids.size(), 4u) << "client said: " << ::testing::PrintToString(client.err());
    ASSERT_TRUE(client.group().signal(0, SIGKILL).ok());
    ASSERT_TRUE(client.group().wait_all_exited(deadline_in(10s)));
  }
  // Parent-death signal: gone at once; at worst within the heartbeat deadline.
  EXPECT_TRUE(testing::wait_until(fast_config().heartbeat_timeout + 2s, [&] {
    for (auto pid : pids) {
      if (!process_gone(pid)) return false;
    }
    return true;
  }));
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  // Neither the client nor its procs could clean up after SIGKILL: their ipc directory is
  // left, and the next client to start removes it.
  EXPECT_EQ(testing::ipc_directories(client_pid).size(), 1u);
  testing::sweep_ipc_directories();
  EXPECT_EQ(testing::ipc_directories(client_pid), std::set<std::string>{});
}

}  // namespace
}  // namespace zmesh
