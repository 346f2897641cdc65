#include "zmesh/tools/bench_reduce_command.hpp"

#include "zmesh/mesh/actor_mesh.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/tools/bench_actors.hpp"
#include "zmesh/tools/bench_common.hpp"
#include "zmesh/tools/ops/host_options.hpp"
#include "zmesh/tools/raw_peers.hpp"
#include "zmesh/tools/raw_receiver.hpp"
#include "zmesh/tools/raw_reducer.hpp"
#include "zmesh/transport/security.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <unistd.h>
#include <boost/program_options.hpp>

#include <zmq.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <set>

namespace zmesh::tools {
namespace {

namespace po = boost::program_options;
using namespace std::chrono_literals;

constexpr int usage_error = 2;
// How long one step may take before the run fails: far above any step, so only a hang hits it.
constexpr auto step_timeout = 30s;

std::string_view command_name(ReduceBench bench) {
  return bench == ReduceBench::reduce ? "zmesh bench reduce" : "zmesh bench allreduce";
}

struct Options {
  ReduceBench bench = ReduceBench::reduce;
  std::vector<std::uint64_t> procs;
  std::vector<std::uint64_t> payloads;
  AllocTransport transport = AllocTransport::ipc;
  std::uint32_t fanout = 16;
  double seconds = 1;
  std::uint32_t repeat = 1;  // runs of each case; the table shows their medians
  std::string json;
};

// How the CPU column is measured (the help text and the table's legend).
constexpr std::string_view cpu_legend =
    "cpu ms/step: CPU time (user+system) per step, of this client, every proc and every raw "
    "receiver "
    "process over the window (the idle side, raw receivers while zmesh runs and procs while raw "
    "runs, is "
    "included: it costs little)";

// Runs `step(n)` one at a time for `seconds` (at least one step); latency: each step's time.
Result<Window> measure_steps(double seconds,
                             const std::function<Result<void>(std::uint64_t)>& step) {
  std::vector<double> latencies;
  const auto start = Clock::now();
  const auto stop =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (std::uint64_t n = 1; latencies.empty() || Clock::now() < stop; ++n) {
    const auto began = Clock::now();
    if (auto done = step(n); !done) return std::move(done).error();
    latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - began).count());
  }
  return window_of(start, std::move(latencies));
}

// The client's half of a gather-and-sum: `sum` takes the first gradient, adds the others.
// Frames may sit at any address, so elements are read with memcpy (compiled to plain loads).
void add_gradient(std::vector<float>& sum, const void* data, bool first) {
  if (first) {
    std::memcpy(sum.data(), data, sum.size() * sizeof(float));
    return;
  }
  const auto* bytes = static_cast<const std::byte*>(data);
  for (std::size_t i = 0; i < sum.size(); ++i) {
    float element;
    std::memcpy(&element, bytes + i * sizeof(float), sizeof element);
    sum[i] += element;
  }
}

// Every element of the sum over ranks 0..N-1 is N(N+1)/2 (bench_gradient); the first and
// last are checked, so a wrong or short sum fails the run instead of being timed.
Result<void> check_sum(std::span<const float> sum, std::size_t floats, std::uint32_t procs) {
  const float expected = static_cast<float>(procs) * static_cast<float>(procs + 1) / 2;
  if (sum.size() != floats || sum.front() != expected || sum.back() != expected) {
    return Error(
        ErrorCode::internal,
        fmt::format("the summed gradient is wrong: {} elements, first {}, last {}; expected {} "
                    "elements of {}",
                    sum.size(), sum.empty() ? 0.f : sum.front(), sum.empty() ? 0.f : sum.back(),
                    floats, expected));
  }
  return {};
}

template <class Folded>
Result<void> check_complete(const Folded& folded, std::string_view what) {
  if (folded.complete()) return {};
  const auto& [rank, why] = *folded.missing.begin();
  return Error(why.code, fmt::format("{}: rank {} gave nothing: {}", what, rank, why.describe()));
}

// -- zmesh: a BenchReducer on every proc --

