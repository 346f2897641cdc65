// `zmesh doctor`, `zmesh status` and `zmesh bench cast --hosts` against zmesh-launchers on
// fake hosts (network namespaces from the zmesh_netns fixture), run as the real binaries:
// doctor names a host without a launcher, a name that does not resolve, a wrong key (or
// none), a missing executable and a host that cannot reach the client back, and passes
// when all is well;
// status lists a client's procs and says which host did not answer; the cross-host bench
// runs a tiny sweep to the end. Needs root (label "root"); skips otherwise. Nothing is timed.
#include "zmesh/alloc/remote_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"

#include "alloc/remote_test_support.hpp"
#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"
#include "testing/wait.hpp"
#include "tools/zmesh_run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

class LauncherOpsTest : public testing::FakeHostsTest {
 protected:
  std::uint32_t launchers_at_start() const override { return 0; }
  void start_launchers(std::uint32_t count) {
    for (std::uint32_t i = 0; i < count; ++i) start_launcher(i);
  }

  // "ip1,ip2,..." for the first `count` hosts.
  std::string host_list(std::uint32_t count) const {
    std::vector<std::string> ips;
    for (std::uint32_t i = 0; i < count; ++i) ips.push_back(hosts_.ip(i));
    return fmt::format("{}", fmt::join(ips, ","));
  }

};

TEST_F(LauncherOpsTest, DoctorPassesWhenEveryHostIsReady) {
  start_launchers(3);
  const auto run = testing::run_zmesh({"doctor", "--key", launchers_.key_file(), "--hosts", host_list(3)}, 60s);
  EXPECT_EQ(run.code(), 0) << run.output;
  EXPECT_TRUE(run.contains("all 3 hosts ready")) << run.output;
  EXPECT_TRUE(run.contains("ZMESH_HEARTBEAT_TIMEOUT_MS")) << "the effective configuration:\n" << run.output;
  EXPECT_FALSE(run.contains("FAIL")) << run.output;
}

TEST_F(LauncherOpsTest, DoctorNamesAHostWithoutALauncherAndANameThatDoesNotResolve) {
  start_launchers(2);
  const auto run = testing::run_zmesh({"doctor", "--key", launchers_.key_file(), "--hosts", host_list(3) + ",no-such-host.invalid"}, 60s);
  EXPECT_EQ(run.code(), 1) << run.output;
  EXPECT_TRUE(run.contains(fmt::format("connection to {}:26600 refused", hosts_.ip(2)))) << run.output;
  EXPECT_TRUE(run.contains(fmt::format("zmesh-launcher --listen tcp://{}:26600", hosts_.ip(2)))) << run.output;
  EXPECT_TRUE(run.contains("resolve FAILED: cannot resolve \"no-such-host.invalid\"")) << run.output;
  EXPECT_TRUE(run.contains("2 of 4 hosts not ready")) << run.output;
}

// Launchers with the test key pair; the doctor with another: the handshake row fails and
// says to use the launchers' key file.
TEST_F(LauncherOpsTest, DoctorNamesAWrongKey) {
  start_launchers(1);
  testing::TestKeyFile other(testing::other_key_pair(), "other-key");
  const auto run = testing::run_zmesh({"doctor", "--key", other.path(), "--hosts", host_list(1)}, 60s);
  EXPECT_EQ(run.code(), 1) << run.output;
  EXPECT_TRUE(run.contains("handshake FAILED")) << run.output;
  EXPECT_TRUE(run.contains("key file")) << run.output;
  EXPECT_TRUE(run.contains("1 of 1 hosts not ready")) << run.output;
}

// Plain tcp against CURVE launchers: refused at the handshake too.
TEST_F(LauncherOpsTest, DoctorNamesAnInsecureClientOfSecureLaunchers) {
  start_launchers(1);
  const auto run = testing::run_zmesh({"doctor", "--insecure", "--hosts", host_list(1)}, 60s);
  EXPECT_EQ(run.code(), 1) << run.output;
  EXPECT_TRUE(run.contains("handshake FAILED")) << run.output;
}

