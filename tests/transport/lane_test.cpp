// Shared-memory lanes between endpoints on one host (Config::shm_lane_bytes): messages go
// through the lane once the receiver accepted it, in order and exactly once, also when its
// ring fills or a message does not fit and goes over the socket; lanes off on either side
// keeps everything on the socket; a sender's lane whose records break the rules is closed by
// the receiver, which lives on; a receiver killed mid-stream leaves the sender's messages
// undeliverable by their deadline and the sender alive; a receiver stopped and continued
// loses nothing.
#include "peer_process.hpp"
#include "transport_testing.hpp"
#include "zmesh/transport/endpoint.hpp"
#include "zmesh/transport/internal/link_header.hpp"
#include "zmesh/transport/internal/shm_lane.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using testing::Inbox;
using testing::make_message;
using testing::make_text;
using testing::PeerProcess;
using testing::proc;
using testing::test_config;
using testing::unique_temp_path;
using testing::wait_until;

constexpr std::int64_t ring_bytes = 256 * 1024;  // lanes are off by default

Config lanes_on() {
  Config config = test_config();
  config.shm_lane_bytes = ring_bytes;
  return config;
}

class LaneTest : public ::testing::Test {
 protected:
  void start(const Config& sender_config, const Config& receiver_config) {
    auto receiver = Endpoint::bind(context_, receiver_id_, "ipc://" + unique_temp_path("lane"),
                                   receiver_inbox_.inbound(), receiver_config);
    ASSERT_TRUE(receiver.ok()) << receiver.error().describe();
    receiver_ = std::move(receiver).value();
    auto sender = Endpoint::bind(context_, sender_id_, "ipc://" + unique_temp_path("lane"),
                                 sender_inbox_.inbound(), sender_config);
    ASSERT_TRUE(sender.ok()) << sender.error().describe();
    sender_ = std::move(sender).value();
    ASSERT_TRUE(sender_->add_route(receiver_id_, receiver_->address()).ok());
  }
  void TearDown() override {
    if (sender_) sender_->close();
    if (receiver_) receiver_->close();
  }
  // Sends texts "0".."count-1" padded to the sizes `size_of` gives, and checks that the
  // receiver got each once, in order, and that every one was acked.
  void send_and_check(int count, const std::function<std::size_t(int)>& size_of) {
    const std::size_t before = receiver_inbox_.delivered_count();
    for (int i = 0; i < count; ++i) {
      std::string text = std::to_string(i);
      text.resize(std::max(text.size(), size_of(i)), '.');
      sender_->send(make_text(sender_id_, receiver_id_, text));
    }
    ASSERT_TRUE(wait_until(60s, [&] {
      return receiver_inbox_.delivered_count() >= before + static_cast<std::size_t>(count);
    })) << receiver_inbox_.delivered_count() - before << " of " << count << " arrived";
    const auto texts = receiver_inbox_.delivered_texts();
    ASSERT_EQ(texts.size(), before + static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      const std::string& text = texts[before + static_cast<std::size_t>(i)];
      ASSERT_EQ(text.substr(0, text.find('.')), std::to_string(i)) << "out of order at " << i;
      ASSERT_EQ(text.size(), std::max(std::to_string(i).size(), size_of(i)));
    }
    ASSERT_TRUE(wait_until(20s, [&] { return sender_->stats().pending == 0; }));
    EXPECT_EQ(sender_inbox_.returned_count(), 0u);
  }

  zmq::context_t context_;
  const ProcId sender_id_ = proc("lane-sender", 0);
  const ProcId receiver_id_ = proc("lane-receiver", 0);
  Inbox sender_inbox_;
  Inbox receiver_inbox_;
  std::unique_ptr<Endpoint> sender_;
  std::unique_ptr<Endpoint> receiver_;
};

TEST_F(LaneTest, MessagesToASameHostProcGoThroughTheLaneInOrder) {
  start(lanes_on(), lanes_on());
  // The first messages ask for the receiver's host and go over the socket; then the lane.
  send_and_check(10, [](int) { return 10; });
  ASSERT_TRUE(wait_until(20s, [&] { return sender_->stats().lanes_sending == 1; }));
  const auto before = sender_->stats();
  send_and_check(5000, [](int i) { return static_cast<std::size_t>(i % 7) * 300; });
  const auto sender = sender_->stats();
  const auto receiver = receiver_->stats();
  EXPECT_EQ(sender.lane_sent - before.lane_sent, 5000u) << "some went over the socket";
  EXPECT_EQ(receiver.lanes_receiving, 1u);
  EXPECT_GE(receiver.lane_received, 5000u);
  EXPECT_EQ(receiver.garbage_dropped, 0u);
  EXPECT_EQ(receiver.delivered, 5010u);  // exactly once: nothing twice
}

