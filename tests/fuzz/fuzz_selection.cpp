// fuzz_selection: feeds the input, as text, to the mesh geometry parsers: parse_selection
// (mesh/selection_text.hpp), Shape::parse, Extent::parse and Point::parse (mesh/shape.hpp,
// extent.hpp, point.hpp). Selections arrive from users and tools, shapes from the wire (every
// comm-tree Cast carries its shape as text).
// Asserts: no crash, leak or UB on any text; a parse failure is parse_error (or
// invalid_argument for well-formed text with impossible values); whatever parses prints
// (to_string) to text that parses to an equal value and prints identically; a parsed selection
// evaluated on a few small fixed shapes (dense and views) never crashes, check_fits agrees with
// eval, contains() agrees with eval() on every point, and a delivery plan over it
// (DeliveryPlan::create) reaches exactly the evaluated ranks. A parsed shape small enough is
// evaluated with a few fixed selections.

#include "fuzz_check.hpp"

#include "zmesh/comm/routing.hpp"
#include "zmesh/mesh/extent.hpp"
#include "zmesh/mesh/point.hpp"
#include "zmesh/mesh/selection.hpp"
#include "zmesh/mesh/selection_eval.hpp"
#include "zmesh/mesh/selection_text.hpp"
#include "zmesh/mesh/shape.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace zmesh;

void check_parse_failure(const Error& error, std::string_view text) {
  FUZZ_CHECK(error.code == ErrorCode::parse_error || error.code == ErrorCode::invalid_argument,
             fmt::format("parsing \"{}\" failed with {}", text, error.describe()));
}

const std::vector<Shape>& fixed_shapes() {
  static const std::vector<Shape> shapes = [] {
    std::vector<Shape> result;
    for (const char* text : {"{}", "{gpu=8}", "{host=2,gpu=4}", "{a=2,b=3,c=2}",
                             "{host=2,gpu=2}@1[8,2]"}) {
      result.push_back(Shape::parse(text).value());
    }
    return result;
  }();
  return shapes;
}

void evaluate(const Selection& selection, const Shape& shape, std::uint64_t seed) {
  auto fits = check_fits(selection, shape);
  auto ranks = eval(selection, shape, seed);
  FUZZ_CHECK(fits.ok() == ranks.ok(),
             fmt::format("check_fits and eval disagree on \"{}\" over {}", to_string(selection),
                         shape.to_string()));
  if (!ranks) {
    FUZZ_CHECK(ranks.error().code == ErrorCode::invalid_argument, ranks.error().describe());
    return;
  }
  FUZZ_CHECK(std::is_sorted(ranks->begin(), ranks->end()) &&
                 std::adjacent_find(ranks->begin(), ranks->end()) == ranks->end(),
             "eval's ranks are not ascending and distinct");
  FUZZ_CHECK(ranks->size() <= shape.num_ranks(), "eval chose more ranks than the shape has");
  for (std::size_t view_rank = 0; view_rank < shape.num_ranks(); ++view_rank) {
    auto point = Point::of_rank(shape.extent(), view_rank);
    FUZZ_CHECK(point.ok(), "a view rank of a fixed shape has no point");
    auto in = contains(selection, *point, seed);
    FUZZ_CHECK(in.ok(), fmt::format("contains fails where eval works: {}", in.error().describe()));
    const std::size_t base = shape.base_rank_of(view_rank).value();
    const bool chosen = std::binary_search(ranks->begin(), ranks->end(), base);
    FUZZ_CHECK(*in == chosen,
               fmt::format("contains and eval disagree on \"{}\" over {} at {} (seed {})",
                           to_string(selection), shape.to_string(), point->to_string(), seed));
  }
  for (std::size_t fanout : {1, 3}) {
    auto plan = DeliveryPlan::create(shape, selection, fanout, seed);
    FUZZ_CHECK(plan.ok() && plan->ranks() == *ranks,
               "a delivery plan does not reach exactly the evaluated ranks");
    for (std::size_t rank : *ranks) {
      FUZZ_CHECK(plan->children_of(rank).ok() && plan->parent_of(rank).ok() &&
                     plan->subtree_of(rank).ok(),
                 "a planned rank has no place in its plan");
    }
  }
}

void fuzz_selection(std::string_view text) {
  auto parsed = parse_selection(text);
  if (!parsed) return check_parse_failure(parsed.error(), text);
  const std::string printed = to_string(*parsed);
  auto reparsed = parse_selection(printed);
  FUZZ_CHECK(reparsed.ok(), fmt::format("\"{}\" prints as \"{}\", which does not parse: {}", text,
                                        printed, reparsed.error().describe()));
  FUZZ_CHECK(*reparsed == *parsed,
             fmt::format("\"{}\" prints as \"{}\", which parses differently", text, printed));
  FUZZ_CHECK(to_string(*reparsed) == printed, "printing is not stable");
  (void)parsed->is_one_dimensional();
  (void)parsed->depth();
  for (const Shape& shape : fixed_shapes()) {
    for (std::uint64_t seed : {0ull, 7ull}) evaluate(*parsed, shape, seed);
  }
}

void fuzz_shape(std::string_view text) {
  auto shape = Shape::parse(text);
  if (!shape) return check_parse_failure(shape.error(), text);
  const std::string printed = shape->to_string();
  auto again = Shape::parse(printed);
  FUZZ_CHECK(again.ok() && *again == *shape,
             fmt::format("shape \"{}\" prints as \"{}\", which does not parse back", text, printed));
  FUZZ_CHECK(again->to_string() == printed, "shape printing is not stable");
  if (shape->num_ranks() > 256) return;  // keep each input quick
  const auto base = shape->base_ranks();
  for (std::size_t view_rank = 0; view_rank < base.size(); ++view_rank) {
    FUZZ_CHECK(shape->base_rank_of(view_rank).value() == base[view_rank] &&
                   shape->view_rank_of(base[view_rank]).value() == view_rank,
               "base_rank_of and view_rank_of are not inverse");
    auto point = shape->point_of_base_rank(base[view_rank]);
    FUZZ_CHECK(point.ok() && shape->base_rank_of(*point).value() == base[view_rank],
               "point_of_base_rank and base_rank_of are not inverse");
  }
  for (const char* selection : {"*", "?", "first", "0", "1:", "*,0|0,*"}) {
    evaluate(parse_selection(selection).value(), *shape, 3);
  }
}

void fuzz_extent_and_point(std::string_view text) {
  if (auto extent = Extent::parse(text)) {
    const std::string printed = extent->to_string();
    auto again = Extent::parse(printed);
    FUZZ_CHECK(again.ok() && *again == *extent,
               fmt::format("extent \"{}\" prints as \"{}\", which does not parse back", text,
                           printed));
  } else {
    check_parse_failure(extent.error(), text);
  }
  if (auto point = Point::parse(text)) {
    const std::string printed = point->to_string();
    auto again = Point::parse(printed);
    FUZZ_CHECK(again.ok() && *again == *point,
               fmt::format("point \"{}\" prints as \"{}\", which does not parse back", text,
                           printed));
  } else {
    check_parse_failure(point.error(), text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;  // selections and shapes are short; long inputs only cost time
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz_selection(text);
  fuzz_shape(text);
  fuzz_extent_and_point(text);
  return 0;
}
