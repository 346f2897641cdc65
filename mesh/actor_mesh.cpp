#include "zmesh/mesh/actor_mesh.hpp"

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/mesh/selection_eval.hpp"

namespace zmesh {

Result<ActorId> ActorMeshBase::actor(std::size_t rank) const {
  auto base = shape_.base_rank_of(rank);
  if (!base) return std::move(base).error();
  return ActorId{state_->proc(static_cast<std::uint32_t>(*base)).proc, name_, 0};
}

Result<ActorMeshBase::CastPlan> ActorMeshBase::plan_cast(const Selection& selection) {
  CastPlan plan;
  plan.result.cast_id = state_->next_cast_id();
  // The cast id seeds '?': each cast picks its own "any", reproducibly.
  auto chosen = eval(selection, shape_, plan.result.cast_id);
  if (!chosen) return std::move(chosen).error();
  for (auto base : *chosen) {
    const auto base_rank = static_cast<std::uint32_t>(base);
    const auto view_rank = static_cast<std::uint32_t>(shape_.view_rank_of(base).value());
    if (auto dead = state_->dead(base_rank)) {
      plan.result.skipped.emplace(view_rank, *dead);
      continue;
    }
    plan.base_ranks.push_back(base_rank);
    plan.result.sent.push_back(view_rank);
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

Result<void> ActorMeshBase::send_cast(const CastPlan& plan, const std::string& type_name,
                                      const Frames& payload, bool tracked,
                                      Deadline room_deadline) {
  if (auto fits = check_size(type_name, payload); !fits) return fits;
  if (CastRouter* router = cast_router()) {
    return router->send(CastOrder{name_, shape_, plan.result.cast_id, plan.base_ranks, type_name,
                                  payload, tracked},
                        room_deadline);
  }
  CastHeader header;
  header.mesh = state_->world().name + "/" + name_;
  header.cast_id = plan.result.cast_id;
  header.origin = state_->mailbox().self();
  header.labels = shape_.labels();
  for (auto size : shape_.extent().sizes()) header.sizes.push_back(static_cast<std::uint32_t>(size));
  const auto port_index = message_port_index(type_name);
  for (std::size_t i = 0; i < plan.base_ranks.size(); ++i) {
    header.rank = plan.result.sent[i];
    Envelope envelope;
    envelope.destination =
        PortId{ActorId{state_->proc(plan.base_ranks[i]).proc, name_, 0}, port_index};
    envelope.type_name = type_name;
    envelope.headers.set(std::string(cast_header_key), header);
    envelope.payload = payload;  // shares the encoded bytes
    if (auto sent = state_->mailbox().send_bounded(std::move(envelope), room_deadline); !sent) {
      return Error(sent.error().code,
                   fmt::format("cast {} to \"{}\" reached {} of {} ranks: {}",
                               plan.result.cast_id, name_, i, plan.base_ranks.size(),
                               sent.error().message));
    }
  }
  return {};
}

Result<CastResult> ActorMeshBase::cast_frames(const Selection& selection,
                                              const std::string& type_name, const Frames& payload,
                                              Deadline room_deadline) {
  auto plan = plan_cast(selection);
  if (!plan) return std::move(plan).error();
  if (auto sent = send_cast(*plan, type_name, payload, /*tracked=*/false, room_deadline); !sent) {
    return std::move(sent).error();
  }
  return std::move(plan->result);
}

std::map<std::uint32_t, Error> ActorMeshBase::cast_and_collect(
    const CastPlan& plan, const std::string& type_name, const Frames& payload, const PortId& port,
    const std::string& reply_type, Deadline deadline,
    const std::function<Result<Envelope>(Deadline)>& next,
    const std::function<Result<void>(std::uint32_t, const Envelope&)>& accept) {
  auto to_view = [&](std::uint32_t base) {
    return static_cast<std::uint32_t>(shape_.view_rank_of(base).value());
  };
  std::map<std::uint32_t, Error> missing = plan.result.skipped;
  auto base_missing = state_->collect(
      name_, port, std::set<std::uint32_t>(plan.base_ranks.begin(), plan.base_ranks.end()),
      [&] { return send_cast(plan, type_name, payload, /*tracked=*/true, deadline); }, reply_type,
      deadline, next,
      [&](std::uint32_t base, const Envelope& envelope) { return accept(to_view(base), envelope); });
  if (CastRouter* router = cast_router()) {
    std::vector<std::uint32_t> unanswered;
    for (const auto& [base, error] : base_missing) unanswered.push_back(base);
    router->finish(plan.result.cast_id, unanswered);
  }
  for (auto& [base, error] : base_missing) missing.emplace(to_view(base), std::move(error));
  return missing;
}

Result<void> ActorMeshBase::stop(Deadline deadline) {
  auto [reply_to, receiver] = state_->mailbox().open_port<StopActorResult>();
  auto missing = state_->ask_all_agents(
      reply_to.id,
      [&](std::uint32_t rank) {
        state_->mailbox().send(state_->proc(rank).agent, StopActor{name_, reply_to});
      },
      message_name<StopActorResult>(), deadline,
      [&receiver](Deadline until) { return receiver.recv_envelope(until); },
      [](std::uint32_t, const Envelope&) -> Result<void> { return {}; });
  state_->actor_mesh_stopped(name_);
  for (auto& [rank, error] : missing) {
    if (error.code == ErrorCode::timeout) {
      return Error(ErrorCode::timeout,
                   fmt::format("stopping actor mesh \"{}\": {}", name_, error.message));
    }
  }
  return {};
}

}  // namespace zmesh
