#include "zmesh/alloc/child_process.hpp"

#include "zmesh/core/internal/unique_fd.hpp"

#include "zmesh/alloc/internal/child_launch.hpp"
#include "zmesh/alloc/internal/line_splitter.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <exception>
#include <future>
#include <optional>
#include <system_error>

namespace zmesh {
namespace {

using internal::errno_text;
using internal::UniqueFd;

constexpr std::size_t max_line_bytes = 64 * 1024;
// How long after a child's exit its pipes may stay open (held by a process that left the
// child's group) before on_exit is reported anyway.
constexpr Millis output_drain_limit{500};
// How long after the destructor's SIGKILL a child may take to die before it is abandoned.
constexpr Millis unkillable_after{5000};

std::string signal_name(int signal) {
  if (const char* abbreviation = ::sigabbrev_np(signal)) {
    return std::string("SIG") + abbreviation;
  }
  if (signal >= SIGRTMIN && signal <= SIGRTMAX) {
    return "SIGRTMIN+" + std::to_string(signal - SIGRTMIN);
  }
  return "no such signal";
}

// Sends `signal` to the process group that `pid` leads; returns 0 or an errno value. A child
// that moved itself to another group still gets the signal on its own pid.
int send_to_group(pid_t pid, int signal) {
  const bool group_reached = ::kill(-pid, signal) == 0;
  const int group_error = errno;
  if (::getpgid(pid) == pid) return group_reached ? 0 : group_error;
  return ::kill(pid, signal) == 0 || group_reached ? 0 : errno;
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;  // our own stdout or stderr is gone: the line is dropped
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
}

// A callback's exception must not end the monitor thread (and with it every child).
template <class Call>
void run_callback(const Logger& log, std::string_view name, std::size_t index, Call&& call) {
  try {
    call();
  } catch (const std::exception& e) {
    log.error("ZM-CHILD-CALLBACK child {}: {} threw: {}; ignored", index, name, e.what());
  } catch (...) {
    log.error("ZM-CHILD-CALLBACK child {}: {} threw a non-standard exception; ignored", index,
              name);
  }
}

}  // namespace

std::string ChildExit::describe() const {
  std::string text;
  switch (kind) {
    case Kind::exited:
      text = "exited with code " + std::to_string(code);
      break;
    case Kind::killed:
      text = "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ")";
      if (core_dumped) text += ", core dumped";
      break;
    case Kind::unknown:
      text = "ended with an unknown status (reaped elsewhere in this process; is SIGCHLD ignored?)";
      break;
  }
  if ((kind == Kind::exited && code == 0) || stderr_tail.empty()) return text;
  text += "; stderr: ";
  for (std::size_t i = 0; i < stderr_tail.size(); ++i) {
    if (i > 0) text += '\n';
    text += stderr_tail[i];
  }
  return text;
}

struct ChildProcessGroup::Child {
  struct Stream {
    UniqueFd fd;  // closed at EOF
    internal::LineSplitter lines{max_line_bytes};
  };
  std::size_t index = 0;
  pid_t pid = -1;
  UniqueFd pidfd;  // closed once reaped
  Stream out;
  Stream err;
  std::deque<std::string> stderr_tail;
  std::optional<ChildExit> exit;  // set once reaped
  Deadline report_by{};           // once reaped: report even if a pipe is still open
};

struct ChildProcessGroup::StartRequest {
  std::size_t index = 0;
  ChildSpec spec;
  std::promise<Result<pid_t>> result;
};

// -- construction --

