#pragma once
// EngineLaunchers: starts one zmesh-launcher per node of a job through the job's engine
// (`srun` inside a Slurm allocation, or `mpirun`), waits until each says it listens, gives
// the hosts to allocate on, and stops them all when destroyed. With it a whole job is
// `sbatch -N 3 job.sh` or `salloc -N 3 ./controller`: the controller starts its launchers,
// allocates through RemoteAllocator, and they go away with it.
// Thread: start() blocks the caller until every launcher is ready; a ChildProcessGroup
// monitor thread reads the engine's tagged output (srun --label, mpirun --tag-output) and
// owns the log files; hosts() and stop() are for the owner's thread.
// Failure: start() returns an Error naming the hosts that never came up, their last output
// and where the rest of it is; an engine that exits early is reported with what it said.

#include "zmesh/alloc/host_list.hpp"
#include "zmesh/core/config.hpp"
#include "zmesh/core/error.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh {

enum class LauncherEngine { slurm, mpirun };

// "slurm" (or "srun"), "mpirun"; the error names the choices.
Result<LauncherEngine> parse_launcher_engine(std::string_view text);
std::string_view to_string(LauncherEngine engine);

struct EngineLaunchersOptions {
  LauncherEngine engine = LauncherEngine::slurm;
  // The zmesh-launcher program, a path valid on every node; empty: the zmesh-launcher next
  // to this program's binary when there is one, else "zmesh-launcher" from each node's PATH.
  std::string launcher;
  std::uint16_t port = default_launcher_port;  // each launcher listens on tcp://0.0.0.0:port
  std::vector<std::string> launcher_args;      // more options, e.g. {"--proc-ports", "27000-27999"}
  // mpirun: the nodes (passed as --host); empty: find_hosts() from the environment (a Slurm
  // allocation, Open MPI's host parameters, ZMESH_HOSTFILE, ...). Slurm: must be empty; every
  // node of the allocation (SLURM_JOB_NODELIST) gets one launcher.
  std::vector<std::string> hosts;
  // Put before the launcher on the engine's command line, e.g. {"--mca", "plm_rsh_agent", "ssh"}.
  std::vector<std::string> engine_args;
  Millis ready_timeout{60000};
  // Each launcher's stderr (and the engine's own messages) go to DIR/zmesh-launcher-HOST.log
  // (DIR/srun.log, DIR/mpirun.log); empty: to this process's stderr as "[zmesh-launcher HOST] ...".
  std::string log_dir;
  // Progress lines ("started 2 of 3 launchers ..."); null: this process's stderr.
  std::function<void(const std::string&)> progress;
};

class EngineLaunchers {
 public:
  // Starts the engine and waits until every launcher listens (or the timeout, or the engine
  // exits). Environment: srun passes this process's whole environment; mpirun gets `-x` for
  // every ZMESH_* variable set here (ZMESH_KEY_FILE, ZMESH_INSECURE, heartbeats, ...).
  static Result<std::unique_ptr<EngineLaunchers>> start(EngineLaunchersOptions options);

  EngineLaunchers(const EngineLaunchers&) = delete;
  EngineLaunchers& operator=(const EngineLaunchers&) = delete;
  ~EngineLaunchers();  // stop(20 s from now)

  // Where each launcher listens, in node order (for RemoteAllocatorOptions::hosts).
  const std::vector<HostEntry>& hosts() const;
  // The node names, in the same order ("tnode1", ...).
  const std::vector<std::string>& nodes() const;
  // Asks every launcher to stop through the engine (SIGINT through srun, SIGTERM through
  // mpirun; each launcher stops its procs), SIGTERM/SIGKILL to the engine after 15 s. True
  // once the engine and everything it ran have exited.
  bool stop(Deadline deadline);

  struct State;  // shared with the output callbacks

 private:
  explicit EngineLaunchers(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace zmesh
