// The README demo across hosts: one controller drives a {host=N,gpu=2} mesh of processes
// started by the zmesh-launcher of each host. It allocates, calls every trainer and a
// selection (each handler returns its reply), reduces through the comm tree, then kills one host's launcher (a proc on that host sends
// SIGKILL to its parent, the launcher, as a crashed node would), shows the host_lost events
// and a call that returns at once without the lost ranks, and stops cleanly.
// Hosts: --hosts LIST, --hostfile FILE, or the environment (ZMESH_HOSTS, Open MPI's host
// parameters, SLURM_JOB_NODELIST); --start-launchers slurm|mpirun starts the launchers first
// (one per node, stopped at the end), so `sbatch -N 3 docs/examples/slurm_job.sh` is a
// whole job. Exits 0 when every step behaved as shown, 1 otherwise, 2 on bad options.
#include <zmesh/zmesh.hpp>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

using namespace std::chrono_literals;

namespace demo {

struct Step {
  ZMESH_MESSAGE("cluster_demo.Step");
  std::uint32_t step = 0;
  MSGPACK_DEFINE(step);
};

struct StepResult {
  std::string host;
  std::int64_t pid = 0;
  double loss = 0;
  MSGPACK_DEFINE(host, pid, loss);
};

struct LossQuery {
  ZMESH_MESSAGE("cluster_demo.LossQuery");
  MSGPACK_DEFINE();
};

struct WhoLaunchedYou {
  ZMESH_MESSAGE("cluster_demo.WhoLaunchedYou");
  MSGPACK_DEFINE();
};

struct LauncherInfo {
  std::int64_t launcher_pid = 0;
  std::string launcher_exe;  // what runs as the parent: must be zmesh-launcher
  MSGPACK_DEFINE(launcher_pid, launcher_exe);
};

// Cast only: the proc dies with its launcher (parent-death signal), so there is no reply.
struct KillYourLauncher {
  ZMESH_MESSAGE("cluster_demo.KillYourLauncher");
  std::int64_t launcher_pid = 0;  // as learned from WhoLaunchedYou, checked again
  MSGPACK_DEFINE(launcher_pid);
};

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

// A stand-in for a training worker that can also play a node crash. Each handler's return
// value is its reply.
class Trainer : public zmesh::Actor {
 public:
  struct Params {
    double learning_rate = 0.1;
    MSGPACK_DEFINE(learning_rate);
  };
  explicit Trainer(const Params& params) : learning_rate_(params.learning_rate) {}

  StepResult step(const Step&) {
    loss_ *= 1.0 - learning_rate_;
    return StepResult{host_name(), ::getpid(), loss_};
  }
  double loss(const LossQuery&) { return loss_; }
  LauncherInfo who(const WhoLaunchedYou&) {
    std::error_code error;
    const auto parent = ::getppid();
    const auto exe = std::filesystem::read_symlink(fmt::format("/proc/{}/exe", parent), error);
    return LauncherInfo{parent, error ? "?" : exe.filename().string()};
  }
  void kill_launcher(const KillYourLauncher& order) {
    if (::getppid() == order.launcher_pid) ::kill(static_cast<pid_t>(order.launcher_pid), SIGKILL);
  }
  using Handlers =
      zmesh::Handlers<&Trainer::step, &Trainer::loss, &Trainer::who, &Trainer::kill_launcher>;

