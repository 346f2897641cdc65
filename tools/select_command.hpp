#pragma once
// `zmesh select`: shows which ranks a selection chooses on a shape, with their points, and
// (--tree) the delivery tree a cast over them would use. For checking selections by hand.
// Thread: runs on the caller's thread. Failure: bad options or input print the message and a
// hint on `err` and return exit code 2; nothing is thrown.

#include <iosfwd>
#include <span>
#include <string>

namespace zmesh::tools {

// `args` are the words after "select"; returns the process exit code.
int run_select_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);

}  // namespace zmesh::tools
