#include "zmesh/transport/runtime.hpp"

#include <zmq.hpp>

namespace zmesh {

Runtime::Runtime(Config config) : config_(std::move(config)), context_(std::make_unique<zmq::context_t>()) {
  // Large in-process meshes open a socket per proc; the default cap is 1023.
  context_->set(zmq::ctxopt::max_sockets, 65536);
}

Runtime::~Runtime() = default;

}  // namespace zmesh
