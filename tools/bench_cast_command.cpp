#include "zmesh/tools/bench_cast_command.hpp"

#include "zmesh/alloc/remote_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/tools/bench_actors.hpp"
#include "zmesh/tools/bench_common.hpp"
#include "zmesh/tools/bench_reduce_command.hpp"
#include "zmesh/tools/net/tcp_check.hpp"
#include "zmesh/tools/ops/host_options.hpp"
#include "zmesh/tools/raw_peers.hpp"
#include "zmesh/tools/raw_receiver.hpp"
#include "zmesh/transport/security.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <zmq.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace zmesh::tools {
namespace {

namespace po = boost::program_options;
using namespace std::chrono_literals;

constexpr int usage_error = 2;
// In-flight casts are capped so that queued copies stay below this many bytes.
constexpr std::uint64_t max_bytes_in_flight = 512ull << 20;

// Which actor answers the casts (bench_actors.hpp).
enum class Target { plain, fast };

std::string_view to_string(Target target) { return target == Target::plain ? "plain" : "fast"; }

struct Options {
  Target target = Target::plain;
  std::uint32_t repeat = 1;  // runs of each case; the table shows their medians
  std::vector<std::uint32_t> procs;
  std::vector<std::uint64_t> payloads;
  std::uint32_t inflight = 64;
  AllocTransport transport = AllocTransport::ipc;
  std::uint32_t fanout = 16;
  double seconds = 0.5;
  std::string json;
  // --hosts: procs on these launchers' hosts (`procs` is then per host), over tcp, and the
  // raw receivers there too, as RawPeer actors; the client listens on client_host.
  std::vector<HostEntry> hosts;
  std::string client_host;
  std::string key_file;  // --key: the launchers' key pair
  bool insecure = false;
  std::uint32_t total(std::uint32_t procs) const {
    return hosts.empty() ? procs : procs * static_cast<std::uint32_t>(hosts.size());
  }
};

// A mesh of `procs` per host over options.hosts, or of `procs` local procs.
Result<std::unique_ptr<ProcMesh>> allocate_mesh(Runtime& runtime, const Options& options, std::uint32_t procs) {
  if (options.hosts.empty()) return allocate_local_mesh(runtime, options.transport, procs, tool_registry());
  AllocSpec spec;
  spec.transport = options.transport;
  spec.dimensions = {{"host", static_cast<std::uint32_t>(options.hosts.size())}, {"proc", procs}};
  RemoteAllocatorOptions remote;
  remote.hosts = options.hosts;
  remote.client_host = options.client_host;
  auto alloc = RemoteAllocator::allocate(runtime, spec, tool_registry(), remote);
  if (!alloc) return std::move(alloc).error();
  return ProcMesh::allocate(runtime, std::move(*alloc), deadline_in(60s));
}

// One measurement window: casts (ops) to all N, each waiting for N replies.
struct Measured : Window {
  std::uint64_t deliveries = 0;  // casts * N
  double casts_per_s() const { return ops_per_s(); }
  std::optional<double> cpu_us_per_delivery() const { return cpu_us_per(deliveries); }
  std::optional<double> wakes_per_delivery() const { return thread_runs_per(deliveries); }
};

// Keeps up to `inflight` casts going for `seconds`, then drains; `send(seq)` starts cast
// `seq`, `next_reply(deadline, batch)` returns the seq of one reply, and may sleep until
// `batch` replies are there: the replies that could complete the oldest cast, which a
// client waiting for them would wait for anyway. Latency: send to last reply.
Result<Measured> measure(std::uint32_t procs, std::uint32_t inflight, double seconds,
                         const std::function<Result<void>(std::uint64_t)>& send,
                         const std::function<Result<std::uint64_t>(Deadline, std::size_t)>& next_reply) {
  struct Pending {
    Clock::time_point sent;
    std::uint32_t replies = 0;
  };
  std::map<std::uint64_t, Pending> pending;
  std::vector<double> latencies;
  std::uint64_t next_seq = 1;
  const auto start = Clock::now();
  const auto stop_sending = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (true) {
    while (pending.size() < inflight && Clock::now() < stop_sending) {
      pending[next_seq].sent = Clock::now();
      if (auto sent = send(next_seq++); !sent) return std::move(sent).error();
    }
    if (pending.empty()) break;
    auto seq = next_reply(deadline_in(30s), procs - pending.begin()->second.replies);
    if (!seq) {
      return Error(ErrorCode::timeout, fmt::format("{} casts still waiting for replies: {}",
                                                   pending.size(), seq.error().message));
    }
    auto it = pending.find(*seq);
    if (it == pending.end() || ++it->second.replies < procs) continue;
    latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - it->second.sent).count());
    pending.erase(it);
  }
  Measured result{window_of(start, std::move(latencies))};
  result.deliveries = result.ops * procs;
  return result;
}

