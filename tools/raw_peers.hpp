#pragma once
// The client side of a `zmesh bench` raw ZeroMQ twin: a ROUTER and the receivers that said
// hello to it, each a process running a hidden `zmesh` command (a thread of this process
// for inproc; or started elsewhere by a callback, for --hosts). The receivers are started
// with the same key pair as zmesh's procs, so that over tcp both pay for CURVE.
// Thread: one thread uses a RawPeers (and its router); the destructor stops and waits for
// every receiver.
// Failure: start() names what failed (binding, starting a receiver, receivers that did not
// connect within 30 s).

#include "zmesh/alloc/alloc.hpp"
#include "zmesh/alloc/child_process.hpp"
#include "zmesh/mesh/proc_mesh.hpp"

#include <zmq.hpp>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace zmesh::tools {

struct RawPeersSpec {
  AllocTransport transport = AllocTransport::ipc;
  std::uint32_t receivers = 1;
  // Names the ipc/inproc endpoint, so that two benches of one client never share one.
  std::string name;
  // Receiver processes run `zmesh COMMAND ADDRESS RANK`; inproc receivers run
  // `thread_loop(dealer, rank)` on a thread, with a DEALER made by raw_receiver_socket.
  std::string command;
  std::function<void(zmq::socket_t&, std::uint32_t)> thread_loop;
  // --hosts: the ROUTER listens on tcp://client_host:* and `start_remote(address)` starts
  // the receivers elsewhere (their procs are kept until the RawPeers ends).
  std::string client_host;
  std::function<Result<std::unique_ptr<ProcMesh>>(const std::string& address)> start_remote;
};

class RawPeers {
 public:
  static Result<std::unique_ptr<RawPeers>> start(const Config& config, RawPeersSpec spec);
  ~RawPeers();
  RawPeers(const RawPeers&) = delete;
  RawPeers& operator=(const RawPeers&) = delete;

  zmq::socket_t& router() { return router_; }
  // The receivers' routing ids, in the order they said hello.
  const std::vector<std::string>& receivers() const { return receivers_; }
  // The receiver processes' pids: none for inproc (threads of this process) and --hosts.
  const std::vector<pid_t>& child_pids() const { return child_pids_; }

 private:
  RawPeers();

  ChildProcessGroup children_;
  std::vector<pid_t> child_pids_;
  std::unique_ptr<ProcMesh> remote_;  // --hosts: the procs hosting the receivers
  zmq::context_t context_;
  zmq::socket_t router_;
  std::string address_;
  std::vector<std::string> receivers_;
  std::vector<std::thread> threads_;
};

}  // namespace zmesh::tools
