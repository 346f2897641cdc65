#pragma once
// Point: one position in an Extent (its coordinates and its row-major rank), written
// "host=1/2,gpu=3/8" (index/size per dimension) so that the text carries its extent.
// Thread: immutable value type. Failure: creation and parsing return Result (out-of-range
// coordinates or rank: invalid_argument; malformed text: parse_error).

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zmesh/core/error.hpp"
#include "zmesh/mesh/extent.hpp"

namespace zmesh {

class Point {
 public:
  // -- construction --
  static Result<Point> create(Extent extent, std::vector<std::size_t> coords);
  static Result<Point> of_rank(Extent extent, std::size_t rank);
  // Parses "host=1/2,gpu=3/8"; the empty text is the single point of the 0-d extent.
  static Result<Point> parse(std::string_view text);

  // -- access --
  const Extent& extent() const noexcept { return extent_; }
  const std::vector<std::size_t>& coords() const noexcept { return coords_; }
  std::size_t rank() const noexcept { return rank_; }
  // The coordinate on a named dimension; not_found names the label.
  Result<std::size_t> coord(std::string_view label) const;

  // -- text --
  std::string to_string() const;

  friend bool operator==(const Point& a, const Point& b) noexcept {
    return a.rank_ == b.rank_ && a.extent_ == b.extent_;
  }

 private:
  Point(Extent extent, std::vector<std::size_t> coords, std::size_t rank)
      : extent_(std::move(extent)), coords_(std::move(coords)), rank_(rank) {}

  Extent extent_;
  std::vector<std::size_t> coords_;
  std::size_t rank_ = 0;
};

// The points of an extent in rank order, computed lazily: for (const Point& p : points(e)).
class PointRange {
 public:
  class Iterator {
   public:
    using value_type = Point;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;

    Iterator() = default;
    Iterator(const Extent* extent, std::size_t rank) : extent_(extent), rank_(rank) {}
    // Ranks below num_ranks() always form a valid point, hence value().
    Point operator*() const { return Point::of_rank(*extent_, rank_).value(); }
    Iterator& operator++() {
      ++rank_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++rank_;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) noexcept {
      return a.rank_ == b.rank_;
    }

   private:
    const Extent* extent_ = nullptr;
    std::size_t rank_ = 0;
  };

  explicit PointRange(Extent extent) : extent_(std::move(extent)) {}
  Iterator begin() const { return Iterator(&extent_, 0); }
  Iterator end() const { return Iterator(&extent_, extent_.num_ranks()); }
  std::size_t size() const noexcept { return extent_.num_ranks(); }

 private:
  Extent extent_;
};

inline PointRange points(const Extent& extent) {
  return PointRange(extent);
}

}  // namespace zmesh
