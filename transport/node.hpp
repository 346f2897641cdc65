#pragma once
// Node: a Proc wired to its own Endpoint: one proc reachable over the network. Inbound
// messages go to the proc; the proc's remote sends go out through the endpoint.
// Thread: proc() and endpoint() are thread-safe objects; the Node itself is owned by one
// thread, which must destroy it (stop actors, flush acks, close sockets, in that order).

#include "zmesh/core/proc.hpp"
#include "zmesh/transport/endpoint.hpp"
#include "zmesh/transport/runtime.hpp"

#include <memory>
#include <string_view>

namespace zmesh {

class Node {
 public:
  // Starts the proc and binds its endpoint at `address` (e.g. "ipc:///tmp/x", "tcp://127.0.0.1:0").
  static Result<std::unique_ptr<Node>> start(Runtime& runtime, ProcOptions options,
                                             std::string_view address);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Stops the actors while the network still works, then flushes and closes the endpoint.
  ~Node();

  Proc& proc() { return *proc_; }
  Endpoint& endpoint() { return *endpoint_; }
  const std::string& address() const { return endpoint_->address(); }

 private:
  Node() = default;
  std::unique_ptr<Proc> proc_;
  std::unique_ptr<Endpoint> endpoint_;
};

}  // namespace zmesh
