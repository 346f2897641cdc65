// The promises that hold inside one proc under bad luck and bad code: user code that throws
// anything from any hook fails only its actor, a reply whose caller gave up never fails the
// actor that sent it, and a full mailbox refuses more (and says when it has room again).
#include "zmesh/core/proc.hpp"

#include "testing/actors.hpp"
#include "testing/wait.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::Ping;
using testing::Pong;
using testing::wait_until;

// Makes the hook it names throw an int (not a std::exception).
struct Throw {
  ZMESH_MESSAGE("test.Throw");
  std::string hook;  // "handler", "undeliverable", "child", "cleanup"
  MSGPACK_DEFINE(hook);
};

class ThrowingActor : public Actor {
 public:
  struct Params {
    std::string hook;
    MSGPACK_DEFINE(hook);
  };
  explicit ThrowingActor(const Params& params) : hook_(params.hook) {
    if (hook_ == "constructor") throw 42;
    on<Throw>([this](Context& ctx, const Throw& request) {
      if (request.hook == "handler") throw 42;
      if (request.hook == "undeliverable") {
        // A message to an actor that does not exist comes back: on_undeliverable throws.
        ctx.send(ActorId{ctx.proc().id(), "nobody", 0}, Throw{});
      }
      if (request.hook == "child") {
        auto child = ctx.spawn_child<ThrowingActor>("child", {""});
        if (child) ctx.send(*child, Throw{"handler"});
      }
      if (request.hook == "cleanup") ctx.stop_self();
    });
  }
  void on_undeliverable(Context&, const Undeliverable&) override { throw 42; }
  bool on_child_event(Context&, const SupervisionEvent&) override { throw 42; }
  void cleanup(Context&) override {
    if (hook_ == "cleanup") throw 42;
  }

 private:
  std::string hook_;
};

ProcOptions options(Config config = {}) {
  auto registry = std::make_shared<Registry>();
  registry->add_actor<ThrowingActor>("Throwing").value();
  return ProcOptions{ProcId{WorldId{"contain"}, 0}, registry, std::move(config), nullptr, nullptr};
}

// Waits for the supervision event of `actor` that `kind` names; fails the test after 5 s.
SupervisionEvent event_of(Proc& proc, const std::string& actor, SupervisionKind kind) {
  const auto deadline = deadline_in(5s);
  while (auto event = proc.next_event(deadline)) {
    if (event->actor.name == actor && event->kind == kind) return *event;
  }
  ADD_FAILURE() << "no " << static_cast<int>(kind) << " event for " << actor;
  return {};
}

TEST(ContainmentTest, ANonStandardThrowFromAnyHookFailsOnlyThatActor) {
  Proc proc(options());
  auto client = proc.attach("client").value();
  for (std::string hook : {"handler", "undeliverable", "child", "cleanup"}) {
    SCOPED_TRACE(hook);
    const std::string name = "throws-in-" + hook;
    auto actor = proc.spawn("Throwing", name, encode_value(ThrowingActor::Params{hook}));
    ASSERT_TRUE(actor.ok()) << actor.error().describe();
    client.send(*actor, Throw{hook});
    auto failed = event_of(proc, name, SupervisionKind::actor_failed);
    EXPECT_FALSE(failed.reason.empty());
    EXPECT_EQ(proc.status(*actor), ActorStatus::failed);
  }
  // The proc survived all of it and still runs new actors.
  ASSERT_TRUE(proc.spawn<testing::EchoActor>("echo", {""}).ok());
}

TEST(ContainmentTest, AThrowingConstructorIsASpawnErrorNamingTheType) {
  Proc proc(options());
  auto spawned = proc.spawn("Throwing", "ctor", encode_value(ThrowingActor::Params{"constructor"}));
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error().code, ErrorCode::actor_failed);
  EXPECT_NE(spawned.error().message.find("constructor of actor type \"Throwing\" threw"),
            std::string::npos)
      << spawned.error().message;
  // The name is free again.
  EXPECT_TRUE(proc.spawn("Throwing", "ctor", encode_value(ThrowingActor::Params{""})).ok());
}

