#include "zmesh/mesh/selection_eval.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <optional>
#include <span>
#include <string>

#include "zmesh/mesh/selection_text.hpp"

namespace zmesh {

namespace {

using Kind = Selection::Kind;
using Groups = std::span<const Selection>;

// What a fit error needs to describe the geometry: "{host=2,gpu=8}" and a name per dimension,
// both built only for an error: every cast checks its selection, and most fit.
struct Geometry {
  const std::vector<std::size_t>* sizes;
  const std::vector<std::string>* labels;  // nullptr: dimensions are named by number
  std::function<std::string()> description;

  std::string dim_name(std::size_t dim) const {
    return labels != nullptr ? (*labels)[dim] : "dimension " + std::to_string(dim);
  }
};

Geometry describe(const Shape& shape) {
  return {&shape.slice().sizes(), &shape.labels(), [&shape] { return shape.extent().to_string(); }};
}

Geometry describe(const Slice& slice) {
  return {&slice.sizes(), nullptr, [&slice] { return slice.to_string(); }};
}

Geometry describe(const Extent& extent) {
  return {&extent.sizes(), &extent.labels(), [&extent] { return extent.to_string(); }};
}

// The first range that does not fit, as "gpu has 8 indices, so ...".
std::optional<std::string> find_misfit(const Selection& selection, std::size_t dim,
                                       const Geometry& geometry) {
  switch (selection.kind()) {
    case Kind::false_:
    case Kind::true_:
    case Kind::all:
    case Kind::any:
    case Kind::first:
      return std::nullopt;
    case Kind::range: {
      const auto& range = selection.index_range();
      const std::size_t size = (*geometry.sizes)[dim];
      const std::string has =
          geometry.dim_name(dim) + " has " + std::to_string(size) + " indices, so ";
      const bool single = range.end && *range.end == range.begin + 1;
      if (range.begin >= size) {
        if (single) return has + "index " + std::to_string(range.begin) + " does not exist";
        return has + "range " + to_string(selection) + " starts past the end";
      }
      if (range.end && *range.end > size) {
        return has + "range " + to_string(selection) + " ends past them; leave the end out (" +
               std::to_string(range.begin) + ":) to go to the end";
      }
      return std::nullopt;
    }
    case Kind::chain:
      for (std::size_t i = 0; i < selection.members().size(); ++i) {
        if (auto misfit = find_misfit(selection.members()[i], dim + i, geometry)) return misfit;
      }
      return std::nullopt;
    case Kind::union_:
    case Kind::intersection:
      for (const auto& member : selection.members()) {
        if (auto misfit = find_misfit(member, dim, geometry)) return misfit;
      }
      return std::nullopt;
  }
  return std::nullopt;
}

Result<void> check_fits(const Selection& selection, const Geometry& geometry) {
  const std::size_t num_dims = geometry.sizes->size();
  std::optional<std::string> misfit;
  if (selection.depth() > num_dims) {
    misfit = "the selection constrains " + std::to_string(selection.depth()) +
             " dimensions and the shape has " + std::to_string(num_dims);
  } else {
    misfit = find_misfit(selection, 0, geometry);
  }
  if (!misfit) return {};
  return make_error(ErrorCode::invalid_argument, "selection \"" + to_string(selection) +
                                                     "\" does not fit " + geometry.description() +
                                                     ": " + *misfit);
}

// splitmix64's finalizer: a fixed, platform-independent mix for '?'.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::vector<std::size_t> merge(std::vector<std::vector<std::size_t>> parts, Kind kind) {
  std::vector<std::size_t> result = std::move(parts.front());
  for (std::size_t i = 1; i < parts.size(); ++i) {
    std::vector<std::size_t> next;
    if (kind == Kind::union_) {
      std::set_union(result.begin(), result.end(), parts[i].begin(), parts[i].end(),
                     std::back_inserter(next));
    } else {
      std::set_intersection(result.begin(), result.end(), parts[i].begin(), parts[i].end(),
                            std::back_inserter(next));
    }
    result = std::move(next);
  }
  return result;
}

// Walks a selection over a slice. A group list is a chain's remaining groups: the first
// applies at the current dimension, and an empty list means "every point from here on".
// prefix_ holds the coordinates fixed so far, which '?' hashes.
class Evaluator {
 public:
  Evaluator(const Slice& slice, std::uint64_t seed) : slice_(slice), seed_(seed) {}

