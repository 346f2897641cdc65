// Remote allocation across three fake hosts (network namespaces), one zmesh-launcher each:
// a {host=3,gpu=2} mesh casts, calls and forwards output; bad requests are refused with clear
// errors, and a peer without the key is refused at the handshake, while the launcher keeps
// serving. Killed and frozen procs, launchers and clients: kill_matrix_test.cpp. Needs root
// (label "root"); skips otherwise.
#include "zmesh/alloc/internal/launcher_protocol.hpp"
#include "zmesh/alloc/remote_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/selection_text.hpp"

#include "remote_test_support.hpp"
#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"
#include "testing/wait.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <zmq.hpp>

#include <future>
#include <set>
#include <vector>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

using testing::Where;
using testing::WhereReply;
using testing::WorkerActor;

using testing::pids_text;

class RemoteAllocatorTest : public testing::FakeHostsTest {
 protected:
  RemoteAllocatorOptions options() const { return hosts_.client_options(); }

  static AllocSpec spec(std::uint32_t hosts, std::uint32_t per_host) { return host_spec(hosts, per_host); }

  std::unique_ptr<ProcMesh> allocate(const AllocSpec& spec, RemoteAllocatorOptions opts) {
    return allocate_mesh(runtime_, spec, std::move(opts));
  }
};

TEST_F(RemoteAllocatorTest, ThreeHostsRunOneMeshThatCastsAndCalls) {
  const auto started = Clock::now();
  auto mesh = allocate(spec(3, 2), options());
  ASSERT_TRUE(mesh);
  const auto took = std::chrono::duration_cast<Millis>(Clock::now() - started).count();
  std::printf("[ MEASURE  ] allocation of {host=3,gpu=2} through 3 launchers: %lld ms\n",
              static_cast<long long>(took));
  RecordProperty("allocation_ms", std::to_string(took));

  auto workers = mesh->spawn<WorkerActor>("worker", {""}, deadline_in(30s)).value();
  auto replies = workers.call(Where{}, deadline_in(30s));
  ASSERT_TRUE(replies.ok()) << replies.error().describe();
  ASSERT_TRUE(replies->complete());
  ASSERT_EQ(replies->replies.size(), 6u);
  for (const auto& [rank, reply] : replies->replies) {
    // Rank r runs on host r / 2: its pid lives in that host's namespace.
    EXPECT_TRUE(host_pids(rank / 2).contains(static_cast<pid_t>(reply.pid)))
        << "rank " << rank << " (pid " << reply.pid << ") is not on " << hosts_.name(rank / 2);
    EXPECT_EQ(reply.point, fmt::format("host={}/3,gpu={}/2", rank / 2, rank % 2));
  }
  // A slice of one host: only its two procs answer (each for the second time), named by
  // their mesh ranks.
  auto host1 = workers.slice("host", 1, 2).value().call(Where{}, deadline_in(30s));
  ASSERT_TRUE(host1.ok() && host1->complete());
  ASSERT_EQ(host1->replies.size(), 2u);
  for (const auto& [rank, reply] : host1->replies) {
    EXPECT_TRUE(rank == 2 || rank == 3) << rank;
    EXPECT_EQ(reply.proc, mesh->proc(rank).to_string());
    EXPECT_EQ(reply.received, 2u);
  }
  // A requested stop is no news: every event it caused is queued when it returns, and
  // there is none (but a silence warning on a loaded machine).
  EXPECT_TRUE(mesh->stop(deadline_in(30s)).ok());
  std::uint64_t seen = 0;
  while (auto event = mesh->next_event(Clock::now())) {
    ++seen;
    EXPECT_EQ(event->kind, MeshEvent::Kind::proc_unresponsive) << event->describe();
  }
  EXPECT_EQ(seen, mesh->events_queued());
}

