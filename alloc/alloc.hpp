#pragma once
// Alloc: a request for procs (AllocSpec) and the stream of lifecycle events it produces:
// per proc created(point, pid) -> running(proc id, address, agent) -> stopped(reason), and
// alloc-wide failed(description). Allocators (local: threads of this process; process:
// child processes on this host) implement it. A dead proc is never respawned.
// Thread: next_event() belongs to one consumer thread; stop(), kill() are thread-safe.

#include "zmesh/core/config.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/proc.hpp"

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace zmesh {

enum class AllocTransport : std::uint8_t { inproc, ipc, tcp };
std::string_view to_string(AllocTransport transport) noexcept;
Result<AllocTransport> parse_alloc_transport(std::string_view text);

struct AllocSpec {
  // Named dimensions, row-major: {"host", 2}, {"gpu", 4} -> 8 procs.
  std::vector<std::pair<std::string, std::uint32_t>> dimensions;
  AllocTransport transport = AllocTransport::ipc;
  // Interpreted per allocator (e.g. "bind_host" for tcp); unknown keys are an error.
  std::map<std::string, std::string> constraints;
  // The world name of the procs; empty: a fresh unique one.
  std::string world;

  std::uint32_t proc_count() const;
  // Row-major coordinates of `rank`.
  std::vector<std::uint32_t> coordinates(std::uint32_t rank) const;
  // "{host=2,gpu=4}"
  std::string describe() const;
  // Checks labels (non-empty, distinct), sizes (> 0) and the total.
  Result<void> validate() const;
};

// Why a proc stopped. Precise, because "it died" is not actionable.
struct StopReason {
  enum class Kind : std::uint8_t {
    stopped,    // stopped on request and exited cleanly
    exited,     // exited by itself: `code`, last lines of stderr
    killed,     // killed by `signal` (core dumped?)
    watchdog,   // missed its heartbeat or its exit deadline, and was killed
    host_lost,  // the host (launcher) running it became unreachable
  };
  Kind kind = Kind::stopped;
  int code = 0;
  int signal = 0;
  bool core_dumped = false;
  std::vector<std::string> stderr_tail;
  std::string detail;  // free text: which deadline, which host

  // "exited with code 3 (stderr: ...)", "killed by signal 9 (SIGKILL)", ...
  std::string describe() const;
};
std::string_view to_string(StopReason::Kind kind) noexcept;

struct ProcCreated {
  std::uint32_t rank = 0;
  std::vector<std::uint32_t> coordinates;
  pid_t pid = 0;
  std::string host;  // the machine it runs on, as its launcher or this client names it
};
struct ProcRunning {
  std::uint32_t rank = 0;
  ProcId proc;
  std::string address;              // where its endpoint listens ("" for local procs)
  ActorId agent;                    // its ProcAgent
  std::string supervision_address;  // its supervision PUB socket
};
struct ProcStopped {
  std::uint32_t rank = 0;
  StopReason reason;
};
struct AllocFailed {
  std::string description;
};
using AllocEvent = std::variant<ProcCreated, ProcRunning, ProcStopped, AllocFailed>;
std::string describe(const AllocEvent& event);

class Alloc {
 public:
  virtual ~Alloc() = default;

  virtual const AllocSpec& spec() const = 0;
  virtual const WorldId& world() const = 0;
  // The next event, or nothing when the deadline passes or the stream has ended (every
  // proc stopped and reported, see ended()).
  virtual std::optional<AllocEvent> next_event(Deadline deadline) = 0;
  virtual bool ended() const = 0;
  // The proc through which the mesh client talks to the procs (its world is
  // "<world>-client"); it lives as long as the Alloc.
  virtual Proc& client() = 0;
  // Where the client proc can be reached ("" when local).
  virtual std::string client_address() const = 0;
  // Asks every proc to stop, escalating to SIGTERM and SIGKILL after the configured
  // deadlines; each proc then reports stopped. Thread-safe, idempotent.
  virtual void stop() = 0;
  // Test hook: kills the proc of `rank` with `signal` (local procs: stops it abruptly and
  // reports killed(signal)). Thread-safe.
  virtual Result<void> kill(std::uint32_t rank, int signal) = 0;
};

}  // namespace zmesh
