#pragma once
// Actors for bulk-payload tests: one that sums the float tensor it is cast (reading every
// element in place) and keeps it past its turn, to be summed again by a later message, and
// reports whether the elements lay in shared memory.
// Thread: actors follow the runtime's rules.

#include "testing/shared_memory.hpp"
#include "zmesh/core/actor.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/tensor.hpp"

#include <optional>

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
  static TensorSums sums_of(Context& ctx, const Tensor<float>& tensor) {
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

  std::optional<Tensor<float>> kept_;
};

}  // namespace zmesh::testing
