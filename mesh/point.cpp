#include "zmesh/mesh/point.hpp"

#include "zmesh/mesh/internal/text_cursor.hpp"

namespace zmesh {

namespace {

constexpr std::string_view kPointHint = "a point looks like host=1/2,gpu=3/8";

}  // namespace

Result<Point> Point::create(Extent extent, std::vector<std::size_t> coords) {
  auto rank = extent.rank_of(coords);
  if (!rank) return std::move(rank).error();
  return Point(std::move(extent), std::move(coords), *rank);
}

Result<Point> Point::of_rank(Extent extent, std::size_t rank) {
  auto coords = extent.coords_of(rank);
  if (!coords) return std::move(coords).error();
  return Point(std::move(extent), std::move(coords).value(), rank);
}

Result<Point> Point::parse(std::string_view text) {
  using internal::parse_error_at;
  using internal::read_required_number;
  internal::TextCursor cursor(text);
  std::vector<std::string> labels;
  std::vector<std::size_t> sizes;
  std::vector<std::size_t> coords;
  cursor.skip_spaces();
  if (!cursor.at_end()) {
    do {
      cursor.skip_spaces();
      const std::string_view label = cursor.read_word();
      if (label.empty()) return parse_error_at(cursor, "a dimension label", kPointHint);
      if (!cursor.consume('=')) return parse_error_at(cursor, "'=' after the label", kPointHint);
      auto index = read_required_number(cursor, "an index", kPointHint);
      if (!index) return std::move(index).error();
      if (!cursor.consume('/')) {
        return parse_error_at(cursor, "'/' and the dimension size", kPointHint);
      }
      auto size = read_required_number(cursor, "the dimension size", kPointHint);
      if (!size) return std::move(size).error();
      labels.emplace_back(label);
      coords.push_back(*index);
      sizes.push_back(*size);
    } while (cursor.consume(','));
    cursor.skip_spaces();
    if (!cursor.at_end()) return parse_error_at(cursor, "',' or end of text", kPointHint);
  }
  // The text is well formed; what is left to fail is its values (size 0, index >= size).
  auto in_text = [&](Error error) {
    return make_error(error.code, "point \"" + std::string(text) + "\": " + error.message);
  };
  auto extent = Extent::create(std::move(labels), std::move(sizes));
  if (!extent) return in_text(std::move(extent).error());
  auto point = create(std::move(extent).value(), std::move(coords));
  if (!point) return in_text(std::move(point).error());
  return point;
}

Result<std::size_t> Point::coord(std::string_view label) const {
  auto dim = extent_.dim_of(label);
  if (!dim) return std::move(dim).error();
  return coords_[*dim];
}

std::string Point::to_string() const {
  std::string text;
  for (std::size_t i = 0; i < coords_.size(); ++i) {
    if (i > 0) text += ',';
    text += extent_.labels()[i];
    text += '=';
    text += std::to_string(coords_[i]);
    text += '/';
    text += std::to_string(extent_.sizes()[i]);
  }
  return text;
}

}  // namespace zmesh
