// Two procs of one OS process, each with its own endpoint, playing ping-pong through real
// sockets (inproc, ipc, tcp): actors, ports and the reliable transport together; and actor
// turns run on the I/O thread: brief ones save the pool, blocked ones hold up nothing.
#include "zmesh/transport/node.hpp"

#include "testing/actors.hpp"
#include "testing/test_keys.hpp"
#include "testing/wait.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

// Procs 0 and 1 of `world`, each on its own endpoint, routed to each other.
std::pair<std::unique_ptr<Node>, std::unique_ptr<Node>> start_pair(Runtime& runtime,
                                                                   const Config& config,
                                                                   const std::string& world,
                                                                   const std::string& address_a,
                                                                   const std::string& address_b) {
  auto a = Node::start(runtime, ProcOptions{ProcId{WorldId{world}, 0}, nullptr, config, nullptr, nullptr},
                       address_a)
               .value();
  auto b = Node::start(runtime, ProcOptions{ProcId{WorldId{world}, 1}, nullptr, config, nullptr, nullptr},
                       address_b)
               .value();
  EXPECT_TRUE(a->endpoint().add_route(b->proc().id(), b->address()).ok());
  EXPECT_TRUE(b->endpoint().add_route(a->proc().id(), a->address()).ok());
  return {std::move(a), std::move(b)};
}

class NodePingPong : public ::testing::TestWithParam<std::string> {
 protected:
  std::string address(const std::string& name) {
    if (GetParam() == "tcp") return "tcp://127.0.0.1:0";
    if (GetParam() == "ipc") return "ipc://" + testing::unique_temp_path(name);
    return "inproc://" + testing::unique_temp_path(name).substr(5);
  }
  // tcp uses CURVE, as in production.
  static Config config() {
    Config config;
    config.curve = testing::test_key_pair();
    return config;
  }
  Runtime runtime_{config()};
};

TEST_P(NodePingPong, ActorsOnTwoProcsExchangeMessagesInOrder) {
  auto [a, b] = start_pair(runtime_, config(), "pp", address("a"), address("b"));
  auto echo = b->proc().spawn<testing::EchoActor>("echo", {"pong "}).value();
  auto client = a->proc().attach("client").value();
  auto [reply_to, replies] = client.open_port<testing::Pong>();
  constexpr int count = 2000;
  for (int i = 0; i < count; ++i) client.send(echo, testing::Ping{static_cast<std::uint64_t>(i), "x", reply_to});
  for (int i = 0; i < count; ++i) {
    auto pong = replies.recv(deadline_in(10s));
    ASSERT_TRUE(pong.ok()) << pong.error().describe();
    ASSERT_EQ(pong->seq, static_cast<std::uint64_t>(i));
    ASSERT_EQ(pong->text, "pong x");
  }
  // A message to an actor that does not exist on the other proc comes back with the reason.
  client.send(ActorId{b->proc().id(), "nobody", 0}, testing::Boom{"?"});
  auto returned = client.next_undeliverable(deadline_in(10s));
  ASSERT_TRUE(returned.has_value());
  EXPECT_NE(returned->reason.message.find("no actor pp[1].nobody[0]"), std::string::npos)
      << returned->reason.message;
}

INSTANTIATE_TEST_SUITE_P(Transports, NodePingPong, ::testing::Values("inproc", "ipc", "tcp"));

// Where a handler ran, and a gate it may wait at; owned by the test, shared with its actors.
struct HandlerLog {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::thread::id> threads;  // one per handled message
  bool open = false;

  void entered() {
    std::lock_guard lock(mutex);
    threads.push_back(std::this_thread::get_id());
    changed.notify_all();
  }
  void wait_open() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return open; });
  }
  void set_open() {
    std::lock_guard lock(mutex);
    open = true;
    changed.notify_all();
  }
  std::vector<std::thread::id> seen() {
    std::lock_guard lock(mutex);
    return threads;
  }
};

struct Hold {
  ZMESH_MESSAGE("test.Hold");
  PortRef<testing::Pong> reply_to;
  MSGPACK_DEFINE(reply_to);
};