TEST_F(LaneTest, LanesOffOnEitherSideKeepEverythingOnTheSocket) {
  Config off = test_config();
  off.shm_lane_bytes = 0;
  start(off, lanes_on());
  send_and_check(500, [](int) { return 100; });
  EXPECT_EQ(sender_->stats().lane_sent, 0u);
  EXPECT_EQ(sender_->stats().lanes_sending, 0u);
  EXPECT_EQ(receiver_->stats().lanes_receiving, 0u);
}

TEST_F(LaneTest, AReceiverWithLanesOffRefusesTheOfferAndTheSenderStaysOnTheSocket) {
  Config off = test_config();
  off.shm_lane_bytes = 0;
  start(lanes_on(), off);
  send_and_check(500, [](int) { return 100; });
  send_and_check(500, [](int) { return 100; });  // after the refusal arrived, surely
  EXPECT_EQ(sender_->stats().lane_sent, 0u);
  EXPECT_EQ(sender_->stats().lanes_sending, 0u);
  EXPECT_EQ(receiver_->stats().lanes_receiving, 0u);
}

// A 4 KiB ring holds records of at most 1 KiB: bigger messages go over the socket between
// lane records, and a fast sender fills the ring again and again. The receiver still gets
// everything once and in order (the two paths are put back in order by sequence number).
TEST_F(LaneTest, AFullRingAndMessagesTooLargeForItKeepOrder) {
  Config small = test_config();
  small.shm_lane_bytes = 4096;
  small.shm_threshold = 0;
  small.resend_interval = Millis(50);
  start(small, lanes_on());
  send_and_check(10, [](int) { return 10; });
  ASSERT_TRUE(wait_until(20s, [&] { return sender_->stats().lanes_sending == 1; }));
  const auto before = sender_->stats();
  send_and_check(3000, [](int i) {
    return i % 50 == 0 ? std::size_t{40000} : i % 5 == 0 ? std::size_t{3000} : std::size_t{200};
  });
  const auto sender = sender_->stats();
  EXPECT_GT(sender.lane_sent - before.lane_sent, 2000u);
  EXPECT_LT(sender.lane_sent - before.lane_sent, 3000u) << "the large ones went by the lane?";
  EXPECT_TRUE(wait_until(10s, [&] { return receiver_->stats().delivered == 3010u; }))
      << receiver_->stats().delivered;
}

// A message that must switch paths waits for the one before it to be acked; when that one
// is given up at its deadline instead (the receiver held it, its mailbox full), the switch
// is due at once: the link must not wait on for an ack that will never come.
TEST_F(LaneTest, APathSwitchWaitingBehindAMessageGivenUpGoesOnAtItsDeadline) {
  Config small = test_config();
  small.shm_lane_bytes = 4096;  // records of 1 KiB at most
  small.shm_threshold = 0;
  small.resend_interval = Millis(50);
  start(small, lanes_on());
  send_and_check(10, [](int) { return 10; });
  ASSERT_TRUE(wait_until(20s, [&] { return sender_->stats().lanes_sending == 1; }));

  receiver_inbox_.set_open(false);  // data is refused, held, and not acked
  Envelope large = make_text(sender_id_, receiver_id_, std::string(3000, 'L'));
  large.deadline = deadline_in(1s);  // over the socket, then given up
  sender_->send(std::move(large));
  Envelope small_one = make_text(sender_id_, receiver_id_, "small");
  small_one.deadline = deadline_in(60s);  // the lane's, behind the large one
  sender_->send(std::move(small_one));
  ASSERT_TRUE(wait_until(20s, [&] { return sender_inbox_.returned_count() == 1; }))
      << "the large message was not given up at its deadline";
  receiver_inbox_.set_open(true);
  ASSERT_TRUE(wait_until(20s, [&] {
    const auto texts = receiver_inbox_.delivered_texts();
    return std::find(texts.begin(), texts.end(), "small") != texts.end();
  })) << "the message behind the given-up one never went out";
  EXPECT_EQ(sender_inbox_.returned_count(), 1u);
  EXPECT_EQ(sender_inbox_.returned().front().first.payload[0].view(), std::string(3000, 'L'));
}

