// zmesh: the command-line tool. `zmesh COMMAND [ARGS...]`; `zmesh help` lists the commands.
// To add a command, add one line to kCommands (and include its header).

#include <algorithm>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zmesh/alloc/bootstrap.hpp"
#include "zmesh/tools/bench_actors.hpp"
#include "zmesh/tools/bench_cast_command.hpp"
#include "zmesh/tools/bench_reduce_command.hpp"
#include "zmesh/tools/doctor_command.hpp"
#include "zmesh/tools/keygen_command.hpp"
#include "zmesh/tools/select_command.hpp"
#include "zmesh/tools/status_command.hpp"

namespace {

using RunCommand = int (*)(std::span<const std::string> args, std::ostream& out, std::ostream& err);

struct Command {
  std::string_view name;
  std::string_view summary;
  RunCommand run;
};

constexpr int kUsageError = 2;

constexpr Command kCommands[] = {
    {"select", "show the ranks a selection chooses on a shape, and the cast delivery tree",
     zmesh::tools::run_select_command},
    {"bench", "measure casts and reductions (zmesh bench cast|reduce|allreduce) next to raw ZeroMQ",
     zmesh::tools::run_bench_command},
    {"doctor", "check every launcher host before a job (zmesh doctor --hosts LIST)",
     zmesh::tools::run_doctor_command},
    {"status", "each launcher's clients, procs and uptime (zmesh status --hosts LIST)",
     zmesh::tools::run_status_command},
    {"keygen", "write a new CURVE key file for a cluster's launchers, clients and procs",
     zmesh::tools::run_keygen_command},
    {"bench-peer", "(internal) a raw ZeroMQ receiver started by zmesh bench cast",
     zmesh::tools::run_bench_peer_command},
    {"bench-reduce-peer", "(internal) a raw ZeroMQ receiver started by zmesh bench reduce and allreduce",
     zmesh::tools::run_bench_reduce_peer_command},
};

const Command* find_command(std::string_view name) {
  for (const Command& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

void print_commands(std::ostream& out) {
  out << "usage: zmesh COMMAND [ARGS...]\n\ncommands:\n";
  for (const Command& command : kCommands) {
    out << "  " << command.name
        << std::string(10 - std::min<std::size_t>(command.name.size(), 9), ' ') << command.summary
        << '\n';
  }
  out << "  help      list the commands, or 'zmesh help COMMAND' for one command's help\n";
}

int unknown_command(std::string_view name) {
  std::cerr << "zmesh: unknown command '" << name << "'\nhint: run 'zmesh help' for the list\n";
  return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
  // `zmesh bench cast` starts this binary as its procs: they never get past init().
  zmesh::init(argc, argv, zmesh::tools::tool_registry());
  const std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty()) {
    print_commands(std::cerr);
    return kUsageError;
  }
  const std::string_view name = words.front();
  if (name == "help" || name == "--help" || name == "-h") {
    if (words.size() < 2) {
      print_commands(std::cout);
      return 0;
    }
    const Command* command = find_command(words[1]);
    if (!command) return unknown_command(words[1]);
    const std::vector<std::string> help = {"--help"};
    return command->run(help, std::cout, std::cerr);
  }
  const Command* command = find_command(name);
  if (!command) return unknown_command(name);
  return command->run(std::span<const std::string>(words).subspan(1), std::cout, std::cerr);
}
