#include "zmesh/mesh/extent.hpp"

#include <limits>

#include "zmesh/mesh/internal/extent_text.hpp"

namespace zmesh {

namespace {

constexpr std::string_view kExtentHint = "an extent looks like {host=2,gpu=8}";

}  // namespace

Extent::Extent() : dims_(std::make_shared<const Dims>()) {}

Result<Extent> Extent::create(std::vector<std::string> labels, std::vector<std::size_t> sizes) {
  if (labels.size() != sizes.size()) {
    return make_error(ErrorCode::invalid_argument,
                      "extent has " + std::to_string(labels.size()) + " labels but " +
                          std::to_string(sizes.size()) + " sizes; give one size per label");
  }
  std::size_t num_ranks = 1;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!internal::is_identifier(labels[i])) {
      return make_error(ErrorCode::invalid_argument,
                        "extent label \"" + labels[i] +
                            "\" is not an identifier; use letters, digits and '_', "
                            "not starting with a digit");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[j] == labels[i]) {
        return make_error(ErrorCode::invalid_argument,
                          "extent label \"" + labels[i] + "\" appears twice (dimensions " +
                              std::to_string(j) + " and " + std::to_string(i) +
                              "); each dimension needs its own label");
      }
    }
    if (sizes[i] == 0) {
      return make_error(ErrorCode::invalid_argument,
                        "extent dimension \"" + labels[i] +
                            "\" has size 0; every dimension needs at least one index");
    }
    if (num_ranks > std::numeric_limits<std::size_t>::max() / sizes[i]) {
      return make_error(
          ErrorCode::invalid_argument,
          "extent is too large: the product of its sizes overflows at \"" + labels[i] + "\"");
    }
    num_ranks *= sizes[i];
  }
  auto dims = std::make_shared<Dims>();
  dims->labels = std::move(labels);
  dims->sizes = std::move(sizes);
  dims->num_ranks = num_ranks;
  return Extent(std::move(dims));
}

Result<Extent> Extent::create(std::vector<std::pair<std::string, std::size_t>> dimensions) {
  std::vector<std::string> labels;
  std::vector<std::size_t> sizes;
  for (auto& [label, size] : dimensions) {
    labels.push_back(std::move(label));
    sizes.push_back(size);
  }
  return create(std::move(labels), std::move(sizes));
}

Result<Extent> Extent::parse(std::string_view text) {
  internal::TextCursor cursor(text);
  auto extent = internal::read_extent(cursor, kExtentHint);
  if (!extent) return extent;
  cursor.skip_spaces();
  if (!cursor.at_end()) {
    return internal::parse_error_at(cursor, "end of text after '}'", kExtentHint);
  }
  return extent;
}

Result<std::size_t> Extent::dim_of(std::string_view label) const {
  for (std::size_t i = 0; i < num_dims(); ++i) {
    if (labels()[i] == label) return i;
  }
  return make_error(ErrorCode::not_found, "no dimension \"" + std::string(label) + "\" in " +
                                              to_string() + " (dimensions: " + list_labels(*this) +
                                              ")");
}

Result<std::size_t> Extent::rank_of(std::span<const std::size_t> coords) const {
  if (coords.size() != num_dims()) {
    return make_error(ErrorCode::invalid_argument,
                      std::to_string(coords.size()) + " coordinates given for " + to_string() +
                          ", which has " + std::to_string(num_dims()) + " dimensions");
  }
  std::size_t rank = 0;
  for (std::size_t i = 0; i < num_dims(); ++i) {
    if (coords[i] >= sizes()[i]) {
      return make_error(ErrorCode::invalid_argument,
                        "coordinate " + std::to_string(coords[i]) + " is out of range for " +
                            labels()[i] + " in " + to_string() + ": " + labels()[i] + " has " +
                            std::to_string(sizes()[i]) + " indices");
    }
    rank = rank * sizes()[i] + coords[i];
  }
  return rank;
}

Result<std::vector<std::size_t>> Extent::coords_of(std::size_t rank) const {
  if (rank >= num_ranks()) {
    return make_error(ErrorCode::invalid_argument,
                      "rank " + std::to_string(rank) + " is out of range for " + to_string() +
                          ", which has " + std::to_string(num_ranks()) + " ranks");
  }
  std::vector<std::size_t> coords(num_dims());
  for (std::size_t i = num_dims(); i-- > 0;) {
    coords[i] = rank % sizes()[i];
    rank /= sizes()[i];
  }
  return coords;
}

std::string Extent::to_string() const {
  std::string text = "{";
  for (std::size_t i = 0; i < num_dims(); ++i) {
    if (i > 0) text += ',';
    text += labels()[i];
    text += '=';
    text += std::to_string(sizes()[i]);
  }
  text += '}';
  return text;
}

bool operator==(const Extent& a, const Extent& b) noexcept {
  return a.dims_ == b.dims_ || (a.labels() == b.labels() && a.sizes() == b.sizes());
}

std::string list_labels(const Extent& extent) {
  if (extent.num_dims() == 0) return "none";
  std::string text;
  for (const auto& label : extent.labels()) {
    if (!text.empty()) text += ", ";
    text += label;
  }
  return text;
}

namespace internal {

Result<Extent> read_extent(TextCursor& cursor, std::string_view hint) {
  if (!cursor.consume('{')) return parse_error_at(cursor, "'{'", hint);
  std::vector<std::string> labels;
  std::vector<std::size_t> sizes;
  if (!cursor.consume('}')) {
    do {
      cursor.skip_spaces();
      const std::string_view label = cursor.read_word();
      if (label.empty()) return parse_error_at(cursor, "a dimension label", hint);
      if (!cursor.consume('=')) return parse_error_at(cursor, "'=' after the label", hint);
      auto size = read_required_number(cursor, "a size", hint);
      if (!size) return std::move(size).error();
      labels.emplace_back(label);
      sizes.push_back(*size);
    } while (cursor.consume(','));
    if (!cursor.consume('}')) return parse_error_at(cursor, "',' or '}'", hint);
  }
  return Extent::create(std::move(labels), std::move(sizes));
}

}  // namespace internal

}  // namespace zmesh
