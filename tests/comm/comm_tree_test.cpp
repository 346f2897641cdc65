// The comm tree on real meshes: random selections on random shapes and views deliver exactly
// eval()'s set, once per rank, in the client's order (local and process meshes); reducers are
// exact and leave no state behind; a long run of casts keeps per-cast state at zero; FIFO
// holds per sender across selections and fan-outs; a relay killed mid-cast ends the cast
// within its deadline with the right missing ranks; failures are named, never waited out;
// idle streams are freed on both sides and reused in order; a dead relay never makes a call
// or a later cast wait for a timeout; one timer thread serves every comm actor.
//
// The random cases are seeded; ZMESH_PROPERTY_CASES=N runs N meshes instead of the default.
#include "zmesh/alloc/local_allocator.hpp"
#include "zmesh/alloc/process_allocator.hpp"
#include "zmesh/comm/init.hpp"
#include "zmesh/comm/internal/timer_service.hpp"
#include "zmesh/comm/tree_stats.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/selection_eval.hpp"
#include "zmesh/mesh/selection_text.hpp"

#include "mesh/random_geometry.hpp"
#include "testing/mesh_actors.hpp"
#include "testing/wait.hpp"

#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <numeric>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::Mark;
using testing::NameQuery;
using testing::TallyActor;
using testing::TallyQuery;
using testing::TallyReport;
using testing::ValueQuery;
using Tallies = ActorMesh<TallyActor>;
using Marks = std::map<std::uint32_t, std::vector<std::uint64_t>>;

// A user-defined reducer that the procs do not know.
struct Unregistered {
  static constexpr std::string_view name = "test.unregistered";
  using Input = std::int64_t;
  using Value = std::int64_t;
  static Value lift(std::uint32_t, const Input& input) { return input; }
  static Value fold(const Value& lower, const Value& higher) { return lower + higher; }
};

Config tree_config() {
  Config config = Config::from_environment().value();
  config.heartbeat_interval = 100ms;
  config.heartbeat_timeout = 15000ms;  // sanitized processes on two cores start slowly
  config.delivery_timeout = 5000ms;
  config.cast_fanout = 2;  // deep trees even on small meshes
  return config;
}

// Every Mark each rank of `all` got since the last call, in arrival order.
Marks collect_marks(Tallies& all) {
  auto reports = all.call(Selection::all(), TallyQuery{}, deadline_in(30s));
  EXPECT_TRUE(reports.ok() && reports->complete());
  Marks marks;
  if (!reports) return marks;
  for (auto& [rank, report] : reports->replies) {
    if (!report.tags.empty()) marks[rank] = std::move(report.tags);
  }
  return marks;
}

// The comm actors' counters, summed; fails the test if one does not answer.
comm::CommStats total_stats(const ActorMeshBase& mesh) {
  comm::CommStats total;
  auto stats = comm::tree_stats(mesh, deadline_in(20s));
  EXPECT_FALSE(stats.empty());
  for (auto& [rank, one] : stats) {
    EXPECT_TRUE(one.ok()) << "rank " << rank << ": " << one.error().describe();
    if (!one) continue;
    total.casts += one->casts;
    total.reductions += one->reductions;
    total.held += one->held;
    total.arrived_early += one->arrived_early;
    total.streams += one->streams;
    total.dropped_late += one->dropped_late;
    total.gaps_given_up += one->gaps_given_up;
    total.forward_failures += one->forward_failures;
    total.stalls += one->stalls;
  }
  return total;
}

// The casts rank `rank`'s comm actor received so far (0 while it does not answer).
std::uint64_t casts_at(const ActorMeshBase& mesh, std::uint32_t rank) {
  auto stats = comm::tree_stats(mesh, deadline_in(1s));
  auto it = stats.find(rank);
  return it != stats.end() && it->second.ok() ? it->second->casts : 0;
}

// Threads of this process named `name`.
std::size_t threads_named(const std::string& name) {
  std::size_t count = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line == name) ++count;
  }
  return count;
}

enum class Kind { local, process };

class CommTreeTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProcMesh> allocate(const Extent& extent, Kind kind = Kind::local,
                                     std::shared_ptr<Registry> registry = testing::registry()) {
    return allocate_on(runtime_, extent, kind, std::move(registry));
  }
  std::unique_ptr<ProcMesh> allocate_on(Runtime& runtime, const Extent& extent, Kind kind = Kind::local,
                                        std::shared_ptr<Registry> registry = testing::registry()) {
    AllocSpec spec;
    for (std::size_t dim = 0; dim < extent.num_dims(); ++dim) {
      spec.dimensions.emplace_back(extent.labels()[dim],
                                   static_cast<std::uint32_t>(extent.sizes()[dim]));
    }
    auto alloc = kind == Kind::local ? LocalAllocator::allocate(runtime, spec, registry)
                                     : ProcessAllocator::allocate(runtime, spec, registry);
    EXPECT_TRUE(alloc.ok()) << alloc.error().describe();
    if (!alloc) return nullptr;
    auto mesh = ProcMesh::allocate(runtime, std::move(*alloc), deadline_in(60s));
    EXPECT_TRUE(mesh.ok()) << mesh.error().describe();
    return mesh ? std::move(*mesh) : nullptr;
  }
  std::unique_ptr<ProcMesh> allocate(const std::string& extent, Kind kind = Kind::local) {
    return allocate(Extent::parse(extent).value(), kind);
  }

  Runtime runtime_{tree_config()};
};

// A random view of `mesh`: half of the time the mesh itself, else a few select/at cuts.
Tallies random_view(Tallies mesh, testing::RandomGeometry& random) {
  if (random.chance(0.5)) return mesh;
  const std::size_t cuts = random.uniform(1, 3);
  for (std::size_t i = 0; i < cuts && mesh.shape().num_dims() > 0; ++i) {
    const std::size_t dim = random.uniform(0, mesh.shape().num_dims() - 1);
    const std::string label = mesh.shape().labels()[dim];
    const std::size_t size = mesh.shape().slice().sizes()[dim];
    if (random.chance(0.25) && mesh.shape().num_dims() > 1) {
      mesh = mesh.at(label, random.uniform(0, size - 1)).value();
    } else {
      const std::size_t begin = random.uniform(0, size - 1);
      mesh =
          mesh.slice(label, begin, random.uniform(begin + 1, size), random.uniform(1, 3)).value();
    }
  }
  return mesh;
}

// Casts `casts` Marks with random selections on random views of `tallies` and random fan-outs,
// then checks that each rank got exactly the Marks whose selection chose it, in casting order.
void check_random_casts(Tallies& tallies, testing::RandomGeometry& random, std::size_t casts,
                        std::uint64_t& tag) {
  Marks expected;
  std::vector<std::string> cases;
  for (std::size_t i = 0; i < casts; ++i) {
    Tallies view = random_view(tallies, random);
    const Selection selection = random.selection(view.shape().slice().sizes());
    const auto fanout = static_cast<std::uint32_t>(random.uniform(0, 4));  // 0: the default, 2
    ++tag;
    auto cast = view.with_fanout(fanout).cast(selection, Mark{tag});  // 0: the configured one
    ASSERT_TRUE(cast.ok()) << cast.error().describe();
    auto chosen = eval(selection, view.shape(), cast->cast_id);
    ASSERT_TRUE(chosen.ok());
    for (auto base : *chosen) expected[static_cast<std::uint32_t>(base)].push_back(tag);
    cases.push_back(fmt::format("tag {}: \"{}\" on {} fan-out {}", tag, to_string(selection),
                                view.shape().to_string(), fanout));
  }
  EXPECT_EQ(collect_marks(tallies), expected)
      << "mesh " << tallies.shape().to_string() << ", casts:\n"
      << fmt::format("{}", fmt::join(cases, "\n"));
}

TEST_F(CommTreeTest, RandomSelectionsOnRandomShapesDeliverExactlyEvalsSetOnceInOrder) {
  testing::RandomGeometry random(20261124);
  std::uint64_t tag = 0;
  const std::size_t meshes = testing::property_cases(6);
  for (std::size_t m = 0; m < meshes; ++m) {
    Extent extent = random.extent(24);
    while (extent.num_dims() == 0 || extent.num_dims() > 4) extent = random.extent(24);
    SCOPED_TRACE("mesh " + extent.to_string());
    auto mesh = allocate(extent);
    ASSERT_TRUE(mesh);
    auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s));
    ASSERT_TRUE(tallies.ok()) << tallies.error().describe();
    check_random_casts(*tallies, random, 30, tag);
    if (HasFailure()) return;
  }
}

