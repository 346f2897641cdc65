#include "zmesh/alloc/internal/child_launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh::internal {
namespace {

// Where the child was when it gave up, reported with errno through the status pipe.
enum class ChildStep : int { setpgid = 1, death_signal, redirect, exec };

struct StepFailure {
  int step = 0;
  int error = 0;
};

// Everything the child needs after fork, prepared before it: the child may not allocate.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  int stdin_fd;
  int stdout_fd;
  int stderr_fd;
  int status_fd;  // close-on-exec: a successful exec closes it, which the parent reads as EOF
  pid_t parent_pid;
  long max_fd;
};

// -- in the child: async-signal-safe calls only, no allocation, no exceptions --

[[noreturn]] void report_and_exit(int status_fd, ChildStep step) noexcept {
  const StepFailure failure{static_cast<int>(step), errno};
  // One write of 8 bytes to a pipe is atomic. Should it fail, the parent reads EOF instead
  // and on_exit still shows exit code 127.
  [[maybe_unused]] const ssize_t written = ::write(status_fd, &failure, sizeof failure);
  ::_exit(127);
}

// close_range(2) (Linux 5.9+) where the kernel has it; otherwise one close() per possible fd
// up to the limit read before fork (listing /proc/self/fd would need opendir: it allocates).
void close_inherited_fds(int keep, long max_fd) noexcept {
  const auto close_range = [](unsigned first, unsigned last) {
    return ::syscall(SYS_close_range, first, last, 0U) == 0;
  };
  const auto kept = static_cast<unsigned>(keep);
  if ((kept == 3 || close_range(3, kept - 1)) && close_range(kept + 1, ~0U)) return;
  for (long fd = 3; fd < max_fd; ++fd) {
    if (fd != keep) ::close(static_cast<int>(fd));
  }
}

// exec keeps ignored signals ignored and keeps the signal mask; start the child from the
// defaults instead, as a shell would (a client ignoring SIGPIPE must not pass that on).
void reset_signal_handling() noexcept {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    ::sigaction(sig, &default_action, nullptr);  // SIGKILL, SIGSTOP and libc's own refuse
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

[[noreturn]] void become_child(const ChildPlan& plan) noexcept {
  if (::setpgid(0, 0) != 0) report_and_exit(plan.status_fd, ChildStep::setpgid);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    report_and_exit(plan.status_fd, ChildStep::death_signal);
  }
  // The parent may have died before prctl took effect: then we were already reparented and
  // no signal will come. Nobody is left to read a report.
  if (::getppid() != plan.parent_pid) ::_exit(127);
  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 ||
      ::dup2(plan.stderr_fd, 2) < 0) {
    report_and_exit(plan.status_fd, ChildStep::redirect);
  }
  close_inherited_fds(plan.status_fd, plan.max_fd);
  reset_signal_handling();
  ::execve(plan.path, plan.argv, plan.envp);
  report_and_exit(plan.status_fd, ChildStep::exec);
}

// -- in the parent --

Error cannot_start(ErrorCode code, const std::string& executable, std::string_view reason) {
  return Error{code, "cannot start " + executable + ": " + std::string(reason)};
}

Error os_failure(const std::string& executable, std::string_view call, int error) {
  return cannot_start(ErrorCode::proc_failed, executable,
                      std::string(call) + " failed: " + errno_text(error));
}

// Pipe ends and /dev/null go to fd 3 or above, so that dup2-ing them onto 0, 1 and 2 in the
// child cannot overwrite one another (with our own stdio closed, pipe() hands out 0..2).
bool move_above_stdio(UniqueFd& fd) {
  if (fd.get() > 2) return true;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

// Both ends close-on-exec: threads of the embedding program that fork must not inherit them
// (the child gets its copies through dup2, which clears the flag).
bool make_pipe(Pipe& pipe) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  pipe.read_end.reset(fds[0]);
  pipe.write_end.reset(fds[1]);
  return move_above_stdio(pipe.read_end) && move_above_stdio(pipe.write_end);
}

// Ours, minus the names the spec overrides, plus the spec's pairs (a later pair wins).
Result<std::vector<std::string>> child_environment(const ChildSpec& spec) {
  const auto overridden_later = [&](std::string_view name, std::size_t from) {
    for (std::size_t i = from; i < spec.environment.size(); ++i) {
      if (spec.environment[i].first == name) return true;
    }
    return false;
  };
  std::vector<std::string> variables;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    if (!overridden_later(variable.substr(0, variable.find('=')), 0)) {
      variables.emplace_back(variable);
    }
  }
  for (std::size_t i = 0; i < spec.environment.size(); ++i) {
    const auto& [name, value] = spec.environment[i];
    if (name.empty() || name.find('=') != std::string::npos) {
      return cannot_start(ErrorCode::invalid_argument, spec.executable,
                          "environment variable name \"" + name + "\" is empty or contains '='");
    }
    if (!overridden_later(name, i + 1)) variables.push_back(name + "=" + value);
  }
  return variables;
}

