// fuzz_agent_messages: feeds the input to zmesh::decode<T> (core/message.hpp) of every message
// of the agent and bootstrap protocol (alloc/agent_messages.hpp), of zmesh.Undeliverable and
// SupervisionEvent (core/), and of the supervision channel's PUB frame
// (transport/supervision_channel.cpp). The first byte picks the type, the rest is the frame.
// Asserts: no crash, leak or UB on any bytes; a failed decode is decode_error; whatever
// decodes re-encodes to bytes that decode again, and re-encoding that is byte-identical
// (fuzz::decode_stable); ids, errors and events that decode can be printed (to_string,
// describe), as the receivers' logs do.
//
// The supervision frame's type (`Wire`: [kind, proc, seq, event-or-nil]) is private to
// supervision_channel.cpp, so SupervisionWire below mirrors it field for field; keep the two
// in step (the seed generator encodes it the same way).

#include "fuzz_check.hpp"

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/core/supervision.hpp"
#include "zmesh/transport/supervision_channel.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace zmesh::fuzz {

enum class SupervisionWireKind : std::uint8_t { heartbeat = 0, event = 1 };

// Mirror of the private Wire of transport/supervision_channel.cpp.
struct SupervisionWire {
  SupervisionWireKind kind = SupervisionWireKind::heartbeat;
  ProcId proc;
  std::uint64_t seq = 0;
  std::optional<SupervisionEvent> event;
  MSGPACK_DEFINE(kind, proc, seq, event);
};

}  // namespace zmesh::fuzz

MSGPACK_ADD_ENUM(zmesh::fuzz::SupervisionWireKind);

namespace {

using namespace zmesh;

void touch(const ProcId& id) { (void)id.to_string(); }
void touch(const ActorId& id) { (void)id.to_string(); }
void touch(const PortId& id) { (void)id.to_string(); }
template <class M>
void touch(const PortRef<M>& ref) {
  touch(ref.id);
}
void touch(const Error& error) {
  (void)to_string(error.code);
  (void)error.describe();
}
void touch(const SupervisionEvent& event) {
  (void)to_string(event.kind);
  (void)event.describe();
  touch(event.actor);
}

// Decodes as T, checks stability, and lets `use` look at the value.
template <class T, class Use>
void feed(const Frame& frame, Use use) {
  auto decoded = fuzz::decode_stable<T>(frame, message_name<T>());
  if (!decoded) {
    FUZZ_CHECK(decoded.error().code == ErrorCode::decode_error, decoded.error().describe());
    return;
  }
  use(*decoded);
}

template <class T, class Use>
void feed_value(const Frame& frame, std::string_view what, Use use) {
  auto decoded = fuzz::decode_stable<T>(frame, what);
  if (!decoded) {
    FUZZ_CHECK(decoded.error().code == ErrorCode::decode_error, decoded.error().describe());
    return;
  }
  use(*decoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const Frame frame = fuzz::frame_of(data + 1, size - 1);
  switch (selector % 18) {
    case 0: feed<AgentStarted>(frame, [](const AgentStarted& m) { touch(m.agent); }); break;
    case 1:
      feed<BootstrapHello>(frame, [](const BootstrapHello& m) {
        touch(m.proc);
        touch(m.agent);
      });
      break;
    case 2: feed<AgentStart>(frame, [](const AgentStart& m) { touch(m.reply_to); }); break;
    case 3: feed<HeartbeatAck>(frame, [](const HeartbeatAck&) {}); break;
    case 4: feed<Heartbeat>(frame, [](const Heartbeat& m) { touch(m.reply_to); }); break;
    case 5: feed<Configured>(frame, [](const Configured&) {}); break;
    case 6:
      feed<Configure>(frame, [](const Configure& m) {
        for (const auto& [proc, address] : m.address_book) touch(proc);
        touch(m.reply_to);
      });
      break;
    case 7:
      feed<SpawnResult>(frame, [](const SpawnResult& m) {
        touch(m.actor);
        touch(m.error);
      });
      break;
    case 8: feed<SpawnActor>(frame, [](const SpawnActor& m) { touch(m.reply_to); }); break;
    case 9: feed<StopActorResult>(frame, [](const StopActorResult&) {}); break;
    case 10: feed<StopActor>(frame, [](const StopActor& m) { touch(m.reply_to); }); break;
    case 11:
      feed<EventBatch>(frame, [](const EventBatch& m) {
        for (const auto& sequenced : m.events) touch(sequenced.event);
      });
      break;
    case 12: feed<FetchEvents>(frame, [](const FetchEvents& m) { touch(m.reply_to); }); break;
    case 13: feed<StopProc>(frame, [](const StopProc&) {}); break;
    case 14:
      feed<Undeliverable>(frame, [](const Undeliverable& m) {
        touch(m.sender);
        touch(m.destination);
        touch(m.reason);
      });
      break;
    case 15: feed<SupervisionEvent>(frame, [](const SupervisionEvent& m) { touch(m); }); break;
    case 16:
      feed_value<SequencedEvent>(frame, "SequencedEvent",
                                 [](const SequencedEvent& m) { touch(m.event); });
      break;
    case 17:
      feed_value<fuzz::SupervisionWire>(frame, "supervision message",
                                        [](const fuzz::SupervisionWire& m) {
                                          touch(m.proc);
                                          if (m.event) touch(*m.event);
                                        });
      break;
  }
  return 0;
}
