#pragma once
// What the `zmesh bench` commands share: sizes for humans ("1MiB"), the CPU time the
// processes taking part use over a measurement window (from /proc), medians and spreads of
// repeated runs for the tables and JSON, and a mesh of local procs.
// Thread: pure functions, except metered() and allocate_local_mesh, which run on the
// caller's thread.

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/mesh/proc_mesh.hpp"

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh::tools {

// "1024", "64KiB", "16MiB" (also K, M, GiB, B): a positive size in bytes.
Result<std::uint64_t> parse_size(std::string text);
// "1KiB,1MiB": sizes, comma-separated.
Result<std::vector<std::uint64_t>> parse_sizes(const std::string& list);
// 1048576 -> "1MiB", 65536 -> "64KiB", 1000 -> "1000B".
std::string size_text(std::uint64_t bytes);

// One measurement window: `ops` done in `elapsed_s`, the p50 and p99 of their latencies,
// and the CPU the processes taking part used over it (metered() sets it).
struct Window {
  std::uint64_t ops = 0;
  double elapsed_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  std::optional<std::uint64_t> cpu_ns;  // of every local process over the window, when readable
  // Times the threads of those processes were put on a CPU over the window: each wake-up
  // from a sleep is one (and each return after a preemption). From schedstat only.
  std::optional<std::uint64_t> thread_runs;
  double ops_per_s() const { return elapsed_s > 0 ? ops / elapsed_s : 0; }
  // CPU us per unit of work (an op, or a delivery: ops x receivers); none when not measured.
  std::optional<double> cpu_us_per(std::uint64_t units) const {
    if (!cpu_ns || units == 0) return std::nullopt;
    return *cpu_ns / 1e3 / static_cast<double>(units);
  }
  // Thread runs per unit of work; none when not measured.
  std::optional<double> thread_runs_per(std::uint64_t units) const {
    if (!thread_runs || units == 0) return std::nullopt;
    return static_cast<double>(*thread_runs) / static_cast<double>(units);
  }
};
// The window of ops started at `start` and done now, given their latencies (us, any order).
Window window_of(Clock::time_point start, std::vector<double> latencies_us);

// -- CPU time of the processes taking part --

// Where CPU time is read: per thread from /proc/PID/task/TID/schedstat (ns), else from
// /proc/PID/stat (utime+stime, clock ticks); none when neither is readable here.
enum class CpuSource { schedstat, stat, none };
CpuSource cpu_source();

// The processes whose CPU time a window counts, and where it is read.
struct CpuScope {
  std::vector<pid_t> pids;  // empty: not measured
  CpuSource source = CpuSource::none;
};

// What the scope's processes have used so far: CPU time, and (schedstat only) how often
// their threads were put on a CPU.
struct CpuUse {
  std::uint64_t ns = 0;
  std::optional<std::uint64_t> thread_runs;
};
// None if one of the scope's processes cannot be read.
std::optional<CpuUse> cpu_use(const CpuScope& scope);

// Runs one measurement window and sets its cpu_ns and thread_runs to what the scope's
// processes used over it. A thread that ended in the window can make a sum shrink: then
// no number rather than a wrong one.
template <class Measured>
Result<Measured> metered(const CpuScope& scope, const std::function<Result<Measured>()>& window) {
  const auto before = cpu_use(scope);
  auto measured = window();
  const auto after = cpu_use(scope);
  if (!measured || !before || !after) return measured;
  if (after->ns >= before->ns) measured->cpu_ns = after->ns - before->ns;
  if (before->thread_runs && after->thread_runs && *after->thread_runs >= *before->thread_runs) {
    measured->thread_runs = *after->thread_runs - *before->thread_runs;
  }
  return measured;
}

// One line saying where the CPU columns come from (or why they show "-"), after `legend`.
void print_cpu_source(std::ostream& out, CpuSource source, std::string_view legend);

// -- repeated runs --

double median(std::vector<double> values);
// "1234", or with several runs "1234 [1100-1300]": the median (then `unit`) and the runs' range.
std::string with_spread(const std::vector<double>& values, int precision,
                        std::string_view unit = "");
// "12.3", or "-" when not measured.
std::string cpu_text(std::optional<double> us);
// "12.345", or "null" when not measured.
std::string json_number(std::optional<double> value);

// One JSON row: what the case is ("\"procs\":8,..."), the medians' members and each run's.
struct JsonRow {
  std::string key;
  std::string medians;
  std::vector<std::string> runs;
};
// Writes {HEAD,"rows":[{KEY,MEDIANS,"runs":[{RUN},...]},...]} to `path`; `head` holds the
// members saying what ran.
void write_json_rows(const std::string& path, const std::string& head,
                     const std::vector<JsonRow>& rows);
// The JSON rows of table rows that hold `runs` and `medians()`: `key(row)` says what the
// case is, `fields(stats)` gives the members of the medians and of each run.
template <class Row, class Key, class Fields>
std::vector<JsonRow> json_rows(const std::vector<Row>& rows, Key key, Fields fields) {
  std::vector<JsonRow> json;
  for (const auto& r : rows) {
    JsonRow row{key(r), fields(r.medians()), {}};
    for (const auto& run : r.runs) row.runs.push_back(fields(run));
    json.push_back(std::move(row));
  }
  return json;
}

// -- meshes --

// `procs` procs on this host: threads of this process for inproc, else processes.
Result<std::unique_ptr<ProcMesh>> allocate_local_mesh(Runtime& runtime, AllocTransport transport,
                                                      std::uint32_t procs,
                                                      std::shared_ptr<Registry> registry);

}  // namespace zmesh::tools
