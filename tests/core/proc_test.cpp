// Procs and actors in one process: ping-pong, spawn by name, duplicates, supervision,
// undeliverables, ports, stop and kill.
#include "zmesh/core/proc.hpp"

#include "testing/actors.hpp"
#include "testing/wait.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::Boom;
using testing::EchoActor;
using testing::Ping;
using testing::Pong;

std::shared_ptr<Registry> test_registry() {
  auto registry = std::make_shared<Registry>();
  registry->add_actor<EchoActor>("Echo").value();
  registry->add_actor<testing::FailingInitActor>("FailingInit").value();
  registry->add_message<Ping>().value();
  registry->add_message<Pong>().value();
  return registry;
}

class ProcTest : public ::testing::Test {
 protected:
  ProcOptions options() {
    return ProcOptions{ProcId{WorldId{"test"}, 0}, test_registry(), Config{}, nullptr, nullptr};
  }
  Proc proc_{options()};
};

TEST_F(ProcTest, PingPongInsideOneProc) {
  auto echo = proc_.spawn<EchoActor>("echo", {"re: "});
  ASSERT_TRUE(echo.ok()) << echo.error().describe();
  auto client = proc_.attach("client").value();
  auto [reply_to, replies] = client.open_port<Pong>();
  for (std::uint64_t i = 0; i < 100; ++i) client.send(*echo, Ping{i, "hi", reply_to});
  for (std::uint64_t i = 0; i < 100; ++i) {
    auto pong = replies.recv(deadline_in(5s));
    ASSERT_TRUE(pong.ok()) << pong.error().describe();
    EXPECT_EQ(pong->seq, i) << "per-sender order broken";
    EXPECT_EQ(pong->text, "re: hi");
  }
}

TEST_F(ProcTest, SpawnByTypeNameWithParameters) {
  auto echo = proc_.spawn("Echo", "by_name", encode_value(EchoActor::Params{"named "}));
  ASSERT_TRUE(echo.ok()) << echo.error().describe();
  auto client = proc_.attach("client").value();
  auto [reply_to, replies] = client.open_port<Pong>(/*once=*/true);
  client.send(*echo, Ping{1, "x", reply_to});
  EXPECT_EQ(replies.recv(deadline_in(5s)).value().text, "named x");
}

TEST_F(ProcTest, SpawnErrorsNameTheCulprit) {
  auto unknown = proc_.spawn("Trainer", "t", encode_value(EchoActor::Params{}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::not_found);
  EXPECT_NE(unknown.error().message.find("\"Trainer\""), std::string::npos);
  EXPECT_NE(unknown.error().message.find("registered: Echo, FailingInit"), std::string::npos)
      << unknown.error().message;

  auto bad_params = proc_.spawn("Echo", "e", encode_value(std::vector<int>{1, 2}));
  ASSERT_FALSE(bad_params.ok());
  EXPECT_EQ(bad_params.error().code, ErrorCode::decode_error) << bad_params.error().describe();

  ASSERT_TRUE(proc_.spawn<EchoActor>("dup", {}).ok());
  auto duplicate = proc_.spawn<EchoActor>("dup", {});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, ErrorCode::duplicate);
  EXPECT_EQ(proc_.status(ActorId{proc_.id(), "dup", 0}), ActorStatus::idle)
      << "the duplicate disturbed the existing actor";

  auto bad_name = proc_.spawn<EchoActor>("bad name", {});
  EXPECT_EQ(bad_name.error().code, ErrorCode::invalid_argument);

  auto failing = proc_.spawn("FailingInit", "f", encode_value(testing::FailingInitActor::Params{true}));
  ASSERT_FALSE(failing.ok());
  EXPECT_EQ(failing.error().code, ErrorCode::actor_failed);
  EXPECT_NE(failing.error().message.find("init refused"), std::string::npos);
}

// A different type that claims Pong's wire name.
struct OtherPong {
  ZMESH_MESSAGE("test.Pong");
  MSGPACK_DEFINE();
};

