// Host lists: Slurm's compressed node lists (table tests, and `scontrol show hostnames` when
// Slurm is installed), explicit lists, Open MPI hostfiles, and which source find_hosts picks.
#include "zmesh/alloc/host_list.hpp"

#include "testing/wait.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace zmesh {
namespace {

using Names = std::vector<std::string>;

TEST(SlurmNodelistTest, ExpandsRangesListsAndPadding) {
  const std::vector<std::pair<std::string, Names>> table = {
      {"tnode1", {"tnode1"}},
      {"tnode[1-3]", {"tnode1", "tnode2", "tnode3"}},
      {"tnode[1-3,7],gpu[01-04]", {"tnode1", "tnode2", "tnode3", "tnode7", "gpu01", "gpu02", "gpu03", "gpu04"}},
      {"gpu[08-11]", {"gpu08", "gpu09", "gpu10", "gpu11"}},
      {"a,b,c", {"a", "b", "c"}},
      {"n[1,3],m", {"n1", "n3", "m"}},
      {"rack[1-2]-n[1-2]", {"rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"}},
      {"node[9-10].ib", {"node9.ib", "node10.ib"}},  // Slurm 22.05 refuses a suffix; we allow it
      {"x[007]", {"x007"}},
  };
  for (const auto& [text, expected] : table) {
    auto names = expand_slurm_nodelist(text);
    ASSERT_TRUE(names.ok()) << text << ": " << names.error().describe();
    EXPECT_EQ(*names, expected) << text;
  }
}

TEST(SlurmNodelistTest, MalformedListsAreRefusedNamingThePosition) {
  const std::map<std::string, std::string> table = {
      {"tnode[1-3", "']' to close '['"},
      {"tnode[3-1]", "ascending range"},
      {"tnode[]", "a number"},
      {"tnode[1-]", "after '-'"},
      {"tnode[a]", "a number"},
      {"a,,b", "a host name"},
      {"a,", "after ','"},
      {"", "empty"},
      {"a]", "host name character"},
  };
  for (const auto& [text, expected] : table) {
    auto names = expand_slurm_nodelist(text);
    ASSERT_FALSE(names.ok()) << text;
    EXPECT_EQ(names.error().code, ErrorCode::parse_error);
    EXPECT_NE(names.error().message.find(expected), std::string::npos) << text << ": " << names.error().message;
  }
  auto huge = expand_slurm_nodelist("n[1-999999999]", 1000);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message.find("at most 1000 names"), std::string::npos) << huge.error().message;
}

// Where Slurm is installed, our expansion agrees with Slurm's own (scontrol needs a
// configuration to start, even for this; a minimal one does when none is set).
TEST(SlurmNodelistTest, AgreesWithScontrolWhenSlurmIsInstalled) {
  if (std::system("command -v scontrol >/dev/null 2>&1") != 0) GTEST_SKIP() << "Slurm (scontrol) is not installed";
  std::string conf;
  if (std::getenv("SLURM_CONF") == nullptr) {
    conf = testing::unique_temp_path("slurm.conf");
    std::ofstream(conf) << "ClusterName=zmesh\nSlurmctldHost=localhost\nNodeName=x\nPartitionName=p Nodes=x\n";
  }
  for (const std::string text :
       {"tnode[1-3,7],gpu[01-04]", "rack[1-2]-n[1-2]", "a,b[08-11]", "x[007]", "n[1,3],m", "gpu[8-12]"}) {
    const std::string command =
        (conf.empty() ? "" : "SLURM_CONF=" + conf + " ") + "scontrol show hostnames '" + text + "' 2>/dev/null";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    Names expected;
    char line[256];
    while (std::fgets(line, sizeof line, pipe)) {
      std::string name(line);
      while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
      expected.push_back(name);
    }
    ::pclose(pipe);
    if (expected.empty()) {
      if (!conf.empty()) std::remove(conf.c_str());
      GTEST_SKIP() << "scontrol printed nothing for " << text << " (no usable slurm.conf?)";
    }
    EXPECT_EQ(expand_slurm_nodelist(text).value(), expected) << text;
  }
  if (!conf.empty()) std::remove(conf.c_str());
}

