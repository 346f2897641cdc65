// Bulk payloads end to end: a message carrying a 1 MiB Tensor<float> cast and called to
// actors on an in-process mesh and on a process mesh, through a comm tree with relays
// (fan-out 2); every actor reads every element in place, and the sums must be exact. The
// actors keep the tensor past their turn and sum it again on a later message. On the process
// mesh the tensor travels through shared memory (each actor reads it from a mapping).
#include "zmesh/mesh/proc_mesh.hpp"

#include "testing/bulk_actors.hpp"
#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::SumKeptTensor;
using testing::SumTensor;
using testing::TensorSumActor;
using testing::TensorSums;

enum class Kind { local, process };

// 2^18 floats (1 MiB) in a 512 x 512 shape; small integers, so every sum is exact.
constexpr std::size_t side = 512;
struct Expected {
  double sum = 0;
  double weighted = 0;
};
std::pair<Tensor<float>, Expected> make_tensor(std::uint32_t modulus) {
  std::vector<float> values(side * side);
  Expected expected;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto value = static_cast<std::uint64_t>(i % modulus);
    values[i] = static_cast<float>(value);
    expected.sum += static_cast<double>(value);
    expected.weighted += static_cast<double>(i * value);
  }
  return {Tensor<float>::adopt(std::move(values), {side, side}).value(), expected};
}

class BulkCastTest : public ::testing::TestWithParam<Kind> {
 protected:
  std::unique_ptr<ProcMesh> allocate(std::vector<std::pair<std::string, std::uint32_t>> dims) {
    return testing::allocate_mesh(runtime_, testing::spec_of(std::move(dims)),
                                  GetParam() == Kind::local, deadline_in(30s));
  }
  void TearDown() override { EXPECT_EQ(testing::child_processes(), std::vector<pid_t>{}); }

  // Many sanitized processes on two cores start slowly: a patient watchdog.
  Runtime runtime_{testing::mesh_test_config(Millis(15000))};
};

void expect_exact(const Gathered<TensorSums>& gathered, std::size_t ranks, const Expected& expected) {
  EXPECT_TRUE(gathered.complete()) << gathered.missing.begin()->second.describe();
  ASSERT_EQ(gathered.replies.size(), ranks);
  for (const auto& [rank, sums] : gathered.replies) {
    EXPECT_EQ(sums.rank, rank);
    EXPECT_EQ(sums.count, side * side) << "rank " << rank;
    EXPECT_EQ(sums.shape, (TensorShape{side, side})) << "rank " << rank;
    EXPECT_EQ(sums.sum, expected.sum) << "rank " << rank;
    EXPECT_EQ(sums.weighted, expected.weighted) << "rank " << rank;
  }
}

TEST_P(BulkCastTest, EveryActorSumsAOneMebibyteTensorExactly) {
  auto mesh = allocate({{"host", 2}, {"gpu", 2}});
  ASSERT_TRUE(mesh);
  auto spawned = mesh->spawn<TensorSumActor>("summer", deadline_in(30s));
  ASSERT_TRUE(spawned.ok()) << spawned.error().describe();
  // Fan-out 2 over 4 ranks: the tensor's frame is forwarded by relaying comm actors too.
  auto summers = spawned->with_fanout(2);

  auto [tensor, expected] = make_tensor(7);
  auto called = summers.call(SumTensor{std::move(tensor)}, deadline_in(60s));
  ASSERT_TRUE(called.ok()) << called.error().describe();
  expect_exact(*called, 4, expected);

  // A plain cast (no reply) of another tensor; the actors keep it past their turn, and a
  // later message sums the kept one again.
  auto [second, second_expected] = make_tensor(5);
  auto cast = summers.cast(Selection::all(), SumTensor{std::move(second)}, deadline_in(30s));
  ASSERT_TRUE(cast.ok()) << cast.error().describe();
  auto kept = summers.call(SumKeptTensor{}, deadline_in(60s));
  ASSERT_TRUE(kept.ok()) << kept.error().describe();
  expect_exact(*kept, 4, second_expected);

  ASSERT_TRUE(mesh->stop(deadline_in(30s)).ok());
}

// On a process mesh (procs on this host), the tensor travels through shared memory: each
// actor's elements lie in a mapping, relays included. A link's first large frame goes as
// bytes while it asks the peer for its host, so a few casts may pass before every rank
// reads in place.
TEST_P(BulkCastTest, ProcessMeshReadsTheTensorInSharedMemory) {
  if (GetParam() == Kind::local) GTEST_SKIP() << "in-process procs share frames without it";
  auto mesh = allocate({{"host", 2}, {"gpu", 2}});
  ASSERT_TRUE(mesh);
  auto spawned = mesh->spawn<TensorSumActor>("summer", deadline_in(30s));
  ASSERT_TRUE(spawned.ok()) << spawned.error().describe();
  auto summers = spawned->with_fanout(2);
  std::size_t mapped = 0;
  for (int round = 0; round < 8 && mapped < 4; ++round) {
    auto [tensor, expected] = make_tensor(3 + round);
    auto cast = summers.cast(Selection::all(), SumTensor{std::move(tensor)}, deadline_in(30s));
    ASSERT_TRUE(cast.ok()) << cast.error().describe();
    auto kept = summers.call(SumKeptTensor{}, deadline_in(60s));
    ASSERT_TRUE(kept.ok()) << kept.error().describe();
    expect_exact(*kept, 4, expected);
    mapped = 0;
    for (const auto& [rank, sums] : kept->replies) mapped += sums.in_shared_memory ? 1 : 0;
  }
  EXPECT_EQ(mapped, 4u) << "ranks whose tensor lay in shared memory";
  ASSERT_TRUE(mesh->stop(deadline_in(30s)).ok());
}

INSTANTIATE_TEST_SUITE_P(Meshes, BulkCastTest, ::testing::Values(Kind::local, Kind::process),
                         [](const auto& info) {
                           return std::string(info.param == Kind::local ? "Local" : "Process");
                         });

}  // namespace
}  // namespace zmesh
