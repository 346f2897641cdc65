// The kill matrix across three fake hosts (network namespaces, one zmesh-launcher each):
// kill -9 of {one proc, one launcher, the client} at {allocation, idle, mid-call}, and a
// launcher frozen with SIGSTOP. Each case asserts that pending calls and reduces end at once
// naming the failed ranks, that each failure is reported once with its reason, that the
// survivors keep working, and that no process is left on any host. Needs root (label "root").
#include "zmesh/alloc/remote_allocator.hpp"
#include "zmesh/comm/tree_stats.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/selection_text.hpp"

#include "remote_test_support.hpp"
#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"
#include "testing/wait.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <future>
#include <mutex>
#include <numeric>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::pids_text;
using testing::TallyActor;
using testing::TallyQuery;
using testing::TallyReport;
using testing::ValueQuery;
using Tallies = ActorMesh<TallyActor>;
using Ranks = std::set<std::uint32_t>;

constexpr std::uint32_t host_count = 3;
constexpr std::uint32_t per_host = 2;
constexpr std::uint32_t rank_count = host_count * per_host;

enum class Target { proc, launcher };

std::string target_name(const ::testing::TestParamInfo<Target>& info) {
  return info.param == Target::proc ? "Proc" : "Launcher";
}
void PrintTo(Target target, std::ostream* out) { *out << target_name({target, 0}); }

long long ms_since(Clock::time_point start) {
  return static_cast<long long>(std::chrono::duration_cast<Millis>(Clock::now() - start).count());
}

void measure(const std::string& what, long long ms) {
  std::printf("[ MEASURE  ] %s: %lld ms\n", what.c_str(), ms);
  ::testing::Test::RecordProperty(what, std::to_string(ms));
}

Ranks all_ranks(std::uint32_t count = rank_count) {
  Ranks ranks;
  for (std::uint32_t rank = 0; rank < count; ++rank) ranks.insert(rank);
  return ranks;
}

Ranks minus(Ranks ranks, const Ranks& gone) {
  for (auto rank : gone) ranks.erase(rank);
  return ranks;
}

template <class Value>
Ranks keys(const std::map<std::uint32_t, Value>& map) {
  Ranks ranks;
  for (const auto& [rank, value] : map) ranks.insert(rank);
  return ranks;
}

// `ranks` of a {host, gpu} mesh as a selection: "0,1 | 2,0 | ...".
Selection selection_of(const Ranks& ranks) {
  std::vector<std::string> points;
  for (auto rank : ranks) points.push_back(fmt::format("{},{}", rank / per_host, rank % per_host));
  return parse_selection(fmt::format("{}", fmt::join(points, " | "))).value();
}

// The rank a proc of world `world` runs as, from its bootstrap environment; nothing for
// another process.
std::optional<std::uint32_t> proc_rank(pid_t pid, const std::string& world) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/environ");
  const std::string prefix = "ZMESH_BOOTSTRAP_PROC=" + world + "[";
  for (std::string entry; std::getline(file, entry, '\0');) {
    if (entry.rfind(prefix, 0) == 0) return static_cast<std::uint32_t>(std::stoul(entry.substr(prefix.size())));
  }
  return std::nullopt;
}

// Every event of one mesh, by rank: each failure is reported once, and nothing else is.
struct EventLog {
  std::map<std::uint32_t, std::vector<MeshEvent>> crashes;
  std::map<std::uint32_t, Clock::time_point> crashed_at;
  std::map<std::uint32_t, int> unresponsive;
  std::map<std::uint32_t, std::vector<MeshEvent>> actor_events;  // failed, stopped, undeliverable
  std::uint64_t count = 0;