TEST_F(RemoteAllocatorTest, ProcOutputReachesTheClientWithRankPrefixes) {
  testing::CapturedOutput output;
  ChildProcessGroup client(
      {[&](std::size_t index, std::string_view line, bool is_stderr) { output.add(index, line, is_stderr); },
       nullptr},
      runtime_.config());
  ASSERT_TRUE(client.start(0, {ZMESH_REMOTE_CLIENT, {"print", hosts_.host_list(), hosts_.bridge_ip(), "2"}, {testing::test_key_variable()}}).ok());
  ASSERT_TRUE(client.wait_all_exited(deadline_in(90s))) << output.dump(0);
  for (std::uint32_t rank = 0; rank < 6; ++rank) {
    const auto out = output.of(0, false);
    const auto err = output.of(0, true);
    EXPECT_NE(std::find(out.begin(), out.end(), fmt::format("[{}] out line from rank {}", rank, rank)), out.end())
        << output.dump(0);
    EXPECT_NE(std::find(err.begin(), err.end(), fmt::format("[{}] err line from rank {}", rank, rank)), err.end())
        << output.dump(0);
  }
}

// A raw ZeroMQ peer of a launcher, to send it what no zmesh client would.
class RawPeer {
 public:
  // With the cluster's key unless `keys` says otherwise (empty: plain ZeroMQ).
  explicit RawPeer(const std::string& address, const CurveKeyPair& keys = testing::test_key_pair()) {
    socket_.set(zmq::sockopt::linger, 0);
    if (!keys.empty()) {
      socket_.set(zmq::sockopt::curve_serverkey, keys.public_key);
      socket_.set(zmq::sockopt::curve_publickey, keys.public_key);
      socket_.set(zmq::sockopt::curve_secretkey, keys.secret_key);
    }
    socket_.connect(address);
  }
  void send(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      socket_.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  template <class T>
  void send(const T& message) {
    const auto [type, body] = internal::launcher_frames(message);
    send({type, body});
  }
  // The next [type][body] from the launcher that is not a beat.
  std::optional<std::pair<std::string, std::string>> receive(Millis timeout) {
    const auto deadline = deadline_in(timeout);
    while (Clock::now() < deadline) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::duration_cast<Millis>(deadline - Clock::now()) + Millis(1));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<std::string> frames;
      zmq::message_t frame;
      do {
        (void)socket_.recv(frame);
        frames.push_back(frame.to_string());
      } while (frame.more());
      if (frames.size() == 2 && frames[0] == message_name<internal::LauncherBeat>()) continue;
      if (frames.size() == 2) return std::make_pair(frames[0], frames[1]);
    }
    return std::nullopt;
  }
  std::string error_text(Millis timeout) {
    auto reply = receive(timeout);
    if (!reply) return "(no answer)";
    if (reply->first == message_name<internal::LauncherError>()) {
      return internal::decode_launcher_body<internal::LauncherError>(reply->second).value().error.message;
    }
    if (reply->first == message_name<internal::LaunchReply>()) {
      auto launch = internal::decode_launcher_body<internal::LaunchReply>(reply->second).value();
      return launch.ok ? "(accepted)" : launch.error.message;
    }
    return "(unexpected " + reply->first + ")";
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::dealer};
};

