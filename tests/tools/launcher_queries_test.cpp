// The launcher's read-only queries on loopback (no root): status and probe answers, another
// protocol version and garbage bodies refused clearly while the launcher keeps serving, and
// `zmesh doctor` naming a tcp port where something other than a launcher listens.
#include "zmesh/alloc/internal/launcher_protocol.hpp"

#include "alloc/remote_test_support.hpp"
#include "testing/mesh_testing.hpp"
#include "tools/zmesh_run.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <zmq.hpp>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

// A listening tcp socket on 127.0.0.1 that never accepts (the kernel completes connections).
class SilentListener {
 public:
  SilentListener() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::uint16_t port_ = 0;
};

// A raw ZeroMQ peer of the launcher: one request, the next [type][body] back.
class Peer {
 public:
  explicit Peer(const std::string& address) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(address);
  }
  std::optional<std::pair<std::string, std::string>> ask(const std::string& type, const std::string& body) {
    socket_.send(zmq::buffer(type), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(body), zmq::send_flags::none);
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 10s) <= 0) return std::nullopt;
    zmq::message_t first, second;
    (void)socket_.recv(first);
    if (!first.more()) return std::nullopt;
    (void)socket_.recv(second);
    return std::make_pair(first.to_string(), second.to_string());
  }
  template <class Reply, class Request>
  Reply ask(const Request& request) {
    const auto [type, body] = internal::launcher_frames(request);
    auto reply = ask(type, body);
    EXPECT_TRUE(reply.has_value()) << "no answer to " << type;
    EXPECT_EQ(reply ? reply->first : "", message_name<Reply>());
    if (!reply || reply->first != message_name<Reply>()) return Reply{};
    return internal::decode_launcher_body<Reply>(reply->second).value();
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::dealer};
};

class LauncherQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SilentListener probe;  // a port that was free a moment ago
    port_ = probe.port();
  }
  void TearDown() override {
    EXPECT_TRUE(launchers_.stop_all());
    EXPECT_EQ(testing::child_processes(), std::vector<pid_t>{});
  }
  std::string address() const { return fmt::format("tcp://127.0.0.1:{}", port_); }

  std::uint16_t port_ = 0;
  testing::Launchers launchers_;
};

TEST_F(LauncherQueriesTest, StatusAndProbeAnswerAndBadQueriesAreRefusedClearly) {
  ASSERT_GT(launchers_.start(0, "", {"--listen", address(), "--insecure"}), 0);  // a plain peer asks
  Peer peer(address());

  auto status = peer.ask<internal::StatusReply>(internal::StatusRequest{});
  EXPECT_TRUE(status.ok) << status.error.message;
  EXPECT_EQ(status.version, internal::launcher_protocol_version);
  EXPECT_TRUE(status.clients.empty());

  auto old_status = peer.ask<internal::StatusReply>(internal::StatusRequest{99});
  EXPECT_FALSE(old_status.ok);
  EXPECT_EQ(old_status.error.code, ErrorCode::version_mismatch);
  EXPECT_NE(old_status.error.message.find("protocol 99"), std::string::npos) << old_status.error.message;

  internal::ProbeRequest old_probe;
  old_probe.version = 99;
  auto refused = peer.ask<internal::ProbeReply>(old_probe);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.error.code, ErrorCode::version_mismatch);

  auto garbage = peer.ask(std::string(message_name<internal::ProbeRequest>()), "\xc1\xc1 not msgpack");
  ASSERT_TRUE(garbage.has_value());
  EXPECT_EQ(garbage->first, message_name<internal::LauncherError>());
  auto error = internal::decode_launcher_body<internal::LauncherError>(garbage->second).value();
  EXPECT_NE(error.error.message.find("garbage"), std::string::npos) << error.error.message;

  // A probe: this test binary can run; nothing listens where it is asked to connect.
  std::uint16_t nowhere = 0;
  {
    SilentListener gone;  // closed at once: connecting to its port is refused
    nowhere = gone.port();
  }
  SilentListener listening;
  internal::ProbeRequest probe;
  probe.executable = ZMESH_LAUNCHER;
  probe.reach_host = "127.0.0.1";
  probe.reach_port = nowhere;
  probe.timeout_ms = 2000;
  auto probed = peer.ask<internal::ProbeReply>(probe);
  EXPECT_TRUE(probed.ok) << probed.error.message;
  EXPECT_EQ(probed.executable_problem, "");
  EXPECT_NE(probed.reach_problem.find("refused"), std::string::npos) << probed.reach_problem;
  probe.reach_port = listening.port();
  probe.executable = "/no/such/trainer";
  probed = peer.ask<internal::ProbeReply>(probe);
  EXPECT_EQ(probed.reach_problem, "");
  EXPECT_NE(probed.executable_problem.find("cannot run /no/such/trainer"), std::string::npos)
      << probed.executable_problem;

  // Still serving after all that.
  EXPECT_TRUE(peer.ask<internal::StatusReply>(internal::StatusRequest{}).ok);
  EXPECT_FALSE(launchers_.exited(0));
}

// Something that accepts tcp but speaks no ZeroMQ: the launcher port is open, the handshake
// never completes, and doctor says to check what listens there.
TEST_F(LauncherQueriesTest, DoctorNamesAPortWhereNoLauncherSpeaks) {
  SilentListener impostor;
  const auto run = testing::run_zmesh(
      {"doctor", "--insecure", "--hosts", fmt::format("127.0.0.1:{}", impostor.port()), "--timeout-ms", "1000"},
      60s);
  EXPECT_EQ(run.code(), 1) << run.output;
  EXPECT_TRUE(run.contains("handshake FAILED")) << run.output;
  EXPECT_TRUE(run.contains("is that a zmesh-launcher")) << run.output;
}

}  // namespace
}  // namespace zmesh
