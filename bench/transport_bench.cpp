// transport_bench: zmesh actor-to-actor throughput and round trips between two OS processes,
// each next to raw ZeroMQ (DEALER -> ROUTER) doing the same work in the same run, over ipc and
// tcp, 64 B to 1 MiB. The peer is this binary re-run with --peer=zmesh|raw; a summary follows.

#include "zmesh/core/actor.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/proc.hpp"
#include "zmesh/transport/node.hpp"
#include "zmesh/transport/runtime.hpp"
#include "zmesh/transport/security.hpp"

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <zmq.hpp>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using zmesh::ActorId;
using zmesh::Context;
using zmesh::PortRef;
using zmesh::ProcId;
using zmesh::WorldId;

// No single benchmark iteration takes nearly this long; waiting longer means the peer is gone.
constexpr auto reply_timeout = 30s;
constexpr auto peer_start_timeout = 20s;
constexpr auto peer_exit_timeout = 5s;

enum class Transport { ipc, tcp };

std::string_view to_string(Transport transport) {
  return transport == Transport::ipc ? "ipc" : "tcp";
}

std::string size_text(std::size_t bytes) {
  if (bytes >= (1u << 20)) return fmt::format("{}MiB", bytes >> 20);
  if (bytes >= (1u << 10)) return fmt::format("{}KiB", bytes >> 10);
  return fmt::format("{}B", bytes);
}

// The shape of one benchmark iteration for one payload size. Sizes are chosen so that an
// iteration takes milliseconds (pipeline start and drain are a small part of it) and no more
// than a few MiB are in flight (the zmesh endpoint queues without bound).
struct Shape {
  std::uint64_t count = 0;      // one-way: messages per burst; round trip: rally length
  std::uint64_t window = 0;     // one-way: at most this many sent and not yet acknowledged
  std::uint64_t ack_every = 0;  // one-way: the sink acknowledges every k-th and the last
};

Shape oneway_shape(std::size_t size) {
  const std::uint64_t window = std::clamp<std::uint64_t>((4u << 20) / size, 4, 1000);
  return {std::clamp<std::uint64_t>((32u << 20) / size, 32, 4096), window,
          std::max<std::uint64_t>(1, window / 4)};
}

Shape round_trip_shape(std::size_t size) {
  return {std::clamp<std::uint64_t>((16u << 20) / size, 16, 100), 1, 1};
}

// ---------------------------------------------------------------------------------------
// zmesh actors: Source and Pinger run next to the benchmark; Sink and Echo in the peer.

struct Ack {
  ZMESH_MESSAGE("bench.Ack");
  std::uint64_t seq = 0;
  MSGPACK_DEFINE(seq);
};

// One message of a one-way burst; the sink acknowledges it to its sender when `ack` is set.
struct Blob {
  ZMESH_MESSAGE("bench.Blob");
  std::uint64_t seq = 0;
  bool ack = false;
  std::string bytes;
  MSGPACK_DEFINE(seq, ack, bytes);
};

// The ping-pong ball; the echo actor returns it to its sender as it came.
struct Ball {
  ZMESH_MESSAGE("bench.Ball");
  std::uint64_t seq = 0;
  std::string bytes;
  MSGPACK_DEFINE(seq, bytes);
};

struct Done {
  ZMESH_MESSAGE("bench.Done");
  std::uint64_t count = 0;
  MSGPACK_DEFINE(count);
};

// Asks the Source to send `count` Blobs of `size` bytes to `sink`, then to report on `reply_to`.
struct Burst {
  ZMESH_MESSAGE("bench.Burst");
  ActorId sink;
  std::uint64_t count = 0;
  std::uint64_t size = 0;
  std::uint64_t window = 0;
  std::uint64_t ack_every = 0;
  PortRef<Done> reply_to;
  MSGPACK_DEFINE(sink, count, size, window, ack_every, reply_to);
};

// Asks the Pinger for `count` round trips of a `size`-byte Ball with `echo`.
struct Rally {
  ZMESH_MESSAGE("bench.Rally");
  ActorId echo;
  std::uint64_t count = 0;
  std::uint64_t size = 0;
  PortRef<Done> reply_to;
  MSGPACK_DEFINE(echo, count, size, reply_to);
};