class MeshSide {
 public:
  static Result<std::unique_ptr<MeshSide>> start(Runtime& runtime, const Options& options,
                                                 std::uint32_t procs) {
    auto mesh = allocate_local_mesh(runtime, options.transport, procs, tool_registry());
    if (!mesh) return std::move(mesh).error();
    auto workers = (*mesh)->spawn<BenchReducer>("bench-reducer", deadline_in(60s));
    if (!workers) return std::move(workers).error();
    return std::unique_ptr<MeshSide>(new MeshSide(std::move(*mesh), std::move(*workers)));
  }

  Result<void> reduce(std::uint64_t step, std::size_t floats) {
    auto reduced = workers_.reduce<Sum>(BenchGradient{step, floats}, deadline_in(step_timeout));
    if (!reduced) return std::move(reduced).error();
    if (auto complete = check_complete(*reduced, "reduce"); !complete) return complete;
    return check_sum(reduced->value->elements(), floats, mesh_->size());
  }

  // call() of the same gradients, summed here.
  Result<void> call_and_sum(std::uint64_t step, std::size_t floats) {
    auto gathered = workers_.call(BenchGradient{step, floats}, deadline_in(step_timeout));
    if (!gathered) return std::move(gathered).error();
    if (auto complete = check_complete(*gathered, "call"); !complete) return complete;
    sum_.resize(floats);
    for (const auto& [rank, gradient] : gathered->replies) {
      if (gradient.size() != floats) return check_sum(gradient.elements(), floats, mesh_->size());
      add_gradient(sum_, gradient.elements().data(), rank == gathered->replies.begin()->first);
    }
    return check_sum(sum_, floats, mesh_->size());
  }

  Result<void> allreduce(std::uint64_t step, std::size_t floats) {
    auto reduced = workers_.allreduce<Sum>(
        BenchGradient{step, floats}, [](const Tensor<float>& sum) { return BenchApply{sum}; },
        deadline_in(step_timeout));
    if (!reduced) return std::move(reduced).error();
    if (auto complete = check_complete(*reduced, "allreduce"); !complete) return complete;
    return check_sum(reduced->value->elements(), floats, mesh_->size());
  }

  std::vector<pid_t> proc_pids() const {
    std::vector<pid_t> pids;
    for (std::uint32_t rank = 0; rank < mesh_->size(); ++rank) pids.push_back(mesh_->pid(rank));
    return pids;
  }

 private:
  MeshSide(std::unique_ptr<ProcMesh> mesh, ActorMesh<BenchReducer> workers)
      : mesh_(std::move(mesh)), workers_(std::move(workers)) {}
  std::unique_ptr<ProcMesh> mesh_;
  ActorMesh<BenchReducer> workers_;
  std::vector<float> sum_;  // call_and_sum's, kept between steps as the raw side's is
};

// -- raw ZeroMQ: a ROUTER and N raw_reducer receivers (processes; threads for inproc) --

class RawSide {
 public:
  static Result<std::unique_ptr<RawSide>> start(const Config& config, const Options& options,
                                                std::uint32_t procs) {
    auto peers = RawPeers::start(
        config,
        RawPeersSpec{
            options.transport, procs, "reduce", "bench-reduce-peer", run_raw_reducer, {}, {}});
    if (!peers) return std::move(peers).error();
    return std::unique_ptr<RawSide>(new RawSide(std::move(*peers)));
  }

  const std::vector<pid_t>& child_pids() const { return peers_->child_pids(); }

  // Sends the request to every receiver and sums their gradients as they arrive.
  Result<void> gather_and_sum(std::uint64_t step, std::size_t floats) {
    const std::uint64_t count = floats;
    for (const auto& id : peers_->receivers()) {
      router().send(zmq::buffer(id), zmq::send_flags::sndmore);
      router().send(zmq::buffer(&step, sizeof step), zmq::send_flags::sndmore);
      router().send(zmq::buffer(&count, sizeof count), zmq::send_flags::none);
    }
    sum_.resize(floats);
    for (std::size_t i = 0; i < peers_->receivers().size(); ++i) {
      zmq::message_t id, seq, gradient;
      if (!router().recv(id) || !router().recv(seq) || !router().recv(gradient)) {
        return Error(ErrorCode::timeout,
                     fmt::format("no raw gradient within {} s", step_timeout.count()));
      }
      if (gradient.size() != floats * sizeof(float)) {
        return Error(ErrorCode::internal, fmt::format("a raw receiver replied {} bytes, not {}",
                                                      gradient.size(), floats * sizeof(float)));
      }
      add_gradient(sum_, gradient.data(), i == 0);
    }
    return check_sum(sum_, floats, static_cast<std::uint32_t>(peers_->receivers().size()));
  }