// -- zmesh: a mesh of BenchPlain or BenchTarget actors --

// Spawns A on every proc. The casts go through cast_frames, which needs no more than the
// untyped view of the mesh, so either target fits the same MeshBench.
template <class A>
Result<ActorMeshBase> spawn_target(ProcMesh& mesh) {
  auto targets = mesh.spawn<A>("bench", deadline_in(60s));
  if (!targets) return std::move(targets).error();
  return ActorMeshBase(std::move(*targets));
}

class MeshBench {
 public:
  static Result<std::unique_ptr<MeshBench>> start(Runtime& runtime, const Options& options,
                                                  std::uint32_t procs) {
    auto mesh = allocate_mesh(runtime, options, procs);
    if (!mesh) return std::move(mesh).error();
    auto targets = options.target == Target::plain ? spawn_target<BenchPlain>(**mesh)
                                                   : spawn_target<BenchTarget>(**mesh);
    if (!targets) return std::move(targets).error();
    auto mailbox = (*mesh)->client().attach("bench-client");
    if (!mailbox) return std::move(mailbox).error();
    return std::unique_ptr<MeshBench>(new MeshBench(std::move(*mesh), std::move(*targets), std::move(*mailbox)));
  }

  Result<Measured> run(std::uint32_t procs, const Frame& payload, std::uint32_t inflight, double seconds) {
    auto [reply_to, replies] = mailbox_.open_port<BenchReply>();
    const std::string type(message_name<BenchCast>());
    return measure(
        procs, inflight, seconds,
        [&](std::uint64_t seq) -> Result<void> {
          auto cast = targets_.cast_frames(Selection::all(), type,
                                           encode_frames(BenchCast{seq, reply_to, Bytes(payload)}),
                                           targets_.room_deadline());
          if (!cast) return std::move(cast).error();
          return {};
        },
        [&](Deadline deadline, std::size_t batch) -> Result<std::uint64_t> {
          auto reply = replies.recv(deadline, batch);
          if (!reply) return std::move(reply).error();
          return reply->cast;
        });
  }

  // The procs' pids, on their hosts (this process's, for in-process procs).
  std::vector<pid_t> proc_pids() const {
    std::vector<pid_t> pids;
    for (std::uint32_t rank = 0; rank < mesh_->size(); ++rank) pids.push_back(mesh_->pid(rank));
    return pids;
  }

 private:
  MeshBench(std::unique_ptr<ProcMesh> mesh, ActorMeshBase targets, Mailbox mailbox)
      : mesh_(std::move(mesh)), targets_(std::move(targets)), mailbox_(std::move(mailbox)) {}
  std::unique_ptr<ProcMesh> mesh_;
  ActorMeshBase targets_;
  Mailbox mailbox_;
};

// -- raw ZeroMQ: a client ROUTER and N receiver processes (or threads, for inproc; or
// RawPeer actors in procs on the launchers' hosts, for --hosts) --

class RawBench {
 public:
  static Result<std::unique_ptr<RawBench>> start(Runtime& runtime, const Options& options, std::uint32_t procs) {
    RawPeersSpec spec{options.transport, options.total(procs), "cast", "bench-peer",
                      [](zmq::socket_t& dealer, std::uint32_t) { run_raw_receiver(dealer); }, {}, {}};
    if (!options.hosts.empty()) {
      spec.client_host = options.client_host;
      spec.start_remote = [&](const std::string& address) -> Result<std::unique_ptr<ProcMesh>> {
        auto mesh = allocate_mesh(runtime, options, procs);
        if (!mesh) return std::move(mesh).error();
        auto peers = (*mesh)->spawn<RawPeer>("raw", {address}, deadline_in(60s));
        if (!peers) return std::move(peers).error();
        return mesh;
      };
    }
    auto peers = RawPeers::start(runtime.config(), std::move(spec));
    if (!peers) return std::move(peers).error();
    return std::unique_ptr<RawBench>(new RawBench(std::move(*peers)));
  }

