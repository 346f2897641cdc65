#include "zmesh/tools/ops/host_options.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace zmesh::tools {

Result<HostSelection> launcher_hosts(const std::string& list) {
  return find_hosts(HostSources{.list = list});
}

Result<void> use_key_file(const std::string& path) {
  if (path.empty()) return {};
  if (::access(path.c_str(), R_OK) != 0) {
    return Error(ErrorCode::not_found, fmt::format("--key {}: cannot read it: {}; make one with zmesh keygen FILE",
                                                   path, std::strerror(errno)));
  }
  if (::setenv("ZMESH_KEY_FILE", path.c_str(), 1) != 0) {
    return Error(ErrorCode::internal, fmt::format("setenv ZMESH_KEY_FILE: {}", std::strerror(errno)));
  }
  return {};
}

std::string human_duration(std::uint64_t ms) {
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f}s", ms / 1000.0);
  const std::uint64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60);
  return fmt::format("{}d{:02}h{:02}m", s / 86400, s % 86400 / 3600, s % 3600 / 60);
}

}  // namespace zmesh::tools
