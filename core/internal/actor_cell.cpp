#include "zmesh/core/internal/actor_cell.hpp"

#include "zmesh/core/proc.hpp"

#include <fmt/format.h>

namespace zmesh::internal {
namespace {

// Runs user code (a handler or hook); what it throws, of any type, comes back as text.
template <class Call>
std::optional<std::string> contained(Call&& call) {
  try {
    std::forward<Call>(call)();
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  } catch (...) {
    return std::string("a non-standard exception was thrown");
  }
}

}  // namespace

ActorCell::ActorCell(Proc& proc, ActorId id, std::unique_ptr<Actor> actor,
                     std::weak_ptr<ActorCell> parent)
    : proc_(proc),
      id_(std::move(id)),
      actor_(std::move(actor)),
      parent_(std::move(parent)),
      had_parent_(!parent_.expired()),
      context_(proc, id_, *this) {}

Result<void> ActorCell::initialize() {
  status_.store(ActorStatus::initializing, std::memory_order_release);
  if (auto thrown = contained([&] { actor_->init(context_); })) {
    status_.store(ActorStatus::failed, std::memory_order_release);
    return Error(ErrorCode::actor_failed,
                 fmt::format("init of {} threw: {}", id_.to_string(), *thrown));
  }
  status_.store(ActorStatus::idle, std::memory_order_release);
  bool schedule = false;
  {
    std::lock_guard lock(mutex_);
    held_ = false;
    if (!queue_.empty() && !scheduled_) schedule = scheduled_ = true;
  }
  if (schedule) proc_.schedule(shared_from_this());
  return {};
}

void ActorCell::push(Item item, bool front) {
  bool schedule = false;
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    if (front) {
      queue_.push_front(std::move(item));
    } else {
      queue_.push_back(std::move(item));
    }
    stalled_ = false;  // anything new is a chance to retry (and stops must get through)
    if (!scheduled_ && !held_) schedule = scheduled_ = true;
  }
  if (schedule) proc_.schedule(shared_from_this());
}

bool ActorCell::full_locked(std::size_t extra_bytes) const {
  const Config& config = proc_.config();
  return queued_messages_ >= config.mailbox_max_messages ||
         queued_bytes_ + extra_bytes > static_cast<std::size_t>(config.mailbox_max_bytes);
}

bool ActorCell::ending() {
  std::lock_guard lock(mutex_);
  return !accepting_;
}

bool ActorCell::has_room(std::size_t bytes) {
  std::lock_guard lock(mutex_);
  if (!full_locked(bytes)) return true;
  refused_ = true;  // whoever asked hears through notify_room() once this drains
  return false;
}

bool ActorCell::count_out_locked(const Envelope& envelope) {
  --queued_messages_;
  queued_bytes_ -= std::min(queued_bytes_, queued_bytes(envelope));
  if (!refused_) return false;
  const Config& config = proc_.config();
  if (queued_messages_ > config.mailbox_max_messages / 2 ||
      queued_bytes_ > static_cast<std::size_t>(config.mailbox_max_bytes / 2)) {
    return false;
  }
  refused_ = false;
  return true;
}

ActorCell::Admission ActorCell::enqueue_message(Envelope& envelope, bool may_run_here,
                                                bool bounded) {
  bool schedule = false;
  bool run_here = false;
  {
    std::lock_guard lock(mutex_);
    if (!accepting_ || finished_) return Admission::closed;
    const std::size_t bytes = queued_bytes(envelope);
    if (bounded && full_locked(bytes)) {
      refused_ = true;
      return Admission::full;
    }
    if (may_run_here && actor_->never_blocks() && !scheduled_ && !held_ && !stalled_ &&
        queue_.empty()) {
      run_here = scheduled_ = true;  // this thread owns the turn
    } else {
      queue_.push_back(std::move(envelope));
      ++queued_messages_;
      queued_bytes_ += bytes;
      if (!scheduled_ && !held_) schedule = scheduled_ = true;
    }
  }
  if (schedule) proc_.schedule(shared_from_this());
  if (run_here) {
    proc_.turn_started();
    Item item(std::move(envelope));
    process(item);
    end_turn();
  }
  return Admission::accepted;
}

void ActorCell::resume() {
  bool schedule = false;
  {
    std::lock_guard lock(mutex_);
    if (!stalled_ || finished_) return;
    stalled_ = false;
    if (!scheduled_ && !held_ && !queue_.empty()) schedule = scheduled_ = true;
  }
  if (schedule) proc_.schedule(shared_from_this());
}

