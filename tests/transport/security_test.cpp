// CURVE on tcp: key files (written 0600, refused when others can read them or when garbled),
// the configuration (ZMESH_KEY_FILE, ZMESH_KEY, ZMESH_INSECURE), tcp refused without a key,
// and peers refused at the handshake (plain ZeroMQ, another key) while keyed peers are
// served and nothing of the refused ones is delivered.
#include "zmesh/core/config.hpp"
#include "zmesh/core/key_file.hpp"
#include "zmesh/transport/endpoint.hpp"
#include "zmesh/transport/internal/handshake_watch.hpp"
#include "zmesh/transport/security.hpp"
#include "zmesh/transport/supervision_channel.hpp"

#include "transport_testing.hpp"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <zmq.hpp>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::Inbox;
using testing::make_text;
using testing::proc;
using testing::test_config;
using testing::test_key_pair;
using testing::TestKeyFile;
using testing::wait_until;

// Sets (or, with nullopt, unsets) an environment variable for one test.
class ScopedVariable {
 public:
  ScopedVariable(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value) {
      ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~ScopedVariable() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "\"" << part << "\" not in: " << text;
}

void make_curve_client(zmq::socket_t& socket, const CurveKeyPair& keys) {
  socket.set(zmq::sockopt::curve_serverkey, keys.public_key);
  socket.set(zmq::sockopt::curve_publickey, keys.public_key);
  socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
}

// -- key files --

TEST(KeyFileTest, KeygenWritesAPrivateFileThatReadsBack) {
  auto keys = generate_key_pair();
  ASSERT_TRUE(keys.ok()) << keys.error().describe();
  TestKeyFile file(*keys);
  struct stat info {};
  ASSERT_EQ(::stat(file.path().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto read = read_key_file(file.path());
  ASSERT_TRUE(read.ok()) << read.error().describe();
  EXPECT_EQ(*read, *keys);
}

TEST(KeyFileTest, AnExistingFileIsNeverReplaced) {
  TestKeyFile file;
  auto again = write_key_file(file.path(), testing::other_key_pair());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::duplicate);
  expect_contains(again.error().message, "remove it first");
  EXPECT_EQ(read_key_file(file.path()).value(), test_key_pair());
}

TEST(KeyFileTest, AFileOthersCanReadIsRefusedWithTheFix) {
  TestKeyFile file;
  ASSERT_EQ(::chmod(file.path().c_str(), 0644), 0);
  auto read = read_key_file(file.path());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::unauthenticated);
  expect_contains(read.error().message, "chmod 600 " + file.path());
}

TEST(KeyFileTest, MissingAndGarbledFilesAreNamed) {
  const std::string missing = testing::unique_temp_path("no-key");
  auto absent = read_key_file(missing);
  ASSERT_FALSE(absent.ok());
  expect_contains(absent.error().message, missing);
  expect_contains(absent.error().message, "zmesh keygen");

  const std::string garbled = testing::unique_temp_path("garbled-key");
  {
    std::ofstream out(garbled);
    out << "public-key = short\nsecret-key = \"quoted\"\n";
  }
  ::chmod(garbled.c_str(), 0600);
  auto bad = read_key_file(garbled);
  ::unlink(garbled.c_str());
  ASSERT_FALSE(bad.ok());
  expect_contains(bad.error().message, garbled);
  expect_contains(bad.error().message, "40 Z85 characters");
}

// -- configuration --

TEST(SecurityConfigTest, TheEnvironmentNamesTheKeyAndTheSecretStaysHidden) {
  TestKeyFile file;
  ScopedVariable key_file("ZMESH_KEY_FILE", file.path());
  ScopedVariable key("ZMESH_KEY", std::nullopt);
  ScopedVariable insecure("ZMESH_INSECURE", std::nullopt);
  auto config = Config::from_environment();
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config->curve, test_key_pair());
  EXPECT_EQ(config->key_file, file.path());
  for (const auto& line : config->describe()) {
    EXPECT_EQ(line.find(test_key_pair().secret_key), std::string::npos) << line;
  }
  // A child gets the pair itself: the file's path may not exist on its host.
  bool passes_pair = false;
  for (const auto& [name, value] : config->to_environment()) {
    EXPECT_NE(name, "ZMESH_KEY_FILE");
    if (name == "ZMESH_KEY") passes_pair = value == key_pair_text(test_key_pair());
  }
  EXPECT_TRUE(passes_pair);
}

