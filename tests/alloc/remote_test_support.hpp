#pragma once
// Helpers for remote-allocation tests: fake hosts (network namespaces made by
// scripts/netns-up.sh through the CTest fixture), zmesh-launchers started as children of the
// test (kill -9 one with kill()), the options a client of them uses, and the processes left
// on a host (`ip netns pids`). Launchers and clients use CURVE, as in production: launchers
// get a key file of test_key_pair() (--key), clients remote_test_config() or ZMESH_KEY in
// their environment.
// Thread: call from the test's thread.

#include "zmesh/alloc/child_process.hpp"
#include "zmesh/alloc/remote_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/transport/runtime.hpp"

#include "testing/mesh_testing.hpp"
#include "testing/test_keys.hpp"
#include "testing/wait.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace zmesh::testing {

// A client's configuration for remote tests: short heartbeats, the test key pair.
inline Config remote_test_config(Millis heartbeat_timeout) {
  Config config = mesh_test_config(heartbeat_timeout);
  config.curve = test_key_pair();
  return config;
}

// The environment entry that gives a client process (remote_client_helper) the test keys.
inline std::pair<std::string, std::string> test_key_variable() {
  return {"ZMESH_KEY", key_pair_text(test_key_pair())};
}

// Output lines of a group of children, by child index.
class CapturedOutput {
 public:
  void add(std::size_t index, std::string_view line, bool is_stderr) {
    std::lock_guard lock(mutex_);
    lines_.push_back({index, std::string(line), is_stderr});
  }
  bool contains(std::size_t index, const std::string& text) const {
    std::lock_guard lock(mutex_);
    return std::any_of(lines_.begin(), lines_.end(), [&](const Line& line) {
      return line.index == index && line.text.find(text) != std::string::npos;
    });
  }
  std::size_t count(std::size_t index, const std::string& text) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(lines_.begin(), lines_.end(), [&](const Line& line) {
      return line.index == index && line.text.find(text) != std::string::npos;
    }));
  }
  std::vector<std::string> of(std::size_t index, bool is_stderr) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& line : lines_) {
      if (line.index == index && line.is_stderr == is_stderr) out.push_back(line.text);
    }
    return out;
  }
  std::string dump(std::size_t index) const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& line : lines_) {
      if (line.index == index) out += (line.is_stderr ? "  err| " : "  out| ") + line.text + "\n";
    }
    return out;
  }

 private:
  struct Line {
    std::size_t index;
    std::string text;
    bool is_stderr;
  };
  mutable std::mutex mutex_;
  std::vector<Line> lines_;
};

// Pids in network namespace `name` that are not zombies (the sandbox's init reaps slowly).
inline std::set<pid_t> namespace_pids(const std::string& name) {
  std::set<pid_t> pids;
  FILE* pipe = ::popen(("ip netns pids " + name + " 2>/dev/null").c_str(), "r");
  if (!pipe) return pids;
  for (long pid; std::fscanf(pipe, "%ld", &pid) == 1;) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string skip, state;
    if (!(stat >> skip >> skip >> state) || state == "Z") continue;
    pids.insert(static_cast<pid_t>(pid));
  }
  ::pclose(pipe);
  return pids;
}

// Whether process `pid` is gone (a zombie counts as gone: its parent reaps it later).
inline bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string skip, state;
  return !(stat >> skip >> skip >> state) || state == "Z";
}

inline std::string pids_text(const std::set<pid_t>& pids) {
  std::string text;
  for (auto pid : pids) text += std::to_string(pid) + " ";
  return text.empty() ? "(none)" : text;
}

// The fake hosts: <prefix>1..count at <subnet>.(10+i), reached from the bridge <subnet>.1.
struct FakeHosts {
  std::string prefix = ZMESH_TEST_NETNS_PREFIX;
  std::string subnet = ZMESH_TEST_NETNS_SUBNET;
  std::uint32_t count = 3;

  std::string name(std::uint32_t i) const { return prefix + std::to_string(i + 1); }
  std::string ip(std::uint32_t i) const { return subnet + "." + std::to_string(11 + i); }
  std::string bridge_ip() const { return subnet + ".1"; }
  // "ip1,ip2,..." as a client's host list (find_hosts, remote_client_helper).
  std::string host_list() const {
    std::string list;
    for (std::uint32_t i = 0; i < count; ++i) list += (i ? "," : "") + ip(i);
    return list;
  }
  // The arguments of the launcher on host `i` (Launchers::start).
  std::vector<std::string> launcher_args(std::uint32_t i) const {
    return {"--listen", fmt::format("tcp://{}:26600", ip(i)), "--foreground"};
  }
  // Options of a client of every host's launcher; the procs reach it on the bridge.
  RemoteAllocatorOptions client_options() const {
    RemoteAllocatorOptions options;
    for (std::uint32_t i = 0; i < count; ++i) options.hosts.push_back({ip(i), 26600, 0});
    options.client_host = bridge_ip();
    return options;
  }
  // Why these tests cannot run here, or "" when they can.
  std::string unavailable() const {
    if (::geteuid() != 0) return "needs root (network namespaces); CI runs it as root";
    for (std::uint32_t i = 0; i < count; ++i) {
      if (::access(("/run/netns/" + name(i)).c_str(), F_OK) != 0) {
        return "no network namespace " + name(i) + ": run scripts/netns-up.sh (the ctest fixture "
               "netns_up does, with NETNS_PREFIX=" + prefix + " NETNS_SUBNET=" + subnet + ")";
      }
    }
    return "";
  }
};

// zmesh-launchers, one per started index, as children of this test process.
class Launchers {
 public:
  Launchers()
      : group_(ChildProcessGroup::Callbacks{
                   [this](std::size_t index, std::string_view line, bool is_stderr) {
                     output.add(index, line, is_stderr);
                   },
                   [this](std::size_t index, pid_t, const ChildExit& exit) {
                     std::lock_guard lock(mutex_);
                     exits_[index] = exit;
                   }},
               Config{}) {}

