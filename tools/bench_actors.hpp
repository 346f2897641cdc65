#pragma once
// The actors `zmesh bench cast` spawns on every proc, and their messages. A cast carries a
// small header frame (cast number, reply port) and the payload as its own frame (a Bytes
// field): the bytes travel as sent, as a user's tensor would. Every receiver reads every
// byte of it (read_every_byte), as the raw twin's do, so that a payload received by
// reference (shared memory) is not credited for work it skipped.
// Two targets answer the same casts the same way: BenchPlain is written as README.md writes
// an actor (a typed member handler, with no promise about blocking), BenchTarget opts into
// the fast path (a raw handler that never blocks). The hot-path targets must hold for the plain one.
// RawPeer hosts the raw twin's receiver on a thread of its own (cross-host bench: the
// receivers must run on the launchers' hosts, and only a proc gets there).
// Thread: BenchPlain's turns run on the proc's I/O thread after its round of I/O while they
// stay brief, else on the pool (docs/performance.md, "Handlers"); BenchTarget's handler
// never blocks, so it runs inside the delivery on the I/O thread; RawPeer's receiver thread lives from its constructor to its
// destructor.

#include "zmesh/comm/init.hpp"
#include "zmesh/core/actor.hpp"
#include "zmesh/core/bytes.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/port.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/tools/bench_reduce_actors.hpp"
#include "zmesh/tools/raw_receiver.hpp"

#include <zmq.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace zmesh::tools {

struct BenchReply {
  ZMESH_MESSAGE("zmesh.bench.Reply");
  std::uint64_t cast = 0;  // the 8 bytes each receiver sends back
  MSGPACK_DEFINE(cast);
};

struct BenchCast {
  ZMESH_MESSAGE("zmesh.bench.Cast");
  std::uint64_t cast = 0;
  PortRef<BenchReply> reply_to;
  Bytes payload;  // its own frame, read in place
  MSGPACK_DEFINE(cast, reply_to, payload);
};

class BenchPlain : public Actor {
 public:
  void on_cast(Context& ctx, const BenchCast& cast) {
    read_every_byte(cast.payload.data(), cast.payload.size());
    ctx.send(cast.reply_to, BenchReply{cast.cast});
  }
  using Handlers = zmesh::Handlers<&BenchPlain::on_cast>;
};

class BenchTarget : public Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit BenchTarget(const Params&) {
    handlers_never_block();
    // Raw: the payload frame is read in place, not decoded as a Bytes.
    on_raw(std::string(message_name<BenchCast>()), [](Context& ctx, Envelope& envelope) -> Result<void> {
      auto cast = decode<BenchCast>(envelope.payload);
      if (!cast) return std::move(cast).error();
      read_every_byte(cast->payload.data(), cast->payload.size());
      ctx.send(cast->reply_to, BenchReply{cast->cast});
      return {};
    });
  }
};

// Payloads never touch zmesh here: the actor only starts the raw receiver with its proc and
// ends it (by shutting its context down) when it stops.
class RawPeer : public Actor {
 public:
  struct Params {
    std::string address;  // the bench's ROUTER
    MSGPACK_DEFINE(address);
  };
  // Throws (failing the spawn) when this proc's configuration cannot secure the socket.
  explicit RawPeer(const Params& params) : dealer_(connect(context_, params.address)) {
    thread_ = std::thread([this] { run_raw_receiver(dealer_); });
  }
  ~RawPeer() override {
    context_.shutdown();
    thread_.join();
  }

 private:
  static zmq::socket_t connect(zmq::context_t& context, const std::string& address) {
    auto config = Config::from_environment();  // the proc's: the launcher's key pair
    if (!config) throw Exception(config.error());
    auto dealer = raw_receiver_socket(context, address, std::nullopt, *config);
    if (!dealer) throw Exception(dealer.error());
    return std::move(*dealer);
  }

  zmq::context_t context_;
  zmq::socket_t dealer_;  // used by thread_ only, once it runs
  std::thread thread_;
};

// The actor types the `zmesh` binary can be asked to spawn when started as a proc.
inline std::shared_ptr<Registry> tool_registry() {
  auto registry = std::make_shared<Registry>();
  registry->add_actor<BenchPlain>("zmesh-BenchPlain").value();
  registry->add_actor<BenchTarget>("zmesh-BenchTarget").value();
  registry->add_actor<RawPeer>("zmesh-RawPeer").value();
  registry->add_actor<BenchReducer>("zmesh-BenchReducer").value();
  install_comm_tree(*registry).value();  // casts travel the comm tree
  return registry;
}

}  // namespace zmesh::tools
