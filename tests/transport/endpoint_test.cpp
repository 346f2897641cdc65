// Endpoint in one process: a conformance suite over inproc, ipc and tcp, ordering at volume,
// deadlines, the window, close(), and the receiver's session rules driven by a raw DEALER.
#include "zmesh/transport/endpoint.hpp"

#include "transport_testing.hpp"
#include "zmesh/transport/address.hpp"
#include "zmesh/transport/internal/link_header.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <thread>
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

std::string bind_address_for(Scheme scheme) {
  switch (scheme) {
    case Scheme::inproc:
      return "inproc://" + unique_temp_path("endpoint").substr(5);  // a unique name
    case Scheme::ipc:
      return "ipc://" + unique_temp_path("endpoint");
    case Scheme::tcp:
      return "tcp://127.0.0.1:0";
  }
  return {};
}

std::unique_ptr<Endpoint> bind_or_die(zmq::context_t& context, const ProcId& self,
                                      const std::string& address, Inbox& inbox,
                                      const Config& config = test_config()) {
  auto endpoint = Endpoint::bind(context, self, address, inbox.inbound(), config);
  if (!endpoint) throw Exception(endpoint.error());
  return std::move(endpoint).value();
}

// An endpoint that sends every message back to its sender, from its I/O thread as an actor
// handler running there would; what it cannot deliver lands in `inbox`. Routes are the
// test's to add.
struct Echo {
  Echo(zmq::context_t& context, const ProcId& self, const std::string& address,
       const Config& config = test_config()) {
    Endpoint::Inbound inbound{[this](Envelope& envelope) {
                                sender.load()->send(make_message(envelope.destination.actor.proc,
                                                                 envelope.sender.proc,
                                                                 std::move(envelope.payload)));
                                return true;
                              },
                              inbox.inbound().undeliverable};
    auto bound = Endpoint::bind(context, self, address, inbound, config);
    if (!bound) throw Exception(bound.error());
    endpoint = std::move(bound).value();
    sender = endpoint.get();
  }
  Inbox inbox;
  std::atomic<Endpoint*> sender{nullptr};  // set once bound; nothing arrives before a route
  std::unique_ptr<Endpoint> endpoint;      // last: closed before what its callbacks use
};

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

// -- conformance: the same behaviour on every transport --

class EndpointConformance : public ::testing::TestWithParam<Scheme> {
 protected:
  void SetUp() override {
    a_ = bind_or_die(context_, a_id_, bind_address_for(GetParam()), a_inbox_);
    b_ = bind_or_die(context_, b_id_, bind_address_for(GetParam()), b_inbox_);
    ASSERT_TRUE(a_->add_route(b_id_, b_->address()).ok());
    ASSERT_TRUE(b_->add_route(a_id_, a_->address()).ok());
  }
  void TearDown() override {
    if (a_) a_->close();
    if (b_) b_->close();
    EXPECT_EQ(a_inbox_.returned_count(), 0u);
  }

  zmq::context_t context_;
  const ProcId a_id_ = proc("conformance", 0);
  const ProcId b_id_ = proc("conformance", 1);
  Inbox a_inbox_, b_inbox_;
  std::unique_ptr<Endpoint> a_, b_;
};

TEST_P(EndpointConformance, ReportsABoundAddressThatParses) {
  auto parsed = Address::parse(b_->address());
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(parsed->scheme, GetParam());
  if (GetParam() == Scheme::tcp) {
    EXPECT_NE(parsed->port, 0) << b_->address();
  }
  EXPECT_EQ(b_->self(), b_id_);
}

TEST_P(EndpointConformance, DeliversPayloadAndHeadersIntact) {
  Envelope sent = make_message(
      a_id_, b_id_,
      {Frame::copy_of("hello"), Frame::copy_of(""), Frame::copy_of(random_bytes(600, 1)),
       Frame::copy_of(random_bytes(256 * 1024, 2))},
      "transport_test.Mixed");
  sent.headers.set("trace", std::string("abc-123"));
  sent.headers.set("attempt", 3);
  // A key from a newer peer, with a value this build has no type for: kept byte for byte.
  msgpack::sbuffer unknown;
  msgpack::packer<msgpack::sbuffer> packer(unknown);
  packer.pack_map(1);
  packer.pack(std::string("nested"));
  packer.pack(std::vector<int>{1, 2, 3});
  sent.headers.set_raw("x-future", std::string(unknown.data(), unknown.size()));
  a_->send(sent);

  ASSERT_TRUE(wait_until(10s, [&] { return b_inbox_.delivered_count() == 1; }));
  const Envelope got = b_inbox_.delivered()[0];
  EXPECT_EQ(got.sender, sent.sender);
  EXPECT_EQ(got.destination, sent.destination);
  EXPECT_EQ(got.type_name, "transport_test.Mixed");
  EXPECT_EQ(got.headers, sent.headers);
  EXPECT_EQ(got.headers.get<std::string>("trace"), "abc-123");
  EXPECT_EQ(got.headers.get<int>("attempt"), 3);
  ASSERT_EQ(got.payload.size(), sent.payload.size());
  for (std::size_t i = 0; i < sent.payload.size(); ++i) {
    EXPECT_EQ(got.payload[i].view(), sent.payload[i].view()) << "frame " << i;
  }
  ASSERT_TRUE(wait_until(10s, [&] { return a_->stats().pending == 0; }));
  EXPECT_EQ(a_->stats().sent, 1u);
  EXPECT_TRUE(wait_until(10s, [&] { return b_->stats().delivered == 1u; }))
      << b_->stats().delivered;
}

TEST_P(EndpointConformance, RepliesSentFromTheDeliverCallbackTravelBack) {
  // The echo answers on its I/O thread, as an actor handler running there would.
  const ProcId echo_id = proc("conformance", 2);
  Echo echo(context_, echo_id, bind_address_for(GetParam()));
  auto& echo_endpoint = echo.endpoint;
  ASSERT_TRUE(echo_endpoint->add_route(a_id_, a_->address()).ok());
  ASSERT_TRUE(a_->add_route(echo_id, echo_endpoint->address()).ok());

  constexpr int count = 200;
  for (int i = 0; i < count; ++i) a_->send(make_text(a_id_, echo_id, std::to_string(i)));
  ASSERT_TRUE(wait_until(20s, [&] { return a_inbox_.delivered_count() == count; }))
      << a_inbox_.delivered_count();
  const auto texts = a_inbox_.delivered_texts();
  for (int i = 0; i < count; ++i) EXPECT_EQ(texts[i], std::to_string(i));
  echo_endpoint->close();
  EXPECT_EQ(echo.inbox.returned_count(), 0u);
}

