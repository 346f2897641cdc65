// ChildProcessGroup with real processes: output lines, exit reasons, exec errors, signals,
// SIGTERM -> SIGKILL escalation, destruction, and children dying with their parent.
#include "zmesh/alloc/child_process.hpp"

#include "testing/wait.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::wait_until;

// Everything a group reported, in arrival order.
class Recorder {
 public:
  struct Exit {
    pid_t pid = -1;
    ChildExit exit;
  };

  ChildProcessGroup::Callbacks callbacks() {
    return {[this](std::size_t index, std::string_view line, bool is_stderr) {
              std::lock_guard lock(mutex_);
              events_.push_back(Event{index, std::string(line), is_stderr, false});
            },
            [this](std::size_t index, pid_t pid, const ChildExit& exit) {
              std::lock_guard lock(mutex_);
              exits_[index] = Exit{pid, exit};
              ++exit_count_;
              events_.push_back(Event{index, "", false, true});
            }};
  }

  std::vector<std::string> lines(std::size_t index, bool is_stderr) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> result;
    for (const auto& event : events_) {
      if (!event.is_exit && event.index == index && event.is_stderr == is_stderr) {
        result.push_back(event.line);
      }
    }
    return result;
  }

  bool saw_line(std::size_t index, std::string_view line) const {
    std::lock_guard lock(mutex_);
    for (const auto& event : events_) {
      if (!event.is_exit && event.index == index && event.line == line) return true;
    }
    return false;
  }

  std::optional<std::string> first_line(std::size_t index) const {
    std::lock_guard lock(mutex_);
    for (const auto& event : events_) {
      if (!event.is_exit && event.index == index) return event.line;
    }
    return std::nullopt;
  }

  std::optional<Exit> exit_of(std::size_t index) const {
    std::lock_guard lock(mutex_);
    const auto found = exits_.find(index);
    if (found == exits_.end()) return std::nullopt;
    return found->second;
  }

  std::size_t exit_count() const {
    std::lock_guard lock(mutex_);
    return exit_count_;
  }

  // True when child `index` exited and none of its lines came after its exit.
  bool exit_came_last(std::size_t index) const {
    std::lock_guard lock(mutex_);
    bool exited = false;
    for (const auto& event : events_) {
      if (event.index != index) continue;
      if (exited) return false;
      exited = event.is_exit;
    }
    return exited;
  }

 private:
  struct Event {
    std::size_t index;
    std::string line;
    bool is_stderr;
    bool is_exit;
  };
  mutable std::mutex mutex_;
  std::vector<Event> events_;
  std::map<std::size_t, Exit> exits_;
  std::size_t exit_count_ = 0;
};

ChildSpec shell(std::string script) {
  return ChildSpec{"/bin/sh", {"-c", std::move(script)}, {}};
}

std::optional<Recorder::Exit> wait_for_exit(const Recorder& recorder, std::size_t index) {
  wait_until(10s, [&] { return recorder.exit_of(index).has_value(); });
  return recorder.exit_of(index);
}

bool wait_for_line(const Recorder& recorder, std::size_t index, std::string_view line) {
  return wait_until(10s, [&] { return recorder.saw_line(index, line); });
}

// The first output line of child `index` read as a pid ("123", or "grandchild 123").
pid_t wait_for_pid_line(const Recorder& recorder, std::size_t index) {
  wait_until(10s, [&] { return recorder.first_line(index).has_value(); });
  const std::string line = recorder.first_line(index).value_or("");
  const auto digits = line.find_first_of("0123456789");
  return digits == std::string::npos ? -1 : std::stoi(line.substr(digits));
}

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