ChildProcessGroup::ChildProcessGroup(Callbacks callbacks, const Config& config)
    : callbacks_(std::move(callbacks)),
      stderr_tail_lines_(config.stderr_tail_lines),
      log_("zmesh.alloc", "child-processes", config.log_level),
      wake_fd_(std::make_unique<internal::UniqueFd>(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))),
      read_buffer_(max_line_bytes) {
  if (!wake_fd_->valid()) {
    throw Exception(
        Error{ErrorCode::proc_failed,
              "cannot create a child process group: eventfd failed: " + errno_text(errno)});
  }
  // The monitor thread starts with asynchronous signals blocked: the embedding program's
  // handlers keep running on its own threads, and children inherit the mask across fork, so
  // none of those handlers can run in a child before its exec (which resets the mask).
  // Fault signals stay open for sanitizers and debuggers.
  sigset_t blocked;
  sigset_t previous;
  ::sigfillset(&blocked);
  for (const int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) {
    ::sigdelset(&blocked, fault);
  }
  ::pthread_sigmask(SIG_BLOCK, &blocked, &previous);
  try {
    monitor_ = std::thread([this] { monitor(); });
  } catch (const std::system_error& e) {
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw Exception(Error{ErrorCode::proc_failed,
                          std::string("cannot create a child process group: ") + e.what()});
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

ChildProcessGroup::~ChildProcessGroup() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  monitor_.join();
}

// -- starting --

Result<pid_t> ChildProcessGroup::start(std::size_t index, const ChildSpec& spec) {
  if (on_monitor_thread()) return start_now(index, spec);  // from a callback
  auto request = std::make_shared<StartRequest>();
  request->index = index;
  request->spec = spec;
  auto result = request->result.get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return Error{ErrorCode::stopped, "cannot start " + spec.executable + " as child " +
                                           std::to_string(index) + ": the group is shutting down"};
    }
    requests_.push_back(std::move(request));
  }
  wake();
  return result.get();
}

Result<pid_t> ChildProcessGroup::start_now(std::size_t index, const ChildSpec& spec) {
  const std::string culprit = spec.executable + " as child " + std::to_string(index);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return Error{ErrorCode::stopped, "cannot start " + culprit + ": the group is shutting down"};
    }
  }
  if (const auto found = children_.find(index); found != children_.end()) {
    return Error{ErrorCode::duplicate, "cannot start " + culprit + ": child " +
                                           std::to_string(index) + " (pid " +
                                           std::to_string(found->second->pid) +
                                           ") is still running or its exit is not reported yet"};
  }
  auto launched = internal::launch_child(spec);
  if (!launched) return std::move(launched).error();

  auto child = std::make_unique<Child>();
  child->index = index;
  child->pid = launched->pid;
  child->pidfd = std::move(launched->pidfd);
  child->out.fd = std::move(launched->stdout_fd);
  child->err.fd = std::move(launched->stderr_fd);
  children_.emplace(index, std::move(child));
  {
    std::lock_guard lock(mutex_);
    live_[index] = launched->pid;
    ++active_;
  }
  log_.debug("child {} started: pid {}, {}", index, launched->pid, spec.executable);
  return launched->pid;
}

// -- signalling and stopping --

Result<void> ChildProcessGroup::signal(std::size_t index, int signal) {
  const std::string what = "cannot send signal " + std::to_string(signal) + " (" +
                           signal_name(signal) + ") to child " + std::to_string(index);
  std::lock_guard lock(mutex_);
  const auto found = live_.find(index);
  if (found == live_.end()) return Error{ErrorCode::not_found, what + ": it is not running"};
  if (const int error = send_to_group(found->second, signal); error != 0) {
    return Error{error == EINVAL ? ErrorCode::invalid_argument : ErrorCode::proc_failed,
                 what + " (pid " + std::to_string(found->second) + "): " + errno_text(error)};
  }
  return {};
}

bool ChildProcessGroup::terminate_all(Millis kill_after, Deadline deadline) {
  if (on_monitor_thread()) {
    log_.error("ZM-CHILD-MISUSE terminate_all called from a callback; it would wait for itself");
    return false;
  }
  std::unique_lock lock(mutex_);
  const auto all_reported = [this] { return active_ == 0; };
  signal_all_locked(SIGTERM);
  const Deadline kill_at = Clock::now() + kill_after;
  if (kill_at >= deadline) return all_reported_.wait_until(lock, deadline, all_reported);
  if (all_reported_.wait_until(lock, kill_at, all_reported)) return true;
  signal_all_locked(SIGKILL);
  return all_reported_.wait_until(lock, deadline, all_reported);
}

bool ChildProcessGroup::wait_all_exited(Deadline deadline) {
  if (on_monitor_thread()) {
    log_.error("ZM-CHILD-MISUSE wait_all_exited called from a callback; it would wait for itself");
    return false;
  }
  std::unique_lock lock(mutex_);
  return all_reported_.wait_until(lock, deadline, [this] { return active_ == 0; });
}

std::size_t ChildProcessGroup::running() const {
  std::lock_guard lock(mutex_);
  return active_;
}

void ChildProcessGroup::signal_all_locked(int signal) {
  for (const auto& [index, pid] : live_) send_to_group(pid, signal);
}

