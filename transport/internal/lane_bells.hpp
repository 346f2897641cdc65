#pragma once
// LaneBells: one epoll descriptor over the doorbells of every lane an endpoint reads, so that
// its I/O loop polls a single descriptor however many lanes it has (poll's cost grows with
// each descriptor, on every round) and learns which doorbells rang without looking at all.
// Thread: the endpoint's I/O thread (under its I/O mutex); fd() may be polled by whichever
// thread waits for it.

#include "zmesh/core/error.hpp"
#include "zmesh/core/internal/unique_fd.hpp"

#include <sys/epoll.h>

#include <span>
#include <vector>

namespace zmesh::internal {

class LaneBells {
 public:
  // transport_failed (naming epoll_create1 and why) when the kernel gives no epoll instance.
  static Result<LaneBells> create();

  // POLLIN while some watched doorbell is readable.
  int fd() const noexcept { return epoll_.get(); }
  // Watches exactly `doorbells` from now on (descriptors of open lanes, each once).
  void watch(std::span<const int> doorbells);
  // The watched doorbells that are readable now, at most `limit` of them; the rest are
  // reported again next time (level-triggered). Valid until the next call.
  std::span<const int> rung(std::size_t limit);

 private:
  explicit LaneBells(UniqueFd epoll) : epoll_(std::move(epoll)) {}
  UniqueFd epoll_;
  std::vector<int> watched_;  // sorted
  std::vector<epoll_event> events_;
  std::vector<int> rung_;
};

}  // namespace zmesh::internal