TEST(ContainmentTest, ALateReplyIsDroppedAndCountedAndTheReplierLives) {
  Proc proc(options());
  auto echo = proc.spawn<testing::EchoActor>("echo", {""}).value();
  auto client = proc.attach("client").value();
  PortRef<Pong> given_up;
  {
    // The caller gives up: its port closes when the receiver goes out of scope...
    auto [reply_to, replies] = client.open_port<Pong>();
    given_up = reply_to;
  }
  client.send(echo, Ping{1, "late", given_up});
  // ...and the reply that arrives after that is normal, not a fault of the echo actor.
  ASSERT_TRUE(wait_until(5s, [&] { return proc.stats().late_replies_dropped >= 1; }));
  auto [reply_to, replies] = client.open_port<Pong>();
  client.send(echo, Ping{2, "alive?", reply_to});
  ASSERT_EQ(replies.recv(deadline_in(5s)).value().seq, 2u);
  EXPECT_TRUE(wait_until(5s, [&] { return proc.status(echo) == ActorStatus::idle; }));
}

// Blocks every Ping until released, so that its mailbox fills.
class GateActor : public Actor {
 public:
  explicit GateActor(std::shared_future<void> open) {
    on<Ping>([open](Context& ctx, const Ping& ping) {
      open.wait();
      ctx.send(ping.reply_to, Pong{ping.seq, ""});
    });
  }
};

TEST(ContainmentTest, AFullMailboxRefusesThenTakesMoreOnceDrained) {
  Config config;
  config.mailbox_max_messages = 8;
  Proc proc(options(config));
  std::promise<void> open;
  auto gate = proc.spawn_actor("gate", std::make_unique<GateActor>(open.get_future().share())).value();
  auto client = proc.attach("client").value();
  auto [reply_to, replies] = client.open_port<Pong>();
  // The first message is taken into the handler, which blocks; the next 8 fill the mailbox.
  ASSERT_TRUE(client.send_bounded(gate, Ping{0, "", reply_to}, deadline_in(5s)).ok());
  ASSERT_TRUE(wait_until(5s, [&] { return proc.status(gate) == ActorStatus::processing; }));
  std::uint64_t sent = 1;
  while (true) {
    auto queued = client.send_bounded(gate, Ping{sent, "", reply_to}, Deadline::min());
    if (!queued) {
      EXPECT_EQ(queued.error().code, ErrorCode::backpressure);
      EXPECT_NE(queued.error().message.find("mailbox stayed full"), std::string::npos)
          << queued.error().message;
      break;
    }
    ASSERT_LE(++sent, 9u) << "the mailbox took more than its bound";
  }
  EXPECT_EQ(sent, 9u);
  // A network message for the full mailbox is refused and left intact for the transport.
  auto network = make_envelope(client.self(), handler_port<Ping>(gate).id, Ping{99, "", reply_to});
  const auto refusals = proc.stats().mailbox_refusals;
  EXPECT_FALSE(proc.offer(network, false));
  EXPECT_EQ(network.type_name, message_name<Ping>());
  EXPECT_EQ(proc.stats().mailbox_refusals, refusals + 1);
  // A sender that waits gets in once the actor drains.
  auto waiting = std::async(std::launch::async, [&] {
    return client.send_bounded(gate, Ping{sent, "", reply_to}, deadline_in(10s));
  });
  open.set_value();
  ASSERT_TRUE(waiting.get().ok());
  for (std::uint64_t i = 0; i <= sent; ++i) {
    auto pong = replies.recv(deadline_in(5s));
    ASSERT_TRUE(pong.ok()) << "reply " << i << ": " << pong.error().describe();
    EXPECT_EQ(pong->seq, i) << "order broken";
  }
  EXPECT_TRUE(proc.offer(network, false));
  ASSERT_EQ(replies.recv(deadline_in(5s)).value().seq, 99u);
}

}  // namespace
}  // namespace zmesh
