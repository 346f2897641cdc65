#pragma once
// ActorCell: the runtime around one actor: its mailbox, status, children and the turn
// that handles queued items one at a time on a Scheduler thread.
// Thread: enqueue_* and request_* are thread-safe (mutex_ guards the queue and flags);
// everything that touches the Actor runs inside run(), which never runs twice at once for
// one cell (scheduled_ ensures it): on a pool thread, or on the proc's I/O thread when the
// proc deferred the turn there (Proc::run_deferred_turns).
// Flow control: the mailbox is bounded (Config::mailbox_max_*) for bounded enqueues; a
// refused sender hears through Proc::notify_room() once the queue drained to half. A raw
// handler that returns ErrorCode::backpressure stalls the cell: the message goes back to
// the front and is retried on the next room notification (or when anything else arrives).

#include "zmesh/core/actor.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/scheduler.hpp"
#include "zmesh/core/ring_deque.hpp"
#include "zmesh/core/supervision.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <variant>

namespace zmesh {
class Proc;
}

namespace zmesh::internal {

class ActorCell final : public Runnable, public std::enable_shared_from_this<ActorCell> {
 public:
  ActorCell(Proc& proc, ActorId id, std::unique_ptr<Actor> actor,
            std::weak_ptr<ActorCell> parent);

  const ActorId& id() const { return id_; }
  ActorStatus status() const { return status_.load(std::memory_order_acquire); }
  bool has_parent() const { return had_parent_; }

  // Runs init() on the calling thread; on success the mailbox starts being served.
  Result<void> initialize();

  enum class Admission : std::uint8_t { accepted, full, closed };
  // `closed` when the actor no longer accepts messages, `full` when `bounded` and the
  // mailbox is at its bound; `envelope` is then left intact. With `may_run_here`, an idle
  // actor whose handlers never block handles it at once on the calling thread instead of
  // waking a pool thread.
  Admission enqueue_message(Envelope& envelope, bool may_run_here, bool bounded);
  // True once a stop, kill or failure began: the actor takes no more messages.
  bool ending();
  // Whether a bounded enqueue of `bytes` more would be accepted now. If not, the proc's
  // notify_room() runs once the mailbox drained to half, as for a refused enqueue.
  bool has_room(std::size_t bytes);
  // Room appeared somewhere (a mailbox drained, a link window opened): a stalled cell
  // retries its front message.
  void resume();
  void enqueue_child_event(SupervisionEvent event, bool from_direct_child);
  void enqueue_undeliverable(Undeliverable returned);
  // Stop after the messages already queued (drain).
  void request_stop(std::string reason);
  // Stop now: queued messages go back to their senders.
  void request_kill(std::string reason);
  // False when this actor is ending and takes no new children.
  bool add_child(std::shared_ptr<ActorCell> child);

  void run() override;  // a turn of up to Config::mailbox_batch messages
  // A turn of at most `batch` messages.
  void run_turn(std::uint32_t batch);
  // False until `until` once mark_slow() was called (a turn of it on the I/O thread took
  // ten Config::io_turn_limit_us): its turns then go to the pool. Thread-safe.
  bool runs_briefly(Clock::time_point now) const {
    return now.time_since_epoch().count() >= slow_until_.load(std::memory_order_relaxed);
  }
  void mark_slow(Clock::time_point until) {
    slow_until_.store(until.time_since_epoch().count(), std::memory_order_relaxed);
  }

 private:
  struct ChildEvent {
    SupervisionEvent event;
    bool from_direct_child;
  };
  struct StopRequest {
    std::string reason;
  };
  using Item = std::variant<Envelope, ChildEvent, Undeliverable, StopRequest>;
  struct Ending {
    SupervisionKind kind;
    std::string message_type;
    std::string reason;
  };

  void push(Item item, bool front = false);
  bool full_locked(std::size_t extra_bytes) const;
  // Takes a popped message off the counters; true when a refused sender should hear of room.
  bool count_out_locked(const Envelope& envelope);
  // Puts the message a handler could not take yet back in front, until room appears (any
  // notification after `room_generation`, which was read before the handler ran).
  void stall(Envelope&& envelope, std::uint64_t room_generation);
  // Ends a turn: hands the rest of the mailbox (if any) to the pool.
  void end_turn();
  void process(Item& item);
  void handle_message(Envelope& envelope);
  void handle_child_event(ChildEvent& child);
  void begin_ending(Ending ending);
  void finish();
  void fail(std::string message_type, std::string reason);

  Proc& proc_;
  const ActorId id_;
  std::unique_ptr<Actor> actor_;
  const std::weak_ptr<ActorCell> parent_;
  const bool had_parent_;
  Context context_;
  std::atomic<ActorStatus> status_{ActorStatus::created};
  std::atomic<Clock::rep> slow_until_{0};  // read by Proc::schedule

  std::mutex mutex_;  // guards queue_, the counters, the flags below and children_
  RingDeque<Item> queue_;
  std::size_t queued_messages_ = 0;
  std::size_t queued_bytes_ = 0;
  bool refused_ = false;  // a bounded enqueue was refused since the mailbox last drained
  bool stalled_ = false;  // the front message waits for room elsewhere
  bool scheduled_ = false;
  bool held_ = true;  // until init() returned
  bool accepting_ = true;
  bool finished_ = false;
  std::unordered_map<ActorId, std::shared_ptr<ActorCell>> children_;

  // Touched only on the actor's turn.
  std::optional<Ending> ending_;
};

}  // namespace zmesh::internal
