#pragma once
// Endpoint: a proc's network door: one bound ROUTER, cached DEALERs dialed on first use, and
// reliable sessions on top. Thread: the I/O work (sockets, protocol state) runs under one
// lock, by the I/O thread in each round, or by a sending thread that finds that thread idle:
// the send then goes out at once, without waking it. The callbacks run on the I/O thread
// (or on the standby thread while the I/O thread runs deferred actor turns that overran).
// Failure: every message sent is acked by its receiver or returned through undeliverable.
//
// Guarantees, per (sender proc, receiver proc, lane): FIFO order; each message delivered at
// most once per receiver incarnation (a restarted receiver may get again what its
// predecessor received but had not acked; so may a sender whose session the receiver
// dropped to stay within max_receive_sessions); a message not acked by its deadline comes
// back as undeliverable with the reason. Lanes (lane_of): control messages have their own
// sequence space and go first, so a full or held data lane never delays them.
// Wire format: transport/internal/link_header.hpp. Pieces: internal/send_window.hpp and
// internal/receive_session.hpp (the protocol, pure), internal/io_loop.cpp (the I/O thread),
// endpoint.cpp (the calling threads' side).

#include "zmesh/core/config.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/remote.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace zmq {
class context_t;  // callers above transport/ need not include <zmq.hpp>
}

namespace zmesh {

class Endpoint final : public RemoteLink {
 public:
  // All run on the I/O thread and must not block for long: they hold up every link.
  struct Inbound {
    // Each arriving message, in order per sender and lane. Returns false when the proc has
    // no room for it now (a full mailbox), leaving `envelope` untouched: the endpoint then
    // holds it, delivers nothing later from that sender's lane and acks nothing past it
    // (so the sender's window fills and pushes back), and offers it again after
    // retry_held() or, as a safety net, every config.resend_interval. On true the callee
    // may have moved from `envelope`.
    std::function<bool(Envelope&)> deliver;
    // One of our own sent messages that failed; the Error says why and names the proc.
    std::function<void(Envelope&&, Error)> undeliverable;
    // Optional. A data link that was full (a send_bounded found no room, or has_room said
    // no) drained to half its window: senders that paused may resume.
    std::function<void()> link_room;
    // Optional, all three or none: work deliver() left for the end of the round (wake-ups)
    // and for the I/O thread itself (actor turns, instead of waking another thread;
    // Proc::defer_turns_to). After each round the I/O thread calls end_round(), which
    // returns whether work waits, and if so run_deferred() with the endpoint unlocked: it
    // may block. Should run_deferred() go on for Config::io_turn_limit_us, a standby thread
    // calls release_deferred() (what has not started should go elsewhere) and serves the
    // sockets until it returns, so a blocked turn holds up nothing else.
    std::function<bool()> end_round;
    std::function<void()> run_deferred;
    std::function<void()> release_deferred;
  };

  // Counters since bind(); a snapshot, read without stopping the I/O thread.
  struct Stats {
    std::uint64_t sent = 0;                // messages handed to ZeroMQ the first time
    std::uint64_t resent = 0;              // further transmissions (no ack in time, gap, reroute)
    std::uint64_t delivered = 0;           // messages Inbound::deliver accepted
    std::uint64_t duplicates_dropped = 0;  // arrived again after delivery (resends): re-acked;
                                           // also copies of a held message
    std::uint64_t gaps_dropped = 0;        // arrived ahead of a missing or held one; resent later
    std::uint64_t garbage_dropped = 0;     // malformed input (ZM-GARBAGE)
    std::uint64_t undeliverable = 0;       // own messages returned through Inbound::undeliverable
    std::uint64_t acks_sent = 0;           // acks and nacks sent to senders, as messages
    std::uint64_t acks_carried = 0;        // acks that rode on a data message to their sender
                                           // (Config::ack_delay) instead
    std::uint64_t acks_received = 0;       // acks and nacks received from receivers
    std::uint64_t pending = 0;             // accepted by send(), neither acked nor returned yet
    std::uint64_t sessions = 0;  // receive sessions kept (bounded: internal::max_receive_sessions;
                                 // idle ones expire after 2 * delivery_timeout, at least 1 min)
    std::uint64_t links = 0;     // peers with sending state; one never routed and idle for a
                                 // delivery_timeout (made to answer an unknown proc) is dropped
    std::uint64_t io_rounds = 0;  // turns of the I/O loop: an idle endpoint waits, it does
                                  // not spin
    std::uint64_t timer_wakeups = 0;  // waits of the I/O thread that its own timer ended
                                      // (an ack due, a resend, a sweep), not a socket
    bool sleeping = false;  // the I/O thread was in a poll that may wait (not a poll that
                            // returns at once because a socket needed another look)
    std::uint64_t sent_directly = 0;  // sends the calling thread put on the wire itself (the
                                      // I/O thread was idle), not handing them over
    std::uint64_t standby_takeovers = 0;  // runs of Inbound::run_deferred that overran
                                          // io_turn_limit_us: the standby thread served
    std::uint64_t handshakes_refused = 0;  // tcp peers refused at the CURVE handshake (a
                                           // plain or wrongly keyed peer; logged once per host)
    // Shared memory (large frames to procs on this host; docs/messaging.md, "Bulk payloads"):
    std::uint64_t shm_sent = 0;       // payload frames sent as a descriptor, not as bytes
    std::uint64_t shm_regions = 0;    // frames this endpoint wrote into shared memory (a frame
                                      // shared with many peers, or sent on as received, is
                                      // written once or never)
    std::uint64_t shm_files = 0;      // shared-memory files it created for them: the rest were
                                      // written into files that receivers were done with
    std::uint64_t shm_fallbacks = 0;  // frames that went as bytes because writing a region
                                      // failed (ZM-SHM-FALLBACK, logged once)
    std::uint64_t shm_received = 0;   // payload frames received as a region and mapped
    std::uint64_t shm_unmappable = 0;  // messages whose region this proc could not map (out
                                       // of descriptors or memory): asked again as bytes,
                                       // and that link then carries bytes (ZM-SHM-UNMAPPABLE)
    // Shared-memory lanes (Config::shm_lane_bytes): messages to same-host procs that went
    // through a lane's ring instead of ZeroMQ, and the lanes this endpoint sends and reads on.
    std::uint64_t lane_sent = 0;
    std::uint64_t lane_received = 0;
    std::uint64_t lanes_sending = 0;    // links whose peer accepted our lane (a gauge)
    std::uint64_t lanes_receiving = 0;  // lanes of peers we read from (a gauge)
  };

