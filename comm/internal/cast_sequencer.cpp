#include "zmesh/comm/internal/cast_sequencer.hpp"

namespace zmesh::comm::internal {

bool CastSequencer::offer(const StreamKey& key, std::uint64_t counter, Envelope delivery,
                          Clock::time_point now, const Deliver& deliver) {
  Stream& stream = streams_[key];
  if (counter < stream.next) {
    ++dropped_late_;
    return false;
  }
  if (counter == stream.next) {
    ++stream.next;
    deliver(std::move(delivery));
    drain(stream, now, deliver);
    return true;
  }
  // A slot already taken is this very cast again, or a skip: either way it must not run.
  const bool was_empty = stream.held.empty();
  if (!stream.held.try_emplace(counter, std::move(delivery)).second) {
    ++dropped_late_;
    return false;
  }
  ++arrived_early_;
  if (was_empty) stream.waiting_since = now;
  return true;
}

void CastSequencer::skip(const StreamKey& key, std::uint64_t counter, Clock::time_point now,
                         const Deliver& deliver) {
  Stream& stream = streams_[key];
  if (counter < stream.next) return;
  if (counter == stream.next) {
    ++stream.next;
    drain(stream, now, deliver);
    return;
  }
  const bool was_empty = stream.held.empty();
  stream.held.try_emplace(counter, std::nullopt);  // a cast already held there still runs
  if (was_empty) stream.waiting_since = now;
}

void CastSequencer::drain(Stream& stream, Clock::time_point now, const Deliver& deliver) {
  bool progressed = false;
  while (!stream.held.empty() && stream.held.begin()->first == stream.next) {
    auto node = stream.held.extract(stream.held.begin());
    ++stream.next;
    progressed = true;
    if (node.mapped()) deliver(std::move(*node.mapped()));
  }
  // A gap further on is waited for afresh.
  if (progressed) stream.waiting_since = now;
}

void CastSequencer::expire(Clock::time_point now, const Deliver& deliver) {
  for (auto& [key, stream] : streams_) {
    if (stream.held.empty() || now - stream.waiting_since < gap_timeout_) continue;
    given_up_ += stream.held.begin()->first - stream.next;
    stream.next = stream.held.begin()->first;
    drain(stream, now, deliver);
  }
}

std::optional<Clock::time_point> CastSequencer::next_expiry() const {
  std::optional<Clock::time_point> next;
  for (const auto& [key, stream] : streams_) {
    if (stream.held.empty()) continue;
    const auto due = stream.waiting_since + gap_timeout_;
    if (!next || due < *next) next = due;
  }
  return next;
}

std::size_t CastSequencer::held() const {
  std::size_t count = 0;
  for (const auto& [key, stream] : streams_) count += stream.held.size();
  return count;
}

}  // namespace zmesh::comm::internal