TEST_F(RemoteAllocatorTest, BadRequestsAreRefusedClearlyWhileTheLauncherServesOthers) {
  const std::string address = fmt::format("tcp://{}:26600", hosts_.ip(0));
  RawPeer peer(address);
  peer.send(std::vector<std::string>{"one lonely frame"});
  EXPECT_NE(peer.error_text(5s).find("garbage: expected 2 frames"), std::string::npos);
  peer.send(std::vector<std::string>{"zmesh.launcher.Nonsense", "x"});
  EXPECT_NE(peer.error_text(5s).find("unknown message type \"zmesh.launcher.Nonsense\""), std::string::npos);
  peer.send(std::vector<std::string>{std::string(message_name<internal::LaunchRequest>()), "\xc1\xc1 not msgpack"});
  EXPECT_NE(peer.error_text(5s).find("garbage"), std::string::npos);
  peer.send(internal::ClientBeat{1});
  EXPECT_NE(peer.error_text(5s).find("does not know"), std::string::npos);

  internal::LaunchRequest request;
  request.client = "raw test peer";
  request.world = "raw";
  request.executable = ZMESH_REMOTE_CLIENT;
  request.client_proc = "raw-client[0]";
  request.client_address = "tcp://127.0.0.1:1";
  request.hello_port = "raw-client[0].allocator[0][0]";
  peer.send(request);  // no ranks
  EXPECT_NE(peer.error_text(5s).find("0 procs"), std::string::npos);
  for (std::uint32_t rank = 0; rank < 100000; ++rank) request.ranks.push_back(rank);
  peer.send(request);
  EXPECT_NE(peer.error_text(5s).find("asks for 100000 procs"), std::string::npos);
  request.ranks = {0};
  request.executable = "/no/such/zmesh-proc";
  peer.send(request);
  auto missing = peer.error_text(5s);
  EXPECT_NE(missing.find("/no/such/zmesh-proc"), std::string::npos) << missing;
  EXPECT_NE(missing.find(hosts_.ip(0)), std::string::npos) << "names the host: " << missing;
  request.executable = "/etc/hostname";
  peer.send(request);
  EXPECT_NE(peer.error_text(5s).find("not executable"), std::string::npos);
  request.executable = ZMESH_REMOTE_CLIENT;
  request.version = 99;
  peer.send(request);
  EXPECT_NE(peer.error_text(5s).find("protocol 99"), std::string::npos);

  // A peer without the key cannot even say hello: refused at the handshake (so it starts
  // nothing: TearDown finds only the launchers), logged naming the port it knocked on and,
  // when it was still connected as the launcher read its address, where it came from.
  RawPeer plain(address, CurveKeyPair{});
  plain.send(request);
  const std::string knocked = "ZM-LAUNCHER-HANDSHAKE-REFUSED a peer at ";
  EXPECT_TRUE(testing::wait_until(10s, [&] { return launchers_.output.contains(0, knocked); }))
      << launchers_.output.dump(0);
  EXPECT_TRUE(launchers_.output.contains(0, knocked + hosts_.bridge_ip() + ":") ||
              launchers_.output.contains(0, knocked + "(address unknown"))
      << launchers_.output.dump(0);
  EXPECT_TRUE(launchers_.output.contains(0, "failed the CURVE handshake on " + address))
      << launchers_.output.dump(0);

  // Through the allocator: a missing executable fails the allocation naming host and path.
  auto bad = options();
  bad.executable = "/no/such/zmesh-proc";
  auto alloc = RemoteAllocator::allocate(runtime_, spec(3, 1), testing::registry(), bad);
  ASSERT_TRUE(alloc.ok()) << alloc.error().describe();
  auto refused = ProcMesh::allocate(runtime_, std::move(*alloc), deadline_in(30s));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("/no/such/zmesh-proc"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("refused"), std::string::npos) << refused.error().message;

  // The launcher still serves everyone else.
  auto mesh = allocate(spec(3, 1), options());
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<WorkerActor>("worker", {""}, deadline_in(30s)).value();
  auto replies = workers.call(Where{}, deadline_in(30s));
  ASSERT_TRUE(replies.ok() && replies->complete());
  EXPECT_TRUE(mesh->stop(deadline_in(30s)).ok());
  EXPECT_FALSE(launchers_.exited(0));
}

TEST_F(RemoteAllocatorTest, TwoClientsOfOneLauncherEachSeeAndStopOnlyTheirOwnProcs) {
  auto first = allocate(spec(3, 1), options());
  auto second = allocate(spec(3, 1), options());
  ASSERT_TRUE(first && second);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(host_pids(i).size(), 3u) << "launcher + one proc per client";
  ASSERT_TRUE(first->kill(1, SIGKILL).ok());
  auto killed = testing::next_event_of(*first, MeshEvent::Kind::proc_crashed, deadline_in(10s));
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->rank, 1u);
  EXPECT_EQ(killed->reason.kind, StopReason::Kind::killed) << killed->describe();
  EXPECT_EQ(killed->reason.signal, SIGKILL);
  EXPECT_TRUE(first->stop(deadline_in(30s)).ok());
  // The second client's procs are untouched.
  auto workers = second->spawn<WorkerActor>("worker", {""}, deadline_in(30s)).value();
  auto replies = workers.call(Where{}, deadline_in(30s));
  ASSERT_TRUE(replies.ok() && replies->complete());
  // Its event stream, read through its own stop (which queues every event it caused before
  // it returns, and makes none itself), holds nothing: a crash or silence caused by the
  // first would be there.
  EXPECT_TRUE(second->stop(deadline_in(30s)).ok());
  std::vector<std::string> events;
  while (auto event = second->next_event(Clock::now())) events.push_back(event->describe());
  EXPECT_TRUE(events.empty()) << fmt::format("{}", fmt::join(events, "; "));
  EXPECT_EQ(second->events_queued(), 0u);
}

}  // namespace
}  // namespace zmesh