  void add(const MeshEvent& event) {
    ++count;
    if (event.kind == MeshEvent::Kind::proc_unresponsive) {
      ++unresponsive[event.rank];
    } else if (event.kind == MeshEvent::Kind::proc_crashed) {
      crashes[event.rank].push_back(event);
      crashed_at.try_emplace(event.rank, Clock::now());
    } else {
      actor_events[event.rank].push_back(event);
    }
  }
  // Reads events until each of `ranks` has crashed; false if not by `deadline`.
  bool wait_for_crashes(ProcMesh& mesh, const Ranks& ranks, Deadline deadline) {
    auto done = [&] {
      return std::all_of(ranks.begin(), ranks.end(), [&](auto rank) { return crashes.contains(rank); });
    };
    while (!done()) {
      auto event = mesh.next_event(deadline);
      if (!event) return false;
      add(*event);
    }
    return true;
  }
  // Takes what is queued now (after a stop: everything there will be, as stop() returns
  // once its events are queued), and checks that nothing was missed or dropped.
  void take_queued(ProcMesh& mesh) {
    while (auto event = mesh.next_event(Clock::now())) add(*event);
    EXPECT_EQ(count, mesh.events_queued());
    EXPECT_EQ(mesh.dropped_events(), 0u);
  }
  // One crash with `reason` per rank of `ranks`, and at most one silence warning (it
  // precedes a host_lost). A dead proc's actors have no event of their own: the proc's death
  // is the report.
  void expect_crashed_once(const Ranks& ranks, StopReason::Kind reason) const {
    for (auto rank : ranks) {
      const auto found = crashes.find(rank);
      if (found == crashes.end()) {
        ADD_FAILURE() << "rank " << rank << " never reported";
        continue;
      }
      EXPECT_EQ(found->second.size(), 1u) << "rank " << rank << " reported " << found->second.size() << " times, last "
                                          << found->second.back().describe();
      EXPECT_EQ(found->second.front().reason.kind, reason) << found->second.front().describe();
      EXPECT_LE(unresponsive.contains(rank) ? unresponsive.at(rank) : 0, 1) << "rank " << rank;
      if (const auto actor = actor_events.find(rank); actor != actor_events.end()) {
        ADD_FAILURE() << "rank " << rank << " also had actor event " << actor->second.front().describe();
      }
    }
  }
  // Ranks the owner stopped itself: no event (a requested stop is not news), but at most one
  // silence warning on loaded machines.
  void expect_quiet(const Ranks& ranks) const {
    for (auto rank : ranks) {
      if (const auto found = crashes.find(rank); found != crashes.end()) {
        ADD_FAILURE() << "rank " << rank << " was stopped, yet: " << found->second.front().describe();
      }
      if (const auto actor = actor_events.find(rank); actor != actor_events.end()) {
        ADD_FAILURE() << "rank " << rank << " was stopped, yet: " << actor->second.front().describe();
      }
      EXPECT_LE(unresponsive.contains(rank) ? unresponsive.at(rank) : 0, 1) << "rank " << rank;
    }
  }
};

class KillMatrixTest : public testing::FakeHostsTest {
 protected:
  // The processes on host `i` but its launcher.
  std::set<pid_t> procs_on(std::uint32_t i) const {
    auto pids = host_pids(i);
    pids.erase(launchers_.pid(i));
    return pids;
  }

  static AllocSpec spec(std::uint32_t per) { return host_spec(host_count, per); }

  std::unique_ptr<ProcMesh> allocate(Runtime& runtime, std::uint32_t per = per_host) {
    return allocate_mesh(runtime, spec(per), hosts_.client_options());
  }

  // The pid of `rank` of `mesh`, found among its host's processes.
  pid_t pid_of(const ProcMesh& mesh, std::uint32_t rank) const {
    for (pid_t pid : host_pids(rank / per_host)) {
      if (proc_rank(pid, mesh.world().name()) == rank) return pid;
    }
    ADD_FAILURE() << "no process of rank " << rank << " on " << hosts_.name(rank / per_host);
    return -1;
  }

