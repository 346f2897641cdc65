#pragma once
// The client's side of starting procs that run as processes of their own (ProcessAllocator
// and RemoteAllocator): a hello is answered with a route and AgentStart, AgentStarted makes
// the proc running, heartbeats go out and their acks are taken, and a proc that misses its
// bootstrap or heartbeat deadline gets a watchdog verdict. How procs are started and killed
// stays with each allocator.
// Thread: the record functions run with the allocator's mutex held (the records are its
// state); run_bootstrap_loop runs on the allocator's thread.

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/alloc/alloc.hpp"
#include "zmesh/core/blocking_queue.hpp"
#include "zmesh/core/config.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/core/mailbox.hpp"
#include "zmesh/core/port.hpp"
#include "zmesh/transport/endpoint.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace zmesh::internal {

// Where a proc is, as its allocator sees it. `requested`: asked of a launcher, not yet
// known to have started.
enum class ProcState { never_started, requested, starting, running, exited };

struct BootstrapRecord {
  ProcState state = ProcState::never_started;
  Clock::time_point started_at;
  Clock::time_point last_ack;
  ActorId agent;
  std::string address;
  std::string supervision_address;
  bool hello_seen = false;
  std::optional<StopReason> watchdog;  // set when the allocator killed it for a missed deadline

  bool gone() const { return state == ProcState::exited || state == ProcState::never_started; }
};

// A message on the allocator's bootstrap port from rank `rank` of `world` (checked).
struct BootstrapMessage {
  std::uint32_t rank = 0;
  std::variant<BootstrapHello, AgentStarted, HeartbeatAck> body;
};
// Nothing for garbage, other types, ranks out of range or hellos of another world.
std::optional<BootstrapMessage> decode_bootstrap_message(const Envelope& envelope, const WorldId& world,
                                                         std::size_t procs);

// What the allocator lends the functions below.
struct BootstrapContext {
  const WorldId& world;
  Endpoint& endpoint;  // the allocator's client endpoint: routes to the procs
  Mailbox& mailbox;    // the allocator's mailbox, whose port `port` takes the replies
  PortId port;
  BlockingQueue<AllocEvent>& events;
};

// Takes `message` about `proc`: routes a starting proc's first hello and tells its agent to
// start, makes it running on AgentStarted (pushing ProcRunning, and asking it to stop at once
// when `stopping`), and notes heartbeat acks. Stale and duplicate messages change nothing.
void take_bootstrap_message(BootstrapRecord& proc, const BootstrapMessage& message, BootstrapContext context,
                            bool stopping);

// Sends a running proc its heartbeat; returns a verdict (the caller kills the proc and keeps
// the verdict as its stop reason) when it missed the heartbeat or bootstrap deadline.
// `bootstrap_hint` ends the message of a proc that never started ("does its main ...?").
std::optional<StopReason> beat_or_verdict(BootstrapRecord& proc, BootstrapContext context, std::uint64_t beat,
                                          Clock::time_point now, const Config& config,
                                          std::string_view bootstrap_hint);

// The allocator thread: hands each bootstrap-port message to `handle`, and calls `tick`
// every heartbeat interval, until `closing` says so.
void run_bootstrap_loop(PortReceiver<BootstrapHello>& receiver, const Config& config,
                        const std::function<bool()>& closing, const std::function<void(const Envelope&)>& handle,
                        const std::function<void(std::uint64_t beat)>& tick);

}  // namespace zmesh::internal
