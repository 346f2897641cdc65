#pragma once
// The preflight `zmesh doctor` runs against one launcher host, in order, each step only
// when the one before passed: resolve the name; a tcp connection to the launcher's port;
// the ZeroMQ security handshake (the key); the launcher protocol version; then the launcher
// itself checks that the executable exists and is executable there, and that its host
// reaches this client back (a tcp connect to the doctor's listener).
// Thread: check_host blocks its caller up to about twice the timeout; call it from one
// thread per host.

#include "zmesh/alloc/host_list.hpp"
#include "zmesh/core/config.hpp"

#include <zmq.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace zmesh::tools {

struct CheckResult {
  enum class State { ok, failed, skipped };
  State state = State::skipped;
  std::string detail;  // what was found (ok), or what went wrong
  std::string todo;    // for a failure: what to do
};

struct HostChecks {
  HostEntry host;
  // In the order they run; names() gives their column titles.
  CheckResult resolve, launcher, handshake, protocol, executable, reach;
  static std::vector<std::string> names();
  std::vector<const CheckResult*> results() const;
  bool ok() const;
};

struct DoctorTarget {
  std::string executable;    // checked on each host
  std::string client_host;   // where the reach-back listener is; "": the address towards each host
  std::uint16_t reach_port = 0;  // the listener's port
  Millis timeout{3000};      // per step
};

// `config` secures the connection to the launcher (its key pair, or insecure).
HostChecks check_host(zmq::context_t& context, const Config& config, const HostEntry& host,
                      const DoctorTarget& target);

}  // namespace zmesh::tools