struct Relay {
  ZMESH_MESSAGE("test.Relay");
  ActorId target;
  PortRef<testing::Pong> reply_to;
  MSGPACK_DEFINE(target, reply_to);
};

// Plain handlers, as users write them: they block, which the runtime must live with.
class BlockingActor : public Actor {
 public:
  explicit BlockingActor(HandlerLog& log) : log_(log) {}
  // Waits until the test opens the gate.
  void hold(Context& ctx, const Hold& hold) {
    log_.entered();
    log_.wait_open();
    ctx.send(hold.reply_to, testing::Pong{1, "released"});
  }
  // Calls an actor of another proc and waits for its answer, which only this proc's
  // endpoint can bring in.
  void relay(Context& ctx, const Relay& relay) {
    log_.entered();
    log_.wait_open();
    auto [port, replies] = ctx.open_port<testing::Pong>();
    ctx.send(relay.target, testing::Ping{7, "nested", port});
    auto answer = replies.recv(deadline_in(20s));
    ctx.send(relay.reply_to, answer ? *answer : testing::Pong{0, answer.error().message});
  }
  using Handlers = zmesh::Handlers<&BlockingActor::hold, &BlockingActor::relay>;

 private:
  HandlerLog& log_;
};

class IoThreadTurns : public ::testing::Test {
 protected:
  void SetUp() override {
    std::tie(a_, b_) = start_pair(runtime_, Config{}, "turns",
                                  "ipc://" + testing::unique_temp_path("turns-a"),
                                  "ipc://" + testing::unique_temp_path("turns-b"));
    echo_ = b_->proc().spawn<testing::EchoActor>("echo", {"pong "}).value();
    blocking_ = b_->proc().spawn_actor("blocking", make_actor<BlockingActor>(log_)).value();
    ASSERT_NE(b_->endpoint().deferred_work_thread(), std::thread::id{});
  }
  void TearDown() override { log_.set_open(); }

  // `count` pings to b's echo, each answered in order.
  void expect_echoes(Mailbox& client, int count) {
    auto [reply_to, replies] = client.open_port<testing::Pong>();
    for (int i = 0; i < count; ++i) {
      client.send(echo_, testing::Ping{static_cast<std::uint64_t>(i), "x", reply_to});
    }
    for (int i = 0; i < count; ++i) {
      auto pong = replies.recv(deadline_in(10s));
      ASSERT_TRUE(pong.ok()) << "ping " << i << ": " << pong.error().describe();
      ASSERT_EQ(pong->seq, static_cast<std::uint64_t>(i));
    }
  }

  Runtime runtime_{Config{}};
  HandlerLog log_;
  std::unique_ptr<Node> a_;
  std::unique_ptr<Node> b_;
  ActorId echo_;
  ActorId blocking_;
};

TEST_F(IoThreadTurns, BriefTurnsOfAPlainActorRunOnTheIoThread) {
  auto client = a_->proc().attach("client").value();
  auto [reply_to, replies] = client.open_port<testing::Pong>();
  // One at a time: each finds the echo idle, the case where a pool hand-off costs most. On a
  // loaded machine a preempted turn may overrun and send the echo to the pool for a second,
  // so the pings go on until enough turns ran on the I/O thread; each is answered in order.
  std::uint64_t seq = 0;
  std::string wrong;
  ASSERT_TRUE(testing::wait_until(30s, [&] {
    client.send(echo_, testing::Ping{seq, "x", reply_to});
    auto pong = replies.recv(deadline_in(10s));
    if (!pong || pong->seq != seq) {
      wrong = pong ? "pong " + std::to_string(pong->seq) + " for ping " + std::to_string(seq)
                   : pong.error().describe();
      return true;
    }
    ++seq;
    return b_->proc().stats().turns_on_io_thread >= 100;
  }));
  EXPECT_EQ(wrong, "");
  EXPECT_GE(b_->proc().stats().turns_on_io_thread, 100u) << "after " << seq << " pings";
}