TEST(SecurityConfigTest, MalformedSettingsAreNamed) {
  {
    ScopedVariable key("ZMESH_KEY", "not-a-key");
    auto config = Config::from_environment();
    ASSERT_FALSE(config.ok());
    expect_contains(config.error().message, "ZMESH_KEY");
  }
  {
    ScopedVariable insecure("ZMESH_INSECURE", "yes");
    auto config = Config::from_environment();
    ASSERT_FALSE(config.ok());
    expect_contains(config.error().message, "ZMESH_INSECURE");
  }
}

// -- sockets --

TEST(SecurityTest, TcpWithoutAKeyIsRefusedSayingWhatToSet) {
  zmq::context_t context;
  Inbox inbox;
  auto endpoint = Endpoint::bind(context, proc("a", 0), "tcp://127.0.0.1:0", inbox.inbound(), Config{});
  ASSERT_FALSE(endpoint.ok());
  EXPECT_EQ(endpoint.error().code, ErrorCode::unauthenticated);
  expect_contains(endpoint.error().message, "ZMESH_KEY_FILE");
  expect_contains(endpoint.error().message, "zmesh keygen");
  expect_contains(endpoint.error().message, "ZMESH_INSECURE=1");
  // ipc never leaves the host: it needs no key.
  auto local = Endpoint::bind(context, proc("a", 1), "ipc://" + testing::unique_temp_path("nokey"),
                              inbox.inbound(), Config{});
  ASSERT_TRUE(local.ok()) << local.error().describe();
  (*local)->close();
}

TEST(SecurityTest, APairWhoseHalvesDoNotBelongTogetherIsRefused) {
  zmq::context_t context;
  Inbox inbox;
  Config config = test_config();
  config.curve.public_key = testing::other_key_pair().public_key;
  auto endpoint = Endpoint::bind(context, proc("a", 0), "tcp://127.0.0.1:0", inbox.inbound(), config);
  ASSERT_FALSE(endpoint.ok());
  EXPECT_EQ(endpoint.error().code, ErrorCode::unauthenticated);
  expect_contains(endpoint.error().message, "does not belong");
}

TEST(SecurityTest, InsecureTcpIsPlainZeroMq) {
  zmq::context_t context;
  Config config = test_config();
  config.curve = {};
  config.insecure = true;
  Inbox a_inbox, b_inbox;
  auto a = Endpoint::bind(context, proc("a", 0), "tcp://127.0.0.1:0", a_inbox.inbound(), config).value();
  auto b = Endpoint::bind(context, proc("b", 0), "tcp://127.0.0.1:0", b_inbox.inbound(), config).value();
  ASSERT_TRUE(a->add_route(proc("b", 0), b->address()).ok());
  a->send(make_text(proc("a", 0), proc("b", 0), "plain"));
  ASSERT_TRUE(wait_until(10s, [&] { return b_inbox.delivered_count() == 1; }));
  a->close();
  b->close();
}