// A sender (a raw DEALER playing one) offers a lane, then writes a record of more frames
// than the receiver allows: the receiver drops it, closes the lane with an answer naming
// why, and goes on serving over the socket.
TEST(LaneForgeryTest, ARecordBreakingTheRulesClosesTheLaneAndTheReceiverLives) {
  zmq::context_t context;
  Inbox inbox;
  const ProcId target_id = proc("lane-target", 0);
  Config config = lanes_on();
  config.log_level = "error";
  auto target = Endpoint::bind(context, target_id, "ipc://" + unique_temp_path("lane-forge"),
                               inbox.inbound(), config);
  ASSERT_TRUE(target.ok()) << target.error().describe();

  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::rcvtimeo, 20000);
  raw.connect((*target)->address());
  const ProcId forger = proc("lane-forger", 0);
  constexpr std::uint64_t session = 0x5eed;
  const auto data_message = [&](std::uint64_t seq) {
    std::string header = internal::encode_data_prefix(internal::LinkKind::data, forger, session);
    char buffer[18];
    header.append(buffer, internal::put_uint(internal::put_uint(buffer, seq), 1));
    header.append(encode_header(make_text(forger, target_id, "x")).view());
    return header;
  };
  // The session begins over the socket.
  const std::string first = data_message(1);
  raw.send(zmq::buffer(first), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("one"), zmq::send_flags::none);
  ASSERT_TRUE(wait_until(20s, [&] { return inbox.delivered_count() == 1; }));

  auto lane = internal::ShmLane::create("/dev/shm", 1 << 16);
  ASSERT_TRUE(lane.ok()) << lane.error().describe();
  const std::string offer = internal::encode_lane_offer(
      session, internal::encode_lane_descriptor((*lane)->descriptor()));
  raw.send(zmq::buffer(offer), zmq::send_flags::none);
  // Acks may come first; the answer comes.
  struct Answer {
    bool accepted = false;
    std::string reason;
  };
  const auto next_answer = [&]() -> std::optional<Answer> {
    zmq::message_t reply;
    while (raw.recv(reply)) {
      auto header = internal::parse_link_header(reply.to_string_view());
      if (header.ok() && header->kind == internal::LinkKind::lane_answer) {
        return Answer{header->lane_accepted, std::string(header->reason)};
      }
    }
    return std::nullopt;
  };
  const auto accepted = next_answer();
  ASSERT_TRUE(accepted.has_value()) << "no answer to the offer";
  ASSERT_TRUE(accepted->accepted) << accepted->reason;
  ASSERT_TRUE(wait_until(20s, [&] { return (*target)->stats().lanes_receiving == 1; }));

  const std::string second = data_message(2);
  std::vector<std::string_view> parts(100, "x");
  parts[0] = second;
  ASSERT_EQ((*lane)->write(parts), internal::ShmLane::Write::written);
  const auto closed = next_answer();
  ASSERT_TRUE(closed.has_value()) << "the lane was not closed";
  EXPECT_FALSE(closed->accepted);
  EXPECT_NE(closed->reason.find("100 frames"), std::string::npos) << closed->reason;
  EXPECT_TRUE(wait_until(20s, [&] { return (*target)->stats().lanes_receiving == 0; }));
  EXPECT_GE((*target)->stats().garbage_dropped, 1u);
  EXPECT_EQ(inbox.delivered_count(), 1u);

  // Message 2 again, over the socket: delivered.
  raw.send(zmq::buffer(second), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("two"), zmq::send_flags::none);
  ASSERT_TRUE(wait_until(20s, [&] { return inbox.delivered_count() == 2; }));
  EXPECT_EQ(inbox.delivered_texts().back(), "two");
  raw.close();
  (*target)->close();
}

// A driver endpoint in this process and an echo peer in another, both with lanes, the
// driver's lane to the peer open: what a proc killed or stopped does to its sender.
class LaneEchoPeerTest : public ::testing::Test {
 protected:
  void start(Millis delivery_timeout) {
    Config config = lanes_on();
    config.delivery_timeout = delivery_timeout;
    config.resend_interval = Millis(50);
    config.log_level = "error";
    auto driver = Endpoint::bind(context_, driver_id_, "ipc://" + unique_temp_path("lane-driver"),
                                 inbox_.inbound(), config);
    ASSERT_TRUE(driver.ok()) << driver.error().describe();
    driver_ = std::move(driver).value();
    peer_ = PeerProcess::start({"echo", peer_id_.to_string(),
                                "ipc://" + unique_temp_path("lane-echo"),
                                driver_id_.to_string() + "=" + driver_->address()},
                               {"ZMESH_SHM_LANE_BYTES=" + std::to_string(ring_bytes),
                                "ZMESH_RESEND_INTERVAL_MS=50"});
    ASSERT_TRUE(driver_->add_route(peer_id_, peer_->address()).ok());
    // The first messages ask for the peer's host over the socket; then the lane opens.
    while (driver_->stats().lanes_sending == 0 && sent_ < 20) ASSERT_TRUE(send_and_echo());
    ASSERT_EQ(driver_->stats().lanes_sending, 1u);
  }
  void TearDown() override {
    if (driver_) driver_->close();
  }
  // Sends the next text ("0", "1", ...) to the peer.
  void send_next() { driver_->send(make_text(driver_id_, peer_id_, std::to_string(sent_++))); }
  // Sends the next text and waits for its echo.
  bool send_and_echo() {
    const std::size_t before = inbox_.delivered_count();
    send_next();
    return wait_until(20s, [&] { return inbox_.delivered_count() == before + 1; });
  }

