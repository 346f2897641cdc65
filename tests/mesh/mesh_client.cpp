// A mesh client as its own OS process, for tests that must watch a client from outside:
//   mesh_client print N   allocates N procs, makes each print a line to stdout and one to
//                         stderr, stops cleanly (the test checks the "[rank] " prefixes)
//   mesh_client hold N    allocates N procs, prints "pid <pid>" for each and "ready", then
//                         waits to be killed (the test kills it with SIGKILL)
#include "testing/mesh_actors.hpp"
#include "zmesh/alloc/bootstrap.hpp"
#include "zmesh/alloc/process_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

using namespace std::chrono_literals;
using namespace zmesh;

int main(int argc, char** argv) {
  init(argc, argv, testing::registry());
  if (argc != 3) {
    std::fprintf(stderr, "usage: mesh_client print|hold N\n");
    return 2;
  }
  const std::string mode = argv[1];
  const auto count = static_cast<std::uint32_t>(std::stoul(argv[2]));
  Runtime runtime(Config::from_environment().value());
  AllocSpec spec;
  spec.dimensions = {{"gpu", count}};
  auto alloc = ProcessAllocator::allocate(runtime, spec, testing::registry());
  if (!alloc) {
    std::fprintf(stderr, "%s\n", alloc.error().describe().c_str());
    return 1;
  }
  auto mesh = ProcMesh::allocate(runtime, std::move(*alloc), deadline_in(30s));
  if (!mesh) {
    std::fprintf(stderr, "%s\n", mesh.error().describe().c_str());
    return 1;
  }
  auto workers = (*mesh)->spawn<testing::WorkerActor>("worker", {""}, deadline_in(30s)).value();
  if (mode == "print") {
    workers.cast(testing::Print{"out line", false}).value();
    workers.cast(testing::Print{"err line", true}).value();
  }
  // A call after the prints: FIFO per sender means the prints were handled by then.
  auto replies = workers.call(testing::Where{}, deadline_in(30s));
  if (!replies || !replies->complete()) return 1;
  if (mode == "hold") {
    for (const auto& [rank, reply] : replies->replies) std::printf("pid %lld\n", static_cast<long long>(reply.pid));
    std::printf("ready\n");
    std::fflush(stdout);
    ::pause();
  }
  return (*mesh)->stop(deadline_in(30s)).ok() ? 0 : 1;
}
