// zmesh-launcher on loopback (no root needed): a busy port and bad options fail clearly,
// --proc-ports is honoured, and SIGTERM stops the launcher with every proc it started
// (the client hears host_lost for each, once).
#include "zmesh/alloc/remote_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"
#include "zmesh/mesh/selection_text.hpp"

#include "remote_test_support.hpp"
#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"
#include "testing/wait.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <map>
#include <variant>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

// A tcp port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port() {
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(probe);
  return ntohs(address.sin_port);
}

class RemoteLauncherTest : public ::testing::Test {
 protected:
  void TearDown() override {
    launchers_.stop_all();
    EXPECT_EQ(testing::child_processes(), std::vector<pid_t>{});
  }
  AllocSpec spec(std::uint32_t per_host) const {
    AllocSpec spec;
    spec.transport = AllocTransport::tcp;
    spec.dimensions = {{"host", 1}, {"gpu", per_host}};
    return spec;
  }
  RemoteAllocatorOptions options() const {
    RemoteAllocatorOptions options;
    options.hosts = {{"127.0.0.1", port_, 0}};
    options.client_host = "127.0.0.1";
    return options;
  }
  std::uint16_t port_ = free_port();
  std::string listen_ = fmt::format("tcp://127.0.0.1:{}", port_);
  Runtime runtime_{testing::remote_test_config(Millis(1500))};
  testing::Launchers launchers_;
};

TEST_F(RemoteLauncherTest, SecondLauncherOnABusyPortFailsClearly) {
  ASSERT_GT(launchers_.start(0, "", {"--listen", listen_, "--foreground"}), 0);
  testing::CapturedOutput output;
  ChildProcessGroup group({[&](std::size_t i, std::string_view line, bool err) { output.add(i, line, err); },
                           nullptr},
                          runtime_.config());
  ASSERT_TRUE(group.start(0, {ZMESH_LAUNCHER, {"--listen", listen_, "--key", launchers_.key_file()}, {}}).ok());
  ASSERT_TRUE(group.wait_all_exited(deadline_in(20s)));
  EXPECT_TRUE(output.contains(0, "cannot listen on " + listen_)) << output.dump(0);
  EXPECT_TRUE(output.contains(0, "another zmesh-launcher")) << output.dump(0);
  EXPECT_FALSE(launchers_.exited(0)) << "the first launcher keeps serving";
}

TEST_F(RemoteLauncherTest, BadOptionsAreRefusedNamingTheOption) {
  testing::CapturedOutput output;
  constexpr int cases = 7;
  std::optional<ChildExit> exits[cases];
  ChildProcessGroup group({[&](std::size_t i, std::string_view line, bool err) { output.add(i, line, err); },
                           [&](std::size_t i, pid_t, const ChildExit& exit) { exits[i] = exit; }},
                          runtime_.config());
  testing::TestKeyFile readable_key(testing::test_key_pair(), "readable-key");
  ASSERT_EQ(::chmod(readable_key.path().c_str(), 0644), 0);
  const std::string key = launchers_.key_file();
  const std::string missing_key = testing::unique_temp_path("missing-key");
  // Without a key in the environment, whatever the test runner's is.
  const std::vector<std::pair<std::string, std::string>> no_key = {{"ZMESH_KEY_FILE", ""}, {"ZMESH_KEY", ""}};
  ASSERT_TRUE(group.start(0, {ZMESH_LAUNCHER, {"--listen", "udp://1.2.3.4:5", "--key", key}, {}}).ok());
  ASSERT_TRUE(group.start(1, {ZMESH_LAUNCHER, {"--proc-ports", "9000-8000", "--key", key}, {}}).ok());
  ASSERT_TRUE(group.start(2, {ZMESH_LAUNCHER, {"--no-such-option"}, {}}).ok());
  ASSERT_TRUE(group.start(3, {ZMESH_LAUNCHER, {"--listen", listen_}, no_key}).ok());
  ASSERT_TRUE(group.start(4, {ZMESH_LAUNCHER, {"--listen", listen_, "--key", readable_key.path()}, {}}).ok());
  ASSERT_TRUE(group.start(5, {ZMESH_LAUNCHER, {"--listen", listen_, "--key", missing_key}, {}}).ok());
  ASSERT_TRUE(group.start(6, {ZMESH_LAUNCHER, {"--listen", listen_, "--key", key, "--insecure"}, {}}).ok());
  ASSERT_TRUE(group.wait_all_exited(deadline_in(20s)));
  for (int i = 0; i < cases; ++i) {
    ASSERT_TRUE(exits[i].has_value());
    EXPECT_EQ(exits[i]->code, 2) << output.dump(i);
  }
  EXPECT_TRUE(output.contains(0, "only tcp://HOST:PORT")) << output.dump(0);
  EXPECT_TRUE(output.contains(1, "--proc-ports")) << output.dump(1);
  EXPECT_TRUE(output.contains(2, "no-such-option")) << output.dump(2);
  EXPECT_TRUE(output.contains(3, "no key: run `zmesh keygen FILE`")) << output.dump(3);
  EXPECT_TRUE(output.contains(4, "chmod 600 " + readable_key.path())) << output.dump(4);
  EXPECT_TRUE(output.contains(5, missing_key)) << output.dump(5);
  EXPECT_TRUE(output.contains(6, "either --key or --insecure")) << output.dump(6);
}

