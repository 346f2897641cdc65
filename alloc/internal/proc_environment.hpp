#pragma once
// What the allocators and the launcher add to a proc's environment besides the bootstrap
// variables: settings of the C library that suit a proc's workload.
// Thread: stateless; reads this process's environment.

#include <string>
#include <utility>
#include <vector>

namespace zmesh::internal {

// Adds GLIBC_TUNABLES with malloc's trim and mmap thresholds at the values glibc itself
// settles on once a program has freed a large block (64 MiB and 32 MiB), unless this
// process's environment or `environment` sets GLIBC_TUNABLES already (the user's choice
// wins). A proc frees, on its I/O thread, buffers that ZeroMQ's thread allocated; with the
// default thresholds glibc gave that memory back and took it again every few messages
// (madvise, a TLB shootdown across cores, page faults): 5-8% of the CPU of small casts.
void add_malloc_tunables(std::vector<std::pair<std::string, std::string>>& environment);

}  // namespace zmesh::internal
