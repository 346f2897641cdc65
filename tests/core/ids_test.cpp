// Ids: text forms round-trip, and malformed text is rejected naming the column.
#include "zmesh/core/ids.hpp"
#include "zmesh/core/message.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

namespace zmesh {
namespace {

TEST(IdsTest, TextFormsRoundTrip) {
  const PortId port{ActorId{ProcId{WorldId{"train-1"}, 3}, "worker_a", 2}, 18446744073709551615ull};
  EXPECT_EQ(port.to_string(), "train-1[3].worker_a[2][18446744073709551615]");
  EXPECT_EQ(PortId::parse(port.to_string()).value(), port);
  EXPECT_EQ(ActorId::parse(port.actor.to_string()).value(), port.actor);
  EXPECT_EQ(ProcId::parse(port.actor.proc.to_string()).value(), port.actor.proc);
  EXPECT_EQ(WorldId::parse("w").value(), WorldId{"w"});
}

struct BadId {
  std::string text;
  std::string kind;
  std::string column;
};

class IdsParseErrorTest : public ::testing::TestWithParam<BadId> {};

TEST_P(IdsParseErrorTest, NamesTheColumn) {
  const auto& bad = GetParam();
  Error error;
  if (bad.kind == "proc") error = ProcId::parse(bad.text).error();
  if (bad.kind == "actor") error = ActorId::parse(bad.text).error();
  if (bad.kind == "port") error = PortId::parse(bad.text).error();
  if (bad.kind == "world") error = WorldId::parse(bad.text).error();
  EXPECT_EQ(error.code, ErrorCode::parse_error);
  EXPECT_NE(error.message.find("column " + bad.column), std::string::npos) << error.message;
  EXPECT_NE(error.message.find(bad.text), std::string::npos) << error.message;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, IdsParseErrorTest,
    ::testing::Values(BadId{"", "world", "1"}, BadId{"a b", "world", "2"},
                      BadId{"w[", "proc", "3"}, BadId{"w[x]", "proc", "3"},
                      BadId{"w[1", "proc", "4"}, BadId{"w[99999999999]", "proc", "3"},
                      BadId{"w[1]x", "proc", "5"}, BadId{"w[1]", "actor", "5"},
                      BadId{"w[1].", "actor", "6"}, BadId{"w[1].a$[0]", "actor", "7"},
                      BadId{"w[1].a[0]", "port", "10"}, BadId{"w[1].a[0][-1]", "port", "11"},
                      BadId{"w[1].a[0][1]]", "port", "13"}));

TEST(IdsTest, CheckNamePointsAtTheBadCharacter) {
  auto checked = check_name("good_name-1", "actor");
  EXPECT_TRUE(checked.ok());
  auto bad = check_name("bad.name", "actor");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(bad.error().message.find("column 4"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(check_name("", "actor").ok());
}

// The world id's old form: a struct holding the name.
struct WorldIdAsBefore {
  std::string name;
  MSGPACK_DEFINE(name);
};

// Copies of a WorldId share its name; comparisons, hashing and the wire are those of the
// name string, as when the id was a struct holding a std::string.
TEST(IdsTest, WorldIdCopiesShareTheNameAndActAsTheString) {
  const WorldId world{"a-world-name-longer-than-the-inline-buffer"};
  const ProcId proc{world, 3};
  const ProcId copy = proc;
  EXPECT_EQ(&copy.world.name(), &world.name());
  EXPECT_EQ(WorldId{}.name(), "");
  EXPECT_EQ(WorldId{}, WorldId{""});
  EXPECT_EQ(WorldId{"b"}, WorldId{std::string("b")});
  const std::set<WorldId> ordered{WorldId{"b"}, WorldId{"a"}, WorldId{"ab"}, WorldId{"b"}};
  std::vector<std::string> names;
  for (const auto& w : ordered) names.push_back(w.name());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "ab", "b"}));
  EXPECT_LT(ProcId(WorldId{"a"}, 9), ProcId(WorldId{"b"}, 0));
  EXPECT_EQ(std::hash<ProcId>{}(ProcId{WorldId{"w"}, 1}), std::hash<ProcId>{}(ProcId{WorldId{std::string("w")}, 1}));

  EXPECT_EQ(encode_to_string(world), encode_to_string(WorldIdAsBefore{world.name()}));
  auto decoded = decode_value<ActorId>(encode_value(ActorId{proc, "trainer", 2}), "ActorId");
  ASSERT_TRUE(decoded.ok()) << decoded.error().describe();
  EXPECT_EQ(decoded->proc, proc);
  EXPECT_EQ(decoded->to_string(), "a-world-name-longer-than-the-inline-buffer[3].trainer[2]");
  auto wrong = decode_value<WorldId>(encode_value(std::uint32_t{7}), "WorldId");
  EXPECT_FALSE(wrong.ok());
}

// Decoding shares the name of a world the thread decoded recently instead of allocating a
// new one, and never mixes names up however many worlds it sees.
TEST(IdsTest, DecodedWorldIdsShareRecentNamesAndKeepTheirOwn) {
  const std::string long_name = "a-world-name-longer-than-the-inline-buffer";
  const auto once = decode_value<WorldId>(encode_value(WorldId{long_name}), "WorldId").value();
  const auto twice = decode_value<WorldId>(encode_value(WorldId{long_name}), "WorldId").value();
  EXPECT_EQ(once.name(), long_name);
  EXPECT_EQ(&once.name(), &twice.name());  // shared, not a second string

  // More worlds than the thread remembers, interleaved: each decodes to its own name.
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) names.push_back(fmt::format("{}-{}", long_name, i));
  for (int round = 0; round < 3; ++round) {
    for (const auto& name : names) {
      const auto decoded =
          decode_value<ProcId>(encode_value(ProcId{WorldId{name}, 5}), "ProcId").value();
      ASSERT_EQ(decoded.world.name(), name);
      ASSERT_EQ(decoded.rank, 5u);
    }
  }
  // An empty name decodes to the default id; so does an empty array (an older peer's
  // default-constructed id).
  EXPECT_EQ(decode_value<WorldId>(encode_value(WorldId{}), "WorldId").value(), WorldId{});
  EXPECT_EQ(decode_value<WorldId>(encode_value(std::vector<int>{}), "WorldId").value(), WorldId{});
  // A name that is not a string is refused.
  const auto not_a_name = decode_value<WorldId>(encode_value(std::vector<int>{7}), "WorldId");
  ASSERT_FALSE(not_a_name.ok());
  EXPECT_EQ(not_a_name.error().code, ErrorCode::decode_error);
}

}  // namespace
}  // namespace zmesh