// Sends a burst with at most `window` Blobs unacknowledged, topping up on every Ack.
class Source : public zmesh::Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit Source(const Params&) {
    handlers_never_block();
    on<Burst>(&Source::start);
    on<Ack>(&Source::acked);
  }

 private:
  void start(Context& ctx, const Burst& burst) {
    burst_ = burst;
    sent_ = acked_ = 0;
    if (blob_.bytes.size() != burst.size) blob_.bytes.assign(burst.size, 'x');
    top_up(ctx);
  }
  void acked(Context& ctx, const Ack& ack) {
    acked_ = ack.seq;
    if (acked_ == burst_.count) {
      ctx.send(burst_.reply_to, Done{acked_});
      return;
    }
    top_up(ctx);
  }
  void top_up(Context& ctx) {
    while (sent_ < burst_.count && sent_ - acked_ < burst_.window) {
      blob_.seq = ++sent_;
      blob_.ack = sent_ % burst_.ack_every == 0 || sent_ == burst_.count;
      ctx.send(burst_.sink, blob_);
    }
  }

  Burst burst_;
  Blob blob_;
  std::uint64_t sent_ = 0;
  std::uint64_t acked_ = 0;
};

// Plays a rally: one Ball in flight, the next sent when the previous came back.
class Pinger : public zmesh::Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit Pinger(const Params&) {
    handlers_never_block();
    on<Rally>(&Pinger::start);
    on<Ball>(&Pinger::returned);
  }

 private:
  void start(Context& ctx, const Rally& rally) {
    rally_ = rally;
    if (ball_.bytes.size() != rally.size) ball_.bytes.assign(rally.size, 'x');
    ball_.seq = 1;
    ctx.send(rally_.echo, ball_);
  }
  void returned(Context& ctx, const Ball& ball) {
    if (ball.seq == rally_.count) {
      ctx.send(rally_.reply_to, Done{ball.seq});
      return;
    }
    ball_.seq = ball.seq + 1;
    ctx.send(rally_.echo, ball_);
  }

  Rally rally_;
  Ball ball_;
};

class Sink : public zmesh::Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit Sink(const Params&) {
    handlers_never_block();
    on<Blob>(&Sink::received);
  }

 private:
  void received(Context& ctx, const Blob& blob) {
    if (blob.ack) ctx.send(ctx.sender(), Ack{blob.seq});
  }
};

class Echo : public zmesh::Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit Echo(const Params&) {
    handlers_never_block();
    on<Ball>(&Echo::received);
  }

 private:
  void received(Context& ctx, const Ball& ball) { ctx.send(ctx.sender(), ball); }
};

// ---------------------------------------------------------------------------------------
// raw ZeroMQ: the benchmark thread drives a DEALER; the peer answers on a ROUTER. A message
// starts with a kind byte and a sequence number; the rest is filler up to its size.

constexpr char raw_no_ack = 'n';
constexpr char raw_ack = 'a';
constexpr char raw_echo = 'e';
constexpr char raw_acked = 'k';
constexpr std::size_t raw_header_size = 1 + sizeof(std::uint64_t);

void put_raw_header(zmq::message_t& message, char kind, std::uint64_t seq) {
  message.data<char>()[0] = kind;
  std::memcpy(message.data<char>() + 1, &seq, sizeof seq);
}

std::uint64_t raw_seq(const zmq::message_t& message) {
  std::uint64_t seq = 0;
  if (message.size() >= raw_header_size) std::memcpy(&seq, message.data<char>() + 1, sizeof seq);
  return seq;
}

// ---------------------------------------------------------------------------------------
// the peer process

// Dies with the benchmark even if the benchmark is killed (stdin EOF covers a clean exit).
void die_with_parent(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) std::_Exit(1);
}

void announce(const std::string& address) {
  const std::string line = "ready " + address + "\n";
  [[maybe_unused]] const auto written = ::write(STDOUT_FILENO, line.data(), line.size());
}

// Blocks until the benchmark closes our stdin: its way of saying "stop".
void wait_for_stdin_eof() {
  char byte;
  while (true) {
    const auto count = ::read(STDIN_FILENO, &byte, 1);
    if (count == 0 || (count < 0 && errno != EINTR)) return;
  }
}