  // -- construction --

  // Binds the ROUTER at `address` (tcp port 0: any free port) and starts the I/O thread.
  // `context` must outlive the Endpoint.
  static Result<std::unique_ptr<Endpoint>> bind(zmq::context_t& context, ProcId self,
                                                std::string_view address, Inbound inbound,
                                                const Config& config);
  // close(), then frees the sockets.
  ~Endpoint() override;
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // -- sending --

  // Queues `envelope` for envelope.destination.actor.proc and returns at once. Its deadline
  // is envelope.deadline, or config.delivery_timeout from now when that is the epoch. After
  // close(), the envelope is returned through Inbound::undeliverable on the calling thread.
  // Thread-safe.
  void send(Envelope envelope) override;
  // Flow control (see RemoteLink). Data-lane messages queued or unacked per peer count
  // against config.link_window_messages and link_window_bytes (header plus payload bytes);
  // send_bounded waits for room until `room_deadline` (never on the I/O thread), then
  // fails with backpressure; a message over this endpoint's or the peer's
  // max_message_bytes fails at once with too_large. Control-lane messages (lane_of) are
  // not counted, are sent before queued data and travel in their own sequence space.
  // send() is not counted either; what bounds it: per link and lane, at most max_unacked
  // messages in flight and 4 * max(max_unacked, link_window_messages) more waiting;
  // beyond, they come back through Inbound::undeliverable (backpressure), as oversized
  // ones do (too_large), at once.
  // Thread-safe.
  Result<void> send_bounded(Envelope envelope, Deadline room_deadline) override;
  // Also marks the link so that Inbound::link_room is called once it drains. Thread-safe.
  bool has_room(const ProcId& proc, std::size_t bytes) const override;
  // Offers held messages again (the proc has room now). Wakes the I/O thread; cheap when
  // nothing is held. Thread-safe.
  void retry_held() override;

  // Where `proc` listens, and the largest message it accepts (its max_message_bytes, from
  // the bootstrap handshake; 0: unknown, only ours applies). Messages to a proc without a
  // route wait for one until their deadline. A new address for a known proc redials and
  // resends what is unacked. Thread-safe. Fails (parse_error) only on a malformed address.
  Result<void> add_route(const ProcId& proc, std::string_view address,
                         std::int64_t peer_max_message_bytes = 0);

  // `proc` is known dead (its process exited): what is still unacknowledged or queued for
  // it comes back now as undeliverable (ErrorCode::proc_failed, naming `reason`) instead
  // of at its deadline, later sends to it fail at once, and close() no longer waits for
  // its acks. A new add_route() for it revives the link. Thread-safe.
  void forget(const ProcId& proc, std::string_view reason);

  // -- inspection --

  // The bound address as ZeroMQ reports it (tcp: the port actually chosen). Thread-safe.
  const std::string& address() const noexcept;
  const ProcId& self() const noexcept;
  Stats stats() const;  // Thread-safe.
  // The thread that runs Inbound::run_deferred (the I/O thread; for Proc::defer_turns_to),
  // or a default id when this endpoint runs none: no run_deferred, io_turn_limit_us 0, or
  // no timer for its standby thread (ZM-NO-STANDBY). Thread-safe.
  std::thread::id deferred_work_thread() const noexcept;

  // -- teardown --

  // Waits, at most config.linger, until peers acknowledged everything sent (libzmq #4660
  // loses the last messages on ipc:// when a socket closes right after sending), returns
  // what is still unacknowledged as undeliverable, then stops the I/O thread. Idempotent.
  // Thread-safe, but not from the Inbound callbacks (the I/O thread cannot wait for itself).
  void close();

 private:
  struct Impl;
  explicit Endpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zmesh