// A keyed endpoint, a keyed sender, and raw peers that try to get in.
class RefusedPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = Endpoint::bind(context_, target_id_, "tcp://127.0.0.1:0", target_inbox_.inbound(), test_config())
                  .value();
    sender_ = Endpoint::bind(context_, sender_id_, "tcp://127.0.0.1:0", sender_inbox_.inbound(), test_config())
                  .value();
    ASSERT_TRUE(sender_->add_route(target_id_, target_->address()).ok());
  }
  void TearDown() override {
    sender_->close();
    target_->close();
  }

  // Sends a well-formed-looking message from `raw` (which may never get through).
  void knock(zmq::socket_t& raw) {
    raw.set(zmq::sockopt::linger, 0);
    raw.connect(target_->address());
    (void)raw.send(zmq::str_buffer("link-header"), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)raw.send(zmq::str_buffer("envelope"), zmq::send_flags::dontwait);
  }

  // After the refusals, the keyed sender is still served, and nothing else arrived.
  void expect_only_keyed_traffic() {
    sender_->send(make_text(sender_id_, target_id_, "keyed"));
    ASSERT_TRUE(wait_until(10s, [&] { return target_inbox_.delivered_count() == 1; }));
    EXPECT_EQ(target_inbox_.delivered_texts(), std::vector<std::string>{"keyed"});
    EXPECT_EQ(target_->stats().garbage_dropped, 0u) << "a refused peer's frames reached the endpoint";
  }

  zmq::context_t context_;
  const ProcId target_id_ = proc("target", 0);
  const ProcId sender_id_ = proc("sender", 0);
  Inbox target_inbox_, sender_inbox_;
  std::unique_ptr<Endpoint> target_, sender_;
};

TEST_F(RefusedPeerTest, APlainZeroMqPeerIsRefusedAndCounted) {
  zmq::socket_t raw(context_, zmq::socket_type::dealer);
  knock(raw);
  ASSERT_TRUE(wait_until(10s, [&] { return target_->stats().handshakes_refused >= 1; }))
      << target_->stats().handshakes_refused;
  expect_only_keyed_traffic();
}

TEST_F(RefusedPeerTest, APeerWithAnotherKeyIsRefusedAndCounted) {
  zmq::socket_t raw(context_, zmq::socket_type::dealer);
  make_curve_client(raw, testing::other_key_pair());
  knock(raw);
  ASSERT_TRUE(wait_until(10s, [&] { return target_->stats().handshakes_refused >= 1; }))
      << target_->stats().handshakes_refused;
  expect_only_keyed_traffic();
}

// A peer that speaks ZMTP 3.0 with the NULL mechanism (what plain ZeroMQ sends) from a
// socket the test holds, so its address is known: "127.0.0.1:PORT".
class PlainGreeter {
 public:
  explicit PlainGreeter(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    name_ = fmt::format("127.0.0.1:{}", ntohs(address.sin_port));
  }
  ~PlainGreeter() { ::close(fd_); }
  void greet() {
    std::array<char, 64> greeting{};
    greeting[0] = '\xff';
    greeting[9] = '\x7f';
    greeting[10] = 3;  // ZMTP 3.0
    std::memcpy(greeting.data() + 12, "NULL", 4);
    EXPECT_EQ(::write(fd_, greeting.data(), greeting.size()), static_cast<ssize_t>(greeting.size()));
  }
  const std::string& name() const { return name_; }

 private:
  int fd_;
  std::string name_;
};

// The watch names the refused peer, reports each host once and counts every refusal.
TEST(HandshakeWatchTest, EachRefusedHostIsNamedOnceAndEveryRefusalCounted) {
  zmq::context_t context;
  zmq::socket_t server(context, zmq::socket_type::router);
  ASSERT_TRUE(secure_socket(server, "tcp://127.0.0.1:0", test_config(), SocketRole::server).ok());
  server.set(zmq::sockopt::linger, 0);
  server.bind("tcp://127.0.0.1:*");
  internal::HandshakeWatch watch(context, server, true);
  const std::string address = server.get(zmq::sockopt::last_endpoint);
  const auto port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  std::vector<internal::HandshakeRefusal> reported;
  auto refused_reach = [&](std::uint64_t count) {
    return wait_until(10s, [&] {
      for (auto& refusal : watch.drain()) reported.push_back(std::move(refusal));
      return watch.refused() >= count;
    });
  };
  PlainGreeter first(port);
  // Its address is read while the connection is open: once accepted, then it greets.
  ASSERT_TRUE(wait_until(10s, [&] {
    (void)watch.drain();
    return watch.accepted_open() == 1;
  }));
  first.greet();
  ASSERT_TRUE(refused_reach(1)) << watch.refused();
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].peer, first.name());
  expect_contains(reported[0].reason, "plain ZeroMQ");
  for (std::uint64_t i = 2; i <= 3; ++i) {
    zmq::socket_t plain(context, zmq::socket_type::dealer);
    plain.set(zmq::sockopt::linger, 0);
    plain.connect(address);
    ASSERT_TRUE(refused_reach(i)) << watch.refused();
  }
  EXPECT_EQ(reported.size(), 1u) << "the same host was reported again";
  EXPECT_EQ(watch.succeeded(), 0u);
}