  const std::vector<pid_t>& child_pids() const { return peers_->child_pids(); }

  Result<Measured> run(std::uint32_t procs, const std::string& payload_bytes, std::uint32_t inflight,
                       double seconds) {
    zmq::message_t payload(payload_bytes.data(), payload_bytes.size());
    zmq::socket_t& router = peers_->router();
    return measure(
        procs, inflight, seconds,
        [&](std::uint64_t seq) -> Result<void> {
          for (const auto& id : peers_->receivers()) {
            zmq::message_t copy;
            copy.copy(payload);  // shares the buffer, as zmesh's frames do
            router.send(zmq::buffer(id), zmq::send_flags::sndmore);
            router.send(zmq::buffer(&seq, sizeof seq), zmq::send_flags::sndmore);
            router.send(copy, zmq::send_flags::none);
          }
          return {};
        },
        [&](Deadline, std::size_t) -> Result<std::uint64_t> {
          zmq::message_t id, seq;
          if (!router.recv(id) || !router.recv(seq) || seq.size() != sizeof(std::uint64_t)) {
            return Error(ErrorCode::timeout, "no raw reply within 30 s");
          }
          std::uint64_t value = 0;
          std::memcpy(&value, seq.data(), sizeof value);
          return value;
        });
  }

 private:
  explicit RawBench(std::unique_ptr<RawPeers> peers) : peers_(std::move(peers)) {}
  std::unique_ptr<RawPeers> peers_;
};

// How the CPU columns are measured (the help text and the table's legend).
constexpr std::string_view cpu_legend =
    "cpu us/dlv: CPU time (user+system) per delivered message, of this client, every proc and every raw "
    "receiver process over the window (the idle side, raw receivers while zmesh runs and procs while raw runs, "
    "is included: it costs little); wakes/dlv: how often the threads of those processes were put on a CPU (each "
    "wake-up from a sleep counts one; schedstat's timeslices), per delivered message";

