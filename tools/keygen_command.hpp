#pragma once
// `zmesh keygen FILE`: writes a new CURVE key pair for a cluster (mode 0600). Copy the file
// to every host; launchers take it with --key, clients with ZMESH_KEY_FILE.

#include <ostream>
#include <span>
#include <string>

namespace zmesh::tools {

int run_keygen_command(std::span<const std::string> args, std::ostream& out, std::ostream& err);

}  // namespace zmesh::tools
