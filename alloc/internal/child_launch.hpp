#pragma once
// launch_child: fork + exec of one ChildSpec: stdout and stderr on fresh pipes, stdin on
// /dev/null, no other inherited fds, default signal handling, its own process group, and
// SIGKILL on the death of the forking thread (see child_process.hpp for why).
// Thread: ChildProcessGroup's monitor thread only, with asynchronous signals blocked (the
// child inherits that mask, so none of our handlers runs in it before exec). Blocks until
// the exec succeeded or failed, which takes about a millisecond.
// Failure: Error "cannot start <executable>: <reason>" (codes as ChildProcessGroup::start);
// a failed child is reaped before returning, so nothing is left behind.

#include "zmesh/alloc/child_process.hpp"
#include "zmesh/core/internal/unique_fd.hpp"
#include "zmesh/core/error.hpp"

#include <sys/types.h>

#include <string>

namespace zmesh::internal {

struct LaunchedChild {
  pid_t pid = -1;
  UniqueFd pidfd;      // readable once the child has exited (not yet reaped)
  UniqueFd stdout_fd;  // read ends, non-blocking and close-on-exec
  UniqueFd stderr_fd;
};

Result<LaunchedChild> launch_child(const ChildSpec& spec);

// strerror's text for `error` ("No such file or directory"), safe from any thread.
std::string errno_text(int error);

}  // namespace zmesh::internal
