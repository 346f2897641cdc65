#pragma once
// Proc: one actor runtime: the actor table, spawn (typed or by registered name), local
// delivery, reply ports, stop/kill, and supervision events that no actor handled.
// Remote delivery goes through a RemoteLink that the transport layer attaches.
// Thread: every public member is thread-safe unless it names its thread. Actor turns run
// on the Scheduler's threads, or on the transport's I/O thread between its rounds (see
// defer_turns_to); unhandled supervision events reach `on_event` on whichever thread
// produced them (or queue for next_event() when no callback is set).
// Failure: spawn/attach return Result errors; messages that cannot be delivered go back
// to their sender as Undeliverable; nothing here throws into the caller.

#include "zmesh/core/blocking_queue.hpp"
#include "zmesh/core/config.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/log.hpp"
#include "zmesh/core/mailbox.hpp"
#include "zmesh/core/mesh_place.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/core/remote.hpp"
#include "zmesh/core/scheduler.hpp"
#include "zmesh/core/supervision.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace zmesh {

namespace internal {
class ActorCell;
}

struct ProcOptions {
  ProcId id;
  // Actor types spawnable by name; may be null when only typed spawn is used.
  std::shared_ptr<const Registry> registry;
  Config config;
  // Runs actor turns; null: the proc starts its own with config.proc_threads threads.
  std::shared_ptr<Scheduler> scheduler;
  // Receives supervision events no actor handled; null: they queue for next_event().
  std::function<void(const SupervisionEvent&)> on_event;
};

class Proc {
 public:
  explicit Proc(ProcOptions options);
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;
  // Stops every actor (bounded by config.stop_timeout) and waits for running turns.
  ~Proc();

  const ProcId& id() const { return options_.id; }
  const Config& config() const { return options_.config; }
  const Logger& log() const { return log_; }
  // The actor types this proc can spawn by name (may be null).
  const std::shared_ptr<const Registry>& registry() const { return options_.registry; }

  // Attaches the link that reaches other procs (the transport's endpoint), or detaches
  // it with nullptr. The link must outlive its attachment.
  void set_remote(RemoteLink* link) { remote_.store(link, std::memory_order_release); }

  // -- actors --
  // Spawns a root actor of type A, with the handlers it lists (make_actor).
  template <SpawnableActor A>
  Result<ActorId> spawn(std::string name, const params_t<A>& params = {}) {
    return spawn_actor(std::move(name), construct_actor<A>(params));
  }
  // Spawns a root actor of a registered type from encoded parameters.
  Result<ActorId> spawn(std::string_view type_name, std::string name, const Frame& params);
  // Spawns a root actor object (made with make_actor<A>, which registers the handlers A
  // lists); runs its init() on the calling thread before returning.
  Result<ActorId> spawn_actor(std::string name, std::unique_ptr<Actor> actor);
  // Drains the actor's queued messages, stops its children, runs cleanup. Asynchronous.
  void stop_actor(const ActorId& actor);
  // The actor's status; nothing for an unknown actor. Ended actors report their end.
  std::optional<ActorStatus> status(const ActorId& actor) const;

  // A mailbox for non-actor code, named `name` (unique among this proc's roots). Its
  // undeliverables queue for Mailbox::next_undeliverable() and are reported as supervision
  // events, unless `on_undeliverable` is given: then that owner handles them (on whichever
  // thread returned them) and nothing else happens.
  Result<Mailbox> attach(std::string name,
                         std::function<void(Undeliverable)> on_undeliverable = nullptr);