// A watched socket outlives its watch (an endpoint closes the watch, then the socket), and
// may accept connections in between. Were the monitor still on, libzmq's I/O thread would
// block for ever reporting them to a reader that is gone, and every socket of the context
// with it: the connection never gets through, the listener never closes, so its address
// cannot be bound again.
TEST(HandshakeWatchTest, EndingAWatchLeavesTheSocketAndTheContextWorking) {
  zmq::context_t context;
  std::optional<zmq::socket_t> server(std::in_place, context, zmq::socket_type::router);
  ASSERT_TRUE(secure_socket(*server, "tcp://127.0.0.1:0", test_config(), SocketRole::server).ok());
  server->set(zmq::sockopt::linger, 0);
  server->bind("tcp://127.0.0.1:*");
  std::optional<internal::HandshakeWatch> watch(std::in_place, context, *server, true);
  const std::string address = server->get(zmq::sockopt::last_endpoint);
  auto dial = [&] {
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    EXPECT_TRUE(secure_socket(dealer, address, test_config(), SocketRole::client).ok());
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(address);
    dealer.send(zmq::str_buffer("hello"), zmq::send_flags::none);
    return dealer;
  };
  constexpr int peers = 16;
  std::vector<zmq::socket_t> dealers;
  for (int i = 0; i < peers; ++i) dealers.push_back(dial());
  server->set(zmq::sockopt::rcvtimeo, 10000);
  for (int i = 0; i < peers; ++i) {
    zmq::message_t routing_id, body;
    ASSERT_TRUE(server->recv(routing_id)) << "peer " << i << " never got through";
    ASSERT_TRUE(server->recv(body));
  }
  watch.reset();
  // New connections after the watch ended are events nobody reads any more.
  for (int i = 0; i < 4; ++i) dealers.push_back(dial());
  for (int i = 0; i < 4; ++i) {
    zmq::message_t routing_id, body;
    ASSERT_TRUE(server->recv(routing_id)) << "peer " << i << " dialed after the watch ended hangs";
    ASSERT_TRUE(server->recv(body));
  }
  server.reset();

  zmq::socket_t restarted(context, zmq::socket_type::router);
  ASSERT_TRUE(secure_socket(restarted, address, test_config(), SocketRole::server).ok());
  restarted.set(zmq::sockopt::linger, 0);
  ASSERT_TRUE(wait_until(10s, [&] {
    try {
      restarted.bind(address);
      return true;
    } catch (const zmq::error_t&) {
      return false;
    }
  })) << address << " stayed bound: the context's I/O thread is stuck";
  auto late = dial();
  restarted.set(zmq::sockopt::rcvtimeo, 10000);
  zmq::message_t routing_id, body;
  ASSERT_TRUE(restarted.recv(routing_id));
  ASSERT_TRUE(restarted.recv(body));
  EXPECT_EQ(body.to_string(), "hello");
}

// The supervision channel is a tcp listener too: a subscriber without the key reads nothing.
TEST(SecurityTest, APlainSubscriberCannotReadASupervisionPublisher) {
  zmq::context_t context;
  auto publisher = SupervisionPublisher::bind(context, proc("p", 0), "tcp://127.0.0.1:0", test_config());
  ASSERT_TRUE(publisher.ok()) << publisher.error().describe();
  zmq::socket_t plain(context, zmq::socket_type::sub);
  plain.set(zmq::sockopt::linger, 0);
  plain.set(zmq::sockopt::subscribe, "");
  internal::HandshakeWatch watch(context, plain, false);
  plain.connect((*publisher)->address());
  ASSERT_TRUE(wait_until(10s, [&] {
    (void)watch.drain();
    return watch.refused() >= 1;
  }));
  EXPECT_EQ(watch.succeeded(), 0u);
}

}  // namespace
}  // namespace zmesh
