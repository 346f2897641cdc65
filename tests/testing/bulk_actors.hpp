#pragma once
// Actors for bulk-payload tests: one that sums the float tensor it is cast (reading every
// element in place) and keeps it past its turn, to be summed again by a later message, and
// reports whether the elements lay in shared memory; and a data-parallel worker that replies
// a gradient tensor and takes the reduced one back.
// Thread: actors follow the runtime's rules.

#include "testing/shared_memory.hpp"
#include "zmesh/core/actor.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/tensor.hpp"

#include <csignal>
#include <optional>

#include <unistd.h>

namespace zmesh::testing {

struct SumTensor {
  ZMESH_MESSAGE("test.SumTensor");
  Tensor<float> values;
  MSGPACK_DEFINE(values);
};

// Sums again the tensor the last SumTensor brought, kept since its turn.
struct SumKeptTensor {
  ZMESH_MESSAGE("test.SumKeptTensor");
  MSGPACK_DEFINE();
};

struct TensorSums {
  ZMESH_MESSAGE("test.TensorSums");
  double sum = 0;       // of the elements
  double weighted = 0;  // of index * element: catches reordered or shifted elements
  std::uint64_t count = 0;
  TensorShape shape;
  std::uint32_t rank = 0;
  bool in_shared_memory = false;  // the elements lie in a shared-memory mapping (not copied)
  MSGPACK_DEFINE(sum, weighted, count, shape, rank, in_shared_memory);
};

// Reads every element of `tensor` in place.
inline TensorSums sums_of(Context& ctx, const Tensor<float>& tensor) {
  TensorSums sums;
  const auto elements = tensor.elements();
  for (std::size_t i = 0; i < elements.size(); ++i) {
    sums.sum += elements[i];
    sums.weighted += static_cast<double>(i) * elements[i];
  }
  sums.count = elements.size();
  sums.shape = tensor.shape();
  sums.rank = ctx.rank();
  sums.in_shared_memory = in_shared_mapping(elements.data());
  return sums;
}

class TensorSumActor : public Actor {
 public:
  TensorSums sum(Context& ctx, const SumTensor& message) {
    kept_ = message.values;  // shares the received frame: valid after this turn
    return sums_of(ctx, *kept_);
  }
  Result<TensorSums> sum_kept(Context& ctx, const SumKeptTensor&) {
    if (!kept_) return Error(ErrorCode::not_found, "no tensor was cast to this actor yet");
    return sums_of(ctx, *kept_);
  }
  using Handlers = zmesh::Handlers<&TensorSumActor::sum, &TensorSumActor::sum_kept>;

 private:
  std::optional<Tensor<float>> kept_;
};

// One step's backward pass: every rank replies a gradient of `size` floats; element i of rank
// r is (r + 1) * (i % 13) + step, small integers, so sums of many ranks stay exact.
struct Backward {
  ZMESH_MESSAGE("test.Backward");
  std::uint32_t step = 0;
  std::uint32_t size = 0;
  std::int64_t die_on_rank = -1;    // this rank's proc kills itself (SIGKILL) instead of replying
  std::int64_t odd_size_rank = -1;  // this rank replies one element more
  MSGPACK_DEFINE(step, size, die_on_rank, odd_size_rank);
};

// The reduced gradient, handed back to every rank (allreduce's result message).
struct ApplyGradient {
  ZMESH_MESSAGE("test.ApplyGradient");
  Tensor<float> gradient;
  MSGPACK_DEFINE(gradient);
};

// Sums of the gradient the last ApplyGradient brought.
struct SumApplied {
  ZMESH_MESSAGE("test.SumApplied");
  MSGPACK_DEFINE();
};

inline float gradient_element(std::uint32_t rank, std::uint32_t step, std::size_t i) {
  return static_cast<float>((rank + 1) * (i % 13) + step);
}

class GradientActor : public Actor {
 public:
  Tensor<float> backward(Context& ctx, const Backward& message) {
    if (message.die_on_rank == static_cast<std::int64_t>(ctx.rank())) ::kill(::getpid(), SIGKILL);
    const std::size_t size =
        message.size + (message.odd_size_rank == static_cast<std::int64_t>(ctx.rank()) ? 1 : 0);
    std::vector<float> gradient(size);
    for (std::size_t i = 0; i < size; ++i) gradient[i] = gradient_element(ctx.rank(), message.step, i);
    return Tensor<float>(std::move(gradient));
  }
  std::uint64_t apply(const ApplyGradient& message) {
    applied_ = message.gradient;
    return applied_->size();
  }
  Result<TensorSums> sum_applied(Context& ctx, const SumApplied&) {
    if (!applied_) return Error(ErrorCode::not_found, "no gradient was applied on this actor yet");
    return sums_of(ctx, *applied_);
  }
  using Handlers = zmesh::Handlers<&GradientActor::backward, &GradientActor::apply,
                                   &GradientActor::sum_applied>;

 private:
  std::optional<Tensor<float>> applied_;
};

}  // namespace zmesh::testing
