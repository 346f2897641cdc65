#pragma once
// The wire protocol between a RemoteAllocator (client) and a zmesh-launcher. The client
// talks through one DEALER per launcher, the launcher answers through its one ROUTER, and
// every message is two frames: [type name][msgpack body] (the ROUTER sees the client's
// routing id in front). Bodies are the structs below. A peer that sends anything else gets
// a LauncherError back and keeps its connection; the launcher keeps serving everyone.
//   client -> launcher: LaunchRequest, then ClientBeat every heartbeat interval, StopProcs,
//                       SignalProc, Release (forget me).
//   launcher -> client: LaunchReply (ok or why not), ProcStartedNote per proc, OutputNote
//                       per line of proc output, ProcExitNote once per proc, LauncherBeat,
//                       LauncherError (bad frames, unknown messages).
//   Read-only queries (`zmesh status`, `zmesh doctor`), from any peer, leaving no client
//   state behind: StatusRequest -> StatusReply, ProbeRequest -> ProbeReply. A launcher
//   older than these answers LauncherError "unknown message type".
// Thread: value types and pure functions.

#include "zmesh/core/error.hpp"
#include "zmesh/core/message.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zmesh::internal {

// A launcher refuses requests of another version (format changes bump it).
inline constexpr std::uint32_t launcher_protocol_version = 1;
// More procs than this in one request is refused as absurd.
inline constexpr std::uint32_t launcher_max_procs_per_request = 4096;

struct LaunchRequest {
  ZMESH_MESSAGE("zmesh.launcher.Launch");
  std::uint32_t version = launcher_protocol_version;
  std::string client;  // who asks, for logs: "pid 123 on host vm"
  std::string world;   // the procs' world name
  std::vector<std::uint32_t> ranks;   // the ranks this launcher starts
  std::vector<std::string> points;    // their points ("host=1/3,gpu=0/2"), for logs
  std::string executable;             // absolute path on the launcher's host
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> environment;  // ZMESH_* and listed vars
  std::string client_proc;     // the client's ProcId text
  std::string client_address;  // where the procs reach the client (tcp)
  std::string hello_port;      // the client's PortId for bootstrap hellos
  std::uint32_t heartbeat_interval_ms = 250;  // both directions
  std::uint32_t lease_ms = 5000;   // silence after which the launcher reaps the procs
  std::uint32_t kill_timeout_ms = 2000;  // SIGTERM -> SIGKILL
  MSGPACK_DEFINE(version, client, world, ranks, points, executable, args, environment,
                 client_proc, client_address, hello_port, heartbeat_interval_ms, lease_ms,
                 kill_timeout_ms);
};

struct LaunchReply {
  ZMESH_MESSAGE("zmesh.launcher.LaunchReply");
  bool ok = false;
  std::string host;  // the launcher's host, as it names itself ("tnode2 (10.250.0.12)")
  Error error;
  MSGPACK_DEFINE(ok, host, error);
};

struct ProcStartedNote {
  ZMESH_MESSAGE("zmesh.launcher.ProcStarted");
  std::uint32_t rank = 0;
  std::int64_t pid = 0;
  MSGPACK_DEFINE(rank, pid);
};

struct OutputNote {
  ZMESH_MESSAGE("zmesh.launcher.Output");
  std::uint32_t rank = 0;
  bool is_stderr = false;
  std::string line;
  MSGPACK_DEFINE(rank, is_stderr, line);
};

// StopReason on the wire (kind as StopReason::Kind's value).
struct ProcExitNote {
  ZMESH_MESSAGE("zmesh.launcher.ProcExit");
  std::uint32_t rank = 0;
  std::uint8_t kind = 0;
  std::int32_t code = 0;
  std::int32_t signal = 0;
  bool core_dumped = false;
  std::vector<std::string> stderr_tail;
  std::string detail;
  MSGPACK_DEFINE(rank, kind, code, signal, core_dumped, stderr_tail, detail);
};

struct ClientBeat {
  ZMESH_MESSAGE("zmesh.launcher.ClientBeat");
  std::uint64_t seq = 0;
  MSGPACK_DEFINE(seq);
};

