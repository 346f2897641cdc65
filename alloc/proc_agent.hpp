#pragma once
// ProcAgent: the actor every proc starts first ("agent"). It answers its mesh client:
// start/heartbeat during bootstrap, the address book, spawning actors by registered type
// name, stopping them, fetching kept supervision events, and stopping the proc.
// Thread: an actor (one turn at a time); the Hooks it is given must be thread-safe.

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/alloc/event_log.hpp"
#include "zmesh/core/actor.hpp"

#include <functional>

namespace zmesh {

inline constexpr std::string_view agent_actor_name = "agent";

class ProcAgent : public Actor {
 public:
  struct Hooks {
    std::uint32_t rank = 0;
    EventLog* events = nullptr;  // must outlive the agent
    std::string supervision_address;
    // Adds a route to a peer proc (null where routing is implicit, as for local procs).
    std::function<Result<void>(const ProcId&, const std::string&)> add_route;
    // Ends this proc (for a child process: the process exits). Called on the agent's turn.
    std::function<void(const std::string& reason)> stop_proc;
    // Called on every sign of life from the client (heartbeat or request).
    std::function<void()> heard_from_client;
  };

  explicit ProcAgent(Hooks hooks);
  void on_undeliverable(Context& ctx, const Undeliverable& returned) override;

 private:
  void start(Context& ctx, const AgentStart& request);
  void heartbeat(Context& ctx, const Heartbeat& beat);
  void configure(Context& ctx, const Configure& request);
  void spawn(Context& ctx, const SpawnActor& request);
  void stop_actor(Context& ctx, const StopActor& request);
  void fetch_events(Context& ctx, const FetchEvents& request);
  void stop_proc(Context& ctx, const StopProc& request);
  void heard();

  Hooks hooks_;
};

}  // namespace zmesh
