#include "zmesh/transport/internal/send_window.hpp"

#include <algorithm>

namespace zmesh::internal {
namespace {

// Each resend that brings no ack doubles the wait before the next, up to 2^4 times.
constexpr int max_resend_backoff = 4;

}  // namespace

bool window_has_room(std::uint64_t messages, std::uint64_t bytes, std::uint64_t add_bytes,
                     const WindowLimits& limits) noexcept {
  if (messages == 0) return true;
  return messages < limits.messages && bytes + add_bytes <= limits.bytes;
}

bool window_half_empty(std::uint64_t messages, std::uint64_t bytes,
                       const WindowLimits& limits) noexcept {
  return 2 * messages <= limits.messages && 2 * bytes <= limits.bytes;
}

SendWindow::SendWindow(std::uint32_t max_unacked, Clock::duration resend_interval) noexcept
    : max_unacked_(std::max<std::uint32_t>(max_unacked, 1)), resend_interval_(resend_interval) {}

void SendWindow::push(Outgoing message) {
  earliest_deadline_ = std::min(earliest_deadline_, message.deadline);
  if (message.counted) {
    ++counted_messages_;
    counted_bytes_ += message.bytes;
  }
  if (backlog_.empty() && unacked_.size() < max_unacked_) {
    unacked_.push_back(std::move(message));
  } else {
    backlog_.push_back(std::move(message));
  }
}

Outgoing* SendWindow::to_send() noexcept {
  if (probe_) {
    if (!unacked_.empty()) return &unacked_.front();
    probe_ = false;
  }
  if (cursor_ >= next_seq()) return nullptr;
  return &unacked_[cursor_ - front_seq_];
}

bool SendWindow::sent(Clock::time_point now) noexcept {
  Outgoing& message = probe_ ? unacked_.front() : unacked_[cursor_ - front_seq_];
  if (probe_) {
    probe_ = false;
  } else {
    ++cursor_;
  }
  const bool first = message.sent_at == Clock::time_point{};
  if (!first) message.resent = true;
  message.sent_at = now;
  return first;
}

void SendWindow::uncount(const Outgoing& message) noexcept {
  if (!message.counted) return;
  --counted_messages_;
  counted_bytes_ -= message.bytes;
}

SendWindow::Acked SendWindow::on_ack(std::uint64_t through, bool nack, Clock::time_point now) {
  Acked result;
  if (through >= next_seq()) {
    result.valid = false;
    return result;
  }
  Clock::time_point sample_sent_at{};  // of the newest released message sent only once
  while (front_seq_ <= through && !unacked_.empty()) {
    const Outgoing& front = unacked_.front();
    if (front.live) {
      ++result.released;
      if (front.counted) {
        ++result.counted_messages;
        result.counted_bytes += front.bytes;
        uncount(front);
      }
      if (!front.resent && front.sent_at != Clock::time_point{}) sample_sent_at = front.sent_at;
    }
    unacked_.pop_front();
    ++front_seq_;
    last_progress_ = now;
    progress_since_resend_ = true;
  }
  settle();
  if (sample_sent_at != Clock::time_point{}) {
    // Karn: only an ack of a message sent once measures the delay, and only such an ack
    // proves the backed-off wait too long; acks of resent copies keep the backoff.
    backoff_ = 0;
    const Clock::duration sample = now - sample_sent_at;
    if (smoothed_ack_delay_ == Clock::duration::zero()) {
      smoothed_ack_delay_ = sample;
      ack_delay_variation_ = sample / 2;
    } else {
      const Clock::duration error = smoothed_ack_delay_ > sample ? smoothed_ack_delay_ - sample
                                                                 : sample - smoothed_ack_delay_;
      ack_delay_variation_ = (3 * ack_delay_variation_ + error) / 4;
      smoothed_ack_delay_ = (7 * smoothed_ack_delay_ + sample) / 8;
    }
  }
  // A nack: the receiver saw a gap (ZeroMQ dropped messages, e.g. on reconnect, or the
  // receiver released a held message). Go back to the floor once per gap; later nacks for
  // the same gap are in flight already.
  if (nack && through + 1 == front_seq_ && !unacked_.empty() && cursor_ > front_seq_ &&
      !(nack_resent_from_ == front_seq_ && now < nack_resent_at_ + resend_interval_)) {
    nack_resent_from_ = front_seq_;
    nack_resent_at_ = now;
    rewind();
  }
  return result;
}

std::optional<Outgoing> SendWindow::on_reject(std::uint64_t seq) {
  if (seq < front_seq_ || seq >= next_seq()) return std::nullopt;  // settled already
  Outgoing& message = unacked_[seq - front_seq_];
  if (!message.live) return std::nullopt;
  Outgoing gone = give_up(message);
  settle();
  return gone;
}

Outgoing SendWindow::give_up(Outgoing& message) {
  uncount(message);
  Outgoing gone;
  gone.header = std::move(message.header);
  gone.payload = std::move(message.payload);
  gone.deadline = message.deadline;
  gone.queued_at = message.queued_at;
  gone.bytes = message.bytes;
  gone.counted = message.counted;
  message.live = false;
  message.counted = false;
  message.payload.clear();
  return gone;
}

void SendWindow::settle() {
  while (!unacked_.empty() && !unacked_.front().live) {
    unacked_.pop_front();
    ++front_seq_;
  }
  cursor_ = std::max(cursor_, front_seq_);
  while (!backlog_.empty() && unacked_.size() < max_unacked_) {
    unacked_.push_back(std::move(backlog_.front()));
    backlog_.pop_front();
  }
  if (idle()) earliest_deadline_ = Deadline::max();
}

Clock::time_point SendWindow::resend_due() const noexcept {
  // Measured from the last ack progress too, so that a slow but moving receiver is not
  // flooded with copies of what it is about to ack. resend_interval is the least wait; a
  // link whose acks take longer waits for them (plus their usual variation).
  const Clock::duration expected_ack_delay = smoothed_ack_delay_ + 4 * ack_delay_variation_;
  const Clock::duration wait =
      std::max<Clock::duration>(resend_interval_, expected_ack_delay) * (1 << backoff_);
  return std::max(unacked_.front().sent_at, last_progress_) + wait;
}

void SendWindow::resend_now() noexcept {
  if (progress_since_resend_) {
    rewind();
  } else {
    probe_ = true;
  }
  progress_since_resend_ = false;
  backoff_ = std::min(backoff_ + 1, max_resend_backoff);
}

std::vector<Outgoing> SendWindow::expire(Clock::time_point now) {
  std::vector<Outgoing> expired;
  Deadline next = Deadline::max();
  for (auto& message : unacked_) {
    if (!message.live) continue;
    if (message.deadline <= now) {
      expired.push_back(give_up(message));
    } else {
      next = std::min(next, message.deadline);
    }
  }
  if (!backlog_.empty()) {
    RingDeque<Outgoing> kept;
    for (auto& message : backlog_) {
      if (message.deadline <= now) {
        uncount(message);
        expired.push_back(std::move(message));
      } else {
        next = std::min(next, message.deadline);
        kept.push_back(std::move(message));
      }
    }
    backlog_.swap(kept);
  }
  earliest_deadline_ = next;
  settle();
  return expired;
}

std::vector<Outgoing> SendWindow::take_all() {
  std::vector<Outgoing> taken;
  for (auto& message : unacked_) {
    if (message.live) taken.push_back(std::move(message));
  }
  for (auto& message : backlog_) taken.push_back(std::move(message));
  front_seq_ += unacked_.size();
  unacked_.clear();
  rewind();
  backlog_.clear();
  counted_messages_ = 0;
  counted_bytes_ = 0;
  earliest_deadline_ = Deadline::max();
  return taken;
}

}  // namespace zmesh::internal
