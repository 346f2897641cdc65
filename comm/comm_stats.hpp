#pragma once
// CommStats: what one comm actor holds and has seen, so tests and tools can check that
// per-cast state is freed (reductions and held casts drop back to zero) and count losses.
// Thread: value types.

#include "zmesh/core/message.hpp"
#include "zmesh/core/port.hpp"

#include <cstdint>

namespace zmesh::comm {

struct CommStats {
  ZMESH_MESSAGE("zmesh.comm.Stats");
  std::uint32_t rank = 0;
  std::uint64_t casts = 0;             // casts received
  std::uint64_t reductions = 0;        // reductions in progress: per-cast state
  std::uint64_t held = 0;              // casts (and skip marks) waiting for an earlier cast
  std::uint64_t arrived_early = 0;     // casts that overtook an earlier one and waited for it
  std::uint64_t streams = 0;           // (client, actor mesh) pairs with state here (till closed)
  std::uint64_t dropped_late = 0;      // casts and replies that came after their turn
  std::uint64_t gaps_given_up = 0;     // casts never received, given up after the gap timeout
  std::uint64_t forward_failures = 0;  // casts a child could not be sent
  std::uint64_t stalls = 0;  // times a cast waited for room (a full mailbox or link downstream)
  MSGPACK_DEFINE(rank, casts, reductions, held, arrived_early, streams, dropped_late, gaps_given_up,
                 forward_failures, stalls);
};

struct CommStatsQuery {
  ZMESH_MESSAGE("zmesh.comm.StatsQuery");
  PortRef<CommStats> reply_to;
  MSGPACK_DEFINE(reply_to);
};

}  // namespace zmesh::comm
