#include "zmesh/transport/address.hpp"

#include <fmt/format.h>

#include <charconv>

namespace zmesh {
namespace {

// A Unix socket path must fit sockaddr_un::sun_path (108 bytes) with its terminating NUL.
constexpr std::size_t max_ipc_path = 107;

Error bad_address(std::string_view text, std::string_view problem) {
  return Error(ErrorCode::parse_error, fmt::format("address \"{}\": {}; expected inproc://name, "
                                                   "ipc:///path or tcp://host:port",
                                                   text, problem));
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == '*';
}

Result<Address> parse_tcp(std::string_view text, std::string_view rest) {
  Address address;
  address.scheme = Scheme::tcp;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    // IPv6 literal: the brackets keep its colons apart from the port's.
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad_address(text, "'[' without a closing ']'");
    address.location = std::string(rest.substr(1, close - 1));
    for (char c : address.location) {
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') {
        return bad_address(text, fmt::format("'{}' does not belong in an IPv6 address", c));
      }
    }
    rest.remove_prefix(close + 1);
    if (rest.empty() || rest.front() != ':') return bad_address(text, "no \":port\" after ']'");
    port_text = rest.substr(1);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad_address(text, "no \":port\" after the host");
    address.location = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
    for (std::size_t i = 0; i < address.location.size(); ++i) {
      if (!is_host_char(address.location[i])) {
        return bad_address(text, fmt::format("'{}' at column {} does not belong in a host name",
                                             address.location[i], 6 + i + 1));
      }
    }
  }
  if (address.location.empty()) return bad_address(text, "the host is empty");
  if (port_text == "*") return address;  // ZeroMQ's spelling of "any free port"
  if (port_text.empty()) return bad_address(text, "the port is empty");
  unsigned long port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return bad_address(text, fmt::format("port \"{}\" is not a number from 0 to 65535", port_text));
  }
  address.port = static_cast<std::uint16_t>(port);
  return address;
}

}  // namespace

std::string_view to_string(Scheme scheme) noexcept {
  switch (scheme) {
    case Scheme::inproc:
      return "inproc";
    case Scheme::ipc:
      return "ipc";
    case Scheme::tcp:
      return "tcp";
  }
  return "?";
}

Result<Address> Address::parse(std::string_view text) {
  const auto separator = text.find("://");
  if (separator == std::string_view::npos) return bad_address(text, "no \"://\"");
  const std::string_view scheme = text.substr(0, separator);
  const std::string_view rest = text.substr(separator + 3);
  if (scheme == "tcp") return parse_tcp(text, rest);

  Address address;
  if (scheme == "inproc") {
    address.scheme = Scheme::inproc;
    if (rest.empty()) return bad_address(text, "the inproc name is empty");
  } else if (scheme == "ipc") {
    address.scheme = Scheme::ipc;
    if (rest.empty()) return bad_address(text, "the ipc path is empty");
    if (rest.size() > max_ipc_path) {
      return bad_address(text, fmt::format("the ipc path has {} bytes, a Unix socket path may "
                                           "have at most {}; use a shorter path",
                                           rest.size(), max_ipc_path));
    }
  } else {
    return bad_address(text, fmt::format("unknown transport \"{}\"", scheme));
  }
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const auto c = static_cast<unsigned char>(rest[i]);
    if (c <= ' ' || c == 0x7f) {
      return bad_address(
          text, fmt::format("control or space character at column {}", separator + 3 + i + 1));
    }
  }
  address.location = std::string(rest);
  return address;
}

std::string Address::to_string() const {
  switch (scheme) {
    case Scheme::inproc:
      return "inproc://" + location;
    case Scheme::ipc:
      return "ipc://" + location;
    case Scheme::tcp:
      if (location.find(':') != std::string::npos) {
        return fmt::format("tcp://[{}]:{}", location, port);
      }
      return fmt::format("tcp://{}:{}", location, port);
  }
  return {};
}

std::string Address::bind_text() const {
  if (scheme != Scheme::tcp || port != 0) return to_string();
  if (location.find(':') != std::string::npos) return fmt::format("tcp://[{}]:*", location);
  return fmt::format("tcp://{}:*", location);
}

std::ostream& operator<<(std::ostream& out, Scheme scheme) {
  return out << to_string(scheme);
}

std::ostream& operator<<(std::ostream& out, const Address& address) {
  return out << address.to_string();
}

}  // namespace zmesh
