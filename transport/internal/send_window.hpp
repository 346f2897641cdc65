#pragma once
// SendWindow: the sending half of one lane of a reliable session (this proc -> one peer).
// It numbers messages, keeps what is unacknowledged for resending, queues what lies beyond
// max_unacked, applies acks, nacks and rejects, times resends (ack delay smoothed as TCP
// does, exponential backoff) and gives up on messages past their deadline. It also counts
// the messages that occupy the link's flow-control window (Outgoing::counted).
// Thread: owned by the endpoint's I/O thread. Pure: no sockets, no threads, no clock reads;
// every call that needs the time takes `now`, so tests drive it deterministically.
// Failure: nothing here fails. What it gives up on (deadline, reject, forget) it hands back
// to the caller, which returns it to the sender with the reason; an ack that claims more
// than was sent is reported as invalid (garbage) and changes nothing.

#include "zmesh/core/config.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/core/ring_deque.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace zmesh::internal {

// A message this proc sent (or will send) on one lane of one link.
struct Outgoing {
  Frame header;  // the encoded envelope header; each transmission copies it behind the link header
  Frames payload;
  Deadline deadline{};
  Clock::time_point queued_at{};
  Clock::time_point sent_at{};  // last transmission; the epoch until the first
  std::uint64_t bytes = 0;      // header plus payload
  bool counted = false;         // occupies the link's data window (send_bounded) until it leaves
  bool live = true;             // false: given up; still occupies its seq and goes out as "skip"
  bool resent = false;          // transmitted more than once: its ack delay is ambiguous
};

// Room in a flow-control window holding `messages` and `bytes` for one more message of
// `add_bytes`. A message larger than the whole byte window still fits an empty window:
// otherwise it could never be sent (max_message_bytes, not the window, bounds its size).
struct WindowLimits {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
};
bool window_has_room(std::uint64_t messages, std::uint64_t bytes, std::uint64_t add_bytes,
                     const WindowLimits& limits) noexcept;
// At most half full: senders that found the window full are told there is room again.
bool window_half_empty(std::uint64_t messages, std::uint64_t bytes,
                       const WindowLimits& limits) noexcept;

class SendWindow {
 public:
  // `max_unacked`: messages with a seq not yet acked (more wait in the backlog without
  // one). `resend_interval`: the least wait for an ack before resending.
  SendWindow(std::uint32_t max_unacked, Clock::duration resend_interval) noexcept;

  // -- state --
  std::uint64_t front_seq() const noexcept { return front_seq_; }  // the floor
  std::uint64_t next_seq() const noexcept { return front_seq_ + unacked_.size(); }
  std::uint64_t cursor() const noexcept { return cursor_; }  // next seq to transmit
  std::size_t unacked() const noexcept { return unacked_.size(); }
  std::size_t backlog() const noexcept { return backlog_.size(); }
  bool idle() const noexcept { return unacked_.empty() && backlog_.empty(); }
  std::uint64_t counted_messages() const noexcept { return counted_messages_; }
  std::uint64_t counted_bytes() const noexcept { return counted_bytes_; }
  Deadline earliest_deadline() const noexcept { return earliest_deadline_; }  // none: max
  int backoff() const noexcept { return backoff_; }

  // Queues `message`: it gets the next seq, or waits in the backlog when max_unacked are
  // out already (or others wait before it).
  void push(Outgoing message);

  // -- transmission --
  // The next message to transmit (a tombstone goes out as skip), or null when all is out:
  // the front when a probe is due (see resend_now), else the one at the cursor.
  Outgoing* to_send() noexcept;
  // The seq of the message to_send() returned.
  std::uint64_t send_seq() const noexcept { return probe_ ? front_seq_ : cursor_; }
  // The message to_send() returned went out at `now`. Returns whether it was the first time.
  bool sent(Clock::time_point now) noexcept;
  // A new connection has seen nothing: everything unacked goes out again, in order.
  void rewind() noexcept {
    cursor_ = front_seq_;
    probe_ = false;
  }

  // -- feedback from the receiver --
  struct Acked {
    bool valid = true;           // false: acks more than was sent (garbage); nothing changed
    std::uint64_t released = 0;  // live messages settled by this ack
    std::uint64_t counted_messages = 0;  // ... of which occupied the window
    std::uint64_t counted_bytes = 0;
  };
  // An ack or nack of everything through `through`. A nack also asks to resend what lies
  // after `through` now, once per gap (further nacks of that gap within resend_interval
  // are answered by the copies already in flight).
  Acked on_ack(std::uint64_t through, bool nack, Clock::time_point now);
  // The receiver refused `seq`: the message, given up, unless settled already.
  std::optional<Outgoing> on_reject(std::uint64_t seq);
  // Gives up `message` (one of ours, e.g. to_send()): it stays as a tombstone holding its
  // seq, and its content is returned. Call settle() afterwards.
  Outgoing give_up(Outgoing& message);
  // Drops settled tombstones at the front and admits backlog into the window.
  void settle();

  // -- timers --
  // Something transmitted waits for its ack.
  bool resend_armed() const noexcept { return cursor_ > front_seq_; }
  Clock::time_point resend_due() const noexcept;
  // The resend timer fired: back off and send everything unacked again; or, when the last
  // such resend brought no progress at all, only the front message, as a probe. A receiver
  // that holds (a full mailbox) or is stopped then costs one message per backed-off
  // interval instead of a whole window; its ack or nack brings the rest at once.
  void resend_now() noexcept;
  // The connection came back: resend at the usual pace, not the backed-off one.
  void reset_backoff() noexcept { backoff_ = 0; }
  // Gives up every message whose deadline is <= now and returns them.
  std::vector<Outgoing> expire(Clock::time_point now);
  // The peer is gone or we close: returns every live message. Their seqs stay used, so a
  // successor of the peer starts after them.
  std::vector<Outgoing> take_all();

 private:
  void uncount(const Outgoing& message) noexcept;

  std::uint32_t max_unacked_;
  Clock::duration resend_interval_;
  // unacked_[i] has seq front_seq_ + i; the front is never a tombstone, so front_seq_ is
  // the floor: everything below it is acked or given up.
  RingDeque<Outgoing> unacked_;
  RingDeque<Outgoing> backlog_;  // beyond max_unacked; no seq yet
  std::uint64_t front_seq_ = 1;
  std::uint64_t cursor_ = 1;
  std::uint64_t counted_messages_ = 0;
  std::uint64_t counted_bytes_ = 0;
  Deadline earliest_deadline_ = Deadline::max();  // no message expires before this
  Clock::time_point last_progress_{};             // last ack that released something
  std::uint64_t nack_resent_from_ = 0;            // to answer each gap with one resend only
  Clock::time_point nack_resent_at_{};
  // Ack delay, smoothed as TCP does (RFC 6298): a receiver that is slow, not deaf, should
  // not be sent copies of a window it is still working through.
  Clock::duration smoothed_ack_delay_{};
  Clock::duration ack_delay_variation_{};
  int backoff_ = 0;                    // resends in a row without progress
  bool progress_since_resend_ = true;  // an ack released something since the last resend
  bool probe_ = false;                 // the front is due as a probe; the cursor stays
};

}  // namespace zmesh::internal
