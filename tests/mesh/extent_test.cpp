// Extent and Point: construction rules, row-major ranks, and text forms that round-trip.

#include "zmesh/mesh/extent.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "zmesh/mesh/point.hpp"

namespace zmesh {
namespace {

Extent host2_gpu8() {
  return Extent::create({{"host", 2}, {"gpu", 8}}).value();
}

TEST(ExtentTest, RanksAreRowMajor) {
  const Extent extent = host2_gpu8();
  EXPECT_EQ(extent.num_dims(), 2u);
  EXPECT_EQ(extent.num_ranks(), 16u);
  const std::vector<std::size_t> coords = {1, 3};
  EXPECT_EQ(extent.rank_of(coords).value(), 11u);
  EXPECT_EQ(extent.coords_of(11).value(), coords);
  for (std::size_t rank = 0; rank < extent.num_ranks(); ++rank) {
    EXPECT_EQ(extent.rank_of(extent.coords_of(rank).value()).value(), rank);
  }
}

TEST(ExtentTest, ZeroDimensionalExtentHasOnePoint) {
  const Extent unity;
  EXPECT_EQ(unity.num_dims(), 0u);
  EXPECT_EQ(unity.num_ranks(), 1u);
  EXPECT_EQ(unity.to_string(), "{}");
  EXPECT_EQ(Extent::parse("{}").value(), unity);
  EXPECT_EQ(unity.rank_of({}).value(), 0u);
  EXPECT_EQ(unity.coords_of(1).error().code, ErrorCode::invalid_argument);
}

TEST(ExtentTest, TextRoundTrips) {
  for (const char* text : {"{host=2,gpu=8}", "{x=1}", "{a=3,b=1,c_2=9,_d=4,E=5}", "{}"}) {
    auto extent = Extent::parse(text);
    ASSERT_TRUE(extent) << extent.error().describe();
    EXPECT_EQ(extent->to_string(), text);
    EXPECT_EQ(Extent::parse(extent->to_string()).value(), *extent);
  }
}

TEST(ExtentTest, ParseAcceptsSpacesBetweenTokens) {
  EXPECT_EQ(Extent::parse("  { host = 2 ,\tgpu=8 }  ").value(), host2_gpu8());
  EXPECT_EQ(Extent::parse("{ }").value(), Extent());
}

TEST(ExtentTest, ParseErrorsPointAtTheColumn) {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"", "column 1"},
      {"host=2", "column 1 in \"host=2\": expected '{'"},
      {"{host 2}", "column 7 in \"{host 2}\": expected '=' after the label, found '2'"},
      {"{host=}", "column 7 in \"{host=}\": expected a size, found '}'"},
      {"{host=2", "column 8 in \"{host=2\": expected ',' or '}', found end of text"},
      {"{host=2,}", "column 9 in \"{host=2,}\": expected a dimension label"},
      {"{2=2}", "column 2 in \"{2=2}\": expected a dimension label"},
      {"{host=2}x", "column 9 in \"{host=2}x\": expected end of text after '}'"},
      {"{host=99999999999999999999999}",
       "column 7 in \"{host=99999999999999999999999}\": "
       "number too large"},
  };
  for (const Case& c : cases) {
    auto extent = Extent::parse(c.text);
    ASSERT_FALSE(extent) << c.text;
    EXPECT_EQ(extent.error().code, ErrorCode::parse_error) << c.text;
    EXPECT_NE(extent.error().message.find(c.expected), std::string::npos)
        << c.text << ": " << extent.error().message;
  }
}

TEST(ExtentTest, InvalidValuesAreRejectedWithTheCulprit) {
  auto zero = Extent::parse("{host=2,gpu=0}");
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(zero.error().message.find("\"gpu\" has size 0"), std::string::npos);

  auto duplicate = Extent::parse("{host=2,host=8}");
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(duplicate.error().message.find("\"host\" appears twice"), std::string::npos);

  auto bad_label = Extent::create({"gpu-0"}, {2});
  ASSERT_FALSE(bad_label);
  EXPECT_EQ(bad_label.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(bad_label.error().message.find("\"gpu-0\" is not an identifier"), std::string::npos);

  auto mismatch = Extent::create({"a", "b"}, {2});
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::invalid_argument);

  const std::size_t huge = std::size_t{1} << 40;
  auto overflow = Extent::create({"a", "b"}, {huge, huge});
  ASSERT_FALSE(overflow);
  EXPECT_NE(overflow.error().message.find("too large"), std::string::npos);
}

