#pragma once
// EventLog: a proc's supervision events, numbered 1, 2, 3... as they happen, kept (up to a
// bound) so a subscriber that missed some can fetch them, and published as they arrive.
// Thread: every member is thread-safe (events come from any actor's thread).

#include "zmesh/transport/supervision_channel.hpp"

#include <deque>
#include <mutex>
#include <vector>

namespace zmesh {

class EventLog {
 public:
  // `publisher` may be null (nothing published, events only kept); it must outlive the log.
  explicit EventLog(SupervisionPublisher* publisher, std::size_t keep = 100000)
      : publisher_(publisher), keep_(keep) {}

  // Numbers, keeps and publishes `event`; nothing once silenced.
  void append(const SupervisionEvent& event) {
    std::lock_guard lock(mutex_);
    if (silenced_) return;
    SequencedEvent sequenced{++latest_, event};
    if (publisher_) publisher_->publish_event(sequenced);
    events_.push_back(std::move(sequenced));
    if (events_.size() > keep_) events_.pop_front();
  }
  // Events numbered `from_seq` and later that are still kept.
  std::vector<SequencedEvent> since(std::uint64_t from_seq) const {
    std::lock_guard lock(mutex_);
    std::vector<SequencedEvent> result;
    for (const auto& event : events_) {
      if (event.seq >= from_seq) result.push_back(event);
    }
    return result;
  }
  std::uint64_t latest() const {
    std::lock_guard lock(mutex_);
    return latest_;
  }
  // Takes no more events: the proc is being killed, and a killed process says nothing more
  // (in-process procs still run their actors' cleanup, which would otherwise report stops).
  void silence() {
    std::lock_guard lock(mutex_);
    silenced_ = true;
  }
  void heartbeat() {
    std::lock_guard lock(mutex_);
    if (publisher_) publisher_->publish_heartbeat(latest_);
  }

 private:
  SupervisionPublisher* publisher_;
  const std::size_t keep_;
  mutable std::mutex mutex_;  // guards events_, latest_, silenced_, and the publisher's order
  std::deque<SequencedEvent> events_;
  std::uint64_t latest_ = 0;
  bool silenced_ = false;
};

}  // namespace zmesh