TEST_P(EndpointConformance, AcksRideOnTheRepliesOfARequestReplyExchange) {
  // Request, reply, request, ...: each reply carries the ack of its request, each request
  // the ack of the reply before it, so no ack travels alone until the exchange ends. The
  // resend interval is long, so an ack that never came would show as a resend, not a pass.
  Config config = test_config();
  config.resend_interval = Millis(20000);
  config.ack_delay = Millis(1000);
  Inbox client_inbox;
  const ProcId client_id = proc("conformance", 3);
  const ProcId echo_id = proc("conformance", 4);
  auto client = bind_or_die(context_, client_id, bind_address_for(GetParam()), client_inbox, config);
  Echo echo(context_, echo_id, bind_address_for(GetParam()), config);
  auto& echo_endpoint = echo.endpoint;
  ASSERT_TRUE(echo_endpoint->add_route(client_id, client->address()).ok());
  ASSERT_TRUE(client->add_route(echo_id, echo_endpoint->address()).ok());

  constexpr std::uint64_t rounds = 50;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    client->send(make_text(client_id, echo_id, std::to_string(i)));
    ASSERT_TRUE(wait_until(20s, [&] { return client_inbox.delivered_count() == i + 1; })) << i;
  }
  EXPECT_EQ(client_inbox.delivered_texts().back(), std::to_string(rounds - 1));
  // Every request was acked by its reply, and nothing else went alone.
  ASSERT_TRUE(wait_until(20s, [&] { return client->stats().pending == 0; }));
  EXPECT_EQ(echo_endpoint->stats().acks_carried, rounds);
  EXPECT_EQ(echo_endpoint->stats().acks_sent, 0u);
  // The last reply has nothing to ride on: its ack goes alone once ack_delay is over.
  ASSERT_TRUE(wait_until(20s, [&] { return echo_endpoint->stats().pending == 0; }));
  EXPECT_EQ(client->stats().acks_carried, rounds - 1);
  // Counted once the ack went out, which the echo may see first (a shared-memory lane).
  EXPECT_TRUE(wait_until(20s, [&] { return client->stats().acks_sent == 1; }))
      << client->stats().acks_sent;
  EXPECT_EQ(client->stats().resent + echo_endpoint->stats().resent, 0u);
  client->close();
  echo_endpoint->close();
  EXPECT_EQ(client_inbox.returned_count() + echo.inbox.returned_count(), 0u);
}

TEST_P(EndpointConformance, AnAckThatRodeOnTheReplyWakesNobodyWhenItsDelayEnds) {
  // The echo's ack of the request waits up to its ack_delay to ride on a message; the reply
  // takes it at once. The echo's I/O thread must then sleep until the client's own ack of
  // the reply arrives, later than the echo's ack_delay, and not wake when that delay ends
  // to find nothing to send: with one request in flight those wake-ups cost as much as the
  // requests. Every other timer (resend, sweep) is far beyond the exchange.
  Config echo_config = test_config();
  echo_config.resend_interval = Millis(20000);
  echo_config.ack_delay = Millis(100);
  Config client_config = echo_config;
  client_config.ack_delay = Millis(400);
  Inbox client_inbox;
  const ProcId client_id = proc("conformance", 5);
  const ProcId echo_id = proc("conformance", 6);
  auto client =
      bind_or_die(context_, client_id, bind_address_for(GetParam()), client_inbox, client_config);
  Echo echo(context_, echo_id, bind_address_for(GetParam()), echo_config);
  auto& echo_endpoint = echo.endpoint;
  ASSERT_TRUE(echo_endpoint->add_route(client_id, client->address()).ok());
  ASSERT_TRUE(client->add_route(echo_id, echo_endpoint->address()).ok());

  const auto before = echo_endpoint->stats().timer_wakeups;
  client->send(make_text(client_id, echo_id, "request"));
  ASSERT_TRUE(wait_until(20s, [&] { return client_inbox.delivered_count() == 1; }));
  // The client's ack of the reply goes alone after its 400 ms; once it is in, the echo has
  // nothing pending.
  ASSERT_TRUE(wait_until(20s, [&] { return echo_endpoint->stats().pending == 0; }));
  const auto stats = echo_endpoint->stats();
  EXPECT_EQ(stats.acks_carried, 1u);
  EXPECT_EQ(stats.acks_sent, 0u);
  EXPECT_EQ(stats.timer_wakeups, before);
  // The reply carried the ack of the request: the client has nothing waiting, even over tcp,
  // where the reply's first try may find the connection not up yet.
  EXPECT_EQ(client->stats().acks_received, 1u);
  EXPECT_EQ(client->stats().pending, 0u);
  client->close();
  echo_endpoint->close();
  for (const auto& [envelope, error] : client_inbox.returned()) ADD_FAILURE() << "client: " << error.describe();
  for (const auto& [envelope, error] : echo.inbox.returned()) ADD_FAILURE() << "echo: " << error.describe();
}

