#pragma once
// CastSequencer: delivers each stream's casts to the local actors in the order the client
// sent them. A stream is (origin, actor). The client numbers every cast per rank (1, 2, 3, ...
// for each rank it reaches), so two casts that took different paths down the tree - other
// selections, other fan-outs, a dead proc routed around - still reach the actor in order: a
// cast that arrives early waits for those before it. Nothing waits forever: the client skips
// casts it knows are lost (SkipCasts), and a gap older than the gap timeout is given up; a
// cast arriving after its turn was given up is dropped (late), never delivered out of order.
// Thread: owned by one comm actor (used only on its turn).

#include "zmesh/core/config.hpp"
#include "zmesh/core/envelope.hpp"

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace zmesh::comm::internal {

struct StreamKey {
  ActorId origin;
  std::string actor;
  friend auto operator<=>(const StreamKey&, const StreamKey&) = default;
};

class CastSequencer {
 public:
  using Deliver = std::function<void(Envelope&&)>;

  explicit CastSequencer(Clock::duration gap_timeout) : gap_timeout_(gap_timeout) {}

  // Cast number `counter` of `stream` arrived, `delivery` being its envelope for the local
  // actor. Delivered at once with any successors waiting for it when it is next, held when
  // early; false when it comes after its turn was given up or twice (dropped).
  bool offer(const StreamKey& stream, std::uint64_t counter, Envelope delivery,
             Clock::time_point now, const Deliver& deliver);
  // Cast number `counter` of `stream` will not arrive: do not wait for it.
  void skip(const StreamKey& stream, std::uint64_t counter, Clock::time_point now,
            const Deliver& deliver);
  // Gives up the gaps that have waited for the gap timeout; delivers what follows them.
  void expire(Clock::time_point now, const Deliver& deliver);
  // When expire() next has work; nothing when no cast is held.
  std::optional<Clock::time_point> next_expiry() const;

  // -- counters (for stats and tests) --
  std::size_t held() const;
  std::size_t streams() const { return streams_.size(); }
  std::uint64_t arrived_early() const { return arrived_early_; }
  std::uint64_t dropped_late() const { return dropped_late_; }
  std::uint64_t given_up() const { return given_up_; }

 private:
  struct Stream {
    std::uint64_t next = 1;
    // Early casts by counter; an empty slot is a cast the client skipped.
    std::map<std::uint64_t, std::optional<Envelope>> held;
    Clock::time_point waiting_since{};
  };

  // Delivers the held casts that are next in line.
  void drain(Stream& stream, Clock::time_point now, const Deliver& deliver);

  Clock::duration gap_timeout_;
  // Streams are kept for the life of the actor: a few words each, one per (client, actor
  // mesh) that ever cast here.
  std::map<StreamKey, Stream> streams_;
  std::uint64_t arrived_early_ = 0;
  std::uint64_t dropped_late_ = 0;
  std::uint64_t given_up_ = 0;
};

}  // namespace zmesh::comm::internal
