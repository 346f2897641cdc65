#include "zmesh/tools/net/reach_listener.hpp"

#include "zmesh/core/error.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zmesh::tools {

ReachListener::ReachListener(const std::string& host) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  socklen_t length = sizeof address;
  const bool ok = fd_ >= 0 && ::inet_pton(AF_INET, host.c_str(), &address.sin_addr) == 1 &&
                  ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::listen(fd_, 128) == 0 &&
                  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  if (!ok) {
    const std::string why = std::strerror(errno);
    if (fd_ >= 0) ::close(fd_);
    throw Exception(Error(ErrorCode::transport_failed,
                          fmt::format("cannot listen on {} for the reach-back check: {}; is it an IPv4 "
                                      "address of this host (--client-host)?",
                                      host, why)));
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { accept_loop(); });
}

ReachListener::~ReachListener() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void ReachListener::accept_loop() {
  while (!stop_) {
    pollfd item{fd_, POLLIN, 0};
    // A short poll: the destructor waits at most this long for the thread.
    if (::poll(&item, 1, 50) <= 0) continue;
    for (int accepted; (accepted = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) ::close(accepted);
  }
}

}  // namespace zmesh::tools
