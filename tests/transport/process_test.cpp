// Endpoints in two OS processes: echo and counting across a process boundary, and a
// receiver killed with SIGKILL mid-stream and restarted on the same ipc address, after
// which every message is delivered or returned, none silently lost.
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

extern char** environ;

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using testing::Inbox;
using testing::make_text;
using testing::proc;
using testing::test_config;
using testing::unique_temp_path;
using testing::wait_until;

// A running transport_peer: its stdout lines, collected by a reader thread.
class PeerProcess {
 public:
  // Starts the peer; returns once it printed its address (or failed to within 20 s).
  static std::unique_ptr<PeerProcess> start(const std::vector<std::string>& args) {
    auto peer = std::unique_ptr<PeerProcess>(new PeerProcess());
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<std::string> argv_strings{ZMESH_TRANSPORT_PEER_PATH};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    // Short timeouts in the child too, so that its failure paths end within the test.
    std::vector<std::string> env_strings{"ZMESH_KEY=" + key_pair_text(testing::test_key_pair()),
                                         "ZMESH_RESEND_INTERVAL_MS=50",
                                         "ZMESH_DELIVERY_TIMEOUT_MS=20000"};
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::string_view(*entry).starts_with("ZMESH_")) continue;
      env_strings.emplace_back(*entry);
    }
    std::vector<char*> envp;
    for (auto& entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);
    const int spawned = ::posix_spawn(&peer->pid_, ZMESH_TRANSPORT_PEER_PATH, &actions, nullptr,
                                      argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (spawned != 0) {
      ::close(fds[0]);
      throw std::runtime_error(std::string("posix_spawn failed: ") + std::strerror(spawned));
    }
    peer->reader_ = std::thread([peer = peer.get(), fd = fds[0]] { peer->read_lines(fd); });
    if (!wait_until(20s, [&] { return !peer->address().empty() || peer->eof(); }) ||
        peer->address().empty()) {
      throw std::runtime_error("transport_peer did not print its address");
    }
    return peer;
  }

  ~PeerProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (reader_.joinable()) reader_.join();
  }

  std::string address() const {
    std::lock_guard lock(mutex_);
    return address_;
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  std::size_t line_count() const {
    std::lock_guard lock(mutex_);
    return lines_.size();
  }
  bool eof() const {
    std::lock_guard lock(mutex_);
    return eof_;
  }
  void kill(int signal) { ::kill(pid_, signal); }

  // The wait status once the process exited, or nothing after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    if (!reaped_) {
      wait_until(timeout, [&] {
        reaped_ = ::waitpid(pid_, &status_, WNOHANG) == pid_;
        return reaped_;
      });
    }
    if (!reaped_) return std::nullopt;
    wait_until(timeout, [&] { return eof(); });  // every line read
    return status_;
  }

  // Payloads printed as "got <n>", in order.
  std::vector<int> received() const {
    std::vector<int> numbers;
    for (const auto& line : lines()) {
      if (line.starts_with("got ")) numbers.push_back(std::stoi(line.substr(4)));
    }
    return numbers;
  }

 private:
  PeerProcess() = default;

  void read_lines(int fd) {
    std::string pending;
    char buffer[4096];
    while (true) {
      const auto count = ::read(fd, buffer, sizeof buffer);
      if (count < 0 && errno == EINTR) continue;
      if (count <= 0) break;
      pending.append(buffer, static_cast<std::size_t>(count));
      std::size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, newline);
        pending.erase(0, newline + 1);
        std::lock_guard lock(mutex_);
        if (address_.empty() && line.starts_with("address ")) address_ = line.substr(8);
        lines_.push_back(std::move(line));
      }
    }
    ::close(fd);
    std::lock_guard lock(mutex_);
    eof_ = true;
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;  // guarded by mutex_
  std::string address_;             // guarded by mutex_
  bool eof_ = false;                // guarded by mutex_
};

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
