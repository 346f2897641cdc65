// ping_pong: two procs in two OS processes, talking through zmesh over ipc (or tcp).
// Shows how to start a proc with its own network endpoint (Node), spawn an actor with typed
// handlers, route between procs, and talk to an actor from plain code through a Mailbox and
// a reply port. Measures round-trip latency (median, p99) and one-way throughput.
//
//   ping_pong [--count N] [--size BYTES] [--transport ipc|tcp]
//
// The "pong" proc is this same program, re-executed with --serve; it stops when we close its
// stdin (or when we die), so no process is left behind. Exit code 0 means every step worked.

#include "zmesh/core/actor.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/proc.hpp"
#include "zmesh/transport/node.hpp"
#include "zmesh/transport/security.hpp"
#include "zmesh/transport/runtime.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// -- the messages: plain structs with a stable wire name and msgpack fields --

struct Pong {
  ZMESH_MESSAGE("ping_pong.Pong");
  std::uint64_t seq = 0;
  MSGPACK_DEFINE(seq);
};

struct Ping {
  ZMESH_MESSAGE("ping_pong.Ping");
  std::uint64_t seq = 0;
  zmesh::PortRef<Pong> reply_to;  // where the answer goes: a port our Mailbox opened
  MSGPACK_DEFINE(seq, reply_to);
};

// One-way traffic: nobody answers a Tick...
struct Tick {
  ZMESH_MESSAGE("ping_pong.Tick");
  std::string bytes;
  MSGPACK_DEFINE(bytes);
};

struct Tally {
  ZMESH_MESSAGE("ping_pong.Tally");
  std::uint64_t ticks = 0;
  MSGPACK_DEFINE(ticks);
};

// ...until a Count asks how many arrived. Messages from one sender to one actor arrive in
// order, so by the time the Count is handled, every Tick sent before it has been.
struct Count {
  ZMESH_MESSAGE("ping_pong.Count");
  zmesh::PortRef<Tally> reply_to;
  MSGPACK_DEFINE(reply_to);
};

// -- the actor that lives in the pong process --

class PongActor : public zmesh::Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit PongActor(const Params&) {
    // Each handler is a few instructions: let them run on the I/O thread, no hand-off.
    handlers_never_block();
    on<Ping>(&PongActor::ping);
    on<Tick>(&PongActor::tick);
    on<Count>(&PongActor::count);
  }

 private:
  void ping(zmesh::Context& ctx, const Ping& ping) { ctx.send(ping.reply_to, Pong{ping.seq}); }
  void tick(zmesh::Context&, const Tick&) { ++ticks_; }
  void count(zmesh::Context& ctx, const Count& count) { ctx.send(count.reply_to, Tally{ticks_}); }

  std::uint64_t ticks_ = 0;  // an actor handles one message at a time: no lock needed
};

// Both procs belong to one world; ranks tell them apart.
const zmesh::ProcId ping_proc{zmesh::WorldId{"ping_pong"}, 0};
const zmesh::ProcId pong_proc{zmesh::WorldId{"ping_pong"}, 1};
const zmesh::ActorId pong_actor{pong_proc, "pong", 0};

// The pong process: ping_pong --serve <bind address> <ping's address>
int serve(const std::string& bind_address, const std::string& ping_address) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the ping process
  auto config = zmesh::Config::from_environment();
  if (!config) throw std::runtime_error(config.error().describe());
  zmesh::Runtime runtime(*config);
  auto node = zmesh::Node::start(
      runtime, zmesh::ProcOptions{pong_proc, nullptr, *config, nullptr, nullptr}, bind_address);
  if (!node) throw std::runtime_error(node.error().describe());
  auto spawned = (*node)->proc().spawn<PongActor>("pong", PongActor::Params{});
  if (!spawned) throw std::runtime_error(spawned.error().describe());
  // Our Pongs go back to the ping proc, so we need its address too.
  if (auto routed = (*node)->endpoint().add_route(ping_proc, ping_address); !routed) {
    throw std::runtime_error(routed.error().describe());
  }
  const std::string ready = "ready " + (*node)->address() + "\n";
  if (::write(STDOUT_FILENO, ready.data(), ready.size()) < 0) return 1;

  // The ping process closes our stdin when it is done with us.
  char byte;
  ssize_t got;
  do {
    got = ::read(STDIN_FILENO, &byte, 1);
  } while (got > 0 || (got < 0 && errno == EINTR));
  return 0;  // ~Node stops the actor, then flushes and closes the endpoint
}

