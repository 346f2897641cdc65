#pragma once
// Shape: labelled dimensions over a Slice (Monarch's Shape/Region) - the geometry of a mesh
// or of a view of one. select() keeps a dimension, at() drops it, and every view maps its
// ranks back to the base it was cut from.
// Text: "{host=2,gpu=8}" for a dense shape; a view adds "@offset[stride,...]", e.g.
// "{host=2,gpu=4}@3[16,2]" (offset 3, strides 16 and 2). parse(to_string()) == *this.
// Thread: immutable value type. Failure: Result; unknown label -> not_found, index or range
// out of bounds -> invalid_argument, malformed text -> parse_error; messages name the culprit.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zmesh/core/error.hpp"
#include "zmesh/mesh/extent.hpp"
#include "zmesh/mesh/point.hpp"
#include "zmesh/mesh/slice.hpp"

namespace zmesh {

class Shape {
 public:
  // -- construction --
  // The 0-d shape: one rank, base rank 0.
  Shape() = default;
  // The dense row-major shape of an extent.
  explicit Shape(const Extent& extent);
  // Labels must be valid extent labels, one per slice dimension.
  static Result<Shape> create(std::vector<std::string> labels, Slice slice);
  static Result<Shape> parse(std::string_view text);

  // -- geometry --
  // Labels and sizes of this view (not of its base).
  const Extent& extent() const noexcept { return extent_; }
  const std::vector<std::string>& labels() const noexcept { return extent_.labels(); }
  const Slice& slice() const noexcept { return slice_; }
  std::size_t num_dims() const noexcept { return slice_.num_dims(); }
  std::size_t num_ranks() const noexcept { return slice_.num_ranks(); }

  // -- views --
  // Keeps indices begin, begin+step, ... < end of a dimension; the dimension stays.
  Result<Shape> select(std::string_view label, std::size_t begin, std::size_t end,
                       std::size_t step = 1) const;
  // Fixes one index of a dimension and drops the dimension.
  Result<Shape> at(std::string_view label, std::size_t index) const;

  // -- points and ranks --
  // Points of this view (coordinates relative to the view), in view-rank order.
  PointRange points() const { return PointRange(extent_); }
  Result<std::size_t> base_rank_of(std::size_t view_rank) const;
  Result<std::size_t> base_rank_of(const Point& point) const;
  Result<std::size_t> view_rank_of(std::size_t base_rank) const;
  Result<Point> point_of_base_rank(std::size_t base_rank) const;
  // Every base rank, in view-rank order.
  std::vector<std::size_t> base_ranks() const { return slice_.base_ranks(); }

  // -- text --
  std::string to_string() const;

  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    return a.extent_ == b.extent_ && a.slice_ == b.slice_;
  }

 private:
  Shape(Extent extent, Slice slice) : extent_(std::move(extent)), slice_(std::move(slice)) {}

  Extent extent_;
  Slice slice_;
};

}  // namespace zmesh