Result<Options> parse_options(std::span<const std::string> args, std::ostream& out, bool& help) {
  po::options_description described("zmesh bench cast: cast to all procs and wait for all replies, "
                                    "next to raw ZeroMQ doing the same work\noptions");
  std::string procs = "1,4,8,16", payloads = "1KiB,64KiB,1MiB,16MiB", transport = "ipc", target = "plain";
  std::string hosts, per_host;
  long repeat = 1;  // signed, so that "--repeat -1" is refused rather than wrapped around
  Options options;
  described.add_options()("help,h", "show this help")(
      "target", po::value(&target)->default_value(target),
      "the actor answering: plain (a typed handler on the proc's pool, as in README.md) or fast (a raw "
      "handler on the I/O thread, handlers_never_block)")(
      "repeat", po::value(&repeat)->default_value(repeat),
      "runs of each case (zmesh and raw alternate); the table shows their medians and [min-max]")(
      "procs", po::value(&procs)->default_value(procs), "mesh sizes N, comma-separated")(
      "payload", po::value(&payloads)->default_value(payloads), "payload sizes, comma-separated")(
      "inflight", po::value(&options.inflight)->default_value(options.inflight),
      "casts in flight for the second row of each size (the first has 1)")(
      "transport", po::value(&transport)->default_value(transport), "ipc, tcp or inproc (local procs)")(
      "fanout", po::value(&options.fanout)->default_value(options.fanout),
      "children per comm-tree node")("seconds", po::value(&options.seconds)->default_value(options.seconds),
                                     "seconds per measurement")(
      "json", po::value(&options.json), "also write the rows to this file as JSON")(
      "hosts", po::value(&hosts),
      "run the procs and the raw receivers on these zmesh-launchers' hosts (host[:port],...), over tcp")(
      "procs-per-host", po::value(&per_host), "with --hosts: procs per host, comma-separated (instead of --procs)")(
      "client-host", po::value(&options.client_host),
      "with --hosts: the address of this machine the procs connect to (default: the one that routes to the "
      "first host)")("key", po::value(&options.key_file), "the launchers' key file (as ZMESH_KEY_FILE)")(
      "insecure", po::bool_switch(&options.insecure), "plain tcp (for launchers started with --insecure)");
  po::variables_map values;
  po::store(po::command_line_parser(std::vector<std::string>(args.begin(), args.end())).options(described).run(),
            values);
  po::notify(values);
  if (values.count("help")) {
    out << described << "\n" << cpu_legend << "; with --hosts it shows \"-\": the procs and receivers on other "
        << "hosts cannot be read from here\n"
        << "\nexample: zmesh bench cast --procs 8 --payload 1KiB --inflight 64 --seconds 2 --repeat 3\n"
        << "across hosts: zmesh bench cast --hosts node1,node2,node3 --procs-per-host 2 --payload 1KiB,1MiB\n";
    help = true;
    return options;
  }
  auto parsed_transport = parse_alloc_transport(transport);
  if (!parsed_transport) return std::move(parsed_transport).error();
  options.transport = *parsed_transport;
  if (!per_host.empty() && hosts.empty()) {
    return Error(ErrorCode::invalid_argument, "--procs-per-host needs --hosts (for local procs, use --procs)");
  }
  if (!hosts.empty()) {
    if (!values["procs"].defaulted()) {
      return Error(ErrorCode::invalid_argument, "with --hosts, give --procs-per-host (procs on each host), not --procs");
    }
    if (values.count("transport") && !values["transport"].defaulted() && options.transport != AllocTransport::tcp) {
      return Error(ErrorCode::invalid_argument, "--hosts runs over tcp: leave --transport out");
    }
    auto found = launcher_hosts(hosts);
    if (!found) return std::move(found).error();
    options.hosts = std::move(found->hosts);
    options.transport = AllocTransport::tcp;
    if (options.client_host.empty()) {
      auto towards = local_address_towards(options.hosts.front());
      if (!towards) {
        return Error(towards.error().code, towards.error().message + "; give the client address with --client-host");
      }
      options.client_host = *towards;
    }
    procs = per_host.empty() ? "1" : per_host;
  }
  if (repeat < 1 || repeat > 1000) {
    return Error(ErrorCode::invalid_argument, fmt::format("--repeat {}: give the runs per case, 1 to 1000", repeat));
  }
  options.repeat = static_cast<std::uint32_t>(repeat);
  if (target != "plain" && target != "fast") {
    return Error(ErrorCode::invalid_argument, fmt::format("--target \"{}\": give plain or fast", target));
  }
  options.target = target == "plain" ? Target::plain : Target::fast;
  const std::string procs_option = hosts.empty() ? "--procs" : "--procs-per-host";
  std::stringstream procs_stream(procs);
  for (std::string item; std::getline(procs_stream, item, ',');) {
    auto n = parse_size(item);
    if (!n || *n > 1024) {
      return Error(ErrorCode::invalid_argument, fmt::format("{} \"{}\": give 1 to 1024", procs_option, item));
    }
    options.procs.push_back(static_cast<std::uint32_t>(*n));
  }
  auto sizes = parse_sizes(payloads);
  if (!sizes) return std::move(sizes).error();
  options.payloads = std::move(*sizes);
  if (options.inflight == 0 || options.fanout == 0 || options.seconds <= 0) {
    return Error(ErrorCode::invalid_argument, "--inflight, --fanout and --seconds must be positive");
  }
  return options;
}

// The numbers of one case: of one run (zmesh's window and raw's after it), or the
// medians of the runs.
struct Stats {
  double casts_per_s = 0, p50_us = 0, p99_us = 0;
  std::optional<double> cpu_us;  // per delivery; none when a process could not be read
  std::optional<double> wakes;   // thread runs per delivery; none without schedstat
  double raw_casts_per_s = 0, raw_p50_us = 0, raw_p99_us = 0;
  std::optional<double> raw_cpu_us;
  std::optional<double> raw_wakes;
  double ratio = 0;  // zmesh / raw casts per second, of the same run
};

Stats stats_of(const Measured& zmesh, const Measured& raw) {
  return Stats{zmesh.casts_per_s(), zmesh.p50_us, zmesh.p99_us, zmesh.cpu_us_per_delivery(),
               zmesh.wakes_per_delivery(), raw.casts_per_s(), raw.p50_us, raw.p99_us,
               raw.cpu_us_per_delivery(), raw.wakes_per_delivery(),
               raw.casts_per_s() > 0 ? zmesh.casts_per_s() / raw.casts_per_s() : 0};
}

