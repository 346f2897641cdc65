// Slice and Shape: layouts, views cut with select()/at(), view <-> base rank mapping, and the
// shape text form (dense and views).

#include "zmesh/mesh/shape.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "zmesh/mesh/slice.hpp"

namespace zmesh {
namespace {

using Ranks = std::vector<std::size_t>;

Shape parse_shape(const std::string& text) {
  auto shape = Shape::parse(text);
  EXPECT_TRUE(shape) << text << ": " << shape.error().describe();
  return shape.value_or(Shape());
}

TEST(SliceTest, RowMajorLayout) {
  const Slice slice = Slice::row_major({2, 3, 4}).value();
  EXPECT_EQ(slice.strides(), (Ranks{12, 4, 1}));
  EXPECT_EQ(slice.num_ranks(), 24u);
  EXPECT_TRUE(slice.is_dense());
  const Ranks coords = {1, 2, 3};
  EXPECT_EQ(slice.base_rank(coords).value(), 23u);
  EXPECT_EQ(slice.coords_of(23).value(), coords);
  EXPECT_EQ(slice.base_ranks().size(), 24u);
}

TEST(SliceTest, RejectsLayoutsWhereTwoPointsShareARank) {
  auto overlapping = Slice::create(0, {2, 3}, {2, 1});
  ASSERT_FALSE(overlapping);
  EXPECT_EQ(overlapping.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(overlapping.error().message.find("share a rank"), std::string::npos);
  EXPECT_EQ(Slice::create(0, {2, 0}, {1, 1}).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(Slice::create(0, {2}, {1, 1}).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(Slice::create(0, {2, 2}, {0, 1}).error().code, ErrorCode::invalid_argument);
  // Column-major and size-1 dimensions with any stride are fine.
  EXPECT_TRUE(Slice::create(5, {3, 4}, {1, 3}));
  EXPECT_TRUE(Slice::create(0, {1, 4}, {7, 1}));
}

TEST(SliceTest, ColumnMajorSliceMapsRanksBothWays) {
  const Slice slice = Slice::create(5, {3, 4}, {1, 3}).value();
  for (std::size_t view = 0; view < slice.num_ranks(); ++view) {
    const std::size_t base = slice.base_rank_of(view).value();
    EXPECT_TRUE(slice.contains(base));
    EXPECT_EQ(slice.view_rank_of(base).value(), view);
  }
  EXPECT_EQ(slice.base_rank_of(1).value(), 8u);  // coords (0,1)
  EXPECT_FALSE(slice.contains(4));
  EXPECT_FALSE(slice.contains(17));
  EXPECT_EQ(slice.coords_of(17).error().code, ErrorCode::not_found);
  EXPECT_EQ(slice.base_rank_of(12).error().code, ErrorCode::invalid_argument);
}

// Coordinates are worked out on the stack for up to 16 dimensions, on the heap beyond: both
// paths map every rank both ways.
TEST(SliceTest, SlicesOfManyDimensionsMapRanksBothWays) {
  for (std::size_t dims : {16u, 17u, 20u}) {
    // Every dimension of size 2, strides reversed (column-major), offset 3.
    std::vector<std::size_t> sizes(dims, 2);
    std::vector<std::size_t> strides(dims);
    for (std::size_t i = 0; i < dims; ++i) strides[i] = std::size_t{1} << i;
    const Slice slice = Slice::create(3, sizes, strides).value();
    for (std::size_t view = 0; view < slice.num_ranks(); view += 97) {
      const std::size_t base = slice.base_rank_of(view).value();
      ASSERT_TRUE(slice.contains(base)) << dims << " dims, view rank " << view;
      ASSERT_EQ(slice.view_rank_of(base).value(), view) << dims << " dims";
      ASSERT_EQ(slice.coords_of(base).value().size(), dims);
    }
    EXPECT_FALSE(slice.contains(2)) << dims << " dims";
    EXPECT_FALSE(slice.contains(3 + slice.num_ranks())) << dims << " dims";
    EXPECT_EQ(slice.view_rank_of(2).error().code, ErrorCode::not_found);
  }
}

TEST(SliceTest, SelectAndAtNarrowTheLayout) {
  const Slice base = Slice::row_major({4, 8}).value();
  const Slice odd_gpus = base.select(1, 1, 8, 2).value();
  EXPECT_EQ(odd_gpus.offset(), 1u);
  EXPECT_EQ(odd_gpus.sizes(), (Ranks{4, 4}));
  EXPECT_EQ(odd_gpus.strides(), (Ranks{8, 2}));
  const Slice host2 = odd_gpus.at(0, 2).value();
  EXPECT_EQ(host2.base_ranks(), (Ranks{17, 19, 21, 23}));
  EXPECT_EQ(base.select(1, 3, 4).value().sizes(), (Ranks{4, 1}));
  // ceil((8 - 0) / 3) = 3 indices: 0, 3, 6.
  EXPECT_EQ(base.select(1, 0, 8, 3).value().at(0, 0).value().base_ranks(), (Ranks{0, 3, 6}));

  EXPECT_EQ(base.select(2, 0, 1).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(base.select(1, 0, 9).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(base.select(1, 4, 4).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(base.select(1, 0, 4, 0).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(base.at(0, 4).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(base.at(2, 0).error().code, ErrorCode::invalid_argument);
}

TEST(ShapeTest, DenseShapeTextRoundTrips) {
  for (const char* text : {"{host=2,gpu=8}", "{x=5}", "{}"}) {
    const Shape shape = parse_shape(text);
    EXPECT_EQ(shape.to_string(), text);
    EXPECT_TRUE(shape.slice().is_dense());
  }
  EXPECT_EQ(parse_shape(" { host = 2 , gpu = 8 } ").to_string(), "{host=2,gpu=8}");
}

TEST(ShapeTest, ViewTextRoundTrips) {
  const Shape base = parse_shape("{host=4,gpu=8}");
  const Shape view = base.select("gpu", 1, 8, 2).value().select("host", 1, 3).value();
  EXPECT_EQ(view.to_string(), "{host=2,gpu=4}@9[8,2]");
  EXPECT_EQ(parse_shape(view.to_string()), view);
  const Shape dropped = base.at("host", 3).value();
  EXPECT_EQ(dropped.to_string(), "{gpu=8}@24[1]");
  EXPECT_EQ(parse_shape(dropped.to_string()), dropped);
  const Shape point = dropped.at("gpu", 2).value();
  EXPECT_EQ(point.to_string(), "{}@26[]");
  EXPECT_EQ(parse_shape(point.to_string()), point);
  EXPECT_EQ(parse_shape("{a=2,b=2} @ 1 [ 1 , 4 ]").to_string(), "{a=2,b=2}@1[1,4]");
}

TEST(ShapeTest, ParseErrorsNameTheProblem) {
  struct Case {
    const char* text;
    ErrorCode code;
    const char* expected;
  };
  const Case cases[] = {
      {"{host=2}@", ErrorCode::parse_error,
       "column 10 in \"{host=2}@\": expected the view's offset"},
      {"{host=2}@3", ErrorCode::parse_error, "column 11 in \"{host=2}@3\": expected '['"},
      {"{host=2}@3[1", ErrorCode::parse_error,
       "column 13 in \"{host=2}@3[1\": expected ',' or ']'"},
      {"{host=2}@3[1]x", ErrorCode::parse_error, "column 14"},
      {"{host=2}x", ErrorCode::parse_error, "column 9 in \"{host=2}x\": expected '@'"},
      {"{host=2", ErrorCode::parse_error, "column 8 in \"{host=2\": expected ',' or '}'"},
      {"{host=2}@0[1,1]", ErrorCode::invalid_argument, "1 dimensions but 2 strides"},
      {"{a=2,b=2}@0[1,1]", ErrorCode::invalid_argument, "share a rank"},
      {"{a=2,b=0}", ErrorCode::invalid_argument, "size 0"},
  };
  for (const Case& c : cases) {
    auto shape = Shape::parse(c.text);
    ASSERT_FALSE(shape) << c.text;
    EXPECT_EQ(shape.error().code, c.code) << c.text << ": " << shape.error().message;
    EXPECT_NE(shape.error().message.find(c.expected), std::string::npos)
        << c.text << ": " << shape.error().message;
  }
}

TEST(ShapeTest, SelectKeepsTheDimensionAndAtDropsIt) {
  const Shape base = parse_shape("{host=4,gpu=8}");
  const Shape gpus = base.select("gpu", 2, 6).value();
  EXPECT_EQ(gpus.extent().to_string(), "{host=4,gpu=4}");
  EXPECT_EQ(gpus.num_ranks(), 16u);
  const Shape host1 = base.at("host", 1).value();
  EXPECT_EQ(host1.extent().to_string(), "{gpu=8}");
  EXPECT_EQ(host1.base_ranks(), (Ranks{8, 9, 10, 11, 12, 13, 14, 15}));
}

TEST(ShapeTest, BadSelectAndAtNameTheCulprit) {
  const Shape base = parse_shape("{host=2,gpu=8}");
  auto unknown = base.select("rack", 0, 1);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::not_found);
  EXPECT_EQ(unknown.error().message,
            "no dimension \"rack\" in {host=2,gpu=8} (dimensions: host, gpu)");

  auto past_end = base.select("gpu", 0, 9);
  ASSERT_FALSE(past_end);
  EXPECT_EQ(past_end.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(past_end.error().message,
            "select gpu=0:9:1 on {host=2,gpu=8} failed: gpu has 8 indices");

  EXPECT_EQ(base.select("gpu", 3, 3).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(base.select("gpu", 0, 4, 0).error().code, ErrorCode::invalid_argument);

  auto at = base.at("host", 2);
  ASSERT_FALSE(at);
  EXPECT_EQ(at.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(at.error().message, "at host=2 on {host=2,gpu=8} failed: host has 2 indices");
  EXPECT_EQ(base.at("rack", 0).error().code, ErrorCode::not_found);
}

TEST(ShapeTest, ViewRanksMapToBaseRanksAndBack) {
  const Shape base = parse_shape("{host=4,gpu=8}");
  // Hosts 1 and 3, even gpus from 2: base ranks 8h + g.
  const Shape view = base.select("host", 1, 4, 2).value().select("gpu", 2, 8, 2).value();
  EXPECT_EQ(view.extent().to_string(), "{host=2,gpu=3}");
  EXPECT_EQ(view.base_ranks(), (Ranks{10, 12, 14, 26, 28, 30}));
  EXPECT_EQ(view.base_rank_of(4).value(), 28u);
  EXPECT_EQ(view.view_rank_of(28).value(), 4u);
  EXPECT_EQ(view.point_of_base_rank(28).value().to_string(), "host=1/2,gpu=1/3");
  const Point point = Point::parse("host=1/2,gpu=1/3").value();
  EXPECT_EQ(view.base_rank_of(point).value(), 28u);

  auto outside = view.view_rank_of(11);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, ErrorCode::not_found);
  EXPECT_NE(outside.error().message.find("base rank 11"), std::string::npos);
  EXPECT_EQ(view.base_rank_of(6).error().code, ErrorCode::invalid_argument);
  const Point foreign = Point::parse("host=1/4,gpu=1/8").value();
  EXPECT_EQ(view.base_rank_of(foreign).error().code, ErrorCode::invalid_argument);

  std::size_t view_rank = 0;
  for (const Point& p : view.points()) {
    EXPECT_EQ(view.point_of_base_rank(view.base_rank_of(p).value()).value(), p);
    EXPECT_EQ(p.rank(), view_rank++);
  }
  EXPECT_EQ(view_rank, 6u);
}

TEST(ShapeTest, CreateChecksLabelsAgainstTheSlice) {
  const Slice slice = Slice::row_major({2, 3}).value();
  EXPECT_TRUE(Shape::create({"a", "b"}, slice));
  EXPECT_EQ(Shape::create({"a"}, slice).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(Shape::create({"a", "a"}, slice).error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(Shape(Extent::parse("{a=2,b=3}").value()).slice(), slice);
}

}  // namespace
}  // namespace zmesh
