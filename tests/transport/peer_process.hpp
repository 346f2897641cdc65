#pragma once
// PeerProcess: a transport_peer (transport_peer.cpp) running in its own OS process, for the
// multi-process transport tests: started with its arguments and extra environment, its
// stdout lines collected by a reader thread; killed and reaped on destruction.
// Thread: the reader thread appends lines under the mutex; the rest belongs to the test.

#include "testing/test_keys.hpp"
#include "testing/wait.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace zmesh::testing {

using namespace std::chrono_literals;

// A running transport_peer: its stdout lines, collected by a reader thread.
class PeerProcess {
 public:
  // Starts the peer; returns once it printed its address (or failed to within 20 s).
  // `environment`: extra VARIABLE=value entries, after the defaults (later ones win).
  static std::unique_ptr<PeerProcess> start(const std::vector<std::string>& args,
                                            const std::vector<std::string>& environment = {}) {
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
    std::vector<std::string> env_strings{"ZMESH_KEY=" + key_pair_text(test_key_pair()),
                                         "ZMESH_RESEND_INTERVAL_MS=50",
                                         "ZMESH_DELIVERY_TIMEOUT_MS=20000"};
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::string_view(*entry).starts_with("ZMESH_")) continue;
      env_strings.emplace_back(*entry);
    }
    env_strings.insert(env_strings.end(), environment.begin(), environment.end());
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
  pid_t pid() const { return pid_; }

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

}  // namespace zmesh::testing