// Makes this test process the reaper of its orphaned descendants while it lives, so a test
// can watch a grandchild die and reap it itself. (This container's init does not reap
// orphans, so without it they would stay zombies, and kill(pid, 0) would keep succeeding.)
class OrphanReaper {
 public:
  OrphanReaper() { EXPECT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
  ~OrphanReaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
  OrphanReaper(const OrphanReaper&) = delete;
  OrphanReaper& operator=(const OrphanReaper&) = delete;

  // Waits until `pid`, orphaned and now ours, has died; reaps it and returns its wait status.
  std::optional<int> reap(pid_t pid) {
    int status = 0;
    if (!wait_until(10s, [&] { return ::waitpid(pid, &status, WNOHANG) == pid; })) {
      return std::nullopt;
    }
    return status;
  }
};

bool killed_by(const std::optional<int>& wait_status, int signal) {
  return wait_status && WIFSIGNALED(*wait_status) && WTERMSIG(*wait_status) == signal;
}

// -- output --

TEST(ChildProcessGroupTest, OutputLinesKeepTheirIndexAndTheirOrderPerStream) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  const std::vector<std::size_t> indices{0, 5};
  for (const std::size_t index : indices) {
    const std::string tag = std::to_string(index);
    auto pid = group.start(
        index, shell("i=0; while [ $i -lt 300 ]; do echo \"out" + tag + " $i\"; echo \"err" + tag +
                     " $i\" >&2; i=$((i+1)); done; printf 'partial" + tag + "'"));
    ASSERT_TRUE(pid.ok()) << pid.error().describe();
  }
  ASSERT_TRUE(group.wait_all_exited(deadline_in(10s)));
  for (const std::size_t index : indices) {
    const std::string tag = std::to_string(index);
    std::vector<std::string> expected_out, expected_err;
    for (int i = 0; i < 300; ++i) {
      expected_out.push_back("out" + tag + " " + std::to_string(i));
      expected_err.push_back("err" + tag + " " + std::to_string(i));
    }
    expected_out.push_back("partial" + tag);  // the last line had no newline
    EXPECT_EQ(recorder.lines(index, false), expected_out);
    EXPECT_EQ(recorder.lines(index, true), expected_err);
    EXPECT_TRUE(recorder.exit_came_last(index));
    EXPECT_EQ(recorder.exit_of(index)->exit.describe(), "exited with code 0");
  }
  EXPECT_EQ(group.running(), 0u);
}

TEST(ChildProcessGroupTest, LongLinesAreCutAt64KiB) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  ASSERT_TRUE(group.start(0, shell("head -c 100000 /dev/zero | tr '\\0' x; echo; echo after")));
  ASSERT_TRUE(wait_for_exit(recorder, 0));
  const auto lines = recorder.lines(0, false);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], std::string(65536, 'x'));
  EXPECT_EQ(lines[1], std::string(100000 - 65536, 'x'));
  EXPECT_EQ(lines[2], "after");
}

TEST(ChildProcessGroupTest, DefaultForwardingPrefixesEachWholeLineWithTheIndex) {
  // The helper forwards its children's lines to its own stdout and stderr, which we read.
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  ASSERT_TRUE(group.start(0, ChildSpec{ZMESH_CHILD_HELPER, {"forward", "3"}, {}}));
  const auto exit = wait_for_exit(recorder, 0);
  ASSERT_TRUE(exit);
  ASSERT_EQ(exit->exit.describe(), "exited with code 0");
  for (const bool is_stderr : {false, true}) {
    const auto lines = recorder.lines(0, is_stderr);
    EXPECT_EQ(lines.size(), 300u);
    for (std::size_t child = 3; child < 6; ++child) {
      const std::string prefix = fmt::format("[{}] ", child);  // GCC 12 -O3: false -Wrestrict on +
      std::vector<std::string> mine, expected;
      for (const auto& line : lines) {
        if (line.starts_with(prefix)) mine.push_back(line);
      }
      for (int i = 0; i < 100; ++i) {
        expected.push_back(prefix + (is_stderr ? "err " : "out ") + std::to_string(i));
      }
      EXPECT_EQ(mine, expected) << "stream " << (is_stderr ? "stderr" : "stdout");
    }
  }
}

// -- exit reasons --

