// Two procs of one OS process, each with its own endpoint, playing ping-pong through real
// sockets (inproc, ipc, tcp): actors, ports and the reliable transport together.
#include "zmesh/transport/node.hpp"

#include "testing/actors.hpp"
#include "testing/test_keys.hpp"
#include "testing/wait.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

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
  auto a = Node::start(runtime_, ProcOptions{ProcId{WorldId{"pp"}, 0}, nullptr, config(), nullptr, nullptr},
                       address("a"))
               .value();
  auto b = Node::start(runtime_, ProcOptions{ProcId{WorldId{"pp"}, 1}, nullptr, config(), nullptr, nullptr},
                       address("b"))
               .value();
  ASSERT_TRUE(a->endpoint().add_route(b->proc().id(), b->address()).ok());
  ASSERT_TRUE(b->endpoint().add_route(a->proc().id(), a->address()).ok());
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

}  // namespace
}  // namespace zmesh
