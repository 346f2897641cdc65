#pragma once
// The relay form of the element-wise tensor reducers (Sum, Min, Max and Mean over
// zmesh::Tensor<T>, reducer.hpp): they read a tensor's tag, shape and element frame from its
// encoded value and fold the elements where they lie, without decoding them as msgpack.
// Thread: free functions; the ReducerOps they return are immutable.
// Failure: a value that is not a tensor, or tensors of different shapes or element types,
// give a decode_error / invalid_argument naming both sides (the comm actor makes the ranks
// concerned missing with it).

#include "zmesh/mesh/reducer.hpp"

#include <optional>
#include <string_view>

namespace zmesh::internal {

// The reducer called `name` if it is an element-wise tensor reducer ("zmesh.tensor.sum",
// ".min", ".max", ".mean").
std::optional<ReducerOps> tensor_reducer(std::string_view name);

}  // namespace zmesh::internal
