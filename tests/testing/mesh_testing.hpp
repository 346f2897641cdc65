#pragma once
// Helpers shared by the mesh tests: a configuration with quick heartbeats, allocating a
// local or process mesh with failures reported through GoogleTest, the child processes
// this test process still has (each test ends with none), and what /proc says of a proc
// (stopped, its environment).
// Thread: call from the test's thread.

#include "testing/mesh_actors.hpp"
#include "zmesh/alloc/internal/ipc_directory.hpp"
#include "zmesh/alloc/local_allocator.hpp"
#include "zmesh/alloc/process_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace zmesh::testing {

// Quick heartbeats; `heartbeat_timeout` is the watchdog's patience.
inline Config mesh_test_config(Millis heartbeat_timeout) {
  Config config = Config::from_environment().value();
  config.heartbeat_interval = Millis(100);
  config.heartbeat_timeout = heartbeat_timeout;
  config.delivery_timeout = Millis(5000);
  return config;
}

inline AllocSpec spec_of(std::vector<std::pair<std::string, std::uint32_t>> dimensions) {
  AllocSpec spec;
  spec.dimensions = std::move(dimensions);
  return spec;
}

// A running mesh of `spec` on the local or the process allocator; null (and a test
// failure naming why) if it could not be had by `deadline`.
inline std::unique_ptr<ProcMesh> allocate_mesh(Runtime& runtime, const AllocSpec& spec, bool local,
                                               Deadline deadline) {
  auto alloc = local ? LocalAllocator::allocate(runtime, spec, registry())
                     : ProcessAllocator::allocate(runtime, spec, registry());
  EXPECT_TRUE(alloc.ok()) << alloc.error().describe();
  if (!alloc) return nullptr;
  auto mesh = ProcMesh::allocate(runtime, std::move(*alloc), deadline);
  EXPECT_TRUE(mesh.ok()) << mesh.error().describe();
  return mesh ? std::move(*mesh) : nullptr;
}

// The next event of `kind` from `mesh`, skipping others, or nothing by `deadline`.
inline std::optional<MeshEvent> next_event_of(ProcMesh& mesh, MeshEvent::Kind kind,
                                              Deadline deadline) {
  while (auto event = mesh.next_event(deadline)) {
    if (event->kind == kind) return event;
  }
  return std::nullopt;
}

// Pids of this process's children (started by any of its threads) that still exist.
inline std::vector<pid_t> child_processes() {
  std::vector<pid_t> children;
  const std::string tasks = "/proc/" + std::to_string(::getpid()) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return children;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream file(tasks + "/" + entry->d_name + "/children");
    for (pid_t pid; file >> pid;) children.push_back(pid);
  }
  ::closedir(dir);
  return children;
}

// Whether every thread of process `pid` is stopped (SIGSTOP takes effect as each thread next
// leaves the kernel: on a loaded machine, some time after kill() returned).
inline bool stopped(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return false;
  bool all = true;
  bool any = false;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream file(tasks + "/" + entry->d_name + "/stat");
    std::string line;
    std::getline(file, line);
    // "pid (comm) state ...": comm may hold spaces, so the state follows the last ')'.
    const auto close = line.rfind(')');
    const char state = close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '?';
    any = true;
    all = all && (state == 'T' || state == 't');
  }
  ::closedir(dir);
  return any && all;
}

// How many times process `pid`'s environment holds GLIBC_TUNABLES as zmesh gives it to its
// procs (alloc/internal/proc_environment.hpp), or as this process has it if it has it. glibc
// parses the variable in place in the proc's memory, which /proc shows: the comparison stops
// at the first ':'.
inline std::ptrdiff_t malloc_tunables_in_environment_of(pid_t pid) {
  const char* inherited = std::getenv("GLIBC_TUNABLES");
  std::string expected = std::string("GLIBC_TUNABLES=") +
                         (inherited != nullptr ? inherited : "glibc.malloc.trim_threshold=67108864:");
  expected = expected.substr(0, expected.find(':'));
  std::ifstream file("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::ptrdiff_t found = 0;
  for (std::string variable; std::getline(file, variable, '\0');) found += variable == expected ? 1 : 0;
  return found;
}

// The mesh directories of client process `owner` in this user's private ipc directory
// (alloc/internal/ipc_directory.hpp): "<owner>-<world>".
inline std::set<std::string> ipc_directories(pid_t owner) {
  std::set<std::string> names;
  auto base = internal::private_ipc_base();
  if (!base) return names;
  const std::string prefix = std::to_string(owner) + "-";
  if (DIR* dir = ::opendir(base->c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      if (std::string(entry->d_name).rfind(prefix, 0) == 0) names.insert(entry->d_name);
    }
    ::closedir(dir);
  }
  return names;
}

// What the next client to start does: removes the directories of clients that are gone.
inline void sweep_ipc_directories() { (void)internal::IpcDirectory::create("sweep"); }

}  // namespace zmesh::testing
