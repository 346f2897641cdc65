#include "zmesh/mesh/proc_mesh.hpp"

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/mesh/cast_router.hpp"
#include "zmesh/mesh/internal/mesh_state.hpp"

#include <fmt/ranges.h>

namespace zmesh {
namespace {

Result<Shape> shape_of(const AllocSpec& spec) {
  std::vector<std::pair<std::string, std::size_t>> dimensions;
  for (const auto& [label, size] : spec.dimensions) dimensions.emplace_back(label, size);
  auto extent = Extent::create(std::move(dimensions));
  if (!extent) return std::move(extent).error();
  return Shape(*extent);
}

}  // namespace

Result<std::unique_ptr<ProcMesh>> ProcMesh::allocate(Runtime& runtime, std::unique_ptr<Alloc> alloc,
                                                     Deadline deadline) {
  auto shape = shape_of(alloc->spec());
  if (!shape) return std::move(shape).error();
  const std::uint32_t count = alloc->spec().proc_count();
  std::vector<std::optional<ProcRunning>> running(count);
  std::vector<ProcCreated> created(count);
  std::uint32_t running_count = 0;
  const std::string what = fmt::format("allocating {} ({} procs)", alloc->spec().describe(), count);
  while (running_count < count) {
    auto event = alloc->next_event(deadline);
    if (!event) {
      std::vector<std::uint32_t> waiting;
      for (std::uint32_t rank = 0; rank < count; ++rank) {
        if (!running[rank]) waiting.push_back(rank);
      }
      return Error(ErrorCode::timeout,
                   fmt::format("{}: only {} running by the deadline; still waiting for ranks {}",
                               what, running_count, fmt::join(waiting, ", ")));
    }
    if (auto* made = std::get_if<ProcCreated>(&*event)) {
      if (made->rank < count) created[made->rank] = *made;
    } else if (auto* started = std::get_if<ProcRunning>(&*event)) {
      if (started->rank < count && !running[started->rank]) {
        running[started->rank] = *started;
        ++running_count;
      }
    } else if (auto* stopped = std::get_if<ProcStopped>(&*event)) {
      auto point = shape->point_of_base_rank(stopped->rank);
      return Error(ErrorCode::proc_failed,
                   fmt::format("{}: rank {} ({}) stopped before the mesh was up: {}", what,
                               stopped->rank, point ? point->to_string() : "?",
                               stopped->reason.describe()));
    } else if (auto* failed = std::get_if<AllocFailed>(&*event)) {
      return Error(ErrorCode::proc_failed, fmt::format("{}: {}", what, failed->description));
    }
  }
  std::vector<ProcRunning> procs;
  for (auto& proc : running) procs.push_back(std::move(*proc));
  auto state = std::make_shared<internal::MeshState>(std::move(alloc), std::move(*shape),
                                                     std::move(procs));
  for (const auto& made : created) state->set_placement(made.rank, made.pid, made.host);
  std::unique_ptr<ProcMesh> mesh(new ProcMesh(std::move(state)));
  mesh->start_supervision(runtime);
  mesh->monitor_ = std::thread([raw = mesh.get()] { raw->monitor(); });
  if (auto configured = mesh->configure(deadline); !configured) return std::move(configured).error();
  if (auto comm = mesh->start_comm(deadline); !comm) return std::move(comm).error();
  return mesh;
}

ProcMesh::ProcMesh(std::shared_ptr<internal::MeshState> state) : state_(std::move(state)) {}

const Shape& ProcMesh::shape() const { return state_->shape(); }
std::uint32_t ProcMesh::size() const { return state_->size(); }
const WorldId& ProcMesh::world() const { return state_->world(); }
const ProcId& ProcMesh::proc(std::uint32_t rank) const { return state_->proc(rank).proc; }
std::string ProcMesh::point_of(std::uint32_t rank) const { return state_->point_text(rank); }
pid_t ProcMesh::pid(std::uint32_t rank) const { return state_->pid(rank); }
const std::string& ProcMesh::host(std::uint32_t rank) const { return state_->host(rank); }
Proc& ProcMesh::client() { return state_->client(); }
std::optional<MeshEvent> ProcMesh::next_event(Deadline deadline) { return state_->events().pop(deadline); }
std::uint64_t ProcMesh::events_queued() const { return state_->events().pushed(); }
std::uint64_t ProcMesh::dropped_events() const { return state_->events().refused(); }
Result<void> ProcMesh::kill(std::uint32_t rank, int signal) { return state_->alloc().kill(rank, signal); }

ProcMesh::~ProcMesh() {
  const auto& config = state_->config();
  if (auto stopped = stop(deadline_in(config.stop_timeout + config.term_timeout + config.kill_timeout)); !stopped) {
    state_->client().log().warn("ZM-MESH-STOP {}", stopped.error().message);
  }
  closing_ = true;
  if (monitor_.joinable()) monitor_.join();
  subscriber_.reset();
}

Result<void> ProcMesh::configure(Deadline deadline) {
  Configure request;
  for (std::uint32_t rank = 0; rank < state_->size(); ++rank) {
    const auto& proc = state_->proc(rank);
    if (!proc.address.empty()) request.address_book.emplace_back(proc.proc, proc.address);
  }
  if (auto client_address = state_->alloc().client_address(); !client_address.empty()) {
    request.address_book.emplace_back(state_->client().id(), client_address);
  }
  auto [reply_to, receiver] = state_->mailbox().open_port<Configured>();
  request.reply_to = reply_to;
  request.place.labels = state_->shape().labels();
  for (auto size : state_->shape().extent().sizes()) request.place.sizes.push_back(static_cast<std::uint32_t>(size));
  auto missing = state_->ask_all_agents(
      reply_to.id, [&](std::uint32_t rank) { state_->mailbox().send(state_->proc(rank).agent, request); },
      message_name<Configured>(), deadline,
      internal::MeshState::envelopes_of(receiver),
      [](std::uint32_t, const Envelope&) -> Result<void> { return {}; });
  if (!missing.empty()) {
    return Error(ErrorCode::proc_failed,
                 fmt::format("configuring {} procs: {} did not answer, first: {}", state_->size(),
                             missing.size(), missing.begin()->second.message));
  }
  return {};
}

// -- the comm tree --

Result<void> ProcMesh::start_comm(Deadline deadline) {
  const auto& registry = client().registry();
  auto tree = registry ? registry->extension<const CastTree>() : nullptr;
  if (!tree) {
    return Error(ErrorCode::invalid_argument,
                 "the registry has no comm tree, which every cast travels: call "
                 "zmesh::init(argc, argv, registry) at the top of main (or "
                 "zmesh::install_comm_tree(*registry) before allocating)");
  }
  // The comm actor takes no parameters (an empty msgpack array). As an actor mesh of its
  // own, "comm" is reserved: a user mesh of that name is a duplicate.
  auto spawned = spawn_by_name(std::string(tree->actor_type()), std::string(comm_actor_name),
                               encode_value(msgpack::type::tuple<>()), deadline);
  if (!spawned) return spawned;
  state_->set_router(tree->make_router(*state_));
  return {};
}

void ProcMesh::start_supervision(Runtime& runtime) {
  auto* state = state_.get();
  SupervisionSubscriber::Callbacks callbacks{
      [state](const ProcId& proc, const SequencedEvent& event) {
        if (auto rank = state->rank_of(proc)) state->actor_event(*rank, event.event);
      },
      [state](const ProcId& proc, std::uint64_t from_seq) -> Result<std::vector<SequencedEvent>> {
        auto rank = state->rank_of(proc);
        if (!rank) return Error(ErrorCode::not_found, proc.to_string());
        if (auto dead = state->dead(*rank)) return *dead;
        auto batch = state->ask_agent<EventBatch>(
            *rank, [from_seq](PortRef<EventBatch> reply_to) { return FetchEvents{from_seq, reply_to}; },
            deadline_in(state->config().heartbeat_timeout));
        if (!batch) return std::move(batch).error();
        return std::move(batch->events);
      },
      [state](const ProcId& proc) {
        if (auto rank = state->rank_of(proc); rank && !state->dead(*rank)) state->proc_silent(*rank);
      }};
  subscriber_ = std::make_unique<SupervisionSubscriber>(runtime.context(), std::move(callbacks),
                                                        state_->config(),
                                                        "mesh=" + state_->world().name());
  for (std::uint32_t rank = 0; rank < state_->size(); ++rank) {
    const auto& proc = state_->proc(rank);
    subscriber_->connect(proc.proc, proc.supervision_address);
  }
}

void ProcMesh::monitor() {
  Alloc& alloc = state_->alloc();
  const auto tick = state_->config().heartbeat_interval;
  while (!closing_) {
    auto event = alloc.next_event(deadline_in(tick));
    if (!event) continue;
    if (auto* stopped = std::get_if<ProcStopped>(&*event)) {
      if (stopped->rank >= state_->size()) continue;
      subscriber_->forget(state_->proc(stopped->rank).proc);
      state_->proc_stopped(stopped->rank, stopped->reason, stop_requested_);
    } else if (auto* failed = std::get_if<AllocFailed>(&*event)) {
      state_->client().log().error("ZM-ALLOC-FAILED {}", failed->description);
    }
  }
}

Result<void> ProcMesh::spawn_by_name(
    const std::string& type_name, const std::string& name, const Frame& params, Deadline deadline) {
  if (auto valid = check_name(name, "actor mesh"); !valid) return std::move(valid).error();
  if (auto added = state_->add_actor_mesh(name); !added) return added;
  auto [reply_to, receiver] = state_->mailbox().open_port<SpawnResult>();
  const SpawnActor request{type_name, name, std::string(params.view()), reply_to};
  auto failures = state_->ask_all_agents(
      reply_to.id, [&](std::uint32_t rank) { state_->mailbox().send(state_->proc(rank).agent, request); },
      message_name<SpawnResult>(), deadline,
      internal::MeshState::envelopes_of(receiver),
      [&](std::uint32_t rank, const Envelope& envelope) -> Result<void> {
        auto result = decode<SpawnResult>(envelope.payload.front());
        if (!result) return std::move(result).error();
        if (!result->ok) return result->error;
        state_->actor_started(name, rank, result->started_ns);
        return {};
      });
  if (failures.empty()) return {};

  // All or nothing: the actors that did start are stopped, the name is free again. Ranks
  // that did not answer in time may still spawn later: their agent gets the stop right after
  // the spawn (one link, one order), so a late arrival is stopped too and nothing leaks.
  for (std::uint32_t rank = 0; rank < state_->size(); ++rank) {
    if (state_->dead(rank)) continue;
    const auto failed = failures.find(rank);
    if (failed != failures.end() && failed->second.code != ErrorCode::timeout) continue;
    state_->mailbox().send(state_->proc(rank).agent, StopActor{name, {}});
  }
  state_->remove_actor_mesh(name);
  std::vector<std::string> lines;
  for (const auto& [rank, error] : failures) {
    lines.push_back(fmt::format("rank {} ({}): {}", rank, state_->point_text(rank), error.message));
  }
  return Error(failures.begin()->second.code,
               fmt::format("spawn \"{}\" ({}) failed on {} of {} ranks: {}", name, type_name,
                           failures.size(), state_->size(), fmt::join(lines, "; ")));
}

Result<void> ProcMesh::stop(Deadline deadline) {
  stop_requested_ = true;
  state_->stopping();
  state_->alloc().stop();
  if (!state_->wait_all_stopped(deadline)) {
    return Error(ErrorCode::timeout, fmt::format("stopping {}: not every proc reported stopped "
                                                 "by the deadline",
                                                 state_->world().to_string()));
  }
  return {};
}

}  // namespace zmesh