TEST(RegistryTest, RejectsTwoTypesWithOneName) {
  Registry registry;
  ASSERT_TRUE(registry.add_message<Pong>().ok());
  ASSERT_TRUE(registry.add_message<Pong>().ok()) << "registering the same type twice is harmless";
  auto clash = registry.add_message<OtherPong>();
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, ErrorCode::duplicate);
  ASSERT_TRUE(registry.add_actor<EchoActor>("Echo").ok());
  EXPECT_EQ(registry.add_actor<EchoActor>("Echo").error().code, ErrorCode::duplicate);
}

TEST_F(ProcTest, ThrowingHandlerProducesExactlyOneSupervisionEvent) {
  auto echo = proc_.spawn<EchoActor>("fragile", {}).value();
  auto client = proc_.attach("client").value();
  const auto before = unix_time_now_ns();
  client.send(echo, Boom{"division by zero"});
  auto event = proc_.next_event(deadline_in(5s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, SupervisionKind::actor_failed);
  EXPECT_EQ(event->actor, echo);
  EXPECT_EQ(event->message_type, "test.Boom");
  EXPECT_EQ(event->reason, "division by zero");
  EXPECT_GE(event->unix_time_ns, before);
  EXPECT_EQ(proc_.status(echo), ActorStatus::failed);
  EXPECT_EQ(proc_.attach("other").value().self().name, "other") << "the proc keeps serving";
  // Once stopped the proc is quiet: every event it will ever emit has been counted.
  ASSERT_TRUE(proc_.stop(deadline_in(5s)).ok());
  EXPECT_EQ(proc_.stats().events_emitted, 1u) << "more than one event";
}

TEST_F(ProcTest, FailureStopsChildrenAndReachesTheParentsOwner) {
  auto parent = proc_.spawn<EchoActor>("parent", {}).value();
  auto client = proc_.attach("client").value();
  auto [reply_to, replies] = client.open_port<Pong>();
  client.send(parent, testing::SpawnChild{"kid", reply_to});
  auto spawned = replies.recv(deadline_in(5s));
  ASSERT_TRUE(spawned.ok());
  auto child = ActorId::parse(spawned->text).value();
  EXPECT_GT(child.pid, 0u);
  EXPECT_EQ(proc_.status(child), ActorStatus::idle);

  // The child fails: the parent does not handle it, so it climbs to the proc.
  client.send(child, Boom{"child broke"});
  auto event = proc_.next_event(deadline_in(5s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->actor, child);
  EXPECT_EQ(event->reason, "child broke");
  EXPECT_EQ(proc_.status(parent), ActorStatus::idle) << "an unhandled child failure climbs; "
                                                        "it does not fail the parent";

  // Now a second child, and the parent fails: the child is stopped first.
  client.send(parent, testing::SpawnChild{"kid2", reply_to});
  auto second = ActorId::parse(replies.recv(deadline_in(5s)).value().text).value();
  client.send(parent, Boom{"parent broke"});
  std::vector<SupervisionEvent> events;
  while (auto e = proc_.next_event(deadline_in(2s))) {
    events.push_back(*e);
    if (e->actor == parent) break;
  }
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().actor, parent);
  EXPECT_EQ(events.back().kind, SupervisionKind::actor_failed);
  EXPECT_EQ(proc_.status(second), ActorStatus::stopped);
}

TEST_F(ProcTest, UndeliverableReasonsReachTheSender) {
  auto client = proc_.attach("client").value();
  auto echo = proc_.spawn<EchoActor>("echo", {}).value();
  // 1. unknown actor
  client.send(ActorId{proc_.id(), "nobody", 0}, Boom{"x"});
  auto unknown = client.next_undeliverable(deadline_in(5s));
  ASSERT_TRUE(unknown.has_value());
  EXPECT_NE(unknown->reason.message.find("no actor test[0].nobody[0]"), std::string::npos)
      << unknown->reason.message;
  // 2. unknown port (a reply port that was never opened, or closed since): not returned,
  // dropped and counted, as replies to callers that gave up are
  const auto dropped = proc_.stats().late_replies_dropped;
  client.send(PortRef<Pong>{PortId{echo, 99}}, Pong{});
  ASSERT_TRUE(testing::wait_until(5s, [&] { return proc_.stats().late_replies_dropped == dropped + 1; }));
  // 3. a type the actor has no handler for
  client.send(echo, Pong{});
  auto no_handler = client.next_undeliverable(deadline_in(5s));
  ASSERT_TRUE(no_handler.has_value());
  EXPECT_NE(no_handler->reason.message.find("no handler for message type test.Pong"),
            std::string::npos);
  // 4. a payload that does not decode as the named type
  Envelope garbled{client.self(), handler_port<Ping>(echo).id, "test.Ping", {},
                   {Frame::copy_of(std::string_view("\xc1"))}, {}};
  client.send(std::move(garbled));
  auto decode = client.next_undeliverable(deadline_in(5s));
  ASSERT_TRUE(decode.has_value());
  EXPECT_EQ(decode->reason.code, ErrorCode::decode_error);
  EXPECT_EQ(proc_.status(echo), ActorStatus::idle) << "a bad message must not fail the receiver";
  // 5. an actor that has ended
  client.send(echo, Boom{"bye"});
  ASSERT_TRUE(testing::wait_until(5s, [&] { return proc_.status(echo) == ActorStatus::failed; }));
  client.send(echo, Boom{"again"});
  auto ended = client.next_undeliverable(deadline_in(5s));
  ASSERT_TRUE(ended.has_value());
  EXPECT_NE(ended->reason.message.find("has ended"), std::string::npos) << ended->reason.message;
  // Every client undeliverable is also a supervision event of the proc; so is the echo's
  // failure. Once stopped the proc is quiet, and its events are all queued.
  ASSERT_TRUE(proc_.stop(deadline_in(5s)).ok());
  ASSERT_EQ(proc_.stats().events_emitted, 5u);
  std::map<SupervisionKind, int> kinds;
  while (auto e = proc_.next_event(Clock::now())) ++kinds[e->kind];
  EXPECT_EQ(kinds, (std::map<SupervisionKind, int>{{SupervisionKind::undeliverable, 4},
                                                   {SupervisionKind::actor_failed, 1}}));
}

TEST_F(ProcTest, AnActorsUndeliverableFailsItByDefault) {
  // The echo sends to the handler of an actor that does not exist: the bounce comes back to
  // the echo, and a lost message is a failure unless the actor handles it.
  auto echo = proc_.spawn<EchoActor>("echo", {}).value();
  auto client = proc_.attach("client").value();
  client.send(echo, Ping{1, "x", PortRef<Pong>{handler_port<Pong>(ActorId{proc_.id(), "nobody", 0}).id}});
  auto event = proc_.next_event(deadline_in(5s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->actor, echo);
  EXPECT_EQ(event->message_type, "zmesh.Undeliverable");
  EXPECT_NE(event->reason.find("test.Pong"), std::string::npos) << event->reason;
}

TEST_F(ProcTest, OncePortTakesOneMessage) {
  auto echo = proc_.spawn<EchoActor>("echo", {}).value();
  auto client = proc_.attach("client").value();
  auto [reply_to, replies] = client.open_port<Pong>(/*once=*/true);
  client.send(echo, Ping{1, "a", reply_to});
  client.send(echo, Ping{2, "b", reply_to});
  EXPECT_EQ(replies.recv(deadline_in(5s)).value().seq, 1u);
  // The echo's second reply found the port closed: dropped and counted, the echo lives.
  ASSERT_TRUE(testing::wait_until(5s, [&] { return proc_.stats().late_replies_dropped == 1; }));
  ASSERT_TRUE(testing::wait_until(5s, [&] { return proc_.status(echo) == ActorStatus::idle; }));
  auto nothing = replies.recv(Clock::now());
  ASSERT_FALSE(nothing.ok()) << "the once port took a second message";
  EXPECT_EQ(nothing.error().code, ErrorCode::timeout);
}

TEST_F(ProcTest, StopDrainsQueuedMessagesFirst) {
  auto echo = proc_.spawn<EchoActor>("echo", {}).value();
  auto client = proc_.attach("client").value();
  auto [reply_to, replies] = client.open_port<Pong>();
  for (std::uint64_t i = 0; i < 1000; ++i) client.send(echo, Ping{i, "", reply_to});
  proc_.stop_actor(echo);
  for (std::uint64_t i = 0; i < 1000; ++i) ASSERT_TRUE(replies.recv(deadline_in(5s)).ok()) << i;
  auto event = proc_.next_event(deadline_in(5s));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->kind, SupervisionKind::actor_stopped);
  EXPECT_EQ(proc_.status(echo), ActorStatus::stopped);
  client.send(echo, Ping{0, "", reply_to});
  EXPECT_TRUE(client.next_undeliverable(deadline_in(5s)).has_value());
}

TEST_F(ProcTest, ProcStopEndsEveryActor) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(proc_.spawn<EchoActor>("e" + std::to_string(i), {}).ok());
  EXPECT_TRUE(proc_.stop(deadline_in(5s)).ok());
  // stop() returns once every actor ended, so all their events are queued by now.
  EXPECT_EQ(proc_.stats().events_emitted, 10u);
  int stopped = 0;
  while (auto e = proc_.next_event(Clock::now())) stopped += e->kind == SupervisionKind::actor_stopped;
  EXPECT_EQ(stopped, 10);
}

