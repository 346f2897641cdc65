#pragma once
// ReceiveSession: the receiving half of one sender incarnation (one session id) -> this
// proc, per lane: the next expected seq, dedupe, gap detection, when to ack or nack, the
// memory of a refused (undecodable) message, and the message held because the proc had no
// room for it. SessionTable: every such session, bounded in number (least recently heard
// goes first) and expiring after idle time, plus the bounded memory of retired sessions.
// Thread: owned by the endpoint's I/O thread. Pure: no sockets, no threads, no clock reads
// (calls that need the time take `now`), so tests drive them deterministically.
// Failure: nothing here fails. Input that does not fit (a session claimed by another
// sender, a retired session) is reported to the caller, which counts and drops it. A
// session pushed out by the bound while its sender still sends starts again at the
// sender's floor: a message delivered but not yet acked may then arrive twice, the
// price of bounded memory under a flood of senders.

#include "zmesh/core/config.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/transport/internal/link_header.hpp"

#include <array>
#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace zmesh::internal {

// Sessions kept at most; beyond, the least recently heard is dropped.
inline constexpr std::size_t max_receive_sessions = 4096;

// What to do with a message that arrived on one lane of a session.
enum class Arrival : std::uint8_t {
  deliver,       // the next expected: deliver it, then consumed(), rejected() or hold()
  duplicate,     // delivered before: drop; the sender missed our ack, so it is due again
  reject_again,  // a resend of the message refused before: answer with the refusal again
  held,          // a copy of the message held now: drop it
  gap,           // ahead of a missing or held one: drop it; the sender resends
};

class ReceiveSession {
 public:
  // Starts `lane` at `floor`, the floor of the first message heard (on that lane).
  ReceiveSession(std::uint64_t id, std::string sender_bytes, ProcId sender, Lane lane,
                 std::uint64_t floor);

  std::uint64_t id() const noexcept { return id_; }
  const std::string& sender_bytes() const noexcept { return sender_bytes_; }
  const ProcId& sender() const noexcept { return sender_; }
  const std::string& sender_text() const noexcept { return sender_text_; }
  // The ROUTER's name for the sender's current connection; acks go there.
  std::string routing_id;
  // The last message came through the sender's shared-memory lane: replies (acks) go back
  // through it. One that came over the socket is answered over the socket, as the sender
  // may have dropped its lane (and stopped reading the lane's acks) and resent over it.
  bool replies_by_lane = false;
  Clock::time_point last_heard{};
  bool dirty = false;     // listed for the next flush of acks (owned by the caller)
  bool deferred = false;  // listed among the acks waiting to ride on a message (the caller's)

  std::uint64_t expected(Lane lane) const noexcept { return lane_(lane).expected; }
  std::uint64_t acked(Lane lane) const noexcept { return lane_(lane).acked; }

  // Classifies message `seq` on `lane`; `floor` is the lowest seq its sender still holds.
  Arrival arrive(Lane lane, std::uint64_t seq, std::uint64_t floor);
  // The expected message was delivered (or was a skip). Returns whether an ack is due at
  // once: `ack_every` messages since the last.
  bool consumed(Lane lane, std::uint32_t ack_every);
  // The expected message `seq` cannot be used: remembered, so that its resends get the
  // refusal again instead of an ack that would pass for delivery; consumed.
  bool rejected(Lane lane, std::uint64_t seq, std::string reason, std::uint32_t ack_every);
  const std::string& rejected_reason(Lane lane) const noexcept {
    return lane_(lane).rejected_reason;
  }
  // The expected message could not be taken for a passing reason (a region it names could
  // not be mapped): not consumed, and a nack is due at once so that its sender resends it.
  void ask_again(Lane lane) noexcept;
  // The proc had no room for the expected message: keep it, deliver nothing after it and
  // ack nothing past it until release().
  void hold(Lane lane, Envelope envelope);
  Envelope* held(Lane lane) noexcept;
  bool holding() const noexcept;
  // The held message was delivered: consumed, and a nack is due so that the sender resends
  // at once what was dropped behind it.
  void release(Lane lane);

