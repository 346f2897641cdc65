#include "zmesh/comm/internal/tree_router.hpp"

#include "zmesh/comm/internal/cast_control_frames.hpp"
#include "zmesh/comm/internal/rank_runs.hpp"
#include "zmesh/mesh/internal/mesh_state.hpp"

#include <algorithm>

namespace zmesh::comm {
namespace {

using internal::CastControl;
using internal::Partial;
using zmesh::internal::RankFailed;

std::uint32_t millis_until(Deadline deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return static_cast<std::uint32_t>(std::clamp<long long>(left, 0, UINT32_MAX));
}

// The root's parts: one per child of the client, each over its subtree.
std::vector<internal::Reduction::Part> root_parts(const DeliveryPlan& plan) {
  std::vector<internal::Reduction::Part> parts;
  for (std::size_t head : plan.root_children()) {
    auto subtree = plan.subtree_of(head).value();
    const auto begin = static_cast<std::size_t>(subtree.data() - plan.ranks().data());
    parts.push_back({static_cast<std::uint32_t>(head), begin, begin + subtree.size()});
  }
  return parts;
}

}  // namespace

TreeRouter::TreeRouter(zmesh::internal::MeshState& state,
                       const std::shared_ptr<internal::TimerService>& timers,
                       Clock::duration stream_idle)
    : state_(state), stream_idle_(stream_idle), idle_timer_(timers->add([this] { check_idle(); })) {}

TreeRouter& TreeRouter::of(const ActorMeshBase& mesh) {
  // Every ProcMesh's router is the one CommTree made (init.cpp).
  return static_cast<TreeRouter&>(mesh.cast_router());
}

ActorId TreeRouter::comm_actor(std::uint32_t rank) const {
  return ActorId{state_.proc(rank).proc, std::string(comm_actor_name), 0};
}

Result<DeliveryPlan> TreeRouter::send(const CastOrder& order, const internal::ReduceSpec* reduction,
                                      Deadline deadline) {
  // A fan-out of 0 could reach no one; Config does not forbid it, so it means a chain.
  const std::size_t fanout = std::max<std::uint32_t>(
      1, order.fanout != 0 ? order.fanout : state_.config().cast_fanout);
  // Planned before numbering: a cast that is not sent must not leave a gap in the streams.
  auto plan = DeliveryPlan::over_ranks(
      std::vector<std::size_t>(order.ranks.begin(), order.ranks.end()), fanout);
  if (!plan) {
    // The ranks come from plan_cast, sorted and distinct: this is a bug.
    state_.client().log().error("ZM-CAST-PLAN cast {} of {}: {}", order.cast_id, order.mesh_name,
                                plan.error().describe());
    return Error(ErrorCode::internal,
                 fmt::format("cast {} of {} could not be planned: {}", order.cast_id,
                             order.mesh_name, plan.error().message));
  }
  const auto& ranks = plan->ranks();
  // Room first, before the cast takes its place in the streams: a cast that could go nowhere
  // must not consume counters, whose skips would be traffic of their own (a try_cast loop
  // against full links would flood them).
  const auto port = message_port_index(message_name<CastControl>());
  std::size_t bytes = 256;  // the control frame, roughly
  for (const auto& frame : order.payload) bytes += frame.size();
  const auto heads = plan->root_children();
  for (std::size_t head : heads) {
    const PortId to{comm_actor(static_cast<std::uint32_t>(head)), port};
    if (!state_.client().wait_for_room(to, bytes, deadline)) {
      return Error(ErrorCode::backpressure,
                   fmt::format("cast {} of {}: the link to rank {} stayed full until the "
                               "deadline (ZMESH_LINK_WINDOW_*); the receivers are slow or "
                               "blocked",
                               order.cast_id, order.mesh_name, head));
    }
  }
  std::vector<std::uint64_t> counters(ranks.size());
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    generation = generation_;
    auto it = streams_.find(order.mesh_name);
    if (it == streams_.end()) {
      it = streams_
               .emplace(std::string(order.mesh_name),
                        Stream{std::vector<std::uint64_t>(state_.size(), 0), {}})
               .first;
    }
    const auto now = Clock::now();
    it->second.last_used = now;
    for (std::size_t i = 0; i < ranks.size(); ++i) counters[i] = ++it->second.counters.at(ranks[i]);
    if (order.tracked) {
      tracked_[order.cast_id] =
          Tracked{std::string(order.mesh_name), order.ranks, counters, generation, fanout};
    }
    if (!idle_armed_) {
      idle_armed_ = true;
      idle_timer_->arm(now + stream_idle_);
    }
  }