  // Kills one proc (by its pid) or its host's launcher with SIGKILL; returns the ranks that die.
  Ranks kill(Target target, const ProcMesh& mesh, std::uint32_t rank) {
    if (target == Target::proc) {
      const pid_t pid = pid_of(mesh, rank);
      EXPECT_EQ(pid > 0 ? ::kill(pid, SIGKILL) : -1, 0);
      return {rank};
    }
    const std::uint32_t host = rank / per_host;
    EXPECT_TRUE(launchers_.signal(host, SIGKILL).ok());
    Ranks lost;
    for (std::uint32_t gpu = 0; gpu < per_host; ++gpu) lost.insert(host * per_host + gpu);
    return lost;
  }

  // How the death of a rank is named: the reason's kind and text.
  static StopReason::Kind reason_of(Target target) {
    return target == Target::proc ? StopReason::Kind::killed : StopReason::Kind::host_lost;
  }
  static std::string text_of(Target target) {
    return target == Target::proc ? "killed by signal 9 (SIGKILL)" : "host lost";
  }
  // How long the news may take: an exit the launcher saw, or the launchers' lease.
  Millis detection_bound(Target target) const {
    return target == Target::proc ? Millis(3000) : runtime_.config().heartbeat_timeout + Millis(1500);
  }

  // `missing` names exactly `dead`, each as a failed proc with `text`.
  static void expect_missing(const std::map<std::uint32_t, Error>& missing, const Ranks& dead,
                             const std::string& text) {
    EXPECT_EQ(keys(missing), dead);
    for (const auto& [rank, error] : missing) {
      EXPECT_EQ(error.code, ErrorCode::proc_failed) << rank << ": " << error.describe();
      EXPECT_NE(error.message.find(fmt::format("rank {}", rank)), std::string::npos) << error.message;
      EXPECT_NE(error.message.find(text), std::string::npos) << error.message;
    }
  }

  // The `rank`'s comm actor counters once the reduce started before reached it (its actor
  // now sleeps in it): how many casts it had received then. Nothing if not within 15 s.
  static std::optional<std::uint64_t> casts_when_reducing(const Tallies& tallies, std::uint32_t rank) {
    std::optional<std::uint64_t> casts;
    testing::wait_until(15s, [&] {
      auto stats = comm::tree_stats(tallies, deadline_in(5s));
      if (!stats.contains(rank) || !stats.at(rank).ok() || stats.at(rank)->reductions != 1) return false;
      casts = stats.at(rank)->casts;
      return true;
    });
    return casts;
  }

  // `call` (to every rank) waits on `rank` only: its comm actor took the call after the
  // reduce it had taken `casts_before` casts in (so the call is queued behind the sleeping
  // handler), and every other live rank has answered: a second call to them returns, and
  // casts from one client to one actor mesh are handled in order.
  template <class Call>
  static void expect_queued_behind(const Tallies& tallies, Call& call, std::uint32_t rank,
                                   std::uint64_t casts_before) {
    ASSERT_TRUE(testing::wait_until(15s, [&] {
      auto stats = comm::tree_stats(tallies, deadline_in(5s));
      return stats.contains(rank) && stats.at(rank).ok() && stats.at(rank)->casts > casts_before;
    })) << "the call did not reach rank " << rank;
    std::vector<std::uint32_t> others;
    for (auto other : tallies.live().ranks()) {
      if (other != rank) others.push_back(other);
    }
    auto behind = tallies.only_ranks(others).call(ValueQuery{1, 0, -1}, deadline_in(20s));
    ASSERT_TRUE(behind.ok() && behind->complete()) << "the other ranks did not answer";
    EXPECT_EQ(behind->replies.size(), others.size());
    ASSERT_EQ(call.wait_for(0s), std::future_status::timeout) << "the call did not wait for rank " << rank;
  }

