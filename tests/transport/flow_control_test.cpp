// Flow control over real sockets: a receiver that refuses (a full mailbox) holds, the
// sender's window fills and send_bounded fails with backpressure, and after retry_held()
// everything arrives exactly once and in order; control messages flow while data is held;
// oversized messages fail at once at the sender; a flood of forged senders leaves the
// receiver's session state bounded.
#include "transport_testing.hpp"
#include "zmesh/transport/endpoint.hpp"
#include "zmesh/transport/internal/link_header.hpp"
#include "zmesh/transport/internal/receive_session.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <optional>
#include <random>
#include <zmq.hpp>

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using testing::Inbox;
using testing::make_message;
using testing::make_text;
using testing::proc;
using testing::test_config;
using testing::unique_temp_path;
using testing::wait_until;

constexpr std::uint32_t window_messages = 8;
constexpr std::string_view control_type = "zmesh.agent.Ping";  // lane_of: control

class FlowControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config = test_config();
    config.link_window_messages = window_messages;
    config.resend_interval = Millis(50);  // held messages are retried this often too
    config.max_message_bytes = 64 * 1024;
    auto receiver = Endpoint::bind(context_, receiver_id_, "ipc://" + unique_temp_path("flow"),
                                   receiver_inbox_.inbound(), config);
    ASSERT_TRUE(receiver.ok()) << receiver.error().describe();
    receiver_ = std::move(receiver).value();
    Endpoint::Inbound inbound = sender_inbox_.inbound();
    inbound.deliver = [this, record = inbound.deliver](Envelope& envelope) {
      if (on_sender_io_) on_sender_io_(envelope);
      return record(envelope);
    };
    inbound.link_room = [this] { link_room_calls_.fetch_add(1); };
    config.max_message_bytes = std::int64_t{1} << 30;  // the sender's own limit is larger
    auto sender = Endpoint::bind(context_, sender_id_, "ipc://" + unique_temp_path("flow"),
                                 std::move(inbound), config);
    ASSERT_TRUE(sender.ok()) << sender.error().describe();
    sender_ = std::move(sender).value();
    ASSERT_TRUE(sender_->add_route(receiver_id_, receiver_->address(), 64 * 1024).ok());
  }
  void TearDown() override {
    sender_->close();
    receiver_->close();
  }

  Result<void> send_data(std::string_view text, Deadline room_deadline) {
    return sender_->send_bounded(make_text(sender_id_, receiver_id_, text), room_deadline);
  }
  // The data texts delivered so far (control messages left out).
  std::vector<std::string> data_delivered() const {
    std::vector<std::string> texts;
    for (const auto& envelope : receiver_inbox_.delivered()) {
      if (lane_of(envelope.type_name) == Lane::data) {
        texts.emplace_back(envelope.payload[0].view());
      }
    }
    return texts;
  }

  zmq::context_t context_;
  const ProcId receiver_id_ = proc("flow", 0);
  const ProcId sender_id_ = proc("flow", 1);
  Inbox receiver_inbox_, sender_inbox_;
  std::atomic<int> link_room_calls_{0};
  // Runs on the sender's I/O thread for each message the sender receives; set before any
  // message is sent to the sender.
  std::function<void(Envelope&)> on_sender_io_;
  std::unique_ptr<Endpoint> receiver_, sender_;
};

TEST_F(FlowControlTest, AHeldReceiverFillsTheWindowThenEverythingArrivesOnceInOrder) {
  receiver_inbox_.set_open(false);  // a full mailbox
  std::vector<std::string> expected;
  for (std::uint32_t i = 0; i < window_messages; ++i) {
    expected.push_back("m" + std::to_string(i));
    auto sent = send_data(expected.back(), deadline_in(10s));
    ASSERT_TRUE(sent.ok()) << sent.error().describe();
  }
  ASSERT_TRUE(wait_until(10s, [&] { return receiver_inbox_.refused_count() > 0; }));
  EXPECT_FALSE(sender_->has_room(receiver_id_, 10));
  // The window is full and the receiver holds: no room comes before this deadline.
  auto refused = send_data("late", deadline_in(200ms));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::backpressure);
  EXPECT_NE(refused.error().message.find("link to " + receiver_id_.to_string() +
                                         " full: 8 "
                                         "messages"),
            std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("limits 8 /"), std::string::npos);
  EXPECT_TRUE(data_delivered().empty());

  receiver_inbox_.set_open(true);  // the mailbox drained
  receiver_->retry_held();
  ASSERT_TRUE(wait_until(10s, [&] { return data_delivered().size() == expected.size(); }))
      << data_delivered().size();
  ASSERT_TRUE(wait_until(10s, [&] { return link_room_calls_.load() > 0; }));
  EXPECT_TRUE(sender_->has_room(receiver_id_, 10));
  expected.push_back("after");
  auto sent = send_data("after", deadline_in(10s));
  ASSERT_TRUE(sent.ok()) << sent.error().describe();
  ASSERT_TRUE(wait_until(10s, [&] { return data_delivered().size() == expected.size(); }));
  EXPECT_EQ(data_delivered(), expected);  // once each, in order
  ASSERT_TRUE(wait_until(10s, [&] { return sender_->stats().pending == 0; }));
  EXPECT_EQ(sender_inbox_.returned_count(), 0u);
}