TEST_P(EndpointConformance, CastsToManyPeersHaveEveryAckReadWithoutAResend) {
  // The controller's pattern: one thread sends a message to each of 8 peers (directly, its
  // loop being idle in poll) and waits for the replies of the 4 that answer; the other 4
  // only ack, alone, once their ack_delay is over. The controller's loop has acks waiting to
  // ride on the next round, so the sender leaves the look at each DEALER to the loop's next
  // round; an ack whose wake-up a send took and nobody looked for would wait for the resend
  // timer. So: every message is acked, and nothing was resent or received twice.
  constexpr int peers = 8;
  constexpr int answering = peers / 2;
  constexpr int rounds = 200;
  Config config = test_config();
  config.resend_interval = Millis(5000);  // far beyond any ack, however loaded the machine
  Inbox client_inbox;
  const ProcId client_id = proc("conformance", 7);
  auto client = bind_or_die(context_, client_id, bind_address_for(GetParam()), client_inbox, config);
  // Even ranks answer (Echo); odd ones only receive.
  std::vector<std::unique_ptr<Echo>> echoes;
  std::array<Inbox, peers> inboxes;
  std::vector<std::unique_ptr<Endpoint>> silent;
  std::vector<Endpoint*> receivers;
  std::vector<ProcId> receiver_ids;
  for (int i = 0; i < peers; ++i) {
    receiver_ids.push_back(proc("conformance", static_cast<std::uint32_t>(10 + i)));
    const auto address = bind_address_for(GetParam());
    if (i % 2 == 0) {
      echoes.push_back(std::make_unique<Echo>(context_, receiver_ids.back(), address, config));
      receivers.push_back(echoes.back()->endpoint.get());
    } else {
      silent.push_back(bind_or_die(context_, receiver_ids.back(), address, inboxes[i], config));
      receivers.push_back(silent.back().get());
    }
    ASSERT_TRUE(receivers.back()->add_route(client_id, client->address()).ok());
    ASSERT_TRUE(client->add_route(receiver_ids.back(), receivers.back()->address()).ok());
  }

  for (int round = 1; round <= rounds; ++round) {
    for (const auto& id : receiver_ids) client->send(make_text(client_id, id, std::to_string(round)));
    ASSERT_TRUE(wait_until(20s, [&] {
      return client_inbox.delivered_count() == static_cast<std::size_t>(round * answering);
    })) << "round " << round << ": " << client_inbox.delivered_count();
  }
  ASSERT_TRUE(wait_until(20s, [&] { return client->stats().pending == 0; }))
      << client->stats().pending;
  for (Endpoint* receiver : receivers) {
    ASSERT_TRUE(wait_until(20s, [&] { return receiver->stats().pending == 0; }));
  }
  const auto stats = client->stats();
  EXPECT_GT(stats.sent_directly, 0u);
  EXPECT_EQ(stats.resent, 0u);
  EXPECT_EQ(stats.duplicates_dropped, 0u);
  for (std::size_t i = 0; i < receivers.size(); ++i) {
    const auto got = receivers[i]->stats();
    EXPECT_EQ(got.resent, 0u) << i;
    EXPECT_EQ(got.duplicates_dropped, 0u) << i;
    EXPECT_EQ(got.delivered, static_cast<std::uint64_t>(rounds)) << i;
  }
  client->close();
  for (Endpoint* receiver : receivers) receiver->close();
  EXPECT_EQ(client_inbox.returned_count(), 0u);
}

TEST_P(EndpointConformance, IdleEndpointsWaitInsteadOfSpinning) {
  // The loop polls descriptors and asks ZeroMQ only about sockets with news; a recheck that
  // never clears would make it spin (it once did, on every ipc endpoint), polling without
  // ever waiting. After traffic, and once everything is acknowledged, both loops must be
  // found asleep in a poll that waits.
  for (int i = 0; i < 100; ++i) a_->send(make_text(a_id_, b_id_, std::to_string(i)));
  ASSERT_TRUE(wait_until(20s, [&] { return b_inbox_.delivered_count() == 100; }));
  ASSERT_TRUE(wait_until(20s, [&] { return a_->stats().pending == 0; }));
  EXPECT_TRUE(wait_until(20s, [&] { return a_->stats().sleeping; })) << "the sender's loop never waits";
  EXPECT_TRUE(wait_until(20s, [&] { return b_->stats().sleeping; })) << "the receiver's loop never waits";
}

TEST_P(EndpointConformance, SendsRacingCloseAreEachDeliveredOnceOrReturned) {
  // Threads that find the loop idle put their messages on the wire themselves; close() from
  // another thread must still account for every one: delivered once, or returned to the
  // sender with the reason (acked too late, or sent after the close), never lost or doubled.
  constexpr int per_thread = 2000;
  auto sender = [&](char tag) {
    for (int i = 0; i < per_thread; ++i) a_->send(make_text(a_id_, b_id_, tag + std::to_string(i)));
  };
  std::vector<std::thread> senders;
  for (char tag : {'x', 'y', 'z'}) senders.emplace_back(sender, tag);
  // Joined before any assertion can return, so that a failure fails, not aborts.
  const bool some_arrived = wait_until(20s, [&] { return b_inbox_.delivered_count() > 0; });
  a_->close();
  for (auto& thread : senders) thread.join();
  ASSERT_TRUE(some_arrived) << "nothing arrived before the close";
  const auto stats = a_->stats();
  EXPECT_EQ(stats.pending, 0u);

  std::set<std::string> delivered;
  for (const auto& text : b_inbox_.delivered_texts()) {
    EXPECT_TRUE(delivered.insert(text).second) << text << " was delivered twice";
  }
  std::set<std::string> accounted = delivered;
  for (const auto& [envelope, error] : a_inbox_.returned()) {
    EXPECT_EQ(error.code, ErrorCode::undeliverable) << error.describe();
    accounted.insert(std::string(envelope.payload[0].view()));
  }
  for (char tag : {'x', 'y', 'z'}) {
    for (int i = 0; i < per_thread; ++i) {
      EXPECT_TRUE(accounted.contains(tag + std::to_string(i))) << tag << i << " was lost";
    }
  }
  std::printf("delivered %zu, returned %zu, sent directly %llu of %d\n", delivered.size(),
              a_inbox_.returned_count(), static_cast<unsigned long long>(stats.sent_directly),
              3 * per_thread);
  a_inbox_.clear();  // returned on purpose
}

TEST_P(EndpointConformance, KeepsOrderPerSendingThread) {
  constexpr int per_thread = 3000;
  auto sender = [&](std::string tag) {
    for (int i = 0; i < per_thread; ++i) a_->send(make_text(a_id_, b_id_, tag + std::to_string(i)));
  };
  std::thread first(sender, "x"), second(sender, "y");
  first.join();
  second.join();
  ASSERT_TRUE(wait_until(30s, [&] { return b_inbox_.delivered_count() == 2 * per_thread; }))
      << b_inbox_.delivered_count();
  int next_x = 0, next_y = 0;
  for (const auto& text : b_inbox_.delivered_texts()) {
    int& next = text[0] == 'x' ? next_x : next_y;
    ASSERT_EQ(text.substr(1), std::to_string(next)) << text;
    ++next;
  }
  // Resends are allowed (a loaded machine can delay acks past the resend interval), but
  // what they duplicate never reaches the inbox twice: checked by the order above.
  std::printf("resent %llu, duplicates dropped %llu\n",
              static_cast<unsigned long long>(a_->stats().resent),
              static_cast<unsigned long long>(b_->stats().duplicates_dropped));
}