  // The survivors answer a call and a reduce; the dead ranks fail both at once.
  static void expect_survivors_work(Tallies& tallies, const Ranks& dead) {
    const Ranks alive = minus(all_ranks(), dead);
    auto only_alive = tallies.call(selection_of(alive), TallyQuery{}, deadline_in(20s));
    ASSERT_TRUE(only_alive.ok()) << only_alive.error().describe();
    EXPECT_TRUE(only_alive->complete()) << only_alive->missing.begin()->second.describe();
    EXPECT_EQ(keys(only_alive->replies), alive);
    const auto started = Clock::now();
    auto sum = tallies.reduce<zmesh::Sum>(ValueQuery{1, 0, -1}, deadline_in(20s));
    ASSERT_TRUE(sum.ok()) << sum.error().describe();
    EXPECT_LT(ms_since(started), 5000) << "the dead ranks were waited for";
    EXPECT_EQ(sum->contributors, alive.size());
    EXPECT_EQ(sum->value.value_or(-1), std::accumulate(alive.begin(), alive.end(), std::int64_t{0}));
    EXPECT_EQ(keys(sum->missing), dead);
  }

};

// -- kill -9 of a proc or a launcher while the procs bootstrap --

class KillDuringAllocation : public KillMatrixTest, public ::testing::WithParamInterface<Target> {};

TEST_P(KillDuringAllocation, OnlyItsProcsStopOnceAndTheRestRun) {
  const Target target = GetParam();
  auto alloc = RemoteAllocator::allocate(runtime_, spec(per_host), testing::registry(), hosts_.client_options());
  ASSERT_TRUE(alloc.ok()) << alloc.error().describe();
  // Rank 2 is host 1's first proc: kill it (or its launcher) as soon as it was started.
  const Ranks dead = target == Target::proc ? Ranks{2} : Ranks{2, 3};
  const Ranks alive = minus(all_ranks(), dead);
  std::map<std::uint32_t, std::vector<StopReason>> stopped;
  std::map<std::uint32_t, pid_t> pids;
  Ranks running;
  std::optional<Clock::time_point> killed_at;
  long long detected_ms = -1;
  auto done = [&] {
    return std::includes(running.begin(), running.end(), alive.begin(), alive.end()) &&
           std::all_of(dead.begin(), dead.end(), [&](auto rank) { return stopped.contains(rank); });
  };
  while (!done()) {
    auto event = (*alloc)->next_event(deadline_in(30s));
    ASSERT_TRUE(event.has_value()) << "running " << fmt::format("{}", running) << ", stopped " << stopped.size();
    if (auto* created = std::get_if<ProcCreated>(&*event)) {
      pids[created->rank] = created->pid;
      if (created->rank == 2 && !killed_at) {
        killed_at = Clock::now();
        if (target == Target::proc) {
          ASSERT_EQ(::kill(created->pid, SIGKILL), 0);
        } else {
          ASSERT_TRUE(launchers_.signal(1, SIGKILL).ok());
        }
      }
    } else if (auto* up = std::get_if<ProcRunning>(&*event)) {
      running.insert(up->rank);
    } else if (auto* down = std::get_if<ProcStopped>(&*event)) {
      if (stopped.empty()) detected_ms = ms_since(*killed_at);
      stopped[down->rank].push_back(down->reason);
    } else if (std::holds_alternative<AllocFailed>(*event)) {
      FAIL() << describe(*event);
    }
  }
  measure(fmt::format("{} kill -9 during allocation -> stopped", target_name({target, 0})), detected_ms);
  EXPECT_LT(detected_ms, detection_bound(target).count());
  for (auto rank : dead) {
    ASSERT_EQ(stopped[rank].size(), 1u) << "rank " << rank;
    EXPECT_EQ(stopped[rank].front().kind, reason_of(target)) << stopped[rank].front().describe();
    EXPECT_NE(stopped[rank].front().describe().find(text_of(target)), std::string::npos)
        << stopped[rank].front().describe();
  }
  if (target == Target::launcher) {
    EXPECT_NE(stopped[2].front().detail.find(hosts_.ip(1)), std::string::npos) << stopped[2].front().describe();
  }
  // The dead procs are gone now, not when the allocation ends.
  for (auto rank : dead) {
    EXPECT_TRUE(testing::wait_until(10s, [&] { return testing::process_gone(pids[rank]); }))
        << "rank " << rank << " (pid " << pids[rank] << ") outlived its kill";
  }
  // The others stop on request, each once; the dead ranks are not reported again.
  (*alloc)->stop();
  while (!(*alloc)->ended()) {
    auto event = (*alloc)->next_event(deadline_in(30s));
    ASSERT_TRUE(event.has_value()) << "the alloc did not end";
    if (auto* down = std::get_if<ProcStopped>(&*event)) {
      stopped[down->rank].push_back(down->reason);
      EXPECT_TRUE(alive.contains(down->rank)) << "reported twice: " << describe(*event);
      EXPECT_EQ(down->reason.kind, StopReason::Kind::stopped) << describe(*event);
    }
  }
  for (auto rank : alive) EXPECT_EQ(stopped[rank].size(), 1u) << "rank " << rank;
}