  // Starts a launcher with `args` (through scripts/netns-exec.sh on fake host `host` if
  // given) and waits until it says it listens. Returns its pid, or -1 (with a failure).
  // Without --key or --insecure in `args`, it gets --key with the test key pair.
  pid_t start(std::size_t index, const std::string& host, std::vector<std::string> args) {
    if (std::find(args.begin(), args.end(), "--key") == args.end() &&
        std::find(args.begin(), args.end(), "--insecure") == args.end()) {
      args.insert(args.end(), {"--key", key_file_.path()});
    }
    ChildSpec spec;
    if (host.empty()) {
      spec.executable = ZMESH_LAUNCHER;
      spec.args = std::move(args);
    } else {
      spec.executable = std::string(ZMESH_SOURCE_DIR) + "/scripts/netns-exec.sh";
      spec.args = {host, ZMESH_LAUNCHER};
      spec.args.insert(spec.args.end(), args.begin(), args.end());
    }
    auto pid = group_.start(index, spec);
    EXPECT_TRUE(pid.ok()) << pid.error().describe();
    if (!pid) return -1;
    const bool ready = wait_until(std::chrono::seconds(30), [&] {
      return output.contains(index, "listening on") || exited(index);
    });
    EXPECT_TRUE(ready && !exited(index)) << "launcher " << index << " did not come up:\n" << output.dump(index);
    pids_[index] = *pid;
    return *pid;
  }
  bool exited(std::size_t index) const {
    std::lock_guard lock(mutex_);
    return exits_.contains(index);
  }
  std::optional<ChildExit> exit_of(std::size_t index) const {
    std::lock_guard lock(mutex_);
    auto found = exits_.find(index);
    return found == exits_.end() ? std::nullopt : std::optional<ChildExit>(found->second);
  }
  Result<void> signal(std::size_t index, int signal) { return group_.signal(index, signal); }
  pid_t pid(std::size_t index) const { return pids_.at(index); }
  bool started(std::size_t index) const { return pids_.contains(index); }
  const std::string& key_file() const { return key_file_.path(); }
  // SIGTERM to every launcher (each stops its procs), SIGKILL after 10 s.
  bool stop_all() { return group_.terminate_all(Millis(10000), deadline_in(std::chrono::seconds(20))); }

  CapturedOutput output;

 private:
  mutable std::mutex mutex_;
  std::map<std::size_t, ChildExit> exits_;
  std::map<std::size_t, pid_t> pids_;
  TestKeyFile key_file_;
  ChildProcessGroup group_;  // last: its callbacks use the members above
};

// A test on the fake hosts with one launcher each (GTEST_SKIP with the reason where they
// cannot run). Every test ends with nothing but the live launchers on the hosts, then,
// once they are stopped, nothing at all: no proc outlives its test.
class FakeHostsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = hosts_.unavailable(); !why.empty()) GTEST_SKIP() << why;
    for (std::uint32_t i = 0; i < launchers_at_start(); ++i) start_launcher(i);
  }
  // How many hosts get their launcher before the test starts (the first ones).
  virtual std::uint32_t launchers_at_start() const { return hosts_.count; }
  void start_launcher(std::uint32_t i) { ASSERT_GT(launchers_.start(i, hosts_.name(i), hosts_.launcher_args(i)), 0); }

  void TearDown() override {
    using namespace std::chrono_literals;
    if (IsSkipped()) return;
    for (std::uint32_t i = 0; i < hosts_.count; ++i) {
      std::set<pid_t> expected;
      if (launchers_.started(i) && !launchers_.exited(i)) expected.insert(launchers_.pid(i));
      EXPECT_TRUE(wait_until(15s, [&] { return host_pids(i) == expected; }))
          << hosts_.name(i) << " still runs " << pids_text(host_pids(i)) << "besides its launcher";
    }
    EXPECT_TRUE(launchers_.stop_all());
    for (std::uint32_t i = 0; i < hosts_.count; ++i) {
      EXPECT_TRUE(wait_until(10s, [&] { return host_pids(i).empty(); }))
          << hosts_.name(i) << " still runs " << pids_text(host_pids(i));
    }
    EXPECT_EQ(child_processes(), std::vector<pid_t>{});
  }

  std::set<pid_t> host_pids(std::uint32_t i) const { return namespace_pids(hosts_.name(i)); }

  // {host=hosts, gpu=per_host} over tcp: the first dimension maps to the launchers.
  static AllocSpec host_spec(std::uint32_t hosts, std::uint32_t per_host) {
    AllocSpec spec;
    spec.transport = AllocTransport::tcp;
    spec.dimensions = {{"host", hosts}, {"gpu", per_host}};
    return spec;
  }

  // A running mesh through the launchers, or null (with a failure naming why).
  std::unique_ptr<ProcMesh> allocate_mesh(Runtime& runtime, const AllocSpec& spec, RemoteAllocatorOptions options) {
    using namespace std::chrono_literals;
    auto alloc = RemoteAllocator::allocate(runtime, spec, registry(), std::move(options));
    EXPECT_TRUE(alloc.ok()) << alloc.error().describe();
    if (!alloc) return nullptr;
    auto mesh = ProcMesh::allocate(runtime, std::move(*alloc), deadline_in(60s));
    EXPECT_TRUE(mesh.ok()) << mesh.error().describe();
    return mesh ? std::move(*mesh) : nullptr;
  }

  FakeHosts hosts_;
  Runtime runtime_{remote_test_config(Millis(1500))};
  Launchers launchers_;
};

}  // namespace zmesh::testing
