#include "zmesh/alloc/internal/proc_environment.hpp"

#include <algorithm>
#include <cstdlib>

namespace zmesh::internal {

void add_malloc_tunables(std::vector<std::pair<std::string, std::string>>& environment) {
  constexpr const char* name = "GLIBC_TUNABLES";
  if (std::getenv(name) != nullptr) return;
  if (std::any_of(environment.begin(), environment.end(),
                  [&](const auto& variable) { return variable.first == name; })) {
    return;
  }
  environment.emplace_back(name,
                           "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432");
}

}  // namespace zmesh::internal
