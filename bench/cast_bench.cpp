// Cast cost as meshes grow: in-process meshes (local allocator) of 1, 10, 100 and 1000 procs,
// one 1 KiB cast to all and every reply awaited, next to raw ZeroMQ doing the same work in
// the same run (one inproc ROUTER fanning the payload out to N DEALERs served by one
// thread, each answering 8 bytes). Every receiver, zmesh and raw, reads every byte of the
// payload. Prints zmesh / raw per size after the table.
// allocs/cast: operator new calls per cast in the whole process (client, procs, receivers),
// counted by the replacement below; libzmq's message buffers come from malloc and are not
// counted, on either side.
// Process meshes over ipc/tcp and larger payloads: `zmesh bench cast`.
#include "zmesh/alloc/local_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/tools/bench_actors.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <zmq.hpp>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <thread>

// Counts every operator new of this binary (the array, nothrow and sized forms of the
// library forward to these). Relaxed: only the total is read, after the work it counts.
namespace {
std::atomic<std::uint64_t> heap_allocations{0};

void* counted_alloc(std::size_t size, std::size_t alignment) {
  heap_allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* block = alignment > alignof(std::max_align_t)
                    ? std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment)
                    : std::malloc(size);
  if (!block) throw std::bad_alloc();
  return block;
}
}  // namespace

void* operator new(std::size_t size) { return counted_alloc(size, alignof(std::max_align_t)); }
void* operator new(std::size_t size, std::align_val_t alignment) {
  return counted_alloc(size, static_cast<std::size_t>(alignment));
}
void operator delete(void* block) noexcept { std::free(block); }
void operator delete(void* block, std::size_t) noexcept { std::free(block); }
void operator delete(void* block, std::align_val_t) noexcept { std::free(block); }
void operator delete(void* block, std::size_t, std::align_val_t) noexcept { std::free(block); }

namespace {

using namespace std::chrono_literals;
using namespace zmesh;

constexpr std::size_t payload_bytes = 1024;

// Results by (procs, "zmesh"|"raw") -> casts per second, for the ratio lines.
std::map<std::pair<long, std::string>, double>& results() {
  static std::map<std::pair<long, std::string>, double> table;
  return table;
}

// Reports the allocations since `before` per iteration (one cast) as allocs/cast.
void count_allocations(benchmark::State& state, std::uint64_t before) {
  const auto allocations = heap_allocations.load(std::memory_order_relaxed) - before;
  state.counters["allocs/cast"] = benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}

void zmesh_cast(benchmark::State& state) {
  const auto procs = static_cast<std::uint32_t>(state.range(0));
  Runtime runtime(Config{});
  AllocSpec spec;
  spec.dimensions = {{"proc", procs}};
  auto mesh = ProcMesh::allocate(runtime, LocalAllocator::allocate(runtime, spec, tools::tool_registry()).value(),
                                 deadline_in(60s))
                  .value();
  auto targets = mesh->spawn<tools::BenchTarget>("bench", {}, deadline_in(60s)).value();
  auto mailbox = mesh->client().attach("bench-client").value();
  auto [reply_to, replies] = mailbox.open_port<tools::BenchReply>();
  const Frame payload = Frame::from_string(std::string(payload_bytes, 'x'));
  const std::string type(message_name<tools::BenchCast>());
  std::uint64_t seq = 0;
  const auto allocations_before = heap_allocations.load(std::memory_order_relaxed);
  for (auto _ : state) {
    ++seq;
    targets.cast_frames(Selection::all(), type, encode_frames(tools::BenchCast{seq, reply_to, Bytes(payload)}),
                        targets.room_deadline()).value();
    for (std::uint32_t i = 0; i < procs; ++i) benchmark::DoNotOptimize(replies.recv(deadline_in(30s)).value());
  }
  count_allocations(state, allocations_before);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * procs * payload_bytes);
  state.counters["deliveries/s"] = benchmark::Counter(state.iterations() * procs, benchmark::Counter::kIsRate);
}

