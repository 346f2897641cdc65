#pragma once
// Actors for comm tree tests: a tally that records every Mark cast in arrival order (so a test
// can check who got which cast, how often and in what order) and answers reducing queries, and
// a user-defined reducer that does not commute (so folding order shows).
// Thread: actors follow the runtime's rules.

#include "testing/actors.hpp"
#include "zmesh/mesh/reducer.hpp"
#include "zmesh/comm/reply_port.hpp"
#include "zmesh/mesh/cast_info.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace zmesh::testing {

struct Mark {
  ZMESH_MESSAGE("test.Mark");
  std::uint64_t tag = 0;
  MSGPACK_DEFINE(tag);
};

struct TallyReport {
  ZMESH_MESSAGE("test.TallyReport");
  std::vector<std::uint64_t> tags;  // every Mark since the last report, in arrival order
  MSGPACK_DEFINE(tags);
};

// Replies the marks seen since the last query, and forgets them.
struct TallyQuery {
  ZMESH_MESSAGE("test.TallyQuery");
  PortRef<TallyReport> reply_to;
  MSGPACK_DEFINE(reply_to);
};

// Replies the receiver's rank in the cast's shape divided by `divisor`, after `sleep_ms` (on
// every rank, or only on `slow_rank`).
struct ValueQuery {
  ZMESH_MESSAGE("test.ValueQuery");
  comm::ReplyPort<std::int64_t> reply_to;
  std::int64_t divisor = 1;
  std::int32_t sleep_ms = 0;
  std::int64_t slow_rank = -1;
  MSGPACK_DEFINE(reply_to, divisor, sleep_ms, slow_rank);
};

// Replies the receiver's rank in the cast's shape, as text.
struct NameQuery {
  ZMESH_MESSAGE("test.NameQuery");
  comm::ReplyPort<std::string> reply_to;
  MSGPACK_DEFINE(reply_to);
};

// Joins texts with spaces in rank order: associative, not commutative.
struct Joined {
  static constexpr std::string_view name = "test.joined";
  using Input = std::string;
  using Value = std::string;
  static Value lift(std::uint32_t, const Input& input) { return input; }
  static Value fold(const Value& lower, const Value& higher) { return lower + " " + higher; }
};

class TallyActor : public Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit TallyActor(const Params&) {
    on<Mark>([this](Context&, const Mark& mark) { tags_.push_back(mark.tag); });
    on<TallyQuery>([this](Context& ctx, const TallyQuery& query) {
      ctx.send(query.reply_to, TallyReport{std::move(tags_)});
      tags_.clear();
    });
    on<ValueQuery>([](Context& ctx, const ValueQuery& query) {
      const auto rank = static_cast<std::int64_t>(cast_info(ctx).value().rank);
      if (query.slow_rank < 0 || query.slow_rank == rank) {
        std::this_thread::sleep_for(std::chrono::milliseconds(query.sleep_ms));
      }
      comm::reply(ctx, query.reply_to, rank / query.divisor).value();
    });
    on<NameQuery>([](Context& ctx, const NameQuery& query) {
      comm::reply(ctx, query.reply_to, std::to_string(cast_info(ctx).value().rank)).value();
    });
    on<Boom>([](Context&, const Boom& boom) { throw std::runtime_error(boom.why); });
  }

 private:
  std::vector<std::uint64_t> tags_;
};

}  // namespace zmesh::testing
