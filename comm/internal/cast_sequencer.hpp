#pragma once
// CastSequencer: delivers each stream's casts to the local actors in the order the client
// sent them. A stream is (origin, actor). The client numbers every cast per rank (1, 2, 3, ...
// for each rank it reaches), so two casts that took different paths down the tree - other
// selections, other fan-outs, a dead proc routed around - still reach the actor in order: a
// cast that arrives early waits for those before it. Nothing waits forever: the client skips
// casts it knows are lost (SkipCasts), a gap older than the gap timeout is given up (sooner,
// after the grace, when the client said a proc died since the missing cast was sent:
// ProcLost); a cast arriving after its turn was given up is dropped (late), never delivered
// out of order.
//
// Freeing streams: counters live in generations. The client numbers an origin's casts in
// generation 1, 2, ... (one generation at a time for all its actor meshes); when a stream has
// been idle for a while or its mesh stopped, it closes the generation - it tells every proc
// the last counter it sent there per actor (CloseGeneration), forgets its counters and starts
// the next generation at 1. Here, an origin delivers only from its current generation; casts
// and skips of a later one are held until the current one is complete (closed, and every
// stream reached its last counter: nothing held, nothing owed), and then its streams are freed.
// This is correct whatever the order in which casts, skips and closes arrive over different
// paths: a cast of an earlier generation than the current is late (dropped), one of a later
// generation waits, and the last counters say exactly what the current one still owes. Only
// the origin's generation number is kept for good (one word per client that cast here; a proc
// serves the one client that allocated it), since it is what tells a late cast from a new one.
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

  // Gaps are given up after `gap_timeout`, or after `grace` when they may be lost with a
  // dead proc (lost()).
  CastSequencer(Clock::duration gap_timeout, Clock::duration grace)
      : gap_timeout_(gap_timeout), grace_(grace) {}

  // Cast number `counter` of `stream` in `generation` arrived, `delivery` being its envelope
  // for the local actor. Delivered at once with any successors waiting for it when it is
  // next, held when early; false when it comes after its turn was given up or twice (dropped).
  bool offer(const StreamKey& stream, std::uint64_t generation, std::uint64_t counter,
             Envelope delivery, Clock::time_point now, const Deliver& deliver);
  // Cast number `counter` of `stream` in `generation` will not arrive: do not wait for it.
  // True when the cast had not arrived (from now on it never runs here); false when it came
  // already (it ran or will run) or its turn was given up before.
  bool skip(const StreamKey& stream, std::uint64_t generation, std::uint64_t counter,
            Clock::time_point now, const Deliver& deliver);
  // The origin's `generation` ends with counter `last[actor]` for each actor (none: 0).
  void close(const ActorId& origin, std::uint64_t generation,
             const std::map<std::string, std::uint64_t>& last, Clock::time_point now,
             const Deliver& deliver);
  // A proc died: the origin's casts of earlier generations, and of `generation` up to
  // `upto[actor]`, may be lost with it; gaps among them are given up after the grace.
  void lost(const ActorId& origin, std::uint64_t generation,
            const std::map<std::string, std::uint64_t>& upto);
  // Gives up the gaps that have waited long enough; delivers what follows them.
  void expire(Clock::time_point now, const Deliver& deliver);
  // When expire() next has work; nothing when no cast is held.
  std::optional<Clock::time_point> next_expiry() const;

  // -- counters (for stats and tests) --
  std::size_t held() const;
  // Streams with state here: of the current and held later generations of every origin.
  std::size_t streams() const;
  std::size_t origins() const { return origins_.size(); }
  std::uint64_t arrived_early() const { return arrived_early_; }
  std::uint64_t dropped_late() const { return dropped_late_; }
  std::uint64_t given_up() const { return given_up_; }

 private:
  struct Stream {
    std::uint64_t next = 1;
    // Early casts by counter; an empty slot is a cast the client skipped.
    std::map<std::uint64_t, std::optional<Envelope>> held;
    Clock::time_point waiting_since{};
    std::optional<std::uint64_t> last;  // once the generation is closed
  };
  struct Generation {
    std::map<std::string, Stream, std::less<>> streams;
    bool closed = false;
  };
  struct Origin {
    std::uint64_t current = 1;  // the client's generations start at 1
    // The current generation (once anything of it came) and later ones, held.
    std::map<std::uint64_t, Generation> generations;
    // Since when a later generation waits for the current one.
    Clock::time_point blocked_since{};
    // From lost(): gaps up to these counters of this generation (and all of earlier ones)
    // get the grace.
    std::uint64_t suspect_generation = 0;
    std::map<std::string, std::uint64_t, std::less<>> suspect_upto;
  };

  // The stream's slot in its generation, made on first use; null for a generation that is
  // over here (its casts are late).
  Stream* stream_of(Origin& origin, const std::string& actor, std::uint64_t generation,
                    Clock::time_point now);
  // Delivers the held casts that are next in line (the stream is in the current generation).
  void drain(Stream& stream, Clock::time_point now, const Deliver& deliver);
  // Frees complete generations and moves the origin on, delivering what waited for that.
  void settle(Origin& origin, Clock::time_point now, const Deliver& deliver);
  // Gives up what the current generation still owes and moves on.
  void give_up_generation(Origin& origin, Clock::time_point now, const Deliver& deliver);
  static bool complete(const Stream& stream);
  static bool complete(const Generation& generation);
  bool blocked(const Origin& origin) const;
  // How long a gap at `stream` (of the origin's current generation) may wait.
  Clock::duration patience(const Origin& origin, const std::string& actor,
                           const Stream& stream) const;

  Clock::duration gap_timeout_;
  Clock::duration grace_;
  std::map<ActorId, Origin> origins_;
  std::uint64_t arrived_early_ = 0;
  std::uint64_t dropped_late_ = 0;
  std::uint64_t given_up_ = 0;
};

}  // namespace zmesh::comm::internal