TEST_F(FlowControlTest, OnTheIoThreadSendBoundedNeverWaits) {
  std::atomic<bool> answered{false};
  std::optional<Error> result;  // written on the sender's I/O thread before `answered`
  on_sender_io_ = [&](Envelope&) {
    auto sent = send_data("from a handler", deadline_in(60s));
    if (!sent) result = sent.error();
    answered.store(true);
  };
  receiver_inbox_.set_open(false);
  for (std::uint32_t i = 0; i < window_messages; ++i) {
    ASSERT_TRUE(send_data("m" + std::to_string(i), deadline_in(10s)).ok());
  }
  ASSERT_TRUE(wait_until(10s, [&] { return receiver_inbox_.refused_count() > 0; }));
  // The receiver answers on the control lane (it holds data): the sender's handler, on its
  // I/O thread, finds the link full and must fail at once, not wait 60 s for room only that
  // thread could make.
  ASSERT_TRUE(receiver_->add_route(sender_id_, sender_->address()).ok());
  receiver_->send(make_text(receiver_id_, sender_id_, "poke", std::string(control_type)));
  ASSERT_TRUE(wait_until(10s, [&] { return answered.load(); }));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->code, ErrorCode::backpressure);
  receiver_inbox_.set_open(true);
  receiver_->retry_held();
  ASSERT_TRUE(wait_until(10s, [&] { return data_delivered().size() == window_messages; }));
}

TEST_F(FlowControlTest, ControlMessagesFlowWhileTheDataLaneIsHeld) {
  receiver_inbox_.set_open(false);
  for (std::uint32_t i = 0; i < window_messages; ++i) {
    ASSERT_TRUE(send_data("d" + std::to_string(i), deadline_in(10s)).ok());
  }
  ASSERT_TRUE(wait_until(10s, [&] { return receiver_inbox_.refused_count() > 0; }));
  ASSERT_FALSE(sender_->has_room(receiver_id_, 10));
  // Heartbeat-like traffic: neither counted against the full window nor held behind it.
  for (int i = 0; i < 20; ++i) {
    auto sent = sender_->send_bounded(
        make_text(sender_id_, receiver_id_, "c" + std::to_string(i), std::string(control_type)),
        Deadline{});
    ASSERT_TRUE(sent.ok()) << sent.error().describe();
    sender_->send(
        make_text(sender_id_, receiver_id_, "s" + std::to_string(i), std::string(control_type)));
  }
  ASSERT_TRUE(wait_until(10s, [&] { return receiver_inbox_.delivered_count() == 40; }))
      << receiver_inbox_.delivered_count();
  EXPECT_TRUE(data_delivered().empty());
  const auto texts = receiver_inbox_.delivered_texts();
  EXPECT_EQ(texts.front(), "c0");
  EXPECT_EQ(texts.back(), "s19");

  receiver_inbox_.set_open(true);
  receiver_->retry_held();
  ASSERT_TRUE(wait_until(10s, [&] { return data_delivered().size() == window_messages; }));
}

