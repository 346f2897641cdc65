#include "zmesh/comm/internal/cast_control_frames.hpp"

#include "zmesh/core/message.hpp"

#include <gtest/gtest.h>

namespace zmesh::comm::internal {
namespace {

CastControl sample(bool reduce) {
  CastControl control;
  control.mesh = "world/trainers";
  control.cast_id = 77;
  control.origin = ActorId{ProcId{WorldId{"client"}, 0}, "root", 3};
  control.actor = "trainers";
  control.type_name = "app.Step";
  control.shape = "{host=2,gpu=4}";
  control.fanout = 16;
  control.generation = 5;
  control.headers = {{"trace", "\xa3" "abc"}, {"deadline", "\x01"}};
  control.reduce = reduce;
  control.reduction.reducer = "zmesh.sum";
  control.reduction.budget_ms = 900;
  control.reduction.margin_ms = 40;
  return control;
}

// The frames are exactly what encode() gives for the same control with each child's ranks,
// so a receiver (of this build or an older one) decodes them as before.
TEST(CastControlFramesTest, EachChildsFrameIsByteForByteTheFullEncoding) {
  for (bool reduce : {false, true}) {
    CastControl control = sample(reduce);
    CastControlFrames frames(control);
    const std::vector<std::vector<RankRun>> children{
        {{1, 1, 10}}, {{2, 3, 11}, {5, 1, 12}}, {}, {{4000000000u, 7, 1ull << 40}}};
    for (const auto& ranks : children) {
      control.ranks = ranks;
      const Frame expected = encode(control);
      const Frame got = frames.with_ranks(ranks);
      ASSERT_EQ(got.view(), expected.view()) << "reduce " << reduce << ", " << ranks.size() << " runs";
      auto decoded = decode<CastControl>(got);
      ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
      EXPECT_EQ(decoded->ranks, ranks);
    }
  }
}

}  // namespace
}  // namespace zmesh::comm::internal