  // gather_and_sum, then the sum to every receiver (one buffer, shared by the sends, as
  // zmesh's frames are), and an ack from each once it has read every element.
  Result<void> gather_sum_broadcast(std::uint64_t step, std::size_t floats) {
    if (auto summed = gather_and_sum(step, floats); !summed) return summed;
    const std::uint64_t count = floats;
    // No copy and no free: sum_ outlives the sends, which are over once every ack is in.
    zmq::message_t sum(
        sum_.data(), sum_.size() * sizeof(float), [](void*, void*) {}, nullptr);
    for (const auto& id : peers_->receivers()) {
      zmq::message_t shared;
      shared.copy(sum);
      router().send(zmq::buffer(id), zmq::send_flags::sndmore);
      router().send(zmq::buffer(&step, sizeof step), zmq::send_flags::sndmore);
      router().send(zmq::buffer(&count, sizeof count), zmq::send_flags::sndmore);
      router().send(shared, zmq::send_flags::none);
    }
    for (std::size_t i = 0; i < peers_->receivers().size(); ++i) {
      zmq::message_t id, seq, ack;
      if (!router().recv(id) || !router().recv(seq) || !router().recv(ack)) {
        return Error(ErrorCode::timeout,
                     fmt::format("no raw ack within {} s", step_timeout.count()));
      }
    }
    return {};
  }

 private:
  explicit RawSide(std::unique_ptr<RawPeers> peers) : peers_(std::move(peers)) {}
  zmq::socket_t& router() { return peers_->router(); }
  std::unique_ptr<RawPeers> peers_;
  std::vector<float> sum_;
};

// -- the cases, their runs and the table --

// One way of doing a step; `raw` marks the twin the others are compared to.
struct Case {
  std::string name;
  bool raw = false;
  std::function<Result<void>(std::uint64_t step, std::size_t floats)> step;
};

// The zmesh cases, then the raw twin (last: the table and print_cpu_gap rely on it).
std::vector<Case> cases_of(ReduceBench bench, MeshSide& mesh, RawSide& raw) {
  using namespace std::placeholders;
  if (bench == ReduceBench::reduce) {
    return {{"zmesh reduce<Sum>", false, std::bind(&MeshSide::reduce, &mesh, _1, _2)},
            {"zmesh call()+sum", false, std::bind(&MeshSide::call_and_sum, &mesh, _1, _2)},
            {"raw gather+sum", true, std::bind(&RawSide::gather_and_sum, &raw, _1, _2)}};
  }
  return {{"zmesh allreduce<Sum>", false, std::bind(&MeshSide::allreduce, &mesh, _1, _2)},
          {"raw gather+sum+bcast", true, std::bind(&RawSide::gather_sum_broadcast, &raw, _1, _2)}};
}

// One case's numbers in one run; ratio: steps/s over the raw case's of the same run.
struct Stats {
  double steps_per_s = 0, p50_us = 0, p99_us = 0;
  std::optional<double> cpu_us;  // per step; none when a process could not be read
  double ratio = 0;
};

struct Row {
  std::uint32_t procs = 0;
  std::uint64_t payload = 0;
  std::string name;
  std::vector<Stats> runs;

  std::vector<double> all(double Stats::*field) const {
    std::vector<double> values;
    for (const auto& run : runs) values.push_back(run.*field);
    return values;
  }
  Stats medians() const {
    std::optional<double> cpu;
    if (std::all_of(runs.begin(), runs.end(),
                    [](const Stats& s) { return s.cpu_us.has_value(); })) {
      std::vector<double> values;
      for (const auto& run : runs) values.push_back(*run.cpu_us);
      cpu = median(std::move(values));
    }
    return Stats{median(all(&Stats::steps_per_s)), median(all(&Stats::p50_us)),
                 median(all(&Stats::p99_us)), cpu, median(all(&Stats::ratio))};
  }
};

