#include "zmesh/mesh/shape.hpp"

#include "zmesh/mesh/internal/extent_text.hpp"

namespace zmesh {

namespace {

constexpr std::string_view kShapeHint =
    "a shape looks like {host=2,gpu=8}, a view of one like {host=2,gpu=4}@3[16,2]";

}  // namespace

Shape::Shape(const Extent& extent)
    // An Extent's sizes are valid and their product fits, so row_major cannot fail.
    : extent_(extent), slice_(Slice::row_major(extent.sizes()).value()) {}

Result<Shape> Shape::create(std::vector<std::string> labels, Slice slice) {
  auto extent = Extent::create(std::move(labels), slice.sizes());
  if (!extent) return std::move(extent).error();
  return Shape(std::move(extent).value(), std::move(slice));
}

Result<Shape> Shape::parse(std::string_view text) {
  using internal::parse_error_at;
  using internal::read_required_number;
  internal::TextCursor cursor(text);
  auto extent = internal::read_extent(cursor, kShapeHint);
  if (!extent) return std::move(extent).error();
  if (!cursor.consume('@')) {
    cursor.skip_spaces();
    if (!cursor.at_end()) return parse_error_at(cursor, "'@' or end of text after '}'", kShapeHint);
    return Shape(*extent);
  }
  auto offset = read_required_number(cursor, "the view's offset after '@'", kShapeHint);
  if (!offset) return std::move(offset).error();
  if (!cursor.consume('[')) return parse_error_at(cursor, "'[' and the view's strides", kShapeHint);
  std::vector<std::size_t> strides;
  if (!cursor.consume(']')) {
    do {
      auto stride = read_required_number(cursor, "a stride", kShapeHint);
      if (!stride) return std::move(stride).error();
      strides.push_back(*stride);
    } while (cursor.consume(','));
    if (!cursor.consume(']')) return parse_error_at(cursor, "',' or ']'", kShapeHint);
  }
  cursor.skip_spaces();
  if (!cursor.at_end()) return parse_error_at(cursor, "end of text after ']'", kShapeHint);
  if (strides.size() != extent->num_dims()) {
    return make_error(ErrorCode::invalid_argument,
                      "shape \"" + std::string(text) + "\" has " +
                          std::to_string(extent->num_dims()) + " dimensions but " +
                          std::to_string(strides.size()) + " strides; give one per dimension");
  }
  auto slice = Slice::create(*offset, extent->sizes(), std::move(strides));
  if (!slice) return std::move(slice).error();
  return Shape(std::move(extent).value(), std::move(slice).value());
}

Result<Shape> Shape::select(std::string_view label, std::size_t begin, std::size_t end,
                            std::size_t step) const {
  auto dim = extent_.dim_of(label);
  if (!dim) return std::move(dim).error();
  const std::size_t size = slice_.sizes()[*dim];
  const std::string what = "select " + std::string(label) + "=" + std::to_string(begin) + ":" +
                           std::to_string(end) + ":" + std::to_string(step) + " on " +
                           extent_.to_string();
  if (step == 0) {
    return make_error(ErrorCode::invalid_argument, what + " failed: the step must be at least 1");
  }
  if (begin >= end) {
    return make_error(ErrorCode::invalid_argument,
                      what + " failed: the range is empty; end must be greater than begin");
  }
  if (end > size) {
    return make_error(ErrorCode::invalid_argument, what + " failed: " + std::string(label) +
                                                       " has " + std::to_string(size) + " indices");
  }
  auto slice = slice_.select(*dim, begin, end, step);
  if (!slice) return std::move(slice).error();
  return create(labels(), std::move(slice).value());
}

Result<Shape> Shape::at(std::string_view label, std::size_t index) const {
  auto dim = extent_.dim_of(label);
  if (!dim) return std::move(dim).error();
  const std::size_t size = slice_.sizes()[*dim];
  if (index >= size) {
    return make_error(ErrorCode::invalid_argument,
                      "at " + std::string(label) + "=" + std::to_string(index) + " on " +
                          extent_.to_string() + " failed: " + std::string(label) + " has " +
                          std::to_string(size) + " indices");
  }
  auto slice = slice_.at(*dim, index);
  if (!slice) return std::move(slice).error();
  auto labels_left = labels();
  labels_left.erase(labels_left.begin() + static_cast<std::ptrdiff_t>(*dim));
  return create(std::move(labels_left), std::move(slice).value());
}

Result<std::size_t> Shape::base_rank_of(std::size_t view_rank) const {
  return slice_.base_rank_of(view_rank);
}

Result<std::size_t> Shape::base_rank_of(const Point& point) const {
  if (!(point.extent() == extent_)) {
    return make_error(ErrorCode::invalid_argument,
                      "point " + point.to_string() + " is not a point of " + extent_.to_string() +
                          "; it belongs to " + point.extent().to_string());
  }
  return slice_.base_rank_of(point.rank());
}

Result<std::size_t> Shape::view_rank_of(std::size_t base_rank) const {
  auto view_rank = slice_.view_rank_of(base_rank);
  if (!view_rank) {
    return make_error(ErrorCode::not_found,
                      "base rank " + std::to_string(base_rank) + " is not in " + to_string());
  }
  return view_rank;
}

Result<Point> Shape::point_of_base_rank(std::size_t base_rank) const {
  auto view_rank = view_rank_of(base_rank);
  if (!view_rank) return std::move(view_rank).error();
  return Point::of_rank(extent_, *view_rank);
}

std::string Shape::to_string() const {
  std::string text = extent_.to_string();
  if (slice_.is_dense()) return text;
  text += '@';
  text += std::to_string(slice_.offset());
  text += '[';
  for (std::size_t i = 0; i < slice_.num_dims(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(slice_.strides()[i]);
  }
  text += ']';
  return text;
}

}  // namespace zmesh
