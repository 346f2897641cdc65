// A program that child_process_test starts as a child, running a ChildProcessGroup of its
// own, for what a test cannot check inside its own process:
//   parent       starts `sleep 300` as its child 0, prints "grandchild <pid>", then waits to
//                be killed (the test kills it and expects the grandchild to die with it).
//   forward N    starts N children (indices 3..3+N-1) that each print 100 lines on stdout
//                and on stderr, with default forwarding, and exits 0 once all exited.
#include "zmesh/alloc/child_process.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

namespace {

int run_parent() {
  zmesh::ChildProcessGroup group({}, zmesh::Config{});
  auto pid = group.start(0, zmesh::ChildSpec{"sleep", {"300"}, {}});
  if (!pid) {
    std::fprintf(stderr, "%s\n", pid.error().describe().c_str());
    return 1;
  }
  std::printf("grandchild %d\n", *pid);
  std::fflush(stdout);
  while (true) ::pause();  // until the test kills us
}

int run_forward(int children) {
  zmesh::ChildProcessGroup group({}, zmesh::Config{});
  const std::string script =
      "i=0; while [ $i -lt 100 ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); done";
  for (int i = 0; i < children; ++i) {
    auto pid = group.start(3 + static_cast<std::size_t>(i),
                           zmesh::ChildSpec{"/bin/sh", {"-c", script}, {}});
    if (!pid) {
      std::fprintf(stderr, "%s\n", pid.error().describe().c_str());
      return 1;
    }
  }
  return group.wait_all_exited(zmesh::deadline_in(30s)) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "";
  if (mode == "parent") return run_parent();
  if (mode == "forward" && argc > 2) return run_forward(std::atoi(argv[2]));
  std::fprintf(stderr, "usage: %s parent | forward <children>\n", argv[0]);
  return 2;
}