void ActorCell::stall(Envelope&& envelope, std::uint64_t room_generation) {
  {
    std::lock_guard lock(mutex_);
    queued_bytes_ += queued_bytes(envelope);
    ++queued_messages_;
    queue_.push_front(std::move(envelope));
    stalled_ = true;
  }
  proc_.add_stalled(shared_from_this(), room_generation);
}

void ActorCell::end_turn() {
  bool more = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty() || finished_ || stalled_) {
      scheduled_ = false;
    } else {
      more = true;
    }
  }
  if (more) proc_.schedule(shared_from_this());
  proc_.turn_finished();
}

void ActorCell::enqueue_child_event(SupervisionEvent event, bool from_direct_child) {
  bool finished = false;
  {
    std::lock_guard lock(mutex_);
    finished = finished_;
  }
  if (finished) {
    // The parent already ended: the event still must reach someone.
    proc_.emit_event(event);
    return;
  }
  push(ChildEvent{std::move(event), from_direct_child});
}

void ActorCell::enqueue_undeliverable(Undeliverable returned) { push(std::move(returned)); }

void ActorCell::request_stop(std::string reason) {
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
  }
  push(StopRequest{std::move(reason)});
}

void ActorCell::request_kill(std::string reason) {
  std::vector<Item> dropped;
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    // Child events must still be seen so that the stop can complete.
    for (auto& item : queue_) {
      if (std::holds_alternative<ChildEvent>(item)) continue;
      dropped.push_back(std::move(item));
    }
    queue_.erase_if([](const Item& item) { return !std::holds_alternative<ChildEvent>(item); });
    queued_messages_ = 0;
    queued_bytes_ = 0;
    stalled_ = false;
  }
  for (auto& item : dropped) {
    if (auto* envelope = std::get_if<Envelope>(&item)) {
      proc_.bounce(std::move(*envelope),
                   Error(ErrorCode::stopped, fmt::format("{} was killed: {}", id_.to_string(), reason)));
    }
  }
  push(StopRequest{std::move(reason)}, /*front=*/true);
}

bool ActorCell::add_child(std::shared_ptr<ActorCell> child) {
  std::lock_guard lock(mutex_);
  if (!accepting_ || finished_) return false;
  children_.emplace(child->id(), std::move(child));
  return true;
}

void ActorCell::run() { run_turn(proc_.config().mailbox_batch); }

void ActorCell::run_turn(std::uint32_t batch) {
  for (std::uint32_t handled = 0; handled < batch; ++handled) {
    Item item;
    bool drained = false;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty() || finished_ || stalled_) break;
      item = std::move(queue_.front());
      queue_.pop_front();
      if (auto* envelope = std::get_if<Envelope>(&item)) drained = count_out_locked(*envelope);
    }
    if (drained) proc_.notify_room();
    process(item);
  }
  // After a full batch, other actors get the pool before we come back.
  end_turn();
}

void ActorCell::process(Item& item) {
  std::visit(
      [&](auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, Envelope>) {
          if (ending_) {
            proc_.bounce(std::move(value),
                         Error(ErrorCode::stopped, fmt::format("{} is stopping", id_.to_string())));
            return;
          }
          handle_message(value);
        } else if constexpr (std::is_same_v<T, ChildEvent>) {
          handle_child_event(value);
        } else if constexpr (std::is_same_v<T, Undeliverable>) {
          if (ending_) return;
          if (auto thrown = contained([&] { actor_->on_undeliverable(context_, value); })) {
            fail(std::string(message_name<Undeliverable>()), "on_undeliverable threw: " + *thrown);
          }
        } else {
          if (!ending_) begin_ending(Ending{SupervisionKind::actor_stopped, "", value.reason});
        }
      },
      item);
}

