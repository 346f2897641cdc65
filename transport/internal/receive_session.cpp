#include "zmesh/transport/internal/receive_session.hpp"

#include <algorithm>

namespace zmesh::internal {

ReceiveSession::ReceiveSession(std::uint64_t id, std::string sender_bytes, ProcId sender,
                               Lane lane, std::uint64_t floor)
    : id_(id),
      sender_bytes_(std::move(sender_bytes)),
      sender_(std::move(sender)),
      sender_text_(sender_.to_string()) {
  // Only the first message's lane has a known floor; the other lane learns its own from
  // its first message (arrive() moves `expected` up to the floor). Starting it at this
  // lane's floor instead would drop its messages as duplicates.
  LaneState& state = lane_(lane);
  state.expected = std::max<std::uint64_t>(floor, 1);
  state.acked = state.expected - 1;
}

Arrival ReceiveSession::arrive(Lane lane, std::uint64_t seq, std::uint64_t floor) {
  LaneState& state = lane_(lane);
  if (state.held && floor > state.expected) {
    // The sender gave the held message up (its deadline passed) and has told its sender
    // so: delivering it now would be a second outcome for one message.
    state.held.reset();
    state.dropped_behind_held = false;
  }
  state.expected = std::max(state.expected, floor);
  if (seq < state.expected) {
    if (seq == state.rejected_seq) return Arrival::reject_again;
    state.reack = true;
    return Arrival::duplicate;
  }
  if (state.held) {
    if (seq == state.expected) return Arrival::held;
    // Dropped without a nack: it would only bring more copies to drop. release() nacks.
    state.dropped_behind_held = true;
    return Arrival::gap;
  }
  if (seq > state.expected) {
    if (state.nacked_at != state.expected) state.nack = true;
    return Arrival::gap;
  }
  return Arrival::deliver;
}

bool ReceiveSession::consumed(Lane lane, std::uint32_t ack_every) {
  LaneState& state = lane_(lane);
  ++state.expected;
  return state.expected - 1 - state.acked >= ack_every;
}

bool ReceiveSession::rejected(Lane lane, std::uint64_t seq, std::string reason,
                              std::uint32_t ack_every) {
  LaneState& state = lane_(lane);
  state.rejected_seq = seq;
  state.rejected_reason = std::move(reason);
  return consumed(lane, ack_every);
}

void ReceiveSession::ask_again(Lane lane) noexcept { lane_(lane).nack = true; }

void ReceiveSession::hold(Lane lane, Envelope envelope) {
  lane_(lane).held.emplace(std::move(envelope));
}

Envelope* ReceiveSession::held(Lane lane) noexcept {
  auto& held = lane_(lane).held;
  return held ? &*held : nullptr;
}

bool ReceiveSession::holding() const noexcept {
  return std::any_of(lanes_.begin(), lanes_.end(),
                     [](const LaneState& state) { return state.held.has_value(); });
}

void ReceiveSession::release(Lane lane) {
  LaneState& state = lane_(lane);
  state.held.reset();
  ++state.expected;
  if (state.dropped_behind_held) {
    state.dropped_behind_held = false;
    state.nack = true;
  }
}

std::optional<ReceiveSession::AckDue> ReceiveSession::take_ack(Lane lane) {
  LaneState& state = lane_(lane);
  if (state.nack) {
    state.nacked_at = state.expected;
    AckDue due = ack_now(lane);
    due.kind = LinkKind::nack;
    return due;
  }
  if (state.reack || state.expected - 1 > state.acked) return ack_now(lane);
  return std::nullopt;
}

std::optional<ReceiveSession::AckDue> ReceiveSession::take_urgent_ack(Lane lane) {
  const LaneState& state = lane_(lane);
  if (state.nack || state.reack) return take_ack(lane);
  return std::nullopt;
}

ReceiveSession::AckDue ReceiveSession::ack_now(Lane lane) {
  LaneState& state = lane_(lane);
  state.acked = state.expected - 1;
  state.reack = false;
  state.nack = false;
  return AckDue{LinkKind::ack, state.acked};
}

SessionTable::SessionTable(std::size_t max_sessions, Clock::duration idle_limit)
    : max_sessions_(std::max<std::size_t>(max_sessions, 1)), idle_limit_(idle_limit) {}

SessionTable::Found SessionTable::find_or_create(const LinkHeader& header, Clock::time_point now) {
  auto it = sessions_.find(header.session);
  if (it == sessions_.end()) {
    if (retired_.count(header.session) != 0) return Found{nullptr, true, nullptr};
    std::string sender(header.sender_bytes);
    if (auto previous = session_of_sender_.find(sender); previous != session_of_sender_.end()) {
      const std::uint64_t old = previous->second;
      retire(old);
      if (auto old_it = sessions_.find(old); old_it != sessions_.end()) {
        erase(old_it);  // also forgets the sender's mapping
      } else {
        session_of_sender_.erase(previous);
      }
    }
    while (sessions_.size() >= max_sessions_) {
      ++evicted_;
      erase(sessions_.find(recency_.back()));
    }
    ProcId proc{WorldId{std::string(header.sender_world)}, header.sender_rank};
    session_of_sender_[sender] = header.session;
    recency_.push_front(header.session);
    it = sessions_
             .emplace(header.session,
                      Entry{ReceiveSession(header.session, std::move(sender), std::move(proc),
                                           static_cast<Lane>(header.lane), header.floor),
                            recency_.begin()})
             .first;
  } else if (it->second.session.sender_bytes() != header.sender_bytes) {
    return Found{nullptr, false, &it->second.session};
  } else if (it->second.recency != recency_.begin()) {
    recency_.splice(recency_.begin(), recency_, it->second.recency);
  }
  it->second.session.last_heard = now;
  return Found{&it->second.session, false, nullptr};
}

ReceiveSession* SessionTable::find(std::uint64_t id) noexcept {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second.session;
}

ReceiveSession* SessionTable::find_by_sender(const std::string& sender_bytes) noexcept {
  auto it = session_of_sender_.find(sender_bytes);
  return it == session_of_sender_.end() ? nullptr : find(it->second);
}

std::size_t SessionTable::expire_idle(Clock::time_point now) {
  std::size_t expired = 0;
  while (!recency_.empty()) {
    auto it = sessions_.find(recency_.back());
    if (now - it->second.session.last_heard <= idle_limit_) break;
    erase(it);
    ++expired;
  }
  return expired;
}

void SessionTable::erase(std::unordered_map<std::uint64_t, Entry>::iterator it) {
  const ReceiveSession& session = it->second.session;
  if (auto mapped = session_of_sender_.find(session.sender_bytes());
      mapped != session_of_sender_.end() && mapped->second == session.id()) {
    session_of_sender_.erase(mapped);
  }
  recency_.erase(it->second.recency);
  sessions_.erase(it);
}

void SessionTable::retire(std::uint64_t id) {
  if (!retired_.insert(id).second) return;
  retired_order_.push_back(id);
  while (retired_order_.size() > max_sessions_) {
    retired_.erase(retired_order_.front());
    retired_order_.pop_front();
  }
}

}  // namespace zmesh::internal