// Runs every case options.repeat times, the cases one after the other in each run, so that
// they all see the same moments of a noisy machine.
Result<std::vector<Row>> run_cases(std::vector<Case>& cases, const CpuScope& scope,
                                   std::uint32_t procs, std::uint64_t payload,
                                   const Options& options) {
  std::vector<Row> rows;
  for (const auto& c : cases) rows.push_back(Row{procs, payload, c.name, {}});
  const std::size_t floats = payload / sizeof(float);
  for (std::uint32_t run = 0; run < options.repeat; ++run) {
    std::vector<Window> measured;
    double raw_rate = 0;
    for (auto& c : cases) {
      auto window = metered<Window>(scope, [&] {
        return measure_steps(options.seconds, [&](std::uint64_t n) { return c.step(n, floats); });
      });
      if (!window) return Error(window.error().code, c.name + ": " + window.error().message);
      if (c.raw) raw_rate = window->ops_per_s();
      measured.push_back(*window);
    }
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const Window& m = measured[i];
      rows[i].runs.push_back(Stats{m.ops_per_s(), m.p50_us, m.p99_us, m.cpu_us_per(m.ops),
                                   raw_rate > 0 ? m.ops_per_s() / raw_rate : 0});
    }
  }
  return rows;
}

int rate_width(std::uint32_t repeat) {
  return repeat > 1 ? 20 : 8;
}
int ratio_width(std::uint32_t repeat) {
  return repeat > 1 ? 18 : 7;
}

void print_header(std::ostream& out, const Options& options) {
  fmt::print(out, "{:>5} {:>8} | {:<21} | {:>{}} {:>8} {:>8} {:>8} {:>11} | {:>{}}\n", "procs",
             "payload", "case", "steps/s", rate_width(options.repeat), "GB/s up", "p50 ms",
             "p99 ms", "cpu ms/step", "x raw", ratio_width(options.repeat));
}

void print_row(std::ostream& out, const Row& row, const Options& options) {
  const Stats mid = row.medians();
  fmt::print(out, "{:>5} {:>8} | {:<21} | {:>{}} {:>8.3f} {:>8.2f} {:>8.2f} {:>11} | {:>{}}\n",
             row.procs, size_text(row.payload), row.name,
             with_spread(row.all(&Stats::steps_per_s), 1), rate_width(options.repeat),
             mid.steps_per_s * row.procs * row.payload / 1e9, mid.p50_us / 1e3, mid.p99_us / 1e3,
             cpu_text(mid.cpu_us ? std::optional(*mid.cpu_us / 1e3) : std::nullopt),
             with_spread(row.all(&Stats::ratio), 2, "x"), ratio_width(options.repeat));
  out.flush();
}

std::string json_fields(const Stats& s) {
  return fmt::format(
      "\"steps_per_s\":{:.2f},\"p50_us\":{:.1f},\"p99_us\":{:.1f},\"cpu_us_per_step\":{},"
      "\"ratio_to_raw\":{:.3f}",
      s.steps_per_s, s.p50_us, s.p99_us, json_number(s.cpu_us), s.ratio);
}

// Each row: its case, the medians (top-level) and every run's numbers under "runs".
void write_json(const std::string& path, const std::vector<Row>& rows, const Options& options) {
  const auto json = json_rows(
      rows,
      [](const Row& r) {
        return fmt::format("\"procs\":{},\"payload\":{},\"case\":\"{}\"", r.procs, r.payload,
                           r.name);
      },
      json_fields);
  write_json_rows(path,
                  fmt::format("\"bench\":\"{}\",\"transport\":\"{}\",\"fanout\":{},\"repeat\":{}",
                              options.bench == ReduceBench::reduce ? "reduce" : "allreduce",
                              to_string(options.transport), options.fanout, options.repeat),
                  json);
}

void print_preamble(std::ostream& out, const Options& options, CpuSource source) {
  if (options.bench == ReduceBench::reduce) {
    fmt::print(
        out,
        "zmesh bench reduce over {}, fan-out {}, 1 step in flight: every proc's actor replies a "
        "fresh "
        "float tensor of the payload size; reduce<Sum> folds them in the comm tree, call()+sum "
        "gathers them and sums here; raw = a ZeroMQ ROUTER sending the request to N receiver "
        "processes, each replying the same bytes, summed here\n",
        to_string(options.transport), options.fanout);
  } else {
    fmt::print(
        out,
        "zmesh bench allreduce over {}, fan-out {}, 1 step in flight: allreduce<Sum> of every "
        "proc's "
        "fresh float tensor, the sum handed back to every actor, which reads every element; raw = "
        "a "
        "ZeroMQ ROUTER gathering the same bytes from N receiver processes, summing them here, "
        "sending the sum to each and waiting for N acks sent once each read every element\n",
        to_string(options.transport), options.fanout);
  }
  if (options.repeat > 1) {
    fmt::print(out,
               "{} runs, every case in each; medians, and [min-max] of the runs for steps/s and x "
               "raw (each "
               "run's own ratio)\n",
               options.repeat);
  }
  print_cpu_source(out, source, cpu_legend);
}