void ActorCell::handle_message(Envelope& envelope) {
  const Actor::RawHandler* handler = actor_->find_handler(envelope.type_name);
  if (handler == nullptr) {
    // An actor with no handlers at all was most likely built with std::make_unique, which
    // skips the handlers its type lists.
    proc_.bounce(std::move(envelope),
                 Error(ErrorCode::undeliverable,
                       fmt::format("{} has no handler for message type {}{}", id_.to_string(),
                                   envelope.type_name,
                                   actor_->has_handlers()
                                       ? ""
                                       : " (it has no handlers at all: build actors with "
                                         "zmesh::make_actor<A>(params), which registers the "
                                         "handlers A lists)")));
    return;
  }
  status_.store(ActorStatus::processing, std::memory_order_release);
  context_.current_ = &envelope;
  // Room that appears while the handler runs must not be missed if it then stalls.
  const auto room_generation = proc_.room_generation();
  Result<void> handled;
  auto thrown = contained([&] { handled = (*handler)(context_, envelope); });
  context_.current_ = nullptr;
  if (thrown) {
    fail(envelope.type_name, std::move(*thrown));
    return;
  }
  if (!ending_) status_.store(ActorStatus::idle, std::memory_order_release);
  if (handled) return;
  if (handled.error().code == ErrorCode::backpressure) {
    // No room downstream yet (raw handlers that forward check first): retry this message
    // once room appears, keeping the order of what follows.
    stall(std::move(envelope), room_generation);
    return;
  }
  // The message itself was bad (it did not decode): the sender hears about it, the
  // receiving actor carries on.
  proc_.bounce(std::move(envelope), std::move(handled).error());
}

void ActorCell::handle_child_event(ChildEvent& child) {
  if (child.from_direct_child) {
    std::lock_guard lock(mutex_);
    children_.erase(child.event.actor);
  }
  if (ending_) {
    // Stopping: we only wait for children to be gone.
    bool last = false;
    {
      std::lock_guard lock(mutex_);
      last = children_.empty();
    }
    if (last) finish();
    return;
  }
  bool handled = false;
  if (auto thrown = contained([&] { handled = actor_->on_child_event(context_, child.event); })) {
    fail(std::string(message_name<SupervisionEvent>()), "on_child_event threw: " + *thrown);
    return;
  }
  if (handled) return;
  if (auto parent = parent_.lock()) {
    parent->enqueue_child_event(std::move(child.event), /*from_direct_child=*/false);
  } else {
    proc_.emit_event(child.event);
  }
}

void ActorCell::fail(std::string message_type, std::string reason) {
  proc_.log().warn("ZM-ACTOR-FAILED {} failed handling {}: {}", id_.to_string(),
                   message_type.empty() ? "(no message)" : message_type, reason);
  begin_ending(Ending{SupervisionKind::actor_failed, std::move(message_type), std::move(reason)});
}

void ActorCell::begin_ending(Ending ending) {
  ending_ = std::move(ending);
  status_.store(ActorStatus::stopping, std::memory_order_release);
  std::vector<std::shared_ptr<ActorCell>> children;
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    for (auto& [child_id, child] : children_) children.push_back(child);
  }
  if (children.empty()) {
    finish();
    return;
  }
  for (auto& child : children) {
    child->request_stop(fmt::format("parent {} is stopping", id_.to_string()));
  }
}

void ActorCell::finish() {
  if (auto thrown = contained([&] { actor_->cleanup(context_); })) {
    proc_.log().warn("ZM-ACTOR-CLEANUP {} cleanup threw: {}", id_.to_string(), *thrown);
    if (ending_->kind == SupervisionKind::actor_stopped) {
      ending_ = Ending{SupervisionKind::actor_failed, "", "cleanup threw: " + *thrown};
    }
  }
  const ActorStatus final_status =
      ending_->kind == SupervisionKind::actor_failed ? ActorStatus::failed : ActorStatus::stopped;
  RingDeque<Item> leftover;
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
    leftover.swap(queue_);
    queued_messages_ = 0;
    queued_bytes_ = 0;
    stalled_ = false;
  }
  status_.store(final_status, std::memory_order_release);
  SupervisionEvent event{ending_->kind, id_, ending_->message_type, ending_->reason,
                         unix_time_now_ns()};
  proc_.forget_cell(id_, final_status, event.describe());
  proc_.notify_room();  // senders this mailbox refused now hear that it is gone
  for (auto& item : leftover) {
    if (auto* envelope = std::get_if<Envelope>(&item)) {
      proc_.bounce(std::move(*envelope),
                   Error(ErrorCode::stopped, fmt::format("{}", event.describe())));
    }
  }
  if (auto parent = parent_.lock()) {
    parent->enqueue_child_event(std::move(event), /*from_direct_child=*/true);
  } else {
    proc_.emit_event(event);
  }
}

}  // namespace zmesh::internal
