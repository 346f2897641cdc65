#pragma once
// Actors for comm tree tests: a tally that records every Mark cast in arrival order (so a test
// can check who got which cast, how often and in what order) and answers reducing queries, and
// a user-defined reducer that does not commute (so folding order shows).
// Thread: actors follow the runtime's rules.

#include "testing/actors.hpp"
#include "zmesh/mesh/reducer.hpp"
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

// Answered with the marks seen since the last query (a TallyReport), which it forgets.
struct TallyQuery {
  ZMESH_MESSAGE("test.TallyQuery");
  MSGPACK_DEFINE();
};

// Answered with the receiver's rank in the cast's shape divided by `divisor`, after
// `sleep_ms` (on every rank, or only on `slow_rank`).
struct ValueQuery {
  ZMESH_MESSAGE("test.ValueQuery");
  std::int64_t divisor = 1;
  std::int32_t sleep_ms = 0;
  std::int64_t slow_rank = -1;
  MSGPACK_DEFINE(divisor, sleep_ms, slow_rank);
};

// Answered with the receiver's rank in the cast's shape, as text.
struct NameQuery {
  ZMESH_MESSAGE("test.NameQuery");
  MSGPACK_DEFINE();
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
  explicit TallyActor(const Params&) {}

  void mark(const Mark& mark) { tags_.push_back(mark.tag); }
  TallyReport report(const TallyQuery&) {
    TallyReport report{std::move(tags_)};
    tags_.clear();
    return report;
  }
  std::int64_t value(Context& ctx, const ValueQuery& query) {
    const auto rank = static_cast<std::int64_t>(cast_info(ctx).value().rank);
    if (query.slow_rank < 0 || query.slow_rank == rank) {
      std::this_thread::sleep_for(std::chrono::milliseconds(query.sleep_ms));
    }
    return rank / query.divisor;
  }
  std::string name(Context& ctx, const NameQuery&) { return std::to_string(cast_info(ctx).value().rank); }
  void boom(const Boom& boom) { throw std::runtime_error(boom.why); }
  using Handlers = zmesh::Handlers<&TallyActor::mark, &TallyActor::report, &TallyActor::value,
                                   &TallyActor::name, &TallyActor::boom>;

 private:
  std::vector<std::uint64_t> tags_;
};

}  // namespace zmesh::testing
