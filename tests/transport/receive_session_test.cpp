// ReceiveSession and SessionTable, the receiving half of the reliability protocol, driven
// deterministically: loss, duplication, reordering, rejects, held messages, lanes, and the
// bound on sessions kept for unknown senders. No sockets, no sleeping.
#include "zmesh/transport/internal/receive_session.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace zmesh::internal {
namespace {

using namespace std::chrono_literals;

const Clock::time_point t0 = Clock::time_point{} + 1h;
constexpr std::uint32_t ack_every = 4;

ReceiveSession fresh(std::uint64_t floor = 1, Lane lane = Lane::data) {
  return ReceiveSession(7, "sender-bytes", ProcId{WorldId{"sender"}, 0}, lane, floor);
}

Envelope text(std::string_view value) {
  Envelope envelope;
  envelope.type_name = "test.Text";
  envelope.payload.push_back(Frame::copy_of(value));
  return envelope;
}

std::optional<std::pair<LinkKind, std::uint64_t>> ack_of(ReceiveSession& session,
                                                         Lane lane = Lane::data) {
  auto due = session.take_ack(lane);
  if (!due) return std::nullopt;
  return std::make_pair(due->kind, due->through);
}

using Ack = std::optional<std::pair<LinkKind, std::uint64_t>>;

TEST(ReceiveSessionTest, DeliversInOrderAndAcksEveryN) {
  ReceiveSession session = fresh();
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_EQ(session.arrive(Lane::data, seq, 1), Arrival::deliver);
    EXPECT_FALSE(session.consumed(Lane::data, ack_every));
  }
  ASSERT_EQ(session.arrive(Lane::data, 4, 1), Arrival::deliver);
  EXPECT_TRUE(session.consumed(Lane::data, ack_every));  // 4 since the last ack
  EXPECT_EQ(session.ack_now(Lane::data).through, 4u);
  EXPECT_EQ(ack_of(session), Ack{});  // nothing new
  ASSERT_EQ(session.arrive(Lane::data, 5, 1), Arrival::deliver);
  session.consumed(Lane::data, ack_every);
  EXPECT_EQ(ack_of(session), Ack(std::pair{LinkKind::ack, 5u}));  // the end-of-batch flush
}

TEST(ReceiveSessionTest, ADuplicateIsDroppedAndReacked) {
  ReceiveSession session = fresh();
  ASSERT_EQ(session.arrive(Lane::data, 1, 1), Arrival::deliver);
  session.consumed(Lane::data, ack_every);
  EXPECT_EQ(ack_of(session), Ack(std::pair{LinkKind::ack, 1u}));
  // Our ack was lost and the sender resent: drop the copy, ack again.
  EXPECT_EQ(session.arrive(Lane::data, 1, 1), Arrival::duplicate);
  EXPECT_EQ(ack_of(session), Ack(std::pair{LinkKind::ack, 1u}));
}

TEST(ReceiveSessionTest, AGapIsNackedOnceAndReorderedMessagesArriveInOrder) {
  ReceiveSession session = fresh();
  // 1 was lost; 2 and 3 arrive first.
  EXPECT_EQ(session.arrive(Lane::data, 2, 1), Arrival::gap);
  EXPECT_EQ(ack_of(session), Ack(std::pair{LinkKind::nack, 0u}));
  EXPECT_EQ(session.arrive(Lane::data, 3, 1), Arrival::gap);
  EXPECT_EQ(ack_of(session), Ack{});  // that gap is nacked already
  // The sender goes back to the floor.
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_EQ(session.arrive(Lane::data, seq, 1), Arrival::deliver) << seq;
    session.consumed(Lane::data, ack_every);
  }
  EXPECT_EQ(ack_of(session), Ack(std::pair{LinkKind::ack, 3u}));
  EXPECT_EQ(session.expected(Lane::data), 4u);
}