TEST_P(EndpointConformance, MessagesWaitForARouteAddedLater) {
  const ProcId late_id = proc("conformance", 3);
  for (int i = 0; i < 10; ++i) a_->send(make_text(a_id_, late_id, std::to_string(i)));
  Inbox late_inbox;
  auto late = bind_or_die(context_, late_id, bind_address_for(GetParam()), late_inbox);
  ASSERT_TRUE(a_->add_route(late_id, late->address()).ok());
  ASSERT_TRUE(wait_until(10s, [&] { return late_inbox.delivered_count() == 10; }));
  const auto texts = late_inbox.delivered_texts();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(texts[i], std::to_string(i));
  // The sender learns of the delivery before the receiver goes: an ack sent just before its
  // socket closes can be lost (libzmq #4660), and the sender would then, rightly, report the
  // messages as not acknowledged when it closes.
  ASSERT_TRUE(wait_until(10s, [&] { return a_->stats().pending == 0; })) << a_->stats().pending;
}

TEST_P(EndpointConformance, CloseWaitsUntilThePeerAcknowledgedEverything) {
  // libzmq #4660: closing right after sending can lose the tail on ipc://.
  constexpr int count = 2000;
  for (int i = 0; i < count; ++i) a_->send(make_text(a_id_, b_id_, std::to_string(i)));
  a_->close();
  EXPECT_EQ(a_inbox_.returned_count(), 0u);
  EXPECT_EQ(a_->stats().pending, 0u);
  ASSERT_TRUE(wait_until(10s, [&] { return b_inbox_.delivered_count() == count; }));
}

// A sender finding the I/O thread idle puts its message on the wire itself; one finding it
// busy, or finding earlier messages still handed over, hands over too. Senders on several
// threads mix both ways, and each thread's messages still arrive once and in order.
TEST_P(EndpointConformance, SendersOnManyThreadsKeepTheirOrderWhetherSentDirectlyOrNot) {
  constexpr int threads = 4;
  constexpr int per_thread = 3000;
  // Under load the senders below may never find the loop idle, so first one message is sent
  // while it sleeps, as thread number `threads`. The loop may wake (a timer) between the look
  // and the send, which then hands over: try until one went directly.
  int first = 0;
  ASSERT_TRUE(wait_until(20s, [&] {
    if (!a_->stats().sleeping) return false;
    a_->send(make_text(a_id_, b_id_, std::to_string(threads) + ":" + std::to_string(first++)));
    return a_->stats().sent_directly > 0;
  })) << "no send found the I/O loop idle";
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        a_->send(make_text(a_id_, b_id_, std::to_string(t) + ":" + std::to_string(i)));
      }
    });
  }
  for (auto& sender : senders) sender.join();
  const std::size_t total = threads * per_thread + first;
  ASSERT_TRUE(wait_until(60s, [&] { return b_inbox_.delivered_count() == total; }))
      << b_inbox_.delivered_count();
  std::vector<int> next(threads + 1, 0);
  for (const auto& text : b_inbox_.delivered_texts()) {
    const auto colon = text.find(':');
    const int t = std::stoi(text.substr(0, colon));
    ASSERT_EQ(std::stoi(text.substr(colon + 1)), next[t]) << "thread " << t;
    ++next[t];
  }
  ASSERT_TRUE(wait_until(10s, [&] { return a_->stats().pending == 0; }));
  EXPECT_GT(a_->stats().sent_directly, 0u);
  std::printf("sent directly %llu of %zu\n",
              static_cast<unsigned long long>(a_->stats().sent_directly), total);
}

// The I/O thread of an idle endpoint waits without a timeout. A message sent directly to a
// proc without a route arms a deadline that thread did not know of: it must be woken to
// return the message then, not sleep on.
TEST_P(EndpointConformance, ADirectSendToAProcWithoutARouteStillExpiresAtItsDeadline) {
  Inbox inbox;
  const ProcId self = proc("conformance", 8);
  auto lonely = bind_or_die(context_, self, bind_address_for(GetParam()), inbox);
  // A send that finds the loop busy is handed over instead (and wakes it): then wait for it
  // to come back and try again, until one went directly with nothing else pending.
  for (std::size_t sent = 1; sent <= 20; ++sent) {
    Envelope envelope = make_text(self, proc("conformance", 9), "lost");
    envelope.deadline = Clock::now() + 300ms;
    lonely->send(std::move(envelope));
    ASSERT_TRUE(wait_until(10s, [&] { return inbox.returned_count() == sent; }))
        << "send " << sent << " never came back (sent directly: "
        << lonely->stats().sent_directly << ")";
    EXPECT_EQ(inbox.returned().back().second.code, ErrorCode::undeliverable);
    if (lonely->stats().sent_directly > 0) return;
  }
  FAIL() << "20 sends to an idle endpoint were all handed over";
}

// A tcp port given by the kernel (port 0) comes from the ephemeral range, which outgoing
// connections also draw from: once the listener closes, another test's connection, or the
// sender's own reconnect (a tcp self-connect), can take the port and the restart could never
// bind it again. A restarted service keeps a fixed port outside that range, as this does.
std::unique_ptr<Endpoint> bind_tcp_below_the_ephemeral_range(zmq::context_t& context,
                                                             const ProcId& self, Inbox& inbox) {
  const int first = 20000 + static_cast<int>(::getpid() % 10000);
  for (int port = first; port < first + 2000; ++port) {
    auto endpoint = Endpoint::bind(context, self, "tcp://127.0.0.1:" + std::to_string(port),
                                   inbox.inbound(), test_config());
    if (endpoint) return std::move(endpoint).value();
  }
  throw Exception(Error{ErrorCode::transport_failed, "no free tcp port in 2000 tries from " +
                                                    std::to_string(first)});
}

