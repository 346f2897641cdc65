#pragma once
// Extent: the named dimensions of a mesh and their sizes, e.g. {host=2,gpu=8}, with
// row-major ranks (the last dimension varies fastest). The 0-d extent {} has one point.
// Thread: immutable value type, cheap to copy (shared storage), safe to share between threads.
// Failure: construction and parsing return Result: size 0, duplicate or non-identifier labels
// and more than SIZE_MAX ranks are invalid_argument; malformed text is parse_error.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zmesh/core/error.hpp"

namespace zmesh {

class Extent {
 public:
  // -- construction --
  // The 0-d extent: no dimensions, exactly one point (rank 0).
  Extent();
  // Labels must be identifiers ([A-Za-z_][A-Za-z0-9_]*), unique; sizes at least 1.
  static Result<Extent> create(std::vector<std::string> labels, std::vector<std::size_t> sizes);
  static Result<Extent> create(std::vector<std::pair<std::string, std::size_t>> dimensions);
  // Parses "{host=2,gpu=8}" (spaces allowed around tokens); "{}" is the 0-d extent.
  static Result<Extent> parse(std::string_view text);

  // -- dimensions --
  std::size_t num_dims() const noexcept { return dims_->labels.size(); }
  const std::vector<std::string>& labels() const noexcept { return dims_->labels; }
  const std::vector<std::size_t>& sizes() const noexcept { return dims_->sizes; }
  // Index of a label; not_found names the label and lists the dimensions.
  Result<std::size_t> dim_of(std::string_view label) const;
  // Number of points (the product of the sizes; 1 for the 0-d extent).
  std::size_t num_ranks() const noexcept { return dims_->num_ranks; }

  // -- ranks --
  // Row-major rank of coordinates; invalid_argument names the dimension out of range.
  Result<std::size_t> rank_of(std::span<const std::size_t> coords) const;
  // Inverse of rank_of; invalid_argument if rank >= num_ranks().
  Result<std::vector<std::size_t>> coords_of(std::size_t rank) const;

  // -- text --
  // "{host=2,gpu=8}"; parse(to_string()) gives an equal extent.
  std::string to_string() const;

  friend bool operator==(const Extent& a, const Extent& b) noexcept;

 private:
  struct Dims {
    std::vector<std::string> labels;
    std::vector<std::size_t> sizes;
    std::size_t num_ranks = 1;
  };
  explicit Extent(std::shared_ptr<const Dims> dims) : dims_(std::move(dims)) {}

  std::shared_ptr<const Dims> dims_;
};

// "host, gpu": the labels of an extent for "dimensions: ..." hints.
std::string list_labels(const Extent& extent);

}  // namespace zmesh
