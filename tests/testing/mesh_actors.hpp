#pragma once
// Actors for mesh tests: a worker that reports where a cast reached it, counts what it got,
// answers queries, and fails on demand. registry() lists every test actor type, for
// zmesh::init in the test binaries' main.
// Thread: actors follow the runtime's rules.

#include "testing/actors.hpp"
#include "testing/comm_actors.hpp"
#include "zmesh/comm/comm_actor.hpp"
#include "zmesh/core/proc.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/mesh/cast_info.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>

namespace zmesh::testing {

struct WhereReply {
  ZMESH_MESSAGE("test.WhereReply");
  std::uint32_t rank = 0;
  std::string point;
  std::string origin;
  std::uint64_t received = 0;  // how many Where casts this actor has seen so far
  std::string proc;
  std::int64_t pid = 0;
  MSGPACK_DEFINE(rank, point, origin, received, proc, pid);
};

struct Where {
  ZMESH_MESSAGE("test.Where");
  PortRef<WhereReply> reply_to;
  MSGPACK_DEFINE(reply_to);
};

// Writes `text` and the receiver's cast rank as one line to stdout (or stderr).
struct Print {
  ZMESH_MESSAGE("test.Print");
  std::string text;
  bool to_stderr = false;
  MSGPACK_DEFINE(text, to_stderr);
};

// Blocks the actor's turn for good: the proc must be killed to end it.
struct Hang {
  ZMESH_MESSAGE("test.Hang");
  MSGPACK_DEFINE();
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
    on<Print>([](Context& ctx, const Print& print) {
      auto info = cast_info(ctx);
      std::FILE* out = print.to_stderr ? stderr : stdout;
      std::fprintf(out, "%s from rank %u\n", print.text.c_str(), info ? info->rank : 0u);
      std::fflush(out);
    });
    on<Hang>([](Context&, const Hang&) {
      std::promise<void> never;
      never.get_future().wait();
    });
  }

 private:
  void where(Context& ctx, const Where& request) {
    ++received_;
    auto info = cast_info(ctx);
    WhereReply reply{0, "", ctx.sender().to_string(), received_, ctx.proc().id().to_string(),
                     ::getpid()};
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
  registry->add_actor<TallyActor>("Tally").value();
  comm::add_comm_actor<Joined>(*registry).value();
  return registry;
}

}  // namespace zmesh::testing
