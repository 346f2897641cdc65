#include "zmesh/alloc/engine_launchers.hpp"

#include "zmesh/alloc/child_process.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>

extern char** environ;

namespace zmesh {
namespace {

constexpr std::size_t tail_lines = 5;
constexpr Millis kill_after{15000};

// Which task a line of the engine's output belongs to, and the line without its tag.
// srun --label: "  2: text"; mpirun --tag-output: "[1,2]<stdout>:text". Untagged lines are
// the engine's own messages.
struct Tagged {
  std::optional<std::size_t> task;
  std::string_view text;
};

Tagged untag(LauncherEngine engine, std::string_view line) {
  auto digits = [](std::string_view text, std::size_t& i) -> std::optional<std::size_t> {
    const std::size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) ++i;
    if (i == start || i - start > 9) return std::nullopt;
    return static_cast<std::size_t>(std::stoul(std::string(text.substr(start, i - start))));
  };
  std::size_t i = 0;
  if (engine == LauncherEngine::slurm) {
    while (i < line.size() && line[i] == ' ') ++i;
    auto task = digits(line, i);
    if (!task || line.substr(i, 2) != ": ") return {std::nullopt, line};
    return {task, line.substr(i + 2)};
  }
  if (line.empty() || line[0] != '[') return {std::nullopt, line};
  const auto comma = line.find(',');
  if (comma == std::string_view::npos) return {std::nullopt, line};
  i = comma + 1;
  auto task = digits(line, i);
  if (!task || line.substr(i, 1) != "]") return {std::nullopt, line};
  ++i;
  for (std::string_view stream : {"<stdout>:", "<stderr>:", "<stddiag>:"}) {
    if (line.substr(i, stream.size()) == stream) return {task, line.substr(i + stream.size())};
  }
  return {std::nullopt, line};
}

// The address in "zmesh-launcher listening on tcp://HOST:PORT (procs bind ...)".
std::optional<HostEntry> listening_address(std::string_view text) {
  constexpr std::string_view marker = "zmesh-launcher listening on tcp://";
  const auto at = text.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  auto rest = text.substr(at + marker.size());
  rest = rest.substr(0, rest.find(' '));
  auto parsed = parse_host_list(rest);
  if (!parsed || parsed->size() != 1) return std::nullopt;
  return parsed->front();
}

std::string default_launcher_path() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const auto sibling = self.parent_path() / "zmesh-launcher";
    if (::access(sibling.c_str(), X_OK) == 0) return sibling.string();
  }
  return "zmesh-launcher";
}

std::string quoted_command(const std::string& program, const std::vector<std::string>& args) {
  std::string text = program;
  for (const auto& arg : args) text += ' ' + arg;
  return text;
}

}  // namespace

Result<LauncherEngine> parse_launcher_engine(std::string_view text) {
  if (text == "slurm" || text == "srun") return LauncherEngine::slurm;
  if (text == "mpirun") return LauncherEngine::mpirun;
  return Error(ErrorCode::parse_error, fmt::format("unknown engine \"{}\": expected slurm (or srun) or mpirun", text));
}

std::string_view to_string(LauncherEngine engine) {
  return engine == LauncherEngine::slurm ? "srun" : "mpirun";
}

struct EngineLaunchers::State {
  EngineLaunchersOptions options;
  std::vector<std::string> nodes;
  std::string engine;  // "srun" / "mpirun"

  std::mutex mutex;  // guards the members up to `changed`
  std::vector<std::optional<HostEntry>> ready;  // by task (= node index)
  std::vector<std::deque<std::string>> tails;   // each task's last lines
  std::deque<std::string> engine_tail;          // the engine's own last lines
  std::optional<ChildExit> engine_exit;
  std::condition_variable changed;

  std::map<std::string, std::ofstream> logs;  // monitor thread only, by file name
  std::vector<HostEntry> hosts;               // once start() returns
  std::unique_ptr<ChildProcessGroup> group;   // last: its callbacks use the members above

  void progress(const std::string& line) const {
    if (options.progress) {
      options.progress(line);
    } else {
      std::fprintf(stderr, "zmesh: %s\n", line.c_str());
    }
  }