INSTANTIATE_TEST_SUITE_P(KillMatrix, KillDuringAllocation, ::testing::Values(Target::proc, Target::launcher),
                         target_name);

// -- kill -9 of a proc or a launcher on a running mesh: idle, then with a call and a reduce
// waiting on it (one mesh for both: the first death must not disturb the second) --

class KillOnARunningMesh : public KillMatrixTest, public ::testing::WithParamInterface<Target> {};

TEST_P(KillOnARunningMesh, IdleThenMidCallEachEndsCallsAtOnceAndIsReportedOnce) {
  const Target target = GetParam();
  const std::string what = target_name({target, 0});
  auto mesh = allocate(runtime_);
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  EventLog log;

  // Idle: rank 1 (a proc) or host 1 (ranks 2 and 3) dies while nothing waits on it.
  auto killed_at = Clock::now();
  const Ranks idle_dead = kill(target, *mesh, target == Target::proc ? 1 : 2);
  ASSERT_TRUE(log.wait_for_crashes(*mesh, idle_dead, deadline_in(15s)));
  const auto idle_ms = std::chrono::duration_cast<Millis>(log.crashed_at.at(*idle_dead.begin()) - killed_at).count();
  measure(what + " kill -9 idle -> reported", idle_ms);
  EXPECT_LT(idle_ms, detection_bound(target).count());
  // A call made after the death fails the dead ranks at once, naming why.
  auto started = Clock::now();
  auto after = tallies.call(TallyQuery{}, deadline_in(30s));
  ASSERT_TRUE(after.ok()) << after.error().describe();
  EXPECT_LT(ms_since(started), 5000) << "the dead ranks were waited for";
  EXPECT_EQ(keys(after->replies), minus(all_ranks(), idle_dead));
  expect_missing(after->missing, idle_dead, text_of(target));

  // Mid-call: rank 4's actor sleeps in a reduce, and a call waits behind it in its mailbox;
  // then rank 4 (or its host, host 2) dies.
  const auto call_deadline = deadline_in(60s);
  auto reduce = std::async(std::launch::async, [&] {
    return tallies.reduce<zmesh::Sum>(ValueQuery{1, 60000, 4}, call_deadline);
  });
  const auto casts_before = casts_when_reducing(tallies, 4);
  ASSERT_TRUE(casts_before.has_value()) << "the reduce did not reach rank 4";
  auto call = std::async(std::launch::async, [&] { return tallies.call(TallyQuery{}, call_deadline); });
  // The call's answers from everyone but rank 4 (queued behind the sleep) arrive; then the kill.
  expect_queued_behind(tallies, call, 4, *casts_before);
  if (HasFatalFailure()) return;
  killed_at = Clock::now();
  const Ranks mid_dead = kill(target, *mesh, 4);
  auto replies = call.get();
  const auto call_ms = ms_since(killed_at);
  auto sum = reduce.get();
  const auto reduce_ms = ms_since(killed_at);
  measure(what + " kill -9 mid-call -> call ended", call_ms);
  measure(what + " kill -9 mid-call -> reduce ended", reduce_ms);
  EXPECT_LT(reduce_ms, detection_bound(target).count()) << "a pending call or reduce waited past the news";
  ASSERT_TRUE(replies.ok()) << replies.error().describe();
  ASSERT_TRUE(sum.ok()) << sum.error().describe();
  // Rank 4 was pending in both; rank 5 (on the killed host too) had answered before.
  Ranks missing_call = idle_dead;
  missing_call.insert(4);
  expect_missing(replies->missing, missing_call, "");
  EXPECT_NE(replies->missing.at(4).message.find(text_of(target)), std::string::npos)
      << replies->missing.at(4).message;
  EXPECT_EQ(keys(replies->replies), minus(all_ranks(), missing_call));
  EXPECT_EQ(keys(sum->missing), missing_call);
  EXPECT_EQ(sum->missing.at(4).code, ErrorCode::proc_failed) << sum->missing.at(4).describe();
  EXPECT_NE(sum->missing.at(4).message.find(text_of(target)), std::string::npos) << sum->missing.at(4).message;
  ASSERT_TRUE(log.wait_for_crashes(*mesh, mid_dead, deadline_in(15s)));

  // The survivors keep working.
  Ranks dead = idle_dead;
  dead.insert(mid_dead.begin(), mid_dead.end());
  expect_survivors_work(tallies, dead);
  // Nothing of the dead ranks is left on their hosts.
  for (std::uint32_t host = 0; host < host_count; ++host) {
    std::set<pid_t> expected;
    if (!launchers_.exited(host)) expected.insert(launchers_.pid(host));
    for (std::uint32_t gpu = 0; gpu < per_host; ++gpu) {
      if (!dead.contains(host * per_host + gpu)) expected.insert(pid_of(*mesh, host * per_host + gpu));
    }
    EXPECT_TRUE(testing::wait_until(10s, [&] { return host_pids(host) == expected; }))
        << hosts_.name(host) << " runs " << pids_text(host_pids(host)) << ", expected " << pids_text(expected);
  }

  // Each dead rank is reported once with its reason; the stop of the others is no news.
  EXPECT_TRUE(mesh->stop(deadline_in(30s)).ok());
  log.take_queued(*mesh);
  log.expect_crashed_once(dead, reason_of(target));
  log.expect_quiet(minus(all_ranks(), dead));
}

