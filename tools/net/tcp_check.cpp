#include "zmesh/tools/net/tcp_check.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zmesh::tools {
namespace {

// Closes the descriptor it owns.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// getaddrinfo's result, freed on scope exit.
struct Addresses {
  addrinfo* list = nullptr;
  ~Addresses() {
    if (list) ::freeaddrinfo(list);
  }
};

Result<void> lookup(const std::string& host, std::uint16_t port, int socktype, Addresses& out) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = socktype;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &out.list); rc != 0 || !out.list) {
    return Error(ErrorCode::not_found,
                 fmt::format("cannot resolve \"{}\": {}; check the name (DNS, /etc/hosts)", host,
                             rc != 0 ? ::gai_strerror(rc) : "no IPv4 address"));
  }
  return {};
}

std::string why_not(const std::string& where, int error) {
  switch (error) {
    case ECONNREFUSED:
      return fmt::format("connection to {} refused: nothing listens there", where);
    case EHOSTUNREACH:
    case ENETUNREACH:
      return fmt::format("no route to {} ({}): check the network and the address", where, std::strerror(error));
    default:
      return fmt::format("cannot connect to {}: {}", where, std::strerror(error));
  }
}

}  // namespace

Result<std::string> resolve_ipv4(const std::string& host) {
  Addresses found;
  if (auto resolved = lookup(host, 0, SOCK_STREAM, found); !resolved) return std::move(resolved).error();
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found.list->ai_addr)->sin_addr, text, sizeof text);
  return std::string(text);
}

Result<void> tcp_connect_check(const std::string& host, std::uint16_t port, Millis timeout) {
  Addresses found;
  if (auto resolved = lookup(host, port, SOCK_STREAM, found); !resolved) return std::move(resolved).error();
  const std::string where = fmt::format("{}:{}", host, port);
  Socket socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (socket.get() < 0) return Error(ErrorCode::transport_failed, fmt::format("socket: {}", std::strerror(errno)));
  if (::connect(socket.get(), found.list->ai_addr, found.list->ai_addrlen) == 0) return {};
  if (errno != EINPROGRESS) return Error(ErrorCode::transport_failed, why_not(where, errno));
  pollfd item{socket.get(), POLLOUT, 0};
  int ready = 0;
  do {
    ready = ::poll(&item, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    return Error(ErrorCode::timeout,
                 fmt::format("no tcp connection to {} within {} ms: a firewall drops the packets, or "
                             "the host is down",
                             where, timeout.count()));
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (ready < 0 || ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) return Error(ErrorCode::transport_failed, why_not(where, error));
  return {};
}

}  // namespace zmesh::tools