  // Monitor thread: one line of the engine's stdout or stderr. It reaches the log before a
  // "listening" line marks its launcher ready, so a ready launcher always has its log.
  void on_output(std::string_view line, bool is_stderr) {
    const Tagged tagged = untag(options.engine, line);
    const bool own = tagged.task && *tagged.task < nodes.size();
    const std::string who = own ? "zmesh-launcher " + nodes[*tagged.task] : engine;
    if (options.log_dir.empty()) {
      // On stdout a launcher says only "listening", which the progress lines repeat.
      if (!own || is_stderr) std::fprintf(stderr, "%s\n", fmt::format("[{}] {}", who, own ? tagged.text : line).c_str());
    } else {
      const std::string name = (own ? "zmesh-launcher-" + nodes[*tagged.task] : engine) + ".log";
      auto& file = logs[name];
      if (!file.is_open()) file.open(std::filesystem::path(options.log_dir) / name, std::ios::app);
      file << (own ? tagged.text : line) << '\n' << std::flush;
    }
    std::lock_guard lock(mutex);
    auto& tail = own ? tails[*tagged.task] : engine_tail;
    tail.emplace_back(own ? tagged.text : line);
    if (tail.size() > tail_lines) tail.pop_front();
    if (own && !is_stderr && !ready[*tagged.task]) {
      if (auto address = listening_address(tagged.text)) {
        ready[*tagged.task] = *address;
        changed.notify_all();
      }
    }
  }

  void on_exit(const ChildExit& exit) {
    std::lock_guard lock(mutex);
    engine_exit = exit;
    changed.notify_all();
  }

  bool stop(Deadline deadline) {
    if (options.engine == LauncherEngine::slurm) {
      // srun answers SIGTERM by SIGKILLing its tasks, which would leave the launchers no
      // time to stop their procs; with --disable-status it forwards one SIGINT as it is, and
      // a launcher stops cleanly on SIGINT. SIGTERM/SIGKILL to srun only if that is not enough.
      if (group->signal(0, SIGINT).ok() && group->wait_all_exited(std::min(deadline, deadline_in(kill_after)))) {
        return true;
      }
    }
    return group->terminate_all(kill_after, deadline);  // mpirun passes SIGTERM on
  }

  std::string where_output_is() const {
    if (options.log_dir.empty()) return fmt::format("on stderr as \"[zmesh-launcher HOST] ...\" and \"[{}] ...\"", engine);
    return fmt::format("in {}/zmesh-launcher-HOST.log and {}/{}.log", options.log_dir, options.log_dir, engine);
  }
};

EngineLaunchers::EngineLaunchers(std::unique_ptr<State> state) : state_(std::move(state)) {}

EngineLaunchers::~EngineLaunchers() { stop(deadline_in(std::chrono::seconds(20))); }

const std::vector<HostEntry>& EngineLaunchers::hosts() const { return state_->hosts; }
const std::vector<std::string>& EngineLaunchers::nodes() const { return state_->nodes; }

bool EngineLaunchers::stop(Deadline deadline) { return state_->stop(deadline); }

