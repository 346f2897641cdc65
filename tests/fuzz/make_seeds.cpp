// fuzz_seeds: writes the seed corpus of the fuzz targets: small valid inputs built with
// zmesh's own encoders, so the seeds follow the wire format as it is now.
// Usage: fuzz_seeds <dir>   (writes <dir>/<target>/<name>; scripts/fuzz.sh --seeds runs it
// into tests/fuzz/corpus). Agent and comm seeds start with the fuzz target's selector byte.

#include "bulk_probe.hpp"

#include "zmesh/alloc/agent_messages.hpp"
#include "zmesh/comm/comm_stats.hpp"
#include "zmesh/comm/internal/messages.hpp"
#include "zmesh/mesh/value_mesh.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/core/supervision.hpp"
#include "zmesh/mesh/cast_info.hpp"
#include "zmesh/transport/internal/link_header.hpp"
#include "zmesh/transport/internal/shm_region.hpp"
#include "zmesh/transport/supervision_channel.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace zmesh::fuzz {

// Same layout as the private Wire of transport/supervision_channel.cpp (see
// fuzz_agent_messages.cpp).
enum class SupervisionWireKind : std::uint8_t { heartbeat = 0, event = 1 };
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
namespace fs = std::filesystem;

fs::path out_dir;

void write(const std::string& target, const std::string& name, std::string_view bytes) {
  const fs::path dir = out_dir / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(bytes.data(), bytes.size());
}

template <class T>
std::string packed(const T& value) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, value);
  return std::string(buffer.data(), buffer.size());
}

// A message frame behind its selector byte.
template <class T>
void message(const std::string& target, std::uint8_t selector, const std::string& name,
             const T& value) {
  write(target, name, std::string(1, static_cast<char>(selector)) + packed(value));
}

const ProcId proc{WorldId{"train"}, 3};
const ActorId actor{proc, "worker", 0};
const ActorId client{ProcId{WorldId{"client"}, 0}, "main", 0};
const PortId port{actor, 7};

void envelopes() {
  const std::string t = "fuzz_envelope";
  Envelope plain{client, port, "app.Ping", {}, {}, {}};
  write(t, "plain", encode_header(plain).view());
  Envelope with_headers = plain;
  with_headers.type_name = "zmesh.agent.Heartbeat";
  with_headers.headers.set("trace", std::string("abc"));
  with_headers.headers.set("hops", std::uint64_t{3});
  with_headers.headers.set("list", std::vector<std::int64_t>{-1, 0, 1});
  write(t, "headers", encode_header(with_headers).view());
  Envelope cast = plain;
  cast.headers.set(std::string(cast_header_key),
                   CastHeader{"train/workers", 9, client, 5, {"host", "gpu"}, {2, 4}});
  write(t, "cast-header", encode_header(cast).view());
  Envelope long_names = plain;
  long_names.type_name = std::string(40, 't');
  long_names.destination.index = message_port_index("app.Ping");
  write(t, "long-names", encode_header(long_names).view());

  // Hand-built maps: a newer peer's extra key, another version, a missing field.
  auto header_map = [](std::uint32_t version, bool extra, bool with_type) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> out(buffer);
    out.pack_map(3 + (extra ? 1 : 0) + (with_type ? 1 : 0));
    out.pack(std::string("v"));
    out.pack(version);
    out.pack(std::string("src"));
    out.pack(client);
    out.pack(std::string("dst"));
    out.pack(port);
    if (with_type) {
      out.pack(std::string("type"));
      out.pack(std::string("app.Ping"));
    }
    if (extra) {
      out.pack(std::string("new"));
      out.pack(std::vector<int>{1, 2});
    }
    return std::string(buffer.data(), buffer.size());
  };
  write(t, "extra-key", header_map(1, true, true));
  write(t, "version-2", header_map(2, false, true));
  write(t, "no-type", header_map(1, false, false));
}

void bulk_messages() {
  const std::string t = "fuzz_bulk_messages";
  using fuzz::OneTensor;
  using fuzz::Probe;
  const Probe probe{Bytes::copy_of(std::string_view("bytes")),
                    Tensor<float>::adopt({1.5f, -2, 3, 4, 5, 6}, {2, 3}).value(),
                    {},
                    Tensor<std::int64_t>(std::vector<std::int64_t>{-1, 0, 1}),
                    "probe"};
  write(t, "probe", fuzz::bulk_input(encode_frames(probe)));
  write(t, "probe-empty", fuzz::bulk_input(encode_frames(Probe{})));
  Probe more;
  more.more = {Bytes::copy_of(std::string_view("a"))};
  write(t, "probe-more", fuzz::bulk_input(encode_frames(more)));
  write(t, "one-tensor",
        fuzz::bulk_input(encode_frames(OneTensor{Tensor<double>::adopt({1, 2, 3, 4}, {2, 2, 1}).value()})));
  write(t, "scalar", fuzz::bulk_input(encode_frames(OneTensor{Tensor<double>::adopt({7}, {}).value()})));
}

