#include "zmesh/core/proc.hpp"

#include "zmesh/core/internal/port_table.hpp"

#include "zmesh/core/internal/actor_cell.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace zmesh {
namespace {

// How many ended actors a proc remembers, to explain why a late message bounced.
constexpr std::size_t remembered_endings = 4096;

}  // namespace

Proc::Proc(ProcOptions options)
    : options_(std::move(options)),
      log_("zmesh.core", "proc=" + options_.id.to_string(), options_.config.log_level),
      scheduler_(options_.scheduler ? options_.scheduler
                                    : std::make_shared<Scheduler>(options_.config.proc_threads)),
      ports_(std::make_shared<internal::PortTable>()) {}

Proc::~Proc() {
  if (auto stopped = stop(deadline_in(options_.config.stop_timeout)); !stopped) {
    log_.warn("ZM-PROC-STOP {}", stopped.error().message);
  }
  // Turns that are still running reference this proc: wait them out, loudly.
  std::unique_lock lock(turns_mutex_);
  while (!turns_done_.wait_for(lock, std::chrono::seconds(5), [&] { return turns_in_flight_ == 0; })) {
    log_.error("ZM-PROC-HUNG a handler has not returned for 5 s; the proc cannot be destroyed "
               "until it does");
  }
}

Result<ActorId> Proc::spawn(std::string_view type_name, std::string name, const Frame& params) {
  if (!options_.registry) {
    return Error(ErrorCode::not_found,
                 fmt::format("spawn \"{}\" on {} failed: this proc has no registry of actor types",
                             type_name, id().to_string()));
  }
  auto actor = options_.registry->create(type_name, params);
  if (!actor) {
    return Error(actor.error().code, fmt::format("spawn \"{}\" on {} failed: {}", type_name,
                                                 id().to_string(), actor.error().message));
  }
  return spawn_actor(std::move(name), std::move(*actor));
}

Result<ActorId> Proc::spawn_actor(std::string name, std::unique_ptr<Actor> actor) {
  if (auto valid = check_name(name, "actor"); !valid) return std::move(valid).error();
  return register_actor(ActorId{id(), std::move(name), 0}, std::move(actor), nullptr);
}

Result<ActorId> Proc::register_actor(ActorId actor_id, std::unique_ptr<Actor> actor,
                                     std::shared_ptr<internal::ActorCell> parent) {
  std::shared_ptr<internal::ActorCell> cell;
  {
    std::unique_lock lock(table_mutex_);
    if (parent) actor_id.pid = next_pid_++;
    // An actor of that name that is stopping (a stop drains asynchronously) frees the name
    // shortly: a spawn right after a stop, or after a failed spawn's cleanup, waits for it.
    table_changed_.wait_until(lock, deadline_in(options_.config.stop_timeout), [&] {
      auto it = cells_.find(actor_id);
      return it == cells_.end() || !it->second->ending();
    });
    if (cells_.contains(actor_id) || mailboxes_.contains(actor_id)) {
      return Error(ErrorCode::duplicate,
                   fmt::format("an actor named \"{}\" already runs on {}; pick another name or "
                               "stop it first",
                               actor_id.name, id().to_string()));
    }
    cell = std::make_shared<internal::ActorCell>(*this, actor_id, std::move(actor), parent);
    cells_.emplace(actor_id, cell);
    ended_.erase(actor_id);
  }
  if (parent && !parent->add_child(cell)) {
    forget_cell(actor_id, ActorStatus::stopped, "parent is stopping");
    return Error(ErrorCode::stopped, fmt::format("cannot spawn {}: parent {} is stopping",
                                                 actor_id.to_string(), parent->id().to_string()));
  }
  if (auto initialized = cell->initialize(); !initialized) {
    forget_cell(actor_id, ActorStatus::failed, initialized.error().message);
    return std::move(initialized).error();
  }
  return actor_id;
}