TEST(HostListTest, ParsesHostsPortsAndIpv6) {
  auto hosts = parse_host_list("node1, node2:7000 10.0.0.3,[::1]:9000", 26600);
  ASSERT_TRUE(hosts.ok()) << hosts.error().describe();
  const std::vector<HostEntry> expected = {
      {"node1", 26600, 0}, {"node2", 7000, 0}, {"10.0.0.3", 26600, 0}, {"::1", 9000, 0}};
  EXPECT_EQ(*hosts, expected);
  EXPECT_EQ((*hosts)[3].to_string(), "[::1]:9000");
  for (const std::string bad : {"", "node:", "node:0", "node:70000", "node:x", ":7000", "::1"}) {
    EXPECT_FALSE(parse_host_list(bad).ok()) << "\"" << bad << "\"";
  }
  EXPECT_NE(parse_host_list("a,node:99999").error().message.find("node:99999"), std::string::npos);
}

TEST(HostListTest, ReadsOpenMpiHostfiles) {
  auto hosts = parse_hostfile("# the cluster\nnode1 slots=4\n\nnode2:7000 slots=2 max_slots=8  # big\nnode3\n",
                              "hosts.txt");
  ASSERT_TRUE(hosts.ok()) << hosts.error().describe();
  const std::vector<HostEntry> expected = {{"node1", 26600, 4}, {"node2", 7000, 2}, {"node3", 26600, 0}};
  EXPECT_EQ(*hosts, expected);
  auto bad = parse_hostfile("node1\nnode2 cpus=4\n", "hosts.txt");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("hosts.txt:2"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("cpus=4"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(parse_hostfile("# nothing\n", "empty.txt").ok());
  auto missing = read_hostfile("/no/such/hostfile");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/no/such/hostfile"), std::string::npos);
}

TEST(FindHostsTest, PicksTheFirstSourceGivenAndNamesEveryOneTried) {
  std::map<std::string, std::string> environment;
  HostSources sources;
  sources.getenv = [&](const std::string& name) -> std::optional<std::string> {
    auto found = environment.find(name);
    return found == environment.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
  auto none = find_hosts(sources);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::not_found);
  for (const std::string tried : {"host list", "hostfile", "ZMESH_HOSTS", "ZMESH_HOSTFILE",
                                  "OMPI_MCA_orte_default_hostfile", "OMPI_MCA_orte_default_dash_host",
                                  "SLURM_JOB_NODELIST"}) {
    EXPECT_NE(none.error().message.find(tried), std::string::npos) << none.error().message;
  }

  environment["SLURM_JOB_NODELIST"] = "tnode[1-2]";
  auto slurm = find_hosts(sources);
  ASSERT_TRUE(slurm.ok()) << slurm.error().describe();
  EXPECT_EQ(slurm->source, "SLURM_JOB_NODELIST=tnode[1-2]");
  ASSERT_EQ(slurm->hosts.size(), 2u);
  EXPECT_EQ(slurm->hosts[1].to_string(), "tnode2:26600");

  const std::string path = testing::unique_temp_path("hostfile");
  std::ofstream(path) << "h1 slots=2\nh2 slots=2\nh3\n";
  sources.hostfile = path;
  auto file = find_hosts(sources);
  ASSERT_TRUE(file.ok()) << file.error().describe();
  EXPECT_EQ(file->hosts.size(), 3u);
  EXPECT_EQ(file->source, "hostfile " + path);

  sources.list = "a:1,b:2";
  auto list = find_hosts(sources);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->hosts.size(), 2u);
  std::remove(path.c_str());

  sources = HostSources{};
  sources.getenv = [](const std::string& name) {
    return name == "SLURM_JOB_NODELIST" ? std::optional<std::string>("n[1-") : std::nullopt;
  };
  auto broken = find_hosts(sources);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("SLURM_JOB_NODELIST=n[1-"), std::string::npos) << broken.error().message;
}

