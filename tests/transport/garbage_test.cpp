// Malformed input: each kind is dropped (and counted when it reaches us), and the endpoint
// goes on delivering normal messages.
#include "transport_testing.hpp"
#include "zmesh/transport/address.hpp"
#include "zmesh/transport/endpoint.hpp"
#include "zmesh/transport/internal/link_header.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <zmq.hpp>

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using testing::Inbox;
using testing::make_text;
using testing::proc;
using testing::test_config;
using testing::unique_temp_path;
using testing::wait_until;

// The bytes of a literal, embedded NULs included.
template <std::size_t N>
std::string bytes_of(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

class GarbageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config = test_config();
    config.max_message_bytes = 64 * 1024;
    auto target =
        Endpoint::bind(context_, target_id_, "tcp://127.0.0.1:0", target_inbox_.inbound(), config);
    ASSERT_TRUE(target.ok()) << target.error().describe();
    target_ = std::move(target).value();
    auto sender = Endpoint::bind(context_, sender_id_, "ipc://" + unique_temp_path("garbage"),
                                 sender_inbox_.inbound(), test_config());
    ASSERT_TRUE(sender.ok()) << sender.error().describe();
    sender_ = std::move(sender).value();
    ASSERT_TRUE(sender_->add_route(target_id_, target_->address()).ok());
    raw_.set(zmq::sockopt::linger, 0);
    // A peer with the key: garbage past the handshake (security_test covers peers without).
    raw_.set(zmq::sockopt::curve_serverkey, testing::test_key_pair().public_key);
    raw_.set(zmq::sockopt::curve_publickey, testing::test_key_pair().public_key);
    raw_.set(zmq::sockopt::curve_secretkey, testing::test_key_pair().secret_key);
    raw_.connect(target_->address());
  }
  void TearDown() override {
    raw_.close();
    sender_->close();
    target_->close();
    EXPECT_EQ(sender_inbox_.returned_count(), 0u);
  }

  // A normal message still arrives after the garbage.
  void expect_still_serving() {
    const std::string text = "still serving " + std::to_string(++probes_);
    sender_->send(make_text(sender_id_, target_id_, text));
    ASSERT_TRUE(wait_until(10s, [&] {
      const auto texts = target_inbox_.delivered_texts();
      return !texts.empty() && texts.back() == text;
    }));
    EXPECT_EQ(target_inbox_.delivered_count(), probes_) << "garbage was delivered";
  }
  // The delivered counter is bumped after the inbox took the message, so it is waited for.
  void expect_delivered(std::uint64_t count) {
    EXPECT_TRUE(wait_until(10s, [&] { return target_->stats().delivered >= count; }));
    EXPECT_EQ(target_->stats().delivered, count);
  }
  void expect_garbage_counted(std::uint64_t at_least) {
    ASSERT_TRUE(wait_until(10s, [&] { return target_->stats().garbage_dropped >= at_least; }))
        << target_->stats().garbage_dropped;
  }
  void send_raw(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      raw_.send(zmq::buffer(frames[i]),
                i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  std::string valid_link_header(std::uint64_t seq) {
    std::string bytes = internal::encode_data_prefix(internal::LinkKind::data, raw_id_, 99);
    char buffer[18];
    bytes.append(buffer, internal::put_uint(internal::put_uint(buffer, seq), 1));
    return bytes;
  }
  // A data message's first frame: the link header, then `envelope_header`.
  std::string first_frame(std::uint64_t seq, std::string_view envelope_header) {
    return valid_link_header(seq) + std::string(envelope_header);
  }

  zmq::context_t context_;
  const ProcId target_id_ = proc("target", 0);
  const ProcId sender_id_ = proc("sender", 0);
  const ProcId raw_id_ = proc("raw", 0);
  Inbox target_inbox_, sender_inbox_;
  std::unique_ptr<Endpoint> target_, sender_;
  zmq::socket_t raw_{context_, zmq::socket_type::dealer};
  std::size_t probes_ = 0;
};

TEST_F(GarbageTest, RandomBytesAreDroppedAndCounted) {
  send_raw({random_bytes(300, 1)});
  send_raw({random_bytes(10, 2), random_bytes(1000, 3), random_bytes(5, 4)});
  send_raw({""});
  expect_garbage_counted(3);
  expect_still_serving();
}

TEST_F(GarbageTest, TruncatedMsgpackIsDropped) {
  const std::string header = valid_link_header(1);
  send_raw({header.substr(0, header.size() / 2)});
  expect_garbage_counted(1);
  // A good link header in front of an envelope header cut short: rejected to its sender.
  const Frame envelope_header = encode_header(make_text(raw_id_, target_id_, "x"));
  send_raw({first_frame(1, envelope_header.view().substr(0, 7)), "x"});
  expect_garbage_counted(2);
  // A data link header with no envelope header behind it.
  send_raw({valid_link_header(1), "x"});
  expect_garbage_counted(3);
  expect_still_serving();
}

TEST_F(GarbageTest, ForgedHugeLengthsAreDropped) {
  // A link header claiming 4 billion items, then a string claiming 4 GB.
  send_raw({bytes_of("\xdd\xff\xff\xff\xff\xa3zm2") + std::string(64, '\0')});
  send_raw({bytes_of("\x96\xdb\xff\xff\xff\xff") + "zm2"});
  expect_garbage_counted(2);
  // An envelope header that is a 4-billion-element array behind a valid link header.
  send_raw({first_frame(1, bytes_of("\xdd\xff\xff\xff\xff\x01\x02"))});
  expect_garbage_counted(3);
  expect_still_serving();
}

TEST_F(GarbageTest, ThousandFramesAreDropped) {
  std::vector<std::string> frames(1000, "frame");
  frames[0] = first_frame(1, encode_header(make_text(raw_id_, target_id_, "x")).view());
  send_raw(frames);
  expect_garbage_counted(1);
  expect_still_serving();
  expect_delivered(1);
}

TEST_F(GarbageTest, RawTcpBytesDoNotStopTheEndpoint) {
  auto address = Address::parse(target_->address());
  ASSERT_TRUE(address.ok());
  for (unsigned seed = 1; seed <= 3; ++seed) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(address->port);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer), 0);
    const std::string junk = random_bytes(16 * 1024, seed);
    // ZeroMQ may hang up mid-way; what matters is that the endpoint survives.
    (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    ::close(fd);
  }
  expect_still_serving();
}