// -- the ping side --

// The pong process as seen from the ping process. The destructor closes its stdin (its
// signal to stop), waits for it to exit, and kills it if it does not.
class PongProcess {
 public:
  PongProcess(const std::string& bind_address, const std::string& ping_address) {
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
    const std::string program = own_path();
    std::vector<std::string> args{program, "--serve", bind_address, ping_address};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int failed =
        ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(to_child[0]);
    ::close(from_child[1]);
    stdin_ = to_child[1];
    if (failed != 0) {
      pid_ = -1;
      ::close(from_child[0]);
      throw std::runtime_error(fmt::format("cannot start {}: {}", program, std::strerror(failed)));
    }
    address_ = read_ready_line(from_child[0]);
    ::close(from_child[0]);
    if (address_.empty()) throw std::runtime_error("the pong process did not start (see above)");
  }
  PongProcess(const PongProcess&) = delete;
  PongProcess& operator=(const PongProcess&) = delete;
  ~PongProcess() { stop(); }

  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }

  // Returns the exit status (as waitpid reports it), or -1 if it had to be killed.
  int stop() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
    if (pid_ < 0) return exit_status_;
    const auto deadline = Clock::now() + 10s;
    while (::waitpid(pid_, &exit_status_, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        exit_status_ = -1;
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    pid_ = -1;
    return exit_status_;
  }

 private:
  static std::string own_path() {
    char path[4096];
    const auto length = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (length <= 0) throw std::runtime_error("cannot find our own executable");
    return std::string(path, static_cast<std::size_t>(length));
  }

  // The peer prints "ready <address>" once its proc listens; give it 20 s.
  static std::string read_ready_line(int fd) {
    std::string text;
    pollfd item{fd, POLLIN, 0};
    while (text.find('\n') == std::string::npos && ::poll(&item, 1, 20000) > 0) {
      char buffer[256];
      const auto count = ::read(fd, buffer, sizeof buffer);
      if (count <= 0) break;
      text.append(buffer, static_cast<std::size_t>(count));
    }
    if (!text.starts_with("ready ") || text.find('\n') == std::string::npos) return {};
    return text.substr(6, text.find('\n') - 6);
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  int exit_status_ = 0;
  std::string address_;
};

struct Options {
  std::uint64_t count = 10000;
  std::size_t size = 1024;
  std::string transport = "ipc";
};

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--count" && has_value) {
      options.count = std::stoull(argv[++i]);
    } else if (arg == "--size" && has_value) {
      options.size = std::stoull(argv[++i]);
    } else if (arg == "--transport" && has_value) {
      options.transport = argv[++i];
    } else {
      throw std::invalid_argument(
          fmt::format("unknown option \"{}\"; usage: ping_pong [--count N] [--size BYTES] "
                      "[--transport ipc|tcp]",
                      arg));
    }
  }
  if (options.transport != "ipc" && options.transport != "tcp") {
    throw std::invalid_argument(fmt::format("--transport {}: use ipc or tcp", options.transport));
  }
  if (options.count == 0) throw std::invalid_argument("--count must be at least 1");
  return options;
}

double micros(Clock::duration duration) {
  return std::chrono::duration<double, std::micro>(duration).count();
}