  // -- messages --
  // Sends from any local sender: delivered locally, or through the remote link. Not
  // flow-controlled: for replies, control traffic, and actors on the transport's thread.
  void send(Envelope envelope);
  // Sends with flow control: waits until `room_deadline` for room in the link window (or
  // the local mailbox), then fails with backpressure; too_large when over a size limit.
  // Nothing is queued on error. A past deadline never waits.
  Result<void> send_bounded(Envelope envelope, Deadline room_deadline);
  // Whether a flow-controlled message of `bytes` to `to` would be taken now.
  bool has_room(const PortId& to, std::size_t bytes) const;
  // Waits until has_room(to, bytes) or `deadline`; false if there was no room by then.
  bool wait_for_room(const PortId& to, std::size_t bytes, Deadline deadline);
  // Delivers an envelope addressed to this proc (called by local senders and send), whatever
  // the mailbox holds.
  // `may_run_here`: the calling thread may run the receiving actor's handler at once, if
  // that actor promised its handlers never block (Actor::handlers_never_block); the
  // transport's I/O thread passes true.
  void deliver(Envelope envelope, bool may_run_here = false);
  // Delivers an envelope that arrived from the network, unless its actor's mailbox is full
  // (data lane only): then returns false, leaves `envelope` untouched and calls the remote
  // link's retry_held() once that mailbox has drained. The transport holds the refused
  // message, which stalls its link and so pushes back on the sender.
  bool offer(Envelope& envelope, bool may_run_here = false);
  // The transport's windows have room again: actors that paused on backpressure resume.
  void on_link_room();
  // Local delivery with the mailbox bound: waits for room until `room_deadline`.
  Result<void> deliver_bounded(Envelope envelope, Deadline room_deadline);

  // -- actor turns on the transport's I/O thread --
  // A turn that `thread` (the transport's I/O thread) starts, while it delivers or runs
  // turns, waits for run_deferred_turns() instead of waking a pool thread: the hand-off it
  // saves is most of what a small message costs. Not for an actor whose turn there took ten
  // io_turn_limit_us or more in the last second. A default id stops this
  // (Config::io_turn_limit_us = 0 never starts it).
  void defer_turns_to(std::thread::id thread);
  // Replies that thread delivers to ports wake their receivers at the end of its round, once.
  // On that thread, at the end of each round: wakes those receivers and says whether turns
  // wait. Then, with its lock let go, running them: about half of io_turn_limit_us worth,
  // the rest (and the turns they start) after its next round.
  bool finish_io_round();
  void run_deferred_turns();
  // Any thread: the turns that wait go to the pool now (the I/O thread is held up in one,
  // or it ended), and so do those it starts until its next round ends.
  void release_deferred_turns();

  // Counters since the proc started; thread-safe snapshot.
  struct Stats {
    std::uint64_t late_replies_dropped = 0;  // replies to closed ports (the caller gave up)
    std::uint64_t mailbox_refusals = 0;      // messages a full mailbox refused (sender retries)
    // Supervision events no actor handled, passed to on_event or queued for next_event().
    // Once the proc is quiet (after stop()), it says how many events a consumer should see.
    std::uint64_t events_emitted = 0;
    std::uint64_t turns_on_io_thread = 0;  // actor turns run_deferred_turns() ran
  };
  Stats stats() const;
  // Returns `envelope`, which a local sender sent and could not be delivered, to it.
  void return_undeliverable(Envelope envelope, Error reason);

  // -- where this proc sits in its mesh --
  // Set by its agent when the mesh configures it (before any actor of the mesh spawns).
  void set_place(MeshPlace place);
  // Nothing before it is set (a proc outside any mesh).
  std::optional<MeshPlace> place() const;

  // -- supervision and lifecycle --
  // The next unhandled supervision event (when ProcOptions::on_event is not set).
  std::optional<SupervisionEvent> next_event(Deadline deadline) { return events_.pop(deadline); }
  // Stops every actor and waits until all are stopped; timeout names the stragglers.
  Result<void> stop(Deadline deadline);

 private:
  friend class internal::ActorCell;
  friend class Sender;
  friend class Context;
  friend class Mailbox;