TEST_F(GarbageTest, OversizedFrameIsRefusedByZeroMQ) {
  // Above max_message_bytes (64 KiB): ZeroMQ drops the connection before we see anything.
  send_raw({first_frame(1, encode_header(make_text(raw_id_, target_id_, "x")).view()),
            std::string(1024 * 1024, 'o')});
  expect_still_serving();
  expect_delivered(1);
}

TEST_F(GarbageTest, ForgedRepliesToTheSenderAreDroppedToo) {
  // The sender's DEALER validates what comes back: acks for other sessions, random bytes.
  zmq::socket_t fake(context_, zmq::socket_type::router);
  fake.set(zmq::sockopt::linger, 0);
  const testing::ScopedIpcAddress socket_file("fake");
  const std::string address = socket_file.address();
  fake.bind(address);
  const ProcId fake_id = proc("fake", 0);
  ASSERT_TRUE(sender_->add_route(fake_id, address).ok());
  sender_->send(make_text(sender_id_, fake_id, "to the fake"));
  std::vector<zmq::message_t> parts;
  zmq::pollitem_t item{fake.handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, 10s), 1);
  do {
    parts.emplace_back();
    ASSERT_TRUE(fake.recv(parts.back()));
  } while (parts.back().more());
  ASSERT_EQ(parts.size(), 3u);  // routing id, link and envelope headers, payload
  auto header = internal::parse_link_header(parts[1].to_string_view());
  ASSERT_TRUE(header.ok());
  auto reply = [&](const std::string& bytes) {
    fake.send(zmq::buffer(parts[0].to_string_view()), zmq::send_flags::sndmore);
    fake.send(zmq::buffer(bytes));
  };
  reply(random_bytes(40, 7));
  reply(internal::encode_ack(internal::LinkKind::ack, header->session + 1, 1));
  reply(internal::encode_ack(internal::LinkKind::ack, header->session, 5));  // never sent 5
  ASSERT_TRUE(wait_until(10s, [&] { return sender_->stats().garbage_dropped == 3; }))
      << sender_->stats().garbage_dropped;
  EXPECT_EQ(sender_->stats().pending, 1u);
  reply(internal::encode_ack(internal::LinkKind::ack, header->session, 1));
  ASSERT_TRUE(wait_until(10s, [&] { return sender_->stats().pending == 0; }));
  EXPECT_EQ(sender_inbox_.returned_count(), 0u);
}

}  // namespace
}  // namespace zmesh
