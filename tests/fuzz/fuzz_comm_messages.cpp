// fuzz_comm_messages: feeds the input to the comm tree's wire decoders: decode<T> of every
// message of comm/internal/messages.hpp and comm/comm_stats.hpp, rank runs
// (comm/internal/rank_runs.hpp: expand, compress, rank_text), the built-in reducers' lift and
// fold (mesh/reducer.hpp), which relays run on the msgpack values of actors' replies and of
// Partial, and the CastHeader (mesh/cast_info.hpp) each cast delivery carries. The first byte
// picks what is fed, the rest is the frame.
// A reducing cast's delivery carries a reply route (core/reply.hpp) whose tag is a packed
// Contribution (which cast and rank the reply answers); the actor's reply echoes the tag in
// its header. A tag that decodes goes the comm actor's reply path (CommActor::reply): back out
// of a reply envelope's header, then contributed to a node's Reduction with each built-in
// reducer, its value standing for the reply and its rank as given (a forged rank must be
// folded or refused, never trusted).
// A CastControl that decodes goes down the comm actor's cast path without sockets: parse its
// shape, expand its rank runs, find the first rank's view rank, plan its subtree
// (DeliveryPlan::over_ranks), cut it into children's runs (compress), name ranks (rank_text),
// and build the delivery's header (encode_header of its header entries).
// Asserts: no crash, leak, UB or runaway allocation (run with -malloc_limit_mb) on any bytes;
// a failed decode is decode_error; whatever decodes re-encodes stably (fuzz::decode_stable);
// expand(compress(x)) == x for the ranks a cast carries. A Partial also goes through the
// client's root reduction (client_reduce below).

#include "fuzz_check.hpp"

#include "zmesh/comm/comm_stats.hpp"
#include "zmesh/comm/internal/messages.hpp"
#include "zmesh/comm/internal/rank_runs.hpp"
#include "zmesh/comm/internal/reduction.hpp"
#include "zmesh/mesh/reducer.hpp"
#include "zmesh/comm/routing.hpp"
#include "zmesh/mesh/value_mesh.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/core/reply.hpp"
#include "zmesh/mesh/cast_info.hpp"
#include "zmesh/mesh/extent.hpp"
#include "zmesh/mesh/point.hpp"
#include "zmesh/mesh/selection.hpp"
#include "zmesh/mesh/shape.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace zmesh;
using namespace zmesh::comm;
using namespace zmesh::comm::internal;

constexpr std::string_view builtin_names[] = {
    "zmesh.sum",        "zmesh.min",        "zmesh.max",        "zmesh.count",      "zmesh.gather",
    "zmesh.tensor.sum", "zmesh.tensor.min", "zmesh.tensor.max", "zmesh.tensor.mean"};

template <class T, class Use>
void feed(const Frame& frame, std::string_view what, Use use) {
  auto decoded = fuzz::decode_stable<T>(frame, what);
  if (!decoded) {
    FUZZ_CHECK(decoded.error().code == ErrorCode::decode_error, decoded.error().describe());
    return;
  }
  use(*decoded);
}

const Shape& huge_shape();

void check_runs_round_trip(const RankList& list) {
  const auto runs = compress(list.ranks, list.counters);
  auto again = expand(runs, huge_shape());
  FUZZ_CHECK(again.ok(), "compress() produced runs that expand() rejects");
  FUZZ_CHECK(again->ranks == list.ranks && again->counters == list.counters,
             "expand(compress(ranks)) differs from the ranks");
}

// A shape with 2^32 ranks: expand()'s own limits, not the shape's, bound the runs fed to it.
const Shape& huge_shape() {
  static const Shape shape = Shape::parse("{a=65536,b=65536}").value();
  return shape;
}