TEST_F(FlowControlTest, AnOversizedMessageFailsAtOnceNamingBothSizesAndTheNextOneArrives) {
  const std::string big(100 * 1024, 'x');
  auto refused = send_data(big, deadline_in(10s));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::too_large);
  const std::string& message = refused.error().message;
  EXPECT_NE(message.find("exceeds the limit of 65536 bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("message of 1024"), std::string::npos) << message;  // 102400 + header
  EXPECT_NE(message.find(receiver_id_.to_string()), std::string::npos) << message;
  EXPECT_EQ(sender_->stats().sent, 0u);

  // send() returns it through undeliverable, never sending it.
  sender_->send(make_text(sender_id_, receiver_id_, big));
  ASSERT_TRUE(wait_until(10s, [&] { return sender_inbox_.returned_count() == 1; }));
  EXPECT_EQ(sender_inbox_.returned()[0].second.code, ErrorCode::too_large);

  ASSERT_TRUE(send_data("small", deadline_in(10s)).ok());
  ASSERT_TRUE(wait_until(10s, [&] { return data_delivered().size() == 1; }));
  EXPECT_EQ(data_delivered()[0], "small");
  EXPECT_EQ(sender_->stats().sent, 1u);
  EXPECT_EQ(sender_->stats().resent, 0u);
}

TEST(FlowControlFloodTest, LinksToProcsWithoutARouteExpireOnceIdle) {
  zmq::context_t context;
  Inbox inbox;
  Config config = test_config();
  config.delivery_timeout = Millis(300);
  const ProcId self = proc("lonely", 0);
  auto endpoint = Endpoint::bind(context, self, "ipc://" + unique_temp_path("routeless"),
                                 inbox.inbound(), config);
  ASSERT_TRUE(endpoint.ok()) << endpoint.error().describe();
  // Answers to 50 procs nobody told us about (forged senders, say).
  for (std::uint32_t rank = 0; rank < 50; ++rank) {
    (*endpoint)->send(make_text(self, proc("unknown", rank), "reply"));
  }
  ASSERT_TRUE(wait_until(10s, [&] { return inbox.returned_count() == 50; }));
  EXPECT_NE(inbox.returned()[0].second.message.find("no route to"), std::string::npos);
  ASSERT_TRUE(wait_until(10s, [&] { return (*endpoint)->stats().links == 0; }))
      << (*endpoint)->stats().links;
  (*endpoint)->close();
}

TEST(FlowControlFloodTest, HundredThousandForgedSendersLeaveSessionsBounded) {
  zmq::context_t context;
  std::atomic<std::uint64_t> delivered{0};
  Endpoint::Inbound inbound{[&](Envelope&) {
                              delivered.fetch_add(1);
                              return true;
                            },
                            [](Envelope&&, Error) {}};
  const ProcId target_id = proc("target", 0);
  Config config = test_config();
  config.log_level = "error";  // ZM-GARBAGE and friends are rate-limited anyway
  auto target = Endpoint::bind(context, target_id, "ipc://" + unique_temp_path("flood"),
                               std::move(inbound), config);
  ASSERT_TRUE(target.ok()) << target.error().describe();
  Inbox sender_inbox;
  const ProcId sender_id = proc("honest", 0);
  auto sender = Endpoint::bind(context, sender_id, "ipc://" + unique_temp_path("flood"),
                               sender_inbox.inbound(), test_config());
  ASSERT_TRUE(sender.ok());
  ASSERT_TRUE((*sender)->add_route(target_id, (*target)->address()).ok());

  zmq::socket_t raw(context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect((*target)->address());
  const Frame envelope_header = encode_header(make_text(proc("raw", 0), target_id, "x"));
  std::mt19937_64 random(8);
  constexpr int forged = 100000;
  for (int i = 0; i < forged; ++i) {
    const ProcId who = proc("forged" + std::to_string(random() % 1000000), i);
    std::string header = internal::encode_data_prefix(internal::LinkKind::data, who, random() | 1);
    char buffer[18];
    header.append(buffer, internal::put_uint(internal::put_uint(buffer, 1), 1));
    header.append(envelope_header.view());
    raw.send(zmq::buffer(header), zmq::send_flags::sndmore);
    raw.send(zmq::str_buffer("x"), zmq::send_flags::none);
  }
  ASSERT_TRUE(wait_until(60s, [&] { return delivered.load() == forged; })) << delivered.load();
  EXPECT_LE((*target)->stats().sessions, internal::max_receive_sessions);
  EXPECT_GE((*target)->stats().sessions, 1u);
  // An honest sender still gets through.
  (*sender)->send(make_text(sender_id, target_id, "ping"));
  ASSERT_TRUE(wait_until(10s, [&] { return delivered.load() == forged + 1; }));
  EXPECT_LE((*target)->stats().sessions, internal::max_receive_sessions);
  ASSERT_TRUE(wait_until(10s, [&] { return (*sender)->stats().pending == 0; }));
  raw.close();
  (*sender)->close();
  (*target)->close();
}

}  // namespace
}  // namespace zmesh
