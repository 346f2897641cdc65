#include "zmesh/mesh/actor_mesh.hpp"

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/mesh/cast_router.hpp"
#include "zmesh/mesh/internal/mesh_state.hpp"
#include "zmesh/mesh/selection_eval.hpp"

namespace zmesh {

std::vector<std::uint32_t> ActorMeshBase::ranks() const {
  std::vector<std::uint32_t> ranks;
  for (std::size_t view = 0; view < shape_.num_ranks(); ++view) {
    const auto base = static_cast<std::uint32_t>(shape_.base_rank_of(view).value());
    if (!only_ || only_->contains(base)) ranks.push_back(base);
  }
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

std::string ActorMeshBase::point_of(std::uint32_t rank) const { return state_->point_text(rank); }

Result<ActorId> ActorMeshBase::actor(std::uint32_t rank) const {
  const bool held = rank < state_->size() && shape_.view_rank_of(rank).ok() &&
                    (!only_ || only_->contains(rank));
  if (!held) {
    return Error(ErrorCode::not_found,
                 fmt::format("actor mesh \"{}\" {} has no rank {}", name_, shape_.to_string(), rank));
  }
  return ActorId{state_->proc(rank).proc, name_, 0};
}

std::map<std::uint32_t, Error> ActorMeshBase::unreachable() const { return state_->unreachable(name_); }

std::optional<Error> ActorMeshBase::dead(std::uint32_t rank) const {
  auto gone = unreachable();
  if (auto it = gone.find(rank); it != gone.end()) return it->second;
  return std::nullopt;
}

Result<Selection> ActorMeshBase::select_ranks(std::span<const std::uint32_t> ranks) const {
  std::vector<Selection> points;
  for (auto rank : ranks) {
    auto view = shape_.view_rank_of(rank);
    if (!view || (only_ && !only_->contains(rank))) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("rank {} is not in actor mesh \"{}\" {}", rank, name_, shape_.to_string()));
    }
    auto coordinates = shape_.extent().coords_of(*view);
    if (!coordinates) return std::move(coordinates).error();
    std::vector<Selection> chain;
    for (auto coordinate : *coordinates) chain.push_back(Selection::index(coordinate));
    auto point = Selection::chain(std::move(chain));
    if (!point) return std::move(point).error();
    points.push_back(std::move(*point));
  }
  if (points.empty()) return Selection::false_();
  return Selection::union_of(std::move(points));
}

Deadline ActorMeshBase::room_deadline() const { return deadline_in(state_->config().delivery_timeout); }

CastRouter& ActorMeshBase::cast_router() const { return *state_->router(); }

std::shared_ptr<const std::set<std::uint32_t>> ActorMeshBase::only(
    const std::function<bool(std::uint32_t)>& keep) const {
  auto kept = std::make_shared<std::set<std::uint32_t>>();
  for (auto rank : ranks()) {
    if (keep(rank)) kept->insert(rank);
  }
  return kept;
}

Result<ActorMeshBase::CastPlan> ActorMeshBase::plan_cast(const Selection& selection) {
  CastPlan plan;
  plan.result.cast_id = state_->next_cast_id();
  // The cast id seeds '?': each cast picks its own "any", reproducibly.
  auto chosen = eval(selection, shape_, plan.result.cast_id);
  if (!chosen) return std::move(chosen).error();
  const auto gone = unreachable();
  plan.base_ranks.reserve(chosen->size());
  plan.result.sent.reserve(chosen->size());
  for (auto base : *chosen) {
    const auto rank = static_cast<std::uint32_t>(base);
    if (only_ && !only_->contains(rank)) continue;
    if (auto it = gone.find(rank); it != gone.end()) {
      plan.result.skipped.emplace(rank, it->second);
      continue;
    }
    plan.base_ranks.push_back(rank);
    plan.result.sent.push_back(rank);
  }
  return plan;
}

Result<void> ActorMeshBase::check_size(std::string_view type_name, const Frames& payload) const {
  std::size_t bytes = 0;
  for (const auto& frame : payload) bytes += frame.size();
  const auto limit = state_->config().max_message_bytes;
  if (bytes > static_cast<std::size_t>(limit)) {
    return Error(ErrorCode::too_large,
                 fmt::format("{} to actor mesh \"{}\" is {} bytes, over the limit of {} bytes "
                             "(ZMESH_MAX_MESSAGE_BYTES); send it in parts or raise the limit on "
                             "every proc",
                             type_name, name_, bytes, limit));
  }
  return {};
}

