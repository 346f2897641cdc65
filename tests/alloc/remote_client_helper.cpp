// A remote-mesh client as its own OS process, for tests that watch a client from outside:
//   remote_client_helper print HOSTS CLIENT_HOST PER_HOST   allocates {host=N,gpu=PER_HOST}
//       through the launchers at HOSTS, makes each proc print a line to stdout and one to
//       stderr, stops cleanly (the test checks the forwarded "[rank] " lines)
//   remote_client_helper hold HOSTS CLIENT_HOST PER_HOST    allocates, prints "pid <pid>"
//       per proc and "ready", then waits to be killed (kill -9: the launchers reap)
//   remote_client_helper launch HOSTS CLIENT_HOST PER_HOST  asks the launchers for the procs,
//       prints "pid <pid>" per proc as each is started and "launched", then waits to be
//       killed while its procs bootstrap (the mesh never comes up)
//   remote_client_helper call HOSTS CLIENT_HOST PER_HOST    as hold, then hangs rank 0's
//       actor, prints "calling" and waits in a call that rank 0 never answers
// The procs are this binary too (zmesh::init first).
#include "testing/mesh_actors.hpp"
#include "zmesh/alloc/bootstrap.hpp"
#include "zmesh/alloc/remote_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/selection_text.hpp"

#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>

using namespace std::chrono_literals;
using namespace zmesh;

int main(int argc, char** argv) {
  init(argc, argv, testing::registry());
  if (argc != 5) {
    std::fprintf(stderr, "usage: remote_client_helper print|hold|launch|call HOSTS CLIENT_HOST PER_HOST\n");
    return 2;
  }
  const std::string mode = argv[1];
  Config config = Config::from_environment().value();
  config.heartbeat_interval = Millis(100);
  config.heartbeat_timeout = Millis(1500);
  Runtime runtime(config);
  RemoteAllocatorOptions options;
  options.hosts = parse_host_list(argv[2]).value();
  options.client_host = argv[3];
  AllocSpec spec;
  spec.transport = AllocTransport::tcp;
  spec.dimensions = {{"host", static_cast<std::uint32_t>(options.hosts.size())},
                     {"gpu", static_cast<std::uint32_t>(std::stoul(argv[4]))}};
  auto alloc = RemoteAllocator::allocate(runtime, spec, testing::registry(), options);
  if (!alloc) {
    std::fprintf(stderr, "%s\n", alloc.error().describe().c_str());
    return 1;
  }
  if (mode == "launch") {
    std::set<std::uint32_t> created;
    while (created.size() < spec.proc_count()) {
      auto event = (*alloc)->next_event(deadline_in(60s));
      if (!event || std::holds_alternative<AllocFailed>(*event) || std::holds_alternative<ProcStopped>(*event)) {
        std::fprintf(stderr, "launch: %s\n", event ? describe(*event).c_str() : "no event within 60 s");
        return 1;
      }
      if (auto* started = std::get_if<ProcCreated>(&*event); started && created.insert(started->rank).second) {
        std::printf("pid %lld\n", static_cast<long long>(started->pid));
      }
    }
    std::printf("launched\n");
    std::fflush(stdout);
    for (;;) ::pause();
  }
  auto mesh = ProcMesh::allocate(runtime, std::move(*alloc), deadline_in(60s));
  if (!mesh) {
    std::fprintf(stderr, "%s\n", mesh.error().describe().c_str());
    return 1;
  }
  auto workers = (*mesh)->spawn<testing::WorkerActor>("worker", {""}, deadline_in(30s)).value();
  if (mode == "print") {
    workers.cast(testing::Print{"out line", false}).value();
    workers.cast(testing::Print{"err line", true}).value();
  }
  auto replies = workers.call(testing::Where{}, deadline_in(30s));
  if (!replies || !replies->complete()) return 1;
  if (mode == "hold" || mode == "call") {
    for (const auto& [rank, reply] : replies->replies) std::printf("pid %lld\n", static_cast<long long>(reply.pid));
    std::printf("ready\n");
    std::fflush(stdout);
  }
  if (mode == "hold") {
    for (;;) ::pause();
  }
  if (mode == "call") {
    workers.cast(parse_selection("0,0").value(), testing::Hang{}).value();
    std::printf("calling\n");  // the call goes out right after this
    std::fflush(stdout);
    (void)workers.call(testing::Where{}, deadline_in(60s));
    return 1;  // rank 0 never answers: the test kills this client first
  }
  return (*mesh)->stop(deadline_in(30s)).ok() ? 0 : 1;
}