TEST_F(IoThreadTurns, AHandlerBlockedOnTheIoThreadHoldsUpNoOtherActor) {
  auto client = a_->proc().attach("client").value();
  auto [held_to, held] = client.open_port<testing::Pong>();
  client.send(blocking_, Hold{held_to});
  ASSERT_TRUE(testing::wait_until(10s, [&] { return log_.seen().size() == 1; }));
  // An idle proc ran it on its I/O thread, where it now waits at the gate.
  EXPECT_EQ(log_.seen()[0], b_->endpoint().deferred_work_thread());

  // The standby thread serves b's sockets and the echo's turns go to the pool.
  expect_echoes(client, 100);
  EXPECT_GE(b_->endpoint().stats().standby_takeovers, 1u);
  EXPECT_EQ(log_.seen().size(), 1u);  // still held

  log_.set_open();
  auto released = held.recv(deadline_in(10s));
  ASSERT_TRUE(released.ok()) << released.error().describe();
  EXPECT_EQ(released->text, "released");
  // The I/O thread is back at work, serves as before, and runs the echo's turns again.
  const auto turns_before = b_->proc().stats().turns_on_io_thread;
  expect_echoes(client, 100);
  EXPECT_GT(b_->proc().stats().turns_on_io_thread, turns_before);
}

TEST_F(IoThreadTurns, AHandlerOnTheIoThreadWaitsForAnAnswerOnlyItsEndpointBringsIn) {
  log_.set_open();
  auto far_echo = a_->proc().spawn<testing::EchoActor>("far", {"far "}).value();
  auto client = a_->proc().attach("client").value();
  auto [reply_to, replies] = client.open_port<testing::Pong>();
  client.send(blocking_, Relay{far_echo, reply_to});
  auto answer = replies.recv(deadline_in(20s));
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  EXPECT_EQ(answer->text, "far nested");
  ASSERT_EQ(log_.seen().size(), 1u);
  EXPECT_EQ(log_.seen()[0], b_->endpoint().deferred_work_thread());
  EXPECT_GE(b_->endpoint().stats().standby_takeovers, 1u);
}

TEST_F(IoThreadTurns, ATurnStartedByAHandlerHeldUpOnTheIoThreadRunsElsewhere) {
  // The relay, on b's I/O thread, calls the echo of its own proc only once the standby thread
  // has taken over: that echo's turn must not wait for the I/O thread, which waits for it.
  auto client = a_->proc().attach("client").value();
  auto [reply_to, replies] = client.open_port<testing::Pong>();
  client.send(blocking_, Relay{echo_, reply_to});
  ASSERT_TRUE(testing::wait_until(10s, [&] { return log_.seen().size() == 1; }));
  EXPECT_EQ(log_.seen()[0], b_->endpoint().deferred_work_thread());
  ASSERT_TRUE(testing::wait_until(10s, [&] { return b_->endpoint().stats().standby_takeovers >= 1; }));
  log_.set_open();
  auto answer = replies.recv(deadline_in(20s));
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  EXPECT_EQ(answer->text, "pong nested");
}

TEST_F(IoThreadTurns, WithTheLimitAtZeroEveryTurnRunsOnThePool) {
  Config config;
  config.io_turn_limit_us = 0;
  Runtime runtime(config);
  auto [a, b] = start_pair(runtime, config, "pool", "ipc://" + testing::unique_temp_path("pool-a"),
                           "ipc://" + testing::unique_temp_path("pool-b"));
  auto echo = b->proc().spawn<testing::EchoActor>("echo", {""}).value();
  auto client = a->proc().attach("client").value();
  auto [reply_to, replies] = client.open_port<testing::Pong>();
  for (int i = 0; i < 20; ++i) {
    client.send(echo, testing::Ping{static_cast<std::uint64_t>(i), "x", reply_to});
    ASSERT_TRUE(replies.recv(deadline_in(10s)).ok());
  }
  EXPECT_EQ(b->proc().stats().turns_on_io_thread, 0u);
  EXPECT_EQ(b->endpoint().deferred_work_thread(), std::thread::id{});
}

}  // namespace
}  // namespace zmesh
