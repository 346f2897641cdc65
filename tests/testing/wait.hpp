#pragma once
// Test helpers for waiting on conditions with a deadline instead of sleeping.
// Thread: wait_until polls the predicate on the calling thread only.

#include <chrono>
#include <functional>
#include <string>

namespace zmesh::testing {

// Polls `condition` every millisecond until it holds or `timeout` passes.
// Returns whether it held; use as ASSERT_TRUE(wait_until(5s, [&] { ... })).
bool wait_until(std::chrono::milliseconds timeout, const std::function<bool()>& condition);

// A unique path for an ipc:// endpoint or temp file, e.g. "/tmp/zmesh-test-<pid>-<n>-<tag>".
std::string unique_temp_path(const std::string& tag);

}  // namespace zmesh::testing