// transport_bench --peer=zmesh <parent pid> <world> <bind address> <client address>
int run_zmesh_peer(pid_t parent, const std::string& world, const std::string& bind_address,
                   const std::string& client_address) {
  die_with_parent(parent);
  auto config = zmesh::Config::from_environment();
  if (!config) {
    std::fprintf(stderr, "zmesh peer: %s\n", config.error().describe().c_str());
    return 2;
  }
  zmesh::Runtime runtime(*config);
  auto node = zmesh::Node::start(
      runtime, zmesh::ProcOptions{ProcId{WorldId{world}, 1}, nullptr, *config, nullptr, nullptr},
      bind_address);
  if (!node) {
    std::fprintf(stderr, "zmesh peer: %s\n", node.error().describe().c_str());
    return 1;
  }
  auto& proc = (*node)->proc();
  auto sink = proc.spawn<Sink>("sink", Sink::Params{});
  auto echo = proc.spawn<Echo>("echo", Echo::Params{});
  auto routed = (*node)->endpoint().add_route(ProcId{WorldId{world}, 0}, client_address);
  if (!sink || !echo || !routed) {
    const zmesh::Error& error = !sink ? sink.error() : !echo ? echo.error() : routed.error();
    std::fprintf(stderr, "zmesh peer: %s\n", error.describe().c_str());
    return 1;
  }
  announce((*node)->address());
  wait_for_stdin_eof();
  return 0;
}

// transport_bench --peer=raw <parent pid> <bind address>
int run_raw_peer(pid_t parent, const std::string& bind_address) {
  die_with_parent(parent);
  zmq::context_t context;
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 1000);
  // Over tcp the twin pays for CURVE as zmesh does: the same work.
  const auto config = zmesh::Config::from_environment();
  if (!config || !zmesh::secure_socket(router, bind_address, *config, zmesh::SocketRole::server)) {
    std::fprintf(stderr, "raw peer: no usable key for %s\n", bind_address.c_str());
    return 2;
  }
  router.bind(bind_address);
  announce(router.get(zmq::sockopt::last_endpoint));

  zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, STDIN_FILENO, ZMQ_POLLIN, 0}};
  zmq::message_t identity;
  zmq::message_t body;
  while (true) {
    zmq::poll(items, 2, std::chrono::milliseconds{-1});
    if (items[1].revents != 0) return 0;  // stdin: EOF is the only thing that comes
    // Drain what is queued before polling again, as any efficient ZeroMQ server does.
    while (router.recv(identity, zmq::recv_flags::dontwait)) {
      (void)router.recv(body);
      const char kind = body.size() >= raw_header_size ? body.data<char>()[0] : '?';
      if (kind == raw_ack) {
        zmq::message_t ack(raw_header_size);
        put_raw_header(ack, raw_acked, raw_seq(body));
        router.send(identity, zmq::send_flags::sndmore);
        router.send(ack, zmq::send_flags::none);
      } else if (kind == raw_echo) {
        router.send(identity, zmq::send_flags::sndmore);
        router.send(body, zmq::send_flags::none);
      }
    }
  }
}

int run_peer(int argc, char** argv) {
  const std::string_view role = std::string_view(argv[1]).substr(std::strlen("--peer="));
  try {
    if (role == "zmesh" && argc == 6) {
      return run_zmesh_peer(static_cast<pid_t>(std::stol(argv[2])), argv[3], argv[4], argv[5]);
    }
    if (role == "raw" && argc == 4) {
      return run_raw_peer(static_cast<pid_t>(std::stol(argv[2])), argv[3]);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transport_bench --peer=%s: %s\n", std::string(role).c_str(), e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: transport_bench --peer=zmesh <parent pid> <world> <bind> <client address>\n"
               "       transport_bench --peer=raw <parent pid> <bind>\n"
               "(started by transport_bench itself; run it without --peer to benchmark)\n");
  return 2;
}

// ---------------------------------------------------------------------------------------
// the benchmark side

// This binary re-executed as a peer; stop() (or the destructor) closes its stdin, waits for
// it to exit and kills it if it does not, so that no peer outlives the benchmark.
class PeerProcess {
 public:
  // Starts the peer and returns once it printed "ready <address>". Throws on failure.
  explicit PeerProcess(std::vector<std::string> args) {
    int stdin_pipe[2];
    int stdout_pipe[2];
    // Close-on-exec, so that a later peer does not inherit this one's stdin and keep it open.
    if (::pipe2(stdin_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    if (::pipe2(stdout_pipe, O_CLOEXEC) != 0) {
      ::close(stdin_pipe[0]);
      ::close(stdin_pipe[1]);
      throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdin_pipe[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, stdout_pipe[1], STDOUT_FILENO);
    args.insert(args.begin(), "transport_bench");
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string program = own_path();
    const int spawned =
        ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(stdin_pipe[0]);
    ::close(stdout_pipe[1]);
    stdin_fd_ = stdin_pipe[1];
    if (spawned != 0) {
      pid_ = -1;
      ::close(stdout_pipe[0]);
      throw std::runtime_error(
          fmt::format("cannot start the peer process: {}", std::strerror(spawned)));
    }
    address_ = read_ready_line(stdout_pipe[0]);
    ::close(stdout_pipe[0]);
    if (address_.empty()) {
      stop();
      throw std::runtime_error(fmt::format("peer process `{}` did not report ready within {} s",
                                           fmt::join(args, " "), peer_start_timeout.count()));
    }
  }
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  ~PeerProcess() { stop(); }

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }

  void stop() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
    if (pid_ < 0) return;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + peer_exit_timeout;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "transport_bench: peer %d ignored stdin EOF; killing it\n", pid_);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        status = 0;  // reported above
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    if (status != 0) {
      std::fprintf(stderr, "transport_bench: peer %d ended with wait status %d\n", pid_, status);
    }
    pid_ = -1;
  }

 private:
  // The executable's real path rather than /proc/self/exe, so that ps and top show the peer
  // under this binary's name.
  static std::string own_path() {
    char path[4096];
    const auto length = ::readlink("/proc/self/exe", path, sizeof path - 1);
    return length > 0 ? std::string(path, static_cast<std::size_t>(length)) : "/proc/self/exe";
  }

  static std::string read_ready_line(int fd) {
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + peer_start_timeout;
    while (text.find('\n') == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd item{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&item, 1, static_cast<int>(left.count())) <= 0) return {};
      char buffer[256];
      const auto count = ::read(fd, buffer, sizeof buffer);
      if (count <= 0) return {};
      text.append(buffer, static_cast<std::size_t>(count));
    }
    text.resize(text.find('\n'));
    return text.starts_with("ready ") ? text.substr(6) : std::string{};
  }

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::string address_;
};

