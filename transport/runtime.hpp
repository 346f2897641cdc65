#pragma once
// Runtime: what one OS process shares between its zmesh parts: the ZeroMQ context and
// the configuration. Everything else (routing tables, event streams) belongs to meshes and
// procs, never to the process, so several meshes in one client stay independent.
// Thread: context() is thread-safe (ZeroMQ contexts are); destroy the Runtime after every
// socket made from it.

#include "zmesh/core/config.hpp"

#include <memory>

namespace zmq {
class context_t;
}

namespace zmesh {

class Runtime {
 public:
  explicit Runtime(Config config);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime();

  zmq::context_t& context() { return *context_; }
  const Config& config() const { return config_; }

 private:
  Config config_;
  std::unique_ptr<zmq::context_t> context_;
};

}  // namespace zmesh
