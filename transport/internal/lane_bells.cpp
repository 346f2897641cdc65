// LaneBells (lane_bells.hpp): an epoll set kept equal to the doorbells of the open lanes.

#include "zmesh/transport/internal/lane_bells.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

namespace zmesh::internal {

Result<LaneBells> LaneBells::create() {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) {
    return Error(ErrorCode::transport_failed,
                 fmt::format("epoll_create1 for the lanes' doorbells failed: {}",
                             std::strerror(errno)));
  }
  return LaneBells(std::move(epoll));
}

void LaneBells::watch(std::span<const int> doorbells) {
  std::vector<int> wanted(doorbells.begin(), doorbells.end());
  std::sort(wanted.begin(), wanted.end());
  // A lane closed since the last call took its registration with it (the kernel drops a
  // descriptor from epoll sets when its file is closed), and a new lane may have the same
  // number, so a number watched before proves nothing: remove what is no longer wanted
  // (ENOENT or EBADF for those already gone), then add everything wanted, EEXIST meaning it
  // was there. One system call per lane, only when the set of lanes changed. A registration
  // that outlives its number (a forked child held the file) can only make a spurious ring:
  // the reader then finds an empty pipe and an empty ring.
  for (const int fd : watched_) {
    if (!std::binary_search(wanted.begin(), wanted.end(), fd)) {
      (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    }
  }
  for (const int fd : wanted) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0 && errno == EEXIST) {
      (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event);
    }
  }
  watched_ = std::move(wanted);
}

std::span<const int> LaneBells::rung(std::size_t limit) {
  events_.resize(std::max<std::size_t>(limit, 1));
  const int ready =
      ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), 0);
  rung_.clear();
  for (int i = 0; i < ready; ++i) rung_.push_back(events_[static_cast<std::size_t>(i)].data.fd);
  return rung_;
}

}  // namespace zmesh::internal