// CPU time used by this process and the peer, all threads: on a shared machine the CPU a
// message costs is steadier than its wall-clock rate, and it is what a busy node pays.
class CpuMeter {
 public:
  explicit CpuMeter(pid_t peer) : start_(total_seconds(peer)), peer_(peer) {}
  double elapsed_seconds() const { return total_seconds(peer_) - start_; }

 private:
  static double seconds_of(clockid_t clock) {
    timespec time{};
    if (::clock_gettime(clock, &time) != 0) return 0;
    return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_nsec) * 1e-9;
  }
  static double total_seconds(pid_t peer) {
    clockid_t peer_clock;
    const double peer_seconds =
        ::clock_getcpuclockid(peer, &peer_clock) == 0 ? seconds_of(peer_clock) : 0;
    return seconds_of(CLOCK_PROCESS_CPUTIME_ID) + peer_seconds;
  }

  double start_;
  pid_t peer_;
};

// A local proc with the Source and Pinger actors, talking to a zmesh peer process.
class ZmeshPair {
 public:
  // Binds the local proc at `local_address` and the peer's at `peer_address`.
  ZmeshPair(const zmesh::Config& config, Transport transport, const std::string& local_address,
            const std::string& peer_address)
      : world_(fmt::format("bench-{}", to_string(transport))), runtime_(config) {
    const ProcId local{WorldId{world_}, 0};
    const ProcId remote{WorldId{world_}, 1};
    auto node = zmesh::Node::start(
        runtime_, zmesh::ProcOptions{local, nullptr, config, nullptr, nullptr}, local_address);
    if (!node) throw std::runtime_error(node.error().describe());
    node_ = std::move(*node);
    auto source = node_->proc().spawn<Source>("source", Source::Params{});
    if (!source) throw std::runtime_error(source.error().describe());
    auto pinger = node_->proc().spawn<Pinger>("pinger", Pinger::Params{});
    if (!pinger) throw std::runtime_error(pinger.error().describe());
    auto mailbox = node_->proc().attach("bench");
    if (!mailbox) throw std::runtime_error(mailbox.error().describe());
    source_ = *source;
    pinger_ = *pinger;
    mailbox_.emplace(std::move(*mailbox));
    peer_.emplace(std::vector<std::string>{"--peer=zmesh", std::to_string(::getpid()), world_,
                                           peer_address, node_->address()});
    if (auto routed = node_->endpoint().add_route(remote, peer_->address()); !routed) {
      throw std::runtime_error(routed.error().describe());
    }
    sink_ = ActorId{remote, "sink", 0};
    echo_ = ActorId{remote, "echo", 0};
    // Connects both directions (data out, Acks back) before anything is timed.
    if (!run_rally(10, 64) || !run_burst(oneway_shape(64), 64)) {
      throw std::runtime_error("warm-up with the zmesh peer timed out");
    }
  }
  ZmeshPair(const ZmeshPair&) = delete;
  ZmeshPair& operator=(const ZmeshPair&) = delete;
  // The local proc goes first, while the peer can still acknowledge what it sent.
  ~ZmeshPair() {
    mailbox_.reset();
    node_.reset();
    peer_.reset();
  }

