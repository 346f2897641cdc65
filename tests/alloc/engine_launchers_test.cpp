// EngineLaunchers with mpirun across three fake hosts (network namespaces; Open MPI's rsh
// agent is scripts/netns-exec.sh): one launcher per host comes up, a controller allocates a
// mesh through them, and stop() leaves nothing on the hosts; launchers that never listen
// are named with their last output and where their logs are. Needs root and Open MPI
// (label "root"); skips otherwise. Bad options are refused without root.
#include "zmesh/alloc/engine_launchers.hpp"
#include "zmesh/alloc/remote_allocator.hpp"
#include "zmesh/mesh/proc_mesh.hpp"

#include "remote_test_support.hpp"
#include "testing/mesh_actors.hpp"
#include "testing/mesh_testing.hpp"
#include "testing/wait.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

// Ours (this test binary or the launcher) among the processes of a fake host: Slurm's
// daemons may share the hosts.
std::set<pid_t> ours_on(const std::string& host) {
  std::set<pid_t> ours;
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  for (pid_t pid : testing::namespace_pids(host)) {
    const auto exe = std::filesystem::read_symlink(fmt::format("/proc/{}/exe", pid), error);
    if (!error && (exe == self || exe == std::filesystem::canonical(ZMESH_LAUNCHER))) ours.insert(pid);
  }
  return ours;
}

class MpirunLaunchersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = hosts_.unavailable(); !why.empty()) GTEST_SKIP() << why;
    if (std::system("command -v mpirun >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "Open MPI is not installed (apt-get install openmpi-bin; scripts/install-deps.sh does)";
    }
  }
  void TearDown() override {
    if (IsSkipped()) return;
    for (std::uint32_t i = 0; i < hosts_.count; ++i) {
      EXPECT_TRUE(testing::wait_until(10s, [&] { return ours_on(hosts_.name(i)).empty(); }))
          << hosts_.name(i) << " still runs a launcher or proc";
    }
    std::filesystem::remove_all(log_dir_);
  }

  EngineLaunchersOptions options() {
    EngineLaunchersOptions options;
    options.engine = LauncherEngine::mpirun;
    options.launcher = ZMESH_LAUNCHER;
    for (std::uint32_t i = 0; i < hosts_.count; ++i) options.hosts.push_back(hosts_.name(i));
    // As root (these tests are), mpirun insists on being told that is fine.
    options.engine_args = {"--allow-run-as-root", "--mca", "plm_rsh_agent",
                           std::string(ZMESH_SOURCE_DIR) + "/scripts/netns-exec.sh"};
    options.launcher_args = {"--key", key_file_.path()};
    options.log_dir = log_dir_;
    options.ready_timeout = Millis(60000);
    options.progress = [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      progress_.push_back(line);
    };
    return options;
  }
  std::string progress_text() {
    std::lock_guard lock(mutex_);
    return fmt::format("{}", fmt::join(progress_, "\n"));
  }

  testing::FakeHosts hosts_;
  testing::TestKeyFile key_file_;
  std::string log_dir_ = testing::unique_temp_path("mpirun-launchers");
  std::mutex mutex_;
  std::vector<std::string> progress_;
};

