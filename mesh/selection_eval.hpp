#pragma once
// Evaluating a Selection on a shape: which base ranks it chooses (eval) and whether it
// chooses one point (contains). Both are deterministic functions of (selection, geometry,
// seed): the seed only steers '?', so every node of a cast computes the same set.
// Thread: pure functions. Failure: a selection that does not fit the shape (a range past a
// dimension's end, more dimensions than the shape has) is invalid_argument, e.g.
// `selection "*,0:9" does not fit {host=2,gpu=8}: gpu has 8 indices, so range 0:9 ends past them`.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "zmesh/core/error.hpp"
#include "zmesh/mesh/point.hpp"
#include "zmesh/mesh/selection.hpp"
#include "zmesh/mesh/shape.hpp"
#include "zmesh/mesh/slice.hpp"

namespace zmesh {

// Succeeds if every range of the selection fits the dimension it applies to and the shape
// has as many dimensions as the selection constrains.
Result<void> check_fits(const Selection& selection, const Shape& shape);

// The base ranks chosen, sorted ascending, each once.
Result<std::vector<std::size_t>> eval(const Selection& selection, const Shape& shape,
                                      std::uint64_t seed = 0);
// As above for an unlabelled slice (messages name dimensions by index).
Result<std::vector<std::size_t>> eval(const Selection& selection, const Slice& slice,
                                      std::uint64_t seed = 0);

// Whether the selection chooses `point`, whose extent is the shape (or view) selected from.
// Agrees with eval() on the same geometry and seed.
Result<bool> contains(const Selection& selection, const Point& point, std::uint64_t seed = 0);

}  // namespace zmesh