  CastControl control;
  control.mesh = state_.world().name() + "/" + std::string(order.mesh_name);
  control.cast_id = order.cast_id;
  control.origin = state_.mailbox().self();
  control.actor = std::string(order.mesh_name);
  control.type_name = std::string(order.type_name);
  control.shape = order.shape.to_string();
  control.fanout = static_cast<std::uint32_t>(fanout);
  control.generation = generation;
  if (order.headers != nullptr) {
    for (const auto& [key, encoded] : order.headers->raw()) control.headers.emplace(key, encoded);
  }
  if (reduction) {
    control.reduce = true;
    control.reduction = *reduction;
    const auto remaining = millis_until(deadline);
    control.reduction.margin_ms = internal::level_margin(remaining, plan->depth());
    control.reduction.budget_ms =
        remaining > control.reduction.margin_ms ? remaining - control.reduction.margin_ms : 0;
  }
  internal::CastControlFrames frames(control);
  for (std::size_t head : heads) {
    auto subtree = plan->subtree_of(head).value();
    const auto begin = static_cast<std::size_t>(subtree.data() - ranks.data());
    Envelope envelope;
    envelope.destination = PortId{comm_actor(static_cast<std::uint32_t>(head)), port};
    envelope.type_name = std::string(message_name<CastControl>());
    envelope.payload.reserve(order.payload.size() + 1);
    envelope.payload.push_back(
        frames.with_ranks(subtree, std::span(counters).subspan(begin, subtree.size())));
    envelope.payload.insert(envelope.payload.end(), order.payload.begin(), order.payload.end());
    if (auto sent = state_.mailbox().send_bounded(std::move(envelope), deadline); !sent) {
      // Room was there a moment ago (another thread took it, or the message is too large):
      // this subtree and the ones after it never get the cast, and their counters must not
      // hold up later casts (finish() does that for a tracked cast).
      if (!order.tracked) {
        for (std::size_t i = begin; i < ranks.size(); ++i) {
          const auto rank = static_cast<std::uint32_t>(ranks[i]);
          state_.mailbox().send(
              comm_actor(rank), internal::SkipCasts{state_.mailbox().self(),
                                                    std::string(order.mesh_name), generation,
                                                    {counters[i]}});
        }
      }
      return Error(sent.error().code,
                   fmt::format("cast {} of {} reached {} of {} ranks: {}", order.cast_id,
                               order.mesh_name, begin, ranks.size(), sent.error().message));
    }
  }
  return std::move(*plan);
}

void TreeRouter::finish(std::uint64_t cast_id, const std::vector<std::uint32_t>& unanswered) {
  Tracked tracked;
  {
    std::lock_guard lock(mutex_);
    auto it = tracked_.find(cast_id);
    if (it == tracked_.end()) return;
    tracked = std::move(it->second);
    tracked_.erase(it);
  }
  // A rank that did get the cast ignores the skip: it is past that counter already.
  for (auto rank : unanswered) {
    if (state_.dead(rank)) continue;
    auto at = std::lower_bound(tracked.ranks.begin(), tracked.ranks.end(), rank);
    if (at == tracked.ranks.end() || *at != rank) continue;
    const auto counter = tracked.counters[static_cast<std::size_t>(at - tracked.ranks.begin())];
    state_.mailbox().send(
        comm_actor(rank),
        internal::SkipCasts{state_.mailbox().self(), tracked.mesh_name, tracked.generation,
                            {counter}});
  }
}

void TreeRouter::rank_failed(std::uint64_t cast_id, std::uint32_t rank, const PortId& reply_to) {
  // Only a dead proc loses what it was relaying; a failed actor's comm actor still forwards.
  auto died = state_.dead(rank);
  if (!died) return;
  Tracked tracked;
  {
    std::lock_guard lock(mutex_);
    auto it = tracked_.find(cast_id);
    if (it == tracked_.end()) return;
    tracked = it->second;
  }
  auto plan = DeliveryPlan::over_ranks(
      std::vector<std::size_t>(tracked.ranks.begin(), tracked.ranks.end()), tracked.fanout);
  if (!plan || !plan->contains(rank)) return;
  const auto subtree = plan->subtree_of(rank).value();
  const std::string relay = fmt::format("rank {} ({})", rank, state_.point_text(rank));
  // The subtree starts with the relay itself; each rank below it that the cast has not
  // reached skips it and answers for its actor, so the call need not wait for its deadline.
  for (std::size_t below : subtree.subspan(1)) {
    const auto base = static_cast<std::uint32_t>(below);
    if (state_.dead(base)) continue;
    auto at = std::lower_bound(tracked.ranks.begin(), tracked.ranks.end(), base);
    const auto counter = tracked.counters[static_cast<std::size_t>(at - tracked.ranks.begin())];
    const Error lost(ErrorCode::proc_failed,
                     fmt::format("cast {} of {}/{}: relay {} died before passing it on to rank "
                                 "{} ({}): {}",
                                 cast_id, state_.world().name(), tracked.mesh_name, relay, base,
                                 state_.point_text(base), died->message));
    state_.mailbox().send(comm_actor(base),
                          internal::Unreached{state_.mailbox().self(), tracked.mesh_name,
                                              tracked.generation, counter, reply_to, lost});
  }
}

