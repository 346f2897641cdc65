// Bulk payloads on a remote mesh: {host=3,gpu=2} across three fake hosts (network namespaces,
// one zmesh-launcher each) with fan-out 2, so that casts and partial folds cross hosts over
// tcp and relays pass them on to procs of their own host (shared memory there). 1 MiB float
// tensors are cast, replied to a call, reduced element-wise and allreduced, and each comes
// out exactly as a brute-force fold. A relay killed mid-allreduce is named missing, with the
// ranks it relays to, within the deadline, and the living take the sum of the living. Needs root (label "root"); skips otherwise.
#include "zmesh/mesh/proc_mesh.hpp"

#include "remote_test_support.hpp"
#include "testing/bulk_actors.hpp"
#include "testing/bulk_checks.hpp"
#include "testing/mesh_testing.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <set>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::ApplyGradient;
using testing::Backward;
using testing::brute_force;
using testing::expect_elements;
using testing::GradientActor;
using testing::SumApplied;

constexpr std::uint32_t elements = 1u << 18;  // 1 MiB of floats
constexpr std::uint32_t ranks = 6;

class RemoteBulkTest : public testing::FakeHostsTest {
 protected:
  void SetUp() override {
    FakeHostsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    mesh_ = allocate_mesh(bulk_runtime_, host_spec(3, 2), hosts_.client_options());
    ASSERT_TRUE(mesh_);
    workers_ = testing::spawn_gradients(*mesh_);
    ASSERT_TRUE(workers_);
  }
  void TearDown() override {
    if (mesh_) {
      EXPECT_TRUE(mesh_->stop(deadline_in(30s)).ok());
    }
    mesh_.reset();
    FakeHostsTest::TearDown();
  }

  static std::vector<std::uint32_t> all_ranks() {
    std::vector<std::uint32_t> all(ranks);
    std::iota(all.begin(), all.end(), 0u);
    return all;
  }

  // A watchdog with more patience than the other fake-host tests': procs folding 1 MiB
  // tensors on a loaded machine (ThreadSanitizer's build: 1.5 s was not enough) must not be
  // taken for hung. Kills here are seen by the launchers, not by the watchdog.
  Runtime bulk_runtime_{testing::remote_test_config(Millis(6000))};
  std::unique_ptr<ProcMesh> mesh_;
  std::optional<ActorMesh<GradientActor>> workers_;
};

TEST_F(RemoteBulkTest, TensorRepliesReductionsAndAllreduceAcrossHostsMatchABruteForceFold) {
  // Every rank's own tensor comes back whole through a call.
  auto gathered = workers_->call(Backward{1, elements}, deadline_in(60s));
  ASSERT_TRUE(gathered.ok()) << gathered.error().describe();
  ASSERT_TRUE(gathered->complete()) << gathered->missing.begin()->second.describe();
  ASSERT_EQ(gathered->replies.size(), ranks);
  for (const auto& [rank, tensor] : gathered->replies) {
    SCOPED_TRACE(fmt::format("rank {}", rank));
    expect_elements(tensor, brute_force({rank}, 1, elements, testing::plus));
  }

  // Folded in the tree: relays on each host fold their subtree before the client.
  auto sum = workers_->reduce<Sum>(Backward{2, elements}, deadline_in(60s));
  ASSERT_TRUE(sum.ok()) << sum.error().describe();
  ASSERT_TRUE(sum->complete()) << sum->missing.begin()->second.describe();
  EXPECT_EQ(sum->contributors, ranks);
  expect_elements(*sum->value, brute_force(all_ranks(), 2, elements, testing::plus));

  auto max = workers_->reduce<Max>(Backward{3, elements}, deadline_in(60s));
  ASSERT_TRUE(max.ok()) << max.error().describe();
  ASSERT_TRUE(max->complete()) << max->missing.begin()->second.describe();
  expect_elements(*max->value,
                  brute_force(all_ranks(), 3, elements, [](float a, float b) { return std::max(a, b); }));

  // The sum goes back down the tree to every actor, which keeps it past its turn. Twice: a
  // link learns whether its peer shares its host with its first large frame, which goes as
  // bytes.
  for (std::uint32_t step : {4u, 6u}) {
    SCOPED_TRACE(fmt::format("allreduce of step {}", step));
    auto reduced = workers_->allreduce<Sum>(
        Backward{step, elements}, [](const Tensor<float>& sum) { return ApplyGradient{sum}; },
        deadline_in(60s));
    ASSERT_TRUE(reduced.ok()) << reduced.error().describe();
    ASSERT_TRUE(reduced->complete()) << reduced->missing.begin()->second.describe();
    const auto expected = brute_force(all_ranks(), step, elements, testing::plus);
    expect_elements(*reduced->value, expected);
    const auto [expected_sum, expected_weighted] = testing::sum_and_weighted(expected);
    auto applied = workers_->call(SumApplied{}, deadline_in(60s));
    ASSERT_TRUE(applied.ok()) << applied.error().describe();
    ASSERT_TRUE(applied->complete()) << applied->missing.begin()->second.describe();
    ASSERT_EQ(applied->replies.size(), ranks);
    for (const auto& [rank, sums] : applied->replies) {
      EXPECT_EQ(sums.count, elements) << "rank " << rank;
      EXPECT_EQ(sums.sum, expected_sum) << "rank " << rank;
      EXPECT_EQ(sums.weighted, expected_weighted) << "rank " << rank;
      // The client is on no fake host, so the client's sends arrive over tcp, and so do a
      // relay's to another host: rank 0 relays to ranks 1 and 2 and rank 3 to ranks 4 and 5,
      // and only rank 1 shares its relay's host. It reads the sum in shared memory once its
      // link has learnt that.
      if (step == 6) {
        EXPECT_EQ(sums.in_shared_memory, rank == 1) << "rank " << rank;
      }
    }
  }
}

