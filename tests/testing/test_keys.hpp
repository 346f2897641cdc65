#pragma once
// CURVE keys for tests: one fixed pair (for tests only: it is public in this file) so that
// every endpoint, launcher and client of a test agrees without passing keys around, a second
// pair for "a peer with another key", and a key file on disk for launchers and tools.
// Thread: value types; a TestKeyFile belongs to the test that made it.

#include "zmesh/core/key_file.hpp"

#include "testing/wait.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace zmesh::testing {

inline CurveKeyPair test_key_pair() {
  return {">UYic4:N(mbzrsKia9&s=8b#57:7B*/>W8R82Ww*", "qn65T<R5/bzP{WoM0.Rie#0z.4UZ4l[(#K.C:EN^"};
}

inline CurveKeyPair other_key_pair() {
  return {"hE&i-*Psp%Yuj063sO88@EXo>Dd/wf{T/MQL){+W", "w1Z?b.u.8qvk9.[[Y&))D}xZpp[]!:gT{vj+>J/v"};
}

// `keys` in a new 0600 file under the test's temp directory, removed at destruction.
class TestKeyFile {
 public:
  explicit TestKeyFile(const CurveKeyPair& keys = test_key_pair(), const std::string& name = "key")
      : path_(unique_temp_path(name)) {
    auto written = write_key_file(path_, keys);
    EXPECT_TRUE(written.ok()) << written.error().describe();
  }
  ~TestKeyFile() { ::unlink(path_.c_str()); }
  TestKeyFile(const TestKeyFile&) = delete;
  TestKeyFile& operator=(const TestKeyFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace zmesh::testing
