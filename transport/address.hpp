#pragma once
// Address: where a proc's ROUTER listens, as text: inproc://name, ipc:///path, tcp://host:port.
// Thread: value type. Failure: parse() returns parse_error naming the text and what was wrong.
// Port 0 means "pick a free port" when binding; the Endpoint reports the port it got.

#include "zmesh/core/error.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace zmesh {

enum class Scheme : std::uint8_t {
  inproc,  // same process only; no system resources
  ipc,     // Unix domain socket on this host; the path names a socket file
  tcp,     // IPv4/IPv6 host (or interface) and port
};

std::string_view to_string(Scheme scheme) noexcept;
std::ostream& operator<<(std::ostream& out, Scheme scheme);

struct Address {
  Scheme scheme = Scheme::inproc;
  // inproc: the name; ipc: the socket path; tcp: the host, IPv6 without brackets, "*" = all.
  std::string location;
  std::uint16_t port = 0;  // tcp only; 0 = any free port when binding ("*" parses as 0)

  // Parses "inproc://name", "ipc:///path" or "tcp://host:port" ("tcp://[::1]:5555").
  static Result<Address> parse(std::string_view text);

  // Canonical text; parse(to_string()) gives the same Address.
  std::string to_string() const;
  // The text ZeroMQ binds: as to_string(), except that tcp port 0 becomes "*".
  std::string bind_text() const;

  friend bool operator==(const Address&, const Address&) = default;
};

std::ostream& operator<<(std::ostream& out, const Address& address);

}  // namespace zmesh