struct Row {
  std::uint32_t procs;
  std::uint64_t payload;
  std::uint32_t inflight;
  std::vector<Stats> runs;  // at least one

  std::vector<double> all(double Stats::*field) const {
    std::vector<double> values;
    for (const auto& run : runs) values.push_back(run.*field);
    return values;
  }
  // The median of an optional field; none unless every run has it.
  std::optional<double> median_of(std::optional<double> Stats::*field) const {
    std::vector<double> values;
    for (const auto& run : runs) {
      if (!(run.*field)) return std::nullopt;
      values.push_back(*(run.*field));
    }
    return median(std::move(values));
  }
  Stats medians() const {
    return Stats{median(all(&Stats::casts_per_s)), median(all(&Stats::p50_us)), median(all(&Stats::p99_us)),
                 median_of(&Stats::cpu_us), median_of(&Stats::wakes), median(all(&Stats::raw_casts_per_s)),
                 median(all(&Stats::raw_p50_us)), median(all(&Stats::raw_p99_us)), median_of(&Stats::raw_cpu_us),
                 median_of(&Stats::raw_wakes), median(all(&Stats::ratio))};
  }
};

// The widths of the columns that carry a spread when there are several runs.
struct Widths {
  int rate, ratio;
  explicit Widths(std::uint32_t repeat) : rate(repeat > 1 ? 21 : 10), ratio(repeat > 1 ? 17 : 7) {}
};

void print_header(std::ostream& out, const Widths& w) {
  fmt::print(out,
             "{:>5} {:>8} {:>8} | {:>{}} {:>12} {:>8} {:>9} {:>9} {:>10} {:>9} | {:>{}} {:>8} {:>9} {:>14} {:>13} | "
             "{:>{}}\n",
             "procs", "payload", "inflight", "casts/s", w.rate, "deliveries/s", "GB/s", "p50 us", "p99 us",
             "cpu us/dlv", "wakes/dlv", "raw cast/s", w.rate, "raw GB/s", "raw p50", "raw cpu us/dlv", "raw wakes/dlv",
             "zm/raw", w.ratio);
}

void print_row(std::ostream& out, const Row& row, const Widths& w) {
  const Stats mid = row.medians();
  const double deliveries = mid.casts_per_s * row.procs;
  fmt::print(out,
             "{:>5} {:>8} {:>8} | {:>{}} {:>12.0f} {:>8.3f} {:>9.0f} {:>9.0f} {:>10} {:>9} | {:>{}} {:>8.3f} {:>9.0f} {:>14} "
             "{:>13} | {:>{}}\n",
             row.procs, size_text(row.payload), row.inflight, with_spread(row.all(&Stats::casts_per_s), 0), w.rate,
             deliveries, deliveries * row.payload / 1e9, mid.p50_us, mid.p99_us, cpu_text(mid.cpu_us),
             cpu_text(mid.wakes), with_spread(row.all(&Stats::raw_casts_per_s), 0), w.rate,
             mid.raw_casts_per_s * row.procs * row.payload / 1e9, mid.raw_p50_us, cpu_text(mid.raw_cpu_us),
             cpu_text(mid.raw_wakes), with_spread(row.all(&Stats::ratio), 2, "x"), w.ratio);
  out.flush();
}

// The fields of one run or of the medians, as JSON members.
std::string json_fields(const Stats& s) {
  return fmt::format(
      "\"zmesh_casts_per_s\":{:.1f},\"zmesh_p50_us\":{:.1f},\"zmesh_p99_us\":{:.1f},"
      "\"zmesh_cpu_us_per_delivery\":{},\"zmesh_wakes_per_delivery\":{},\"raw_casts_per_s\":{:.1f},"
      "\"raw_p50_us\":{:.1f},\"raw_p99_us\":{:.1f},\"raw_cpu_us_per_delivery\":{},\"raw_wakes_per_delivery\":{},"
      "\"ratio\":{:.3f}",
      s.casts_per_s, s.p50_us, s.p99_us, json_number(s.cpu_us), json_number(s.wakes), s.raw_casts_per_s,
      s.raw_p50_us, s.raw_p99_us, json_number(s.raw_cpu_us), json_number(s.raw_wakes), s.ratio);
}