  // What to send the sender now, if anything: a nack after a gap, an ack when a duplicate
  // arrived or something new was consumed. Marks it sent.
  struct AckDue {
    LinkKind kind = LinkKind::ack;
    std::uint64_t through = 0;
  };
  std::optional<AckDue> take_ack(Lane lane);
  // As take_ack, but only what must not wait: a nack, or the re-ack a duplicate asked for.
  std::optional<AckDue> take_urgent_ack(Lane lane);
  // Something consumed is not acked yet (an ack may wait, e.g. to ride on a message).
  bool ack_pending(Lane lane) const noexcept {
    return lane_(lane).expected - 1 > lane_(lane).acked;
  }
  // An ack of everything consumed, now (ack_every reached). Marks it sent.
  AckDue ack_now(Lane lane);
  // What ack_now would ack through, without marking it sent.
  std::uint64_t consumed_through(Lane lane) const noexcept { return lane_(lane).expected - 1; }

 private:
  struct LaneState {
    std::uint64_t expected = 1;
    std::uint64_t acked = 0;      // acked_through last sent
    std::uint64_t nacked_at = 0;  // `expected` when the last nack went out
    bool reack = false;           // a duplicate arrived: the sender missed our ack
    bool nack = false;            // a gap was seen: ask for a resend now
    std::uint64_t rejected_seq = 0;
    std::string rejected_reason;
    std::optional<Envelope> held;  // at seq `expected`
    bool dropped_behind_held = false;
  };
  LaneState& lane_(Lane lane) noexcept { return lanes_[static_cast<std::size_t>(lane)]; }
  const LaneState& lane_(Lane lane) const noexcept {
    return lanes_[static_cast<std::size_t>(lane)];
  }

  std::uint64_t id_;
  std::string sender_bytes_;  // the sender ProcId as encoded in the link header
  ProcId sender_;
  std::string sender_text_;
  std::array<LaneState, 2> lanes_;
};

class SessionTable {
 public:
  SessionTable(std::size_t max_sessions, Clock::duration idle_limit);

  struct Found {
    ReceiveSession* session = nullptr;           // null: drop the message
    bool retired = false;                        // a previous incarnation of a restarted sender
    const ReceiveSession* claimed_by = nullptr;  // the session id belongs to another sender
  };
  // The session `header` belongs to, created at the header's floor when new (a sender
  // incarnation we have not heard from: it or we restarted). A new session of a known
  // sender retires its previous one. Marks the session heard at `now`.
  Found find_or_create(const LinkHeader& header, Clock::time_point now);
  ReceiveSession* find(std::uint64_t id) noexcept;
  // The current session of the sender whose link-header bytes are `sender_bytes`, if any.
  ReceiveSession* find_by_sender(const std::string& sender_bytes) noexcept;
  // Drops the sessions not heard from for longer than the idle limit; returns how many.
  std::size_t expire_idle(Clock::time_point now);

  std::size_t size() const noexcept { return sessions_.size(); }
  std::size_t retired() const noexcept { return retired_.size(); }
  std::uint64_t evicted() const noexcept { return evicted_; }

 private:
  struct Entry {
    ReceiveSession session;
    std::list<std::uint64_t>::iterator recency;  // position in recency_
  };
  void erase(std::unordered_map<std::uint64_t, Entry>::iterator it);
  void retire(std::uint64_t id);

  std::size_t max_sessions_;
  Clock::duration idle_limit_;
  std::unordered_map<std::uint64_t, Entry> sessions_;
  std::list<std::uint64_t> recency_;  // most recently heard first
  std::unordered_map<std::string, std::uint64_t> session_of_sender_;
  // Sessions of senders that restarted, so that late messages of the old incarnation are
  // dropped; the oldest are forgotten beyond max_sessions.
  std::unordered_set<std::uint64_t> retired_;
  std::deque<std::uint64_t> retired_order_;
  std::uint64_t evicted_ = 0;
};

}  // namespace zmesh::internal
