#pragma once
// `zmesh status --hosts LIST [--key FILE]`: asks every launcher (at once, with a deadline)
// for its clients, their procs (rank, pid, state) and its uptime; prints one block per
// host, and for a host that does not answer, why and what to do.
// Thread: runs on the caller's thread, plus one short thread per host.
// Failure: bad options print the problem and a hint on `err` and return 2; 1 when any host
// did not answer.

#include <iosfwd>
#include <span>
#include <string>

namespace zmesh::tools {

// `args` are the words after "status"; returns the process exit code.
int run_status_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);

}  // namespace zmesh::tools