struct LauncherBeat {
  ZMESH_MESSAGE("zmesh.launcher.LauncherBeat");
  std::uint64_t seq = 0;
  MSGPACK_DEFINE(seq);
};

// The client asked its procs to stop; after `grace_ms` the launcher sends SIGTERM to those
// still running, and SIGKILL kill_timeout_ms later.
struct StopProcs {
  ZMESH_MESSAGE("zmesh.launcher.Stop");
  std::uint32_t grace_ms = 0;
  MSGPACK_DEFINE(grace_ms);
};

struct SignalProc {
  ZMESH_MESSAGE("zmesh.launcher.Signal");
  std::uint32_t rank = 0;
  std::int32_t signal = 0;
  std::string why;  // set when the client's watchdog kills it: becomes the stop reason
  MSGPACK_DEFINE(rank, signal, why);
};

// The client is done: the launcher forgets it (stopping whatever still runs).
struct Release {
  ZMESH_MESSAGE("zmesh.launcher.Release");
  MSGPACK_DEFINE();
};

struct LauncherError {
  ZMESH_MESSAGE("zmesh.launcher.Error");
  Error error;
  MSGPACK_DEFINE(error);
};

// -- read-only queries --

// `zmesh status`: this launcher's clients and their procs.
struct StatusRequest {
  ZMESH_MESSAGE("zmesh.launcher.Status");
  std::uint32_t version = launcher_protocol_version;
  MSGPACK_DEFINE(version);
};

struct ProcStatus {
  std::uint32_t rank = 0;
  std::int64_t pid = 0;
  std::string state;  // "running", "stopping (SIGTERM sent)", ...
  MSGPACK_DEFINE(rank, pid, state);
};

struct ClientStatus {
  std::string name;   // "pid 123 on vm [remote-...]"
  std::string state;  // "serving", or why its procs are being stopped
  std::uint64_t heard_ms_ago = 0;
  std::uint64_t lease_ms = 0;
  std::vector<ProcStatus> procs;  // still running
  MSGPACK_DEFINE(name, state, heard_ms_ago, lease_ms, procs);
};

struct StatusReply {
  ZMESH_MESSAGE("zmesh.launcher.StatusReply");
  bool ok = false;  // false: `error` says why (another protocol version)
  std::string host;
  Error error;
  std::uint32_t version = launcher_protocol_version;  // the launcher's
  std::uint64_t uptime_ms = 0;
  std::vector<ClientStatus> clients;
  MSGPACK_DEFINE(ok, host, error, version, uptime_ms, clients);
};

// `zmesh doctor`: could this launcher run `executable`, and can a proc on its host reach
// the client at `reach_host`:`reach_port` (tcp connect within `timeout_ms`)?
struct ProbeRequest {
  ZMESH_MESSAGE("zmesh.launcher.Probe");
  std::uint32_t version = launcher_protocol_version;
  std::string executable;
  std::string reach_host;
  std::uint16_t reach_port = 0;
  std::uint32_t timeout_ms = 2000;
  MSGPACK_DEFINE(version, executable, reach_host, reach_port, timeout_ms);
};

struct ProbeReply {
  ZMESH_MESSAGE("zmesh.launcher.ProbeReply");
  bool ok = false;  // false: `error` says why the probe was not run (version, busy)
  std::string host;
  Error error;
  std::uint32_t version = launcher_protocol_version;  // the launcher's
  std::string executable_problem;  // empty: it exists there and is executable
  std::string reach_problem;       // empty: the tcp connect succeeded
  MSGPACK_DEFINE(ok, host, error, version, executable_problem, reach_problem);
};

// Frames of one message: [type name][body].
template <Message T>
std::pair<std::string, std::string> launcher_frames(const T& message) {
  const Frame body = encode(message);
  return {std::string(message_name<T>()), std::string(body.data(), body.size())};
}

template <Message T>
Result<T> decode_launcher_body(std::string_view body) {
  return decode<T>(Frame::copy_of(body));
}

}  // namespace zmesh::internal