void raw_cast(benchmark::State& state) {
  const auto procs = static_cast<std::uint32_t>(state.range(0));
  zmq::context_t context;
  context.set(zmq::ctxopt::max_sockets, 65536);
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  const std::string address = fmt::format("inproc://cast-bench-{}", procs);
  router.bind(address);
  std::atomic<bool> stop{false};
  std::thread receivers([&] {
    std::vector<zmq::socket_t> dealers;
    std::vector<zmq::pollitem_t> items;
    for (std::uint32_t i = 0; i < procs; ++i) {
      dealers.emplace_back(context, zmq::socket_type::dealer);
      dealers.back().set(zmq::sockopt::linger, 0);
      dealers.back().set(zmq::sockopt::routing_id, fmt::format("r{}", i));
      dealers.back().connect(address);
      dealers.back().send(zmq::str_buffer("hello"), zmq::send_flags::none);
    }
    for (auto& dealer : dealers) items.push_back({dealer.handle(), 0, ZMQ_POLLIN, 0});
    while (!stop) {
      zmq::poll(items, 100ms);
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (!(items[i].revents & ZMQ_POLLIN)) continue;
        zmq::message_t seq, body;
        while (dealers[i].recv(seq, zmq::recv_flags::dontwait)) {
          (void)dealers[i].recv(body);
          tools::read_every_byte(body.data(), body.size());  // as the zmesh targets do
          dealers[i].send(seq, zmq::send_flags::none);
        }
      }
    }
  });
  std::vector<std::string> ids;
  for (std::uint32_t i = 0; i < procs; ++i) {
    zmq::message_t id, hello;
    (void)router.recv(id);
    (void)router.recv(hello);
    ids.push_back(id.to_string());
  }
  zmq::message_t payload(std::string(payload_bytes, 'x'));
  std::uint64_t seq = 0;
  const auto allocations_before = heap_allocations.load(std::memory_order_relaxed);
  for (auto _ : state) {
    ++seq;
    for (const auto& id : ids) {
      zmq::message_t copy;
      copy.copy(payload);
      router.send(zmq::buffer(id), zmq::send_flags::sndmore);
      router.send(zmq::buffer(&seq, sizeof seq), zmq::send_flags::sndmore);
      router.send(copy, zmq::send_flags::none);
    }
    for (std::uint32_t i = 0; i < procs; ++i) {
      zmq::message_t id, reply;
      (void)router.recv(id);
      (void)router.recv(reply);
      benchmark::DoNotOptimize(reply.data());
    }
  }
  count_allocations(state, allocations_before);
  stop = true;
  receivers.join();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * procs * payload_bytes);
  state.counters["deliveries/s"] = benchmark::Counter(state.iterations() * procs, benchmark::Counter::kIsRate);
}

// Collects casts/s per (procs, kind) to print the ratios after the usual table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.run_type != Run::RT_Iteration && run.aggregate_name != "median") continue;
      const auto name = run.benchmark_name();
      const std::string kind = name.find("zmesh") != std::string::npos ? "zmesh" : "raw";
      const auto slash = name.find('/');
      const long procs = std::stol(name.substr(slash + 1));
      results()[{procs, kind}] = run.counters.at("items_per_second");
    }
  }
};

}  // namespace

BENCHMARK(zmesh_cast)->Arg(1)->Arg(10)->Arg(100)->Arg(1000)->UseRealTime()->MinTime(0.5);
BENCHMARK(raw_cast)->Arg(1)->Arg(10)->Arg(100)->Arg(1000)->UseRealTime()->MinTime(0.5);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  fmt::print("\n1 KiB cast to all, all replies awaited (in-process procs); casts/s\n");
  fmt::print("{:>6} {:>12} {:>12} {:>9}\n", "procs", "zmesh", "raw", "zm/raw");
  for (long procs : {1, 10, 100, 1000}) {
    const double zmesh = results()[{procs, "zmesh"}], raw = results()[{procs, "raw"}];
    if (zmesh > 0 && raw > 0) fmt::print("{:>6} {:>12.0f} {:>12.0f} {:>8.2f}x\n", procs, zmesh, raw, zmesh / raw);
  }
  return 0;
}