std::string_view path_variable(const std::vector<std::string>& environment) {
  for (const auto& variable : environment) {
    if (variable.starts_with("PATH=")) return std::string_view(variable).substr(5);
  }
  return "/usr/local/bin:/usr/bin:/bin";
}

// A name without '/' is looked up in PATH, here, so that the child only has to execve.
Result<std::string> resolve_executable(const std::string& executable, std::string_view path) {
  if (executable.find('/') != std::string::npos) return executable;
  std::string_view rest = path;
  while (true) {
    const auto colon = rest.find(':');
    const std::string_view directory = rest.substr(0, colon);
    const std::string candidate =
        (directory.empty() ? std::string(".") : std::string(directory)) + "/" + executable;
    struct stat status {};
    if (::stat(candidate.c_str(), &status) == 0 && S_ISREG(status.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return cannot_start(ErrorCode::not_found, executable,
                      errno_text(ENOENT) + " (searched PATH=" + std::string(path) + ")");
}

void reap_blocking(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

Error report_error(const std::string& executable, const StepFailure& failure) {
  switch (static_cast<ChildStep>(failure.step)) {
    case ChildStep::exec:
      return cannot_start(
          failure.error == ENOENT ? ErrorCode::not_found : ErrorCode::invalid_argument, executable,
          errno_text(failure.error));
    case ChildStep::setpgid:
      return os_failure(executable, "setpgid in the child", failure.error);
    case ChildStep::death_signal:
      return os_failure(executable, "prctl(PR_SET_PDEATHSIG) in the child", failure.error);
    case ChildStep::redirect:
      return os_failure(executable, "redirecting stdio in the child", failure.error);
  }
  return os_failure(executable, "an unknown step in the child", failure.error);
}

}  // namespace

std::string errno_text(int error) {
  const char* text = ::strerrordesc_np(error);  // unlike strerror, thread-safe
  return text != nullptr ? text : "error " + std::to_string(error);
}

Result<LaunchedChild> launch_child(const ChildSpec& spec) {
  const std::string& name = spec.executable;
  if (name.empty()) {
    return Error{ErrorCode::invalid_argument, "cannot start a child: the executable is empty"};
  }
  auto environment = child_environment(spec);
  if (!environment) return std::move(environment).error();
  auto path = resolve_executable(name, path_variable(*environment));
  if (!path) return std::move(path).error();

  std::vector<char*> argv;  // execve's arrays point into strings that outlive the fork
  argv.push_back(const_cast<char*>(name.c_str()));
  for (const auto& arg : spec.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& variable : *environment) envp.push_back(variable.data());
  envp.push_back(nullptr);

  Pipe out, err, status;
  if (!make_pipe(out) || !make_pipe(err) || !make_pipe(status)) {
    return os_failure(name, "pipe", errno);
  }
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid() || !move_above_stdio(dev_null)) {
    return os_failure(name, "open /dev/null", errno);
  }
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  const ChildPlan plan{
      path->c_str(),          argv.data(),         envp.data(),
      dev_null.get(),         out.write_end.get(), err.write_end.get(),
      status.write_end.get(), ::getpid(),          open_max > 0 ? open_max : 65536};

  const pid_t pid = ::fork();
  if (pid < 0) return os_failure(name, "fork", errno);
  if (pid == 0) become_child(plan);

  out.write_end.reset();
  err.write_end.reset();
  status.write_end.reset();
  dev_null.reset();
  // Opened before anything can reap the child, so it refers to this very process.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U)));
  const int pidfd_error = errno;

  StepFailure failure;
  ssize_t got;
  do {
    got = ::read(status.read_end.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got != 0) {  // the child reported a failure (and is exiting), or the pipe broke
    const int read_error = errno;
    ::kill(pid, SIGKILL);
    reap_blocking(pid);
    if (got == static_cast<ssize_t>(sizeof failure)) return report_error(name, failure);
    return os_failure(name, "reading the child's exec status", got < 0 ? read_error : EIO);
  }
  if (!pidfd.valid()) {  // exec succeeded, so the child leads its own group by now
    ::kill(-pid, SIGKILL);
    reap_blocking(pid);
    return os_failure(name, "pidfd_open (Linux 5.3 or later is needed)", pidfd_error);
  }
  for (const auto& pipe : {&out, &err}) {
    const int flags = ::fcntl(pipe->read_end.get(), F_GETFL);
    ::fcntl(pipe->read_end.get(), F_SETFL, flags | O_NONBLOCK);
  }
  return LaunchedChild{pid, std::move(pidfd), std::move(out.read_end), std::move(err.read_end)};
}

}  // namespace zmesh::internal
