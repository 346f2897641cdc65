#pragma once
// ReachListener: a plain tcp listener for `zmesh doctor`'s reach-back check. Launchers are
// asked to connect to it (as their procs would connect to a client); it accepts and closes
// every connection, so that many hosts never fill its backlog.
// Thread: the constructor binds and starts one accept thread; the destructor stops and
// joins it. port() is safe from any thread.
// Failure: the constructor throws Exception naming the address when it cannot bind.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace zmesh::tools {

class ReachListener {
 public:
  // Binds `host` (an IPv4 address; "0.0.0.0" for every interface) on an ephemeral port.
  explicit ReachListener(const std::string& host);
  ~ReachListener();
  ReachListener(const ReachListener&) = delete;
  ReachListener& operator=(const ReachListener&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  void accept_loop();

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: it uses the members above
};

}  // namespace zmesh::tools
