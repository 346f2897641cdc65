#include "zmesh/comm/internal/cast_control_frames.hpp"

#include "zmesh/core/message.hpp"
#include "zmesh/mesh/cast_info.hpp"

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
    struct Child {
      std::vector<std::size_t> ranks;
      std::vector<std::uint64_t> counters;
      std::vector<RankRun> runs;  // what the frame must carry
    };
    const std::vector<Child> children{
        {{1}, {10}, {{1, 1, 10}}},
        {{2, 3, 4, 5}, {11, 11, 11, 12}, {{2, 3, 11}, {5, 1, 12}}},
        {{}, {}, {}},
        {{4000000000u, 4000000001u, 4000000002u, 4000000003u, 4000000004u, 4000000005u,
          4000000006u},
         std::vector<std::uint64_t>(7, 1ull << 40),
         {{4000000000u, 7, 1ull << 40}}}};
    for (const auto& child : children) {
      control.ranks = child.runs;
      const Frame expected = encode(control);
      const Frame got = frames.with_ranks(child.ranks, child.counters);
      ASSERT_EQ(got.view(), expected.view())
          << "reduce " << reduce << ", " << child.runs.size() << " runs";
      auto decoded = decode<CastControl>(got);
      ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
      EXPECT_EQ(decoded->ranks, child.runs);
    }
  }
}

// The cast header each delivery carries is packed from the fields where they lie; it must
// be byte for byte the CastHeader that cast_info() decodes.
TEST(CastControlFramesTest, PackedCastHeaderIsByteForByteTheStructsEncoding) {
  const ActorId origin{ProcId{WorldId{"a-client-world-name-longer-than-sso"}, 0}, "root", 3};
  const std::vector<std::vector<std::string>> labels{{}, {"gpu"}, {"host", "gpu", "a-long-label-name"}};
  const std::vector<std::vector<std::size_t>> sizes{{}, {8}, {2, 70000, 4000000000u}};
  for (std::size_t i = 0; i < labels.size(); ++i) {
    for (std::uint32_t rank : {0u, 7u, 4000000000u}) {
      CastHeader header{"world/trainers", 1ull << 40, origin, rank, labels[i], {}};
      for (auto size : sizes[i]) header.sizes.push_back(static_cast<std::uint32_t>(size));
      EXPECT_EQ(encode_cast_header(header.mesh, header.cast_id, origin, rank, labels[i], sizes[i]),
                encode_to_string(header))
          << i << " dimensions, rank " << rank;
    }
  }
}

}  // namespace
}  // namespace zmesh::comm::internal
