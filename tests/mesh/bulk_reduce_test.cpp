// Reductions over bulk values end to end, on an in-process mesh and on a process mesh, with
// relays (fan-out 2): element-wise Sum, Max and Mean of 1 MiB float tensors from every rank
// come out exactly as a brute-force fold; allreduce hands the sum back to every actor; a
// rank replying another shape is missing, saying why; and (process meshes) a relay killed in
// the middle of an allreduce is named missing, with the rank below it, within the deadline,
// and (root) leaves no shared memory behind.
#include "zmesh/mesh/proc_mesh.hpp"

#include "testing/bulk_actors.hpp"
#include "testing/bulk_checks.hpp"
#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"
#include "testing/shared_memory.hpp"
#include "testing/wait.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::ApplyGradient;
using testing::Backward;
using testing::gradient_element;
using testing::GradientActor;
using testing::SumApplied;
using testing::brute_force;
using testing::expect_elements;

enum class Kind { local, process };

constexpr std::uint32_t elements = 1u << 18;  // 1 MiB of floats
constexpr std::uint32_t ranks = 4;

class BulkReduceTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    mesh_ = testing::allocate_mesh(runtime_, testing::spec_of({{"host", 2}, {"gpu", 2}}),
                                   GetParam() == Kind::local, deadline_in(30s));
    ASSERT_TRUE(mesh_);
    workers_ = testing::spawn_gradients(*mesh_);
    ASSERT_TRUE(workers_);
  }
  void TearDown() override {
    if (mesh_) {
      EXPECT_TRUE(mesh_->stop(deadline_in(30s)).ok());
    }
    mesh_.reset();
    EXPECT_EQ(testing::child_processes(), std::vector<pid_t>{});
  }

  Runtime runtime_{testing::mesh_test_config(Millis(15000))};
  std::unique_ptr<ProcMesh> mesh_;
  std::optional<ActorMesh<GradientActor>> workers_;
};

TEST_P(BulkReduceTest, SumMaxAndMeanOfTensorsMatchABruteForceFold) {
  const std::vector<std::uint32_t> all{0, 1, 2, 3};
  auto sum = workers_->reduce<Sum>(Backward{3, elements}, deadline_in(60s));
  ASSERT_TRUE(sum.ok()) << sum.error().describe();
  ASSERT_TRUE(sum->complete()) << sum->missing.begin()->second.describe();
  EXPECT_EQ(sum->contributors, ranks);
  expect_elements(*sum->value, brute_force(all, 3, elements, testing::plus));

  auto max = workers_->reduce<Max>(Backward{1, elements}, deadline_in(60s));
  ASSERT_TRUE(max.ok()) << max.error().describe();
  expect_elements(*max->value, brute_force(all, 1, elements, [](float a, float b) { return std::max(a, b); }));

  auto mean = workers_->reduce<Mean>(Backward{2, elements}, deadline_in(60s));
  ASSERT_TRUE(mean.ok()) << mean.error().describe();
  auto expected = brute_force(all, 2, elements, testing::plus);
  for (float& x : expected) x /= ranks;
  expect_elements(*mean->value, expected);
}

TEST_P(BulkReduceTest, AllreduceHandsTheSumToEveryActor) {
  const std::vector<std::uint32_t> all{0, 1, 2, 3};
  auto reduced = workers_->allreduce<Sum>(
      Backward{5, elements},
      [](const Tensor<float>& sum) { return ApplyGradient{sum}; }, deadline_in(60s));
  ASSERT_TRUE(reduced.ok()) << reduced.error().describe();
  ASSERT_TRUE(reduced->complete()) << reduced->missing.begin()->second.describe();
  const auto expected = brute_force(all, 5, elements, testing::plus);
  expect_elements(*reduced->value, expected);

  const auto [sum, weighted] = testing::sum_and_weighted(expected);
  auto applied = workers_->call(SumApplied{}, deadline_in(60s));
  ASSERT_TRUE(applied.ok()) << applied.error().describe();
  ASSERT_TRUE(applied->complete()) << applied->missing.begin()->second.describe();
  for (const auto& [rank, sums] : applied->replies) {
    EXPECT_EQ(sums.sum, sum) << "rank " << rank;
    EXPECT_EQ(sums.weighted, weighted) << "rank " << rank;
  }
}

TEST_P(BulkReduceTest, ARankReplyingAnotherShapeIsMissingAndTheRestFold) {
  Backward odd{4, elements};
  odd.odd_size_rank = 3;
  auto sum = workers_->reduce<Sum>(odd, deadline_in(60s));
  ASSERT_TRUE(sum.ok()) << sum.error().describe();
  ASSERT_EQ(sum->missing.size(), 1u);
  const Error& why = sum->missing.at(3);
  EXPECT_NE(why.message.find("does not fold element-wise"), std::string::npos) << why.describe();
  EXPECT_NE(why.message.find("[262145]"), std::string::npos) << why.describe();
  EXPECT_EQ(sum->contributors, 3u);
  expect_elements(*sum->value, brute_force({0, 1, 2}, 4, elements, testing::plus));
}

