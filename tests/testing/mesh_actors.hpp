#pragma once
// Actors for mesh tests: a worker that reports where a cast reached it, counts what it got,
// answers queries, and fails on demand. registry() lists every test actor type, for
// zmesh::init in the test binaries' main.
// Thread: actors follow the runtime's rules.

#include "testing/actors.hpp"
#include "testing/bulk_actors.hpp"
#include "testing/comm_actors.hpp"
#include "zmesh/comm/init.hpp"
#include "zmesh/core/proc.hpp"
#include "zmesh/core/registry.hpp"
#include "zmesh/mesh/cast_info.hpp"

#include <unistd.h>

#include <algorithm>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>

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

// Answered with a WhereReply.
struct Where {
  ZMESH_MESSAGE("test.Where");
  MSGPACK_DEFINE();
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

// The receiver stops itself (Context::stop_self): an actor_stopped its owner did not ask for.
struct Quit {
  ZMESH_MESSAGE("test.Quit");
  MSGPACK_DEFINE();
};

// Answered with an Identity: where the receiver runs, as its Context says.
struct WhoAmI {
  ZMESH_MESSAGE("test.WhoAmI");
  std::string label;  // the dimension whose coordinate is wanted
  MSGPACK_DEFINE(label);
};

struct Identity {
  std::uint32_t rank = 0;        // Context::rank()
  std::string point;             // Context::point()
  std::int64_t coordinate = -1;  // Context::coordinate(label), -1 for none
  MSGPACK_DEFINE(rank, point, coordinate);
};

// Answered with the receiver's mesh rank as text, or, on the ranks listed, with an error
// (a handler returning Result<T>).
struct Refuse {
  ZMESH_MESSAGE("test.Refuse");
  std::vector<std::uint32_t> on_ranks;
  MSGPACK_DEFINE(on_ranks);
};

class WorkerActor : public Actor {
 public:
  struct Params {
    std::string tag;
    MSGPACK_DEFINE(tag);
  };
  explicit WorkerActor(const Params&) {}

  WhereReply where(Context& ctx, const Where&) {
    ++received_;
    auto info = cast_info(ctx);
    WhereReply reply{0, "", ctx.sender().to_string(), received_, ctx.proc().id().to_string(),
                     ::getpid()};
    if (info) {
      reply.rank = info->rank;
      reply.point = info->point.to_string();
      reply.origin = info->origin.to_string();
    }
    return reply;
  }
  void boom(const Boom& boom) { throw std::runtime_error(boom.why); }
  void exit(const Exit& exit) { std::_Exit(exit.code); }
  void print(Context& ctx, const Print& print) {
    auto info = cast_info(ctx);
    std::FILE* out = print.to_stderr ? stderr : stdout;
    std::fprintf(out, "%s from rank %u\n", print.text.c_str(), info ? info->rank : 0u);
    std::fflush(out);
  }
  void hang(const Hang&) {
    std::promise<void> never;
    never.get_future().wait();
  }
  void quit(Context& ctx, const Quit&) { ctx.stop_self(); }
  Identity who_am_i(Context& ctx, const WhoAmI& query) {
    auto coordinate = ctx.coordinate(query.label);
    return Identity{ctx.rank(), ctx.point(), coordinate ? static_cast<std::int64_t>(*coordinate) : -1};
  }
  Result<std::string> refuse(Context& ctx, const Refuse& refuse) {
    if (std::find(refuse.on_ranks.begin(), refuse.on_ranks.end(), ctx.rank()) != refuse.on_ranks.end()) {
      return Error(ErrorCode::invalid_argument, fmt::format("rank {} refuses", ctx.rank()));
    }
    return std::to_string(ctx.rank());
  }
  using Handlers = zmesh::Handlers<&WorkerActor::where, &WorkerActor::boom, &WorkerActor::exit,
                                   &WorkerActor::print, &WorkerActor::hang, &WorkerActor::quit,
                                   &WorkerActor::who_am_i, &WorkerActor::refuse>;