TEST(ReceiveSessionTest, TheSendersFloorSkipsWhatItGaveUp) {
  ReceiveSession session = fresh(5);  // first heard at floor 5: starts there
  EXPECT_EQ(session.expected(Lane::data), 5u);
  EXPECT_EQ(session.arrive(Lane::data, 5, 5), Arrival::deliver);
  session.consumed(Lane::data, ack_every);
  // 6 and 7 expired at the sender; 8 carries floor 8.
  EXPECT_EQ(session.arrive(Lane::data, 8, 8), Arrival::deliver);
  session.consumed(Lane::data, ack_every);
  EXPECT_EQ(ack_of(session), Ack(std::pair{LinkKind::ack, 8u}));
}

TEST(ReceiveSessionTest, ARefusedMessageIsRefusedAgainWhenResent) {
  ReceiveSession session = fresh();
  ASSERT_EQ(session.arrive(Lane::data, 1, 1), Arrival::deliver);
  session.rejected(Lane::data, 1, "bad envelope", ack_every);
  EXPECT_EQ(session.arrive(Lane::data, 1, 1), Arrival::reject_again);
  EXPECT_EQ(session.rejected_reason(Lane::data), "bad envelope");
  EXPECT_EQ(session.arrive(Lane::data, 2, 1), Arrival::deliver);  // later ones still flow
}

TEST(ReceiveSessionTest, AHeldMessageStopsItsLaneUntilReleasedThenNacksTheDropped) {
  ReceiveSession session = fresh();
  ASSERT_EQ(session.arrive(Lane::data, 1, 1), Arrival::deliver);
  session.consumed(Lane::data, ack_every);
  ASSERT_EQ(session.arrive(Lane::data, 2, 1), Arrival::deliver);
  session.hold(Lane::data, text("two"));  // the mailbox is full
  EXPECT_TRUE(session.holding());
  EXPECT_EQ(ack_of(session), Ack(std::pair{LinkKind::ack, 1u}));  // nothing past the held
  EXPECT_EQ(session.arrive(Lane::data, 3, 2), Arrival::gap);
  EXPECT_EQ(session.arrive(Lane::data, 4, 2), Arrival::gap);
  EXPECT_EQ(ack_of(session), Ack{});  // no nack while holding: it would bring more copies
  EXPECT_EQ(session.arrive(Lane::data, 2, 2), Arrival::held);  // the resent copy
  ASSERT_NE(session.held(Lane::data), nullptr);
  EXPECT_EQ(session.held(Lane::data)->payload[0].view(), "two");
  // The mailbox drained.
  session.release(Lane::data);
  EXPECT_FALSE(session.holding());
  EXPECT_EQ(ack_of(session), Ack(std::pair{LinkKind::nack, 2u}));  // resend 3 and 4 now
  EXPECT_EQ(session.arrive(Lane::data, 3, 3), Arrival::deliver);
}

TEST(ReceiveSessionTest, AHeldMessageTheSenderGaveUpOnIsDropped) {
  ReceiveSession session = fresh();
  ASSERT_EQ(session.arrive(Lane::data, 1, 1), Arrival::deliver);
  session.hold(Lane::data, text("one"));
  // Its deadline passed at the sender, which returned it to its sender: floor 2.
  EXPECT_EQ(session.arrive(Lane::data, 2, 2), Arrival::deliver);
  EXPECT_FALSE(session.holding());
}

TEST(ReceiveSessionTest, LanesHaveTheirOwnSequencesAndAHeldDataLaneLeavesControlFlowing) {
  ReceiveSession session = fresh();
  ASSERT_EQ(session.arrive(Lane::data, 1, 1), Arrival::deliver);
  session.hold(Lane::data, text("data"));
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_EQ(session.arrive(Lane::control, seq, 1), Arrival::deliver) << seq;
    session.consumed(Lane::control, ack_every);
  }
  EXPECT_EQ(ack_of(session, Lane::control), Ack(std::pair{LinkKind::ack, 3u}));
  EXPECT_EQ(ack_of(session, Lane::data), Ack{});
  EXPECT_EQ(session.expected(Lane::data), 1u);
}

