#include "zmesh/alloc/world_name.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <random>

namespace zmesh {

std::string unique_world_name(std::string_view prefix) {
  // Random bits from the OS plus the clock: unique without any process-wide counter.
  std::random_device random;
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return fmt::format("{}-{}-{:x}{:08x}", prefix, ::getpid(), static_cast<std::uint64_t>(now) & 0xfffff,
                     random());
}

}  // namespace zmesh