  zmq::context_t context_;
  Inbox inbox_;
  const ProcId driver_id_ = proc("lane-driver", 0);
  const ProcId peer_id_ = proc("lane-echo", 0);
  std::unique_ptr<Endpoint> driver_;
  std::unique_ptr<PeerProcess> peer_;
  int sent_ = 0;
};

// The receiving proc is killed while the sender writes to its lane: the sender's messages
// come back undeliverable by their deadline, and the sender (no SIGPIPE from a doorbell)
// lives on.
TEST_F(LaneEchoPeerTest, AReceiverKilledMidStreamLeavesTheSenderAliveAndItsMessagesReturned) {
  start(Millis(1500));
  ASSERT_EQ(::kill(peer_->pid(), SIGKILL), 0);
  ASSERT_TRUE(peer_->wait_exit(20s).has_value());
  constexpr int count = 2000;  // more than the lane's ring holds
  for (int i = 0; i < count; ++i) {
    driver_->send(make_message(driver_id_, peer_id_, {Frame::from_string(std::string(500, 'z'))}));
  }
  ASSERT_TRUE(wait_until(30s, [&] { return inbox_.returned_count() == count; }))
      << inbox_.returned_count() << " of " << count << " returned";
  for (const auto& [envelope, error] : inbox_.returned()) {
    EXPECT_EQ(error.code, ErrorCode::undeliverable) << error.describe();
  }
  EXPECT_EQ(driver_->stats().pending, 0u);
}

// The receiving proc is stopped (SIGSTOP: a peer that is slow, not dead) long enough that
// the sender takes its lane for unread and goes back to the socket. Once it runs again, every
// message arrives exactly once and in order, is acked the way it came (not into the lane the
// sender dropped), nothing comes back undeliverable, and the lane is offered again.
TEST_F(LaneEchoPeerTest, AReceiverStoppedAndContinuedGetsEveryMessageOnceAndTheLaneComesBack) {
  start(Millis(60000));
  const auto lane_sent_before = driver_->stats().lane_sent;
  ASSERT_EQ(::kill(peer_->pid(), SIGSTOP), 0);
  for (int i = 0; i < 50; ++i) send_next();
  // Unread records and no reading across two resend timeouts: the sender drops the lane.
  const bool dropped = wait_until(30s, [&] { return driver_->stats().lanes_sending == 0; });
  ASSERT_EQ(::kill(peer_->pid(), SIGCONT), 0);
  ASSERT_TRUE(dropped);
  EXPECT_GT(driver_->stats().lane_sent, lane_sent_before) << "the stop caught nothing in the lane";

  ASSERT_TRUE(wait_until(30s, [&] {
    return inbox_.delivered_count() >= static_cast<std::size_t>(sent_);
  })) << inbox_.delivered_count() << " of " << sent_ << " echoed";
  ASSERT_TRUE(wait_until(30s, [&] { return driver_->stats().pending == 0; }))
      << driver_->stats().pending << " still unacked";
  const auto texts = inbox_.delivered_texts();
  ASSERT_EQ(texts.size(), static_cast<std::size_t>(sent_)) << "a message arrived twice";
  for (int i = 0; i < sent_; ++i) ASSERT_EQ(texts[static_cast<std::size_t>(i)], std::to_string(i));
  EXPECT_EQ(inbox_.returned_count(), 0u);
  // Offered again after its wait (1 s at the first drop): traffic finds the lane back.
  ASSERT_TRUE(wait_until(30s, [&] {
    return send_and_echo() && driver_->stats().lanes_sending == 1;
  }));
}

}  // namespace
}  // namespace zmesh
