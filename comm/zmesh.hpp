#pragma once
// <zmesh/zmesh.hpp>: everything a controller and its actors use, in one include.
//   Registry, Actor, Handlers, Context        which actors a program has, and what they do
//   zmesh::init                               the first call in main (client and procs)
//   Runtime, Config                           the client's sockets and settings (ZMESH_*)
//   ProcessAllocator, LocalAllocator,         where the procs run: this host's processes,
//   RemoteAllocator, EngineLaunchers          threads, or zmesh-launchers on many hosts
//   ProcMesh, ActorMesh, MeshEvent            the procs, the actors on them, what happens
//   Selection, parse_selection, cast_info     which ranks a cast chooses, and where it landed
//   Sum, Min, Max, Count, Gather, add_reducer how replies fold in a reduce
// docs/getting-started.md walks through a first program.

#include "zmesh/alloc/engine_launchers.hpp"
#include "zmesh/alloc/host_list.hpp"
#include "zmesh/alloc/local_allocator.hpp"
#include "zmesh/alloc/process_allocator.hpp"
#include "zmesh/alloc/remote_allocator.hpp"
#include "zmesh/comm/init.hpp"
#include "zmesh/comm/tree_stats.hpp"
#include "zmesh/core/actor.hpp"
#include "zmesh/core/bytes.hpp"
#include "zmesh/core/config.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/core/reply.hpp"
#include "zmesh/core/tensor.hpp"
#include "zmesh/mesh/actor_mesh.hpp"
#include "zmesh/mesh/cast_info.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/reducer.hpp"
#include "zmesh/mesh/selection.hpp"
#include "zmesh/mesh/selection_text.hpp"
#include "zmesh/transport/runtime.hpp"