TEST_F(MpirunLaunchersTest, StartsOneLauncherPerHostThatAControllerAllocatesThrough) {
  const auto started = Clock::now();
  auto launchers = EngineLaunchers::start(options());
  ASSERT_TRUE(launchers.ok()) << launchers.error().describe();
  const auto took = std::chrono::duration_cast<Millis>(Clock::now() - started).count();
  std::printf("[ MEASURE  ] 3 launchers up through mpirun: %lld ms\n", static_cast<long long>(took));
  EXPECT_NE(progress_text().find("started 3 of 3 launchers"), std::string::npos) << progress_text();
  ASSERT_EQ((*launchers)->hosts().size(), hosts_.count);
  for (std::uint32_t i = 0; i < hosts_.count; ++i) {
    EXPECT_EQ((*launchers)->hosts()[i], (HostEntry{hosts_.ip(i), default_launcher_port, 0}));
    EXPECT_EQ((*launchers)->nodes()[i], hosts_.name(i));
    EXPECT_TRUE(std::filesystem::exists(fmt::format("{}/zmesh-launcher-{}.log", log_dir_, hosts_.name(i))));
  }
  {
    Runtime runtime(testing::remote_test_config(Millis(1500)));
    RemoteAllocatorOptions remote;
    remote.hosts = (*launchers)->hosts();
    remote.client_host = hosts_.bridge_ip();
    AllocSpec spec;
    spec.transport = AllocTransport::tcp;
    spec.dimensions = {{"host", hosts_.count}, {"gpu", 1}};
    auto alloc = RemoteAllocator::allocate(runtime, spec, testing::registry(), remote);
    ASSERT_TRUE(alloc.ok()) << alloc.error().describe();
    auto mesh = ProcMesh::allocate(runtime, std::move(*alloc), deadline_in(60s));
    ASSERT_TRUE(mesh.ok()) << mesh.error().describe();
    auto workers = (*mesh)->spawn<testing::WorkerActor>("worker", {""}, deadline_in(30s)).value();
    auto replies = workers.call(testing::Where{}, deadline_in(30s));
    ASSERT_TRUE(replies.ok()) << replies.error().describe();
    ASSERT_TRUE(replies->complete());
    for (const auto& [rank, reply] : replies->replies) {
      EXPECT_TRUE(ours_on(hosts_.name(rank)).contains(static_cast<pid_t>(reply.pid)))
          << "rank " << rank << " is not on " << hosts_.name(rank);
    }
    ASSERT_TRUE((*mesh)->stop(deadline_in(30s)).ok());
  }
  const auto stopping = Clock::now();
  EXPECT_TRUE((*launchers)->stop(deadline_in(30s)));
  std::printf("[ MEASURE  ] 3 launchers stopped through mpirun: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<Millis>(Clock::now() - stopping).count()));
  for (std::uint32_t i = 0; i < hosts_.count; ++i) EXPECT_EQ(ours_on(hosts_.name(i)), std::set<pid_t>{});
}

TEST_F(MpirunLaunchersTest, LaunchersThatNeverListenAreNamedWithTheirOutputAndLogs) {
  auto bad = options();
  bad.launcher_args = {"--max-procs=many"};  // every launcher exits at once with code 2
  auto launchers = EngineLaunchers::start(bad);
  ASSERT_FALSE(launchers.ok());
  const std::string& message = launchers.error().message;
  EXPECT_NE(message.find("3 of 3 zmesh-launchers never said they listen (mpirun exited"), std::string::npos) << message;
  for (std::uint32_t i = 0; i < hosts_.count; ++i) {
    EXPECT_NE(message.find(hosts_.name(i) + " (last output: \"zmesh-launcher: "), std::string::npos) << message;
  }
  EXPECT_NE(message.find(log_dir_ + "/zmesh-launcher-HOST.log"), std::string::npos) << message;
}

TEST_F(MpirunLaunchersTest, LaunchersThatDoNotListenInTimeAreNamed) {
  auto slow = options();
  slow.ready_timeout = Millis(1);  // no launcher can be up within a millisecond
  const auto started = Clock::now();
  auto launchers = EngineLaunchers::start(slow);
  ASSERT_FALSE(launchers.ok());
  EXPECT_EQ(launchers.error().code, ErrorCode::timeout);
  EXPECT_NE(launchers.error().message.find("(not within 1 ms)"), std::string::npos) << launchers.error().message;
  EXPECT_NE(launchers.error().message.find(hosts_.name(2)), std::string::npos) << launchers.error().message;
  EXPECT_LT(Clock::now() - started, 25s);  // and what mpirun started is stopped
}

TEST(EngineLaunchersOptionsTest, BadChoicesAreRefusedClearly) {
  auto engine = parse_launcher_engine("pbs");
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.error().message.find("slurm (or srun) or mpirun"), std::string::npos);
  EXPECT_EQ(parse_launcher_engine("srun").value(), LauncherEngine::slurm);

  EngineLaunchersOptions options;
  options.hosts = {"a"};
  auto refused = EngineLaunchers::start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("leave the hosts empty"), std::string::npos) << refused.error().message;
  if (std::getenv("SLURM_JOB_NODELIST") == nullptr) {
    auto outside = EngineLaunchers::start(EngineLaunchersOptions{});
    ASSERT_FALSE(outside.ok());
    EXPECT_NE(outside.error().message.find("not inside a Slurm allocation"), std::string::npos)
        << outside.error().message;
  }
}

}  // namespace
}  // namespace zmesh