bool ChildProcessGroup::on_monitor_thread() const {
  return std::this_thread::get_id() == monitor_.get_id();
}

void ChildProcessGroup::wake() {
  const std::uint64_t one = 1;
  // Can only fail with EAGAIN, when the counter is enormous: a wake-up is pending anyway.
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_->get(), &one, sizeof one);
}

// -- monitor thread --

void ChildProcessGroup::monitor() {
  enum class Source { wake, out, err, exit };
  std::vector<pollfd> polled;
  std::vector<std::pair<Child*, Source>> sources;  // what polled[i] belongs to
  std::optional<Deadline> give_up_at;              // set once stopping and SIGKILL was sent
  while (true) {
    if (take_requests() && !give_up_at) {
      std::lock_guard lock(mutex_);
      signal_all_locked(SIGKILL);
      give_up_at = Clock::now() + unkillable_after;
    }
    report_finished(false);
    if (give_up_at) {
      if (children_.empty()) return;
      if (Clock::now() >= *give_up_at) {
        abandon_unkillable();
        return;
      }
    }

    polled.clear();
    sources.clear();
    const auto watch = [&](int fd, Child* child, Source source) {
      polled.push_back(pollfd{fd, POLLIN, 0});
      sources.emplace_back(child, source);
    };
    watch(wake_fd_->get(), nullptr, Source::wake);
    std::optional<Deadline> wake_by = give_up_at;
    for (auto& [index, child] : children_) {
      if (child->out.fd.valid()) watch(child->out.fd.get(), child.get(), Source::out);
      if (child->err.fd.valid()) watch(child->err.fd.get(), child.get(), Source::err);
      if (child->pidfd.valid()) watch(child->pidfd.get(), child.get(), Source::exit);
      if (child->exit) wake_by = std::min(wake_by.value_or(child->report_by), child->report_by);
    }
    int timeout_ms = -1;  // idle: block until a pipe, an exit or a request wakes us
    if (wake_by) {
      const auto left = std::chrono::ceil<Millis>(*wake_by - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<decltype(left)>(left, 0, INT_MAX));
    }
    if (::poll(polled.data(), polled.size(), timeout_ms) < 0) {
      if (errno == EINTR || errno == ENOMEM) continue;
      log_.error("ZM-CHILD-POLL poll failed: {}", errno_text(errno));
      std::abort();  // EFAULT or EINVAL: a bug in how the set was built
    }
    for (std::size_t i = 1; i < polled.size(); ++i) {
      if (polled[i].revents == 0) continue;
      auto [child, source] = sources[i];
      switch (source) {
        case Source::out:
          read_output(*child, false);
          break;
        case Source::err:
          read_output(*child, true);
          break;
        case Source::exit:
          reap(*child);
          break;
        case Source::wake:
          break;
      }
    }
  }
}

bool ChildProcessGroup::take_requests() {
  std::uint64_t count = 0;
  // Reset the eventfd before taking the queue: a request queued after this read wakes us again.
  [[maybe_unused]] const ssize_t got = ::read(wake_fd_->get(), &count, sizeof count);
  std::deque<std::shared_ptr<StartRequest>> requests;
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    requests.swap(requests_);
    stopping = stopping_;
  }
  for (auto& request : requests)
    request->result.set_value(start_now(request->index, request->spec));
  return stopping;
}

void ChildProcessGroup::read_output(Child& child, bool is_stderr) {
  auto& stream = is_stderr ? child.err : child.out;
  const auto on_line = [&](std::string_view line) { deliver_line(child, line, is_stderr); };
  // One read per wake-up, so a chatty child cannot starve the others.
  const ssize_t got = ::read(stream.fd.get(), read_buffer_.data(), read_buffer_.size());
  if (got > 0) {
    stream.lines.feed(std::string_view(read_buffer_.data(), static_cast<std::size_t>(got)),
                      on_line);
    return;
  }
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  stream.lines.finish(on_line);  // EOF, or a read error, which ends the stream just the same
  stream.fd.reset();
}

void ChildProcessGroup::deliver_line(Child& child, std::string_view line, bool is_stderr) {
  if (is_stderr && stderr_tail_lines_ > 0) {
    child.stderr_tail.emplace_back(line);
    if (child.stderr_tail.size() > stderr_tail_lines_) child.stderr_tail.pop_front();
  }
  if (!callbacks_.on_output) {
    forward_line(child.index, line, is_stderr);
    return;
  }
  run_callback(log_, "on_output", child.index,
               [&] { callbacks_.on_output(child.index, line, is_stderr); });
}

