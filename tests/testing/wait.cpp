#include "testing/wait.hpp"

#include <unistd.h>

#include <atomic>
#include <thread>

namespace zmesh::testing {

bool wait_until(std::chrono::milliseconds timeout, const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::string unique_temp_path(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "/tmp/zmesh-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         tag;
}

}  // namespace zmesh::testing
