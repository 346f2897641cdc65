#pragma once
// `zmesh doctor --hosts LIST [--key FILE] [--executable PATH]`: the preflight an operator
// runs before a job. Prints the effective configuration, then one row per host with each
// check (resolve, launcher, handshake, protocol, executable, reach back; see
// ops/host_checks.hpp), then what to do about each failure.
// Thread: runs on the caller's thread, plus one thread per host and the reach-back
// listener's accept thread.
// Failure: bad options print the problem and a hint on `err` and return 2; 1 when any
// check failed.

#include <iosfwd>
#include <span>
#include <string>

namespace zmesh::tools {

// `args` are the words after "doctor"; returns the process exit code.
int run_doctor_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);

}  // namespace zmesh::tools