INSTANTIATE_TEST_SUITE_P(KillMatrix, KillOnARunningMesh, ::testing::Values(Target::proc, Target::launcher),
                         target_name);

// -- kill -9 of the client (its own process) while allocating, idle, and mid-call --

TEST_F(KillMatrixTest, KilledClientsAreReapedByEveryLauncherAtAnyPhase) {
  testing::CapturedOutput output;
  std::mutex mutex;
  std::set<std::size_t> exited;
  ChildProcessGroup clients(
      {[&](std::size_t index, std::string_view line, bool is_stderr) { output.add(index, line, is_stderr); },
       [&](std::size_t index, pid_t, const ChildExit&) {
         std::lock_guard lock(mutex);
         exited.insert(index);
       }},
      runtime_.config());
  auto has_exited = [&](std::size_t index) {
    std::lock_guard lock(mutex);
    return exited.contains(index);
  };
  // Three clients of the same launchers at once, one proc per host each; each is killed at
  // its own phase.
  struct Phase {
    std::string mode;
    std::string marker;
  };
  const std::vector<Phase> phases = {{"launch", "launched"}, {"hold", "ready"}, {"call", "calling"}};
  std::vector<pid_t> client_pids;
  for (std::size_t i = 0; i < phases.size(); ++i) {
    auto pid = clients.start(i, {ZMESH_REMOTE_CLIENT, {phases[i].mode, hosts_.host_list(), hosts_.bridge_ip(), "1"}, {testing::test_key_variable()}});
    ASSERT_TRUE(pid.ok()) << pid.error().describe();
    client_pids.push_back(*pid);
  }
  std::vector<std::set<pid_t>> proc_pids(phases.size());
  std::vector<Clock::time_point> killed_at(phases.size());
  for (std::size_t i = 0; i < phases.size(); ++i) {
    ASSERT_TRUE(testing::wait_until(90s, [&] { return output.contains(i, phases[i].marker) || has_exited(i); }))
        << output.dump(i);
    ASSERT_TRUE(clients.signal(i, SIGKILL).ok()) << output.dump(i);
    killed_at[i] = Clock::now();
    ASSERT_TRUE(output.contains(i, phases[i].marker)) << output.dump(i);
    for (const auto& line : output.of(i, false)) {
      if (line.rfind("pid ", 0) == 0) proc_pids[i].insert(static_cast<pid_t>(std::stol(line.substr(4))));
    }
    EXPECT_EQ(proc_pids[i].size(), host_count) << output.dump(i);
  }
  ASSERT_TRUE(clients.wait_all_exited(deadline_in(10s)));
  // Every proc of every client is gone: the launchers reaped them (or they left by themselves).
  for (std::size_t i = 0; i < phases.size(); ++i) {
    EXPECT_TRUE(testing::wait_until(20s, [&] {
      return std::all_of(proc_pids[i].begin(), proc_pids[i].end(), testing::process_gone);
    })) << phases[i].mode << " client: still running: " << pids_text(proc_pids[i]);
    measure("client kill -9 (" + phases[i].mode + ") -> its procs gone", ms_since(killed_at[i]));
  }
  // Each launcher lost each client once, and forgot it.
  for (std::uint32_t host = 0; host < host_count; ++host) {
    for (std::size_t i = 0; i < phases.size(); ++i) {
      const std::string client = fmt::format("client pid {} on", client_pids[i]);
      EXPECT_TRUE(testing::wait_until(10s, [&] { return launchers_.output.contains(host, "forgot " + client); }))
          << launchers_.output.dump(host);
      const auto lines = launchers_.output.of(host, true);
      EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                              [&](const std::string& line) {
                                return line.find("ZM-LAUNCHER-CLIENT-LOST " + client) != std::string::npos;
                              }),
                1)
          << phases[i].mode << " client on " << hosts_.name(host) << ":\n" << launchers_.output.dump(host);
    }
    EXPECT_TRUE(testing::wait_until(10s, [&] { return host_pids(host) == std::set<pid_t>{launchers_.pid(host)}; }))
        << hosts_.name(host) << " still runs " << pids_text(host_pids(host));
  }
  // The launchers serve the next client as if nothing happened.
  auto mesh = allocate(runtime_, 1);
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  auto replies = tallies.call(TallyQuery{}, deadline_in(30s));
  ASSERT_TRUE(replies.ok() && replies->complete());
  EXPECT_TRUE(mesh->stop(deadline_in(30s)).ok());
}

