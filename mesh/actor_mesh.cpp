#include "zmesh/mesh/actor_mesh.hpp"

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/mesh/selection_eval.hpp"

namespace zmesh {

Result<ActorId> ActorMeshBase::actor(std::size_t rank) const {
  auto base = shape_.base_rank_of(rank);
  if (!base) return std::move(base).error();
  return ActorId{state_->proc(static_cast<std::uint32_t>(*base)).proc, name_, 0};
}

Result<CastResult> ActorMeshBase::cast_frames(const Selection& selection,
                                              const std::string& type_name, const Frames& payload) {
  CastResult result;
  result.cast_id = state_->next_cast_id();
  // The cast id seeds '?': each cast picks its own "any", reproducibly.
  auto chosen = eval(selection, shape_, result.cast_id);
  if (!chosen) return std::move(chosen).error();

  CastHeader header;
  header.mesh = state_->world().name + "/" + name_;
  header.cast_id = result.cast_id;
  header.origin = state_->mailbox().self();
  header.labels = shape_.labels();
  for (auto size : shape_.extent().sizes()) header.sizes.push_back(static_cast<std::uint32_t>(size));
  const auto port_index = message_port_index(type_name);

  for (auto base : *chosen) {
    const auto base_rank = static_cast<std::uint32_t>(base);
    const auto view_rank = static_cast<std::uint32_t>(shape_.view_rank_of(base).value());
    if (auto dead = state_->dead(base_rank)) {
      result.skipped.emplace(view_rank, *dead);
      continue;
    }
    header.rank = view_rank;
    Envelope envelope;
    envelope.destination = PortId{ActorId{state_->proc(base_rank).proc, name_, 0}, port_index};
    envelope.type_name = type_name;
    envelope.headers.set(std::string(cast_header_key), header);
    envelope.payload = payload;  // shares the encoded bytes
    state_->mailbox().send(std::move(envelope));
    result.sent.push_back(view_rank);
  }
  return result;
}

void ActorMeshBase::gather(const PortId& port, const CastResult& cast, const std::string& type_name,
                           Deadline deadline, const std::function<Result<Envelope>(Deadline)>& next,
                           const std::function<Result<void>(std::uint32_t, const Envelope&)>& accept,
                           std::map<std::uint32_t, Error>& missing) {
  std::set<std::uint32_t> base_ranks;
  for (auto view_rank : cast.sent) {
    base_ranks.insert(static_cast<std::uint32_t>(shape_.base_rank_of(view_rank).value()));
  }
  auto to_view = [&](std::uint32_t base) {
    return static_cast<std::uint32_t>(shape_.view_rank_of(base).value());
  };
  auto base_missing = state_->collect(
      name_, port, base_ranks, type_name, deadline, next,
      [&](std::uint32_t base, const Envelope& envelope) { return accept(to_view(base), envelope); });
  for (auto& [base, error] : base_missing) missing.emplace(to_view(base), std::move(error));
}

Result<void> ActorMeshBase::stop(Deadline deadline) {
  auto [reply_to, receiver] = state_->mailbox().open_port<StopActorResult>();
  std::set<std::uint32_t> ranks;
  for (std::uint32_t rank = 0; rank < state_->size(); ++rank) {
    if (state_->dead(rank)) continue;
    state_->mailbox().send(state_->proc(rank).agent, StopActor{name_, reply_to});
    ranks.insert(rank);
  }
  auto missing = state_->collect(
      "", reply_to.id, ranks, message_name<StopActorResult>(), deadline,
      [&receiver](Deadline until) { return receiver.recv_envelope(until); },
      [](std::uint32_t, const Envelope&) -> Result<void> { return {}; });
  state_->remove_actor_mesh(name_);
  for (auto& [rank, error] : missing) {
    if (error.code == ErrorCode::timeout) {
      return Error(ErrorCode::timeout,
                   fmt::format("stopping actor mesh \"{}\": {}", name_, error.message));
    }
  }
  return {};
}

}  // namespace zmesh
