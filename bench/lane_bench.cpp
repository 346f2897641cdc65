// lane_bench: round trips of 1 KiB between two OS processes over a shared-memory lane
// (ShmLane, both sides polling their doorbells) next to raw ZeroMQ PAIR over ipc doing the
// same in the same run; a last line gives the lane's round-trip time as a ratio of raw's.
// Each echo peer is a fork()ed child; it stops at an empty message (a record of no parts).

#include "zmesh/transport/internal/shm_lane.hpp"

#include <benchmark/benchmark.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

namespace {

using zmesh::internal::LaneDescriptor;
using zmesh::internal::ShmLane;

constexpr std::size_t payload_bytes = 1024;
// No round trip takes nearly this long; waiting longer means the peer is gone.
constexpr int peer_timeout_ms = 10000;

bool wait_for_bell(const ShmLane& lane) {
  pollfd entry{lane.doorbell_fd(), POLLIN, 0};
  int ready;
  while ((ready = ::poll(&entry, 1, peer_timeout_ms)) < 0 && errno == EINTR) {
  }
  return ready > 0;
}

// The next record of `lane` into `parts` (views until pop()); false when the lane broke or
// no record came in time.
bool receive(ShmLane& lane, std::vector<std::string_view>& parts) {
  for (;;) {
    const auto peeked = lane.peek(parts);
    if (!peeked) return false;
    if (*peeked) return true;
    if (lane.prepare_to_sleep() && !wait_for_bell(lane)) return false;
    lane.woke();
  }
}

bool send(ShmLane& lane, std::span<const std::string_view> parts) {
  for (;;) {
    const auto result = lane.write(parts);
    if (result == ShmLane::Write::written) return true;
    if (result != ShmLane::Write::full || !wait_for_bell(lane)) return false;
    lane.woke();
  }
}

// Reaps a forked peer (killing it if it is still there, as after a failed run).
void reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

int lane_echo(const LaneDescriptor& descriptor) {
  auto opened = ShmLane::open(descriptor);
  if (!opened) return 1;
  ShmLane& lane = **opened;
  std::vector<std::string_view> parts;
  while (receive(lane, parts)) {
    if (parts.empty()) return 0;
    if (!send(lane, parts)) return 2;
    lane.pop();
  }
  return 3;
}

void lane_round_trip(benchmark::State& state) {
  auto created = ShmLane::create("/dev/shm", std::size_t{1} << 16);
  if (!created) {
    state.SkipWithError(created.error().describe().c_str());
    return;
  }
  ShmLane& lane = **created;
  const LaneDescriptor descriptor = lane.descriptor();
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(lane_echo(descriptor));
  const std::string payload(payload_bytes, 'p');
  const std::string_view part = payload;
  std::vector<std::string_view> echo;
  for (auto _ : state) {
    if (!send(lane, {&part, 1}) || !receive(lane, echo) || echo.size() != 1 ||
        echo[0].size() != payload_bytes) {
      state.SkipWithError("the lane's echo peer did not answer");
      break;
    }
    lane.pop();
  }
  (void)send(lane, {});
  reap(pid);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload_bytes * 2));
}

int zmq_echo(const std::string& address) {
  zmq::context_t context;  // the child's own: a context does not survive fork()
  zmq::socket_t socket(context, zmq::socket_type::pair);
  socket.set(zmq::sockopt::rcvtimeo, peer_timeout_ms);
  socket.connect(address);
  for (;;) {
    zmq::message_t message;
    if (!socket.recv(message)) return 3;
    if (message.size() == 0) return 0;
    socket.send(message, zmq::send_flags::none);
  }
}

void zmq_round_trip(benchmark::State& state) {
  const std::string address = "ipc:///tmp/zmesh-lane-bench-" + std::to_string(::getpid());
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(zmq_echo(address));
  {
    zmq::context_t context;
    zmq::socket_t socket(context, zmq::socket_type::pair);
    socket.set(zmq::sockopt::rcvtimeo, peer_timeout_ms);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind(address);
    const std::string payload(payload_bytes, 'p');
    for (auto _ : state) {
      socket.send(zmq::buffer(payload), zmq::send_flags::none);
      zmq::message_t echo;
      if (!socket.recv(echo) || echo.size() != payload_bytes) {
        state.SkipWithError("the ZeroMQ echo peer did not answer");
        break;
      }
    }
    socket.send(zmq::message_t(), zmq::send_flags::dontwait);
  }
  reap(pid);
  // ZeroMQ leaves the ipc socket file behind here: nothing else removes it.
  const std::string path = address.substr(std::string_view("ipc://").size());
  ::unlink(path.c_str());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload_bytes * 2));
}

BENCHMARK(lane_round_trip)->Name("roundtrip/lane/1KiB")->UseRealTime();
BENCHMARK(zmq_round_trip)->Name("roundtrip/raw_zmq_pair_ipc/1KiB")->UseRealTime();

// The console output, plus the lane's round-trip time over raw ZeroMQ's at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Iteration && !run.error_occurred) {
        real_time_[run.run_name.function_name] = run.GetAdjustedRealTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void print_summary() const {
    const auto lane = real_time_.find("roundtrip/lane/1KiB");
    const auto raw = real_time_.find("roundtrip/raw_zmq_pair_ipc/1KiB");
    if (lane == real_time_.end() || raw == real_time_.end()) {
      std::printf("lane/raw round trip: only one side ran\n");
      return;
    }
    std::printf("round trip 1 KiB: lane %.2f us, raw ZeroMQ PAIR ipc %.2f us: lane takes %.2fx "
                "raw's time\n",
                lane->second / 1000, raw->second / 1000, lane->second / raw->second);
  }

 private:
  std::map<std::string, double> real_time_;  // ns per round trip, by benchmark
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
