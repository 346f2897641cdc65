#pragma once
// LauncherServer: the heart of zmesh-launcher. Listens on one tcp port (a ROUTER), starts
// each client's share of a mesh as its own child processes (ChildProcessGroup: parent-death
// signal, own process groups), relays their output and exits, heartbeats every client and
// reaps the procs of a client that falls silent (SIGTERM, then SIGKILL) and forgets it.
// Each client sees and can signal only its own procs.
// Thread: run() owns the socket and every client's state; child callbacks (on each group's
// monitor thread) only post work to it. request_stop() is thread-safe.
// Security: the Config's key pair (CURVE: peers without it fail the handshake, each refused
// host is logged once), or plain tcp when Config::insecure; its procs get the same setting.
// Failure: the constructor throws Exception when the address cannot be bound (naming it and
// the reason, e.g. "already in use: is another zmesh-launcher running there?") or there is
// neither a key nor insecure. Bad input from a client gets a LauncherError back and a log
// line; serving goes on.

#include "zmesh/core/config.hpp"
#include "zmesh/core/log.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace zmesh::launcher {

struct LauncherOptions {
  std::string listen = "tcp://0.0.0.0:26600";  // tcp://HOST:PORT
  std::string advertise;  // address clients and procs use; empty: the listen host (or the
                          // host name's address when listening on every interface)
  std::optional<std::pair<std::uint16_t, std::uint16_t>> proc_ports;  // procs bind in A-B
  std::uint32_t max_procs = 4096;  // per request
};

// "tcp://h:1", "h:1", "h" -> {host, port}; errors name the text.
Result<std::pair<std::string, std::uint16_t>> parse_listen_address(const std::string& text);
Result<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(const std::string& text);

class LauncherServer {
 public:
  // Binds the listen address (throws Exception on failure).
  LauncherServer(LauncherOptions options, Config config);
  ~LauncherServer();
  LauncherServer(const LauncherServer&) = delete;
  LauncherServer& operator=(const LauncherServer&) = delete;

  // The bound address ("tcp://10.0.0.7:26600") and what procs are told to bind.
  const std::string& address() const;
  const std::string& advertise() const;

  // Serves until SIGTERM/SIGINT (blocked by the caller and read through a signalfd) or
  // request_stop(); then stops every proc of every client (SIGTERM, SIGKILL after the
  // clients' kill timeouts) and returns.
  void run(int signal_fd);
  // Thread-safe.
  void request_stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zmesh::launcher
