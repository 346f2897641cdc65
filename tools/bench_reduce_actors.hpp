#pragma once
// The actor `zmesh bench reduce` and `zmesh bench allreduce` spawn on every proc, their
// messages, and the work both the actor and the raw twin's receiver do, so that the two do
// exactly the same: produce a fresh float tensor for each request, and read every element
// of the reduced tensor they are handed.
// BenchReducer is written as README.md writes an actor: typed member handlers whose return
// value is the reply. Thread: its handlers run one at a time, on the proc's I/O thread while
// its turns stay brief, else on the pool.

#include "zmesh/core/actor.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/tensor.hpp"

#include <array>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

namespace zmesh::tools {

// One training step's request: reply your gradient of `floats` elements.
struct BenchGradient {
  ZMESH_MESSAGE("zmesh.bench.Gradient");
  std::uint64_t step = 0;
  std::uint64_t floats = 0;
  MSGPACK_DEFINE(step, floats);
};

// The reduced gradient, handed back to every actor (allreduce's result message).
struct BenchApply {
  ZMESH_MESSAGE("zmesh.bench.Apply");
  Tensor<float> sum;
  MSGPACK_DEFINE(sum);
};

// Rank r's gradient: `floats` copies of r + 1, in a new buffer each time (what a backward
// pass would hand over). Every element of the sum over ranks 0..N-1 is N(N+1)/2, exactly.
inline std::vector<float> bench_gradient(std::uint32_t rank, std::uint64_t floats) {
  return std::vector<float>(floats, static_cast<float>(rank + 1));
}

// Reads every element (what applying the gradient would do); eight running sums, so that
// the loop runs at memory speed rather than at the latency of one float add.
inline double read_every_element(std::span<const float> elements) {
  std::array<float, 8> sums{};
  std::size_t i = 0;
  for (; i + sums.size() <= elements.size(); i += sums.size()) {
    for (std::size_t lane = 0; lane < sums.size(); ++lane) sums[lane] += elements[i + lane];
  }
  for (; i < elements.size(); ++i) sums[0] += elements[i];
  return std::accumulate(sums.begin(), sums.end(), 0.0);
}

class BenchReducer : public Actor {
 public:
  Tensor<float> gradient(Context& ctx, const BenchGradient& request) {
    return Tensor<float>(bench_gradient(ctx.rank(), request.floats));  // adopted, no copy
  }
  double apply(const BenchApply& message) { return read_every_element(message.sum.elements()); }
  using Handlers = zmesh::Handlers<&BenchReducer::gradient, &BenchReducer::apply>;
};

}  // namespace zmesh::tools