// Each row: its case, the medians (top-level, as one run's numbers were before --repeat),
// and every run's numbers under "runs".
void write_json(const std::string& path, const std::vector<Row>& rows, const Options& options) {
  std::vector<std::string> hosts;
  for (const auto& host : options.hosts) hosts.push_back(fmt::format("\"{}\"", host.to_string()));
  const auto json = json_rows(
      rows,
      [](const Row& r) {
        return fmt::format("\"procs\":{},\"payload\":{},\"inflight\":{}", r.procs, r.payload, r.inflight);
      },
      json_fields);
  write_json_rows(path,
                  fmt::format("\"transport\":\"{}\",\"target\":\"{}\",\"repeat\":{},\"hosts\":[{}]",
                              to_string(options.transport), to_string(options.target), options.repeat,
                              fmt::join(hosts, ",")),
                  json);
}

// The processes a window's CPU time counts: this client, the procs and the raw receiver
// processes (inproc receivers are threads of this client). None across hosts: remote pids
// mean nothing to this machine's /proc.
CpuScope cpu_scope(const Options& options, const MeshBench& mesh, const RawBench& raw, CpuSource source) {
  if (!options.hosts.empty()) return {};
  std::set<pid_t> pids{::getpid()};  // in-process procs share it
  for (pid_t pid : mesh.proc_pids()) pids.insert(pid);
  pids.insert(raw.child_pids().begin(), raw.child_pids().end());
  return CpuScope{{pids.begin(), pids.end()}, source};
}

// Runs one case options.repeat times, zmesh's window then raw's each time, so that both see
// the same moments of a noisy machine.
Result<Row> run_case(MeshBench& mesh, RawBench& raw, const CpuScope& scope, Row row, const Options& options) {
  const std::string bytes(row.payload, 'x');
  const Frame payload = Frame::from_string(bytes);
  for (std::uint32_t run = 0; run < options.repeat; ++run) {
    auto zmesh_run =
        metered<Measured>(scope, [&] { return mesh.run(row.procs, payload, row.inflight, options.seconds); });
    if (!zmesh_run) return std::move(zmesh_run).error();
    auto raw_run = metered<Measured>(scope, [&] { return raw.run(row.procs, bytes, row.inflight, options.seconds); });
    if (!raw_run) return std::move(raw_run).error();
    row.runs.push_back(stats_of(*zmesh_run, *raw_run));
  }
  return row;
}

// What the table is about: the work, the target, the runs, and how CPU is measured.
void print_preamble(std::ostream& out, const Options& options, CpuSource source) {
  fmt::print(out, "zmesh bench cast over {}, fan-out {}: cast to all N procs through the comm tree, wait for all "
                  "N replies; raw = a ZeroMQ ROUTER fanning the same payload out to N receiver processes, each "
                  "replying 8 bytes\n",
             to_string(options.transport), options.fanout);
  if (!options.hosts.empty()) {
    std::vector<std::string> names;
    for (const auto& host : options.hosts) names.push_back(host.to_string());
    fmt::print(out, "across {} hosts ({}), procs and raw receivers started by their launchers; this client at {}\n",
               options.hosts.size(), fmt::join(names, ","), options.client_host);
  }
  fmt::print(out, "target {}: {}\n", to_string(options.target),
             options.target == Target::plain
                 ? "BenchPlain, a typed member handler (an actor written as in README.md; its turns run on the proc's I/O thread while brief)"
                 : "BenchTarget, a raw handler run on the proc's I/O thread (handlers_never_block)");
  if (options.repeat > 1) {
    fmt::print(out, "{} runs per case, zmesh then raw in each; medians, and [min-max] of the runs for casts/s and "
                    "zm/raw (each run's own ratio)\n",
               options.repeat);
  }
  if (!options.hosts.empty()) {
    fmt::print(out, "cpu: \"-\": the procs and raw receivers run on other hosts, whose CPU cannot be read from here\n");
  } else {
    print_cpu_source(out, source, cpu_legend);
  }
}