TEST_F(LauncherOpsTest, DoctorNamesAMissingExecutable) {
  start_launchers(1);
  const auto run = testing::run_zmesh({"doctor", "--key", launchers_.key_file(), "--hosts", host_list(1), "--executable", "/no/such/trainer"}, 60s);
  EXPECT_EQ(run.code(), 1) << run.output;
  EXPECT_TRUE(run.contains("executable FAILED")) << run.output;
  EXPECT_TRUE(run.contains("cannot run /no/such/trainer: No such file or directory")) << run.output;
  EXPECT_TRUE(run.contains("1 of 1 hosts not ready")) << run.output;
}

// 127.0.0.1 is this machine only from here: on the host, the launcher's connect to it stays
// in that host's own loopback and is refused, as a proc's would be.
TEST_F(LauncherOpsTest, DoctorNamesAHostThatCannotReachTheClientBack) {
  start_launchers(1);
  const auto run = testing::run_zmesh({"doctor", "--key", launchers_.key_file(), "--hosts", host_list(1), "--client-host", "127.0.0.1"}, 60s);
  EXPECT_EQ(run.code(), 1) << run.output;
  EXPECT_TRUE(run.contains("reach back FAILED")) << run.output;
  EXPECT_TRUE(run.contains("refused")) << run.output;
  EXPECT_TRUE(run.contains("--client-host")) << run.output;
}

TEST_F(LauncherOpsTest, StatusListsAClientsProcsAndTheHostThatDidNotAnswer) {
  start_launchers(2);
  // The first two launchers: the third host has none, and status must say so.
  auto mesh = allocate_mesh(runtime_, host_spec(2, 2), hosts_.client_options());
  ASSERT_TRUE(mesh);
  auto workers = mesh->spawn<testing::WorkerActor>("worker", {""}, deadline_in(30s)).value();
  auto replies = workers.call(testing::Where{}, deadline_in(30s));
  ASSERT_TRUE(replies.ok() && replies->complete());

  const auto run = testing::run_zmesh({"status", "--key", launchers_.key_file(), "--hosts", host_list(3), "--timeout-ms", "2000"}, 60s);
  EXPECT_EQ(run.code(), 1) << "a host did not answer:\n" << run.output;
  EXPECT_TRUE(run.contains(fmt::format("client pid {} on", ::getpid()))) << run.output;
  EXPECT_TRUE(run.contains("1 client, 2 procs")) << run.output;
  for (const auto& [rank, reply] : replies->replies) {
    EXPECT_TRUE(run.contains(fmt::format("{:>6} {:>8}  running", rank, reply.pid))) << rank << "\n" << run.output;
  }
  EXPECT_TRUE(run.contains(fmt::format("{}:26600: NO ANSWER", hosts_.ip(2)))) << run.output;
  EXPECT_TRUE(run.contains("is zmesh-launcher running there")) << run.output;
  EXPECT_TRUE(mesh->stop(deadline_in(30s)).ok());
}

TEST_F(LauncherOpsTest, BenchCastAcrossHostsRunsATinySweep) {
  start_launchers(3);
  const auto run = testing::run_zmesh({"bench", "cast", "--key", launchers_.key_file(), "--hosts", host_list(3), "--procs-per-host", "1", "--payload", "1KiB",
                              "--inflight", "2", "--seconds", "0.1", "--client-host", hosts_.bridge_ip()},
                             180s);
  EXPECT_EQ(run.code(), 0) << run.output;
  EXPECT_TRUE(run.contains("across 3 hosts")) << run.output;
  EXPECT_TRUE(run.contains("zm/raw")) << run.output;
  EXPECT_TRUE(run.contains("    3     1KiB        1 |")) << "the row of 3 procs, 1 in flight:\n" << run.output;
}

}  // namespace
}  // namespace zmesh