// --insecure: plain tcp, said loudly, and the launcher still starts procs for a plain client.
TEST_F(RemoteLauncherTest, InsecureLauncherServesPlainClientsAndSaysSo) {
  ASSERT_GT(launchers_.start(0, "", {"--listen", listen_, "--insecure"}), 0);
  EXPECT_TRUE(launchers_.output.contains(0, "plain tcp: --insecure")) << launchers_.output.dump(0);
  EXPECT_TRUE(launchers_.output.contains(0, "ZM-LAUNCHER-INSECURE")) << launchers_.output.dump(0);
  Config config = runtime_.config();
  config.curve = {};
  config.insecure = true;
  Runtime runtime(config);
  auto alloc = RemoteAllocator::allocate(runtime, spec(1), testing::registry(), options()).value();
  auto mesh = ProcMesh::allocate(runtime, std::move(alloc), deadline_in(60s));
  ASSERT_TRUE(mesh.ok()) << mesh.error().describe();
  EXPECT_TRUE((*mesh)->stop(deadline_in(30s)).ok());
}

// A client whose key differs from the launcher's learns it at once, naming the launcher,
// instead of waiting for a bootstrap timeout; the launcher logs the refused host once.
TEST_F(RemoteLauncherTest, AClientWithAnotherKeyFailsAtOnceNamingTheLauncher) {
  ASSERT_GT(launchers_.start(0, "", {"--listen", listen_}), 0);
  for (int attempt = 0; attempt < 2; ++attempt) {
    Config config = runtime_.config();
    config.curve = testing::other_key_pair();
    Runtime runtime(config);
    const auto started = Clock::now();
    auto alloc = RemoteAllocator::allocate(runtime, spec(1), testing::registry(), options()).value();
    auto mesh = ProcMesh::allocate(runtime, std::move(alloc), deadline_in(60s));
    ASSERT_FALSE(mesh.ok());
    EXPECT_NE(mesh.error().message.find("refused this client's CURVE key"), std::string::npos)
        << mesh.error().describe();
    EXPECT_NE(mesh.error().message.find(listen_), std::string::npos) << mesh.error().describe();
    EXPECT_LT(Clock::now() - started, runtime.config().bootstrap_timeout / 2) << "not at once";
  }
  ASSERT_TRUE(testing::wait_until(10s, [&] { return launchers_.output.contains(0, "ZM-LAUNCHER-HANDSHAKE-REFUSED"); }))
      << launchers_.output.dump(0);
  // Once per host: one line naming 127.0.0.1, and at most one more for a connection that
  // hung up before its address could be read.
  EXPECT_LE(launchers_.output.count(0, "ZM-LAUNCHER-HANDSHAKE-REFUSED a peer at 127.0.0.1:"), 1u) << launchers_.output.dump(0);
  EXPECT_LE(launchers_.output.count(0, "ZM-LAUNCHER-HANDSHAKE-REFUSED"), 2u) << launchers_.output.dump(0);
  // The launcher serves a client with the right key as before.
  auto alloc = RemoteAllocator::allocate(runtime_, spec(1), testing::registry(), options()).value();
  auto mesh = ProcMesh::allocate(runtime_, std::move(alloc), deadline_in(60s));
  ASSERT_TRUE(mesh.ok()) << mesh.error().describe();
  EXPECT_TRUE((*mesh)->stop(deadline_in(30s)).ok());
}