  bool run_burst(const Shape& shape, std::size_t size) {
    auto [reply_to, done] = mailbox_->open_port<Done>();
    mailbox_->send(source_,
                   Burst{sink_, shape.count, size, shape.window, shape.ack_every, reply_to});
    return done.recv(zmesh::deadline_in(reply_timeout)).ok();
  }
  bool run_rally(std::uint64_t count, std::size_t size) {
    auto [reply_to, done] = mailbox_->open_port<Done>();
    mailbox_->send(pinger_, Rally{echo_, count, size, reply_to});
    return done.recv(zmesh::deadline_in(reply_timeout)).ok();
  }

  zmesh::Mailbox& mailbox() { return *mailbox_; }
  const ActorId& source() const { return source_; }
  const ActorId& pinger() const { return pinger_; }
  const ActorId& sink() const { return sink_; }
  const ActorId& echo() const { return echo_; }
  pid_t peer_pid() const { return peer_->pid(); }

 private:
  std::string world_;
  zmesh::Runtime runtime_;
  std::unique_ptr<zmesh::Node> node_;
  std::optional<zmesh::Mailbox> mailbox_;
  std::optional<PeerProcess> peer_;
  ActorId source_, pinger_, sink_, echo_;
};

// A DEALER on the benchmark thread, connected to a raw ROUTER peer process.
class RawPair {
 public:
  // The peer binds its ROUTER at `peer_address`.
  RawPair(const std::string& peer_address, const zmesh::Config& config)
      : dealer_(context_, zmq::socket_type::dealer) {
    peer_.emplace(std::vector<std::string>{"--peer=raw", std::to_string(::getpid()), peer_address});
    dealer_.set(zmq::sockopt::linger, 1000);
    if (auto secured = zmesh::secure_socket(dealer_, peer_address, config, zmesh::SocketRole::client);
        !secured) {
      throw std::runtime_error(secured.error().describe());
    }
    dealer_.set(zmq::sockopt::rcvtimeo,
                static_cast<int>(std::chrono::milliseconds(reply_timeout).count()));
    dealer_.connect(peer_->address());
    if (!rally(10, 64)) throw std::runtime_error("warm-up with the raw peer timed out");
  }
  ~RawPair() {
    dealer_.close();
    peer_.reset();
  }

  // Sends `shape.count` messages with the same window and ack scheme as Source.
  bool burst(const Shape& shape, const std::string& filler) {
    std::uint64_t sent = 0;
    std::uint64_t acked = 0;
    zmq::message_t ack;
    while (acked < shape.count) {
      while (sent < shape.count && sent - acked < shape.window) {
        ++sent;
        const bool want_ack = sent % shape.ack_every == 0 || sent == shape.count;
        zmq::message_t message(filler.data(), filler.size());  // one copy, as an encode is
        put_raw_header(message, want_ack ? raw_ack : raw_no_ack, sent);
        dealer_.send(message, zmq::send_flags::none);
      }
      if (!dealer_.recv(ack)) return false;
      acked = raw_seq(ack);
    }
    return true;
  }
  bool rally(std::uint64_t count, std::size_t size) {
    const std::string filler(size, 'x');
    zmq::message_t ball;
    for (std::uint64_t seq = 1; seq <= count; ++seq) {
      zmq::message_t message(filler.data(), filler.size());
      put_raw_header(message, raw_echo, seq);
      dealer_.send(message, zmq::send_flags::none);
      if (!dealer_.recv(ball) || raw_seq(ball) != seq) return false;
    }
    return true;
  }
  pid_t peer_pid() const { return peer_->pid(); }

 private:
  zmq::context_t context_;
  zmq::socket_t dealer_;
  std::optional<PeerProcess> peer_;
};

// The pairs, started on first use and kept for the whole run (only the ones the filter selects
// are ever started); shutdown() stops every peer process and removes the ipc socket files,
// which libzmq 4.3.4 leaves behind.
class Pairs {
 public:
  explicit Pairs(zmesh::Config config) : config_(std::move(config)) {}
  ~Pairs() { shutdown(); }

