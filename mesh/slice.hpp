#pragma once
// Slice: a possibly strided sub-block of a bigger row-major space (the "base"): an offset,
// and a size and stride per dimension, so base rank = offset + sum(coord[i] * stride[i]).
// A view rank is the row-major rank of the coordinates inside the slice itself.
// Thread: value type. Failure: Result everywhere input can be wrong (invalid_argument names
// the dimension and the value); strides that would map two points to one rank are rejected.

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "zmesh/core/error.hpp"

namespace zmesh {

class Slice {
 public:
  // -- construction --
  // The 0-d slice: offset 0, one rank.
  Slice() = default;
  // Sizes at least 1; strides such that every point has its own base rank. A slice obtained
  // from a row-major space by at() and select() always qualifies.
  static Result<Slice> create(std::size_t offset, std::vector<std::size_t> sizes,
                              std::vector<std::size_t> strides);
  // Offset 0, strides of a dense row-major layout.
  static Result<Slice> row_major(std::vector<std::size_t> sizes);

  // -- layout --
  std::size_t offset() const noexcept { return offset_; }
  const std::vector<std::size_t>& sizes() const noexcept { return sizes_; }
  const std::vector<std::size_t>& strides() const noexcept { return strides_; }
  std::size_t num_dims() const noexcept { return sizes_.size(); }
  std::size_t num_ranks() const noexcept { return num_ranks_; }
  // Offset 0 and row-major strides: the slice is its own base.
  bool is_dense() const noexcept;

  // -- ranks --
  Result<std::size_t> base_rank(std::span<const std::size_t> coords) const;
  // Coordinates of a base rank; not_found if the slice does not contain it.
  Result<std::vector<std::size_t>> coords_of(std::size_t base_rank) const;
  bool contains(std::size_t base_rank) const;
  // View rank (row-major inside the slice) <-> base rank.
  Result<std::size_t> base_rank_of(std::size_t view_rank) const;
  Result<std::size_t> view_rank_of(std::size_t base_rank) const;
  // Every base rank, in view-rank order.
  std::vector<std::size_t> base_ranks() const;

  // -- sub-slices --
  // Fixes one coordinate and drops the dimension.
  Result<Slice> at(std::size_t dim, std::size_t index) const;
  // Keeps indices begin, begin+step, ... < end of one dimension (end <= size, begin < end).
  Result<Slice> select(std::size_t dim, std::size_t begin, std::size_t end,
                       std::size_t step = 1) const;

  // "offset=3 sizes=[2,4] strides=[16,2]", for messages.
  std::string to_string() const;

  friend bool operator==(const Slice&, const Slice&) = default;

 private:
  Slice(std::size_t offset, std::vector<std::size_t> sizes, std::vector<std::size_t> strides,
        std::size_t num_ranks)
      : offset_(offset),
        sizes_(std::move(sizes)),
        strides_(std::move(strides)),
        num_ranks_(num_ranks) {}
  // Greedy mixed-radix decomposition (see create()); false if the rank is not in the slice.
  // `coords` has num_dims() entries.
  bool find_coords(std::size_t base_rank, std::span<std::size_t> coords) const;

  std::size_t offset_ = 0;
  std::vector<std::size_t> sizes_;
  std::vector<std::size_t> strides_;
  std::size_t num_ranks_ = 1;
};

}  // namespace zmesh
