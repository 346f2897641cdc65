// The README demo: one controller drives a {host=2,gpu=4} mesh of processes on this machine.
// It allocates the procs, spawns a "trainer" actor on each, casts to all and to a slice,
// gathers replies, kills one proc to show how a failure is reported, and stops cleanly.
// Run: scripts/demo.sh   (or build/examples/mesh_demo [--transport ipc|tcp])
#include "zmesh/alloc/bootstrap.hpp"
#include "zmesh/comm/comm_actor.hpp"
#include "zmesh/alloc/process_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/selection_text.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

using namespace std::chrono_literals;

namespace demo {

struct StepResult {
  ZMESH_MESSAGE("demo.StepResult");
  std::uint32_t rank = 0;
  std::string point;
  std::int64_t pid = 0;
  double loss = 0;
  MSGPACK_DEFINE(rank, point, pid, loss);
};

struct Step {
  ZMESH_MESSAGE("demo.Step");
  std::uint32_t step = 0;
  zmesh::PortRef<StepResult> reply_to;
  MSGPACK_DEFINE(step, reply_to);
};

// A stand-in for a training worker: each Step "trains" and reports a loss.
class Trainer : public zmesh::Actor {
 public:
  struct Params {
    double learning_rate = 0.1;
    MSGPACK_DEFINE(learning_rate);
  };
  explicit Trainer(const Params& params) : learning_rate_(params.learning_rate) {
    on<Step>(&Trainer::step);
  }

 private:
  void step(zmesh::Context& ctx, const Step& step) {
    auto cast = zmesh::cast_info(ctx);
    const std::uint32_t rank = cast ? cast->rank : 0;
    loss_ *= (1.0 - learning_rate_);
    ctx.send(step.reply_to, StepResult{rank, cast ? cast->point.to_string() : "", ::getpid(),
                                       loss_ + 0.01 * rank});
  }
  double learning_rate_;
  double loss_ = 1.0;
};

std::shared_ptr<zmesh::Registry> registry() {
  auto registry = std::make_shared<zmesh::Registry>();
  registry->add_actor<Trainer>("Trainer").value();
  zmesh::comm::add_comm_actor(*registry).value();  // casts travel a bounded fan-out tree
  return registry;
}

long long millis_since(zmesh::Clock::time_point start) {
  return std::chrono::duration_cast<zmesh::Millis>(zmesh::Clock::now() - start).count();
}

void print_replies(const zmesh::Gathered<StepResult>& replies) {
  for (const auto& [rank, reply] : replies.replies) {
    fmt::print("      rank {} ({}) pid {}: loss {:.4f}\n", rank, reply.point, reply.pid, reply.loss);
  }
  for (const auto& [rank, error] : replies.missing) {
    fmt::print("      rank {}: no reply: {}\n", rank, error.message);
  }
}

int run(zmesh::AllocTransport transport) {
  using namespace zmesh;
  Runtime runtime(Config::from_environment().value());
  AllocSpec spec;
  spec.dimensions = {{"host", 2}, {"gpu", 4}};
  spec.transport = transport;

  fmt::print("zmesh demo: one controller, a {} mesh of processes on this machine ({})\n",
             spec.describe(), to_string(transport));
  auto start = Clock::now();
  fmt::print("[1/6] allocating {} procs (each is this binary, started as a proc)...\n",
             spec.proc_count());
  auto alloc = ProcessAllocator::allocate(runtime, spec, registry());
  if (!alloc) throw Exception(alloc.error());
  auto mesh = ProcMesh::allocate(runtime, std::move(*alloc), deadline_in(60s));
  if (!mesh) throw Exception(mesh.error());
  ProcMesh& procs = **mesh;
  fmt::print("      {} procs running in {} ms, shape {}\n", procs.size(), millis_since(start),
             procs.shape().to_string());

  fmt::print("[2/6] spawning actor mesh \"trainer\" on every proc...\n");
  auto trainers = procs.spawn<Trainer>("trainer", {0.1}, deadline_in(30s));
  if (!trainers) throw Exception(trainers.error());

  auto step = [](std::uint32_t n) {
    return [n](PortRef<StepResult> reply_to) { return Step{n, reply_to}; };
  };
  fmt::print("[3/6] cast Step to all ('*') and gather the replies:\n");
  start = Clock::now();
  auto all = trainers->call<StepResult>(Selection::all(), step(1), deadline_in(10s)).value();
  fmt::print("      {} replies in {} ms\n", all.replies.size(), millis_since(start));
  print_replies(all);

  const auto slice_text = "1,0:2";
  fmt::print("[4/6] cast to a slice: selection \"{}\" (host 1, gpus 0 and 1):\n", slice_text);
  auto some = trainers->call<StepResult>(parse_selection(slice_text).value(), step(2),
                                         deadline_in(10s))
                  .value();
  print_replies(some);

  fmt::print("[5/6] killing rank 5 with SIGKILL, as a crash would...\n");
  if (auto killed = procs.kill(5, SIGKILL); !killed) throw Exception(killed.error());
  if (auto event = procs.next_event(deadline_in(10s))) {
    fmt::print("      event: {}\n", event->describe());
  }
  auto after = trainers->call<StepResult>(Selection::all(), step(3), deadline_in(10s)).value();
  fmt::print("      a call to all now: {} replies, {} missing (no wait for the dead rank):\n",
             after.replies.size(), after.missing.size());
  print_replies(after);

  fmt::print("[6/6] stopping the mesh...\n");
  start = Clock::now();
  if (auto stopped = procs.stop(deadline_in(30s)); !stopped) throw Exception(stopped.error());
  int clean = 0;
  while (auto event = procs.next_event(deadline_in(100ms))) {
    if (event->kind == ProcEvent::Kind::stopped) ++clean;
  }
  fmt::print("      {} procs stopped cleanly in {} ms; no process is left behind\n", clean,
             millis_since(start));
  fmt::print("done. Next: examples/ping_pong for raw latency, `zmesh select --help` to explore "
             "selections, docs/ for the design.\n");
  return 0;
}

}  // namespace demo

int main(int argc, char** argv) {
  zmesh::init(argc, argv, demo::registry());
  zmesh::AllocTransport transport = zmesh::AllocTransport::ipc;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--transport") == 0 && i + 1 < argc) {
      auto parsed = zmesh::parse_alloc_transport(argv[++i]);
      if (!parsed) {
        fmt::print(stderr, "mesh_demo: {}\n", parsed.error().message);
        return 2;
      }
      transport = *parsed;
    } else {
      fmt::print(stderr, "usage: mesh_demo [--transport ipc|tcp]\n");
      return 2;
    }
  }
  try {
    return demo::run(transport);
  } catch (const zmesh::Exception& e) {
    fmt::print(stderr, "mesh_demo failed: {}\n", e.what());
    return 1;
  }
}