TEST_P(BulkReduceTest, AnAllreduceWithARelayKilledMidFlightNamesItAndItsSubtreeWithinTheDeadline) {
  if (GetParam() == Kind::local) GTEST_SKIP() << "killing a proc needs a process mesh";
  Backward step{6, elements};
  step.die_on_rank = 2;
  const auto deadline = deadline_in(30s);
  auto reduced = workers_->allreduce<Sum>(
      step, [](const Tensor<float>& sum) { return ApplyGradient{sum}; }, deadline);
  ASSERT_TRUE(reduced.ok()) << reduced.error().describe();
  EXPECT_LT(Clock::now(), deadline);
  // Rank 2 relays for rank 3 (fan-out 2): both are missing, each saying why.
  ASSERT_EQ(reduced->missing.size(), 2u);
  ASSERT_EQ(reduced->missing.count(2), 1u);
  ASSERT_EQ(reduced->missing.count(3), 1u);
  EXPECT_EQ(reduced->missing.at(2).code, ErrorCode::proc_failed);
  EXPECT_NE(reduced->missing.at(2).message.find("killed by signal 9"), std::string::npos)
      << reduced->missing.at(2).describe();
  EXPECT_NE(reduced->missing.at(3).message.find("relay rank 2"), std::string::npos)
      << reduced->missing.at(3).describe();
  EXPECT_EQ(reduced->contributors, 2u);
  expect_elements(*reduced->value, brute_force({0, 1}, 6, elements, testing::plus));

  // The living ranks took the sum of the living.
  auto first_host = workers_->slice("host", 0, 1);
  ASSERT_TRUE(first_host.ok()) << first_host.error().describe();
  auto applied = first_host->call(SumApplied{}, deadline_in(30s));
  ASSERT_TRUE(applied.ok()) << applied.error().describe();
  ASSERT_TRUE(applied->complete()) << applied->missing.begin()->second.describe();
  EXPECT_EQ(applied->replies.size(), 2u);
}

// Root: the procs and the client put their regions in a small tmpfs of the test's own, whose
// free space shows what is still allocated after a relay was SIGKILLed mid-allreduce.
TEST(BulkReduceSharedMemoryTest, ARelayKilledMidAllreduceLeavesNoSharedMemoryBehind) {
  testing::ScopedTmpfs tmpfs("shm-relay-kill", "64m");
  if (!tmpfs.ok()) GTEST_SKIP() << tmpfs.skip_reason();
  const std::uint64_t empty = testing::free_bytes(tmpfs.dir());
  {
    Config config = testing::mesh_test_config(Millis(15000));
    config.shm_dir = tmpfs.dir();  // the procs get it through their environment
    Runtime runtime(config);
    auto mesh = testing::allocate_mesh(runtime, testing::spec_of({{"host", 2}, {"gpu", 2}}), false,
                                       deadline_in(30s));
    ASSERT_TRUE(mesh);
    auto gradients = testing::spawn_gradients(*mesh);
    ASSERT_TRUE(gradients);
    auto& workers = *gradients;
    // A first allreduce teaches every link that its peer shares the host.
    auto warm = workers.allreduce<Sum>(
        Backward{1, elements}, [](const Tensor<float>& sum) { return ApplyGradient{sum}; }, deadline_in(60s));
    ASSERT_TRUE(warm.ok() && warm->complete());
    Backward step{2, elements};
    step.die_on_rank = 2;  // relays for rank 3
    auto reduced = workers.allreduce<Sum>(
        step, [](const Tensor<float>& sum) { return ApplyGradient{sum}; }, deadline_in(30s));
    ASSERT_TRUE(reduced.ok()) << reduced.error().describe();
    EXPECT_EQ(reduced->missing.size(), 2u);
    expect_elements(*reduced->value, brute_force({0, 1}, 2, elements, testing::plus));
    // The living ranks keep the sum past their turn: in the tmpfs, mapped.
    EXPECT_LT(testing::free_bytes(tmpfs.dir()), empty) << "no region was written to the tmpfs";
    EXPECT_TRUE(mesh->stop(deadline_in(30s)).ok());
  }
  EXPECT_EQ(testing::child_processes(), std::vector<pid_t>{});
  EXPECT_TRUE(testing::wait_until(10s, [&] { return testing::free_bytes(tmpfs.dir()) == empty; }))
      << "free " << testing::free_bytes(tmpfs.dir()) << " of " << empty << " bytes";
  EXPECT_EQ(testing::entries_in(tmpfs.dir()), 0u);
}

INSTANTIATE_TEST_SUITE_P(Meshes, BulkReduceTest, ::testing::Values(Kind::local, Kind::process),
                         [](const auto& info) {
                           return std::string(info.param == Kind::local ? "Local" : "Process");
                         });

}  // namespace
}  // namespace zmesh