TEST_F(RemoteLauncherTest, ProcsBindInTheLaunchersPortRange) {
  const std::uint16_t low = free_port();
  const auto range = fmt::format("{}-{}", low, low + 20);
  ASSERT_GT(launchers_.start(0, "", {"--listen", listen_, "--proc-ports", range}), 0);
  auto alloc = RemoteAllocator::allocate(runtime_, spec(2), testing::registry(), options()).value();
  int running = 0;
  while (running < 2) {
    auto event = alloc->next_event(deadline_in(30s));
    ASSERT_TRUE(event.has_value()) << "procs did not come up";
    if (auto* up = std::get_if<ProcRunning>(&*event)) {
      ++running;
      for (const auto& address : {up->address, up->supervision_address}) {
        const auto port = std::stoi(address.substr(address.rfind(':') + 1));
        EXPECT_TRUE(port >= low && port <= low + 20) << address << " outside " << range;
      }
    }
    ASSERT_FALSE(std::holds_alternative<AllocFailed>(*event)) << describe(*event);
    ASSERT_FALSE(std::holds_alternative<ProcStopped>(*event)) << describe(*event);
  }
  alloc->stop();
  int stopped = 0;
  while (stopped < 2) {
    auto event = alloc->next_event(deadline_in(30s));
    ASSERT_TRUE(event.has_value());
    if (auto* done = std::get_if<ProcStopped>(&*event)) {
      ++stopped;
      EXPECT_EQ(done->reason.kind, StopReason::Kind::stopped) << done->reason.describe();
    }
  }
  EXPECT_TRUE(alloc->ended());
}

TEST_F(RemoteLauncherTest, SigtermStopsTheLauncherAndEveryProcItStarted) {
  ASSERT_GT(launchers_.start(0, "", {"--listen", listen_}), 0);
  auto alloc = RemoteAllocator::allocate(runtime_, spec(2), testing::registry(), options()).value();
  std::map<std::uint32_t, pid_t> pids;
  for (int running = 0; running < 2;) {
    auto event = alloc->next_event(deadline_in(30s));
    ASSERT_TRUE(event.has_value()) << "procs did not come up";
    ASSERT_FALSE(std::holds_alternative<AllocFailed>(*event)) << describe(*event);
    ASSERT_FALSE(std::holds_alternative<ProcStopped>(*event)) << describe(*event);
    if (auto* created = std::get_if<ProcCreated>(&*event)) pids[created->rank] = created->pid;
    running += std::holds_alternative<ProcRunning>(*event) ? 1 : 0;
  }
  // The launcher gives its procs malloc's thresholds, as the process allocator does.
  for (const auto& [rank, pid] : pids) {
    EXPECT_EQ(testing::malloc_tunables_in_environment_of(pid), 1) << "rank " << rank;
  }
  ASSERT_TRUE(launchers_.signal(0, SIGTERM).ok());
  ASSERT_TRUE(testing::wait_until(20s, [&] { return launchers_.exited(0); })) << launchers_.output.dump(0);
  EXPECT_EQ(launchers_.exit_of(0)->kind, ChildExit::Kind::exited);
  EXPECT_EQ(launchers_.exit_of(0)->code, 0) << launchers_.output.dump(0);
  // Two ends reported, one per rank; then the stream has ended, so a second report of
  // either would still be queued.
  std::map<std::uint32_t, int> lost;
  for (int reports = 0; reports < 2; ++reports) {
    auto event = alloc->next_event(deadline_in(10s));
    ASSERT_TRUE(event.has_value()) << reports << " ranks reported lost";
    auto* down = std::get_if<ProcStopped>(&*event);
    ASSERT_NE(down, nullptr) << describe(*event);
    EXPECT_EQ(down->reason.kind, StopReason::Kind::host_lost) << down->reason.describe();
    ++lost[down->rank];
  }
  EXPECT_EQ(lost, (std::map<std::uint32_t, int>{{0, 1}, {1, 1}}));
  EXPECT_TRUE(alloc->ended());
  for (const auto& [rank, pid] : pids) {
    EXPECT_NE(::kill(pid, 0), 0) << "rank " << rank << " outlived its launcher";
  }
}

