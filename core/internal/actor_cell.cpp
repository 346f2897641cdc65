#include "zmesh/core/internal/actor_cell.hpp"

#include "zmesh/core/proc.hpp"

#include <fmt/format.h>

namespace zmesh::internal {

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
  try {
    actor_->init(context_);
  } catch (const std::exception& e) {
    status_.store(ActorStatus::failed, std::memory_order_release);
    return Error(ErrorCode::actor_failed, fmt::format("init of {} threw: {}", id_.to_string(), e.what()));
  } catch (...) {
    status_.store(ActorStatus::failed, std::memory_order_release);
    return Error(ErrorCode::actor_failed,
                 fmt::format("init of {} threw a non-standard exception", id_.to_string()));
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
    if (!scheduled_ && !held_) schedule = scheduled_ = true;
  }
  if (schedule) proc_.schedule(shared_from_this());
}

bool ActorCell::enqueue_message(Envelope& envelope, bool may_run_here) {
  bool schedule = false;
  bool run_here = false;
  {
    std::lock_guard lock(mutex_);
    if (!accepting_ || finished_) return false;
    if (may_run_here && actor_->never_blocks() && !scheduled_ && !held_ && queue_.empty()) {
      run_here = scheduled_ = true;  // this thread owns the turn
    } else {
      queue_.push_back(std::move(envelope));
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
  return true;
}

void ActorCell::end_turn() {
  bool more = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty() || finished_) {
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
  std::deque<Item> dropped;
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    // Child events must still be seen so that the stop can complete.
    for (auto& item : queue_) {
      if (std::holds_alternative<ChildEvent>(item)) continue;
      dropped.push_back(std::move(item));
    }
    std::erase_if(queue_, [](const Item& item) { return !std::holds_alternative<ChildEvent>(item); });
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

void ActorCell::run() {
  const auto batch = proc_.config().mailbox_batch;
  for (std::uint32_t handled = 0; handled < batch; ++handled) {
    Item item;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty() || finished_) break;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
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
          try {
            actor_->on_undeliverable(context_, value);
          } catch (const std::exception& e) {
            fail(std::string(message_name<Undeliverable>()), e.what());
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
    proc_.bounce(std::move(envelope),
                 Error(ErrorCode::undeliverable,
                       fmt::format("{} has no handler for message type {}", id_.to_string(),
                                   envelope.type_name)));
    return;
  }
  status_.store(ActorStatus::processing, std::memory_order_release);
  context_.current_ = &envelope;
  Result<void> handled;
  try {
    handled = (*handler)(context_, envelope);
  } catch (const std::exception& e) {
    context_.current_ = nullptr;
    fail(envelope.type_name, e.what());
    return;
  } catch (...) {
    context_.current_ = nullptr;
    fail(envelope.type_name, "a non-standard exception was thrown");
    return;
  }
  context_.current_ = nullptr;
  if (!ending_) status_.store(ActorStatus::idle, std::memory_order_release);
  if (!handled) {
    // The message itself was bad (it did not decode): the sender hears about it, the
    // receiving actor carries on.
    proc_.bounce(std::move(envelope), std::move(handled).error());
  }
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
  try {
    handled = actor_->on_child_event(context_, child.event);
  } catch (const std::exception& e) {
    fail(std::string(message_name<SupervisionEvent>()), e.what());
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
  try {
    actor_->cleanup(context_);
  } catch (const std::exception& e) {
    if (ending_->kind == SupervisionKind::actor_stopped) {
      ending_ = Ending{SupervisionKind::actor_failed, "", fmt::format("cleanup threw: {}", e.what())};
    }
  }
  const ActorStatus final_status =
      ending_->kind == SupervisionKind::actor_failed ? ActorStatus::failed : ActorStatus::stopped;
  std::deque<Item> leftover;
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
    leftover.swap(queue_);
  }
  status_.store(final_status, std::memory_order_release);
  SupervisionEvent event{ending_->kind, id_, ending_->message_type, ending_->reason,
                         unix_time_now_ns()};
  proc_.forget_cell(id_, final_status, event.describe());
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