 private:
  double learning_rate_;
  double loss_ = 1.0;
};

std::shared_ptr<zmesh::Registry> registry() {
  auto registry = std::make_shared<zmesh::Registry>();
  registry->add_actor<Trainer>("Trainer").value();
  return registry;
}

struct Options {
  std::string hosts, hostfile, start_launchers, launcher, key, client_host, log_dir;
  std::uint16_t port = zmesh::default_launcher_port;
  std::uint32_t gpus = 2;
};

long long millis_since(zmesh::Clock::time_point start) {
  return std::chrono::duration_cast<zmesh::Millis>(zmesh::Clock::now() - start).count();
}

void print_replies(const zmesh::Gathered<StepResult>& replies) {
  for (const auto& [rank, reply] : replies.replies) {
    fmt::print("      rank {} on {} pid {}: loss {:.4f}\n", rank, reply.host, reply.pid, reply.loss);
  }
  for (const auto& [rank, error] : replies.missing) fmt::print("      rank {}: no reply: {}\n", rank, error.message);
}

// Throws with the step that failed; main turns it into exit code 1.
template <class T>
T check(zmesh::Result<T> result, std::string_view what) {
  if (!result) throw zmesh::Exception(zmesh::Error(result.error().code, fmt::format("{}: {}", what, result.error().message)));
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

void require(bool ok, const std::string& what) {
  if (!ok) throw zmesh::Exception(zmesh::Error(zmesh::ErrorCode::internal, what));
}

int run(const std::shared_ptr<zmesh::Registry>& registry, const Options& options) {
  using namespace zmesh;
  std::unique_ptr<EngineLaunchers> launchers;
  std::vector<HostEntry> hosts;
  fmt::print("zmesh cluster demo: one controller (pid {} on {}), procs on every host\n", ::getpid(), host_name());
  fmt::print("[1/7] finding the launchers...\n");
  if (!options.start_launchers.empty()) {
    EngineLaunchersOptions engine;
    engine.engine = check(parse_launcher_engine(options.start_launchers), "--start-launchers");
    engine.launcher = options.launcher;
    engine.port = options.port;
    engine.log_dir = options.log_dir;
    engine.progress = [](const std::string& line) { fmt::print("      {}\n", line); std::fflush(stdout); };
    launchers = check(EngineLaunchers::start(engine), "starting the launchers");
    hosts = launchers->hosts();
  } else {
    auto found = check(find_hosts({.list = options.hosts, .hostfile = options.hostfile, .port = options.port}),
                       "finding the hosts");
    fmt::print("      hosts from {}\n", found.source);
    hosts = std::move(found.hosts);
  }
  require(hosts.size() >= 2, fmt::format("the demo needs at least 2 hosts (it kills one), got {}", hosts.size()));
  std::vector<std::string> names;
  for (const auto& host : hosts) names.push_back(host.to_string());
  fmt::print("      {} launchers: {}\n", hosts.size(), fmt::join(names, ", "));

  Runtime runtime(check(Config::from_environment(), "the ZMESH_* environment"));
  AllocSpec spec;
  spec.transport = AllocTransport::tcp;
  spec.dimensions = {{"host", static_cast<std::uint32_t>(hosts.size())}, {"gpu", options.gpus}};
  RemoteAllocatorOptions remote;
  remote.hosts = hosts;
  remote.client_host = options.client_host;
  auto start = Clock::now();
  fmt::print("[2/7] allocating a {} mesh ({} procs) through the launchers...\n", spec.describe(), spec.proc_count());
  auto alloc = check(RemoteAllocator::allocate(runtime, spec, registry, remote), "allocating");
  auto mesh = check(ProcMesh::allocate(runtime, std::move(alloc), deadline_in(60s)), "allocating");
  ProcMesh& procs = *mesh;
  fmt::print("      {} procs running in {} ms, shape {}\n", procs.size(), millis_since(start), procs.shape().to_string());

  fmt::print("[3/7] spawning \"trainer\" on every proc, call Step on all: each returns its StepResult:\n");
  auto trainers = check(procs.spawn<Trainer>("trainer", {0.1}, deadline_in(30s)), "spawning");
  start = Clock::now();
  auto all = check(trainers.call(Step{1}, deadline_in(20s)), "the call to all");
  fmt::print("      {} replies in {} ms\n", all.replies.size(), millis_since(start));
  print_replies(all);
  require(all.complete() && all.replies.size() == procs.size(), "not every rank replied to the first call");

  const std::string slice_text = "1,*";
  fmt::print("[4/7] call a selection: \"{}\" (every gpu of host 1):\n", slice_text);
  auto some = check(trainers.call(check(parse_selection(slice_text), "the selection"), Step{2}, deadline_in(20s)),
                    "the call to a selection");
  print_replies(some);
  require(some.complete() && some.replies.size() == options.gpus, "the slice did not answer with one reply per gpu");

  fmt::print("[5/7] reduce: the sum of every rank's loss, folded up the comm tree:\n");
  auto sum = check(trainers.reduce<Sum>(LossQuery{}, deadline_in(20s)), "the reduce");
  fmt::print("      sum {:.4f} from {} contributors\n", sum.value.value_or(0), sum.contributors);
  require(sum.complete() && sum.contributors == procs.size(), "the reduce missed ranks");

  const std::uint32_t lost_host = static_cast<std::uint32_t>(hosts.size()) - 1;
  const std::uint32_t first_lost = lost_host * options.gpus;
  const auto on_lost_host = check(parse_selection(fmt::format("{},0", lost_host)), "the lost host");
  auto info = check(trainers.call(on_lost_host, WhoLaunchedYou{}, deadline_in(20s)), "asking for the launcher's pid");
  require(info.complete() && info.replies.size() == 1, "rank on the last host did not say who launched it");
  const LauncherInfo launcher = info.replies.begin()->second;
  require(launcher.launcher_exe == "zmesh-launcher",
          fmt::format("the parent of rank {} is {}, not zmesh-launcher", first_lost, launcher.launcher_exe));
  fmt::print("[6/7] killing the zmesh-launcher of host {} ({}, pid {} there) with SIGKILL, as a node crash would\n"
             "      (rank {} on that host sends it to its parent)...\n",
             lost_host, hosts[lost_host].to_string(), launcher.launcher_pid, first_lost);
  start = Clock::now();
  check(trainers.cast(on_lost_host, KillYourLauncher{launcher.launcher_pid}), "the kill order");
  std::uint32_t host_lost = 0;
  for (auto event = procs.next_event(deadline_in(30s)); event; event = procs.next_event(deadline_in(30s))) {
    fmt::print("      event after {} ms: {}\n", millis_since(start), event->describe());
    if (event->kind == MeshEvent::Kind::proc_crashed && event->reason.kind == StopReason::Kind::host_lost) {
      ++host_lost;
    }
    if (host_lost == options.gpus) break;
  }
  require(host_lost == options.gpus, fmt::format("expected {} host_lost events, saw {}", options.gpus, host_lost));
  start = Clock::now();
  auto after = check(trainers.call(Step{3}, deadline_in(20s)), "the call after the loss");
  fmt::print("      a call to all now: {} replies, {} missing, in {} ms (no wait for the lost host):\n",
             after.replies.size(), after.missing.size(), millis_since(start));
  print_replies(after);
  require(after.replies.size() == procs.size() - options.gpus && after.missing.size() == options.gpus,
          "the call after the loss did not return the live ranks and name the lost ones");
  fmt::print("      live ranks: {}\n", trainers.live().size());

  fmt::print("[7/7] stopping the mesh{}...\n", launchers ? " and the launchers" : "");
  const auto live = trainers.live().size();
  start = Clock::now();
  check(procs.stop(deadline_in(30s)), "stopping the mesh");
  // A stop the owner asked for is no news: it returns once done, and adds no events.
  fmt::print("      {} live procs stopped cleanly in {} ms\n", live, millis_since(start));
  while (auto event = procs.next_event(Clock::now())) {
    fmt::print("      event during the stop: {}\n", event->describe());
  }
  if (launchers) {
    start = Clock::now();
    require(launchers->stop(deadline_in(30s)), "the launchers did not stop within 30 s");
    fmt::print("      launchers stopped in {} ms\n", millis_since(start));
  }
  fmt::print("done: {} hosts, {} procs, one host lost and reported, everything stopped.\n", hosts.size(),
             procs.size());
  return 0;
}

}  // namespace demo

int main(int argc, char** argv) {
  auto registry = demo::registry();
  zmesh::init(argc, argv, registry);  // a process started as a proc runs it here, never returns
  namespace po = boost::program_options;
  demo::Options options;
  po::options_description described(
      "cluster_demo: the zmesh demo across hosts, one zmesh-launcher per host (see docs/launcher.md)");
  described.add_options()
      ("help,h", "this help")
      ("hosts", po::value(&options.hosts), "the launchers: host[:port],... (default: the environment)")
      ("hostfile", po::value(&options.hostfile), "the launchers, one host per line (Open MPI format)")
      ("start-launchers", po::value(&options.start_launchers),
       "start one launcher per node first with slurm (srun, inside sbatch/salloc) or mpirun")
      ("launcher", po::value(&options.launcher), "with --start-launchers: the zmesh-launcher path on every node "
       "(default: next to this binary, else PATH)")
      ("log-dir", po::value(&options.log_dir), "with --start-launchers: write each launcher's log there "
       "(default: this program's stderr)")
      ("port", po::value(&options.port)->default_value(zmesh::default_launcher_port), "the launchers' port")
      ("gpus", po::value(&options.gpus)->default_value(2), "procs per host")
      ("key", po::value(&options.key), "the CURVE key file (sets ZMESH_KEY_FILE for this program, "
       "the launchers it starts and the procs)")
      ("client-host", po::value(&options.client_host),
       "the address procs use to reach this controller (default: the one that routes to the first host)");
  po::variables_map values;
  try {
    po::store(po::parse_command_line(argc, argv, described), values);
    po::notify(values);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cluster_demo: {} (see --help)\n", e.what());
    return 2;
  }
  if (values.count("help")) {
    std::cout << described << "\n";
    return 0;
  }
  if (options.gpus == 0) {
    fmt::print(stderr, "cluster_demo: --gpus must be at least 1\n");
    return 2;
  }
  // Before any thread exists (init returned at once: this is no proc).
  if (!options.key.empty()) ::setenv("ZMESH_KEY_FILE", options.key.c_str(), 1);
  try {
    return demo::run(registry, options);
  } catch (const zmesh::Exception& e) {
    fmt::print(stderr, "cluster_demo failed: {}\n", e.what());
    return 1;
  }
}