TEST(HostListTest, ParsesOpenMpiHostSyntaxWhereColonMeansSlots) {
  auto hosts = parse_mpi_host_list("tnode1:2,tnode2 tnode3:16", 7000);
  ASSERT_TRUE(hosts.ok()) << hosts.error().describe();
  ASSERT_EQ(hosts->size(), 3u);
  EXPECT_EQ((*hosts)[0], (HostEntry{"tnode1", 7000, 2}));
  EXPECT_EQ((*hosts)[1], (HostEntry{"tnode2", 7000, 0}));
  EXPECT_EQ((*hosts)[2], (HostEntry{"tnode3", 7000, 16}));
  for (const std::string bad : {"a:x", ":2", "a:", ""}) {
    auto refused = parse_mpi_host_list(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.error().message.find("Open MPI host"), std::string::npos) << refused.error().message;
  }
}

// A controller under mpirun: Open MPI's MCA parameters name the hosts; they come after
// ZMESH_* and before Slurm's list (mpirun inside an allocation with its own hostfile).
TEST(FindHostsTest, ReadsOpenMpisHostParametersBeforeSlurms) {
  std::map<std::string, std::string> environment{{"SLURM_JOB_NODELIST", "s[1-4]"},
                                                 {"OMPI_COMM_WORLD_SIZE", "3"}};
  HostSources sources;
  sources.getenv = [&](const std::string& name) -> std::optional<std::string> {
    auto found = environment.find(name);
    return found == environment.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
  environment["OMPI_MCA_orte_default_dash_host"] = "m1:2,m2:2";
  auto dash = find_hosts(sources);
  ASSERT_TRUE(dash.ok()) << dash.error().describe();
  EXPECT_EQ(dash->source, "OMPI_MCA_orte_default_dash_host=m1:2,m2:2");
  ASSERT_EQ(dash->hosts.size(), 2u);
  EXPECT_EQ(dash->hosts[1], (HostEntry{"m2", default_launcher_port, 2}));

  const std::string path = testing::unique_temp_path("ompi-hostfile");
  std::ofstream(path) << "f1 slots=4\nf2 slots=4\nf3\n";
  environment["OMPI_MCA_orte_default_hostfile"] = path;
  auto file = find_hosts(sources);
  std::remove(path.c_str());
  ASSERT_TRUE(file.ok()) << file.error().describe();
  EXPECT_EQ(file->source, "OMPI_MCA_orte_default_hostfile=" + path);
  EXPECT_EQ(file->hosts.size(), 3u);

  environment["OMPI_MCA_orte_default_hostfile"] = "none";  // Open MPI's "no hostfile"
  EXPECT_EQ(find_hosts(sources).value().source, "OMPI_MCA_orte_default_dash_host=m1:2,m2:2");

  environment["ZMESH_HOSTS"] = "z1";
  EXPECT_EQ(find_hosts(sources).value().source, "ZMESH_HOSTS=z1");

  environment["OMPI_MCA_orte_default_hostfile"] = "/no/such/hostfile";
  environment.erase("ZMESH_HOSTS");
  auto missing = find_hosts(sources);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("OMPI_MCA_orte_default_hostfile=/no/such/hostfile"), std::string::npos)
      << missing.error().message;
}

// Under mpirun with neither parameter, the error says why the hosts are not known and how
// to pass them.
TEST(FindHostsTest, UnderMpirunWithoutHostParametersTheErrorSaysWhatToPass) {
  HostSources sources;
  sources.getenv = [](const std::string& name) {
    return name == "OMPI_COMM_WORLD_SIZE" ? std::optional<std::string>("3") : std::nullopt;
  };
  auto none = find_hosts(sources);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::not_found);
  for (const std::string text : {"OMPI_COMM_WORLD_SIZE=3", "--mca orte_default_hostfile FILE", "SLURM_JOB_NODELIST"}) {
    EXPECT_NE(none.error().message.find(text), std::string::npos) << none.error().message;
  }
}

}  // namespace
}  // namespace zmesh
