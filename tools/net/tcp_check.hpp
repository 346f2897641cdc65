#pragma once
// Plain tcp reachability checks for `zmesh doctor` and the launcher's probe: resolve a host
// name, and connect to host:port within a timeout (then close), reporting why not in words
// an operator can act on ("connection refused: nothing listens on 10.0.0.7:26600").
// Thread: pure functions; each blocks its caller up to the given timeout.

#include "zmesh/core/config.hpp"
#include "zmesh/core/error.hpp"

#include <cstdint>
#include <string>

namespace zmesh::tools {

// The first IPv4 address of `host` (a name or an address).
Result<std::string> resolve_ipv4(const std::string& host);

// Connects to `host`:`port` over tcp within `timeout`, then closes the connection.
Result<void> tcp_connect_check(const std::string& host, std::uint16_t port, Millis timeout);

}  // namespace zmesh::tools