std::shared_ptr<internal::ActorCell> Proc::find_cell(const ActorId& actor) const {
  std::shared_lock lock(table_mutex_);
  auto it = cells_.find(actor);
  return it == cells_.end() ? nullptr : it->second;
}

void Proc::forget_cell(const ActorId& actor, ActorStatus final_status, std::string end_reason) {
  {
    std::unique_lock lock(table_mutex_);
    cells_.erase(actor);
    if (ended_.size() >= remembered_endings && !ended_order_.empty()) {
      ended_.erase(ended_order_.front());
      ended_order_.pop_front();
    }
    ended_[actor] = {final_status, std::move(end_reason)};
    ended_order_.push_back(actor);
    table_changed_.notify_all();  // under the lock, for the same reason as turn_finished()
  }
}

void Proc::stop_actor(const ActorId& actor) {
  if (auto cell = find_cell(actor)) cell->request_stop("stop requested");
}

std::optional<ActorStatus> Proc::status(const ActorId& actor) const {
  std::shared_lock lock(table_mutex_);
  if (auto it = cells_.find(actor); it != cells_.end()) return it->second->status();
  if (auto it = ended_.find(actor); it != ended_.end()) return it->second.first;
  return std::nullopt;
}

Result<Mailbox> Proc::attach(std::string name, std::function<void(Undeliverable)> on_undeliverable) {
  if (auto valid = check_name(name, "mailbox"); !valid) return std::move(valid).error();
  ActorId mailbox_id{id(), std::move(name), 0};
  auto undeliverables = std::make_shared<BlockingQueue<Undeliverable>>();
  {
    std::unique_lock lock(table_mutex_);
    if (cells_.contains(mailbox_id) || mailboxes_.contains(mailbox_id)) {
      return Error(ErrorCode::duplicate, fmt::format("\"{}\" is already taken on {}",
                                                     mailbox_id.name, id().to_string()));
    }
    mailboxes_.emplace(mailbox_id, MailboxEntry{undeliverables, std::move(on_undeliverable)});
  }
  return Mailbox(*this, std::move(mailbox_id), std::move(undeliverables), alive_);
}

void Proc::detach(const ActorId& mailbox) {
  std::shared_ptr<BlockingQueue<Undeliverable>> queue;
  {
    std::unique_lock lock(table_mutex_);
    auto it = mailboxes_.find(mailbox);
    if (it == mailboxes_.end()) return;
    queue = std::move(it->second.queue);
    mailboxes_.erase(it);
    ended_[mailbox] = {ActorStatus::stopped, "mailbox detached"};
    ended_order_.push_back(mailbox);
  }
  queue->close();
}

void Proc::send(Envelope envelope) {
  if (envelope.destination.actor.proc == id()) {
    deliver(std::move(envelope));
    return;
  }
  if (RemoteLink* remote = remote_.load(std::memory_order_acquire)) {
    remote->send(std::move(envelope));
    return;
  }
  const auto destination = envelope.destination.actor.proc.to_string();
  bounce(std::move(envelope),
         Error(ErrorCode::undeliverable,
               fmt::format("no route to {}: proc {} has no transport attached", destination,
                           id().to_string())));
}

void Proc::deliver(Envelope envelope, bool may_run_here) {
  [[maybe_unused]] const bool admitted = admit(envelope, may_run_here, /*bounded=*/false);
}

bool Proc::offer(Envelope& envelope, bool may_run_here) {
  envelope.from_network = true;
  return admit(envelope, may_run_here, lane_of(envelope.type_name) == Lane::data);
}

