#pragma once
// Unique world names, so that two allocations (in one client or across clients on a host)
// never share proc ids, socket paths or supervision topics.
// Thread: thread-safe.

#include <string>
#include <string_view>

namespace zmesh {

// "<prefix>-<pid>-<hex>", usable in ids and file names.
std::string unique_world_name(std::string_view prefix);

}  // namespace zmesh
