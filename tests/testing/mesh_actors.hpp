#pragma once
// Actors for mesh tests: a worker that reports where a cast reached it, counts what it got,
// answers queries, and fails on demand. registry() lists every test actor type, for
// zmesh::init in the test binaries' main.
// Thread: actors follow the runtime's rules.

#include "testing/actors.hpp"
#include "zmesh/core/proc.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/mesh/cast_info.hpp"

#include <cstdlib>
#include <memory>

namespace zmesh::testing {

struct WhereReply {
  ZMESH_MESSAGE("test.WhereReply");
  std::uint32_t rank = 0;
  std::string point;
  std::string origin;
  std::uint64_t received = 0;  // how many Where casts this actor has seen so far
  std::string proc;
  MSGPACK_DEFINE(rank, point, origin, received, proc);
};

struct Where {
  ZMESH_MESSAGE("test.Where");
  PortRef<WhereReply> reply_to;
  MSGPACK_DEFINE(reply_to);
};

struct Exit {
  ZMESH_MESSAGE("test.Exit");
  int code = 0;
  MSGPACK_DEFINE(code);
};

class WorkerActor : public Actor {
 public:
  struct Params {
    std::string tag;
    MSGPACK_DEFINE(tag);
  };
  explicit WorkerActor(const Params&) {
    on<Where>(&WorkerActor::where);
    on<Boom>([](Context&, const Boom& boom) { throw std::runtime_error(boom.why); });
    on<Exit>([](Context&, const Exit& exit) { std::_Exit(exit.code); });
  }

 private:
  void where(Context& ctx, const Where& request) {
    ++received_;
    auto info = cast_info(ctx);
    WhereReply reply{0, "", ctx.sender().to_string(), received_, ctx.proc().id().to_string()};
    if (info) {
      reply.rank = info->rank;
      reply.point = info->point.to_string();
      reply.origin = info->origin.to_string();
    }
    ctx.send(request.reply_to, reply);
  }
  std::uint64_t received_ = 0;
};

inline std::shared_ptr<Registry> registry() {
  auto registry = std::make_shared<Registry>();
  registry->add_actor<WorkerActor>("Worker").value();
  registry->add_actor<EchoActor>("Echo").value();
  registry->add_actor<FailingInitActor>("FailingInit").value();
  return registry;
}

}  // namespace zmesh::testing