  std::vector<std::size_t> eval(const Selection& selection) {
    std::vector<std::size_t> ranks;
    // Most casts select most ranks: room for all of them (up to a bound, for a selection of
    // a few ranks of a huge mesh) saves the vector's regrowth on every cast.
    ranks.reserve(std::min<std::size_t>(slice_.num_ranks(), 4096));
    collect(Groups(&selection, 1), 0, slice_.offset(), ranks);
    // Strides need not decrease with the dimension, so the walk order may not be rank order.
    std::sort(ranks.begin(), ranks.end());
    return ranks;
  }

  bool contains(const Selection& selection, const std::vector<std::size_t>& coords) {
    return contains(Groups(&selection, 1), 0, slice_.offset(), coords);
  }

 private:
  std::size_t size(std::size_t dim) const { return slice_.sizes()[dim]; }
  std::size_t stride(std::size_t dim) const { return slice_.strides()[dim]; }

  void collect_all(std::size_t dim, std::size_t base, std::vector<std::size_t>& out) {
    if (dim == slice_.num_dims()) {
      out.push_back(base);
      return;
    }
    for (std::size_t i = 0; i < size(dim); ++i) collect_all(dim + 1, base + i * stride(dim), out);
  }

  void collect(Groups groups, std::size_t dim, std::size_t base, std::vector<std::size_t>& out) {
    if (groups.empty()) return collect_all(dim, base, out);
    const Selection& group = groups.front();
    if (group.is_one_dimensional()) {
      for (std::size_t i : indices(group, dim, base, groups.subspan(1))) {
        prefix_.push_back(i);
        collect(groups.subspan(1), dim + 1, base + i * stride(dim), out);
        prefix_.pop_back();
      }
      return;
    }
    // Not one-dimensional, hence the last group: nothing follows it.
    switch (group.kind()) {
      case Kind::false_:
        return;
      case Kind::true_:
        return collect_all(dim, base, out);
      case Kind::chain:
        return collect(group.members(), dim, base, out);
      case Kind::union_:
      case Kind::intersection: {
        std::vector<std::vector<std::size_t>> parts;
        for (const auto& member : group.members()) {
          parts.emplace_back();
          collect(Groups(&member, 1), dim, base, parts.back());
          std::sort(parts.back().begin(), parts.back().end());
        }
        auto merged = merge(std::move(parts), group.kind());
        out.insert(out.end(), merged.begin(), merged.end());
        return;
      }
      case Kind::all:
      case Kind::any:
      case Kind::first:
      case Kind::range:
        return;  // one-dimensional, handled above
    }
  }

  bool selects_any(Groups groups, std::size_t dim, std::size_t base) {
    if (groups.empty()) return true;
    std::vector<std::size_t> ranks;
    collect(groups, dim, base, ranks);
    return !ranks.empty();
  }

  std::size_t pick(std::size_t dim) const {
    std::uint64_t hash = mix(seed_ ^ mix(dim));
    for (std::size_t coord : prefix_) hash = mix(hash ^ coord);
    return static_cast<std::size_t>(hash % size(dim));
  }

  std::size_t first_index(std::size_t dim, std::size_t base, Groups rest) {
    for (std::size_t i = 0; i < size(dim); ++i) {
      prefix_.push_back(i);
      const bool found = selects_any(rest, dim + 1, base + i * stride(dim));
      prefix_.pop_back();
      if (found) return i;
    }
    return size(dim);  // none
  }

