#include "zmesh/alloc/proc_agent.hpp"

#include "zmesh/core/context.hpp"
#include "zmesh/core/proc.hpp"

namespace zmesh {

ProcAgent::ProcAgent(Hooks hooks) : hooks_(std::move(hooks)) {
  on<AgentStart>(&ProcAgent::start);
  on<Heartbeat>(&ProcAgent::heartbeat);
  on<Configure>(&ProcAgent::configure);
  on<SpawnActor>(&ProcAgent::spawn);
  on<StopActor>(&ProcAgent::stop_actor);
  on<FetchEvents>(&ProcAgent::fetch_events);
  on<StopProc>(&ProcAgent::stop_proc);
}

void ProcAgent::heard() {
  if (hooks_.heard_from_client) hooks_.heard_from_client();
}

void ProcAgent::start(Context& ctx, const AgentStart& request) {
  heard();
  ctx.send(request.reply_to, AgentStarted{hooks_.rank, ctx.self(), hooks_.supervision_address});
}

void ProcAgent::heartbeat(Context& ctx, const Heartbeat& beat) {
  heard();
  ctx.send(beat.reply_to, HeartbeatAck{hooks_.rank, beat.seq});
}

void ProcAgent::configure(Context& ctx, const Configure& request) {
  heard();
  if (hooks_.add_route) {
    for (const auto& [proc, address] : request.address_book) {
      if (proc == ctx.proc().id()) continue;
      if (auto added = hooks_.add_route(proc, address); !added) {
        // A bad entry is the client's bug; the rest of the book still works.
        ctx.proc().log().warn("ZM-AGENT-ROUTE {}: {}", proc.to_string(), added.error().message);
      }
    }
  }
  ctx.proc().set_place(request.place);
  ctx.send(request.reply_to, Configured{hooks_.rank});
}

void ProcAgent::spawn(Context& ctx, const SpawnActor& request) {
  heard();
  auto spawned = ctx.proc().spawn(request.type_name, request.name, Frame::copy_of(request.params));
  SpawnResult result;
  result.rank = hooks_.rank;
  result.ok = spawned.ok();
  result.started_ns = unix_time_now_ns();
  if (spawned) {
    result.actor = *spawned;
  } else {
    result.error = spawned.error();
  }
  ctx.send(request.reply_to, result);
}

void ProcAgent::stop_actor(Context& ctx, const StopActor& request) {
  heard();
  const ActorId actor{ctx.proc().id(), request.name, 0};
  const auto status = ctx.proc().status(actor);
  const bool found = status.has_value() && !is_terminal(*status);
  if (found) ctx.proc().stop_actor(actor);
  // An empty reply port means "no answer wanted" (a best-effort cleanup).
  if (!request.reply_to.id.actor.name.empty()) {
    ctx.send(request.reply_to, StopActorResult{hooks_.rank, found});
  }
}

void ProcAgent::fetch_events(Context& ctx, const FetchEvents& request) {
  heard();
  EventBatch batch{hooks_.rank, hooks_.events ? hooks_.events->since(request.from_seq)
                                              : std::vector<SequencedEvent>{}};
  ctx.send(request.reply_to, batch);
}

void ProcAgent::on_undeliverable(Context& ctx, const Undeliverable& returned) {
  // A reply to a client that went away: the agent must outlive its clients.
  ctx.proc().log().info("agent reply {} to {} undeliverable: {}", returned.type_name,
                        returned.destination.to_string(), returned.reason.describe());
}

void ProcAgent::stop_proc(Context&, const StopProc& request) {
  heard();
  if (hooks_.stop_proc) hooks_.stop_proc(request.reason);
}

}  // namespace zmesh