  ZmeshPair& zmesh(Transport transport) {
    auto& slot = zmesh_[transport];
    if (!slot) {
      slot = std::make_unique<ZmeshPair>(config_, transport, address(transport, "zmesh-local"),
                                         address(transport, "zmesh-peer"));
    }
    return *slot;
  }
  RawPair& raw(Transport transport) {
    auto& slot = raw_[transport];
    if (!slot) slot = std::make_unique<RawPair>(address(transport, "raw-peer"), config_);
    return *slot;
  }
  void shutdown() {
    zmesh_.clear();
    raw_.clear();
    for (const std::string& path : ipc_paths_) ::unlink(path.c_str());
    ipc_paths_.clear();
  }

 private:
  // A fresh ipc path, or any free tcp port on the loopback interface.
  std::string address(Transport transport, std::string_view role) {
    if (transport == Transport::tcp) return "tcp://127.0.0.1:0";
    ipc_paths_.push_back(fmt::format("/tmp/zmesh-bench-{}-{}.sock", ::getpid(), role));
    return "ipc://" + ipc_paths_.back();
  }

  zmesh::Config config_;
  std::vector<std::string> ipc_paths_;
  std::map<Transport, std::unique_ptr<ZmeshPair>> zmesh_;
  std::map<Transport, std::unique_ptr<RawPair>> raw_;
};

// "cpu_us": CPU microseconds per message (one-way) or round trip, both processes together.
void set_cpu_counter(benchmark::State& state, const Shape& shape, const CpuMeter& cpu) {
  const double items = static_cast<double>(state.iterations() * shape.count);
  if (items > 0) state.counters["cpu_us"] = cpu.elapsed_seconds() * 1e6 / items;
}

void set_oneway_counters(benchmark::State& state, const Shape& shape, std::size_t size,
                         const CpuMeter& cpu) {
  const auto messages = static_cast<std::int64_t>(state.iterations() * shape.count);
  state.SetItemsProcessed(messages);
  state.SetBytesProcessed(messages * static_cast<std::int64_t>(size));
  set_cpu_counter(state, shape, cpu);
}