TEST(ChildProcessGroupTest, NonZeroExitCarriesTheStderrTail) {
  Config config;
  config.stderr_tail_lines = 3;
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), config);
  ASSERT_TRUE(group.start(
      0, shell("echo to-stdout; for l in one two three four; do echo $l >&2; done; exit 3")));
  ASSERT_TRUE(group.start(1, shell("echo just-a-warning >&2")));
  const auto failed = wait_for_exit(recorder, 0);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->exit.kind, ChildExit::Kind::exited);
  EXPECT_EQ(failed->exit.code, 3);
  EXPECT_EQ(failed->exit.stderr_tail, (std::vector<std::string>{"two", "three", "four"}));
  EXPECT_EQ(failed->exit.describe(), "exited with code 3; stderr: two\nthree\nfour");
  const auto clean = wait_for_exit(recorder, 1);
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->exit.stderr_tail, std::vector<std::string>{"just-a-warning"});
  EXPECT_EQ(clean->exit.describe(), "exited with code 0");  // the tail only explains failures
}

TEST(ChildProcessGroupTest, KillBySignalIsReported) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  auto pid = group.start(0, shell("echo ready; exec sleep 300"));
  ASSERT_TRUE(pid);
  ASSERT_TRUE(wait_for_line(recorder, 0, "ready"));
  ASSERT_TRUE(group.signal(0, SIGKILL));
  const auto exit = wait_for_exit(recorder, 0);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->pid, *pid);
  EXPECT_EQ(exit->exit.kind, ChildExit::Kind::killed);
  EXPECT_EQ(exit->exit.signal, SIGKILL);
  EXPECT_FALSE(exit->exit.core_dumped);
  EXPECT_EQ(exit->exit.describe(), "killed by signal 9 (SIGKILL)");
}

// A core file can only be promised when it lands in the child's directory and the hard limit
// lets the child raise its soft limit; elsewhere (a piped core_pattern, say) only the signal
// is checked.
bool core_files_land_in_working_directory() {
  rlimit limit{};
  std::ifstream pattern_file("/proc/sys/kernel/core_pattern");
  std::string pattern;
  std::getline(pattern_file, pattern);
  return ::getrlimit(RLIMIT_CORE, &limit) == 0 && limit.rlim_max != 0 && !pattern.empty() &&
         pattern[0] != '|' && pattern[0] != '/';
}

TEST(ChildProcessGroupTest, CrashReportsTheSignalAndTheCoreDump) {
  const std::filesystem::path directory = testing::unique_temp_path("core");
  std::filesystem::create_directories(directory);
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  ASSERT_TRUE(group.start(0, shell("echo crashing >&2; ulimit -c unlimited 2>/dev/null; cd '" +
                                   directory.string() + "' && kill -SEGV $$")));
  const auto exit = wait_for_exit(recorder, 0);
  std::filesystem::remove_all(directory);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit.kind, ChildExit::Kind::killed);
  EXPECT_EQ(exit->exit.signal, SIGSEGV);
  if (core_files_land_in_working_directory()) {
    EXPECT_TRUE(exit->exit.core_dumped);
    EXPECT_EQ(exit->exit.describe(),
              "killed by signal 11 (SIGSEGV), core dumped; stderr: crashing");
  } else {
    std::cout << "core dumps are not written to the working directory here: checked the signal\n";
  }
}

// -- starting --