TEST_P(EndpointConformance, RestartedReceiverOnTheSameAddressGetsUnackedMessagesOnce) {
  if (GetParam() == Scheme::inproc) GTEST_SKIP() << "inproc peers do not outlive their process";
  if (GetParam() == Scheme::tcp) {
    b_->close();
    b_ = bind_tcp_below_the_ephemeral_range(context_, b_id_, b_inbox_);
    ASSERT_TRUE(a_->add_route(b_id_, b_->address()).ok());
  }
  std::string address = b_->address();
  b_->close();
  b_.reset();
  // Sent while nobody listens: they wait, unacknowledged.
  for (int i = 0; i < 100; ++i) a_->send(make_text(a_id_, b_id_, std::to_string(i)));
  Inbox restarted_inbox;
  std::unique_ptr<Endpoint> restarted;
  // The old listener is closed by ZeroMQ's I/O thread shortly after close() returns.
  ASSERT_TRUE(wait_until(10s, [&] {
    auto bound = Endpoint::bind(context_, b_id_, address, restarted_inbox.inbound(), test_config());
    if (bound) restarted = std::move(bound).value();
    return restarted != nullptr;
  }));
  ASSERT_TRUE(wait_until(20s, [&] { return a_->stats().pending == 0; }));
  const auto texts = restarted_inbox.delivered_texts();
  ASSERT_EQ(texts.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(texts[i], std::to_string(i));
}

INSTANTIATE_TEST_SUITE_P(Transports, EndpointConformance,
                         ::testing::Values(Scheme::inproc, Scheme::ipc, Scheme::tcp),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// -- volume --

TEST(EndpointTest, HundredThousandMessagesArriveCompleteAndInOrder) {
  zmq::context_t context;
  constexpr std::uint64_t count = 100000;
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> out_of_order{0};
  Endpoint::Inbound inbound{[&](Envelope& envelope) {
                              std::uint64_t value = 0;
                              std::memcpy(&value, envelope.payload[0].data(), sizeof value);
                              if (value != received.load(std::memory_order_relaxed)) {
                                out_of_order.fetch_add(1);
                              }
                              received.fetch_add(1);
                              return true;
                            },
                            [](Envelope&&, Error) {}};
  Inbox sender_inbox;
  const ProcId sender_id = proc("volume", 0), receiver_id = proc("volume", 1);
  auto receiver = Endpoint::bind(context, receiver_id, "ipc://" + unique_temp_path("volume"),
                                 inbound, test_config());
  ASSERT_TRUE(receiver.ok()) << receiver.error().describe();
  auto sender =
      bind_or_die(context, sender_id, "ipc://" + unique_temp_path("volume"), sender_inbox);
  ASSERT_TRUE(sender->add_route(receiver_id, (*receiver)->address()).ok());

  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string bytes(sizeof i, '\0');
    std::memcpy(bytes.data(), &i, sizeof i);
    sender->send(make_message(sender_id, receiver_id, {Frame::from_string(std::move(bytes))}));
  }
  ASSERT_TRUE(wait_until(60s, [&] { return received.load() == count; })) << received.load();
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
  EXPECT_EQ(out_of_order.load(), 0u);
  ASSERT_TRUE(wait_until(10s, [&] { return sender->stats().pending == 0; }));
  const auto stats = sender->stats();
  EXPECT_EQ(stats.sent, count);
  EXPECT_EQ(sender_inbox.returned_count(), 0u);
  std::printf(
      "100k messages in %.2f s (%.0f msg/s; sanitizers slow this down); acks %llu, "
      "resent %llu\n",
      seconds.count(), count / seconds.count(),
      static_cast<unsigned long long>(stats.acks_received),
      static_cast<unsigned long long>(stats.resent));
}

// -- deadlines and undeliverables --

class EndpointFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = test_config();
    config_.delivery_timeout = Millis(300);
    config_.resend_interval = Millis(50);
    config_.linger = Millis(200);
    sender_ =
        bind_or_die(context_, sender_id_, "ipc://" + unique_temp_path("failure"), inbox_, config_);
  }
  // Waits for the one returned message and checks its code, text and intact envelope.
  Error expect_returned(const std::string& text) {
    EXPECT_TRUE(wait_until(10s, [&] { return inbox_.returned_count() == 1; }))
        << inbox_.returned_count();
    auto returned = inbox_.returned();
    if (returned.size() != 1) return {};
    const auto& [envelope, error] = returned[0];
    EXPECT_EQ(error.code, ErrorCode::undeliverable);
    EXPECT_EQ(envelope.type_name, "transport_test.Text");
    EXPECT_EQ(envelope.sender.proc, sender_id_);
    EXPECT_EQ(envelope.payload.size(), 1u);
    if (!envelope.payload.empty()) {
      EXPECT_EQ(envelope.payload[0].view(), text);
    }
    EXPECT_EQ(sender_->stats().undeliverable, 1u);
    EXPECT_EQ(sender_->stats().pending, 0u);
    return error;
  }

  zmq::context_t context_;
  Config config_;
  const ProcId sender_id_ = proc("failing", 0);
  const ProcId target_id_ = proc("silent", 4);
  Inbox inbox_;
  std::unique_ptr<Endpoint> sender_;
};