TEST_F(RemoteBulkTest, AProcKilledMidAllreduceIsNamedWithItsSubtreeWithinTheDeadline) {
  // Fan-out 2 over 6 ranks: the client sends to ranks 0 and 3, and rank 3 (host 1) relays
  // for ranks 4 and 5 (host 2).
  Backward step{5, elements};
  step.die_on_rank = 3;
  const auto deadline = deadline_in(30s);
  auto reduced = workers_->allreduce<Sum>(
      step, [](const Tensor<float>& sum) { return ApplyGradient{sum}; }, deadline);
  ASSERT_TRUE(reduced.ok()) << reduced.error().describe();
  EXPECT_LT(Clock::now(), deadline);
  std::set<std::uint32_t> missing;
  for (const auto& [rank, why] : reduced->missing) missing.insert(rank);
  ASSERT_EQ(missing, (std::set<std::uint32_t>{3, 4, 5}));
  EXPECT_EQ(reduced->missing.at(3).code, ErrorCode::proc_failed) << reduced->missing.at(3).describe();
  EXPECT_NE(reduced->missing.at(3).message.find("killed by signal 9"), std::string::npos)
      << reduced->missing.at(3).describe();
  for (std::uint32_t below : {4u, 5u}) {
    EXPECT_NE(reduced->missing.at(below).message.find("relay rank 3"), std::string::npos)
        << "rank " << below << ": " << reduced->missing.at(below).describe();
  }
  EXPECT_EQ(reduced->contributors, 3u);
  ASSERT_TRUE(reduced->value);
  expect_elements(*reduced->value, brute_force({0, 1, 2}, 5, elements, testing::plus));
  // The living ranks took the sum of the living.
  auto first_hosts = workers_->slice("host", 0, 1);
  ASSERT_TRUE(first_hosts.ok()) << first_hosts.error().describe();
  auto applied = first_hosts->call(SumApplied{}, deadline_in(30s));
  ASSERT_TRUE(applied.ok()) << applied.error().describe();
  ASSERT_TRUE(applied->complete()) << applied->missing.begin()->second.describe();
  EXPECT_EQ(applied->replies.size(), 2u);
  // The killed proc is reported as such, once.
  // (A loaded machine may first warn that a proc was silent: that is not the news here.)
  auto event = mesh_->next_event(deadline_in(30s));
  while (event && event->kind == MeshEvent::Kind::proc_unresponsive) {
    event = mesh_->next_event(deadline_in(30s));
  }
  ASSERT_TRUE(event) << "no event for the killed proc";
  EXPECT_EQ(event->kind, MeshEvent::Kind::proc_crashed) << event->describe();
  EXPECT_EQ(event->rank, 3u) << event->describe();
}

}  // namespace
}  // namespace zmesh