TEST(ChildProcessGroupTest, ExecFailureNamesTheExecutableAndTheReason) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});

  auto missing = group.start(0, ChildSpec{"/no/such", {}, {}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::not_found);
  EXPECT_EQ(missing.error().message, "cannot start /no/such: No such file or directory");

  const std::string not_executable = testing::unique_temp_path("not-executable");
  std::ofstream(not_executable) << "#!/bin/sh\n";
  auto denied = group.start(0, ChildSpec{not_executable, {}, {}});
  std::filesystem::remove(not_executable);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(denied.error().message, "cannot start " + not_executable + ": Permission denied");

  auto unknown =
      group.start(0, ChildSpec{"zmesh-no-such-program", {}, {{"PATH", "/bin:/usr/bin"}}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::not_found);
  EXPECT_EQ(unknown.error().message,
            "cannot start zmesh-no-such-program: No such file or directory (searched "
            "PATH=/bin:/usr/bin)");

  auto empty = group.start(0, ChildSpec{});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::invalid_argument);

  auto bad_variable = group.start(0, ChildSpec{"/bin/true", {}, {{"A=B", "x"}}});
  ASSERT_FALSE(bad_variable.ok());
  EXPECT_EQ(bad_variable.error().code, ErrorCode::invalid_argument);

  EXPECT_EQ(group.running(), 0u);
  EXPECT_EQ(recorder.exit_count(), 0u);  // a child that never started has no exit
  ASSERT_TRUE(group.start(0, ChildSpec{"/bin/true", {}, {}}));  // and the index is free
  ASSERT_TRUE(wait_for_exit(recorder, 0));
}

TEST(ChildProcessGroupTest, FindsTheExecutableInPathAndPassesArgumentsAndEnvironment) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  ChildSpec spec{"sh",
                 {"-c", "printf '%s|' \"$@\"; echo \"$ZMESH_TEST_VALUE $HOME\"", "sh", "a b", ""},
                 {{"ZMESH_TEST_VALUE", "42"}, {"HOME", "/nowhere"}}};
  ASSERT_TRUE(group.start(0, spec));
  ASSERT_TRUE(wait_for_exit(recorder, 0));
  EXPECT_EQ(recorder.lines(0, false), std::vector<std::string>{"a b||42 /nowhere"});
}

TEST(ChildProcessGroupTest, ChildStartsCleanInItsOwnProcessGroup) {
  // Ignoring SIGPIPE here (as network programs do) must not be passed on to the child.
  const auto previous = ::signal(SIGPIPE, SIG_IGN);
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  auto pid = group.start(
      0, shell("read -r _ _ _ _ group _ < /proc/$$/stat; echo \"group $group\"; "
               "read -r line; echo \"stdin $?\"; ls /proc/self/fd | tr '\\n' ' '; echo; "
               "exec grep -E '^(SigIgn|SigBlk)' /proc/self/status"));
  ::signal(SIGPIPE, previous);
  ASSERT_TRUE(pid);
  ASSERT_TRUE(wait_for_exit(recorder, 0));
  EXPECT_EQ(recorder.lines(0, false),
            (std::vector<std::string>{"group " + std::to_string(*pid), "stdin 1",
                                      "0 1 2 3 ",  // 3 is ls's own directory fd
                                      "SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"}));
}

