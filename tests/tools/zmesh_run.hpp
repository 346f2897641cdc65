#pragma once
// Runs the zmesh binary (ZMESH_BINARY) as a child with a deadline and keeps what it printed
// and how it ended, for tests of its commands.
// Thread: call from the test's thread.

#include "zmesh/alloc/child_process.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace zmesh::testing {

struct ZmeshRun {
  std::optional<ChildExit> exit;
  std::string output;  // stdout and stderr, a line at a time, in arrival order
  bool contains(const std::string& text) const { return output.find(text) != std::string::npos; }
  int code() const { return exit && exit->kind == ChildExit::Kind::exited ? exit->code : -1; }
};

// `zmesh ARGS...` to its end; killed at `timeout` (a hang fails the test).
inline ZmeshRun run_zmesh(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  ZmeshRun run;
  std::mutex mutex;
  ChildProcessGroup group({[&](std::size_t, std::string_view line, bool) {
                             std::lock_guard lock(mutex);
                             run.output += std::string(line) + "\n";
                           },
                           [&](std::size_t, pid_t, const ChildExit& exit) {
                             std::lock_guard lock(mutex);
                             run.exit = exit;
                           }},
                          Config{});
  auto started = group.start(0, {ZMESH_BINARY, args, {}});
  EXPECT_TRUE(started.ok()) << started.error().describe();
  const bool ended = group.wait_all_exited(deadline_in(timeout));
  EXPECT_TRUE(ended) << "zmesh " << fmt::format("{}", fmt::join(args, " ")) << " did not end within "
                     << timeout.count() << " s";
  if (!ended) group.terminate_all(Millis(1000), deadline_in(std::chrono::seconds(10)));
  std::lock_guard lock(mutex);
  return run;
}

}  // namespace zmesh::testing
