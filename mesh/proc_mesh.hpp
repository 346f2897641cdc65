#pragma once
// ProcMesh: a running mesh of procs, one per point of its shape. allocate() returns once
// every proc runs, its agent knows the address book and its comm actor (the comm tree every
// cast travels) is up; spawn<A>() starts an actor mesh.
// Events: next_event() is the one stream of what happens to the procs and their actors
// (mesh_events.hpp), each happening once; supervision events arrive over each proc's PUB
// channel and gaps are fetched, so none is lost. Nothing is process-wide: several
// ProcMeshes in one client are independent.
// Thread: every public member is thread-safe; next_event() is for one consumer. Two threads
// of its own: the alloc monitor and the supervision subscriber.
// Failure: Result errors name the rank, its point and the reason.

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/mesh/actor_mesh.hpp"
#include "zmesh/mesh/mesh_events.hpp"
#include "zmesh/mesh/shape.hpp"
#include "zmesh/transport/runtime.hpp"
#include "zmesh/transport/supervision_channel.hpp"

#include <atomic>
#include <csignal>  // kill(rank, SIGKILL)
#include <memory>
#include <thread>

namespace zmesh {

class ProcMesh {
 public:
  // Waits until every proc of `alloc` runs, configures the agents, subscribes to their
  // supervision channels. Any proc failing first fails it, naming the rank and reason.
  static Result<std::unique_ptr<ProcMesh>> allocate(Runtime& runtime, std::unique_ptr<Alloc> alloc,
                                                    Deadline deadline);
  ProcMesh(const ProcMesh&) = delete;
  ProcMesh& operator=(const ProcMesh&) = delete;
  // stop() with the configured deadlines, then joins its threads.
  ~ProcMesh();

  const Shape& shape() const;
  std::uint32_t size() const;
  const WorldId& world() const;
  // The proc at mesh rank `rank`: its id, point ("host=1/2,gpu=3/4"), pid and host.
  const ProcId& proc(std::uint32_t rank) const;
  std::string point_of(std::uint32_t rank) const;
  pid_t pid(std::uint32_t rank) const;
  const std::string& host(std::uint32_t rank) const;
  Proc& client();

  // Spawns actor type A (registered by name in the client's registry) as `name` on every
  // proc. A duplicate name fails and leaves the existing mesh alone; failures on some ranks
  // fail the spawn, list every failing rank, and stop the actors that did start.
  template <SpawnableActor A>
  Result<ActorMesh<A>> spawn(std::string name, const params_t<A>& params, Deadline deadline) {
    const auto& registry = client().registry();
    auto type_name = registry ? registry->template name_of<A>() : std::nullopt;
    if (!type_name) {
      return Error(ErrorCode::not_found,
                   fmt::format("spawn \"{}\": this actor type is not registered; call "
                               "registry.add_actor<Type>(\"TypeName\") before zmesh::init",
                               name));
    }
    auto spawned = spawn_by_name(*type_name, name, encode_value(params), deadline);
    if (!spawned) return std::move(spawned).error();
    return ActorMesh<A>(state_, std::move(name), shape(), nullptr, 0);
  }
  // spawn() with default parameters (or none, for an actor type without Params).
  template <SpawnableActor A>
  Result<ActorMesh<A>> spawn(std::string name, Deadline deadline) {
    return spawn<A>(std::move(name), params_t<A>{}, deadline);
  }

  // The next event about a proc or an actor of this mesh, or nothing by the deadline.
  std::optional<MeshEvent> next_event(Deadline deadline);
  // Events queued so far, and those not queued because the queue was full (nobody read
  // them; see ZM-EVENTS-DROPPED).
  std::uint64_t events_queued() const;
  std::uint64_t dropped_events() const;

  // Stops every proc (ask, then SIGTERM, then SIGKILL) and waits for each to report.
  Result<void> stop(Deadline deadline);
  // Test hook: kills the proc of `rank` with `signal`.
  Result<void> kill(std::uint32_t rank, int signal);

 private:
  explicit ProcMesh(std::shared_ptr<internal::MeshState> state);
  Result<void> spawn_by_name(const std::string& type_name, const std::string& name,
                             const Frame& params, Deadline deadline);
  Result<void> configure(Deadline deadline);
  // Spawns the comm actor on every proc and installs the client half of the tree
  // (cast_router.hpp); a registry without the comm tree is an error saying what to call.
  Result<void> start_comm(Deadline deadline);
  void start_supervision(Runtime& runtime);
  void monitor();

  std::shared_ptr<internal::MeshState> state_;
  std::unique_ptr<SupervisionSubscriber> subscriber_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> closing_{false};
  std::thread monitor_;
};

}  // namespace zmesh