TEST(ChildProcessGroupTest, StartIsThreadSafe) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  std::mutex mutex;
  std::set<pid_t> pids;
  std::vector<std::thread> threads;
  for (std::size_t thread = 0; thread < 4; ++thread) {
    threads.emplace_back([&, thread] {
      for (std::size_t i = 0; i < 4; ++i) {
        auto pid = group.start(thread * 4 + i, ChildSpec{"/bin/true", {}, {}});
        std::lock_guard lock(mutex);
        if (pid) pids.insert(*pid);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(pids.size(), 16u);
  ASSERT_TRUE(group.wait_all_exited(deadline_in(10s)));
  EXPECT_EQ(recorder.exit_count(), 16u);
}

TEST(ChildProcessGroupTest, IndexIsTakenUntilItsExitIsReported) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  auto first = group.start(0, shell("exec sleep 300"));
  ASSERT_TRUE(first);
  auto second = group.start(0, shell("true"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::duplicate);
  EXPECT_NE(second.error().message.find("child 0 (pid " + std::to_string(*first) + ")"),
            std::string::npos)
      << second.error().message;
  ASSERT_TRUE(group.signal(0, SIGKILL));
  ASSERT_TRUE(wait_for_exit(recorder, 0));
  auto third = group.start(0, shell("exit 4"));
  ASSERT_TRUE(third) << third.error().describe();
  ASSERT_TRUE(wait_until(10s, [&] { return recorder.exit_of(0)->pid == *third; }));
  EXPECT_EQ(recorder.exit_of(0)->exit.code, 4);
}

TEST(ChildProcessGroupTest, OnExitMayStartAnotherChild) {
  Recorder recorder;
  ChildProcessGroup* group_pointer = nullptr;
  std::atomic<bool> restarted{false};
  auto callbacks = recorder.callbacks();
  callbacks.on_exit = [&, record = callbacks.on_exit](std::size_t index, pid_t pid,
                                                      const ChildExit& exit) {
    record(index, pid, exit);
    if (index == 0) restarted = group_pointer->start(1, shell("echo second")).ok();
  };
  ChildProcessGroup group(std::move(callbacks), Config{});
  group_pointer = &group;
  ASSERT_TRUE(group.start(0, shell("true")));
  ASSERT_TRUE(wait_for_exit(recorder, 1));
  EXPECT_TRUE(restarted);
  EXPECT_EQ(recorder.lines(1, false), std::vector<std::string>{"second"});
}

// -- signals and stopping --

TEST(ChildProcessGroupTest, SignalReachesOnlyTheChosenChild) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  for (std::size_t index = 0; index < 3; ++index) {
    ASSERT_TRUE(group.start(
        index, shell("trap 'echo got-usr1; exit 7' USR1; echo ready; sleep 300 & wait")));
  }
  for (std::size_t index = 0; index < 3; ++index) {
    ASSERT_TRUE(wait_for_line(recorder, index, "ready"));
  }
  ASSERT_TRUE(group.signal(1, SIGUSR1));
  const auto exit = wait_for_exit(recorder, 1);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit.describe(), "exited with code 7");
  EXPECT_TRUE(recorder.saw_line(1, "got-usr1"));
  EXPECT_EQ(recorder.exit_count(), 1u);
  // running() counts a child until its on_exit has returned, which is just after the
  // recorder saw the exit.
  EXPECT_TRUE(wait_until(10s, [&] { return group.running() == 2u; })) << group.running();

  auto again = group.signal(1, SIGUSR1);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::not_found);
  EXPECT_EQ(again.error().message, "cannot send signal 10 (SIGUSR1) to child 1: it is not running");
  EXPECT_EQ(group.signal(42, SIGTERM).error().code, ErrorCode::not_found);
  EXPECT_EQ(group.signal(0, 12345).error().code, ErrorCode::invalid_argument);
}

TEST(ChildProcessGroupTest, TerminateAllEscalatesToSigkillForChildrenIgnoringSigterm) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  ASSERT_TRUE(group.start(0, shell("echo ready; exec sleep 300")));
  ASSERT_TRUE(group.start(1, shell("trap '' TERM; echo ready; exec sleep 300")));
  ASSERT_TRUE(wait_for_line(recorder, 0, "ready"));
  ASSERT_TRUE(wait_for_line(recorder, 1, "ready"));
  const auto started = Clock::now();
  EXPECT_TRUE(group.terminate_all(200ms, deadline_in(10s)));
  EXPECT_GE(Clock::now() - started, 200ms);
  EXPECT_EQ(group.running(), 0u);
  EXPECT_EQ(recorder.exit_of(0)->exit.describe(), "killed by signal 15 (SIGTERM)");
  EXPECT_EQ(recorder.exit_of(1)->exit.describe(), "killed by signal 9 (SIGKILL)");
}

TEST(ChildProcessGroupTest, WaitAllExitedTimesOutWhileChildrenRun) {
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  ASSERT_TRUE(group.start(0, shell("exec sleep 300")));
  // A deadline already passed: the answer must not depend on how fast the machine is.
  EXPECT_FALSE(group.wait_all_exited(Clock::now()));
  EXPECT_EQ(group.running(), 1u);
}

