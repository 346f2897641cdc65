#pragma once
// Seeded random shapes and selections for the property tests of selections and routing.
// Thread: each generator is owned by one test. Failure: none (inputs are generated valid).
// Case counts: property_cases(n) is n unless ZMESH_PROPERTY_CASES=N asks for N cases.

#include <fmt/format.h>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "zmesh/mesh/selection.hpp"
#include "zmesh/mesh/shape.hpp"

namespace zmesh::testing {

// `fallback` unless the environment variable ZMESH_PROPERTY_CASES holds a positive number.
inline std::size_t property_cases(std::size_t fallback) {
  const char* text = std::getenv("ZMESH_PROPERTY_CASES");
  if (text == nullptr) return fallback;
  const unsigned long long cases = std::strtoull(text, nullptr, 10);
  return cases > 0 ? static_cast<std::size_t>(cases) : fallback;
}

class RandomGeometry {
 public:
  static constexpr std::size_t kMaxDims = 5;
  static constexpr std::size_t kMaxSize = 9;
  static constexpr std::size_t kMaxDepth = 4;

  explicit RandomGeometry(std::uint64_t seed) : random_(seed) {}

  std::mt19937_64& engine() { return random_; }

  std::size_t uniform(std::size_t low, std::size_t high) {  // inclusive
    return std::uniform_int_distribution<std::size_t>(low, high)(random_);
  }
  bool chance(double probability) { return std::bernoulli_distribution(probability)(random_); }

  // A dense extent of 0..5 dimensions (rarely 0) with sizes 1..9 and at most `max_ranks`
  // points.
  Extent extent(std::size_t max_ranks) {
    const std::size_t num_dims = chance(0.05) ? 0 : uniform(1, kMaxDims);
    std::vector<std::string> labels;
    std::vector<std::size_t> sizes;
    std::size_t ranks = 1;
    for (std::size_t i = 0; i < num_dims; ++i) {
      const std::size_t size = uniform(1, std::min(kMaxSize, max_ranks / ranks));
      // fmt, not "d" + std::to_string(i): GCC 12 at -O3 raises a false -Werror=restrict in
      // the inlined string concatenation.
      labels.push_back(fmt::format("d{}", i));
      sizes.push_back(size);
      ranks *= size;
    }
    return Extent::create(std::move(labels), std::move(sizes)).value();
  }

  // A shape that is, half of the time, a strided view cut from a bigger dense one by a few
  // select() and at() calls, so that base ranks and view ranks differ.
  Shape shape(std::size_t max_ranks) {
    Shape shape(extent(max_ranks));
    if (chance(0.5)) return shape;
    const std::size_t cuts = uniform(1, 3);
    for (std::size_t i = 0; i < cuts && shape.num_dims() > 0; ++i) {
      const std::size_t dim = uniform(0, shape.num_dims() - 1);
      const std::string label = shape.labels()[dim];
      const std::size_t size = shape.slice().sizes()[dim];
      if (chance(0.25) && shape.num_dims() > 1) {
        shape = shape.at(label, uniform(0, size - 1)).value();
      } else {
        const std::size_t begin = uniform(0, size - 1);
        const std::size_t end = uniform(begin + 1, size);
        shape = shape.select(label, begin, end, uniform(1, 3)).value();
      }
    }
    return shape;
  }

  // A selection that fits `sizes` from dimension `dim` on, nesting at most `depth` levels.
  Selection selection(const std::vector<std::size_t>& sizes, std::size_t dim = 0,
                      std::size_t depth = kMaxDepth) {
    const std::size_t remaining = sizes.size() - dim;
    // Mostly one-dimensional selections and chains, which select something; constants,
    // unions and intersections often enough to reach every evaluation path.
    const std::size_t roll = uniform(0, 99);
    if (roll < 10 || remaining == 0) return chance(0.7) ? Selection::true_() : Selection::false_();
    if (roll < 40 || depth == 0) return one_dimensional(sizes[dim], depth);
    if (roll < 75) {
      const std::size_t length = uniform(1, remaining);
      std::vector<Selection> groups;
      for (std::size_t i = 0; i + 1 < length; ++i) {
        groups.push_back(one_dimensional(sizes[dim + i], depth - 1));
      }
      groups.push_back(selection(sizes, dim + length - 1, depth - 1));
      return Selection::chain(std::move(groups)).value();
    }
    std::vector<Selection> members;
    const std::size_t count = uniform(2, 3);
    for (std::size_t i = 0; i < count; ++i) members.push_back(selection(sizes, dim, depth - 1));
    return roll < 88 ? Selection::union_of(std::move(members))
                     : Selection::intersection_of(std::move(members));
  }

  // A one-dimensional selection for a dimension of `size` indices.
  Selection one_dimensional(std::size_t size, std::size_t depth) {
    const std::size_t choice = uniform(0, depth == 0 ? 5 : 7);
    switch (choice) {
      case 0:
        return Selection::all();
      case 1:
        return Selection::any();
      case 2:
        return Selection::first();
      case 3:
        return Selection::index(uniform(0, size - 1));
      case 4:
      case 5: {
        const std::size_t begin = uniform(0, size - 1);
        std::optional<std::size_t> end;
        if (chance(0.7)) end = uniform(begin + 1, size);
        return Selection::range(begin, end, uniform(1, 3)).value();
      }
      default: {
        std::vector<Selection> members;
        const std::size_t count = uniform(2, 3);
        for (std::size_t i = 0; i < count; ++i) members.push_back(one_dimensional(size, depth - 1));
        return choice == 6 ? Selection::union_of(std::move(members))
                           : Selection::intersection_of(std::move(members));
      }
    }
  }

 private:
  std::mt19937_64 random_;
};

}  // namespace zmesh::testing