void set_round_trip_counters(benchmark::State& state, const Shape& shape, const CpuMeter& cpu) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * shape.count));
  set_cpu_counter(state, shape, cpu);
  // Seconds per round trip (the console shows e.g. "rtt=48.2u" for 48.2 µs).
  state.counters["rtt"] = benchmark::Counter(
      static_cast<double>(shape.count),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void zmesh_oneway(benchmark::State& state, Pairs& pairs, Transport transport, std::size_t size) {
  ZmeshPair* pair = nullptr;
  try {
    pair = &pairs.zmesh(transport);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const Shape shape = oneway_shape(size);
  auto [reply_to, done] = pair->mailbox().open_port<Done>();
  const Burst burst{pair->sink(), shape.count, size, shape.window, shape.ack_every, reply_to};
  const CpuMeter cpu(pair->peer_pid());
  for (auto _ : state) {
    pair->mailbox().send(pair->source(), burst);
    auto finished = done.recv(zmesh::deadline_in(reply_timeout));
    if (!finished) {
      state.SkipWithError(finished.error().describe().c_str());
      break;
    }
    benchmark::DoNotOptimize(finished->count);
  }
  set_oneway_counters(state, shape, size, cpu);
}

void raw_oneway(benchmark::State& state, Pairs& pairs, Transport transport, std::size_t size) {
  RawPair* pair = nullptr;
  try {
    pair = &pairs.raw(transport);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const Shape shape = oneway_shape(size);
  const std::string filler(size, 'x');
  const CpuMeter cpu(pair->peer_pid());
  for (auto _ : state) {
    if (!pair->burst(shape, filler)) {
      state.SkipWithError("no ack from the raw peer before the deadline");
      break;
    }
  }
  set_oneway_counters(state, shape, size, cpu);
}

void zmesh_round_trip(benchmark::State& state, Pairs& pairs, Transport transport,
                      std::size_t size) {
  ZmeshPair* pair = nullptr;
  try {
    pair = &pairs.zmesh(transport);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const Shape shape = round_trip_shape(size);
  auto [reply_to, done] = pair->mailbox().open_port<Done>();
  const Rally rally{pair->echo(), shape.count, size, reply_to};
  const CpuMeter cpu(pair->peer_pid());
  for (auto _ : state) {
    pair->mailbox().send(pair->pinger(), rally);
    auto finished = done.recv(zmesh::deadline_in(reply_timeout));
    if (!finished) {
      state.SkipWithError(finished.error().describe().c_str());
      break;
    }
    benchmark::DoNotOptimize(finished->count);
  }
  set_round_trip_counters(state, shape, cpu);
}

void raw_round_trip(benchmark::State& state, Pairs& pairs, Transport transport, std::size_t size) {
  RawPair* pair = nullptr;
  try {
    pair = &pairs.raw(transport);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const Shape shape = round_trip_shape(size);
  const CpuMeter cpu(pair->peer_pid());
  for (auto _ : state) {
    if (!pair->rally(shape.count, size)) {
      state.SkipWithError("the raw peer did not return the ball before the deadline");
      break;
    }
  }
  set_round_trip_counters(state, shape, cpu);
}

constexpr std::size_t payload_sizes[] = {64, 1u << 10, 64u << 10, 1u << 20};
constexpr Transport transports[] = {Transport::ipc, Transport::tcp};

// Names are <mode>/<transport>/<size>/<zmesh|raw>, each zmesh run right before its raw twin.
void register_benchmarks(Pairs& pairs) {
  using Function = void (*)(benchmark::State&, Pairs&, Transport, std::size_t);
  struct Mode {
    std::string_view name;
    Function zmesh;
    Function raw;
  };
  const Mode modes[] = {{"oneway", zmesh_oneway, raw_oneway},
                        {"roundtrip", zmesh_round_trip, raw_round_trip}};
  for (const Mode& mode : modes) {
    for (const Transport transport : transports) {
      for (const std::size_t size : payload_sizes) {
        const std::string row =
            fmt::format("{}/{}/{}", mode.name, to_string(transport), size_text(size));
        for (const auto& [side, function] :
             {std::pair{"zmesh", mode.zmesh}, std::pair{"raw", mode.raw}}) {
          benchmark::RegisterBenchmark(
              (row + "/" + side).c_str(),
              [&pairs, function = function, transport, size](benchmark::State& state) {
                function(state, pairs, transport, size);
              })
              ->UseRealTime()  // the work happens on other threads and in the peer
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// the summary: zmesh against raw, row by row

// Shows runs through the default display reporter and keeps what the summary needs.
class SummaryReporter : public benchmark::BenchmarkReporter {
 public:
  explicit SummaryReporter(benchmark::BenchmarkReporter* display) : display_(display) {}

  bool ReportContext(const Context& context) override { return display_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    display_->ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      Samples& samples = results_[run.run_name.function_name];
      if (run.run_type == Run::RT_Iteration) {
        samples.iterations.push_back(metrics_of(run));
      } else if (run.aggregate_name == "median") {
        samples.median = metrics_of(run);
      }
    }
  }
  void Finalize() override { display_->Finalize(); }

  void print_summary(std::FILE* out) const {
    std::fprintf(out,
                 "\nzmesh vs raw ZeroMQ (same sizes, process layout and run; medians; cpu: "
                 "microseconds of CPU per message, both processes)\n");
    std::fprintf(out, "%-20s %11s %11s %9s %10s %10s %9s %9s\n", "one-way", "zmesh msg/s",
                 "raw msg/s", "zmesh/raw", "zmesh MB/s", "raw MB/s", "zmesh cpu", "raw cpu");
    print_rows(
        out, "oneway/", [&](const std::string& row, const Metrics& zmesh, const Metrics& raw) {
          std::fprintf(out, "%-20s %11.0f %11.0f %8.2fx %10.1f %10.1f %9.2f %9.2f\n", row.c_str(),
                       zmesh.items_per_second, raw.items_per_second,
                       zmesh.items_per_second / raw.items_per_second, zmesh.bytes_per_second / 1e6,
                       raw.bytes_per_second / 1e6, zmesh.cpu_us, raw.cpu_us);
        });
    std::fprintf(out, "%-20s %11s %11s %9s %10s %10s %9s %9s\n", "round trip", "zmesh us", "raw us",
                 "zmesh/raw", "", "", "zmesh cpu", "raw cpu");
    print_rows(out, "roundtrip/",
               [&](const std::string& row, const Metrics& zmesh, const Metrics& raw) {
                 std::fprintf(out, "%-20s %11.1f %11.1f %8.2fx %10s %10s %9.2f %9.2f\n",
                              row.c_str(), zmesh.round_trip * 1e6, raw.round_trip * 1e6,
                              zmesh.round_trip / raw.round_trip, "", "", zmesh.cpu_us, raw.cpu_us);
               });
    for (const Transport transport : transports) {
      const std::string row = fmt::format("oneway/{}/1KiB", to_string(transport));
      auto zmesh = median_of(row + "/zmesh");
      auto raw = median_of(row + "/raw");
      if (!zmesh || !raw) continue;
      const double ratio = zmesh->items_per_second / raw->items_per_second;
      std::fprintf(out, "issue 2 target, one-way 1 KiB over %s at >= 0.50x raw: %.3fx (%s)\n",
                   std::string(to_string(transport)).c_str(), ratio,
                   ratio >= 0.5 ? "met" : "not met");
    }
  }

 private:
  struct Metrics {
    double items_per_second = 0;
    double bytes_per_second = 0;
    double round_trip = 0;  // seconds
    double cpu_us = 0;      // per message or round trip
  };
  struct Samples {
    std::vector<Metrics> iterations;
    std::optional<Metrics> median;  // when Google Benchmark computed one
  };

  static Metrics metrics_of(const Run& run) {
    auto counter = [&](const char* name) {
      auto it = run.counters.find(name);
      return it == run.counters.end() ? 0.0 : it->second.value;
    };
    return {counter("items_per_second"), counter("bytes_per_second"), counter("rtt"),
            counter("cpu_us")};
  }

  std::optional<Metrics> median_of(const std::string& name) const {
    auto it = results_.find(name);
    if (it == results_.end()) return std::nullopt;
    const Samples& samples = it->second;
    if (samples.median) return samples.median;
    if (samples.iterations.empty()) return std::nullopt;
    auto median = [&](double Metrics::*field) {
      std::vector<double> values;
      for (const Metrics& metrics : samples.iterations) values.push_back(metrics.*field);
      std::sort(values.begin(), values.end());
      const std::size_t middle = values.size() / 2;
      return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    };
    return Metrics{median(&Metrics::items_per_second), median(&Metrics::bytes_per_second),
                   median(&Metrics::round_trip), median(&Metrics::cpu_us)};
  }

  template <class PrintRow>
  void print_rows(std::FILE* out, std::string_view mode, PrintRow print_row) const {
    for (const Transport transport : transports) {
      for (const std::size_t size : payload_sizes) {
        const std::string row = fmt::format("{}{}/{}", mode, to_string(transport), size_text(size));
        auto zmesh = median_of(row + "/zmesh");
        auto raw = median_of(row + "/raw");
        if (zmesh && raw) {
          print_row(row, *zmesh, *raw);
        } else if (zmesh || raw) {
          std::fprintf(out, "%-20s (only one side ran)\n", row.c_str());
        }
      }
    }
  }

  benchmark::BenchmarkReporter* display_;
  std::map<std::string, Samples> results_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]).starts_with("--peer=")) return run_peer(argc, argv);

  // Three repetitions by default, shown as their median and spread: one run is too noisy on
  // a shared machine. Flags given on the command line come later and win.
  std::vector<char*> args{argv[0]};
  std::string repetitions = "--benchmark_repetitions=3";
  std::string aggregates_only = "--benchmark_display_aggregates_only=true";
  args.push_back(repetitions.data());
  args.push_back(aggregates_only.data());
  args.insert(args.end(), argv + 1, argv + argc);
  int arg_count = static_cast<int>(args.size());
  args.push_back(nullptr);

  // A machine-readable format owns stdout; the summary then goes to stderr.
  bool console_format = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--benchmark_format=") && arg != "--benchmark_format=console") {
      console_format = false;
    }
  }
  benchmark::Initialize(&arg_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(arg_count, args.data())) return 2;
  auto config = zmesh::Config::from_environment();
  if (!config) {
    std::fprintf(stderr, "transport_bench: %s\n", config.error().describe().c_str());
    return 2;
  }
  if (config->curve.empty() && !config->insecure) {
    // tcp runs with CURVE, as zmesh does by default: a pair for this run, which the peer
    // processes inherit (they start later, from this environment).
    config->curve = zmesh::generate_key_pair().value();
    ::setenv("ZMESH_KEY", zmesh::key_pair_text(config->curve).c_str(), 1);
  }
  Pairs pairs(*config);
  register_benchmarks(pairs);
  SummaryReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  pairs.shutdown();
  reporter.print_summary(console_format ? stdout : stderr);
  benchmark::Shutdown();
  return 0;
}