TEST_F(CommTreeTest, RandomSelectionsOnAProcessMesh) {
  testing::RandomGeometry random(7);
  std::uint64_t tag = 0;
  auto mesh = allocate("{a=2,b=3}", Kind::process);
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s));
  ASSERT_TRUE(tallies.ok()) << tallies.error().describe();
  check_random_casts(*tallies, random, 20, tag);
  EXPECT_EQ(total_stats(*tallies).forward_failures, 0u);
}

TEST_F(CommTreeTest, ReducersAreExactOn4x4x4AndLeaveNoState) {
  auto mesh = allocate("{x=4,y=4,z=4}");
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  const auto query = [](std::int64_t divisor) { return ValueQuery{divisor, 0, -1}; };
  for (std::uint32_t fanout : {2u, 16u}) {
    SCOPED_TRACE(fmt::format("fan-out {}", fanout));
    auto tree = tallies.with_fanout(fanout);
    auto sum = tree.reduce<zmesh::Sum>(query(1), deadline_in(20s));
    ASSERT_TRUE(sum.ok()) << sum.error().describe();
    EXPECT_TRUE(sum->complete()) << sum->missing.begin()->second.describe();
    EXPECT_EQ(sum->value, 63 * 64 / 2);
    EXPECT_EQ(sum->contributors, 64u);
    EXPECT_EQ(tree.reduce<zmesh::Min>(query(1), deadline_in(20s))->value, 0);
    EXPECT_EQ(tree.reduce<zmesh::Max>(query(1), deadline_in(20s))->value, 63);
    EXPECT_EQ(tree.reduce<zmesh::Count>(query(1), deadline_in(20s))->value, 64u);

    auto gathered = tree.reduce<zmesh::Gather>(query(16), deadline_in(20s));
    ASSERT_TRUE(gathered.ok() && gathered->value);
    EXPECT_EQ(gathered->value->runs(), (std::vector<zmesh::ValueRun<std::int64_t>>{
                                           {0, 16, 0}, {16, 16, 1}, {32, 16, 2}, {48, 16, 3}}))
        << "equal neighbours share one run";
    EXPECT_EQ(gathered->value->extent(), tallies.shape().extent());

    // A user-defined reducer that does not commute: the ranks come out in order.
    auto joined = tree.reduce<testing::Joined>(NameQuery{}, deadline_in(20s));
    ASSERT_TRUE(joined.ok() && joined->value);
    std::vector<std::string> ranks;
    for (int rank = 0; rank < 64; ++rank) ranks.push_back(std::to_string(rank));
    EXPECT_EQ(*joined->value, fmt::format("{}", fmt::join(ranks, " ")));

    // A selection, and a view whose ranks differ from the base's.
    const auto selection = parse_selection("1,*,0:2").value();
    std::int64_t expected_sum = 0;
    const auto chosen = eval(selection, tallies.shape()).value();
    for (auto base : chosen) expected_sum += static_cast<std::int64_t>(base);
    auto selected = tree.reduce<zmesh::Sum>(selection, query(1), deadline_in(20s));
    EXPECT_EQ(selected->value, expected_sum);
    EXPECT_EQ(selected->contributors, 8u);
    auto view = tree.slice("y", 1, 3).value();
    auto in_view = view.reduce<zmesh::Gather>(Selection::all(), query(1), deadline_in(20s));
    ASSERT_TRUE(in_view.ok() && in_view->value);
    EXPECT_EQ(in_view->value->runs().size(), 32u) << "ranks of the view, each its own value";
    EXPECT_EQ(*in_view->value->get(31), 31);
  }
  // Each node freed its cast when it sent its partial up; the client keeps nothing either.
  const auto stats = total_stats(tallies);
  EXPECT_EQ(stats.reductions, 0u);
  EXPECT_EQ(stats.held, 0u);
  EXPECT_EQ(comm::tracked_casts(tallies), 0u);
}

