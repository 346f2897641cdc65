#include "zmesh/transport/internal/host_key.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace zmesh::internal {
namespace {

std::string derive() {
  std::string boot_id;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> boot_id;
  struct stat pid_ns {
  }, net_ns{};
  if (boot_id.empty() || ::stat("/proc/self/ns/pid", &pid_ns) != 0 ||
      ::stat("/proc/self/ns/net", &net_ns) != 0) {
    return {};
  }
  return fmt::format("{}/{}/{}/{}", boot_id, pid_ns.st_ino, net_ns.st_ino, ::getuid());
}

}  // namespace

std::string host_key(const Config& config) {
  if (!config.host_key.empty()) return config.host_key;
  static const std::string derived = derive();
  return derived;
}

}  // namespace zmesh::internal