void ChildProcessGroup::forward_line(std::size_t index, std::string_view line, bool is_stderr) {
  forward_buffer_.assign("[").append(std::to_string(index)).append("] ").append(line);
  forward_buffer_.push_back('\n');
  // One write() per line: lines of different children (and groups) stay whole.
  write_all(is_stderr ? STDERR_FILENO : STDOUT_FILENO, forward_buffer_);
}

void ChildProcessGroup::reap(Child& child) {
  siginfo_t info{};
  int waited = 0;
  {
    std::lock_guard lock(mutex_);  // signal() must not see the pid once it may be reused
    // Until it is reaped, the exited child's pid cannot be reused, so its group id names
    // only what the child left behind: nothing it started may outlive it.
    ::kill(-child.pid, SIGKILL);
    do {  // the pidfd said it exited, so this does not block
      waited = ::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED);
    } while (waited < 0 && errno == EINTR);
    live_.erase(child.index);
  }
  ChildExit exit;
  if (waited < 0) {
    log_.warn(
        "ZM-CHILD-REAPED-ELSEWHERE child {} (pid {}) was reaped by someone else, so its exit "
        "status is unknown; does this program ignore SIGCHLD or call waitpid(-1)?",
        child.index, child.pid);
  } else if (info.si_code == CLD_EXITED) {
    exit.kind = ChildExit::Kind::exited;
    exit.code = info.si_status;
  } else {
    exit.kind = ChildExit::Kind::killed;
    exit.signal = info.si_status;
    exit.core_dumped = info.si_code == CLD_DUMPED;
  }
  child.exit = std::move(exit);
  child.pidfd.reset();
  child.report_by = Clock::now() + output_drain_limit;
}

void ChildProcessGroup::report_finished(bool force) {
  const auto now = Clock::now();
  std::vector<std::unique_ptr<Child>> finished;
  for (auto it = children_.begin(); it != children_.end();) {
    const Child& child = *it->second;
    const bool drained = !child.out.fd.valid() && !child.err.fd.valid();
    if (child.exit && (drained || force || now >= child.report_by)) {
      finished.push_back(std::move(it->second));
      it = children_.erase(it);  // first, so that on_exit may start this index again
    } else {
      ++it;
    }
  }
  for (auto& child : finished) {
    for (const bool is_stderr : {false, true}) {  // still open: held by an escaped process
      auto& stream = is_stderr ? child->err : child->out;
      if (!stream.fd.valid()) continue;
      stream.lines.finish([&](std::string_view line) { deliver_line(*child, line, is_stderr); });
      stream.fd.reset();
    }
    ChildExit& exit = *child->exit;
    exit.stderr_tail.assign(child->stderr_tail.begin(), child->stderr_tail.end());
    log_.debug("child {} (pid {}) {}", child->index, child->pid, exit.describe());
    if (callbacks_.on_exit) {
      run_callback(log_, "on_exit", child->index,
                   [&] { callbacks_.on_exit(child->index, child->pid, exit); });
    }
    std::lock_guard lock(mutex_);
    if (--active_ == 0) all_reported_.notify_all();
  }
}

void ChildProcessGroup::abandon_unkillable() {
  std::vector<pid_t> unreaped;
  for (auto it = children_.begin(); it != children_.end();) {
    const Child& child = *it->second;
    if (child.exit) {
      ++it;
      continue;
    }
    log_.error(
        "ZM-CHILD-UNKILLABLE child {} (pid {}) is still alive {} ms after SIGKILL (stuck in "
        "the kernel?); it gets no on_exit and is reaped in the background when it dies",
        child.index, child.pid, unkillable_after.count());
    unreaped.push_back(child.pid);
    {
      std::lock_guard lock(mutex_);
      live_.erase(child.index);
      if (--active_ == 0) all_reported_.notify_all();
    }
    it = children_.erase(it);
  }
  report_finished(true);
  if (unreaped.empty()) return;
  try {
    std::thread([unreaped] {
      for (const pid_t pid : unreaped) {
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
    }).detach();
  } catch (const std::system_error& e) {
    log_.error("ZM-CHILD-UNKILLABLE no thread to reap them later ({}): they stay zombies",
               e.what());
  }
}

}  // namespace zmesh