TEST_F(CommTreeTest, TenThousandCastsKeepPerCastStateAtZero) {
  auto mesh = allocate("{x=4}");
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  const ValueQuery query{1, 0, -1};
  constexpr int casts = 10000;
  std::uint64_t most_held = 0;
  for (int i = 1; i <= casts; ++i) {
    // Reduces hold state on the client and down the tree until they end; the fire-and-forget
    // casts in between take other paths (fan-outs 1..3, other selections) through the streams.
    auto tree = tallies.with_fanout(static_cast<std::uint32_t>(1 + i % 3));
    if (i % 2 == 0) {
      auto count = tree.reduce<zmesh::Count>(query, deadline_in(20s));
      ASSERT_TRUE(count.ok() && count->value == 4u) << "cast " << i;
    } else {
      const auto selection = parse_selection(i % 3 == 0 ? "*" : "1:").value();
      ASSERT_TRUE(tree.cast(selection, Mark{static_cast<std::uint64_t>(i)}).ok());
    }
    if (i % 2500 == 0) {
      const auto stats = total_stats(tallies);
      EXPECT_EQ(stats.reductions, 0u) << "after " << i << " casts";
      EXPECT_EQ(stats.streams, 4u);
      most_held = std::max(most_held, stats.held);
      EXPECT_EQ(comm::tracked_casts(tallies), 0u);
      collect_marks(tallies);  // the tallies' own memory, not the tree's
    }
  }
  EXPECT_LE(most_held, 4u) << "held casts are only those overtaken a moment ago";
  ASSERT_TRUE(testing::wait_until(10s, [&] { return total_stats(tallies).held == 0; }));
  const auto stats = total_stats(tallies);
  EXPECT_EQ(stats.dropped_late, 0u);
  EXPECT_EQ(stats.gaps_given_up, 0u);
}

TEST_F(CommTreeTest, FifoPerSenderHoldsAcrossSelectionsAndFanouts) {
  // Order, not timing, is under test: 100 chains through 64 ranks take long on two loaded
  // cores under sanitizers, so a held cast may wait longer than the suite's 5 s for the one
  // before it (which always comes: nothing fails here) before the comm actor gives up.
  Config config = tree_config();
  config.delivery_timeout = 60000ms;
  Runtime patient(config);
  auto mesh = allocate_on(patient, Extent::parse("{x=4,y=4,z=4}").value());
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  testing::RandomGeometry random(99);
  Marks expected;
  for (std::uint64_t tag = 1; tag <= 400; ++tag) {
    // A chain through all 64 ranks, then a cast straight to one rank: the second overtakes
    // the first unless the comm actors hold it back.
    Selection selection = Selection::all();
    std::uint32_t fanout = 1;
    switch (tag % 4) {
      case 1:
        break;
      case 2:
        selection = Selection::chain({Selection::index(random.uniform(0, 3)),
                                      Selection::index(random.uniform(0, 3)),
                                      Selection::index(random.uniform(0, 3))})
                        .value();
        fanout = 16;
        break;
      default:
        selection = random.selection({4, 4, 4});
        fanout = static_cast<std::uint32_t>(random.uniform(1, 16));
    }
    auto cast = tallies.with_fanout(fanout).cast(selection, Mark{tag});
    ASSERT_TRUE(cast.ok());
    const auto chosen = eval(selection, tallies.shape(), cast->cast_id).value();
    for (auto base : chosen) expected[static_cast<std::uint32_t>(base)].push_back(tag);
  }
  EXPECT_EQ(collect_marks(tallies), expected);
  const auto stats = total_stats(tallies);
  EXPECT_GT(stats.arrived_early, 0u) << "no cast overtook another: the test proves nothing";
  EXPECT_EQ(stats.dropped_late, 0u);
  EXPECT_EQ(stats.gaps_given_up, 0u) << stats.stalls << " stalls";
  EXPECT_EQ(stats.held, 0u);
}