// No launcher at the address: the allocation fails within the heartbeat deadline, saying so.
TEST_F(RemoteLauncherTest, MissingLauncherFailsTheAllocationSayingWhere) {
  auto alloc = RemoteAllocator::allocate(runtime_, spec(1), testing::registry(), options());
  ASSERT_TRUE(alloc.ok()) << alloc.error().describe();
  const auto started = Clock::now();
  auto mesh = ProcMesh::allocate(runtime_, std::move(*alloc), deadline_in(30s));
  ASSERT_FALSE(mesh.ok());
  EXPECT_LT(Clock::now() - started, runtime_.config().heartbeat_timeout + 2s);
  EXPECT_NE(mesh.error().message.find("host lost"), std::string::npos) << mesh.error().message;
  EXPECT_NE(mesh.error().message.find(fmt::format("no answer from the launcher at tcp://127.0.0.1:{}", port_)),
            std::string::npos)
      << mesh.error().message;
  EXPECT_NE(mesh.error().message.find("is zmesh-launcher running there"), std::string::npos) << mesh.error().message;
}

// Stop reasons cross the launcher as they are: an exit code with its stderr tail, a kill
// signal, and the client's watchdog verdict on a frozen proc.
TEST_F(RemoteLauncherTest, PreciseStopReasonsAreRelayed) {
  ASSERT_GT(launchers_.start(0, "", {"--listen", listen_}), 0);
  auto alloc = RemoteAllocator::allocate(runtime_, spec(3), testing::registry(), options());
  ASSERT_TRUE(alloc.ok()) << alloc.error().describe();
  auto mesh = ProcMesh::allocate(runtime_, std::move(*alloc), deadline_in(60s));
  ASSERT_TRUE(mesh.ok()) << mesh.error().describe();
  auto workers = (*mesh)->spawn<testing::WorkerActor>("worker", {""}, deadline_in(30s)).value();
  auto next_crash = [&] {
    while (auto event = (*mesh)->next_event(deadline_in(15s))) {
      if (event->kind == MeshEvent::Kind::proc_crashed) return std::optional<MeshEvent>(event);
    }
    return std::optional<MeshEvent>();
  };
  ASSERT_TRUE(workers.cast(parse_selection("0,0").value(), testing::Print{"last words", true}).ok());
  ASSERT_TRUE(workers.cast(parse_selection("0,0").value(), testing::Exit{3}).ok());
  auto exited = next_crash();
  ASSERT_TRUE(exited.has_value());
  EXPECT_EQ(exited->rank, 0u);
  EXPECT_EQ(exited->reason.kind, StopReason::Kind::exited) << exited->describe();
  EXPECT_EQ(exited->reason.code, 3);
  EXPECT_NE(exited->reason.describe().find("last words"), std::string::npos) << exited->describe();

  ASSERT_TRUE((*mesh)->kill(1, SIGKILL).ok());
  auto killed = next_crash();
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->rank, 1u);
  EXPECT_EQ(killed->reason.kind, StopReason::Kind::killed) << killed->describe();
  EXPECT_EQ(killed->reason.signal, SIGKILL);

  ASSERT_TRUE((*mesh)->kill(2, SIGSTOP).ok());
  auto frozen = next_crash();
  ASSERT_TRUE(frozen.has_value());
  EXPECT_EQ(frozen->rank, 2u);
  EXPECT_EQ(frozen->reason.kind, StopReason::Kind::watchdog) << frozen->describe();
  EXPECT_NE(frozen->reason.detail.find("no heartbeat answer"), std::string::npos) << frozen->describe();
  EXPECT_TRUE((*mesh)->stop(deadline_in(30s)).ok());
}

}  // namespace
}  // namespace zmesh
