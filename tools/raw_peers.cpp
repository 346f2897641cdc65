#include "zmesh/tools/raw_peers.hpp"

#include "zmesh/tools/raw_receiver.hpp"
#include "zmesh/transport/security.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace zmesh::tools {

using namespace std::chrono_literals;

RawPeers::RawPeers()
    : children_(ChildProcessGroup::Callbacks{}, Config{}),
      router_(context_, zmq::socket_type::router) {}

Result<std::unique_ptr<RawPeers>> RawPeers::start(const Config& config, RawPeersSpec spec) {
  std::unique_ptr<RawPeers> peers(new RawPeers());
  const std::string bind =
      spec.start_remote                       ? fmt::format("tcp://{}:*", spec.client_host)
      : spec.transport == AllocTransport::tcp ? "tcp://127.0.0.1:*"
      : spec.transport == AllocTransport::ipc
          ? fmt::format("ipc:///tmp/zmesh-bench-{}-{}-{}.sock", spec.name, ::getpid(),
                        spec.receivers)
          : fmt::format("inproc://zmesh-bench-{}-{}", spec.name, spec.receivers);
  peers->router_.set(zmq::sockopt::linger, 0);
  peers->router_.set(zmq::sockopt::sndhwm, 0);
  // Over tcp the twin pays for CURVE as zmesh does, with the same key pair.
  if (auto secured = secure_socket(peers->router_, bind, config, SocketRole::server); !secured) {
    return std::move(secured).error();
  }
  peers->router_.bind(bind);
  peers->address_ = peers->router_.get(zmq::sockopt::last_endpoint);
  if (spec.start_remote) {
    auto remote = spec.start_remote(peers->address_);
    if (!remote) return std::move(remote).error();
    peers->remote_ = std::move(*remote);
  }
  for (std::uint32_t rank = 0; rank < spec.receivers && !spec.start_remote; ++rank) {
    if (spec.transport == AllocTransport::inproc) {
      auto dealer = raw_receiver_socket(peers->context_, peers->address_, rank, config);
      if (!dealer) return std::move(dealer).error();
      peers->threads_.emplace_back([loop = spec.thread_loop, rank,
                                    dealer = std::move(*dealer)]() mutable { loop(dealer, rank); });
    } else {
      // The receiver processes secure their sockets with this run's key pair.
      std::vector<std::pair<std::string, std::string>> environment;
      if (!config.curve.empty()) environment.emplace_back("ZMESH_KEY", key_pair_text(config.curve));
      if (config.insecure) environment.emplace_back("ZMESH_INSECURE", "1");
      auto started = peers->children_.start(
          rank, ChildSpec{"/proc/self/exe",
                          {spec.command, peers->address_, std::to_string(rank)},
                          environment});
      if (!started) return std::move(started).error();
      peers->child_pids_.push_back(*started);
    }
  }
  peers->router_.set(zmq::sockopt::rcvtimeo, 30000);
  for (std::uint32_t i = 0; i < spec.receivers; ++i) {  // every receiver says hello once connected
    zmq::message_t id, hello;
    if (!peers->router_.recv(id) || !peers->router_.recv(hello)) {
      return Error(
          ErrorCode::timeout,
          fmt::format(
              "{} of {} raw receivers did not connect within 30 s; is `zmesh {}` runnable here?",
              spec.receivers - i, spec.receivers, spec.command));
    }
    peers->receivers_.push_back(id.to_string());
  }
  return peers;
}

RawPeers::~RawPeers() {
  for (const auto& id : receivers_) {
    router_.send(zmq::buffer(id), zmq::send_flags::sndmore);
    router_.send(zmq::str_buffer("stop"), zmq::send_flags::none);
  }
  // Threads that never said hello (a failed start) get no stop: end their recv with ETERM.
  if (receivers_.size() < threads_.size()) context_.shutdown();
  for (auto& thread : threads_) thread.join();
  children_.wait_all_exited(deadline_in(5s));
  if (remote_) (void)remote_->stop(deadline_in(30s));
  if (address_.rfind("ipc://", 0) == 0) ::unlink(address_.substr(6).c_str());
}

}  // namespace zmesh::tools
