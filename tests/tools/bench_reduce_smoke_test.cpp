// `zmesh bench reduce` and `zmesh bench allreduce` end to end, as the real binary
// (ZMESH_BINARY): 2 procs and 2 raw receivers, a short window run twice; the table names
// every case, and the --json rows hold every field with a nonzero rate. No timed assertions:
// the numbers only have to exist.

#include "tools/zmesh_run.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <ostream>
#include <regex>
#include <string>
#include <vector>

namespace zmesh {
namespace {

using namespace std::chrono_literals;

struct BenchCase {
  std::string bench;               // reduce or allreduce
  std::vector<std::string> cases;  // the rows the table and the JSON must hold
};

// Names the case in test names and failures ("reduce"), rather than its bytes.
void PrintTo(const BenchCase& param, std::ostream* out) { *out << param.bench; }

class BenchReduceSmokeTest : public ::testing::TestWithParam<BenchCase> {};

// The JSON of one row: from its opening brace (the case's procs and payload come first) to
// the end of its median fields.
std::string row_of(const std::string& json, const std::string& name) {
  const auto at = json.find("\"case\":\"" + name + "\"");
  if (at == std::string::npos) return "";
  const auto begin = json.rfind('{', at);
  return json.substr(begin, json.find("\"runs\"", at) - begin);
}

TEST_P(BenchReduceSmokeTest, PrintsEveryCaseAndWritesTheJsonRows) {
  const BenchCase& param = GetParam();
  const std::string json_path =
      ::testing::TempDir() + "bench_" + param.bench + "_" + std::to_string(::getpid()) + ".json";
  const auto run = testing::run_zmesh({"bench", param.bench, "--procs", "2", "--payload", "64KiB",
                                       "--seconds", "0.2", "--repeat", "2", "--json", json_path},
                                      120s);
  ASSERT_EQ(run.code(), 0) << run.output;
  EXPECT_TRUE(run.contains("x raw")) << run.output;
  EXPECT_TRUE(run.contains("where to look next")) << run.output;
  std::ifstream file(json_path);
  const std::string json{std::istreambuf_iterator<char>(file), {}};
  std::remove(json_path.c_str());
  EXPECT_NE(json.find("\"bench\":\"" + param.bench + "\""), std::string::npos) << json;
  for (const auto& name : param.cases) {
    EXPECT_TRUE(run.contains(name)) << name << " is not in the table:\n" << run.output;
    const std::string row = row_of(json, name);
    ASSERT_FALSE(row.empty()) << name << " has no JSON row:\n" << json;
    for (const char* field : {"\"procs\":2", "\"payload\":65536", "\"p50_us\":", "\"p99_us\":",
                              "\"cpu_us_per_step\":", "\"ratio_to_raw\":"}) {
      EXPECT_NE(row.find(field), std::string::npos) << name << " lacks " << field << ": " << row;
    }
    std::smatch rate;
    ASSERT_TRUE(std::regex_search(row, rate, std::regex("\"steps_per_s\":([0-9.]+)"))) << row;
    EXPECT_GT(std::stod(rate[1]), 0) << name << ": " << row;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Benches, BenchReduceSmokeTest,
    ::testing::Values(BenchCase{"reduce",
                                {"zmesh reduce<Sum>", "zmesh call()+sum", "raw gather+sum"}},
                      BenchCase{"allreduce", {"zmesh allreduce<Sum>", "raw gather+sum+bcast"}}),
    [](const auto& info) { return info.param.bench; });

}  // namespace
}  // namespace zmesh
