#include "zmesh/alloc/internal/proc_bootstrap.hpp"

#include "zmesh/core/message.hpp"

#include <fmt/format.h>

namespace zmesh::internal {

std::optional<BootstrapMessage> decode_bootstrap_message(const Envelope& envelope, const WorldId& world,
                                                         std::size_t procs) {
  if (envelope.payload.empty()) return std::nullopt;
  const auto checked = [&](auto decoded) -> std::optional<BootstrapMessage> {
    if (!decoded || decoded->rank >= procs) return std::nullopt;
    return BootstrapMessage{decoded->rank, std::move(*decoded)};
  };
  if (envelope.type_name == message_name<BootstrapHello>()) {
    auto hello = decode<BootstrapHello>(envelope.payload.front());
    if (hello && hello->proc != ProcId{world, hello->rank}) return std::nullopt;
    return checked(std::move(hello));
  }
  if (envelope.type_name == message_name<AgentStarted>()) return checked(decode<AgentStarted>(envelope.payload.front()));
  if (envelope.type_name == message_name<HeartbeatAck>()) return checked(decode<HeartbeatAck>(envelope.payload.front()));
  return std::nullopt;
}

void take_bootstrap_message(BootstrapRecord& proc, const BootstrapMessage& message, BootstrapContext context,
                            bool stopping) {
  if (const auto* hello = std::get_if<BootstrapHello>(&message.body)) {
    if (proc.state != ProcState::starting || proc.hello_seen) return;
    proc.hello_seen = true;
    proc.agent = hello->agent;
    proc.address = hello->address;
    // The proc's own size limit: its host may run with another ZMESH_MAX_MESSAGE_BYTES.
    if (!context.endpoint.add_route(hello->proc, hello->address, hello->max_message_bytes)) return;
    context.mailbox.send(hello->agent, AgentStart{PortRef<AgentStarted>{context.port}});
  } else if (const auto* started = std::get_if<AgentStarted>(&message.body)) {
    if (proc.state != ProcState::starting || !proc.hello_seen) return;
    proc.state = ProcState::running;
    proc.last_ack = Clock::now();
    proc.supervision_address = started->supervision_address;
    context.events.push(ProcRunning{started->rank, ProcId{context.world, started->rank}, proc.address,
                                    started->agent, started->supervision_address});
    if (stopping) context.mailbox.send(proc.agent, StopProc{"allocation stopped"});
  } else {
    proc.last_ack = Clock::now();
  }
}

std::optional<StopReason> beat_or_verdict(BootstrapRecord& proc, BootstrapContext context, std::uint64_t beat,
                                          Clock::time_point now, const Config& config,
                                          std::string_view bootstrap_hint) {
  if (proc.watchdog) return std::nullopt;
  if (proc.state == ProcState::running) {
    context.mailbox.send(proc.agent, Heartbeat{beat, PortRef<HeartbeatAck>{context.port}});
    if (now - proc.last_ack <= config.heartbeat_timeout) return std::nullopt;
    return StopReason{StopReason::Kind::watchdog, 0, 0, false, {},
                      fmt::format("no heartbeat answer for {} ms", config.heartbeat_timeout.count())};
  }
  if (proc.state == ProcState::starting && now - proc.started_at > config.bootstrap_timeout) {
    return StopReason{StopReason::Kind::watchdog, 0, 0, false, {},
                      fmt::format("did not start within {} ms ({})", config.bootstrap_timeout.count(),
                                  bootstrap_hint)};
  }
  return std::nullopt;
}

void run_bootstrap_loop(PortReceiver<BootstrapHello>& receiver, const Config& config,
                        const std::function<bool()>& closing, const std::function<void(const Envelope&)>& handle,
                        const std::function<void(std::uint64_t beat)>& tick) {
  std::uint64_t beat = 0;
  auto next_beat = Clock::now();
  while (!closing()) {
    auto envelope = receiver.recv_envelope(std::min(next_beat, Clock::now() + config.heartbeat_interval));
    if (envelope) {
      handle(*envelope);
      continue;
    }
    if (Clock::now() < next_beat) continue;
    next_beat = Clock::now() + config.heartbeat_interval;
    tick(++beat);
  }
}

}  // namespace zmesh::internal