Result<Options> parse_options(ReduceBench bench, std::span<const std::string> args,
                              std::ostream& out, bool& help) {
  const std::string name(command_name(bench));
  po::options_description described(
      name + ": a training step (" + (bench == ReduceBench::reduce ? "reduce" : "allreduce") +
      " of float tensors), next to raw ZeroMQ doing the same work\noptions");
  std::string procs = "8", payloads = "1MiB", transport = "ipc";
  long repeat = 1;  // signed, so that "--repeat -1" is refused rather than wrapped around
  Options options;
  options.bench = bench;
  described.add_options()("help,h", "show this help")(
      "procs", po::value(&procs)->default_value(procs), "mesh sizes N, comma-separated")(
      "payload", po::value(&payloads)->default_value(payloads),
      "bytes of each proc's tensor (a multiple of 4), comma-separated")(
      "transport", po::value(&transport)->default_value(transport),
      "ipc, tcp or inproc (local procs)")("fanout",
                                          po::value(&options.fanout)->default_value(options.fanout),
                                          "children per comm-tree node")(
      "seconds", po::value(&options.seconds)->default_value(options.seconds),
      "seconds per measurement")(
      "repeat", po::value(&repeat)->default_value(repeat),
      "runs of every case (the cases alternate); the table shows their medians and [min-max]")(
      "json", po::value(&options.json), "also write the rows to this file as JSON");
  po::variables_map values;
  po::store(po::command_line_parser(std::vector<std::string>(args.begin(), args.end()))
                .options(described)
                .run(),
            values);
  po::notify(values);
  if (values.count("help")) {
    out << described << "\n"
        << cpu_legend << "\n\nexample: " << name
        << " --procs 8 --payload 1MiB --seconds 2 --repeat 3 --json out.json\n";
    help = true;
    return options;
  }
  auto parsed_transport = parse_alloc_transport(transport);
  if (!parsed_transport) return std::move(parsed_transport).error();
  options.transport = *parsed_transport;
  auto sizes = parse_sizes(procs);
  if (!sizes ||
      std::any_of(sizes->begin(), sizes->end(), [](std::uint64_t n) { return n > 1024; })) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("--procs \"{}\": give mesh sizes of 1 to 1024", procs));
  }
  options.procs = std::move(*sizes);
  sizes = parse_sizes(payloads);
  if (!sizes) return std::move(sizes).error();
  for (auto size : *sizes) {
    if (size % sizeof(float) != 0) {
      return Error(
          ErrorCode::invalid_argument,
          fmt::format("--payload {}: the tensors hold floats, give a multiple of 4 bytes", size));
    }
  }
  options.payloads = std::move(*sizes);
  if (repeat < 1 || repeat > 1000) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("--repeat {}: give the runs per case, 1 to 1000", repeat));
  }
  options.repeat = static_cast<std::uint32_t>(repeat);
  if (options.fanout == 0 || options.seconds <= 0) {
    return Error(ErrorCode::invalid_argument, "--fanout and --seconds must be positive");
  }
  return options;
}

// One line per zmesh case: the CPU per step it used beyond the raw twin's, which is the work
// zmesh adds (the rows of one procs x payload; the raw one is last).
void print_cpu_gap(std::ostream& out, const std::vector<Row>& rows) {
  const auto raw = rows.back().medians().cpu_us;
  for (std::size_t i = 0; raw && i + 1 < rows.size(); ++i) {
    if (const auto cpu = rows[i].medians().cpu_us) {
      fmt::print(out, "   {}: {:+.2f} ms of CPU per step against raw ({:.2f} vs {:.2f})\n",
                 rows[i].name, (*cpu - *raw) / 1e3, *cpu / 1e3, *raw / 1e3);
    }
  }
}

