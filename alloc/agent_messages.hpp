#pragma once
// Messages between a mesh client (or allocator) and the ProcAgent on every proc:
// bootstrap (hello/start/started), heartbeats, configuration, spawn, stop, events.
// Thread: value types.

#include "zmesh/core/error.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/mesh_place.hpp"
#include "zmesh/core/port.hpp"
#include "zmesh/core/supervision.hpp"
#include "zmesh/transport/supervision_channel.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace zmesh {

// -- bootstrap: child -> allocator, allocator -> agent, agent -> allocator --
struct AgentStarted {
  ZMESH_MESSAGE("zmesh.agent.Started");
  std::uint32_t rank = 0;
  ActorId agent;
  std::string supervision_address;
  MSGPACK_DEFINE(rank, agent, supervision_address);
};

struct BootstrapHello {
  ZMESH_MESSAGE("zmesh.boot.Hello");
  std::uint32_t rank = 0;
  std::int64_t pid = 0;
  ProcId proc;
  std::string address;  // the child's endpoint
  ActorId agent;
  // The largest message the child accepts (its ZMESH_MAX_MESSAGE_BYTES): the client checks
  // sends against it, so a message the child would refuse fails where it is sent.
  std::int64_t max_message_bytes = 0;
  MSGPACK_DEFINE(rank, pid, proc, address, agent, max_message_bytes);
};

struct AgentStart {
  ZMESH_MESSAGE("zmesh.agent.Start");
  PortRef<AgentStarted> reply_to;
  MSGPACK_DEFINE(reply_to);
};

// -- liveness: the client proves it is alive; the agent answers --
struct HeartbeatAck {
  ZMESH_MESSAGE("zmesh.agent.HeartbeatAck");
  std::uint32_t rank = 0;
  std::uint64_t seq = 0;
  MSGPACK_DEFINE(rank, seq);
};

struct Heartbeat {
  ZMESH_MESSAGE("zmesh.agent.Heartbeat");
  std::uint64_t seq = 0;
  PortRef<HeartbeatAck> reply_to;
  MSGPACK_DEFINE(seq, reply_to);
};

// -- configuration --
struct Configured {
  ZMESH_MESSAGE("zmesh.agent.Configured");
  std::uint32_t rank = 0;
  MSGPACK_DEFINE(rank);
};

struct Configure {
  ZMESH_MESSAGE("zmesh.agent.Configure");
  std::vector<std::pair<ProcId, std::string>> address_book;  // every proc of the mesh + client
  PortRef<Configured> reply_to;
  MeshPlace place;  // the mesh's shape (Context::point)
  MSGPACK_DEFINE(address_book, reply_to, place);
};

// -- actors --
struct SpawnResult {
  ZMESH_MESSAGE("zmesh.agent.SpawnResult");
  std::uint32_t rank = 0;
  bool ok = false;
  ActorId actor;
  Error error;
  // When the actor was up, by the proc's clock: supervision events of an earlier actor of the
  // same name (stopped by a failed spawn's cleanup) carry earlier times and are not this one's.
  std::int64_t started_ns = 0;
  MSGPACK_DEFINE(rank, ok, actor, error, started_ns);
};

struct SpawnActor {
  ZMESH_MESSAGE("zmesh.agent.Spawn");
  std::string type_name;
  std::string name;
  std::string params;  // msgpack bytes of the actor's Params
  PortRef<SpawnResult> reply_to;
  MSGPACK_DEFINE(type_name, name, params, reply_to);
};

struct StopActorResult {
  ZMESH_MESSAGE("zmesh.agent.StopActorResult");
  std::uint32_t rank = 0;
  bool found = false;
  MSGPACK_DEFINE(rank, found);
};

struct StopActor {
  ZMESH_MESSAGE("zmesh.agent.StopActor");
  std::string name;
  PortRef<StopActorResult> reply_to;
  MSGPACK_DEFINE(name, reply_to);
};

// -- supervision events kept by the agent, fetched after a gap --
struct EventBatch {
  ZMESH_MESSAGE("zmesh.agent.EventBatch");
  std::uint32_t rank = 0;
  std::vector<SequencedEvent> events;
  MSGPACK_DEFINE(rank, events);
};

struct FetchEvents {
  ZMESH_MESSAGE("zmesh.agent.FetchEvents");
  std::uint64_t from_seq = 1;
  PortRef<EventBatch> reply_to;
  MSGPACK_DEFINE(from_seq, reply_to);
};

// -- the proc itself --
struct StopProc {
  ZMESH_MESSAGE("zmesh.agent.StopProc");
  std::string reason;
  MSGPACK_DEFINE(reason);
};

}  // namespace zmesh
