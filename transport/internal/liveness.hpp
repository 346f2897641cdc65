#pragma once
// Liveness: when a peer was last heard, and whether its current silence has been reported,
// so that a watcher reports each silence once. The supervision subscriber keeps one per proc.
// Thread: owned by its watcher's thread. Pure: no clock reads; every call takes `now`, so
// tests drive it without sleeping.

#include "zmesh/core/config.hpp"

namespace zmesh::internal {

class Liveness {
 public:
  explicit Liveness(Clock::time_point now) : last_heard_(now) {}

  // The peer spoke at `now`: a later silence is a new one.
  void heard(Clock::time_point now) {
    last_heard_ = now;
    reported_ = false;
  }
  // True once per silence: at the first call more than `limit` after the peer was last heard.
  bool newly_silent(Clock::time_point now, Clock::duration limit) {
    if (reported_ || now - last_heard_ <= limit) return false;
    reported_ = true;
    return true;
  }

 private:
  Clock::time_point last_heard_;
  bool reported_ = false;
};

}  // namespace zmesh::internal