int bench_cast(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  bool help = false;
  Result<Options> parsed = Error(ErrorCode::internal, "");
  try {
    parsed = parse_options(args, out, help);
  } catch (const po::error& e) {
    err << "zmesh bench cast: " << e.what() << "\nhint: zmesh bench cast --help\n";
    return usage_error;
  }
  if (help) return 0;
  if (!parsed) {
    err << "zmesh bench cast: " << parsed.error().message << "\nhint: zmesh bench cast --help\n";
    return usage_error;
  }
  const Options& options = *parsed;
  auto configured = tool_config(options.key_file, options.insecure);
  if (!configured) {
    err << "zmesh bench cast: " << configured.error().message << '\n';
    return usage_error;
  }
  Config config = std::move(*configured);
  config.cast_fanout = options.fanout;  // every cast of this client uses the given fan-out
  if (options.transport == AllocTransport::tcp && config.curve.empty() && !config.insecure) {
    if (!options.hosts.empty()) {
      err << "zmesh bench cast: the launchers need their key: --key FILE (or ZMESH_KEY_FILE), or --insecure "
             "for launchers started with --insecure\n";
      return usage_error;
    }
    // Local procs over tcp: a pair for this run, as the process allocator would make.
    auto keys = generate_key_pair();
    if (!keys) {
      err << "zmesh bench cast: " << keys.error().describe() << '\n';
      return 1;
    }
    config.curve = std::move(*keys);
  }
  Runtime runtime(config);
  const CpuSource source = cpu_source();
  print_preamble(out, options, source);
  print_header(out, Widths(options.repeat));
  std::vector<Row> rows;
  for (auto requested : options.procs) {
    const std::uint32_t procs = options.total(requested);  // every one of them replies to each cast
    fmt::print(out, "-- starting {} procs and {} raw receivers...\n", procs, procs);
    out.flush();
    auto mesh = MeshBench::start(runtime, options, requested);
    if (!mesh) {
      err << "zmesh bench cast: starting the mesh: " << mesh.error().describe() << '\n';
      return 1;
    }
    auto raw = RawBench::start(runtime, options, requested);
    if (!raw) {
      err << "zmesh bench cast: starting raw receivers: " << raw.error().describe() << '\n';
      return 1;
    }
    const CpuScope scope = cpu_scope(options, **mesh, **raw, source);
    for (auto payload_size : options.payloads) {
      const auto cap = std::max<std::uint64_t>(1, max_bytes_in_flight / (payload_size * procs));
      for (std::uint32_t inflight : {1u, static_cast<std::uint32_t>(std::min<std::uint64_t>(options.inflight, cap))}) {
        if (inflight == 1 && !rows.empty() && rows.back().procs == procs && rows.back().payload == payload_size) break;
        auto row = run_case(**mesh, **raw, scope, Row{procs, payload_size, inflight, {}}, options);
        if (!row) {
          err << "zmesh bench cast: " << row.error().describe() << '\n';
          return 1;
        }
        print_row(out, *row, Widths(options.repeat));
        rows.push_back(std::move(*row));
      }
    }
  }
  if (!options.json.empty()) {
    write_json(options.json, rows, options);
    fmt::print(out, "rows written to {}\n", options.json);
  }
  return 0;
}

}  // namespace

int run_bench_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << "usage: zmesh bench cast|reduce|allreduce [OPTIONS]   (zmesh bench cast --help "
                                  "for the options)\n";
    return args.empty() ? usage_error : 0;
  }
  if (args[0] == "reduce" || args[0] == "allreduce") {
    return run_bench_reduce(args[0] == "reduce" ? ReduceBench::reduce : ReduceBench::allreduce, args.subspan(1), out,
                            err);
  }
  if (args[0] != "cast") {
    err << "zmesh bench: unknown benchmark '" << args[0] << "'; the ones there are: cast, reduce, allreduce\n";
    return usage_error;
  }
  return bench_cast(args.subspan(1), out, err);
}

int run_bench_peer_command(std::span<const std::string> args, std::ostream&, std::ostream& err) {
  if (args.size() != 2) {
    err << "zmesh bench-peer ADDRESS RANK (started by zmesh bench cast)\n";
    return usage_error;
  }
  auto config = Config::from_environment();  // ZMESH_KEY from zmesh bench cast, over tcp
  if (!config) {
    err << "zmesh bench-peer: " << config.error().describe() << '\n';
    return 1;
  }
  zmq::context_t context;
  auto dealer = raw_receiver_socket(context, args[0], static_cast<std::uint32_t>(std::stoul(args[1])), *config);
  if (!dealer) {
    err << "zmesh bench-peer: " << dealer.error().describe() << '\n';
    return 1;
  }
  run_raw_receiver(*dealer);
  return 0;
}

}  // namespace zmesh::tools