void link_headers() {
  using namespace zmesh::internal;
  const std::string t = "fuzz_link_header";
  // A data header's frame goes on with the message's envelope header.
  const std::string envelope(
      encode_header(Envelope{client, port, "app.Ping", {}, {}, {}}).view());
  auto data_header = [&](LinkKind kind, const ProcId& sender, std::uint64_t session,
                         std::uint64_t seq, std::uint64_t floor) {
    std::string out = encode_data_prefix(kind, sender, session);
    char tail[18];
    out.append(tail, put_uint(put_uint(tail, seq), floor));
    if (kind == LinkKind::data) out += envelope;
    return out;
  };
  write(t, "data", data_header(LinkKind::data, proc, 1, 5, 2));
  write(t, "data-big", data_header(LinkKind::data, ProcId{WorldId{std::string(40, 'w')}, 70000},
                                   0x123456789abcull, 0xfffffffffull, 300));
  write(t, "skip", data_header(LinkKind::skip, proc, 7, 9, 9));
  {
    std::string with_ack = encode_data_prefix(LinkKind::data, proc, 1, 0, /*with_ack=*/true);
    char tail[40];
    with_ack.append(tail, put_uint(put_uint(put_uint(put_uint(put_uint(tail, 5), 2), 0), 9), 4));
    write(t, "data-with-ack", with_ack + envelope);
  }
  {
    std::string with_shm =
        encode_data_prefix(LinkKind::data, proc, 1, 0, /*with_ack=*/true, /*with_shm=*/true);
    char tail[48];
    char* end = put_uint(put_uint(put_uint(put_uint(put_uint(tail, 5), 2), 0), 0), 0);
    with_shm.append(tail, put_uint(end, 0x5));
    write(t, "data-with-shm", with_shm + envelope);
  }
  write(t, "hello", encode_hello(1, "2f6c0c8e-4b1c-4d1e-9d3a-7d4c1e2f3a4b/4026531836/4026531840/0"));
  {
    ShmDescriptor descriptor;
    descriptor.pid = 4242;
    descriptor.fd = 17;
    descriptor.size = 1 << 20;
    descriptor.inode = 99;
    descriptor.device = 25;
    descriptor.token = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    descriptor.generation = 3;
    write(t, "shm-descriptor", encode_shm_descriptor(descriptor));
  }
  write(t, "ack", encode_ack(LinkKind::ack, 1, 5));
  write(t, "nack", encode_ack(LinkKind::nack, 0xffffffffffffffffull, 200));
  write(t, "reject", encode_reject(1, 5, "too large"));
  write(t, "reject-long", encode_reject(3, 70000, std::string(300, 'r')));
}

void agent_messages() {
  const std::string t = "fuzz_agent_messages";
  const SupervisionEvent failed{SupervisionKind::actor_failed, actor, "app.Step", "division by zero",
                                1700000000000000000};
  const SupervisionEvent stopped{SupervisionKind::actor_stopped, actor, "", "stop requested", 1};
  message(t, 0, "started", AgentStarted{3, actor, "tcp://127.0.0.1:5555"});
  message(t, 1, "hello", BootstrapHello{3, 4242, proc, "ipc:///tmp/zmesh-3", actor});
  message(t, 2, "start", AgentStart{handler_port<AgentStarted>(client)});
  message(t, 3, "heartbeat-ack", HeartbeatAck{3, 17});
  message(t, 4, "heartbeat", Heartbeat{17, handler_port<HeartbeatAck>(client)});
  message(t, 5, "configured", Configured{3});
  message(t, 6, "configure",
          Configure{{{proc, "tcp://10.0.0.7:5555"}, {client.proc, "tcp://10.0.0.1:4000"}},
                    handler_port<Configured>(client)});
  message(t, 7, "spawn-result-ok", SpawnResult{3, true, actor, {}});
  message(t, 7, "spawn-result-error",
          SpawnResult{3, false, {}, Error(ErrorCode::not_found, "no actor type Trainer")});
  message(t, 8, "spawn", SpawnActor{"Trainer", "trainer", packed(std::vector<int>{1, 2}),
                                    handler_port<SpawnResult>(client)});
  message(t, 9, "stop-actor-result", StopActorResult{3, true});
  message(t, 10, "stop-actor", StopActor{"trainer", handler_port<StopActorResult>(client)});
  message(t, 11, "event-batch", EventBatch{3, {{1, failed}, {2, stopped}}});
  message(t, 12, "fetch-events", FetchEvents{1, handler_port<EventBatch>(client)});
  message(t, 13, "stop-proc", StopProc{"mesh stopped"});
  message(t, 14, "undeliverable",
          Undeliverable{client, port, "app.Ping", Error(ErrorCode::undeliverable, "proc gone")});
  message(t, 15, "event", failed);
  message(t, 16, "sequenced-event", SequencedEvent{4, stopped});
  message(t, 17, "wire-heartbeat",
          fuzz::SupervisionWire{fuzz::SupervisionWireKind::heartbeat, proc, 4, std::nullopt});
  message(t, 17, "wire-event",
          fuzz::SupervisionWire{fuzz::SupervisionWireKind::event, proc, 5, failed});
}

