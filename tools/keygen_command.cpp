#include "zmesh/tools/keygen_command.hpp"

#include "zmesh/core/key_file.hpp"
#include "zmesh/transport/security.hpp"

namespace zmesh::tools {

int run_keygen_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    out << "usage: zmesh keygen FILE\n\n"
           "Writes a new CURVE key pair to FILE (mode 0600; an existing FILE is never replaced).\n"
           "Give every host of the cluster the same file: launchers read it with --key FILE,\n"
           "clients and tools with ZMESH_KEY_FILE=FILE. Anyone who can read it can start\n"
           "processes through your launchers, so keep it like an ssh private key.\n";
    return 0;
  }
  if (args.size() != 1 || args[0].empty() || args[0].front() == '-') {
    err << "zmesh keygen: expected one argument, the file to write (see zmesh keygen --help)\n";
    return 2;
  }
  auto keys = generate_key_pair();
  if (!keys) {
    err << "zmesh keygen: " << keys.error().message << "\n";
    return 1;
  }
  if (auto written = write_key_file(args[0], *keys); !written) {
    err << "zmesh keygen: " << written.error().message << "\n";
    return 1;
  }
  out << "zmesh keygen: wrote " << args[0] << " (mode 0600)\n"
      << "next: copy it to every host (same path or not), then start each launcher with\n"
      << "  zmesh-launcher --key " << args[0] << "\n"
      << "and run clients with ZMESH_KEY_FILE=" << args[0] << "\n";
  return 0;
}

}  // namespace zmesh::tools
