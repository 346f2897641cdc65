#pragma once
// zmesh::init(): the first call in main() of every zmesh program, client and procs alike:
//   auto registry = std::make_shared<zmesh::Registry>();
//   registry->add_actor<Trainer>("Trainer").value();
//   zmesh::init(argc, argv, registry);   // a process started as a proc never returns
// It adds zmesh's own parts to the registry (the comm actor that every cast travels, and
// the client's half of the comm tree), then, in a process an allocator started as a proc,
// runs that proc until it is told to stop (alloc/bootstrap.hpp). Elsewhere it returns at once.
// Thread: call once, from main, before creating threads.
// Failure: a child that cannot boot prints why to stderr and exits with code 70.

#include "zmesh/core/config.hpp"
#include "zmesh/core/registry.hpp"

#include <chrono>
#include <memory>

namespace zmesh {

void init(int argc, char** argv, const std::shared_ptr<Registry>& registry);

// How the client's half of the comm tree behaves (it matters only where meshes are allocated).
struct CommTreeOptions {
  // A cast stream (client, actor mesh) unused this long has its counters freed on the client
  // and on every proc (comm/internal/cast_sequencer.hpp); so are a stopped mesh's at once.
  Clock::duration stream_idle = std::chrono::seconds(10);
};

// The registry part of init() alone, for programs that run procs only in-process
// (LocalAllocator) and never call init(). Adding it twice is harmless; the options of a
// second call replace the first's (for routers made afterwards).
Result<void> install_comm_tree(Registry& registry, const CommTreeOptions& options = {});

}  // namespace zmesh