TEST_F(CommTreeTest, RelayKilledMidCastEndsTheCastWithinItsDeadline) {
  // {x=8} with fan-out 2: the client sends to 0 and 4, 0 to 1 and 3, and 1 relays to 2.
  auto mesh = allocate("{x=8}", Kind::process);
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  const ValueQuery slow{1, 1500, -1};
  const auto started = Clock::now();
  const auto deadline = started + 20s;
  auto pending = std::async(std::launch::async, [&] {
    return tallies.reduce<zmesh::Sum>(slow, deadline);
  });
  // Kill the relay once it and the rank below it hold the cast.
  ASSERT_TRUE(testing::wait_until(15s, [&] {
    auto stats = comm::tree_stats(tallies, deadline_in(5s));
    return stats.contains(1) && stats.at(1).ok() && stats.at(1)->reductions == 1 &&
           stats.contains(2) && stats.at(2).ok() && stats.at(2)->reductions == 1;
  }));
  ASSERT_TRUE(mesh->kill(1, SIGKILL).ok());
  auto sum = pending.get();
  ASSERT_TRUE(sum.ok()) << sum.error().describe();
  EXPECT_LT(Clock::now(), deadline - 10s) << "the cast waited for its deadline";
  EXPECT_EQ(sum->contributors, 6u);
  EXPECT_EQ(sum->value, 0 + 3 + 4 + 5 + 6 + 7);
  ASSERT_EQ(sum->missing.size(), 2u);
  EXPECT_EQ(sum->missing.at(1).code, ErrorCode::proc_failed);
  EXPECT_NE(sum->missing.at(1).message.find("killed by signal 9"), std::string::npos)
      << sum->missing.at(1).message;
  EXPECT_EQ(sum->missing.at(2).code, ErrorCode::proc_failed);
  EXPECT_NE(sum->missing.at(2).message.find("relay rank 1 (x=1/8) died"), std::string::npos)
      << sum->missing.at(2).message;
  EXPECT_NE(sum->missing.at(2).message.find("cast "), std::string::npos) << "names the cast";

  // The death is its own event; later casts go around the dead proc.
  auto event = mesh->next_event(deadline_in(5s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, MeshEvent::Kind::proc_crashed) << event->describe();
  EXPECT_EQ(event->rank, 1u);
  auto again = tallies.reduce<zmesh::Sum>(ValueQuery{1, 0, -1}, deadline_in(10s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->contributors, 7u);
  EXPECT_EQ(again->value, 28 - 1);
  ASSERT_EQ(again->missing.size(), 1u);
  EXPECT_EQ(again->missing.at(1).code, ErrorCode::proc_failed);
}

TEST_F(CommTreeTest, IdleStreamsAreFreedOnBothSidesAndReusedInOrder) {
  auto registry = testing::registry();
  CommTreeOptions options;
  options.stream_idle = 300ms;
  install_comm_tree(*registry, options).value();
  auto mesh = allocate(Extent::parse("{x=8}").value(), Kind::local, registry);
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  auto others = mesh->spawn<TallyActor>("others", {}, deadline_in(30s)).value();
  Marks expected;
  std::uint64_t tag = 0;
  // Casts over other paths (fan-outs 1..4, other selections), so that casts of a closed
  // generation and of the next are in flight at once.
  const auto cast_some = [&](int casts) {
    for (int i = 0; i < casts; ++i) {
      ++tag;
      const auto selection = parse_selection(tag % 3 == 0 ? "*" : tag % 3 == 1 ? "2:" : "5").value();
      auto cast = tallies.with_fanout(static_cast<std::uint32_t>(1 + tag % 4)).cast(selection, Mark{tag});
      ASSERT_TRUE(cast.ok()) << cast.error().describe();
      const auto chosen = eval(selection, tallies.shape(), cast->cast_id).value();
      for (auto base : chosen) expected[static_cast<std::uint32_t>(base)].push_back(tag);
    }
  };
  ASSERT_TRUE(others.cast(Mark{0}).ok());
  EXPECT_EQ(comm::client_streams(tallies), 1u);
  // "others" falls idle while "tally" is busy: the generation closes in the middle of this.
  const auto busy_until = Clock::now() + 1500ms;
  while (Clock::now() < busy_until && !HasFailure()) cast_some(10);
  ASSERT_TRUE(testing::wait_until(20s, [&] {
    return comm::client_streams(tallies) == 0 && total_stats(tallies).streams == 0;
  })) << comm::client_streams(tallies) << " streams on the client, "
      << total_stats(tallies).streams << " on the procs";
  // Used again after being freed: numbered from 1 again, in order, nothing lost or doubled.
  cast_some(50);
  EXPECT_EQ(collect_marks(tallies), expected);
  auto stats = total_stats(tallies);
  EXPECT_EQ(stats.dropped_late, 0u);
  EXPECT_EQ(stats.gaps_given_up, 0u);
  EXPECT_EQ(stats.held, 0u);

  // A stopped mesh's streams go at once, whatever the idle time.
  ASSERT_TRUE(others.cast(Mark{1}).ok());
  ASSERT_TRUE(others.stop(deadline_in(20s)).ok());
  EXPECT_EQ(comm::client_streams(tallies), 0u);
  ASSERT_TRUE(testing::wait_until(10s, [&] { return total_stats(tallies).streams == 0; }));
}

TEST_F(CommTreeTest, OneTimerThreadServesEveryCommActorOfTheProgram) {
  auto mesh = allocate("{x=8}");
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  // A reduce arms every comm actor's timer (its budget), and the router's idle check.
  auto sum = tallies.reduce<zmesh::Sum>(ValueQuery{1, 0, -1}, deadline_in(20s));
  ASSERT_TRUE(sum.ok() && sum->complete());
  EXPECT_EQ(threads_named(comm::internal::TimerService::thread_name), 1u);
}

TEST_F(CommTreeTest, CallBelowADeadRelayNamesTheRelayInsteadOfTimingOut) {
  // {x=8} with fan-out 2: the client sends to 0 and 4, 0 to 1 and 3, and 1 relays to 2.
  auto mesh = allocate("{x=8}", Kind::process);
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  const auto before = casts_at(tallies, 0);
  // The relay gets the cast but never passes it on.
  ASSERT_TRUE(mesh->kill(1, SIGSTOP).ok());
  const auto started = Clock::now();
  const auto deadline = started + 40s;
  auto pending = std::async(std::launch::async, [&] {
    return tallies.call(ValueQuery{1, 0, -1}, deadline);
  });
  ASSERT_TRUE(testing::wait_until(20s, [&] { return casts_at(tallies, 0) > before; }));
  ASSERT_TRUE(mesh->kill(1, SIGKILL).ok());
  auto replies = pending.get();
  ASSERT_TRUE(replies.ok()) << replies.error().describe();
  EXPECT_LT(Clock::now(), deadline - 20s) << "the call waited for its deadline";
  EXPECT_EQ(replies->replies.size(), 6u);
  ASSERT_EQ(replies->missing.size(), 2u);
  EXPECT_EQ(replies->missing.at(1).code, ErrorCode::proc_failed) << replies->missing.at(1).describe();
  EXPECT_EQ(replies->missing.at(2).code, ErrorCode::proc_failed) << replies->missing.at(2).describe();
  EXPECT_NE(replies->missing.at(2).message.find("relay rank 1 (x=1/8) died"), std::string::npos)
      << replies->missing.at(2).message;
  EXPECT_NE(replies->missing.at(2).message.find("killed by signal 9"), std::string::npos)
      << replies->missing.at(2).message;
}

TEST_F(CommTreeTest, CastLostWithADeadRelayDoesNotStallLaterCastsForTheDeliveryTimeout) {
  // The delivery timeout (the gap timeout) is long, so a stall would be plain to see.
  Config config = tree_config();
  config.delivery_timeout = 60000ms;
  Runtime patient(config);
  auto mesh = allocate_on(patient, Extent::parse("{x=8}").value(), Kind::process);
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  // {x=8} with fan-out 2: rank 2 gets casts through relay 1. Mark 1 dies with the relay.
  const auto before = casts_at(tallies, 0);
  ASSERT_TRUE(mesh->kill(1, SIGSTOP).ok());
  ASSERT_TRUE(tallies.cast(Mark{1}).ok());
  ASSERT_TRUE(testing::wait_until(20s, [&] { return casts_at(tallies, 0) > before; }));
  ASSERT_TRUE(mesh->kill(1, SIGKILL).ok());
  auto event = mesh->next_event(deadline_in(20s));
  ASSERT_TRUE(event.has_value());
  ASSERT_EQ(event->kind, MeshEvent::Kind::proc_crashed) << event->describe();

  const auto started = Clock::now();
  ASSERT_TRUE(tallies.cast(Mark{2}).ok());  // around the dead relay
  auto reports = tallies.live().call(TallyQuery{}, started + 10s);
  ASSERT_TRUE(reports.ok()) << reports.error().describe();
  EXPECT_TRUE(reports->complete()) << reports->missing.begin()->second.describe();
  EXPECT_LT(Clock::now() - started, 10s);
  Marks marks;
  for (auto& [rank, report] : reports->replies) marks[rank] = report.tags;
  const std::vector<std::uint64_t> both{1, 2};
  EXPECT_EQ(marks, (Marks{{0, both}, {2, {2}}, {3, both}, {4, both}, {5, both}, {6, both}, {7, both}}));
  std::uint64_t given_up = 0;
  for (auto& [rank, stats] : comm::tree_stats(tallies, deadline_in(20s))) {
    if (rank != 1 && stats.ok()) given_up += stats->gaps_given_up;
  }
  EXPECT_EQ(given_up, 1u) << "Mark 1 at rank 2";
}

TEST_F(CommTreeTest, DeadlineEndsASlowCastWithWhatArrivedAndFreesItsState) {
  // {x=8} with fan-out 2: rank 6 is a leaf below 5, below 4. Its reply comes too late.
  auto mesh = allocate("{x=8}");
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  const auto started = Clock::now();
  auto sum = tallies.reduce<zmesh::Sum>(ValueQuery{1, 2500, 6}, started + 1500ms);
  ASSERT_TRUE(sum.ok());
  EXPECT_LT(Clock::now() - started, 2500ms) << "the deadline was not kept";
  EXPECT_EQ(sum->value, 28 - 6) << "the relays passed on what they had";
  EXPECT_EQ(sum->contributors, 7u);
  ASSERT_EQ(sum->missing.size(), 1u);
  EXPECT_EQ(sum->missing.at(6).code, ErrorCode::timeout);
  EXPECT_NE(sum->missing.at(6).message.find("rank 6 (x=6/8) did not reply within"),
            std::string::npos)
      << sum->missing.at(6).message;
  // Every node freed the cast when its budget was spent; the late reply is dropped.
  EXPECT_EQ(total_stats(tallies).reductions, 0u);
  ASSERT_TRUE(testing::wait_until(10s, [&] { return total_stats(tallies).dropped_late == 1; }));
}

TEST_F(CommTreeTest, FailedActorIsMissingAtOnceWithTheReason) {
  auto mesh = allocate("{x=8}");
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  ASSERT_TRUE(tallies.cast(parse_selection("5").value(), testing::Boom{"bad batch"}).ok());
  auto failed = mesh->next_event(deadline_in(10s));
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->kind, MeshEvent::Kind::actor_failed) << failed->describe();
  EXPECT_EQ(failed->rank, 5u);
  const auto started = Clock::now();
  auto sum = tallies.reduce<zmesh::Sum>(ValueQuery{1, 0, -1}, deadline_in(30s));
  ASSERT_TRUE(sum.ok());
  EXPECT_LT(Clock::now() - started, 10s) << "waited for the deadline";
  EXPECT_EQ(sum->value, 28 - 5);
  ASSERT_EQ(sum->missing.size(), 1u);
  EXPECT_EQ(sum->missing.at(5).code, ErrorCode::actor_failed) << sum->missing.at(5).describe();
  EXPECT_NE(sum->missing.at(5).message.find("bad batch"), std::string::npos)
      << sum->missing.at(5).describe();
}

TEST_F(CommTreeTest, ReducerUnknownToTheProcsMakesEveryRankMissingWithTheReason) {
  auto mesh = allocate("{x=4}");
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  const auto started = Clock::now();
  auto sum = tallies.reduce<Unregistered>(ValueQuery{1, 0, -1}, deadline_in(30s));
  ASSERT_TRUE(sum.ok());
  EXPECT_LT(Clock::now() - started, 10s) << "waited for the deadline";
  EXPECT_FALSE(sum->value.has_value());
  ASSERT_EQ(sum->missing.size(), 4u);
  EXPECT_EQ(sum->missing.at(3).code, ErrorCode::not_found);
  EXPECT_NE(sum->missing.at(3).message.find("reducer \"test.unregistered\" is not registered"),
            std::string::npos)
      << sum->missing.at(3).message;
  EXPECT_NE(sum->missing.at(3).message.find("zmesh::add_reducer"), std::string::npos)
      << "names the call that registers it: " << sum->missing.at(3).message;
}

TEST_F(CommTreeTest, RegistryWithoutTheCommTreeFailsTheAllocationSayingWhatToCall) {
  auto registry = std::make_shared<Registry>();
  registry->add_actor<TallyActor>("Tally").value();
  AllocSpec spec;
  spec.dimensions = {{"x", 3}};
  auto alloc = LocalAllocator::allocate(runtime_, spec, registry);
  ASSERT_TRUE(alloc.ok()) << alloc.error().describe();
  auto mesh = ProcMesh::allocate(runtime_, std::move(*alloc), deadline_in(60s));
  ASSERT_FALSE(mesh.ok());
  EXPECT_EQ(mesh.error().code, ErrorCode::invalid_argument) << mesh.error().describe();
  EXPECT_NE(mesh.error().message.find("install_comm_tree"), std::string::npos) << mesh.error().message;
}

// A comm actor decodes each cast's control frame into the same object, reused from cast to
// cast. Bytes that are not a control frame, or one with fields missing (which would leave
// the last cast's reduction in place), go back to their sender naming the problem, and the
// comm actor carries on: a reduce before and after them is exact.
TEST_F(CommTreeTest, ForgedCastControlFramesAreRefusedAndTheTreeCarriesOn) {
  auto mesh = allocate("{x=4}");
  ASSERT_TRUE(mesh);
  auto tallies = mesh->spawn<TallyActor>("tally", {}, deadline_in(30s)).value();
  auto before = tallies.reduce<zmesh::Sum>(ValueQuery{1, 0, -1}, deadline_in(30s));
  ASSERT_TRUE(before.ok()) << before.error().describe();
  EXPECT_EQ(before->value, 0 + 1 + 2 + 3);

  auto prober = mesh->client().attach("prober").value();
  const PortId comm_port{ActorId{mesh->proc(1), std::string(comm_actor_name), 0},
                         message_port_index("zmesh.comm.Cast")};
  auto forged = [&](std::string bytes) {
    Envelope envelope;
    envelope.destination = comm_port;
    envelope.type_name = "zmesh.comm.Cast";
    envelope.payload.push_back(Frame::copy_of(bytes));
    envelope.payload.push_back(encode(Mark{99}));
    prober.send(std::move(envelope));
  };
  forged("\xc1 not msgpack");
  forged(encode_to_string(std::vector<int>{1, 2, 3}));  // an array, fields missing
  forged(encode_to_string(std::vector<std::string>(12, "x")));  // every field a string
  std::vector<std::string> reasons;
  for (int i = 0; i < 3; ++i) {
    auto returned = prober.next_undeliverable(deadline_in(20s));
    ASSERT_TRUE(returned.has_value()) << "forgery " << i << " was not sent back";
    EXPECT_EQ(returned->reason.code, ErrorCode::decode_error) << returned->reason.describe();
    reasons.push_back(returned->reason.message);
  }
  for (const auto& reason : reasons) {
    EXPECT_NE(reason.find("zmesh.comm.Cast"), std::string::npos) << reason;
  }
  EXPECT_TRUE(std::any_of(reasons.begin(), reasons.end(), [](const std::string& reason) {
    return reason.find("at least 12 fields") != std::string::npos;
  })) << fmt::format("{}", fmt::join(reasons, " | "));

  auto after = tallies.reduce<zmesh::Sum>(ValueQuery{1, 0, -1}, deadline_in(30s));
  ASSERT_TRUE(after.ok()) << after.error().describe();
  EXPECT_EQ(after->value, 0 + 1 + 2 + 3);
  EXPECT_TRUE(after->missing.empty());
  EXPECT_EQ(collect_marks(tallies).count(1), 0u) << "a forged cast reached the actor";
}

TEST_F(CommTreeTest, CommIsAReservedActorMeshName) {
  auto mesh = allocate("{x=2}");
  ASSERT_TRUE(mesh);
  auto clash = mesh->spawn<TallyActor>("comm", {}, deadline_in(30s));
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, ErrorCode::duplicate);
}

}  // namespace
}  // namespace zmesh