void TreeRouter::proc_lost(std::uint32_t rank) {
  std::vector<std::uint32_t> live;
  for (std::uint32_t to = 0; to < state_.size(); ++to) {
    if (!state_.dead(to)) live.push_back(to);  // MeshState's lock, not under ours
  }
  std::vector<std::pair<std::uint32_t, internal::ProcLost>> notices;
  {
    std::lock_guard lock(mutex_);
    for (auto to : live) {
      internal::ProcLost notice{state_.mailbox().self(), rank, generation_, {}};
      for (const auto& [name, stream] : streams_) {
        if (stream.counters[to] > 0) notice.upto.emplace(name, stream.counters[to]);
      }
      notices.emplace_back(to, std::move(notice));
    }
  }
  // Every live proc, even one this generation sent nothing: an earlier generation may still
  // owe it casts lost with the dead proc.
  for (auto& [to, notice] : notices) state_.mailbox().send(comm_actor(to), notice);
}

void TreeRouter::mesh_stopped(std::string_view mesh_name) {
  std::vector<std::pair<std::uint32_t, internal::CloseGeneration>> closes;
  {
    std::lock_guard lock(mutex_);
    if (!streams_.contains(mesh_name)) return;
    closes = close_generation();
  }
  send_closes(std::move(closes));
}

void TreeRouter::check_idle() {
  std::vector<std::pair<std::uint32_t, internal::CloseGeneration>> closes;
  {
    std::lock_guard lock(mutex_);
    idle_armed_ = false;
    if (streams_.empty()) return;
    const auto now = Clock::now();
    auto oldest = now;
    for (const auto& [name, stream] : streams_) oldest = std::min(oldest, stream.last_used);
    if (now - oldest < stream_idle_) {
      idle_armed_ = true;
      idle_timer_->arm(oldest + stream_idle_);
      return;
    }
    // One idle stream closes the generation of all: busy ones go on at 1 in the next.
    closes = close_generation();
  }
  send_closes(std::move(closes));
}

std::vector<std::pair<std::uint32_t, internal::CloseGeneration>> TreeRouter::close_generation() {
  std::vector<std::pair<std::uint32_t, internal::CloseGeneration>> closes;
  for (std::uint32_t to = 0; to < state_.size(); ++to) {
    internal::CloseGeneration close{state_.mailbox().self(), generation_, {}};
    for (const auto& [name, stream] : streams_) {
      if (stream.counters[to] > 0) close.last.emplace(name, stream.counters[to]);
    }
    closes.emplace_back(to, std::move(close));
  }
  ++generation_;
  streams_.clear();
  return closes;
}

void TreeRouter::send_closes(std::vector<std::pair<std::uint32_t, internal::CloseGeneration>> closes) {
  // Every live proc, even one this generation sent nothing: it must move on to the next.
  for (auto& [to, close] : closes) {
    if (!state_.dead(to)) state_.mailbox().send(comm_actor(to), close);
  }
}

