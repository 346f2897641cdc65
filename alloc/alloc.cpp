#include "zmesh/alloc/alloc.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <csignal>
#include <cstring>
#include <set>

namespace zmesh {

std::string_view to_string(AllocTransport transport) noexcept {
  switch (transport) {
    case AllocTransport::inproc: return "inproc";
    case AllocTransport::ipc: return "ipc";
    case AllocTransport::tcp: return "tcp";
  }
  return "unknown";
}

Result<AllocTransport> parse_alloc_transport(std::string_view text) {
  if (text == "inproc") return AllocTransport::inproc;
  if (text == "ipc") return AllocTransport::ipc;
  if (text == "tcp") return AllocTransport::tcp;
  return Error(ErrorCode::invalid_argument,
               fmt::format("unknown transport \"{}\": use inproc, ipc or tcp", text));
}

std::uint32_t AllocSpec::proc_count() const {
  std::uint32_t count = 1;
  for (const auto& [label, size] : dimensions) count *= size;
  return count;
}

std::vector<std::uint32_t> AllocSpec::coordinates(std::uint32_t rank) const {
  std::vector<std::uint32_t> coordinates(dimensions.size());
  for (std::size_t i = dimensions.size(); i-- > 0;) {
    coordinates[i] = rank % dimensions[i].second;
    rank /= dimensions[i].second;
  }
  return coordinates;
}

std::string AllocSpec::describe() const {
  std::vector<std::string> parts;
  for (const auto& [label, size] : dimensions) parts.push_back(fmt::format("{}={}", label, size));
  return fmt::format("{{{}}}", fmt::join(parts, ","));
}

Result<void> AllocSpec::validate() const {
  if (dimensions.empty()) {
    return Error(ErrorCode::invalid_argument, "alloc spec has no dimensions; give e.g. {host=2,gpu=4}");
  }
  std::set<std::string> labels;
  std::uint64_t total = 1;
  for (const auto& [label, size] : dimensions) {
    if (auto valid = check_name(label, "dimension"); !valid) return valid;
    if (!labels.insert(label).second) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("alloc spec {} names dimension \"{}\" twice", describe(), label));
    }
    if (size == 0) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("alloc spec {}: dimension \"{}\" has size 0", describe(), label));
    }
    total *= size;
    if (total > (1u << 20)) {
      return Error(ErrorCode::invalid_argument,
                   fmt::format("alloc spec {} asks for more than {} procs", describe(), 1u << 20));
    }
  }
  return {};
}

std::string_view to_string(StopReason::Kind kind) noexcept {
  switch (kind) {
    case StopReason::Kind::stopped: return "stopped";
    case StopReason::Kind::exited: return "exited";
    case StopReason::Kind::killed: return "killed";
    case StopReason::Kind::watchdog: return "watchdog";
    case StopReason::Kind::host_lost: return "host_lost";
  }
  return "unknown";
}

std::string StopReason::describe() const {
  std::string text;
  switch (kind) {
    case Kind::stopped: text = "stopped"; break;
    case Kind::exited: text = fmt::format("exited with code {}", code); break;
    case Kind::killed:
      text = fmt::format("killed by signal {} (SIG{}){}", signal,
                         sigabbrev_np(signal) ? sigabbrev_np(signal) : "?",
                         core_dumped ? ", core dumped" : "");
      break;
    case Kind::watchdog: text = "watchdog"; break;
    case Kind::host_lost: text = "host lost"; break;
  }
  if (!detail.empty()) text += ": " + detail;
  if (!stderr_tail.empty()) text += fmt::format(" (stderr: {})", fmt::join(stderr_tail, " | "));
  return text;
}

std::string describe(const AllocEvent& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ProcCreated>) {
          return fmt::format("created rank {} (pid {})", e.rank, e.pid);
        } else if constexpr (std::is_same_v<T, ProcRunning>) {
          return fmt::format("running rank {} as {} at {}", e.rank, e.proc.to_string(),
                             e.address.empty() ? "(local)" : e.address);
        } else if constexpr (std::is_same_v<T, ProcStopped>) {
          return fmt::format("stopped rank {}: {}", e.rank, e.reason.describe());
        } else {
          return fmt::format("allocation failed: {}", e.description);
        }
      },
      event);
}

}  // namespace zmesh
