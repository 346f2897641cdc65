#pragma once
// ChildProcessGroup: starts, watches, forwards the output of, and stops a group of child
// OS processes (the OS half of the process allocator; no sockets, no actors).
// Thread: one monitor thread per group forks every child, reads their pipes, reaps them and
// runs the callbacks; start, signal, terminate_all, wait_all_exited and running are
// thread-safe. Failure: start and signal return Result errors naming the child and the
// reason; how a child ended arrives as a ChildExit; the destructor kills and reaps the rest.
//
// How children are kept from becoming orphans:
// - Each child asks for PR_SET_PDEATHSIG(SIGKILL) before exec, then compares getppid()
//   with the pid recorded before fork, so a parent that died in between is noticed too.
//   The kernel sends the parent-death signal when the *thread* that forked exits, not the
//   process. That is why every fork happens on the group's long-lived monitor thread
//   (start() hands the request over and waits): forking on a caller's short-lived thread
//   would kill the child as soon as that thread ended. (PDEATHSIG is dropped by the kernel
//   when a child execs a set-user-id or file-capability binary.)
// - Each child leads its own process group. Terminal signals (Ctrl-C) to the client's
//   group therefore do not hit children twice, and signal(), terminate_all and the
//   destructor reach the child's whole group, so `sh -c 'python train.py'` stops python
//   too. When a child exits, whatever it left running in its group is SIGKILLed.
// - Signals are sent by process-group id only while the child is unreaped, under the same
//   lock as reaping: its pid (= group id) cannot have been reused (unlike Monarch, which
//   may SIGKILL recycled pids).
//
// Output: each child's stdout and stderr are pipes read by the monitor thread and split
// into lines (lines over 64 KiB are cut into pieces). stdin is /dev/null: children sit in
// background process groups, where reading the terminal would stop them.

#include "zmesh/core/config.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/log.hpp"

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace zmesh {

namespace internal {
class UniqueFd;
}

// What to run as one child.
struct ChildSpec {
  std::string executable;         // a path containing '/', or a name looked up in PATH
  std::vector<std::string> args;  // argv[1..]; argv[0] is `executable` as written
  // Added to this process's environment, overriding variables of the same name. PATH
  // lookup of `executable` uses the child's PATH (an override here counts).
  std::vector<std::pair<std::string, std::string>> environment;
};

// How a child ended.
struct ChildExit {
  enum class Kind {
    exited,  // returned from main or called exit: `code` is set
    killed,  // ended by a signal: `signal` and `core_dumped` are set
    unknown  // reaped by someone else in this process (SIGCHLD ignored, or waitpid(-1))
  };
  Kind kind = Kind::unknown;
  int code = 0;
  int signal = 0;
  bool core_dumped = false;
  std::vector<std::string> stderr_tail;  // its last Config::stderr_tail_lines stderr lines

  // "exited with code 3; stderr: <tail lines, '\n'-separated>", "killed by signal 9
  // (SIGKILL)", "killed by signal 11 (SIGSEGV), core dumped; stderr: ...". The tail is
  // left out of a clean exit (code 0) and when it is empty.
  std::string describe() const;
};

class ChildProcessGroup {
 public:
  struct Callbacks {
    // Each complete output line of child `index` (without its '\n'), in order per stream.
    // Empty: the line goes to our own stdout or stderr as "[index] line", written with one
    // write() so lines of different children do not interleave.
    std::function<void(std::size_t index, std::string_view line, bool is_stderr)> on_output;
    // Exactly once per started child, after it was reaped and its pipes reached EOF (or
    // stayed open 500 ms after the exit, held by a process that left the child's group),
    // so the stderr tail is complete and follows every on_output line of that child.
    std::function<void(std::size_t index, pid_t pid, const ChildExit& exit)> on_exit;
  };
  // Both callbacks run on the monitor thread. They may call start() and signal(); they must
  // not call terminate_all or wait_all_exited (which wait for this thread; they return false
  // at once) nor destroy the group. An exception escaping a callback is logged and dropped.

  // -- construction --
  // Starts the monitor thread. Throws Exception if the thread or its wake-up fd cannot be
  // created.
  ChildProcessGroup(Callbacks callbacks, const Config& config);
  ChildProcessGroup(const ChildProcessGroup&) = delete;
  ChildProcessGroup& operator=(const ChildProcessGroup&) = delete;
  // SIGKILLs every child's group still running, reaps them (on_exit still runs), and joins
  // the monitor thread. Never blocks for ever: a child that has not died 5 s after SIGKILL
  // (stuck in the kernel, e.g. on a dead NFS mount) is logged and left to a detached thread
  // that reaps it whenever it dies; it gets no on_exit.
  ~ChildProcessGroup();

  // -- starting --
  // Thread-safe. Starts `spec` as child `index` and returns its pid once exec succeeded.
  // Errors: duplicate (index still running or not yet reported), not_found (no such
  // executable), invalid_argument (empty name, not executable, bad format), proc_failed
  // (fork, pipe or pidfd failed), stopped (the group is being destroyed). Messages read
  // "cannot start /no/such: No such file or directory".
  Result<pid_t> start(std::size_t index, const ChildSpec& spec);

  // -- signalling and stopping --
  // Thread-safe. Sends `signal` to child `index`'s process group. not_found when that child
  // is not running (never started, or already reaped); invalid_argument for a bad signal.
  Result<void> signal(std::size_t index, int signal);
  // Thread-safe. SIGTERM to every running child, SIGKILL to those still running after
  // `kill_after` (unless the deadline comes first). True once every child's on_exit has
  // returned; false if the deadline passed first.
  bool terminate_all(Millis kill_after, Deadline deadline);
  // Thread-safe. True once every started child's on_exit has returned; false at the deadline.
  bool wait_all_exited(Deadline deadline);
  // Thread-safe. Children started whose on_exit has not returned yet.
  std::size_t running() const;

 private:
  struct Child;
  struct StartRequest;

  // -- monitor thread --
  void monitor();
  bool take_requests();  // serves queued start requests; true once the group is stopping
  Result<pid_t> start_now(std::size_t index, const ChildSpec& spec);
  void read_output(Child& child, bool is_stderr);
  void deliver_line(Child& child, std::string_view line, bool is_stderr);
  void forward_line(std::size_t index, std::string_view line, bool is_stderr);
  void reap(Child& child);
  void report_finished(bool force);
  void abandon_unkillable();

  // -- any thread --
  bool on_monitor_thread() const;
  void wake();
  void signal_all_locked(int signal);  // mutex_ held

  Callbacks callbacks_;
  std::uint32_t stderr_tail_lines_;
  Logger log_;
  std::unique_ptr<internal::UniqueFd> wake_fd_;  // eventfd: start requests and shutdown wake the monitor

  mutable std::mutex mutex_;              // guards requests_, stopping_, live_, active_
  std::condition_variable all_reported_;  // notified when active_ drops to zero
  std::deque<std::shared_ptr<StartRequest>> requests_;
  bool stopping_ = false;
  // Started and not yet reaped, so the pid (= process group id) is still ours to signal.
  std::unordered_map<std::size_t, pid_t> live_;
  std::size_t active_ = 0;  // started and on_exit not yet returned

  // Owned by the monitor thread alone.
  std::map<std::size_t, std::unique_ptr<Child>> children_;
  std::vector<char> read_buffer_;
  std::string forward_buffer_;

  std::thread monitor_;  // last: starts once every member above exists
};

}  // namespace zmesh