TEST_F(EndpointFailureTest, MessageWithoutRouteIsUndeliverableAtItsDeadline) {
  sender_->send(make_text(sender_id_, target_id_, "lost"));
  const Error error = expect_returned("lost");
  EXPECT_NE(error.message.find("no route to silent[4]"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("delivery deadline passed (300 ms)"), std::string::npos)
      << error.message;
}

TEST_F(EndpointFailureTest, ProcThatNeverAnswersMakesMessageUndeliverable) {
  // A ROUTER that takes everything and acknowledges nothing: resends, then the deadline.
  zmq::socket_t silent(context_, zmq::socket_type::router);
  silent.set(zmq::sockopt::linger, 0);
  const testing::ScopedIpcAddress socket_file("silent");
  const std::string address = socket_file.address();
  silent.bind(address);
  ASSERT_TRUE(sender_->add_route(target_id_, address).ok());
  sender_->send(make_text(sender_id_, target_id_, "unanswered"));
  const Error error = expect_returned("unanswered");
  EXPECT_NE(error.message.find("silent[4]"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("delivery deadline passed (300 ms)"), std::string::npos)
      << error.message;
  EXPECT_GE(sender_->stats().resent, 1u);
  // What arrived is [routing id, link header and envelope header in one frame, payload].
  zmq::message_t part;
  ASSERT_TRUE(silent.recv(part, zmq::recv_flags::dontwait));
  ASSERT_TRUE(silent.recv(part));
  auto header = internal::parse_link_header(part.to_string_view());
  ASSERT_TRUE(header.ok()) << header.error().describe();
  EXPECT_EQ(header->kind, internal::LinkKind::data);
  EXPECT_EQ(header->seq, 1u);
  EXPECT_EQ(header->floor, 1u);
  EXPECT_EQ(header->sender_world, "failing");
  auto envelope = decode_envelope(Frame::copy_of(header->envelope_header), {});
  ASSERT_TRUE(envelope.ok()) << envelope.error().describe();
  EXPECT_EQ(envelope->destination.actor.proc, target_id_);
  ASSERT_TRUE(part.more());
  ASSERT_TRUE(silent.recv(part));
  EXPECT_EQ(part.to_string_view(), "unanswered");
  EXPECT_FALSE(part.more());
}

TEST_F(EndpointFailureTest, AddressNobodyListensOnMakesMessageUndeliverable) {
  ASSERT_TRUE(sender_->add_route(target_id_, "ipc://" + unique_temp_path("nobody")).ok());
  sender_->send(make_text(sender_id_, target_id_, "nobody home"));
  const Error error = expect_returned("nobody home");
  EXPECT_NE(error.message.find("silent[4] at ipc://"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("delivery deadline passed"), std::string::npos) << error.message;
}

TEST_F(EndpointFailureTest, ForgettingADeadProcReturnsItsMessagesAtOnce) {
  config_.delivery_timeout = 60s;  // the test must not pass by waiting for the deadline
  sender_ = bind_or_die(context_, sender_id_, "ipc://" + unique_temp_path("forget"), inbox_, config_);
  ASSERT_TRUE(sender_->add_route(target_id_, "ipc://" + unique_temp_path("dead")).ok());
  sender_->send(make_text(sender_id_, target_id_, "to the dead"));
  const auto started = Clock::now();
  sender_->forget(target_id_, "killed by signal 9 (SIGKILL)");
  ASSERT_TRUE(wait_until(10s, [&] { return inbox_.returned_count() == 1; }));
  EXPECT_LT(Clock::now() - started, 10s);
  auto returned = inbox_.returned();
  EXPECT_EQ(returned[0].second.code, ErrorCode::proc_failed);
  EXPECT_NE(returned[0].second.message.find("silent[4] is gone: killed by signal 9"),
            std::string::npos)
      << returned[0].second.message;
  // Later sends fail at once, and close() does not wait for the dead proc's acks.
  sender_->send(make_text(sender_id_, target_id_, "again"));
  ASSERT_TRUE(wait_until(10s, [&] { return inbox_.returned_count() == 2; }));
  EXPECT_EQ(sender_->stats().pending, 0u);
}

TEST_F(EndpointFailureTest, EnvelopeDeadlineOverridesTheConfiguredTimeout) {
  Envelope envelope = make_text(sender_id_, target_id_, "hurry");
  envelope.deadline = deadline_in(50ms);
  const auto start = Clock::now();
  sender_->send(std::move(envelope));
  const Error error = expect_returned("hurry");
  EXPECT_LT(Clock::now() - start, 300ms);
  const auto at = error.message.find("delivery deadline passed (");
  ASSERT_NE(at, std::string::npos) << error.message;
  const int budget = std::stoi(error.message.substr(at + 26));
  EXPECT_GE(budget, 45) << error.message;
  EXPECT_LE(budget, 50) << error.message;
}

TEST_F(EndpointFailureTest, TooManyFramesAreRefusedAtTheSender) {
  config_.max_frames = 4;
  Inbox inbox;
  auto small =
      bind_or_die(context_, sender_id_, "ipc://" + unique_temp_path("frames"), inbox, config_);
  small->send(make_message(sender_id_, target_id_, Frames(10, Frame::copy_of("f"))));
  ASSERT_TRUE(wait_until(5s, [&] { return inbox.returned_count() == 1; }));
  const Error error = inbox.returned()[0].second;
  EXPECT_EQ(error.code, ErrorCode::undeliverable);
  EXPECT_NE(error.message.find("11 frames, more than max_frames=4"), std::string::npos)
      << error.message;
}

TEST_F(EndpointFailureTest, OversizedFramesAreRefusedAtTheSender) {
  config_.max_message_bytes = 1000;
  Inbox inbox;
  auto small =
      bind_or_die(context_, sender_id_, "ipc://" + unique_temp_path("size"), inbox, config_);
  small->send(make_message(sender_id_, target_id_, {Frame::copy_of(std::string(2000, 'x'))}));
  ASSERT_TRUE(wait_until(5s, [&] { return inbox.returned_count() == 1; }));
  const Error error = inbox.returned()[0].second;
  EXPECT_EQ(error.code, ErrorCode::too_large);
  EXPECT_NE(error.message.find("exceeds the limit of 1000 bytes"), std::string::npos)
      << error.message;
  EXPECT_NE(error.message.find("message of 20"), std::string::npos) << error.message;
}

TEST_F(EndpointFailureTest, GivenUpMessageDoesNotHoldBackTheOnesAfterIt) {
  // 1 and 3 may wait; 2 expires while the route is wrong. Once the route is right the
  // receiver must skip seq 2 and deliver 1 then 3.
  config_.delivery_timeout = Millis(20000);
  Inbox inbox, receiver_inbox;
  auto sender =
      bind_or_die(context_, sender_id_, "ipc://" + unique_temp_path("skip"), inbox, config_);
  auto receiver = bind_or_die(context_, target_id_, "ipc://" + unique_temp_path("skip"),
                              receiver_inbox, config_);
  ASSERT_TRUE(sender->add_route(target_id_, "ipc://" + unique_temp_path("wrong")).ok());
  sender->send(make_text(sender_id_, target_id_, "1"));
  Envelope hurried = make_text(sender_id_, target_id_, "2");
  hurried.deadline = deadline_in(30ms);
  sender->send(std::move(hurried));
  sender->send(make_text(sender_id_, target_id_, "3"));
  ASSERT_TRUE(wait_until(5s, [&] { return inbox.returned_count() == 1; }));
  EXPECT_EQ(inbox.returned()[0].first.payload[0].view(), "2");
  ASSERT_TRUE(sender->add_route(target_id_, receiver->address()).ok());
  ASSERT_TRUE(wait_until(10s, [&] { return sender->stats().pending == 0; }));
  EXPECT_EQ(receiver_inbox.delivered_texts(), (std::vector<std::string>{"1", "3"}));
}

TEST_F(EndpointFailureTest, RefusalByThePeerComesBackAsUndeliverable) {
  // A peer that cannot decode what we sent (e.g. a different envelope version) refuses it.
  zmq::socket_t peer(context_, zmq::socket_type::router);
  peer.set(zmq::sockopt::linger, 0);
  const testing::ScopedIpcAddress socket_file("refusing");
  const std::string address = socket_file.address();
  peer.bind(address);
  config_.delivery_timeout = Millis(20000);
  Inbox inbox;
  auto sender =
      bind_or_die(context_, sender_id_, "ipc://" + unique_temp_path("refused"), inbox, config_);
  ASSERT_TRUE(sender->add_route(target_id_, address).ok());
  sender->send(make_text(sender_id_, target_id_, "refused"));
  zmq::message_t routing_id, link_header;
  ASSERT_TRUE(peer.recv(routing_id));
  ASSERT_TRUE(peer.recv(link_header));
  auto header = internal::parse_link_header(link_header.to_string_view());
  ASSERT_TRUE(header.ok());
  peer.send(routing_id, zmq::send_flags::sndmore);
  peer.send(zmq::buffer(internal::encode_reject(header->session, 1, "version 9 received")));
  ASSERT_TRUE(wait_until(10s, [&] { return inbox.returned_count() == 1; }));
  const auto [envelope, error] = inbox.returned()[0];
  EXPECT_EQ(error.code, ErrorCode::undeliverable);
  EXPECT_EQ(error.message, "silent[4] refused the message: version 9 received");
  EXPECT_EQ(envelope.payload[0].view(), "refused");
  EXPECT_EQ(sender->stats().pending, 0u);
}

TEST_F(EndpointFailureTest, CloseReturnsWhatThePeerNeverAcknowledged) {
  zmq::socket_t silent(context_, zmq::socket_type::router);
  silent.set(zmq::sockopt::linger, 0);
  const testing::ScopedIpcAddress socket_file("silent");
  const std::string address = socket_file.address();
  silent.bind(address);
  config_.delivery_timeout = Millis(60000);
  Inbox inbox;
  auto sender =
      bind_or_die(context_, sender_id_, "ipc://" + unique_temp_path("close"), inbox, config_);
  ASSERT_TRUE(sender->add_route(target_id_, address).ok());
  sender->send(make_text(sender_id_, target_id_, "pending"));
  sender->close();  // waits config.linger (200 ms) for an ack that never comes
  ASSERT_EQ(inbox.returned_count(), 1u);
  const Error error = inbox.returned()[0].second;
  EXPECT_EQ(error.code, ErrorCode::undeliverable);
  EXPECT_NE(error.message.find("closed before silent[4] acknowledged"), std::string::npos)
      << error.message;
  // After close, send() hands the message straight back.
  sender->send(make_text(sender_id_, target_id_, "late"));
  ASSERT_EQ(inbox.returned_count(), 2u);
  EXPECT_NE(inbox.returned()[1].second.message.find("is closed"), std::string::npos);
  sender->close();  // idempotent
}

TEST_F(EndpointFailureTest, WindowHoldsTheBacklogUntilAcksArrive) {
  config_.max_unacked = 3;
  config_.ack_every = 2;
  // About the window, not the clock: 500 messages three at a time need not beat the
  // fixture's short delivery timeout under a sanitizer on a loaded machine.
  config_.delivery_timeout = Millis(20000);
  Inbox inbox, receiver_inbox;
  auto sender =
      bind_or_die(context_, sender_id_, "ipc://" + unique_temp_path("window"), inbox, config_);
  auto receiver = bind_or_die(context_, target_id_, "ipc://" + unique_temp_path("window"),
                              receiver_inbox, config_);
  ASSERT_TRUE(sender->add_route(target_id_, receiver->address()).ok());
  for (int i = 0; i < 500; ++i) sender->send(make_text(sender_id_, target_id_, std::to_string(i)));
  ASSERT_TRUE(wait_until(20s, [&] { return receiver_inbox.delivered_count() == 500; }))
      << "delivered " << receiver_inbox.delivered_count() << ", sender: sent "
      << sender->stats().sent << " resent " << sender->stats().resent << " acks in "
      << sender->stats().acks_received << " pending " << sender->stats().pending
      << "; receiver: acks out " << receiver->stats().acks_sent << " duplicates "
      << receiver->stats().duplicates_dropped << " gaps " << receiver->stats().gaps_dropped;
  const auto texts = receiver_inbox.delivered_texts();
  for (int i = 0; i < 500; ++i) ASSERT_EQ(texts[i], std::to_string(i));
  EXPECT_EQ(inbox.returned_count(), 0u);
}

TEST(EndpointBindTest, RefusesBadAddressesAndTakenPorts) {
  zmq::context_t context;
  Inbox inbox;
  auto bad =
      Endpoint::bind(context, proc("b", 0), "tcp://localhost", inbox.inbound(), test_config());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::parse_error);
  EXPECT_NE(bad.error().message.find("b[0]"), std::string::npos) << bad.error().message;

  auto first = bind_or_die(context, proc("b", 1), "tcp://127.0.0.1:0", inbox);
  auto taken =
      Endpoint::bind(context, proc("b", 2), first->address(), inbox.inbound(), test_config());
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::transport_failed);
  EXPECT_NE(taken.error().message.find(first->address()), std::string::npos)
      << taken.error().message;

  auto no_callbacks =
      Endpoint::bind(context, proc("b", 3), "inproc://no-callbacks", {}, test_config());
  ASSERT_FALSE(no_callbacks.ok());
  EXPECT_EQ(no_callbacks.error().code, ErrorCode::invalid_argument);

  auto bad_route = first->add_route(proc("c", 0), "carrier-pigeon");
  ASSERT_FALSE(bad_route.ok());
  EXPECT_EQ(bad_route.error().code, ErrorCode::parse_error);
  EXPECT_NE(bad_route.error().message.find("c[0]"), std::string::npos);
}

// -- the receiver's session rules, driven by hand-made messages --

class SessionRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    receiver_ = bind_or_die(context_, receiver_id_, "ipc://" + unique_temp_path("rules"), inbox_);
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.connect(receiver_->address());
  }

  std::string link_header(internal::LinkKind kind, std::uint64_t session, std::uint64_t seq,
                          std::uint64_t floor) {
    std::string bytes = internal::encode_data_prefix(kind, sender_id_, session);
    char buffer[18];
    bytes.append(buffer, internal::put_uint(internal::put_uint(buffer, seq), floor));
    return bytes;
  }
  void send_data(std::uint64_t session, std::uint64_t seq, std::uint64_t floor,
                 std::string_view text) {
    const std::string first = link_header(internal::LinkKind::data, session, seq, floor) +
                              std::string(encode_header(make_text(sender_id_, receiver_id_, text)).view());
    dealer_.send(zmq::buffer(first), zmq::send_flags::sndmore);
    dealer_.send(zmq::buffer(text));
  }
  // The next ack, nack or reject the receiver sends back.
  internal::LinkHeader next_reply() {
    zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 10s) == 0) throw std::runtime_error("no reply within 10 s");
    (void)dealer_.recv(reply_);
    auto header = internal::parse_link_header(reply_.to_string_view());
    if (!header) throw Exception(header.error());
    return *header;
  }

  zmq::context_t context_;
  const ProcId receiver_id_ = proc("rules", 0);
  const ProcId sender_id_ = proc("hand", 9);
  Inbox inbox_;
  std::unique_ptr<Endpoint> receiver_;
  zmq::socket_t dealer_{context_, zmq::socket_type::dealer};
  zmq::message_t reply_;
};