// What CommActor::cast does with a control frame, minus the sockets and the sequencer.
void cast_path(const CastControl& control) {
  auto shape = Shape::parse(control.shape);
  if (!shape) return;
  (void)shape->to_string();
  auto list = expand(control.ranks, *shape);
  if (!list) return;
  check_runs_round_trip(*list);
  if (list->ranks.empty()) return;
  const std::size_t self = list->ranks.front();
  auto view_rank = shape->view_rank_of(self);
  if (!view_rank) return;
  (void)rank_text(*shape, self);
  if (list->ranks.size() > 1) {
    auto plan = DeliveryPlan::over_ranks(
        std::vector<std::size_t>(list->ranks.begin() + 1, list->ranks.end()),
        std::max<std::uint32_t>(1, control.fanout));
    if (plan) {
      for (std::size_t head : plan->root_children()) {
        auto subtree = plan->subtree_of(head);
        FUZZ_CHECK(subtree.ok(), "a root child of a plan has no subtree");
        const auto begin =
            static_cast<std::size_t>(subtree->data() - plan->ranks().data()) + 1;
        FUZZ_CHECK(begin + subtree->size() <= list->counters.size(),
                   "a subtree runs past the cast's ranks");
        const auto runs =
            compress(*subtree, std::span(list->counters).subspan(begin, subtree->size()));
        FUZZ_CHECK(expand(runs, *shape).ok(), "a child's rank runs do not expand");
        (void)rank_text(*shape, head);
      }
    }
  }
  if (control.reduce) (void)builtin_reducer(control.reduction.reducer);
  // The delivery's header, as a receiver's proc would encode it if it forwarded the message.
  Envelope delivery;
  delivery.sender = control.origin;
  delivery.type_name = control.type_name;
  for (const auto& [name, encoded] : control.headers) delivery.headers.set_raw(name, encoded);
  delivery.headers.set(std::string(cast_header_key),
                       CastHeader{control.mesh, control.cast_id, control.origin,
                                  static_cast<std::uint32_t>(*view_rank), shape->labels(), {}});
  (void)decode_envelope(encode_header(delivery), {});
}

// Lifts and folds `value` (and `other`) with every built-in reducer. Each value is two
// frames, so that a tensor's reference to frame 1 finds one.
void reduce(std::uint32_t rank, std::string_view value, std::string_view other) {
  const Frames first{Frame::copy_of(value), Frame::copy_of(other)};
  const Frames second{Frame::copy_of(other), Frame::copy_of(value)};
  for (auto name : builtin_names) {
    auto ops = builtin_reducer(name);
    FUZZ_CHECK(ops.has_value(), std::string(name));
    auto lifted = ops->lift(rank, first);
    if (lifted) {
      auto folded = ops->fold(*lifted, *lifted);
      if (folded) (void)ops->fold(*folded, *lifted);
    }
    (void)ops->fold(first, second);
  }
}

void cast_header(const CastHeader& header) {
  // mesh/cast_info.cpp: cast_info(ctx).
  std::vector<std::size_t> sizes(header.sizes.begin(), header.sizes.end());
  auto extent = Extent::create(header.labels, std::move(sizes));
  if (!extent) return;
  auto point = Point::of_rank(*extent, header.rank);
  if (point) (void)point->to_string();
}

// What CommActor::reply does with a reply to a reducing cast's delivery: read the tag back from
// the reply's header, check it carries no error, and contribute the value as the node's own
// part, with the rank the tag names.
void reply_path(const Contribution& tag) {
  (void)tag.origin.to_string();
  Envelope reply;
  reply.sender = ActorId{tag.origin.proc, tag.actor, 0};
  reply.type_name = std::string(message_name<ReplyMessage>());
  reply.headers.set(std::string(reply_tag_key), pack_bytes(tag));
  auto decoded = decode_envelope(encode_header(reply), Frames{Frame::copy_of(tag.value)});
  FUZZ_CHECK(decoded.ok(), "a reply with a decodable tag does not decode");
  auto echoed = decoded->headers.get<std::string>(reply_tag_key);
  FUZZ_CHECK(echoed.has_value(), "a reply lost its tag");
  auto again = unpack_bytes<Contribution>(*echoed, "a reply's tag");
  FUZZ_CHECK(again.ok() && again->cast_id == tag.cast_id && again->rank == tag.rank &&
                 again->actor == tag.actor && again->value == tag.value,
             "a tag differs after its round trip through a reply's header");
  FUZZ_CHECK(!zmesh::internal::reply_error(*decoded).has_value(), "a reply without an error has one");

  // The node of base rank 10 with view ranks 0..5: its own actor (0), child 12 (1..3) and
  // child 14 (4..5).
  const std::vector<std::uint32_t> view_ranks{0, 1, 2, 3, 4, 5};
  const std::vector<Reduction::Part> parts{{10, 0, 1}, {12, 1, 4}, {14, 4, 6}};
  for (auto name : builtin_names) {
    const auto ops = builtin_reducer(name).value();
    Reduction node(&ops, view_ranks, parts);
    node.contribute(parts.front().head, again->rank, decoded->payload);
    node.contribute(parts.front().head, again->rank, decoded->payload);  // twice
    auto folded = node.finish([](const Reduction::Part&) { return Error(ErrorCode::timeout, "no reply"); });
    std::uint64_t missing = 0;
    for (const auto& run : folded.missing) missing += run.count;
    FUZZ_CHECK(folded.contributors + missing == view_ranks.size(),
               fmt::format("{}: {} contributors and {} missing of {} ranks", name, folded.contributors,
                           missing, view_ranks.size()));
  }
}