  // The sorted indices a one-dimensional group chooses at `dim`; `rest` follows it.
  std::vector<std::size_t> indices(const Selection& group, std::size_t dim, std::size_t base,
                                   Groups rest) {
    std::vector<std::size_t> chosen;
    switch (group.kind()) {
      case Kind::all:
        for (std::size_t i = 0; i < size(dim); ++i) chosen.push_back(i);
        break;
      case Kind::any:
        chosen.push_back(pick(dim));
        break;
      case Kind::first:
        if (const std::size_t i = first_index(dim, base, rest); i < size(dim)) chosen.push_back(i);
        break;
      case Kind::range: {
        const auto& range = group.index_range();
        const std::size_t end = std::min(range.end.value_or(size(dim)), size(dim));
        for (std::size_t i = range.begin; i < end; i += range.step) {
          chosen.push_back(i);
          if (range.step > end - i) break;  // the next index would pass the end (or overflow)
        }
        break;
      }
      case Kind::union_:
      case Kind::intersection: {
        std::vector<std::vector<std::size_t>> parts;
        for (const auto& member : group.members()) {
          parts.push_back(indices(member, dim, base, rest));
        }
        chosen = merge(std::move(parts), group.kind());
        break;
      }
      case Kind::false_:
      case Kind::true_:
      case Kind::chain:
        break;  // not one-dimensional; callers never ask
    }
    return chosen;
  }

  bool chooses(const Selection& group, std::size_t dim, std::size_t index, std::size_t base,
               Groups rest) {
    switch (group.kind()) {
      case Kind::all:
        return true;
      case Kind::any:
        return index == pick(dim);
      case Kind::first:
        return index == first_index(dim, base, rest);
      case Kind::range: {
        const auto& range = group.index_range();
        return index >= range.begin && (!range.end || index < *range.end) &&
               (index - range.begin) % range.step == 0;
      }
      case Kind::union_:
        return std::any_of(group.members().begin(), group.members().end(),
                           [&](const auto& m) { return chooses(m, dim, index, base, rest); });
      case Kind::intersection:
        return std::all_of(group.members().begin(), group.members().end(),
                           [&](const auto& m) { return chooses(m, dim, index, base, rest); });
      case Kind::false_:
      case Kind::true_:
      case Kind::chain:
        return false;  // not one-dimensional; callers never ask
    }
    return false;
  }

  bool contains(Groups groups, std::size_t dim, std::size_t base,
                const std::vector<std::size_t>& coords) {
    if (groups.empty()) return true;
    const Selection& group = groups.front();
    if (group.is_one_dimensional()) {
      const std::size_t index = coords[dim];
      if (!chooses(group, dim, index, base, groups.subspan(1))) return false;
      prefix_.push_back(index);
      const bool inside = contains(groups.subspan(1), dim + 1, base + index * stride(dim), coords);
      prefix_.pop_back();
      return inside;
    }
    const auto& members = group.members();
    switch (group.kind()) {
      case Kind::false_:
        return false;
      case Kind::true_:
        return true;
      case Kind::chain:
        return contains(members, dim, base, coords);
      case Kind::union_:
        return std::any_of(members.begin(), members.end(), [&](const Selection& member) {
          return contains(Groups(&member, 1), dim, base, coords);
        });
      case Kind::intersection:
        return std::all_of(members.begin(), members.end(), [&](const Selection& member) {
          return contains(Groups(&member, 1), dim, base, coords);
        });
      case Kind::all:
      case Kind::any:
      case Kind::first:
      case Kind::range:
        return false;  // one-dimensional, handled above
    }
    return false;
  }

  const Slice& slice_;
  std::uint64_t seed_;
  std::vector<std::size_t> prefix_;
};

}  // namespace

Result<void> check_fits(const Selection& selection, const Shape& shape) {
  return check_fits(selection, describe(shape));
}

Result<std::vector<std::size_t>> eval(const Selection& selection, const Shape& shape,
                                      std::uint64_t seed) {
  if (auto fits = check_fits(selection, describe(shape)); !fits) return std::move(fits).error();
  return Evaluator(shape.slice(), seed).eval(selection);
}

Result<std::vector<std::size_t>> eval(const Selection& selection, const Slice& slice,
                                      std::uint64_t seed) {
  if (auto fits = check_fits(selection, describe(slice)); !fits) return std::move(fits).error();
  return Evaluator(slice, seed).eval(selection);
}

Result<bool> contains(const Selection& selection, const Point& point, std::uint64_t seed) {
  const Extent& extent = point.extent();
  if (auto fits = check_fits(selection, describe(extent)); !fits) return std::move(fits).error();
  // Any layout gives the same answer; a row-major one always exists for a valid extent.
  const Slice slice = Slice::row_major(extent.sizes()).value();
  return Evaluator(slice, seed).contains(selection, point.coords());
}

}  // namespace zmesh
