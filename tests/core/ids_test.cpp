// Ids: text forms round-trip, and malformed text is rejected naming the column.
#include "zmesh/core/ids.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace zmesh