// What the client (comm/tree_router.cpp, TreeRouter::reduce) does with a Partial from one of
// its root children: report it to the root Reduction, finish, and name every missing rank by
// its base rank. This found the client trusting Partial.missing (now checked by
// Reduction::report).
void client_reduce(const Partial& partial) {
  static const Shape shape = Shape::parse("{host=2,gpu=4}").value();
  static const DeliveryPlan plan =
      DeliveryPlan::create(shape, Selection::all(), 2).value();
  static const auto ops = builtin_reducer("zmesh.sum").value();
  std::vector<std::uint32_t> view_ranks;
  for (std::size_t rank : plan.ranks()) view_ranks.push_back(static_cast<std::uint32_t>(rank));
  std::vector<Reduction::Part> parts;
  for (std::size_t head : plan.root_children()) {
    auto subtree = plan.subtree_of(head).value();
    const auto begin = static_cast<std::size_t>(subtree.data() - plan.ranks().data());
    parts.push_back({static_cast<std::uint32_t>(head), begin, begin + subtree.size()});
  }
  Reduction root(&ops, view_ranks, parts);
  root.report(partial.from, partial);
  auto folded = root.finish([](const Reduction::Part&) {
    return Error(ErrorCode::timeout, "no reply");
  });
  std::map<std::uint32_t, Error> missing;
  for (const auto& run : folded.missing) {
    for (std::uint32_t i = 0; i < run.count; ++i) {
      const std::uint32_t rank = run.first + i;
      (void)shape.base_rank_of(rank).value();  // as tree_router.cpp does
      missing.insert_or_assign(rank, run.reason);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const Frame frame = fuzz::frame_of(data + 1, size - 1);
  switch (selector % 15) {
    case 0: feed<CastControl>(frame, "CastControl", cast_path); break;
    case 1:
      feed<Contribution>(frame, "Contribution (a reply route's tag)", [](const Contribution& m) {
        reduce(m.rank, m.value, m.value);
        reply_path(m);
      });
      break;
    case 2:
      feed<Partial>(frame, "Partial", [](const Partial& m) {
        for (const auto& value : m.value) reduce(m.from, value.view(), value.view());
        for (const auto& run : m.missing) (void)run.reason.describe();
        client_reduce(m);
      });
      break;
    case 3:
      feed<SlotLost>(frame, "SlotLost", [](const SlotLost& m) { (void)m.reason.describe(); });
      break;
    case 4: feed<SkipCasts>(frame, "SkipCasts", [](const SkipCasts&) {}); break;
    case 5: feed<Wake>(frame, "Wake", [](const Wake&) {}); break;
    case 6: feed<CommStats>(frame, "CommStats", [](const CommStats&) {}); break;
    case 7: feed<CommStatsQuery>(frame, "CommStatsQuery", [](const CommStatsQuery&) {}); break;
    case 8:
      feed<std::vector<RankRun>>(frame, "rank runs", [](const std::vector<RankRun>& runs) {
        auto list = expand(runs, huge_shape());
        if (list) check_runs_round_trip(*list);
      });
      break;
    case 9: {
      // Two reducer values: the frame split at its middle.
      const std::string_view bytes = frame.view();
      reduce(static_cast<std::uint32_t>(size), bytes.substr(0, bytes.size() / 2),
             bytes.substr(bytes.size() / 2));
      break;
    }
    case 10: feed<CastHeader>(frame, "CastHeader", cast_header); break;
    case 11:
      feed<ValueMesh<std::int64_t>>(frame, "ValueMesh", [](const ValueMesh<std::int64_t>& m) {
        (void)m.size();
        (void)m.get(0);
        (void)m.get(UINT32_MAX);
      });
      break;
    case 12:
      feed<Unreached>(frame, "Unreached", [](const Unreached& m) { (void)m.reason.describe(); });
      break;
    case 13: feed<CloseGeneration>(frame, "CloseGeneration", [](const CloseGeneration&) {}); break;
    case 14: feed<ProcLost>(frame, "ProcLost", [](const ProcLost&) {}); break;
  }
  return 0;
}
