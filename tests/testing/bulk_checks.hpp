#pragma once
// Gradient actors on a mesh, and checks of reduced gradients (GradientActor, bulk_actors.hpp)
// against a brute-force fold, shared by the bulk-reduce tests on process meshes and on the
// fake hosts.
// Thread: call from the test's thread.

#include "testing/bulk_actors.hpp"
#include "zmesh/core/tensor.hpp"
#include "zmesh/mesh/proc_mesh.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace zmesh::testing {

// Element-wise fold of the gradients of `contributors` for `step`, `size` elements each, by
// brute force.
inline std::vector<float> brute_force(const std::vector<std::uint32_t>& contributors, std::uint32_t step,
                                      std::size_t size, float (*fold)(float, float)) {
  std::vector<float> folded(size);
  for (std::size_t i = 0; i < size; ++i) {
    folded[i] = gradient_element(contributors.front(), step, i);
    for (std::size_t k = 1; k < contributors.size(); ++k) {
      folded[i] = fold(folded[i], gradient_element(contributors[k], step, i));
    }
  }
  return folded;
}

inline float plus(float a, float b) { return a + b; }

inline void expect_elements(const Tensor<float>& tensor, const std::vector<float>& expected) {
  ASSERT_EQ(tensor.size(), expected.size());
  const auto got = tensor.elements();
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) wrong += got[i] != expected[i];
  EXPECT_EQ(wrong, 0u) << "elements differ from the brute-force fold, e.g. element 1: "
                       << got[1] << " vs " << expected[1];
}

// The sums TensorSums reports for `elements`, computed the same way.
inline std::pair<double, double> sum_and_weighted(const std::vector<float>& elements) {
  double sum = 0;
  double weighted = 0;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    sum += elements[i];
    weighted += static_cast<double>(i) * elements[i];
  }
  return {sum, weighted};
}

// GradientActor "grads" on every proc of `mesh`, viewed with fan-out 2 so that relays fold
// their subtree before the client folds the rest; nothing (and a test failure) if the spawn
// failed.
inline std::optional<ActorMesh<GradientActor>> spawn_gradients(ProcMesh& mesh) {
  auto spawned = mesh.spawn<GradientActor>("grads", deadline_in(std::chrono::seconds(30)));
  EXPECT_TRUE(spawned.ok()) << spawned.error().describe();
  if (!spawned) return std::nullopt;
  return spawned->with_fanout(2);
}

}  // namespace zmesh::testing