  Result<ActorId> register_actor(ActorId id, std::unique_ptr<Actor> actor,
                                 std::shared_ptr<internal::ActorCell> parent);
  std::shared_ptr<internal::ActorCell> find_cell(const ActorId& id) const;
  // Delivers `envelope`, or returns false (envelope intact) when `bounded` and its
  // mailbox is full. Everything else that goes wrong bounces to the sender.
  bool admit(Envelope& envelope, bool may_run_here, bool bounded);
  // A cell whose handler found no room: resumed on the next notify_room(), or at once if one
  // came since `room_generation` (room_generation() read before the handler ran).
  void add_stalled(std::shared_ptr<internal::ActorCell> cell, std::uint64_t room_generation);
  std::uint64_t room_generation();
  // Room appeared (a refusing mailbox drained, or a link window opened): stalled cells
  // resume, bounded local senders retry, and the transport retries what it holds.
  void notify_room();
  // Called by a cell once it stopped or failed: drops it from the table.
  void forget_cell(const ActorId& id, ActorStatus final_status, std::string end_reason);
  // Sends an undeliverable back to the sender of `envelope`, local or remote.
  void bounce(Envelope envelope, Error reason);
  void emit_event(const SupervisionEvent& event);
  void schedule(std::shared_ptr<internal::ActorCell> cell);
  void turn_started();
  void turn_finished();
  void detach(const ActorId& mailbox);

  ProcOptions options_;
  Logger log_;
  std::shared_ptr<Scheduler> scheduler_;
  std::atomic<RemoteLink*> remote_{nullptr};
  std::shared_ptr<internal::PortTable> ports_;  // made in the constructor
  BlockingQueue<SupervisionEvent> events_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  mutable std::shared_mutex table_mutex_;  // guards cells_, mailboxes_, ended_, next_pid_
  std::unordered_map<ActorId, std::shared_ptr<internal::ActorCell>> cells_;
  struct MailboxEntry {
    std::shared_ptr<BlockingQueue<Undeliverable>> queue;
    std::function<void(Undeliverable)> on_undeliverable;
  };
  std::unordered_map<ActorId, MailboxEntry> mailboxes_;
  std::unordered_map<ActorId, std::pair<ActorStatus, std::string>> ended_;
  std::deque<ActorId> ended_order_;  // bounds ended_
  std::uint32_t next_pid_ = 1;
  std::condition_variable_any table_changed_;

  std::mutex room_mutex_;  // guards stalled_ and room_generation_
  std::condition_variable room_changed_;
  std::vector<std::shared_ptr<internal::ActorCell>> stalled_;
  // Changed under room_mutex_; read without it on the hot path (one per handled message).
  std::atomic<std::uint64_t> room_generation_{0};
  std::atomic<std::uint64_t> late_replies_dropped_{0};
  std::atomic<std::uint64_t> mailbox_refusals_{0};
  std::atomic<std::uint64_t> events_emitted_{0};
  RateLimiter warn_limiter_{std::chrono::seconds(1)};  // warnings a peer can trigger
  mutable std::mutex place_mutex_;  // guards place_
  std::optional<MeshPlace> place_;

  std::atomic<std::thread::id> deferring_thread_{};
  std::mutex deferred_mutex_;  // guards deferred_ and io_held_up_
  std::deque<std::shared_ptr<internal::ActorCell>> deferred_;
  bool io_held_up_ = false;  // released during the current run: schedule to the pool
  // Touched only by deferring_thread_: within its rounds, never during a run of turns (when
  // the standby thread may serve), so they need no lock.
  bool running_deferred_ = false;
  std::vector<std::shared_ptr<BlockingQueue<Envelope>>> ports_to_notify_;  // same as PortQueue
  std::atomic<std::uint64_t> turns_on_io_thread_{0};

  std::mutex turns_mutex_;  // guards turns_in_flight_
  std::condition_variable turns_done_;
  std::uint64_t turns_in_flight_ = 0;
};

}  // namespace zmesh
