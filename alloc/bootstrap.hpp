#pragma once
// Bootstrap: what zmesh::init() (comm/init.hpp) does in a proc. The process allocator and
// the launchers start children running the same binary with ZMESH_BOOTSTRAP_* variables set;
// in such a child run_if_started_as_proc() never returns: it runs the proc (agent, actors,
// heartbeats) and exits when told to stop, when its client falls silent, or on SIGTERM.
// In any other process it returns at once.
// Thread: call once, from main, before creating threads (it blocks signals in the child).
// Failure: a child that cannot boot prints why to stderr (the parent sees it in the exit
// reason's stderr tail) and exits with code 70.

#include "zmesh/core/registry.hpp"

#include <memory>
#include <string_view>

namespace zmesh {

// Environment variables the process allocator hands to a child.
inline constexpr std::string_view env_bootstrap_proc = "ZMESH_BOOTSTRAP_PROC";      // world[rank]
inline constexpr std::string_view env_bootstrap_client = "ZMESH_BOOTSTRAP_CLIENT";  // client proc
inline constexpr std::string_view env_bootstrap_address = "ZMESH_BOOTSTRAP_ADDRESS";  // its endpoint
inline constexpr std::string_view env_bootstrap_port = "ZMESH_BOOTSTRAP_PORT";  // its hello port
inline constexpr std::string_view env_bootstrap_transport = "ZMESH_BOOTSTRAP_TRANSPORT";  // ipc|tcp
inline constexpr std::string_view env_bootstrap_host = "ZMESH_BOOTSTRAP_HOST";  // tcp bind host
inline constexpr std::string_view env_bootstrap_ipc_dir = "ZMESH_BOOTSTRAP_IPC_DIR";  // ipc sockets

// Whether this process was started as a proc by an allocator.
bool started_as_proc();

// See the header comment. `registry` lists the actor types this binary can spawn by name.
void run_if_started_as_proc(int argc, char** argv, std::shared_ptr<const Registry> registry);

}  // namespace zmesh