// Runs the sweep; the rows, or what failed.
Result<std::vector<Row>> run_sweep(Runtime& runtime, const Options& options, std::ostream& out) {
  const CpuSource source = cpu_source();
  print_preamble(out, options, source);
  print_header(out, options);
  std::vector<Row> rows;
  for (auto n : options.procs) {
    const auto procs = static_cast<std::uint32_t>(n);
    fmt::print(out, "-- starting {} procs and {} raw receivers...\n", procs, procs);
    out.flush();
    auto mesh = MeshSide::start(runtime, options, procs);
    if (!mesh) return Error(mesh.error().code, "starting the mesh: " + mesh.error().describe());
    auto raw = RawSide::start(runtime.config(), options, procs);
    if (!raw) return Error(raw.error().code, "starting raw receivers: " + raw.error().describe());
    std::set<pid_t> pids{::getpid()};  // in-process procs and inproc receivers share it
    for (pid_t pid : (*mesh)->proc_pids()) pids.insert(pid);
    pids.insert((*raw)->child_pids().begin(), (*raw)->child_pids().end());
    const CpuScope scope{{pids.begin(), pids.end()}, source};
    auto cases = cases_of(options.bench, **mesh, **raw);
    for (auto payload : options.payloads) {
      auto run = run_cases(cases, scope, procs, payload, options);
      if (!run) return std::move(run).error();
      for (const auto& row : *run) print_row(out, row, options);
      print_cpu_gap(out, *run);
      rows.insert(rows.end(), run->begin(), run->end());
    }
  }
  return rows;
}

}  // namespace

int run_bench_reduce(ReduceBench bench, std::span<const std::string> args, std::ostream& out,
                     std::ostream& err) {
  const std::string name(command_name(bench));
  bool help = false;
  Result<Options> parsed = Error(ErrorCode::internal, "");
  try {
    parsed = parse_options(bench, args, out, help);
  } catch (const po::error& e) {
    err << name << ": " << e.what() << "\nhint: " << name << " --help\n";
    return usage_error;
  }
  if (help) return 0;
  if (!parsed) {
    err << name << ": " << parsed.error().message << "\nhint: " << name << " --help\n";
    return usage_error;
  }
  const Options& options = *parsed;
  auto config = tool_config("", false);
  if (!config) {
    err << name << ": " << config.error().message << '\n';
    return usage_error;
  }
  config->cast_fanout = options.fanout;
  if (options.transport == AllocTransport::tcp && config->curve.empty() && !config->insecure) {
    auto keys = generate_key_pair();  // local procs over tcp: a pair for this run
    if (!keys) {
      err << name << ": " << keys.error().describe() << '\n';
      return 1;
    }
    config->curve = std::move(*keys);
  }
  Runtime runtime(*config);
  auto rows = run_sweep(runtime, options, out);
  if (!rows) {
    err << name << ": " << rows.error().describe() << '\n';
    return 1;
  }
  fmt::print(out,
             "where to look next: on a machine with fewer cores than processes the rate follows "
             "cpu ms/step; `perf record -g` of this command with --seconds 10 shows where it goes "
             "(docs/performance.md has a profile and past numbers)\n");
  if (!options.json.empty()) {
    write_json(options.json, *rows, options);
    fmt::print(out, "rows written to {}\n", options.json);
  }
  return 0;
}

int run_bench_reduce_peer_command(std::span<const std::string> args, std::ostream&,
                                  std::ostream& err) {
  if (args.size() != 2) {
    err << "zmesh bench-reduce-peer ADDRESS RANK (started by zmesh bench reduce and allreduce)\n";
    return usage_error;
  }
  auto config = Config::from_environment();  // ZMESH_KEY from the bench, over tcp
  if (!config) {
    err << "zmesh bench-reduce-peer: " << config.error().describe() << '\n';
    return 1;
  }
  const auto rank = static_cast<std::uint32_t>(std::stoul(args[1]));
  zmq::context_t context;
  auto dealer = raw_receiver_socket(context, args[0], rank, *config);
  if (!dealer) {
    err << "zmesh bench-reduce-peer: " << dealer.error().describe() << '\n';
    return 1;
  }
  run_raw_reducer(*dealer, rank);
  return 0;
}

}  // namespace zmesh::tools