TEST(ReceiveSessionTest, EachLaneStartsAtItsOwnFloorAfterARestart) {
  // We restarted; the sender's data lane is far ahead of its control lane.
  ReceiveSession session = fresh(990, Lane::data);
  EXPECT_EQ(session.arrive(Lane::control, 3, 3), Arrival::deliver);
  session.consumed(Lane::control, ack_every);
  EXPECT_EQ(ack_of(session, Lane::control), Ack(std::pair{LinkKind::ack, 3u}));
  EXPECT_EQ(session.arrive(Lane::data, 990, 990), Arrival::deliver);
  // And the other way round.
  ReceiveSession other = fresh(3, Lane::control);
  EXPECT_EQ(other.arrive(Lane::data, 990, 990), Arrival::deliver);
}

LinkHeader header_of(const std::string& sender, std::uint64_t session, std::uint64_t floor = 1) {
  LinkHeader header;
  header.sender_bytes = sender;
  header.sender_world = sender;
  header.sender_rank = 0;
  header.session = session;
  header.seq = floor;
  header.floor = floor;
  return header;
}

TEST(SessionTableTest, KeepsAtMostTheBoundDroppingTheLeastRecentlyHeard) {
  SessionTable table(4, 1min);
  std::vector<std::string> senders;
  for (int i = 0; i < 100; ++i) senders.push_back("forged-" + std::to_string(i));
  const std::string busy = "busy";
  for (int i = 0; i < 100; ++i) {
    ASSERT_NE(table.find_or_create(header_of(busy, 1), t0 + i * 1ms).session, nullptr);
    ASSERT_NE(table.find_or_create(header_of(senders[i], 1000 + i), t0 + i * 1ms).session, nullptr);
    EXPECT_LE(table.size(), 4u);
  }
  EXPECT_EQ(table.evicted(), 97u);    // 101 sessions made, 4 kept
  EXPECT_NE(table.find(1), nullptr);  // heard all along: kept
  EXPECT_EQ(table.find(1000), nullptr);
}

TEST(SessionTableTest, ARestartedSenderRetiresItsOldSessionWithinABound) {
  SessionTable table(2, 1min);
  const std::string sender = "restarting";
  ASSERT_NE(table.find_or_create(header_of(sender, 1), t0).session, nullptr);
  ASSERT_NE(table.find_or_create(header_of(sender, 2), t0).session, nullptr);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_TRUE(table.find_or_create(header_of(sender, 1), t0).retired);  // a late old message
  for (std::uint64_t session = 3; session < 50; ++session) {
    table.find_or_create(header_of(sender, session), t0);
  }
  EXPECT_LE(table.retired(), 2u);
}

TEST(SessionTableTest, ASessionClaimedByAnotherSenderIsRefused) {
  SessionTable table(4, 1min);
  const std::string owner = "owner", forger = "forger";
  ASSERT_NE(table.find_or_create(header_of(owner, 9), t0).session, nullptr);
  const auto found = table.find_or_create(header_of(forger, 9), t0);
  EXPECT_EQ(found.session, nullptr);
  ASSERT_NE(found.claimed_by, nullptr);
  EXPECT_EQ(found.claimed_by->sender_bytes(), owner);
}

TEST(SessionTableTest, IdleSessionsExpire) {
  SessionTable table(10, 1min);
  const std::string quiet = "quiet", chatty = "chatty";
  table.find_or_create(header_of(quiet, 1), t0);
  table.find_or_create(header_of(chatty, 2), t0);
  table.find_or_create(header_of(chatty, 2), t0 + 50s);
  EXPECT_EQ(table.expire_idle(t0 + 61s), 1u);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_NE(table.find(2), nullptr);
  EXPECT_EQ(table.expire_idle(t0 + 111s), 1u);
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace zmesh::internal