TEST(ChildProcessGroupTest, DestructorKillsAndReapsEveryChildAndWhatItStarted) {
  OrphanReaper reaper;
  Recorder recorder;
  std::vector<pid_t> children, grandchildren;
  auto destroyed_at = Clock::now();
  {
    ChildProcessGroup group(recorder.callbacks(), Config{});
    for (std::size_t index = 0; index < 3; ++index) {
      auto pid = group.start(index, shell("sleep 300 & echo $!; wait"));
      ASSERT_TRUE(pid);
      children.push_back(*pid);
    }
    for (std::size_t index = 0; index < 3; ++index) {
      grandchildren.push_back(wait_for_pid_line(recorder, index));
      ASSERT_GT(grandchildren.back(), 0);
      ASSERT_TRUE(process_exists(grandchildren.back()));
    }
    destroyed_at = Clock::now();
  }
  EXPECT_LT(Clock::now() - destroyed_at, 5s);
  for (const pid_t pid : children) {
    EXPECT_FALSE(process_exists(pid)) << "child " << pid << " left running or unreaped";
  }
  for (const pid_t pid : grandchildren) {
    EXPECT_TRUE(killed_by(reaper.reap(pid), SIGKILL)) << "grandchild " << pid;
  }
  EXPECT_EQ(recorder.exit_count(), 3u);
  for (std::size_t index = 0; index < 3; ++index) {
    EXPECT_EQ(recorder.exit_of(index)->exit.describe(), "killed by signal 9 (SIGKILL)");
  }
}

TEST(ChildProcessGroupTest, WhatAChildLeavesInItsGroupDiesWithIt) {
  OrphanReaper reaper;
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  ASSERT_TRUE(group.start(0, shell("sleep 300 & echo $!")));
  const auto exit = wait_for_exit(recorder, 0);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit.describe(), "exited with code 0");
  const pid_t leftover = wait_for_pid_line(recorder, 0);
  ASSERT_GT(leftover, 0);
  EXPECT_TRUE(killed_by(reaper.reap(leftover), SIGKILL));
}

TEST(ChildProcessGroupTest, ExitIsReportedWhileAnEscapedProcessHoldsThePipes) {
  OrphanReaper reaper;
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  // The background job leaves the group (setsid) and keeps stdout and stderr open; the
  // shell waits until the escape happened, prints the pid and exits.
  ASSERT_TRUE(group.start(0, shell("setsid sleep 300 & p=$!; "
                                   "while read -r _ _ _ _ _ session _ < /proc/$p/stat && "
                                   "[ \"$session\" != \"$p\" ]; do :; done; echo $p")));
  const auto exit = wait_for_exit(recorder, 0);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit.describe(), "exited with code 0");
  const pid_t escaped = wait_for_pid_line(recorder, 0);
  ASSERT_GT(escaped, 0);
  EXPECT_TRUE(process_exists(escaped));  // out of reach of the group kill, as it chose
  ::kill(escaped, SIGKILL);
  EXPECT_TRUE(killed_by(reaper.reap(escaped), SIGKILL));
}

TEST(ChildProcessGroupTest, ChildrenDieWhenTheirParentIsKilled) {
  OrphanReaper reaper;
  Recorder recorder;
  ChildProcessGroup group(recorder.callbacks(), Config{});
  // The helper runs its own group with `sleep 300` as child; that grandchild leads its own
  // process group, so only the parent-death signal can end it when the helper is killed.
  ASSERT_TRUE(group.start(0, ChildSpec{ZMESH_CHILD_HELPER, {"parent"}, {}}));
  const pid_t grandchild = wait_for_pid_line(recorder, 0);
  ASSERT_GT(grandchild, 0);
  ASSERT_TRUE(process_exists(grandchild));
  ASSERT_TRUE(group.signal(0, SIGKILL));
  const auto exit = wait_for_exit(recorder, 0);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit.describe(), "killed by signal 9 (SIGKILL)");
  EXPECT_TRUE(killed_by(reaper.reap(grandchild), SIGKILL));
}

}  // namespace
}  // namespace zmesh