TEST(ExtentTest, LookupByLabel) {
  const Extent extent = host2_gpu8();
  EXPECT_EQ(extent.dim_of("gpu").value(), 1u);
  auto missing = extent.dim_of("rack");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
  EXPECT_EQ(missing.error().message,
            "no dimension \"rack\" in {host=2,gpu=8} (dimensions: host, gpu)");
}

TEST(ExtentTest, RankOfChecksEachCoordinate) {
  const Extent extent = host2_gpu8();
  const std::vector<std::size_t> outside = {1, 8};
  auto rank = extent.rank_of(outside);
  ASSERT_FALSE(rank);
  EXPECT_EQ(rank.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(rank.error().message.find("gpu has 8 indices"), std::string::npos);
  const std::vector<std::size_t> too_few = {1};
  EXPECT_EQ(extent.rank_of(too_few).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(extent.coords_of(16).error().code, ErrorCode::invalid_argument);
}

TEST(PointTest, KnowsItsRankAndCoordinates) {
  auto point = Point::create(host2_gpu8(), {1, 3});
  ASSERT_TRUE(point) << point.error().describe();
  EXPECT_EQ(point->rank(), 11u);
  EXPECT_EQ(point->coord("gpu").value(), 3u);
  EXPECT_EQ(point->coord("rack").error().code, ErrorCode::not_found);
  EXPECT_EQ(point->to_string(), "host=1/2,gpu=3/8");
  EXPECT_EQ(Point::of_rank(host2_gpu8(), 11).value(), *point);
  EXPECT_EQ(Point::of_rank(host2_gpu8(), 16).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(Point::create(host2_gpu8(), {2, 0}).error().code, ErrorCode::invalid_argument);
}

TEST(PointTest, TextRoundTrips) {
  for (const char* text : {"host=1/2,gpu=3/8", "x=0/1", "a=2/3,b=0/1,c=8/9", ""}) {
    auto point = Point::parse(text);
    ASSERT_TRUE(point) << text << ": " << point.error().describe();
    EXPECT_EQ(point->to_string(), text);
    EXPECT_EQ(Point::parse(point->to_string()).value(), *point);
  }
  EXPECT_EQ(Point::parse(" host = 1 / 2 , gpu=3/8 ").value().to_string(), "host=1/2,gpu=3/8");
  EXPECT_EQ(Point::parse("").value().extent(), Extent());
}

TEST(PointTest, ParseErrorsNameTheProblem) {
  struct Case {
    const char* text;
    ErrorCode code;
    const char* expected;
  };
  const Case cases[] = {
      {"host=1", ErrorCode::parse_error, "column 7 in \"host=1\": expected '/'"},
      {"host=/2", ErrorCode::parse_error, "column 6 in \"host=/2\": expected an index"},
      {"host=1/", ErrorCode::parse_error, "column 8 in \"host=1/\": expected the dimension size"},
      {"host=1/2;gpu=0/1", ErrorCode::parse_error, "column 9"},
      {"=1/2", ErrorCode::parse_error, "column 1 in \"=1/2\": expected a dimension label"},
      {"host=2/2", ErrorCode::invalid_argument, "host has 2 indices"},
      {"host=0/0", ErrorCode::invalid_argument, "size 0"},
      {"host=0/2,host=1/2", ErrorCode::invalid_argument, "appears twice"},
  };
  for (const Case& c : cases) {
    auto point = Point::parse(c.text);
    ASSERT_FALSE(point) << c.text;
    EXPECT_EQ(point.error().code, c.code) << c.text << ": " << point.error().message;
    EXPECT_NE(point.error().message.find(c.expected), std::string::npos)
        << c.text << ": " << point.error().message;
  }
}

TEST(PointTest, PointsIterateInRankOrder) {
  const Extent extent = Extent::parse("{a=2,b=3}").value();
  std::vector<std::string> texts;
  std::size_t rank = 0;
  for (const Point& point : points(extent)) {
    EXPECT_EQ(point.rank(), rank++);
    texts.push_back(point.to_string());
  }
  const std::vector<std::string> expected = {"a=0/2,b=0/3", "a=0/2,b=1/3", "a=0/2,b=2/3",
                                             "a=1/2,b=0/3", "a=1/2,b=1/3", "a=1/2,b=2/3"};
  EXPECT_EQ(texts, expected);
  EXPECT_EQ(points(extent).size(), 6u);
  EXPECT_EQ(points(Extent()).size(), 1u);
}

}  // namespace
}  // namespace zmesh