Result<std::unique_ptr<EngineLaunchers>> EngineLaunchers::start(EngineLaunchersOptions options) {
  auto state = std::make_unique<State>();
  state->engine = std::string(to_string(options.engine));
  const std::string launcher = options.launcher.empty() ? default_launcher_path() : options.launcher;

  // The nodes, in the order the engine places task i on node i.
  if (options.engine == LauncherEngine::slurm) {
    if (!options.hosts.empty()) {
      return Error(ErrorCode::invalid_argument,
                   "srun starts a launcher on every node of the Slurm allocation: leave the hosts empty "
                   "(choose the nodes with sbatch/salloc -N or --nodelist)");
    }
    const char* nodelist = std::getenv("SLURM_JOB_NODELIST");
    if (nodelist == nullptr || *nodelist == '\0') {
      return Error(ErrorCode::not_found,
                   "SLURM_JOB_NODELIST is not set: not inside a Slurm allocation; run under sbatch or salloc "
                   "(e.g. salloc -N 3 ./controller), or use mpirun or a host list");
    }
    auto names = expand_slurm_nodelist(nodelist);
    if (!names) return Error(names.error().code, fmt::format("SLURM_JOB_NODELIST: {}", names.error().message));
    state->nodes = std::move(*names);
  } else if (!options.hosts.empty()) {
    state->nodes = options.hosts;
  } else {
    auto found = find_hosts(HostSources{});
    if (!found) return Error(found.error().code, fmt::format("mpirun needs hosts: {}", found.error().message));
    for (auto& entry : found->hosts) state->nodes.push_back(std::move(entry.host));
  }
  const std::size_t count = state->nodes.size();

  ChildSpec spec;
  spec.executable = state->engine;
  const std::vector<std::string> launcher_args = [&] {
    std::vector<std::string> args{fmt::format("--listen=tcp://0.0.0.0:{}", options.port), "--foreground"};
    args.insert(args.end(), options.launcher_args.begin(), options.launcher_args.end());
    return args;
  }();
  if (options.engine == LauncherEngine::slurm) {
    // --overlap: the launchers take no resources from the job's own steps; --label tags
    // each line with its task (= node index); --kill-on-bad-exit=0: a lost launcher leaves
    // the others running, as with any lost host.
    // --disable-status: see stop().
    spec.args = {fmt::format("--nodes={}", count), fmt::format("--ntasks={}", count), "--ntasks-per-node=1",
                 "--overlap", "--label", "--kill-on-bad-exit=0", "--disable-status", "--job-name=zmesh-launchers"};
  } else {
    // ppr:1:node: rank i on the i-th host; --enable-recovery: a launcher that dies does not
    // make mpirun kill the others; -x: mpirun passes only the variables it is told to.
    spec.args = {"--tag-output", "--enable-recovery", "-n", std::to_string(count), "--map-by", "ppr:1:node"};
    spec.args.insert(spec.args.end(), {"--host", fmt::format("{}", fmt::join(state->nodes, ","))});
    for (char** variable = environ; *variable != nullptr; ++variable) {
      const std::string_view text(*variable);
      if (text.starts_with("ZMESH_")) spec.args.insert(spec.args.end(), {"-x", std::string(text.substr(0, text.find('=')))});
    }
  }
  spec.args.insert(spec.args.end(), options.engine_args.begin(), options.engine_args.end());
  spec.args.push_back(launcher);
  spec.args.insert(spec.args.end(), launcher_args.begin(), launcher_args.end());

  if (!options.log_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options.log_dir, error);
    if (error) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("cannot make the launchers' log directory {}: {}", options.log_dir, error.message()));
    }
  }
  state->ready.resize(count);
  state->tails.resize(count);
  state->options = std::move(options);
  State& s = *state;
  s.group = std::make_unique<ChildProcessGroup>(
      ChildProcessGroup::Callbacks{
          [&s](std::size_t, std::string_view line, bool is_stderr) { s.on_output(line, is_stderr); },
          [&s](std::size_t, pid_t, const ChildExit& exit) { s.on_exit(exit); }},
      Config{});
  s.progress(fmt::format("starting {} zmesh-launchers with {} on {}: {}", count, s.engine,
                         fmt::join(s.nodes, ", "), quoted_command(spec.executable, spec.args)));
  const auto started_at = Clock::now();
  if (auto pid = s.group->start(0, spec); !pid) {
    return Error(pid.error().code, fmt::format("cannot run {} to start the launchers: {}{}", s.engine,
                                               pid.error().message,
                                               s.engine == "srun" ? " (is Slurm installed here?)"
                                                                  : " (is Open MPI installed here?)"));
  }

  const Deadline deadline = started_at + s.options.ready_timeout;
  std::unique_lock lock(s.mutex);
  std::vector<bool> announced(count, false);
  std::size_t up = 0;
  while (true) {
    std::vector<std::string> newly;  // "tnode2 at 10.0.0.12:26600"
    for (std::size_t i = 0; i < count; ++i) {
      if (s.ready[i] && !announced[i]) {
        announced[i] = true;
        ++up;
        newly.push_back(fmt::format("{} at {}", s.nodes[i], s.ready[i]->to_string()));
      }
    }
    if (!newly.empty()) {
      lock.unlock();
      s.progress(fmt::format("started {} of {} launchers after {} ms ({})", up, count,
                             std::chrono::duration_cast<Millis>(Clock::now() - started_at).count(),
                             fmt::join(newly, ", ")));
      lock.lock();
      continue;  // more may have come up meanwhile
    }
    if (up == count || s.engine_exit || Clock::now() >= deadline) break;
    s.changed.wait_until(lock, deadline);
  }

  std::vector<std::string> missing;
  for (std::size_t i = 0; i < count; ++i) {
    if (s.ready[i]) continue;
    missing.push_back(s.tails[i].empty()
                          ? fmt::format("{} (no output)", s.nodes[i])
                          : fmt::format("{} (last output: \"{}\")", s.nodes[i], fmt::join(s.tails[i], " | ")));
  }
  if (missing.empty()) {
    for (auto& address : s.ready) s.hosts.push_back(*address);
    lock.unlock();
    return std::unique_ptr<EngineLaunchers>(new EngineLaunchers(std::move(state)));
  }
  std::string why = fmt::format("not within {} ms", s.options.ready_timeout.count());
  if (s.engine_exit) {
    ChildExit exit = *s.engine_exit;
    exit.stderr_tail.clear();  // its last lines follow as "said"
    why = fmt::format("{} {} first", s.engine, exit.describe());
  }
  const std::string engine_said =
      s.engine_tail.empty() ? "" : fmt::format("; {} said: \"{}\"", s.engine, fmt::join(s.engine_tail, " | "));
  Error error(ErrorCode::timeout,
              fmt::format("{} of {} zmesh-launchers never said they listen ({}): {}{}; all their output is {}",
                          missing.size(), count, why, fmt::join(missing, ", "), engine_said, s.where_output_is()));
  lock.unlock();
  s.stop(deadline_in(std::chrono::seconds(20)));
  return error;
}

}  // namespace zmesh
