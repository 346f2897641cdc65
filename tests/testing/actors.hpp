#pragma once
// Message and actor types shared by the tests: ping/pong, a counter, an actor that throws
// on demand, and a parent that spawns children.
// Thread: actors follow the runtime's rules (one turn at a time).

#include "zmesh/core/actor.hpp"
#include "zmesh/core/context.hpp"
#include "zmesh/core/port.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace zmesh::testing {

struct Pong {
  ZMESH_MESSAGE("test.Pong");
  std::uint64_t seq = 0;
  std::string text;
  MSGPACK_DEFINE(seq, text);
};

struct Ping {
  ZMESH_MESSAGE("test.Ping");
  std::uint64_t seq = 0;
  std::string text;
  PortRef<Pong> reply_to;
  MSGPACK_DEFINE(seq, text, reply_to);
};

struct Boom {
  ZMESH_MESSAGE("test.Boom");
  std::string why;
  MSGPACK_DEFINE(why);
};

struct SpawnChild {
  ZMESH_MESSAGE("test.SpawnChild");
  std::string name;
  PortRef<Pong> reply_to;
  MSGPACK_DEFINE(name, reply_to);
};

// Answers every Ping with a Pong carrying the same seq and text (to the Ping's port, and
// as its return value for calls); throws on Boom.
class EchoActor : public Actor {
 public:
  struct Params {
    std::string prefix;
    MSGPACK_DEFINE(prefix);
  };
  explicit EchoActor(const Params& params) : prefix_(params.prefix) {}

  Pong ping(Context& ctx, const Ping& ping) {
    Pong pong{ping.seq, prefix_ + ping.text};
    if (ping.reply_to.id.index != 0) ctx.send(ping.reply_to, pong);
    return pong;
  }
  void boom(const Boom& boom) { throw std::runtime_error(boom.why); }
  void spawn_child(Context& ctx, const SpawnChild& request) {
    auto child = ctx.spawn_child<EchoActor>(request.name, Params{prefix_});
    ctx.send(request.reply_to, Pong{child ? child->pid : 0, child ? child->to_string() : ""});
  }
  using Handlers = zmesh::Handlers<&EchoActor::ping, &EchoActor::boom, &EchoActor::spawn_child>;

 private:
  std::string prefix_;
};

// Fails in init() when told to.
class FailingInitActor : public Actor {
 public:
  struct Params {
    bool fail = true;
    MSGPACK_DEFINE(fail);
  };
  explicit FailingInitActor(const Params& params) : fail_(params.fail) {}
  void init(Context&) override {
    if (fail_) throw std::runtime_error("init refused");
  }

 private:
  bool fail_;
};

}  // namespace zmesh::testing
