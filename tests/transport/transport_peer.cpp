// transport_peer: one proc in its own OS process, for the transport tests.
// Usage: transport_peer <sink|echo|counter|hold> <proc id> <bind address> [<proc id>=<address>]...
// Prints "address <bound address>" first, then per mode:
//   sink     prints "got <first payload frame>" per message, before the message is acked
//            ("got <size> bytes, sum <checksum>" when it is larger than 4 KiB);
//   hold     as sink, and keeps every message's payload until it exits (shared memory);
//   echo     sends every message back to its sender's proc (needs a route to it);
//   counter  counts messages and answers "transport_test.Report" with the count.
// In every mode a "transport_test.Demote" message (root only) makes it drop to user and group
// 65534 (nobody) and print "demoted uid=<uid>", or "demote failed: <why>": from then on it
// may not open the descriptors of procs of its former user, as a proc that its sandbox
// does not allow to.
// Exits 0 on a "transport_test.Stop" message or on SIGTERM/SIGINT, printing "exit ..." with
// its Stats;
// dies with its parent (PR_SET_PDEATHSIG). Settings come from ZMESH_* variables.

#include "payload_checksum.hpp"
#include "zmesh/core/config.hpp"
#include "zmesh/transport/endpoint.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

namespace {

constexpr std::string_view stop_type = "transport_test.Stop";
constexpr std::string_view report_type = "transport_test.Report";
constexpr std::string_view count_type = "transport_test.Count";
constexpr std::string_view demote_type = "transport_test.Demote";

// Drops this process to nobody (user and group 65534); the line to print.
std::string demote() {
  constexpr uid_t nobody = 65534;
  if (::setgroups(0, nullptr) != 0 || ::setgid(nobody) != 0 || ::setuid(nobody) != 0) {
    return fmt::format("demote failed: {}", std::strerror(errno));
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a change of user clears it
  return fmt::format("demoted uid={}", ::getuid());
}

// One write per line, unbuffered: a line is in the pipe before the message is acked, so
// even SIGKILL cannot lose what this proc reported.
void write_line(std::string line) {
  line += '\n';
  std::string_view rest = line;
  while (!rest.empty()) {
    const auto written = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (written <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
}

// What sink and hold print of a payload's first frame: itself, or its size and checksum.
std::string describe(const zmesh::Frames& payload) {
  if (payload.empty()) return {};
  if (payload[0].size() <= 4096) return std::string(payload[0].view());
  return fmt::format("{} bytes, sum {}", payload[0].size(), zmesh::testing::payload_checksum(payload[0]));
}

zmesh::Envelope reply_to(const zmesh::Envelope& request, std::string type, zmesh::Frames payload) {
  zmesh::Envelope reply;
  reply.sender = request.destination.actor;
  reply.destination = zmesh::PortId{request.sender, 1};
  reply.type_name = std::move(type);
  reply.headers = request.headers;
  reply.payload = std::move(payload);
  return reply;
}

}  // namespace

int main(int argc, char** argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: transport_peer <sink|echo|counter> <proc id> <bind address> "
                 "[<proc id>=<address>]...\n");
    return 2;
  }
  // Blocked before any thread starts, so that only sigwait() below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);  // raised by the Stop message
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string mode = argv[1];
  if (mode != "sink" && mode != "echo" && mode != "counter" && mode != "hold") {
    std::fprintf(stderr,
                 "transport_peer: unknown mode \"%s\"; use sink, echo, counter or hold\n",
                 mode.c_str());
    return 2;
  }
  auto self = zmesh::ProcId::parse(argv[2]);
  if (!self) {
    std::fprintf(stderr, "transport_peer: %s\n", self.error().describe().c_str());
    return 2;
  }
  auto config = zmesh::Config::from_environment();
  if (!config) {
    std::fprintf(stderr, "transport_peer: %s\n", config.error().describe().c_str());
    return 2;
  }

  std::atomic<zmesh::Endpoint*> endpoint{nullptr};
  std::uint64_t count = 0;  // I/O thread only
  std::vector<zmesh::Frames> held;  // hold mode; I/O thread only
  zmesh::Endpoint::Inbound inbound{
      [&](zmesh::Envelope& envelope) {
        if (envelope.type_name == stop_type) {
          ::kill(::getpid(), SIGUSR1);
          return true;
        }
        zmesh::Endpoint* out = endpoint.load();
        if (envelope.type_name == demote_type) {
          write_line(demote());
          return true;
        }
        if (mode == "sink" || mode == "hold") {
          write_line("got " + describe(envelope.payload));
          if (mode == "hold") held.push_back(std::move(envelope.payload));
        } else if (mode == "echo") {
          if (out != nullptr) {
            const std::string type = envelope.type_name;
            out->send(reply_to(envelope, type, std::move(envelope.payload)));
          }
        } else if (envelope.type_name == report_type) {
          if (out != nullptr) {
            out->send(reply_to(envelope, std::string(count_type),
                               {zmesh::Frame::copy_of(std::to_string(count))}));
          }
        } else {
          ++count;
        }
        return true;
      },
      [&](zmesh::Envelope&& envelope, zmesh::Error error) {
        std::fprintf(stderr, "transport_peer %s: %s to %s undeliverable: %s\n", argv[2],
                     envelope.type_name.c_str(), envelope.destination.to_string().c_str(),
                     error.message.c_str());
      }};

  zmq::context_t context;
  auto bound = zmesh::Endpoint::bind(context, *self, argv[3], inbound, *config);
  if (!bound) {
    std::fprintf(stderr, "transport_peer: %s\n", bound.error().describe().c_str());
    return 1;
  }
  for (int i = 4; i < argc; ++i) {
    const std::string_view route = argv[i];
    const auto equals = route.find('=');
    auto proc = zmesh::ProcId::parse(route.substr(0, equals));
    if (equals == std::string_view::npos || !proc) {
      std::fprintf(stderr, "transport_peer: route \"%s\" is not <proc id>=<address>\n", argv[i]);
      return 2;
    }
    if (auto added = (*bound)->add_route(*proc, route.substr(equals + 1)); !added) {
      std::fprintf(stderr, "transport_peer: %s\n", added.error().describe().c_str());
      return 2;
    }
  }
  endpoint.store(bound->get());
  write_line("address " + (*bound)->address());

  int signal = 0;
  sigwait(&signals, &signal);
  (*bound)->close();
  const auto stats = (*bound)->stats();
  write_line(fmt::format("exit signal={} delivered={} duplicates={} undeliverable={} "
                         "shm_sent={} shm_regions={} shm_fallbacks={} shm_received={} "
                         "shm_unmappable={}",
                         signal, stats.delivered, stats.duplicates_dropped, stats.undeliverable,
                         stats.shm_sent, stats.shm_regions, stats.shm_fallbacks,
                         stats.shm_received, stats.shm_unmappable));
  return 0;
}