// -- SIGSTOP of a launcher: silence, not death --

// The client reports host_lost by the lease, and the call waiting on the frozen host ends
// then. Its procs, no longer heartbeated, leave by themselves even with an actor busy in a
// handler (a proc gives its client at least the bootstrap deadline from its start, shortened
// here); the launcher, resumed, reaps them and forgets the client: nothing is left.
TEST_F(KillMatrixTest, FrozenLauncherIsAHostLostMidCallAndLeavesNothingOnceResumed) {
  Config config = runtime_.config();
  config.bootstrap_timeout = Millis(4000);
  Runtime runtime(config);
  auto mesh = allocate(runtime, 1);
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  const std::set<pid_t> frozen_procs = procs_on(1);
  ASSERT_EQ(frozen_procs.size(), 1u);
  EventLog log;
  // Rank 1 (host 1) sleeps in a reduce; a call waits behind it.
  const auto call_deadline = deadline_in(60s);
  auto reduce = std::async(std::launch::async, [&] {
    return tallies.reduce<zmesh::Sum>(ValueQuery{1, 60000, 1}, call_deadline);
  });
  const auto casts_before = casts_when_reducing(tallies, 1);
  ASSERT_TRUE(casts_before.has_value()) << "the reduce did not reach rank 1";
  auto call = std::async(std::launch::async, [&] { return tallies.call(TallyQuery{}, call_deadline); });
  expect_queued_behind(tallies, call, 1, *casts_before);
  if (HasFatalFailure()) return;

  const auto frozen_at = Clock::now();
  ASSERT_TRUE(launchers_.signal(1, SIGSTOP).ok());
  ASSERT_TRUE(log.wait_for_crashes(*mesh, {1}, deadline_in(15s)));
  const auto lost_ms = std::chrono::duration_cast<Millis>(log.crashed_at.at(1) - frozen_at).count();
  measure("launcher SIGSTOP -> host_lost", lost_ms);
  EXPECT_LT(lost_ms, config.heartbeat_timeout.count() + 1500);
  EXPECT_NE(log.crashes.at(1).front().reason.detail.find("silent"), std::string::npos)
      << log.crashes.at(1).front().describe();
  auto replies = call.get();
  auto sum = reduce.get();
  EXPECT_LT(ms_since(frozen_at), config.heartbeat_timeout.count() + 3000) << "the call waited past the news";
  ASSERT_TRUE(replies.ok() && sum.ok());
  expect_missing(replies->missing, {1}, "host lost");
  EXPECT_EQ(keys(replies->replies), (Ranks{0, 2}));
  EXPECT_EQ(keys(sum->missing), Ranks{1});
  EXPECT_EQ(sum->contributors, 2u);

  // The frozen host's proc leaves by itself (a zombie until its launcher resumes): its client
  // is silent past the lease (not before the bootstrap deadline from its start), then its
  // teardown drains and flushes by their deadlines, and it exits even with its handler asleep.
  const auto leaves_within = config.bootstrap_timeout + config.heartbeat_timeout + config.stop_timeout +
                             config.linger + Millis(5000);
  EXPECT_TRUE(testing::wait_until(leaves_within, [&] {
    return std::all_of(frozen_procs.begin(), frozen_procs.end(), testing::process_gone);
  })) << hosts_.name(1) << " still runs " << pids_text(host_pids(1));
  measure("launcher SIGSTOP -> its procs gone", ms_since(frozen_at));
  ASSERT_TRUE(launchers_.signal(1, SIGCONT).ok());
  EXPECT_TRUE(testing::wait_until(15s, [&] { return launchers_.output.contains(1, "ZM-LAUNCHER-CLIENT-LOST"); }))
      << launchers_.output.dump(1);
  EXPECT_TRUE(testing::wait_until(15s, [&] { return launchers_.output.contains(1, "forgot client"); }))
      << launchers_.output.dump(1);

  // The others keep working, and stop once each.
  auto survivors = tallies.call(parse_selection("0:3:2,*").value(), TallyQuery{}, deadline_in(20s));
  ASSERT_TRUE(survivors.ok() && survivors->complete());
  EXPECT_EQ(keys(survivors->replies), (Ranks{0, 2}));
  EXPECT_TRUE(mesh->stop(deadline_in(30s)).ok());
  log.take_queued(*mesh);
  log.expect_crashed_once({1}, StopReason::Kind::host_lost);
  log.expect_quiet({0, 2});
}

}  // namespace
}  // namespace zmesh
