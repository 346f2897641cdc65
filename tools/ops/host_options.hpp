#pragma once
// What `zmesh status`, `zmesh doctor` and `zmesh bench cast --hosts` share: the launcher
// hosts (--hosts LIST, else the environment as find_hosts reads it), the client's Config
// with the security options (--key FILE, --insecure) on top of the ZMESH_* variables, and
// durations for humans.
// Thread: pure functions.

#include "zmesh/alloc/host_list.hpp"
#include "zmesh/core/config.hpp"

#include <boost/program_options.hpp>

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

namespace zmesh::tools {

// --hosts LIST, --key FILE and --insecure, as every launcher tool takes them.
struct ClusterArguments {
  std::string hosts;
  std::string key_file;
  bool insecure = false;
};
void add_cluster_options(boost::program_options::options_description& described, ClusterArguments& into);

// Parses `args` into `values`; on bad options prints "zmesh COMMAND: what\nhint: zmesh COMMAND
// --help" on `err` and returns false.
bool parse_tool_options(std::string_view command, std::span<const std::string> args,
                        const boost::program_options::options_description& described,
                        boost::program_options::variables_map& values, std::ostream& err);

// The hosts of `list` ("host[:port],..."), or, when it is empty, of ZMESH_HOSTS,
// ZMESH_HOSTFILE or SLURM_JOB_NODELIST; the error names every source tried.
Result<HostSelection> launcher_hosts(const std::string& list);

// Config::from_environment(), then the key pair of `key_file` (when given) and `insecure`
// (when set): what the tool's sockets to launchers and procs use.
Result<Config> tool_config(const std::string& key_file, bool insecure);

// "CURVE (key file F)", "CURVE (ZMESH_KEY)", "plain tcp (--insecure)" or "no key", for
// what a tool prints about its security.
std::string security_text(const Config& config);

// "1h02m03s", "4.2s", "350ms".
std::string human_duration(std::uint64_t ms);

}  // namespace zmesh::tools
