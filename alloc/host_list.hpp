#pragma once
// Host lists for the remote allocator: which nodes run a zmesh-launcher, and on which port.
// Sources: an explicit list ("node1,node2:7000"), a hostfile in Open MPI's format
// ("node1 slots=4", '#' comments), Open MPI's host parameters as mpirun passes them to its
// programs, or Slurm's SLURM_JOB_NODELIST in its compressed form ("tnode[1-3,7],gpu[01-04]").
// find_hosts picks the first source that is given, in that order, and its error names every
// source it tried.
// Thread: pure functions.
// Failure: parse errors name the text, the position and what was expected.

#include "zmesh/core/error.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh {

inline constexpr std::uint16_t default_launcher_port = 26600;

struct HostEntry {
  std::string host;                          // name or IP address
  std::uint16_t port = default_launcher_port;  // where its launcher listens
  std::uint32_t slots = 0;                   // hostfile "slots=N"; 0: not given

  // "node1:26600"
  std::string to_string() const;
  friend bool operator==(const HostEntry&, const HostEntry&) = default;
};

// Expands a Slurm node list: "tnode[1-3,7],gpu[01-02]" -> tnode1 tnode2 tnode3 tnode7 gpu01
// gpu02. Zero padding follows the range's first number; several bracket groups in one name
// multiply ("r[1-2]n[1-2]" -> r1n1 r1n2 r2n1 r2n2). At most `limit` names.
Result<std::vector<std::string>> expand_slurm_nodelist(std::string_view nodelist,
                                                       std::size_t limit = 100000);

// "host[:port]" items separated by commas or whitespace; IPv6 as "[::1]:port".
Result<std::vector<HostEntry>> parse_host_list(std::string_view text,
                                               std::uint16_t default_port = default_launcher_port);

// Open MPI hostfile text: one host per line, optional "slots=N" (and "max_slots=N", ignored),
// '#' starts a comment. `origin` names the file in errors.
Result<std::vector<HostEntry>> parse_hostfile(std::string_view text, std::string_view origin,
                                              std::uint16_t default_port = default_launcher_port);
Result<std::vector<HostEntry>> read_hostfile(const std::string& path,
                                             std::uint16_t default_port = default_launcher_port);

// Open MPI's --host syntax, "node1:2,node2": ":N" is a slot count there, not a port, so every
// entry gets `default_port`.
Result<std::vector<HostEntry>> parse_mpi_host_list(std::string_view text,
                                                   std::uint16_t default_port = default_launcher_port);

struct HostSources {
  std::string list;      // explicit "host[:port],..." (e.g. from --hosts); empty: not given
  std::string hostfile;  // a path (e.g. from --hostfile); empty: not given
  bool use_environment = true;  // then ZMESH_HOSTS / ZMESH_HOSTFILE, Open MPI's, Slurm's
  std::uint16_t port = default_launcher_port;  // for entries that name no port
  // How to read the environment (tests inject one); null: std::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

struct HostSelection {
  std::vector<HostEntry> hosts;
  std::string source;  // "--hosts", "hostfile /etc/x", "SLURM_JOB_NODELIST=tnode[1-3]", ...
};

// The hosts from the first source that is given: `list`, `hostfile`, then (with
// use_environment) ZMESH_HOSTS, ZMESH_HOSTFILE, Open MPI's OMPI_MCA_orte_default_hostfile
// and OMPI_MCA_orte_default_dash_host, SLURM_JOB_NODELIST. not_found when none is, naming
// each source tried; a source that is given but malformed or empty is an error too.
// Why those Open MPI variables: mpirun (4.x) tells its programs neither its --host nor its
// --hostfile argument (only PMIX_HOSTNAME, this node's name, and counts such as
// OMPI_MCA_orte_num_nodes); it does pass MCA parameters, so `mpirun --mca
// orte_default_hostfile FILE` (or `--mca orte_default_dash_host LIST`, or the same names
// exported as OMPI_MCA_*) is how a controller under mpirun learns the hosts. Under mpirun
// without them, the error says so.
Result<HostSelection> find_hosts(const HostSources& sources);

// The local IPv4 address this host uses to reach `host` (no packet is sent): where a client
// listens so that procs on `host` can reach it back. The error names the host.
Result<std::string> local_address_towards(const HostEntry& host);

// This machine's host name (gethostname), or "unknown-host".
std::string local_host_name();

}  // namespace zmesh