TEST_F(SessionRulesTest, DuplicateIsDroppedAndAcknowledgedAgain) {
  send_data(77, 1, 1, "once");
  auto ack = next_reply();
  EXPECT_EQ(ack.kind, internal::LinkKind::ack);
  EXPECT_EQ(ack.session, 77u);
  EXPECT_EQ(ack.seq, 1u);
  send_data(77, 1, 1, "once");
  ack = next_reply();
  EXPECT_EQ(ack.kind, internal::LinkKind::ack);
  EXPECT_EQ(ack.seq, 1u);
  EXPECT_EQ(inbox_.delivered_texts(), std::vector<std::string>{"once"});
  EXPECT_EQ(receiver_->stats().duplicates_dropped, 1u);
}

TEST_F(SessionRulesTest, GapIsDroppedAndAnsweredWithOneNack) {
  send_data(5, 1, 1, "a");
  EXPECT_EQ(next_reply().seq, 1u);
  send_data(5, 3, 1, "c");  // 2 went missing
  const auto nack = next_reply();
  EXPECT_EQ(nack.kind, internal::LinkKind::nack);
  EXPECT_EQ(nack.seq, 1u);
  send_data(5, 2, 1, "b");
  send_data(5, 3, 1, "c");
  ASSERT_TRUE(wait_until(5s, [&] { return inbox_.delivered_count() == 3; }));
  EXPECT_EQ(inbox_.delivered_texts(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(receiver_->stats().gaps_dropped, 1u);
}

TEST_F(SessionRulesTest, UnknownSessionStartsAtItsFloor) {
  // A sender whose earlier messages went to a previous incarnation of this proc.
  send_data(11, 40, 40, "forty");
  EXPECT_EQ(next_reply().seq, 40u);
  // The floor also moves a known session past messages the sender gave up.
  send_data(11, 45, 45, "forty-five");
  EXPECT_EQ(next_reply().seq, 45u);
  EXPECT_EQ(inbox_.delivered_texts(), (std::vector<std::string>{"forty", "forty-five"}));
}

TEST_F(SessionRulesTest, SkipConsumesItsSequenceNumber) {
  send_data(12, 1, 1, "one");
  EXPECT_EQ(next_reply().seq, 1u);
  dealer_.send(zmq::buffer(link_header(internal::LinkKind::skip, 12, 2, 1)));
  EXPECT_EQ(next_reply().seq, 2u);
  send_data(12, 3, 1, "three");
  EXPECT_EQ(next_reply().seq, 3u);
  EXPECT_EQ(inbox_.delivered_texts(), (std::vector<std::string>{"one", "three"}));
}

TEST_F(SessionRulesTest, UndecodableEnvelopeIsRejectedBackToItsSender) {
  // The envelope header behind the link header is a map cut short.
  const std::string bad = link_header(internal::LinkKind::data, 13, 1, 1) + "\x85\xa1v";
  dealer_.send(zmq::buffer(bad));
  const auto reject = next_reply();
  EXPECT_EQ(reject.kind, internal::LinkKind::reject);
  EXPECT_EQ(reject.seq, 1u);
  EXPECT_NE(reject.reason.find("bad envelope header"), std::string::npos) << reject.reason;
  EXPECT_EQ(next_reply().kind, internal::LinkKind::ack);  // seq 1 is consumed
  // A resend of the refused message is refused again, not acked as if delivered.
  dealer_.send(zmq::buffer(bad));
  EXPECT_EQ(next_reply().kind, internal::LinkKind::reject);
  send_data(13, 2, 1, "fine");
  EXPECT_EQ(next_reply().seq, 2u);
  EXPECT_EQ(inbox_.delivered_texts(), std::vector<std::string>{"fine"});
  EXPECT_EQ(receiver_->stats().garbage_dropped, 1u);
}

TEST_F(SessionRulesTest, RestartedSenderGetsAFreshSessionAndTheOldOneIsIgnored) {
  send_data(20, 1, 1, "old");
  EXPECT_EQ(next_reply().seq, 1u);
  send_data(21, 1, 1, "new");  // same sender proc, new incarnation
  EXPECT_EQ(next_reply().session, 21u);
  send_data(20, 2, 1, "stale");  // a late message of the dead incarnation
  send_data(21, 2, 1, "new-2");
  EXPECT_EQ(next_reply().seq, 2u);
  EXPECT_EQ(inbox_.delivered_texts(), (std::vector<std::string>{"old", "new", "new-2"}));
}

}  // namespace
}  // namespace zmesh
