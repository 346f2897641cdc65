// Endpoints in two OS processes: echo and counting across a process boundary, and a
// receiver killed with SIGKILL mid-stream and restarted on the same ipc address, after
// which every message is delivered or returned, none silently lost.
#include "peer_process.hpp"
#include "transport_testing.hpp"
#include "zmesh/transport/endpoint.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>
#include <zmq.hpp>

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using testing::Inbox;
using testing::PeerProcess;
using testing::make_text;
using testing::proc;
using testing::test_config;
using testing::unique_temp_path;
using testing::wait_until;

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto driver = Endpoint::bind(context_, driver_id_, "ipc://" + unique_temp_path("driver"),
                                 inbox_.inbound(), test_config());
    ASSERT_TRUE(driver.ok()) << driver.error().describe();
    driver_ = std::move(driver).value();
  }
  void TearDown() override {
    driver_->close();
    peers_.clear();  // kills and reaps whatever still runs
    int status = 0;
    errno = 0;
    EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "a child process was left behind";
    EXPECT_EQ(errno, ECHILD);
  }

  PeerProcess& start_peer(const std::vector<std::string>& args) {
    peers_.push_back(PeerProcess::start(args));
    return *peers_.back();
  }
  // Asks `peer` to stop and checks that it exits cleanly.
  void stop(PeerProcess& peer, const ProcId& id) {
    driver_->send(make_text(driver_id_, id, "", "transport_test.Stop"));
    const auto status = peer.wait_exit(20s);
    ASSERT_TRUE(status.has_value()) << "peer did not exit after Stop";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
    ASSERT_FALSE(peer.lines().empty());
    EXPECT_TRUE(peer.lines().back().starts_with("exit ")) << peer.lines().back();
  }

  zmq::context_t context_;
  const ProcId driver_id_ = proc("driver", 0);
  const ProcId peer_id_ = proc("peer", 1);
  Inbox inbox_;
  std::unique_ptr<Endpoint> driver_;
  std::vector<std::unique_ptr<PeerProcess>> peers_;
};

TEST_F(ProcessTest, EchoPeerAnswersEveryMessageInOrderOverTcp) {
  auto& peer = start_peer({"echo", peer_id_.to_string(), "tcp://127.0.0.1:0",
                           driver_id_.to_string() + "=" + driver_->address()});
  ASSERT_TRUE(driver_->add_route(peer_id_, peer.address()).ok());
  constexpr int count = 500;
  for (int i = 0; i < count; ++i) driver_->send(make_text(driver_id_, peer_id_, std::to_string(i)));
  ASSERT_TRUE(wait_until(30s, [&] { return inbox_.delivered_count() == count; }))
      << inbox_.delivered_count();
  const auto texts = inbox_.delivered_texts();
  for (int i = 0; i < count; ++i) ASSERT_EQ(texts[i], std::to_string(i));
  EXPECT_EQ(inbox_.delivered()[0].sender.proc, peer_id_);
  stop(peer, peer_id_);
}

TEST_F(ProcessTest, CounterPeerCountsAStreamAndExitsOnSigterm) {
  auto& peer = start_peer({"counter", peer_id_.to_string(), "ipc://" + unique_temp_path("count"),
                           driver_id_.to_string() + "=" + driver_->address()});
  ASSERT_TRUE(driver_->add_route(peer_id_, peer.address()).ok());
  constexpr int count = 20000;
  for (int i = 0; i < count; ++i) driver_->send(make_text(driver_id_, peer_id_, "tick"));
  driver_->send(make_text(driver_id_, peer_id_, "", "transport_test.Report"));
  ASSERT_TRUE(wait_until(60s, [&] { return inbox_.delivered_count() == 1; }));
  EXPECT_EQ(inbox_.delivered()[0].type_name, "transport_test.Count");
  EXPECT_EQ(inbox_.delivered_texts()[0], std::to_string(count));
  peer.kill(SIGTERM);
  const auto status = peer.wait_exit(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_TRUE(peer.lines().back().starts_with("exit signal=15")) << peer.lines().back();
}

TEST_F(ProcessTest, ReceiverKilledMidStreamAndRestartedLosesNothing) {
  constexpr int total = 3000;
  const std::string address = "ipc://" + unique_temp_path("restart");
  auto& first = start_peer({"sink", peer_id_.to_string(), address});
  ASSERT_TRUE(driver_->add_route(peer_id_, first.address()).ok());

  std::atomic<bool> sender_done{false};
  std::thread sender([&] {
    for (int i = 1; i <= total; ++i) {
      driver_->send(make_text(driver_id_, peer_id_, std::to_string(i)));
      // Keep a bounded stream in flight, so that the kill lands mid-stream.
      if (i % 50 == 0) wait_until(60s, [&] { return driver_->stats().pending < 400; });
    }
    sender_done = true;
  });
  const bool took_some = wait_until(30s, [&] { return first.line_count() >= 500; });
  first.kill(SIGKILL);
  const auto status = first.wait_exit(20s);
  PeerProcess* second = nullptr;
  if (took_some && status) second = &start_peer({"sink", peer_id_.to_string(), address});
  const bool settled = second != nullptr && wait_until(60s, [&] {
                         return sender_done.load() && driver_->stats().pending == 0;
                       });
  if (!settled) second = nullptr;
  if (!sender_done) driver_->close();  // ends the sender's waits: pending drops to zero
  sender.join();
  ASSERT_TRUE(took_some) << "the first peer received " << first.line_count();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << *status;
  ASSERT_TRUE(settled) << "pending " << driver_->stats().pending;
  // Acked means written to the peer's stdout, not yet read by us: read to the end first.
  stop(*second, peer_id_);

  const auto before = first.received();
  const auto after = second->received();
  // Within one incarnation: in order, no duplicates.
  for (const auto* seen : {&before, &after}) {
    for (std::size_t i = 1; i < seen->size(); ++i) {
      ASSERT_LT((*seen)[i - 1], (*seen)[i]) << "at index " << i;
    }
  }
  // Across both: each message was delivered or came back, none silently lost.
  std::set<int> accounted(before.begin(), before.end());
  accounted.insert(after.begin(), after.end());
  const auto returned = inbox_.returned();
  for (const auto& [envelope, error] : returned) {
    EXPECT_EQ(error.code, ErrorCode::undeliverable);
    accounted.insert(std::stoi(std::string(envelope.payload[0].view())));
  }
  for (int i = 1; i <= total; ++i) EXPECT_EQ(accounted.count(i), 1u) << "message " << i << " lost";
  EXPECT_FALSE(after.empty());
  const auto stats = driver_->stats();
  std::printf("first incarnation got %zu, second %zu (from %d), returned %zu, resent %llu\n",
              before.size(), after.size(), after.empty() ? 0 : after.front(), returned.size(),
              static_cast<unsigned long long>(stats.resent));
}

}  // namespace
}  // namespace zmesh