bool Proc::admit(Envelope& envelope, bool may_run_here, bool bounded) {
  const PortId& to = envelope.destination;
  if (to.actor.proc != id()) {
    auto reason = fmt::format("{} arrived at {}, which is not its proc", to.to_string(),
                              id().to_string());
    bounce(std::move(envelope), Error(ErrorCode::undeliverable, std::move(reason)));
    return true;
  }
  if (envelope.type_name == message_name<Undeliverable>() &&
      to.index == message_port_index(message_name<Undeliverable>())) {
    auto returned = envelope.payload.empty()
                        ? Result<Undeliverable>(Error(ErrorCode::decode_error, "no payload"))
                        : decode<Undeliverable>(envelope.payload.front());
    if (!returned) {
      if (warn_limiter_.allow()) {
        log_.warn("ZM-BAD-UNDELIVERABLE from {}: {}", envelope.sender.to_string(),
                  returned.error().message);
      }
      return true;
    }
    Envelope original;
    original.sender = returned->sender;
    original.destination = returned->destination;
    original.type_name = returned->type_name;
    return_undeliverable(std::move(original), returned->reason);
    return true;
  }
  if (!is_handler_port(to.index)) {
    // On the I/O thread, the receiver is woken once at the end of the round, not for each
    // reply of a batch it waits for.
    if (deferring_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id() &&
        !running_deferred_) {
      if (ports_->deliver(envelope, &ports_to_notify_)) return true;
    } else if (ports_->deliver(envelope)) {
      return true;
    }
    // A reply whose caller gave up (deadline passed, port closed) or a reply to a port that
    // never existed: normal after timeouts, never the replying actor's fault.
    late_replies_dropped_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  if (auto cell = find_cell(to.actor)) {
    switch (cell->enqueue_message(envelope, may_run_here, bounded)) {
      case internal::ActorCell::Admission::accepted: return true;
      case internal::ActorCell::Admission::full:
        mailbox_refusals_.fetch_add(1, std::memory_order_relaxed);
        return false;
      case internal::ActorCell::Admission::closed: break;
    }
    bounce(std::move(envelope),
           Error(ErrorCode::stopped, fmt::format("{} is stopping", to.actor.to_string())));
    return true;
  }
  std::string reason;
  {
    std::shared_lock lock(table_mutex_);
    if (auto it = ended_.find(to.actor); it != ended_.end()) {
      reason = fmt::format("{} has ended: {}", to.actor.to_string(), it->second.second);
    } else if (mailboxes_.contains(to.actor)) {
      reason = fmt::format("{} is a client mailbox with no port {}", to.actor.to_string(), to.index);
    } else {
      reason = fmt::format("no actor {} on {}", to.actor.to_string(), id().to_string());
    }
  }
  bounce(std::move(envelope), Error(ErrorCode::undeliverable, std::move(reason)));
  return true;
}

bool Proc::has_room(const PortId& to, std::size_t bytes) const {
  if (to.actor.proc != id()) {
    RemoteLink* remote = remote_.load(std::memory_order_acquire);
    return remote == nullptr || remote->has_room(to.actor.proc, bytes);
  }
  if (!is_handler_port(to.index)) return true;
  auto cell = find_cell(to.actor);
  return !cell || cell->has_room(bytes);
}

bool Proc::wait_for_room(const PortId& to, std::size_t bytes, Deadline deadline) {
  std::unique_lock lock(room_mutex_);
  while (true) {
    const std::uint64_t seen = room_generation_;
    lock.unlock();
    if (has_room(to, bytes)) return true;  // a refusal also asks to be told of room
    lock.lock();
    if (room_generation_ != seen) continue;
    if (Clock::now() >= deadline ||
        !room_changed_.wait_until(lock, deadline, [&] { return room_generation_ != seen; })) {
      return false;
    }
  }
}

Result<void> Proc::send_bounded(Envelope envelope, Deadline room_deadline) {
  if (envelope.destination.actor.proc != id()) {
    if (RemoteLink* remote = remote_.load(std::memory_order_acquire)) {
      return remote->send_bounded(std::move(envelope), room_deadline);
    }
    send(std::move(envelope));  // no transport: bounces with the reason
    return {};
  }
  return deliver_bounded(std::move(envelope), room_deadline);
}

Result<void> Proc::deliver_bounded(Envelope envelope, Deadline room_deadline) {
  const std::size_t bytes = queued_bytes(envelope);
  std::unique_lock lock(room_mutex_);
  while (true) {
    const std::uint64_t seen = room_generation_;
    lock.unlock();
    if (admit(envelope, /*may_run_here=*/false, /*bounded=*/true)) return {};
    lock.lock();
    // Room may have appeared between the refusal and taking the lock: then try again.
    if (room_generation_ != seen) continue;
    if (Clock::now() >= room_deadline ||
        !room_changed_.wait_until(lock, room_deadline, [&] { return room_generation_ != seen; })) {
      return Error(ErrorCode::backpressure,
                   fmt::format("{} to {}: the mailbox stayed full ({} messages or {} bytes, "
                               "ZMESH_MAILBOX_MAX_*) until the deadline; the actor is slow or "
                               "blocked, {} bytes were to be added",
                               envelope.type_name, envelope.destination.actor.to_string(),
                               options_.config.mailbox_max_messages,
                               options_.config.mailbox_max_bytes, bytes));
    }
  }
}

void Proc::add_stalled(std::shared_ptr<internal::ActorCell> cell, std::uint64_t room_generation) {
  {
    std::lock_guard lock(room_mutex_);
    if (room_generation_ == room_generation) {
      stalled_.push_back(std::move(cell));
      return;
    }
  }
  // Room appeared while the handler ran: its notification found no one waiting.
  cell->resume();
}

std::uint64_t Proc::room_generation() { return room_generation_.load(std::memory_order_acquire); }

void Proc::notify_room() {
  std::vector<std::shared_ptr<internal::ActorCell>> stalled;
  {
    std::lock_guard lock(room_mutex_);
    room_generation_.fetch_add(1, std::memory_order_acq_rel);
    stalled.swap(stalled_);
    room_changed_.notify_all();
  }
  for (auto& cell : stalled) cell->resume();
  if (RemoteLink* remote = remote_.load(std::memory_order_acquire)) remote->retry_held();
}

void Proc::on_link_room() { notify_room(); }

Proc::Stats Proc::stats() const {
  return Stats{late_replies_dropped_.load(std::memory_order_relaxed),
               mailbox_refusals_.load(std::memory_order_relaxed),
               events_emitted_.load(std::memory_order_relaxed),
               turns_on_io_thread_.load(std::memory_order_relaxed)};
}

void Proc::bounce(Envelope envelope, Error reason) {
  if (envelope.type_name == message_name<Undeliverable>()) {
    // Never bounce a bounce: two dead ends would ping-pong forever.
    if (warn_limiter_.allow()) {
      log_.warn("ZM-UNDELIVERABLE-LOST undeliverable notice for {} dropped: {}",
                envelope.destination.to_string(), reason.describe());
    }
    return;
  }
  if (envelope.sender.proc == id()) {
    return_undeliverable(std::move(envelope), std::move(reason));
    return;
  }
  Undeliverable returned{envelope.sender, envelope.destination, envelope.type_name,
                         std::move(reason)};
  ActorId from{id(), "proc", 0};
  PortId to{envelope.sender, message_port_index(message_name<Undeliverable>())};
  send(make_envelope(std::move(from), std::move(to), returned));
}

void Proc::return_undeliverable(Envelope envelope, Error reason) {
  Undeliverable returned{envelope.sender, envelope.destination, envelope.type_name,
                         std::move(reason)};
  MailboxEntry mailbox;
  {
    std::shared_lock lock(table_mutex_);
    if (auto it = mailboxes_.find(returned.sender); it != mailboxes_.end()) mailbox = it->second;
  }
  if (mailbox.on_undeliverable) {
    mailbox.on_undeliverable(std::move(returned));
    return;
  }
  if (mailbox.queue) {
    emit_event(SupervisionEvent{SupervisionKind::undeliverable, returned.sender,
                                returned.type_name,
                                fmt::format("to {}: {}", returned.destination.to_string(),
                                            returned.reason.describe()),
                                unix_time_now_ns()});
    mailbox.queue->push(std::move(returned));
    return;
  }
  if (auto cell = find_cell(returned.sender)) {
    cell->enqueue_undeliverable(std::move(returned));
    return;
  }
  bool sender_ended = false;
  {
    std::shared_lock lock(table_mutex_);
    sender_ended = ended_.contains(returned.sender);
  }
  if (sender_ended) {
    // Its sender stopped waiting (a client that shut down): expected, not a warning.
    log_.info("{} to {} came back after its sender {} ended: {}", returned.type_name,
              returned.destination.to_string(), returned.sender.to_string(),
              returned.reason.describe());
    return;
  }
  // A peer can send these at will: counted, and logged at a bounded rate.
  if (warn_limiter_.allow()) {
    log_.warn("ZM-UNDELIVERABLE-ORPHAN {} to {} came back but its sender {} is unknown: {} "
              "(further ones within a second are not logged)",
              returned.type_name, returned.destination.to_string(), returned.sender.to_string(),
              returned.reason.describe());
  }
}

void Proc::emit_event(const SupervisionEvent& event) {
  events_emitted_.fetch_add(1, std::memory_order_relaxed);
  if (options_.on_event) {
    options_.on_event(event);
  } else {
    events_.push(event);
  }
}

void Proc::schedule(std::shared_ptr<internal::ActorCell> cell) {
  turn_started();
  // A turn that ends with more queued stays on the I/O thread too, for its next run: a busy
  // actor does not move to the pool for being busy, only for being slow.
  if (deferring_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id() &&
      cell->runs_briefly(Clock::now())) {
    std::lock_guard lock(deferred_mutex_);
    // Held up (the standby thread took over): nobody would run it before the turn that
    // holds the thread returns, and that turn may be waiting for this one.
    if (!io_held_up_) {
      deferred_.push_back(std::move(cell));
      return;
    }
  }
  scheduler_->schedule(std::move(cell));
}

void Proc::defer_turns_to(std::thread::id thread) {
  deferring_thread_.store(thread, std::memory_order_relaxed);
}

bool Proc::finish_io_round() {
  for (auto& queue : ports_to_notify_) queue->notify();
  ports_to_notify_.clear();
  std::lock_guard lock(deferred_mutex_);
  // The thread is back at its rounds: whatever held it up has returned.
  io_held_up_ = false;
  return !deferred_.empty();
}

void Proc::run_deferred_turns() {
  running_deferred_ = true;
  const auto started = Clock::now();
  const auto budget = std::chrono::microseconds(options_.config.io_turn_limit_us / 2);
  do {
    std::shared_ptr<internal::ActorCell> cell;
    {
      std::lock_guard lock(deferred_mutex_);
      if (deferred_.empty()) break;
      cell = std::move(deferred_.front());
      deferred_.pop_front();
    }
    turns_on_io_thread_.fetch_add(1, std::memory_order_relaxed);
    const auto turn_started = Clock::now();
    // Short turns: a full batch of 64 would often outlast io_turn_limit_us, and the I/O
    // thread comes round between them.
    cell->run_turn(std::min<std::uint32_t>(options_.config.mailbox_batch, 8));
    const auto turn_ended = Clock::now();
    // Ten limits: a turn that blocked or computed that long goes to the pool for a second.
    // A shorter overrun may be a turn preempted on a busy machine; the standby thread
    // covers it, and moving the actor would not help.
    if (turn_ended - turn_started >= 10 * std::chrono::microseconds(options_.config.io_turn_limit_us)) {
      cell->mark_slow(turn_ended + std::chrono::seconds(1));
    }
  } while (Clock::now() - started < budget);
  // What is left runs after the next round of I/O.
  running_deferred_ = false;
}

void Proc::release_deferred_turns() {
  std::deque<std::shared_ptr<internal::ActorCell>> cells;
  {
    std::lock_guard lock(deferred_mutex_);
    cells.swap(deferred_);
    io_held_up_ = true;  // until the next run
  }
  for (auto& cell : cells) scheduler_->schedule(std::move(cell));
}

void Proc::turn_started() {
  std::lock_guard lock(turns_mutex_);
  ++turns_in_flight_;
}

void Proc::turn_finished() {
  // Notify under the lock: the moment the count reads zero, ~Proc may destroy the
  // condition variable, so it must not be touched after the lock is released.
  std::lock_guard lock(turns_mutex_);
  if (--turns_in_flight_ == 0) turns_done_.notify_all();
}

Result<void> Proc::stop(Deadline deadline) {
  std::vector<std::shared_ptr<internal::ActorCell>> roots;
  {
    std::shared_lock lock(table_mutex_);
    for (auto& [actor_id, cell] : cells_) {
      if (!cell->has_parent()) roots.push_back(cell);
    }
  }
  for (auto& cell : roots) cell->request_stop("proc is stopping");
  std::vector<std::string> stragglers;
  {
    std::unique_lock lock(table_mutex_);
    table_changed_.wait_until(lock, deadline, [&] { return cells_.empty(); });
    for (auto& [actor_id, cell] : cells_) stragglers.push_back(actor_id.to_string());
  }
  {
    std::unique_lock lock(turns_mutex_);
    turns_done_.wait_until(lock, deadline, [&] { return turns_in_flight_ == 0; });
  }
  ports_->close_all();
  if (!stragglers.empty()) {
    return Error(ErrorCode::timeout,
                 fmt::format("{} did not stop in time: {} (a handler may be blocked)",
                             id().to_string(), fmt::join(stragglers, ", ")));
  }
  return {};
}

// -- Sender, Context, Mailbox: thin over Proc --

void Sender::send(Envelope envelope) {
  envelope.sender = self_;
  proc_->send(std::move(envelope));
}

Result<void> Sender::send_bounded(Envelope envelope, Deadline room_deadline) {
  envelope.sender = self_;
  return proc_->send_bounded(std::move(envelope), room_deadline);
}

std::pair<PortId, std::shared_ptr<internal::PortQueue>> Sender::open_port_queue(bool once) {
  return proc_->ports_->open(self_, once);
}

std::weak_ptr<internal::PortTable> Sender::port_table() const { return proc_->ports_; }

const ActorId& Context::sender() const {
  static const ActorId none;
  return current_ ? current_->sender : none;
}

const Headers& Context::headers() const {
  static const Headers none;
  return current_ ? current_->headers : none;
}

Result<ActorId> Context::spawn_child_actor(std::string name, std::unique_ptr<Actor> actor) {
  if (auto valid = check_name(name, "actor"); !valid) return std::move(valid).error();
  return proc().register_actor(ActorId{proc().id(), std::move(name), 0}, std::move(actor),
                               cell_->shared_from_this());
}

void Context::stop_self() { cell_->request_kill("stopped itself"); }

std::optional<std::uint32_t> Context::coordinate(std::string_view label) const {
  auto place = proc().place();
  if (!place) return std::nullopt;
  return place->coordinate(rank(), label);
}

std::string Context::point() const {
  auto place = proc().place();
  return place ? place->point(rank()) : fmt::format("rank {}", rank());
}

void Proc::set_place(MeshPlace place) {
  std::lock_guard lock(place_mutex_);
  place_ = std::move(place);
}

std::optional<MeshPlace> Proc::place() const {
  std::lock_guard lock(place_mutex_);
  return place_;
}

Mailbox::~Mailbox() {
  if (!undeliverables_) return;
  if (proc_alive_.lock()) proc().detach(self());
}

}  // namespace zmesh