 private:
  std::uint64_t received_ = 0;
};

// The rank of the proc this process runs as (from its bootstrap environment), or -1.
inline std::int64_t own_proc_rank() {
  const char* text = std::getenv("ZMESH_BOOTSTRAP_PROC");  // "world[rank]"
  if (text == nullptr) return -1;
  const std::string proc(text);
  const auto open = proc.rfind('[');
  return open == std::string::npos ? -1 : std::atoll(proc.c_str() + open + 1);
}

// Answered with a WhereReply after `delay_ms` (a slow actor, e.g. one whose host swaps).
struct SlowWhere {
  ZMESH_MESSAGE("test.SlowWhere");
  std::uint32_t delay_ms = 0;
  MSGPACK_DEFINE(delay_ms);
};

// Sends `copies` forged replies (reply envelopes carrying WhereReply{999, "forged"}) to
// `port`: a port some call of another mesh waits on.
struct Forge {
  ZMESH_MESSAGE("test.Forge");
  PortId port;
  std::uint32_t copies = 1;
  MSGPACK_DEFINE(port, copies);
};

// Answered like SlowWhere, after first asking the actor `forger` on the same proc to send
// `copies` forged replies to where this request's reply goes (its reply route): forged
// replies from another actor reach the caller long before the real one.
struct ForgedWhere {
  ZMESH_MESSAGE("test.ForgedWhere");
  std::string forger;
  std::uint32_t copies = 1;
  std::uint32_t delay_ms = 0;
  MSGPACK_DEFINE(forger, copies, delay_ms);
};

// Takes `micros` to handle: a slow consumer. `padding` sets the message's size.
struct Nap {
  ZMESH_MESSAGE("test.Nap");
  std::uint32_t micros = 0;
  std::string padding;
  MSGPACK_DEFINE(micros, padding);
};

// Misbehaves on the ranks it is told to: a constructor that throws, an init that is slow.
class TroubleActor : public Actor {
 public:
  struct Params {
    std::int64_t throw_in_constructor_on = -1;  // rank
    std::int64_t slow_init_on = -1;             // rank
    std::uint32_t slow_init_ms = 0;
    MSGPACK_DEFINE(throw_in_constructor_on, slow_init_on, slow_init_ms);
  };
  explicit TroubleActor(const Params& params) : params_(params) {
    if (params.throw_in_constructor_on == own_proc_rank()) throw 42;  // not even a std::exception
  }
  WhereReply where(Context& ctx, const Where&) {
    return WhereReply{0, "", "", 1, ctx.proc().id().to_string(), ::getpid()};
  }
  WhereReply slow_where(Context& ctx, const SlowWhere& request) {
    std::this_thread::sleep_for(std::chrono::milliseconds(request.delay_ms));
    return WhereReply{0, "", "", 1, ctx.proc().id().to_string(), ::getpid()};
  }
  void nap(const Nap& nap) { std::this_thread::sleep_for(std::chrono::microseconds(nap.micros)); }
  void forge(Context& ctx, const Forge& forge) {
    for (std::uint32_t i = 0; i < forge.copies; ++i) {
      ctx.send(Envelope{ctx.self(), forge.port, std::string(message_name<ReplyMessage>()), {},
                        {encode_value(WhereReply{999, "forged", "", 0, "forged", 0})}, {}});
    }
  }
  WhereReply forged_where(Context& ctx, const ForgedWhere& request) {
    if (auto route = ctx.headers().get<ReplyRoute>(reply_route_key)) {
      ctx.send(ActorId{ctx.proc().id(), request.forger, 0}, Forge{route->port, request.copies});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(request.delay_ms));
    return WhereReply{0, "", "", 1, ctx.proc().id().to_string(), ::getpid()};
  }
  void hang(const Hang&) {
    std::promise<void> never;
    never.get_future().wait();
  }
  using Handlers = zmesh::Handlers<&TroubleActor::where, &TroubleActor::slow_where, &TroubleActor::nap,
                                   &TroubleActor::forge, &TroubleActor::forged_where, &TroubleActor::hang>;
  void init(Context& ctx) override {
    if (params_.slow_init_on == static_cast<std::int64_t>(ctx.proc().id().rank)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(params_.slow_init_ms));
    }
  }

 private:
  Params params_;
};

inline std::shared_ptr<Registry> registry() {
  auto registry = std::make_shared<Registry>();
  registry->add_actor<WorkerActor>("Worker").value();
  registry->add_actor<EchoActor>("Echo").value();
  registry->add_actor<FailingInitActor>("FailingInit").value();
  registry->add_actor<TallyActor>("Tally").value();
  registry->add_actor<TroubleActor>("Trouble").value();
  registry->add_actor<TensorSumActor>("TensorSum").value();
  registry->add_actor<GradientActor>("Gradient").value();
  add_reducer<Joined>(*registry).value();
  install_comm_tree(*registry).value();
  return registry;
}

}  // namespace zmesh::testing
