#pragma once
// What `zmesh status`, `zmesh doctor` and `zmesh bench cast --hosts` share: the launcher
// hosts (--hosts LIST, else the environment as find_hosts reads it), the key file (--key
// FILE, exported as ZMESH_KEY_FILE so that Config::from_environment and the procs, which
// get every ZMESH_* variable, see it), and durations for humans.
// Thread: call from the tool's main thread before it starts any other (setenv).

#include "zmesh/alloc/host_list.hpp"
#include "zmesh/core/config.hpp"

#include <cstdint>
#include <string>

namespace zmesh::tools {

// The hosts of `list` ("host[:port],..."), or, when it is empty, of ZMESH_HOSTS,
// ZMESH_HOSTFILE or SLURM_JOB_NODELIST; the error names every source tried.
Result<HostSelection> launcher_hosts(const std::string& list);

// Checks that `path` is a readable file and exports it as ZMESH_KEY_FILE; "" does nothing.
Result<void> use_key_file(const std::string& path);

// "1h02m03s", "4.2s", "350ms".
std::string human_duration(std::uint64_t ms);

}  // namespace zmesh::tools
