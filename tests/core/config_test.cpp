// Config: defaults, ZMESH_* overrides, and errors that name the variable.
#include "zmesh/core/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace zmesh {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void TearDown() override {
    ::unsetenv("ZMESH_DELIVERY_TIMEOUT_MS");
    ::unsetenv("ZMESH_PROC_THREADS");
    ::unsetenv("ZMESH_LOG");
    ::unsetenv("ZMESH_ACK_DELAY_MS");
    ::unsetenv("ZMESH_RESEND_INTERVAL_MS");
    ::unsetenv("ZMESH_SHM_THRESHOLD");
    ::unsetenv("ZMESH_SHM_DIR");
    ::unsetenv("ZMESH_HOST_KEY");
    ::unsetenv("ZMESH_SHM_LANE_BYTES");
  }
};

TEST_F(ConfigTest, LaneRingsArePowersOfTwoOrZero) {
  for (const char* good : {"0", "4096", "1048576"}) {
    ::setenv("ZMESH_SHM_LANE_BYTES", good, 1);
    auto config = Config::from_environment();
    ASSERT_TRUE(config.ok()) << good << ": " << config.error().describe();
    EXPECT_EQ(config->shm_lane_bytes, std::stoll(good));
  }
  for (const char* bad : {"1000", "2048", "6000", "-4096", "2147483648"}) {
    ::setenv("ZMESH_SHM_LANE_BYTES", bad, 1);
    auto config = Config::from_environment();
    ASSERT_FALSE(config.ok()) << bad << " was taken";
    EXPECT_NE(config.error().message.find("ZMESH_SHM_LANE_BYTES"), std::string::npos)
        << config.error().message;
  }
}

TEST_F(ConfigTest, EnvironmentOverridesDefaults) {
  ::setenv("ZMESH_DELIVERY_TIMEOUT_MS", "1234", 1);
  ::setenv("ZMESH_PROC_THREADS", "3", 1);
  auto config = Config::from_environment();
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config->delivery_timeout, Millis(1234));
  EXPECT_EQ(config->proc_threads, 3u);
  EXPECT_EQ(config->resend_interval, Config{}.resend_interval);
}

TEST_F(ConfigTest, MalformedValueNamesTheVariable) {
  ::setenv("ZMESH_DELIVERY_TIMEOUT_MS", "12s", 1);
  auto config = Config::from_environment();
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(config.error().message.find("ZMESH_DELIVERY_TIMEOUT_MS=\"12s\""), std::string::npos);
  ::setenv("ZMESH_DELIVERY_TIMEOUT_MS", "5", 1);
  ::setenv("ZMESH_LOG", "loud", 1);
  EXPECT_FALSE(Config::from_environment().ok());
  ::setenv("ZMESH_LOG", "info", 1);
  ::setenv("ZMESH_PROC_THREADS", "0", 1);
  EXPECT_FALSE(Config::from_environment().ok());
}

TEST_F(ConfigTest, AckDelayMustStayWellInsideTheResendInterval) {
  // An ack held as long as the resend interval would make every sender resend what arrived.
  ::setenv("ZMESH_RESEND_INTERVAL_MS", "100", 1);
  ::setenv("ZMESH_ACK_DELAY_MS", "50", 1);
  auto config = Config::from_environment();
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("ZMESH_ACK_DELAY_MS=50"), std::string::npos)
      << config.error().message;
  ::setenv("ZMESH_ACK_DELAY_MS", "0", 1);
  config = Config::from_environment();
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config->ack_delay, Millis(0));
}

TEST_F(ConfigTest, SharedMemorySettingsAndTheHostKeyStaysLocal) {
  ::setenv("ZMESH_SHM_THRESHOLD", "0", 1);
  ::setenv("ZMESH_SHM_DIR", "/mnt/fast", 1);
  ::setenv("ZMESH_HOST_KEY", "test-host", 1);
  auto config = Config::from_environment();
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config->shm_threshold, 0);
  EXPECT_EQ(config->shm_dir, "/mnt/fast");
  EXPECT_EQ(config->host_key, "test-host");
  // A test's host override must not make its child procs claim the same fake host.
  for (const auto& [name, value] : config->to_environment()) EXPECT_NE(name, "ZMESH_HOST_KEY");

  ::setenv("ZMESH_SHM_THRESHOLD", "-1", 1);
  auto negative = Config::from_environment();
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("ZMESH_SHM_THRESHOLD"), std::string::npos);
  ::setenv("ZMESH_SHM_THRESHOLD", "1", 1);
  ::setenv("ZMESH_SHM_DIR", "", 1);
  auto empty_dir = Config::from_environment();
  ASSERT_FALSE(empty_dir.ok());
  EXPECT_NE(empty_dir.error().message.find("ZMESH_SHM_DIR"), std::string::npos);
}

TEST_F(ConfigTest, DescribeListsEverySettingWithItsDefault) {
  const auto lines = Config{}.describe();
  EXPECT_GE(lines.size(), 15u);
  bool found = false;
  for (const auto& line : lines) {
    if (line.rfind("ZMESH_DELIVERY_TIMEOUT_MS=30000  (default 30000)", 0) == 0) found = true;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace zmesh
