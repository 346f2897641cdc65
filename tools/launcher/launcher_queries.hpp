#pragma once
// LauncherQueries: the launcher's answers to read-only queries, StatusRequest (`zmesh
// status`: clients, procs, uptime) and ProbeRequest (`zmesh doctor`: could it run this
// executable, can its host reach the client back), plus the executable check that launch
// requests share. A query leaves no client state behind.
// Thread: answer() runs on the server's thread. A probe's tcp connect runs on a short thread
// of its own (a slow network never stalls the server) that posts the reply back to the
// server's thread; the destructor joins those threads.

#include "zmesh/alloc/internal/launcher_protocol.hpp"

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace zmesh::launcher {

// `path` is an absolute path to a regular file this user may execute on this host; the
// error names `host`, the path and why not.
Result<void> check_executable(const std::string& host, const std::string& path);

class LauncherQueries {
 public:
  struct Hooks {
    // Server thread: every client now.
    std::function<std::vector<internal::ClientStatus>()> clients;
    // Server thread: sends [type][body] to `identity`.
    std::function<void(const std::string& identity, const std::pair<std::string, std::string>& frames)> send;
    // Any thread: runs `task` on the server's thread.
    std::function<void(std::function<void()> task)> post;
  };

  LauncherQueries(std::string host, Hooks hooks);
  ~LauncherQueries();
  LauncherQueries(const LauncherQueries&) = delete;
  LauncherQueries& operator=(const LauncherQueries&) = delete;

  static bool is_query(std::string_view type);
  // "zmesh.launcher.Status, zmesh.launcher.Probe", for the unknown-message error.
  static std::string names();

  // Answers `type` (a query); an error (undecodable body) is for the server to refuse with.
  Result<void> answer(const std::string& identity, std::string_view type, const std::string& body);

 private:
  struct Probe {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  void probe(const std::string& identity, internal::ProbeRequest request);
  void reap_finished_probes();

  const std::string host_;
  const Hooks hooks_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::list<Probe> probes_;  // server thread only
};

}  // namespace zmesh::launcher
