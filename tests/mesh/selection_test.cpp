// Selections: the text grammar (round trips, structure, every parse error), evaluation on
// shapes and views, and a property test of eval() against brute-force contains().
//
// The property test runs a fixed number of seeded random cases; set ZMESH_PROPERTY_CASES=N
// in the environment to run N cases instead (e.g. 200000 for a long soak). A failure prints
// the case's shape, selection and seed, which is enough to reproduce it by hand.

#include "zmesh/mesh/selection.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "mesh/random_geometry.hpp"
#include "zmesh/mesh/selection_eval.hpp"
#include "zmesh/mesh/selection_text.hpp"
#include "zmesh/mesh/shape.hpp"

namespace zmesh {
namespace {

using Ranks = std::vector<std::size_t>;

Selection parse(const std::string& text) {
  auto selection = parse_selection(text);
  EXPECT_TRUE(selection) << text << ": " << selection.error().describe();
  return selection.value_or(Selection::false_());
}

Shape shape_of(const std::string& text) {
  return Shape::parse(text).value();
}

Ranks eval_text(const std::string& selection, const std::string& shape, std::uint64_t seed = 0) {
  auto ranks = eval(parse(selection), shape_of(shape), seed);
  EXPECT_TRUE(ranks) << selection << " on " << shape << ": " << ranks.error().describe();
  return ranks.value_or(Ranks{});
}

Selection range(std::size_t begin, std::optional<std::size_t> end, std::size_t step = 1) {
  return Selection::range(begin, end, step).value();
}

Selection chain(std::vector<Selection> groups) {
  return Selection::chain(std::move(groups)).value();
}

// -- text: round trips and structure --

TEST(SelectionTextTest, PrintsCanonicalTextThatParsesBack) {
  struct Case {
    const char* text;
    const char* printed;
  };
  const Case cases[] = {
      {"*", "*"},
      {"?", "?"},
      {"first", "first"},
      {"true", "true"},
      {"false", "false"},
      {"3", "3"},
      {"3:4", "3"},
      {"3:4:2", "3:4:2"},
      {":", "0:"},
      {"4:", "4:"},
      {":4", "0:4"},
      {"1:7:2", "1:7:2"},
      {"::3", "0::3"},
      {"2::3", "2::3"},
      {":8:3", "0:8:3"},
      {"*,0:4,*", "*,0:4,*"},
      {"*,*,(1:4|5:6)", "*,*,(1:4|5)"},
      {"*,*,(1:4|5:7)", "*,*,(1:4|5:7)"},
      {"*,*,1:4|5:7", "*,*,1:4|5:7"},
      {"(1:4|5:7),*", "(1:4|5:7),*"},
      {"(0,*)|(*,0)", "0,*|*,0"},
      {"0,?,:4", "0,?,0:4"},
      {"*&*", "*&*"},
      {"((1:4),2)", "1:4,2"},
      {"1|2&3", "1|2&3"},
      {"(1|2)&3", "(1|2)&3"},
      {"1|(2|3)", "1|2|3"},
      {"(1&2)&3", "1&2&3"},
      {"0,(1,2)", "0,1,2"},
      {"0,(1,2|3)", "0,(1,2|3)"},
      {"*,(first|?)&(0:2),true", "*,(first|?)&0:2,true"},
      {"0,false", "0,false"},
      {"((((((((*))))))))", "*"},
      {"(1&2|3),4", "(1&2|3),4"},
  };
  for (const Case& c : cases) {
    const Selection selection = parse(c.text);
    EXPECT_EQ(to_string(selection), c.printed) << c.text;
    EXPECT_EQ(parse(to_string(selection)), selection) << c.text;
  }
}

TEST(SelectionTextTest, WhitespaceDoesNotMatter) {
  const char* variants[] = {"*,*,(1:4|5:6)", " * , * , ( 1 : 4 | 5 : 6 ) ", "*,*,(1:4|5:6)\n",
                            "\t*,\t*,(1:4 |5:6)"};
  for (const char* text : variants) EXPECT_EQ(parse(text), parse(variants[0])) << text;
  EXPECT_EQ(parse(" first , true "), parse("first,true"));
  EXPECT_EQ(parse("1 : : 2"), parse("1::2"));
}

TEST(SelectionTextTest, ParsesToTheExpectedTree) {
  EXPECT_EQ(parse("*"), Selection::all());
  EXPECT_EQ(parse("7"), Selection::index(7));
  EXPECT_EQ(parse("2:"), range(2, std::nullopt));
  EXPECT_EQ(parse("*,0:4"), chain({Selection::all(), range(0, 4)}));
  EXPECT_EQ(parse("*,*,(1:4|5:6)"),
            chain({Selection::all(), Selection::all(), range(1, 4) | range(5, 6)}));
  EXPECT_EQ(parse("*,*,1:4|5:6"),
            chain({Selection::all(), Selection::all(), range(1, 4)}) | range(5, 6));
  EXPECT_EQ(parse("1|2&3"), Selection::index(1) | (Selection::index(2) & Selection::index(3)));
  EXPECT_EQ(parse("0,(1,2)"),
            chain({Selection::index(0), Selection::index(1), Selection::index(2)}));
  EXPECT_EQ(parse("(0|1),?"), chain({Selection::index(0) | Selection::index(1), Selection::any()}));
}

TEST(SelectionTextTest, ParseErrorsPointAtTheColumn) {
  struct Case {
    std::string text;
    std::size_t column;
    const char* expected;
  };
  const std::string deep = std::string(65, '(') + "*" + std::string(65, ')');
  const Case cases[] = {
      {"", 1, "the selection is empty"},
      {"   ", 4, "the selection is empty"},
      {"*,0:x", 5, "expected a number"},
      {"*,", 3, "expected a selection"},
      {"*|", 3, "expected a selection"},
      {"*&", 3, "expected a selection"},
      {"(", 2, "expected a selection"},
      {"(*", 3, "expected ')' to close the '(' at column 1"},
      {"(*,(1|2)", 9, "expected ')' to close the '(' at column 1"},
      {"*)", 2, "this ')' has no '('"},
      {"foo", 1, "unknown word \"foo\""},
      {"*,all", 3, "unknown word \"all\""},
      {"3:3", 1, "range 3:3 is empty"},
      {"*,5:2", 3, "range 5:2 is empty"},
      {"0::0", 1, "step must be at least 1"},
      {"0:4:", 5, "expected a number (the step)"},
      {"0:4:x", 5, "expected a number (the step)"},
      {"99999999999999999999999", 1, "number too large"},
      {"0:99999999999999999999999", 3, "number too large"},
      {"18446744073709551615", 1, "index 18446744073709551615 is too large"},
      {"(0,1),2", 1, "this group spans 2 dimensions"},
      {"*, (0|1,2), 3", 4, "this group spans 2 dimensions"},
      {"true,*", 1, "stands for all remaining dimensions"},
      {"*,false,1", 3, "stands for all remaining dimensions"},
      {"1 2", 3, "expected ',', '|', '&' or end of text, found '2'"},
      {"*,#", 3, "found '#'"},
      {"*;0", 2, "found ';'"},
      {"-1", 1, "found '-'"},
      {deep, 65, "parentheses nest deeper than 64"},
  };
  for (const Case& c : cases) {
    auto selection = parse_selection(c.text);
    ASSERT_FALSE(selection) << '"' << c.text << "\" parsed as " << to_string(*selection);
    EXPECT_EQ(selection.error().code, ErrorCode::parse_error) << c.text;
    const std::string where =
        "parse error at column " + std::to_string(c.column) + " in \"" + c.text + "\": ";
    EXPECT_EQ(selection.error().message.rfind(where, 0), 0u)
        << c.text << ": " << selection.error().message;
    EXPECT_NE(selection.error().message.find(c.expected), std::string::npos)
        << c.text << ": " << selection.error().message;
  }
}

TEST(SelectionTextTest, TheDocumentedExampleMessage) {
  EXPECT_EQ(parse_selection("*,0:x").error().message,
            "parse error at column 5 in \"*,0:x\": expected a number, found 'x'");
}

// -- builders --

TEST(SelectionTest, BuildersCanonicalizeOnlyByAssociativity) {
  const Selection a = Selection::index(0);
  const Selection b = Selection::index(1);
  const Selection c = Selection::index(2);
  EXPECT_EQ((a | b) | c, a | (b | c));
  EXPECT_EQ(((a | b) | c).members().size(), 3u);
  EXPECT_EQ((a & b) & c, a & (b & c));
  EXPECT_EQ(Selection::union_of({}), Selection::false_());
  EXPECT_EQ(Selection::intersection_of({}), Selection::true_());
  EXPECT_EQ(Selection::union_of({a}), a);
  EXPECT_EQ(chain({a}), a);
  EXPECT_EQ(chain({a, chain({b, c})}), chain({a, b, c}));
  EXPECT_NE(a | b, b | a);  // order is kept: the printer must reproduce the text
}

TEST(SelectionTest, BuildersRejectMisuse) {
  EXPECT_EQ(Selection::range(0, 4, 0).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(Selection::range(4, 4).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(Selection::chain({}).error().code, ErrorCode::invalid_argument);
  auto not_one_dim = Selection::chain({Selection::true_(), Selection::all()});
  ASSERT_FALSE(not_one_dim);
  EXPECT_NE(not_one_dim.error().message.find("group 1"), std::string::npos);
  EXPECT_FALSE(Selection::chain({chain({Selection::all(), Selection::all()}), Selection::all()}));
}

TEST(SelectionTest, DepthCountsConstrainedDimensions) {
  EXPECT_EQ(parse("true").depth(), 0u);
  EXPECT_EQ(parse("*").depth(), 1u);
  EXPECT_EQ(parse("*,0,1:").depth(), 3u);
  EXPECT_EQ(parse("*|0,1").depth(), 2u);
  EXPECT_EQ(parse("(0|1),(2,3|4)").depth(), 3u);
  EXPECT_TRUE(parse("(0|1&?)").is_one_dimensional());
  EXPECT_FALSE(parse("0,1").is_one_dimensional());
}

// -- evaluation --

TEST(SelectionEvalTest, SelectsWholeDimensionsRangesAndIndices) {
  const std::string shape = "{host=2,gpu=8}";
  EXPECT_EQ(eval_text("*", shape).size(), 16u);
  EXPECT_EQ(eval_text("true", shape).size(), 16u);
  EXPECT_EQ(eval_text("false", shape), Ranks{});
  EXPECT_EQ(eval_text("1", shape), (Ranks{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(eval_text("*,0", shape), (Ranks{0, 8}));
  EXPECT_EQ(eval_text("*,6:", shape), (Ranks{6, 7, 14, 15}));
  EXPECT_EQ(eval_text("0,1:8:3", shape), (Ranks{1, 4, 7}));
  EXPECT_EQ(eval_text("0,::4", shape), (Ranks{0, 4}));
  EXPECT_EQ(eval_text("*,(1:3|6)", shape), (Ranks{1, 2, 6, 9, 10, 14}));
  EXPECT_EQ(eval_text("0,*|*,0", shape), (Ranks{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(eval_text("*,0:4 & *,2:6", shape), (Ranks{2, 3, 10, 11}));
  EXPECT_EQ(eval_text("(0|1),(2&2:)", shape), (Ranks{2, 10}));
  EXPECT_EQ(eval_text("1,(3,true)", "{a=2,b=4,c=2}"), (Ranks{14, 15}));
}

TEST(SelectionEvalTest, AnyPicksOneIndexPerPrefixDeterministically) {
  const std::string shape = "{host=4,gpu=8}";
  std::set<Ranks> seen;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const Ranks ranks = eval_text("*,?", shape, seed);
    ASSERT_EQ(ranks.size(), 4u);
    for (std::size_t host = 0; host < 4; ++host) EXPECT_EQ(ranks[host] / 8, host);
    EXPECT_EQ(eval_text("*,?", shape, seed), ranks);  // same seed, same choice
    seen.insert(ranks);
  }
  EXPECT_GT(seen.size(), 1u);  // the seed does steer the choice
  EXPECT_EQ(eval_text("?", shape, 3).size(), 8u);
  EXPECT_EQ(eval_text("?|?", shape, 3), eval_text("?", shape, 3));
}

TEST(SelectionEvalTest, FirstPicksTheLowestIndexWhoseRemainderSelectsSomething) {
  const std::string shape = "{host=4,gpu=8}";
  EXPECT_EQ(eval_text("first", shape), (Ranks{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(eval_text("*,first", shape), (Ranks{0, 8, 16, 24}));
  EXPECT_EQ(eval_text("(first|2),0", shape), (Ranks{0, 16}));
  EXPECT_EQ(eval_text("first,(0&1)", shape), Ranks{});
  EXPECT_EQ(eval_text("first,false", shape), Ranks{});
  EXPECT_EQ(eval_text("1:,first", shape), (Ranks{8, 16, 24}));
}

TEST(SelectionEvalTest, SelectingOnAViewReturnsBaseRanks) {
  const Shape base = shape_of("{host=4,gpu=8}");
  const Shape view = base.select("host", 1, 4, 2).value().select("gpu", 4, 8).value();
  ASSERT_EQ(view.extent().to_string(), "{host=2,gpu=4}");
  EXPECT_EQ(eval(parse("*"), view).value(), view.base_ranks());
  EXPECT_EQ(eval(parse("1,0:2"), view).value(), (Ranks{28, 29}));
  EXPECT_EQ(eval(parse("*,3"), view).value(), (Ranks{15, 31}));
  const Shape row = base.at("host", 2).value();
  EXPECT_EQ(eval(parse("::3"), row).value(), (Ranks{16, 19, 22}));
  // The same on a view given by its text, and on its bare slice.
  EXPECT_EQ(eval(parse("1,0:2"), shape_of(view.to_string())).value(), (Ranks{28, 29}));
  EXPECT_EQ(eval(parse("1,0:2"), view.slice()).value(), (Ranks{28, 29}));
}

TEST(SelectionEvalTest, ColumnMajorViewsStillGiveSortedRanks) {
  const Shape transposed =
      Shape::create({"a", "b"}, Slice::create(0, {3, 2}, {1, 3}).value()).value();
  EXPECT_EQ(eval(parse("*"), transposed).value(), (Ranks{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(eval(parse("0:2,1"), transposed).value(), (Ranks{3, 4}));
}

TEST(SelectionEvalTest, SelectionsThatDoNotFitNameTheDimension) {
  const Shape shape = shape_of("{host=2,gpu=8}");
  struct Case {
    const char* selection;
    const char* message;
  };
  const Case cases[] = {
      {"*,0:9",
       "selection \"*,0:9\" does not fit {host=2,gpu=8}: gpu has 8 indices, so range 0:9 ends "
       "past them; leave the end out (0:) to go to the end"},
      {"2",
       "selection \"2\" does not fit {host=2,gpu=8}: host has 2 indices, so index 2 does "
       "not exist"},
      {"*,8:",
       "selection \"*,8:\" does not fit {host=2,gpu=8}: gpu has 8 indices, so range 8: "
       "starts past the end"},
      {"*,*,*",
       "selection \"*,*,*\" does not fit {host=2,gpu=8}: the selection constrains 3 "
       "dimensions and the shape has 2"},
      {"0|*,(1|9)",
       "selection \"0|*,(1|9)\" does not fit {host=2,gpu=8}: gpu has 8 indices, so "
       "index 9 does not exist"},
  };
  for (const Case& c : cases) {
    auto ranks = eval(parse(c.selection), shape);
    ASSERT_FALSE(ranks) << c.selection;
    EXPECT_EQ(ranks.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(ranks.error().message, c.message);
  }
  auto on_slice = eval(parse("*,0:9"), shape.slice());
  ASSERT_FALSE(on_slice);
  EXPECT_NE(on_slice.error().message.find("dimension 1 has 8 indices"), std::string::npos);
  EXPECT_TRUE(check_fits(parse("1,7"), shape));
  EXPECT_FALSE(check_fits(parse("1,8"), shape));
}

TEST(SelectionEvalTest, ZeroDimensionalShapes) {
  const Shape unity = shape_of("{}@7[]");
  EXPECT_EQ(eval(parse("true"), unity).value(), Ranks{7});
  EXPECT_EQ(eval(parse("false"), unity).value(), Ranks{});
  EXPECT_EQ(eval(parse("*"), unity).error().code, ErrorCode::invalid_argument);
}

TEST(SelectionEvalTest, ContainsAgreesWithEvalOnExamples) {
  const Extent extent = Extent::parse("{host=2,gpu=8}").value();
  const Point p = Point::parse("host=1/2,gpu=3/8").value();
  EXPECT_TRUE(contains(parse("*"), p).value());
  EXPECT_TRUE(contains(parse("1,2:4"), p).value());
  EXPECT_FALSE(contains(parse("1,4:"), p).value());
  EXPECT_TRUE(contains(parse("0,*|*,3"), p).value());
  EXPECT_FALSE(contains(parse("*,1:8:2&*,0:4:2"), p).value());
  EXPECT_TRUE(contains(parse("*,1::2"), p).value());
  EXPECT_FALSE(contains(parse("first"), p).value());
  EXPECT_EQ(contains(parse("*,9"), p).error().code, ErrorCode::invalid_argument);
  (void)extent;
}

// -- property: eval() == brute-force contains(), and text round trips --

TEST(SelectionPropertyTest, EvalMatchesBruteForceAndTextRoundTrips) {
  const std::size_t cases = testing::property_cases(3000);
  testing::RandomGeometry random(20240611);
  std::size_t nonempty = 0;
  for (std::size_t i = 0; i < cases; ++i) {
    const Shape shape = random.shape(400);
    const Selection selection = random.selection(shape.slice().sizes());
    const std::uint64_t seed = random.uniform(0, 1000);
    const std::string text = to_string(selection);
    SCOPED_TRACE("case " + std::to_string(i) + ": selection \"" + text + "\" on " +
                 shape.to_string() + " seed " + std::to_string(seed));

    auto reparsed = parse_selection(text);
    ASSERT_TRUE(reparsed) << reparsed.error().describe();
    ASSERT_EQ(*reparsed, selection);

    auto ranks = eval(selection, shape, seed);
    ASSERT_TRUE(ranks) << ranks.error().describe();
    Ranks expected;
    for (const Point& point : shape.points()) {
      auto chosen = contains(selection, point, seed);
      ASSERT_TRUE(chosen) << chosen.error().describe();
      if (*chosen) expected.push_back(shape.base_rank_of(point).value());
    }
    std::sort(expected.begin(), expected.end());
    ASSERT_EQ(*ranks, expected);
    if (!expected.empty()) ++nonempty;
  }
  // The generator must not degenerate into mostly empty selections.
  EXPECT_GT(nonempty, cases / 3);
}

}  // namespace
}  // namespace zmesh
