// SendWindow, the sending half of the reliability protocol, driven deterministically: every
// call gets its `now` from the test, nothing sleeps, and the assertions are on sequence
// numbers and counters.
#include "zmesh/transport/internal/send_window.hpp"

#include <gtest/gtest.h>

namespace zmesh::internal {
namespace {

using namespace std::chrono_literals;

const Clock::time_point t0 = Clock::time_point{} + 1h;
constexpr auto resend_interval = 200ms;

Outgoing message(Clock::duration lifetime = 30s, bool counted = false, std::uint64_t bytes = 100) {
  Outgoing out;
  out.queued_at = t0;
  out.deadline = t0 + lifetime;
  out.counted = counted;
  out.bytes = bytes;
  return out;
}

// Transmits everything the window has to send at `now`; returns the seqs, in order, with
// skips (given-up messages) negated.
std::vector<std::int64_t> send_all(SendWindow& window, Clock::time_point now) {
  std::vector<std::int64_t> seqs;
  while (Outgoing* next = window.to_send()) {
    const auto seq = static_cast<std::int64_t>(window.send_seq());
    seqs.push_back(next->live ? seq : -seq);
    window.sent(now);
  }
  return seqs;
}

using Seqs = std::vector<std::int64_t>;

TEST(SendWindowTest, NumbersMessagesAndReleasesThemOnACumulativeAck) {
  SendWindow window(100, resend_interval);
  for (int i = 0; i < 5; ++i) window.push(message());
  EXPECT_EQ(send_all(window, t0), (Seqs{1, 2, 3, 4, 5}));
  EXPECT_TRUE(window.resend_armed());
  const auto acked = window.on_ack(3, false, t0 + 1ms);
  EXPECT_TRUE(acked.valid);
  EXPECT_EQ(acked.released, 3u);
  EXPECT_EQ(window.front_seq(), 4u);
  EXPECT_EQ(window.unacked(), 2u);
  // A duplicate ack of what is settled changes nothing.
  EXPECT_EQ(window.on_ack(3, false, t0 + 2ms).released, 0u);
  EXPECT_EQ(window.on_ack(5, false, t0 + 3ms).released, 2u);
  EXPECT_TRUE(window.idle());
  EXPECT_FALSE(window.resend_armed());
  EXPECT_EQ(window.earliest_deadline(), Deadline::max());
}

TEST(SendWindowTest, AnAckBeyondWhatWasSentIsInvalidAndChangesNothing) {
  SendWindow window(100, resend_interval);
  for (int i = 0; i < 3; ++i) window.push(message());
  send_all(window, t0);
  const auto acked = window.on_ack(3, false, t0);  // only 1..3 exist: 3 is fine
  EXPECT_TRUE(acked.valid);
  window.push(message());
  EXPECT_FALSE(window.on_ack(9, false, t0).valid);
  EXPECT_EQ(window.front_seq(), 4u);
  EXPECT_EQ(window.unacked(), 1u);
}

TEST(SendWindowTest, LossIsResentAfterTheIntervalWithExponentialBackoff) {
  SendWindow window(100, resend_interval);
  for (int i = 0; i < 3; ++i) window.push(message());
  send_all(window, t0);
  EXPECT_EQ(window.resend_due(), t0 + 200ms);
  window.resend_now();  // the timer fired: nothing was acked
  EXPECT_EQ(window.backoff(), 1);
  EXPECT_EQ(send_all(window, t0 + 200ms), (Seqs{1, 2, 3}));
  EXPECT_EQ(window.resend_due(), t0 + 200ms + 400ms);
  window.resend_now();  // still nothing: only the front goes out, as a probe
  EXPECT_EQ(send_all(window, t0 + 600ms), (Seqs{1}));
  EXPECT_EQ(window.resend_due(), t0 + 600ms + 800ms);
  // Karn: an ack of resent copies says nothing about the delay and keeps the backoff.
  window.on_ack(1, false, t0 + 700ms);
  EXPECT_EQ(window.backoff(), 2);
  // An ack of a message sent once resets it.
  window.push(message());
  send_all(window, t0 + 800ms);
  window.on_ack(4, false, t0 + 810ms);
  EXPECT_EQ(window.backoff(), 0);
  EXPECT_TRUE(window.idle());
}

TEST(SendWindowTest, AReceiverThatMakesNoProgressIsProbedWithOneMessage) {
  SendWindow window(100, resend_interval);
  for (int i = 0; i < 5; ++i) window.push(message());
  send_all(window, t0);
  window.resend_now();
  EXPECT_EQ(send_all(window, t0 + 200ms), (Seqs{1, 2, 3, 4, 5}));
  // A receiver that holds (full mailbox) or is stopped: one copy per backed-off interval.
  for (int i = 0; i < 3; ++i) {
    window.resend_now();
    EXPECT_EQ(send_all(window, t0 + 1s * (i + 1)), (Seqs{1}));
  }
  EXPECT_EQ(window.cursor(), 6u);  // new messages still go out after the others
  window.push(message());
  EXPECT_EQ(send_all(window, t0 + 4s), (Seqs{6}));
  // It releases the held one and nacks the rest: everything after it goes out at once.
  window.on_ack(1, true, t0 + 5s);
  EXPECT_EQ(send_all(window, t0 + 5s), (Seqs{2, 3, 4, 5, 6}));
  // Progress since the last resend: the next timer resends everything again.
  window.resend_now();
  EXPECT_EQ(send_all(window, t0 + 9s), (Seqs{2, 3, 4, 5, 6}));
}

TEST(SendWindowTest, SlowAcksStretchTheResendWait) {
  SendWindow window(100, resend_interval);
  window.push(message());
  send_all(window, t0);
  window.on_ack(1, false, t0 + 1s);  // a 1 s ack delay: smoothed 1 s, variation 0.5 s
  window.push(message());
  send_all(window, t0 + 2s);
  EXPECT_EQ(window.resend_due(), t0 + 2s + 3s);  // 1 s + 4 * 0.5 s, above the interval
}

TEST(SendWindowTest, ANackRewindsOncePerGap) {
  SendWindow window(100, resend_interval);
  for (int i = 0; i < 5; ++i) window.push(message());
  send_all(window, t0);
  // The receiver got 1 and 2, then a gap (3 lost, 4 and 5 dropped).
  window.on_ack(2, true, t0 + 1ms);
  EXPECT_EQ(window.cursor(), 3u);
  EXPECT_EQ(send_all(window, t0 + 1ms), (Seqs{3, 4, 5}));
  // The nacks for 4 and 5 of the first round arrive: the copies are in flight already.
  window.on_ack(2, true, t0 + 2ms);
  EXPECT_TRUE(send_all(window, t0 + 2ms).empty());
  // A nack for the same gap after the interval: the copies were lost too.
  window.on_ack(2, true, t0 + 300ms);
  EXPECT_EQ(send_all(window, t0 + 300ms), (Seqs{3, 4, 5}));
}

TEST(SendWindowTest, AReconnectSendsEverythingUnackedAgainInOrder) {
  SendWindow window(100, resend_interval);
  for (int i = 0; i < 4; ++i) window.push(message());
  send_all(window, t0);
  window.on_ack(1, false, t0 + 1ms);
  window.rewind();  // a new connection has seen nothing
  EXPECT_EQ(send_all(window, t0 + 2ms), (Seqs{2, 3, 4}));
  EXPECT_EQ(window.on_ack(4, false, t0 + 3ms).released, 3u);
}

TEST(SendWindowTest, ARejectGivesUpThatMessageOnlyAndItsSeqGoesOutAsSkip) {
  SendWindow window(100, resend_interval);
  for (int i = 0; i < 3; ++i) window.push(message(30s, true, 10));
  send_all(window, t0);
  auto refused = window.on_reject(2);
  ASSERT_TRUE(refused.has_value());
  EXPECT_TRUE(refused->counted);
  EXPECT_EQ(window.counted_messages(), 2u);
  EXPECT_FALSE(window.on_reject(2).has_value());  // refused twice: once is enough
  EXPECT_FALSE(window.on_reject(7).has_value());  // never sent
  window.rewind();
  EXPECT_EQ(send_all(window, t0 + 1ms), (Seqs{1, -2, 3}));
  const auto acked = window.on_ack(3, false, t0 + 2ms);
  EXPECT_EQ(acked.released, 2u);
  EXPECT_EQ(acked.counted_messages, 2u);
  EXPECT_EQ(acked.counted_bytes, 20u);
  EXPECT_EQ(window.counted_messages(), 0u);
  // The next message is not stalled by the refused one.
  window.push(message());
  EXPECT_EQ(send_all(window, t0 + 3ms), (Seqs{4}));
}

TEST(SendWindowTest, BeyondMaxUnackedMessagesWaitWithoutASeqAndFollowAcks) {
  SendWindow window(2, resend_interval);
  for (int i = 0; i < 5; ++i) window.push(message());
  EXPECT_EQ(window.unacked(), 2u);
  EXPECT_EQ(window.backlog(), 3u);
  EXPECT_EQ(send_all(window, t0), (Seqs{1, 2}));
  window.on_ack(1, false, t0 + 1ms);
  EXPECT_EQ(send_all(window, t0 + 1ms), (Seqs{3}));
  window.on_ack(3, false, t0 + 2ms);
  EXPECT_EQ(send_all(window, t0 + 2ms), (Seqs{4, 5}));
  window.on_ack(5, false, t0 + 3ms);
  EXPECT_TRUE(window.idle());
}

TEST(SendWindowTest, TheDataWindowFillsAndDrains) {
  const WindowLimits limits{4, 1000};
  SendWindow window(100, resend_interval);
  while (window_has_room(window.counted_messages(), window.counted_bytes(), 100, limits)) {
    window.push(message(30s, true, 100));
  }
  EXPECT_EQ(window.counted_messages(), 4u);  // full by count
  EXPECT_EQ(window.counted_bytes(), 400u);
  EXPECT_FALSE(window_half_empty(window.counted_messages(), window.counted_bytes(), limits));
  send_all(window, t0);
  window.on_ack(2, false, t0 + 1ms);
  EXPECT_TRUE(window_has_room(window.counted_messages(), window.counted_bytes(), 100, limits));
  EXPECT_TRUE(window_half_empty(window.counted_messages(), window.counted_bytes(), limits));
  // Full by bytes; an empty window still takes one message larger than all of it.
  EXPECT_FALSE(window_has_room(2, 950, 100, limits));
  EXPECT_TRUE(window_has_room(0, 0, 5000, limits));
  // Uncounted messages (send(): replies, control) do not occupy it.
  window.push(message(30s, false, 100000));
  EXPECT_EQ(window.counted_messages(), 2u);
}

TEST(SendWindowTest, MessagesPastTheirDeadlineAreGivenUpAndTheFloorMovesOn) {
  SendWindow window(2, resend_interval);
  window.push(message(1s, true));
  window.push(message(3s));
  window.push(message(2s));  // in the backlog
  EXPECT_EQ(window.earliest_deadline(), t0 + 1s);
  send_all(window, t0);
  auto expired = window.expire(t0 + 1s);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].deadline, t0 + 1s);
  EXPECT_EQ(window.counted_messages(), 0u);
  EXPECT_EQ(window.front_seq(), 2u);  // the floor tells the receiver to skip 1
  EXPECT_EQ(window.earliest_deadline(), t0 + 2s);
  EXPECT_EQ(send_all(window, t0 + 1s), (Seqs{3}));  // admitted from the backlog
  expired = window.expire(t0 + 2s);
  ASSERT_EQ(expired.size(), 1u);  // seq 3: a tombstone behind live seq 2
  window.rewind();
  EXPECT_EQ(send_all(window, t0 + 2s), (Seqs{2, -3}));
  EXPECT_EQ(window.on_ack(3, false, t0 + 2s).released, 1u);
  EXPECT_TRUE(window.idle());
}

TEST(SendWindowTest, TakeAllReturnsTheLiveMessagesAndKeepsTheirSeqsUsed) {
  SendWindow window(2, resend_interval);
  for (int i = 0; i < 3; ++i) window.push(message(30s, true));
  send_all(window, t0);
  EXPECT_EQ(window.take_all().size(), 3u);
  EXPECT_EQ(window.counted_messages(), 0u);
  EXPECT_TRUE(window.idle());
  window.push(message());
  EXPECT_EQ(send_all(window, t0 + 1s), (Seqs{3}));  // 1 and 2 stay used
}

}  // namespace
}  // namespace zmesh::internal
