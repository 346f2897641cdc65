#include "zmesh/tools/bench_common.hpp"

#include "zmesh/alloc/local_allocator.hpp"
#include "zmesh/alloc/process_allocator.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace zmesh::tools {
namespace {

using namespace std::chrono_literals;

// Ns of CPU the threads of `pid` alive now have used, and how often they were put on a CPU
// (schedstat: run time, wait time, timeslices). A thread that exits during a window takes
// its counts along; the bench's threads live as long as their meshes.
std::optional<CpuUse> schedstat_use(pid_t pid) {
  CpuUse total{0, 0};
  try {
    for (const auto& task :
         std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid))) {
      std::ifstream file(task.path() / "schedstat");
      std::uint64_t ns = 0, waited_ns = 0, runs = 0;
      // Else the thread ended between listing and reading.
      if (file >> ns >> waited_ns >> runs) {
        total.ns += ns;
        *total.thread_runs += runs;
      }
    }
  } catch (const std::filesystem::filesystem_error&) {
    return std::nullopt;
  }
  return total;
}

// Ns of CPU (user+system) `pid` has used, all its threads, in clock ticks.
std::optional<std::uint64_t> stat_ns(pid_t pid) {
  std::ifstream file(fmt::format("/proc/{}/stat", pid));
  const std::string text{std::istreambuf_iterator<char>(file), {}};
  // The command (field 2) is in parentheses and may hold spaces; utime and stime are the
  // 12th and 13th fields after it.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::string skipped;
  for (int i = 0; i < 11; ++i) fields >> skipped;
  std::uint64_t utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  return (utime + stime) * 1'000'000'000ull / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

Result<std::uint64_t> parse_size(std::string text) {
  std::uint64_t scale = 1;
  for (auto [suffix, factor] : {std::pair{"KiB", 1ull << 10},
                                {"MiB", 1ull << 20},
                                {"GiB", 1ull << 30},
                                {"K", 1ull << 10},
                                {"M", 1ull << 20},
                                {"B", 1ull}}) {
    const std::string s(suffix);
    if (text.size() > s.size() && text.ends_with(s)) {
      text.resize(text.size() - s.size());
      scale = factor;
      break;
    }
  }
  try {
    std::size_t used = 0;
    const auto value = std::stoull(text, &used);
    if (used != text.size() || value == 0) throw std::invalid_argument(text);
    return value * scale;
  } catch (const std::exception&) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("payload size \"{}\" is not a size like 1024, 64KiB or 16MiB", text));
  }
}

Result<std::vector<std::uint64_t>> parse_sizes(const std::string& list) {
  std::vector<std::uint64_t> sizes;
  std::stringstream items(list);
  for (std::string item; std::getline(items, item, ',');) {
    auto size = parse_size(item);
    if (!size) return std::move(size).error();
    sizes.push_back(*size);
  }
  return sizes;
}

std::string size_text(std::uint64_t bytes) {
  if (bytes % (1 << 20) == 0) return fmt::format("{}MiB", bytes >> 20);
  if (bytes % (1 << 10) == 0) return fmt::format("{}KiB", bytes >> 10);
  return fmt::format("{}B", bytes);
}

Window window_of(Clock::time_point start, std::vector<double> latencies_us) {
  Window window;
  window.ops = latencies_us.size();
  window.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_us.begin(), latencies_us.end());
  if (!latencies_us.empty()) {
    window.p50_us = latencies_us[latencies_us.size() / 2];
    window.p99_us = latencies_us[std::min(latencies_us.size() - 1, latencies_us.size() * 99 / 100)];
  }
  return window;
}

CpuSource cpu_source() {
  if (schedstat_use(::getpid()).value_or(CpuUse{}).ns > 0) return CpuSource::schedstat;
  return stat_ns(::getpid()) ? CpuSource::stat : CpuSource::none;
}

std::optional<CpuUse> cpu_use(const CpuScope& scope) {
  if (scope.pids.empty() || scope.source == CpuSource::none) return std::nullopt;
  const bool schedstat = scope.source == CpuSource::schedstat;
  CpuUse total{0, schedstat ? std::optional<std::uint64_t>(0) : std::nullopt};
  for (pid_t pid : scope.pids) {
    if (schedstat) {
      auto used = schedstat_use(pid);
      if (!used) return std::nullopt;
      total.ns += used->ns;
      *total.thread_runs += *used->thread_runs;
    } else {
      auto used = stat_ns(pid);
      if (!used) return std::nullopt;
      total.ns += *used;
    }
  }
  return total;
}

void print_cpu_source(std::ostream& out, CpuSource source, std::string_view legend) {
  if (source == CpuSource::none) {
    fmt::print(
        out,
        "cpu: \"-\": neither /proc/PID/task/*/schedstat nor /proc/PID/stat is readable here\n");
  } else if (source == CpuSource::stat) {
    fmt::print(
        out,
        "{}; from /proc/PID/stat utime+stime in {} ms ticks (schedstat is not readable here)\n",
        legend, 1000 / ::sysconf(_SC_CLK_TCK));
  } else {
    fmt::print(out, "{}; from /proc/PID/task/*/schedstat\n", legend);
  }
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string with_spread(const std::vector<double>& values, int precision, std::string_view unit) {
  const std::string mid = fmt::format("{:.{}f}{}", median(values), precision, unit);
  if (values.size() == 1) return mid;
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  return fmt::format("{} [{:.{}f}-{:.{}f}]", mid, *low, precision, *high, precision);
}

std::string cpu_text(std::optional<double> us) {
  return us ? fmt::format("{:.1f}", *us) : "-";
}

std::string json_number(std::optional<double> value) {
  return value ? fmt::format("{:.3f}", *value) : "null";
}

void write_json_rows(const std::string& path, const std::string& head,
                     const std::vector<JsonRow>& rows) {
  std::ofstream file(path);
  file << '{' << head << ",\"rows\":[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    fmt::print(file, "{}{{{},{},\"runs\":[", i ? "," : "", rows[i].key, rows[i].medians);
    for (std::size_t k = 0; k < rows[i].runs.size(); ++k)
      fmt::print(file, "{}{{{}}}", k ? "," : "", rows[i].runs[k]);
    file << "]}";
  }
  file << "]}\n";
}

Result<std::unique_ptr<ProcMesh>> allocate_local_mesh(Runtime& runtime, AllocTransport transport,
                                                      std::uint32_t procs,
                                                      std::shared_ptr<Registry> registry) {
  AllocSpec spec;
  spec.transport = transport;
  spec.dimensions = {{"proc", procs}};
  auto alloc = transport == AllocTransport::inproc
                   ? LocalAllocator::allocate(runtime, spec, std::move(registry))
                   : ProcessAllocator::allocate(runtime, spec, std::move(registry));
  if (!alloc) return std::move(alloc).error();
  return ProcMesh::allocate(runtime, std::move(*alloc), deadline_in(60s));
}

}  // namespace zmesh::tools
