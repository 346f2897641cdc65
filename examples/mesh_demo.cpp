// The README demo: one controller drives a {host=2,gpu=4} mesh of processes on this machine.
// It allocates the procs, spawns a "trainer" actor on each, casts, calls and reduces over all
// of them and over a slice, kills one proc to show how a failure is reported, and stops.
// Run: scripts/demo.sh   (or build-release/examples/mesh_demo [--transport ipc|tcp])
#include <zmesh/zmesh.hpp>

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

using namespace std::chrono_literals;

namespace demo {

struct Step {
  ZMESH_MESSAGE("demo.Step");
  std::uint32_t step = 0;
  MSGPACK_DEFINE(step);
};

struct StepResult {
  std::string point;
  std::int64_t pid = 0;
  double loss = 0;
  MSGPACK_DEFINE(point, pid, loss);
};

struct LossQuery {
  ZMESH_MESSAGE("demo.LossQuery");
  MSGPACK_DEFINE();
};

// A stand-in for a training worker: each Step "trains" and returns how it went.
class Trainer : public zmesh::Actor {
 public:
  struct Params {
    double learning_rate = 0.1;
    MSGPACK_DEFINE(learning_rate);
  };
  explicit Trainer(const Params& params) : learning_rate_(params.learning_rate) {}

  StepResult step(zmesh::Context& ctx, const Step&) {
    loss_ *= 1.0 - learning_rate_;
    return StepResult{ctx.point(), ::getpid(), loss_ + 0.01 * ctx.rank()};
  }
  double loss(const LossQuery&) { return loss_; }
  using Handlers = zmesh::Handlers<&Trainer::step, &Trainer::loss>;

 private:
  double learning_rate_;
  double loss_ = 1.0;
};

std::shared_ptr<zmesh::Registry> registry() {
  auto registry = std::make_shared<zmesh::Registry>();
  registry->add_actor<Trainer>("Trainer").value();
  return registry;
}

long long millis_since(zmesh::Clock::time_point start) {
  return std::chrono::duration_cast<zmesh::Millis>(zmesh::Clock::now() - start).count();
}

void print_replies(const zmesh::Gathered<StepResult>& gathered) {
  for (const auto& [rank, reply] : gathered.replies) {
    fmt::print("      rank {} ({}) pid {}: loss {:.4f}\n", rank, reply.point, reply.pid, reply.loss);
  }
  for (const auto& [rank, error] : gathered.missing) {
    fmt::print("      rank {}: no reply: {}\n", rank, error.message);
  }
}

int run(const std::shared_ptr<zmesh::Registry>& registry, zmesh::AllocTransport transport) {
  using namespace zmesh;
  Runtime runtime(Config::from_environment().value());
  AllocSpec spec;
  spec.dimensions = {{"host", 2}, {"gpu", 4}};
  spec.transport = transport;

  fmt::print("zmesh demo: one controller, a {} mesh of processes on this machine ({})\n",
             spec.describe(), to_string(transport));
  auto start = Clock::now();
  fmt::print("[1/7] allocating {} procs (each is this binary, started as a proc)...\n",
             spec.proc_count());
  auto alloc = ProcessAllocator::allocate(runtime, spec, registry).value();
  auto procs = ProcMesh::allocate(runtime, std::move(alloc), deadline_in(60s)).value();
  fmt::print("      {} procs running in {} ms, shape {}; rank 0 is pid {} on {}\n", procs->size(),
             millis_since(start), procs->shape().to_string(), procs->pid(0), procs->host(0));

  fmt::print("[2/7] spawning actor mesh \"trainer\" on every proc...\n");
  auto trainers = procs->spawn<Trainer>("trainer", {0.1}, deadline_in(30s)).value();

  fmt::print("[3/7] call: Step to every trainer, each returns its StepResult:\n");
  start = Clock::now();
  auto all = trainers.call(Step{1}, deadline_in(10s)).value();
  fmt::print("      {} replies in {} ms\n", all.replies.size(), millis_since(start));
  print_replies(all);

  const auto slice_text = "1,0:2";
  fmt::print("[4/7] call a selection, \"{}\" (host 1, gpus 0 and 1), and a slice (gpu 3):\n", slice_text);
  print_replies(trainers.call(parse_selection(slice_text).value(), Step{2}, deadline_in(10s)).value());
  print_replies(trainers.at("gpu", 3).value().call(Step{2}, deadline_in(10s)).value());

  fmt::print("[5/7] reduce: the sum of every loss, folded on the way up the comm tree:\n");
  auto total = trainers.reduce<Sum>(LossQuery{}, deadline_in(10s)).value();
  fmt::print("      sum {:.4f} from {} ranks\n", total.value.value_or(0), total.contributors);

  fmt::print("[6/7] killing rank 5 with SIGKILL, as a crash would...\n");
  procs->kill(5, SIGKILL).value();
  if (auto event = procs->next_event(deadline_in(10s))) fmt::print("      event: {}\n", event->describe());
  trainers.cast(Step{3}).value();  // a cast skips the dead rank and says so
  auto after = trainers.call(Step{3}, deadline_in(10s)).value();
  fmt::print("      a call to all now: {} replies, {} missing (no wait for the dead rank):\n",
             after.replies.size(), after.missing.size());
  print_replies(after);
  fmt::print("      live ranks: {}\n", trainers.live().size());

  fmt::print("[7/7] stopping the mesh...\n");
  start = Clock::now();
  procs->stop(deadline_in(30s)).value();
  fmt::print("      every proc stopped in {} ms; no process is left behind\n", millis_since(start));
  fmt::print("done. Next: docs/getting-started.md to write your own, examples/cluster_demo to run "
             "across hosts, `zmesh select --help` to explore selections.\n");
  return 0;
}

}  // namespace demo

int main(int argc, char** argv) {
  auto registry = demo::registry();
  zmesh::init(argc, argv, registry);  // a process started as a proc runs it here, never returns
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
    return demo::run(registry, transport);
  } catch (const zmesh::Exception& e) {
    fmt::print(stderr, "mesh_demo failed: {}\n", e.what());
    return 1;
  }
}