void comm_messages() {
  using namespace zmesh::comm;
  using namespace zmesh::comm::internal;
  const std::string t = "fuzz_comm_messages";
  CastControl cast;
  cast.mesh = "train/workers";
  cast.cast_id = 9;
  cast.origin = client;
  cast.actor = "workers";
  cast.type_name = "app.Step";
  cast.shape = "{host=2,gpu=4}";
  cast.fanout = 2;
  cast.ranks = {RankRun{0, 8, 1}};
  message(t, 0, "cast", cast);
  CastControl view = cast;
  view.shape = "{host=2,gpu=2}@1[8,2]";
  view.ranks = {RankRun{1, 1, 4}, RankRun{3, 1, 5}, RankRun{9, 1, 5}, RankRun{11, 1, 5}};
  view.headers = {{"trace", packed(std::string("abc"))}};
  view.reduce = true;
  view.reduction = ReduceSpec{"zmesh.sum", handler_port<Partial>(client).id, 1000, 50};
  message(t, 0, "cast-view-reduce", view);
  // A reply route's tag, as a comm actor packs it (no value), and with a value standing for
  // the actor's reply.
  message(t, 1, "reply-tag", Contribution{client, "workers", 9, 2, {}});
  message(t, 1, "reply-tag-int", Contribution{client, "workers", 9, 2, packed(std::int64_t{-5})});
  message(t, 1, "reply-tag-float", Contribution{client, "workers", 9, 2, packed(2.5)});
  message(t, 1, "reply-tag-str", Contribution{client, "workers", 9, 2, packed(std::string("x"))});
  message(t, 1, "reply-tag-forged-rank", Contribution{client, "workers", 9, 4000000000u, packed(std::int64_t{1})});
  // A tensor's body as a reply value: ["f32", [2], reference to frame 1].
  message(t, 1, "reply-tag-tensor",
          Contribution{client, "workers", 9, 2, std::string("\x93\xa3" "f32" "\x91\x02\xd6\x5a\x00\x00\x00\x01", 13)});
  // A Partial's value travels as frames of its own; its body alone holds no value.
  Partial partial{client, "workers", 9, 4, false, {}, 4, {}};
  message(t, 2, "partial", partial);
  partial.missing = {MissingRun{5, 2, Error(ErrorCode::proc_failed, "proc 5 died")}};
  message(t, 2, "partial-missing", partial);
  message(t, 3, "slot-lost", SlotLost{client, "workers", 9, 3, Error(ErrorCode::timeout, "late")});
  message(t, 4, "skip-casts", SkipCasts{client, "workers", 2, {3, 4, 90000}});
  message(t, 5, "wake", Wake{});
  message(t, 6, "stats", CommStats{3, 10, 1, 0, 2, 1, 0, 0, 0});
  message(t, 7, "stats-query", CommStatsQuery{handler_port<CommStats>(client)});
  message(t, 8, "rank-runs", std::vector<RankRun>{{0, 3, 1}, {4, 2, 1}, {7, 1, 2}});
  // Reducer values: two msgpack values back to back, split in the middle by the target.
  write(t, "reduce-ints", std::string(1, '\x09') + packed(std::int64_t{-3}) + packed(std::int64_t{4}));
  write(t, "reduce-gather",
        std::string(1, '\x09') + packed(ValueMesh<int>(Extent(), {{0, 2, 7}}).runs()) +
            packed(ValueMesh<int>(Extent(), {{2, 1, 7}}).runs()));
  message(t, 10, "cast-header", CastHeader{"train/workers", 9, client, 5, {"host", "gpu"}, {2, 4}});
  message(t, 11, "value-mesh", std::vector<ValueRun<std::int64_t>>{{0, 2, 7}, {3, 5, -1}});
  message(t, 12, "unreached",
          Unreached{client, "workers", 2, 7, handler_port<Partial>(client).id,
                    Error(ErrorCode::proc_failed, "relay rank 1 died before passing it on")});
  message(t, 13, "close-generation", CloseGeneration{client, 2, {{"workers", 7}, {"trainers", 1}}});
  message(t, 14, "proc-lost", ProcLost{client, 3, 2, {{"workers", 9}}});
}

void selections() {
  const std::string t = "fuzz_selection";
  int n = 0;
  for (const char* text :
       {"*", "*,0", "*,0 | 1,*", "*,(1:4|5:6)", "0:8:2", "first,?", "true", "false", "?,*",
        "(*,1:)&(0,*)", "1::3", ":4", "0,(1,2)", "(0|1)&(1|2)", "{host=2,gpu=8}",
        "{host=2,gpu=4}@3[16,2]", "{}", "{ a = 3 , b_2 = 1 }", "host=1/2,gpu=3/8", ""}) {
    write(t, fmt::format("text-{:02}", n++), text);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  envelopes();
  bulk_messages();
  link_headers();
  agent_messages();
  comm_messages();
  selections();
  return 0;
}