TEST(SharedSchedulerTest, ManyProcsShareOnePool) {
  auto scheduler = std::make_shared<Scheduler>(2);
  std::vector<std::unique_ptr<Proc>> procs;
  for (std::uint32_t rank = 0; rank < 64; ++rank) {
    procs.push_back(std::make_unique<Proc>(
        ProcOptions{ProcId{WorldId{"many"}, rank}, nullptr, Config{}, scheduler, nullptr}));
    ASSERT_TRUE(procs.back()->spawn<EchoActor>("echo", {}).ok());
  }
  auto client = procs[0]->attach("client").value();
  auto [reply_to, replies] = client.open_port<Pong>();
  client.send(ActorId{procs[0]->id(), "echo", 0}, Ping{7, "", reply_to});
  EXPECT_EQ(replies.recv(deadline_in(5s)).value().seq, 7u);
}

}  // namespace
}  // namespace zmesh

namespace zmesh {
namespace {

// Records which thread ran its handler.
class InlineActor : public Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit InlineActor(const Params&) {
    handlers_never_block();
    on<Ping>([this](Context& ctx, const Ping& ping) {
      ran_on = std::this_thread::get_id();
      ctx.send(ping.reply_to, Pong{ping.seq, ""});
    });
  }
  std::atomic<std::thread::id> ran_on{};
};

TEST(InlineDeliveryTest, ActorsThatNeverBlockRunOnTheDeliveringThread) {
  Proc proc(ProcOptions{ProcId{WorldId{"inline"}, 0}, nullptr, Config{}, nullptr, nullptr});
  auto actor = std::make_unique<InlineActor>(InlineActor::Params{});
  InlineActor* raw = actor.get();
  auto id = proc.spawn_actor("inline", std::move(actor)).value();
  auto client = proc.attach("client").value();
  auto [reply_to, replies] = client.open_port<Pong>();
  proc.deliver(make_envelope(client.self(), handler_port<Ping>(id).id, Ping{1, "", reply_to}),
               /*may_run_here=*/true);
  EXPECT_EQ(raw->ran_on.load(), std::this_thread::get_id());
  EXPECT_EQ(replies.recv(deadline_in(5s)).value().seq, 1u);
  // Without the permission it goes to the pool as usual.
  proc.deliver(make_envelope(client.self(), handler_port<Ping>(id).id, Ping{2, "", reply_to}));
  EXPECT_EQ(replies.recv(deadline_in(5s)).value().seq, 2u);
  EXPECT_NE(raw->ran_on.load(), std::this_thread::get_id());
}

}  // namespace
}  // namespace zmesh