// Round trips one at a time, then a stream of one-way Ticks, all from `mailbox`.
void measure(zmesh::Mailbox& mailbox, const Options& options) {
  auto [pong_port, pongs] = mailbox.open_port<Pong>();
  auto ping_once = [&](std::uint64_t seq) {
    mailbox.send(pong_actor, Ping{seq, pong_port});
    auto pong = pongs.recv(zmesh::deadline_in(10s));  // every wait has a deadline
    if (!pong) throw std::runtime_error(pong.error().describe());
    if (pong->seq != seq) {
      throw std::runtime_error(fmt::format("pong {} answered ping {}", pong->seq, seq));
    }
  };

  // The first ping also waits for the connection to be set up, so it is not timed.
  ping_once(0);
  std::vector<double> round_trips;
  round_trips.reserve(options.count);
  for (std::uint64_t seq = 1; seq <= options.count; ++seq) {
    const auto sent = Clock::now();
    ping_once(seq);
    round_trips.push_back(micros(Clock::now() - sent));
  }
  std::sort(round_trips.begin(), round_trips.end());
  fmt::print("{} round trips: median {:.1f} us, p99 {:.1f} us\n", options.count,
             round_trips[round_trips.size() / 2], round_trips[round_trips.size() * 99 / 100]);

  auto [tally_port, tallies] = mailbox.open_port<Tally>();
  const Tick tick{std::string(options.size, 'x')};
  const auto started = Clock::now();
  for (std::uint64_t i = 0; i < options.count; ++i) mailbox.send(pong_actor, tick);
  mailbox.send(pong_actor, Count{tally_port});
  auto tally = tallies.recv(zmesh::deadline_in(30s));
  if (!tally) throw std::runtime_error(tally.error().describe());
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (tally->ticks != options.count) {
    throw std::runtime_error(
        fmt::format("the pong actor counted {} ticks, we sent {}", tally->ticks, options.count));
  }
  fmt::print("{} one-way ticks of {} bytes in {:.3f} s: {:.0f} msg/s, {:.1f} MB/s\n", options.count,
             options.size, seconds, options.count / seconds,
             options.count * options.size / seconds / 1e6);
}

// libzmq leaves ipc socket files behind; these go when play() returns, however it returns.
struct SocketFiles {
  std::vector<std::string> paths;
  ~SocketFiles() {
    for (const auto& path : paths) ::unlink(path.c_str());
  }
};

int play(const Options& options) {
  // ipc:// needs a socket file per proc; tcp port 0 lets the OS pick a free port.
  SocketFiles files;
  auto address_for = [&](std::string_view who) -> std::string {
    if (options.transport == "tcp") return "tcp://127.0.0.1:0";
    files.paths.push_back(fmt::format("/tmp/zmesh-ping-pong-{}-{}.sock", ::getpid(), who));
    return "ipc://" + files.paths.back();
  };

  auto config = zmesh::Config::from_environment();
  if (!config) throw std::runtime_error(config.error().describe());
  if (options.transport == "tcp" && config->curve.empty() && !config->insecure) {
    // tcp needs a CURVE key; with none configured, a pair for this run, which the pong
    // process inherits through the environment (readable only by this user).
    config->curve = zmesh::generate_key_pair().value();
    ::setenv("ZMESH_KEY", zmesh::key_pair_text(config->curve).c_str(), 1);
  }
  zmesh::Runtime runtime(*config);  // declared first: destroyed after every socket
  auto started =
      zmesh::Node::start(runtime, zmesh::ProcOptions{ping_proc, nullptr, *config, nullptr, nullptr},
                         address_for("ping"));
  if (!started) throw std::runtime_error(started.error().describe());
  std::unique_ptr<zmesh::Node> node = std::move(*started);
  fmt::print("ping proc {} listens on {}\n", ping_proc.to_string(), node->address());

  PongProcess pong(address_for("pong"), node->address());
  fmt::print("started the pong process (pid {}); its proc {} listens on {}\n", pong.pid(),
             pong_proc.to_string(), pong.address());
  if (auto routed = node->endpoint().add_route(pong_proc, pong.address()); !routed) {
    throw std::runtime_error(routed.error().describe());
  }

  {
    // A Mailbox lets code that is not an actor send and open reply ports.
    auto mailbox = node->proc().attach("player");
    if (!mailbox) throw std::runtime_error(mailbox.error().describe());
    measure(*mailbox, options);
  }  // the Mailbox goes before its proc

  // Our Node goes first: it waits until the pong proc acknowledged everything we sent.
  node.reset();
  const int status = pong.stop();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fmt::print(stderr, "the pong process did not exit cleanly (wait status {})\n", status);
    return 1;
  }
  fmt::print("the pong process exited cleanly\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::string_view(argv[1]) == "--serve") return serve(argv[2], argv[3]);
    return play(parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ping_pong: %s\n", e.what());
    return 1;
  }
}