Result<CastResult> ActorMeshBase::cast_frames(const Selection& selection,
                                              std::string_view type_name, const Frames& payload,
                                              Deadline room_deadline) {
  if (auto fits = check_size(type_name, payload); !fits) return std::move(fits).error();
  auto plan = plan_cast(selection);
  if (!plan) return std::move(plan).error();
  auto sent = state_->router()->send(
      CastOrder{name_, shape_, plan->result.cast_id, plan->base_ranks, type_name, payload, false,
                nullptr, fanout_},
      room_deadline);
  if (!sent) return std::move(sent).error();
  return std::move(plan->result);
}

Result<std::map<std::uint32_t, Error>> ActorMeshBase::call_frames(
    const Selection& selection, std::string_view type_name, const Frames& payload,
    Deadline deadline, const std::function<Result<void>(std::uint32_t, const Frames&)>& accept) {
  if (auto fits = check_size(type_name, payload); !fits) return std::move(fits).error();
  auto plan = plan_cast(selection);
  if (!plan) return std::move(plan).error();
  auto [reply_to, receiver] = state_->mailbox().open_port<ReplyMessage>();
  // Every rank's handler returns its reply straight to this port.
  Headers headers;
  headers.set(std::string(reply_route_key), ReplyRoute{reply_to.id, {}});
  const CastOrder order{name_, shape_, plan->result.cast_id, plan->base_ranks,
                        type_name, payload, true, &headers, fanout_};
  auto missing = state_->collect(
      name_, reply_to.id, std::set<std::uint32_t>(plan->base_ranks.begin(), plan->base_ranks.end()),
      [&] { return state_->router()->send(order, deadline); }, message_name<ReplyMessage>(),
      deadline, internal::MeshState::envelopes_of(receiver),
      [&](std::uint32_t rank, const Envelope& reply) -> Result<void> {
        if (auto error = internal::reply_error(reply)) return *error;
        if (reply.payload.empty()) {
          return Error(ErrorCode::decode_error, fmt::format("the reply of rank {} has no value", rank));
        }
        return accept(rank, reply.payload);
      },
      {}, [&](std::uint32_t rank, const Error&) {
        // A relay's death: the ranks below it that the cast never reached answer at once.
        state_->router()->rank_failed(plan->result.cast_id, rank, reply_to.id);
      });
  std::vector<std::uint32_t> unanswered;
  for (const auto& [rank, error] : missing) unanswered.push_back(rank);
  state_->router()->finish(plan->result.cast_id, unanswered);
  missing.merge(plan->result.skipped);
  return missing;
}

Result<Folded> ActorMeshBase::reduce_frames(const Selection& selection, std::string_view type_name,
                                            const Frames& payload, const ReducerOps& ops,
                                            Deadline deadline) {
  if (auto fits = check_size(type_name, payload); !fits) return std::move(fits).error();
  auto plan = plan_cast(selection);
  if (!plan) return std::move(plan).error();
  // The router works in ranks of the cast's shape; results are in mesh ranks.
  std::map<std::uint32_t, Error> skipped;
  for (const auto& [rank, error] : plan->result.skipped) {
    skipped.emplace(static_cast<std::uint32_t>(shape_.view_rank_of(rank).value()), error);
  }
  auto folded = state_->router()->reduce(
      CastOrder{name_, shape_, plan->result.cast_id, plan->base_ranks, type_name, payload, true,
                nullptr, fanout_},
      ops, skipped, deadline);
  if (!folded) return std::move(folded).error();
  std::map<std::uint32_t, Error> missing;
  for (auto& [view, error] : folded->missing) {
    missing.emplace(static_cast<std::uint32_t>(shape_.base_rank_of(view).value()), std::move(error));
  }
  folded->missing = std::move(missing);
  return std::move(*folded);
}

Result<void> ActorMeshBase::stop(Deadline deadline) {
  // Before the requests: the stops may be reported before the agents answer.
  state_->actor_mesh_stopping(name_);
  auto [reply_to, receiver] = state_->mailbox().open_port<StopActorResult>();
  auto missing = state_->ask_all_agents(
      reply_to.id,
      [&](std::uint32_t rank) {
        state_->mailbox().send(state_->proc(rank).agent, StopActor{name_, reply_to});
      },
      message_name<StopActorResult>(), deadline,
      internal::MeshState::envelopes_of(receiver),
      [](std::uint32_t, const Envelope&) -> Result<void> { return {}; });
  state_->actor_mesh_stopped(name_);
  state_->router()->mesh_stopped(name_);
  for (auto& [rank, error] : missing) {
    if (error.code == ErrorCode::timeout) {
      return Error(ErrorCode::timeout,
                   fmt::format("stopping actor mesh \"{}\": {}", name_, error.message));
    }
  }
  return {};
}

}  // namespace zmesh