Result<Folded> TreeRouter::reduce(const CastOrder& order, const ReducerOps& ops,
                                  const std::map<std::uint32_t, Error>& skipped,
                                  Deadline deadline) {
  const std::string mesh = state_.world().name() + "/" + std::string(order.mesh_name);
  const auto started = Clock::now();
  auto [reply_to, replies] = state_.mailbox().open_port<Partial>();
  // Registered before sending, so that no death or failure of a rank goes unnoticed.
  const auto watch =
      state_.begin_gather(std::string(order.mesh_name), reply_to.id,
                          std::set<std::uint32_t>(order.ranks.begin(), order.ranks.end()));
  const internal::ReduceSpec spec{ops.name, reply_to.id, 0, 0};
  CastOrder tracked_order = order;
  tracked_order.tracked = true;
  auto plan = send(tracked_order, &spec, deadline);
  if (!plan) {
    state_.end_gather(watch);
    Folded failed{std::nullopt, 0, skipped};
    std::vector<std::uint32_t> unanswered;
    for (auto base : order.ranks) {
      unanswered.push_back(base);
      failed.missing.insert_or_assign(
          static_cast<std::uint32_t>(order.shape.view_rank_of(base).value()), plan.error());
    }
    finish(order.cast_id, unanswered);
    return failed;
  }

  std::vector<std::uint32_t> view_ranks;
  for (auto base : order.ranks) {
    view_ranks.push_back(static_cast<std::uint32_t>(order.shape.view_rank_of(base).value()));
  }
  internal::Reduction root(&ops, view_ranks, root_parts(*plan));
  while (!root.complete()) {
    // One wake-up for the parts' messages, not one per part.
    auto envelope = replies.recv_envelope(deadline, root.waiting());
    if (!envelope) break;  // the deadline passed
    if (envelope->payload.empty()) continue;
    if (envelope->type_name == message_name<Partial>()) {
      auto partial = decode<Partial>(envelope->payload);  // with the value's frames
      if (partial && partial->cast_id == order.cast_id)
        root.report(partial->from, std::move(*partial));
    } else if (envelope->type_name == message_name<RankFailed>()) {
      auto failed = decode<RankFailed>(envelope->payload.front());
      if (failed) rank_failed(order, *plan, root, failed->rank, failed->reason);
    }
  }
  state_.end_gather(watch);

  const auto waited = std::chrono::duration_cast<Millis>(Clock::now() - started).count();
  auto folded = root.finish([&](const internal::Reduction::Part& part) {
    return Error(
        ErrorCode::timeout,
        fmt::format("cast {} of {}: no reply from {} or the ranks it relays to within "
                    "{} ms",
                    order.cast_id, mesh, internal::rank_text(order.shape, part.head), waited));
  });
  Folded result{std::move(folded.value), folded.contributors, skipped};
  std::vector<std::uint32_t> unanswered;
  for (const auto& run : folded.missing) {
    for (std::uint32_t i = 0; i < run.count; ++i) {
      const std::uint32_t rank = run.first + i;
      const auto base = static_cast<std::uint32_t>(order.shape.base_rank_of(rank).value());
      unanswered.push_back(base);
      // A rank that died itself says so, whatever its relay reported.
      auto dead = state_.dead(base);
      result.missing.insert_or_assign(rank, dead ? *dead : run.reason);
    }
  }
  finish(order.cast_id, unanswered);
  return result;
}

void TreeRouter::rank_failed(const CastOrder& order, const DeliveryPlan& plan,
                             internal::Reduction& root, std::uint32_t rank, const Error& reason) {
  if (!plan.contains(rank)) return;
  const ActorId origin = state_.mailbox().self();
  const std::string actor(order.mesh_name);
  if (!state_.dead(rank)) {
    // Its proc lives, so its comm actor waits for the reply that will not come.
    state_.mailbox().send(comm_actor(rank),
                          internal::SlotLost{origin, actor, order.cast_id, rank, reason});
    return;
  }
  // The proc is gone with its comm actor: whatever its subtree replied is lost with it.
  const Error lost(ErrorCode::proc_failed,
                   fmt::format("cast {} of {}/{}: relay {} died before passing on its subtree's "
                               "replies: {}",
                               order.cast_id, state_.world().name(), actor,
                               internal::rank_text(order.shape, rank), reason.message));
  auto parent = plan.parent_of(rank).value();
  if (!parent) {
    root.lose(rank, lost);
    return;
  }
  const auto parent_rank = static_cast<std::uint32_t>(*parent);
  // A dead parent's own loss covers this subtree too.
  if (state_.dead(parent_rank)) return;
  state_.mailbox().send(comm_actor(parent_rank),
                        internal::SlotLost{origin, actor, order.cast_id, rank, lost});
}

std::size_t TreeRouter::tracked() const {
  std::lock_guard lock(mutex_);
  return tracked_.size();
}

std::size_t TreeRouter::streams() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

std::map<std::uint32_t, Result<CommStats>> TreeRouter::stats(Deadline deadline) {
  std::map<std::uint32_t, Result<CommStats>> stats;
  auto [reply_to, replies] = state_.mailbox().open_port<CommStats>();
  auto missing = state_.ask_all_agents(
      reply_to.id,
      [&](std::uint32_t rank) {
        state_.mailbox().send(comm_actor(rank), CommStatsQuery{reply_to});
      },
      message_name<CommStats>(), deadline,
      zmesh::internal::MeshState::envelopes_of(replies),
      [&](std::uint32_t rank, const Envelope& envelope) -> Result<void> {
        auto decoded = decode<CommStats>(envelope.payload.front());
        if (!decoded) return std::move(decoded).error();
        stats.emplace(rank, std::move(*decoded));
        return {};
      },
      comm_actor_name);
  for (auto& [rank, error] : missing) stats.emplace(rank, std::move(error));
  return stats;
}

}  // namespace zmesh::comm
