#include "zmesh/comm/internal/cast_sequencer.hpp"

#include <algorithm>

namespace zmesh::comm::internal {

CastSequencer::Stream* CastSequencer::stream_of(Origin& origin, const std::string& actor,
                                                std::uint64_t generation, Clock::time_point now) {
  if (generation < origin.current) return nullptr;
  const bool was_blocked = blocked(origin);
  Generation& held = origin.generations[generation];
  auto it = held.streams.find(actor);
  if (it == held.streams.end()) {
    // A closed generation has a stream for every actor the client cast to in it.
    if (held.closed) return nullptr;
    it = held.streams.emplace(actor, Stream{}).first;
  }
  if (!was_blocked && blocked(origin)) origin.blocked_since = now;
  return &it->second;
}

bool CastSequencer::offer(const StreamKey& key, std::uint64_t generation, std::uint64_t counter,
                          Envelope delivery, Clock::time_point now, const Deliver& deliver) {
  Origin& origin = origins_[key.origin];
  Stream* stream = stream_of(origin, key.actor, generation, now);
  if (stream == nullptr || counter < stream->next || (stream->last && counter > *stream->last)) {
    ++dropped_late_;
    return false;
  }
  if (generation == origin.current && counter == stream->next) {
    ++stream->next;
    deliver(std::move(delivery));
    drain(*stream, now, deliver);
    settle(origin, now, deliver);
    return true;
  }
  // A slot already taken is this very cast again, or a skip: either way it must not run.
  const bool was_empty = stream->held.empty();
  if (!stream->held.try_emplace(counter, std::move(delivery)).second) {
    ++dropped_late_;
    return false;
  }
  ++arrived_early_;
  if (was_empty) stream->waiting_since = now;
  return true;
}

bool CastSequencer::skip(const StreamKey& key, std::uint64_t generation, std::uint64_t counter,
                         Clock::time_point now, const Deliver& deliver) {
  Origin& origin = origins_[key.origin];
  Stream* stream = stream_of(origin, key.actor, generation, now);
  if (stream == nullptr || counter < stream->next || (stream->last && counter > *stream->last)) {
    return false;
  }
  if (generation == origin.current && counter == stream->next) {
    ++stream->next;
    drain(*stream, now, deliver);
    settle(origin, now, deliver);
    return true;
  }
  const bool was_empty = stream->held.empty();
  // A cast already held there still runs.
  if (!stream->held.try_emplace(counter, std::nullopt).second) return false;
  if (was_empty) stream->waiting_since = now;
  return true;
}

void CastSequencer::close(const ActorId& key, std::uint64_t generation,
                          const std::map<std::string, std::uint64_t>& last, Clock::time_point now,
                          const Deliver& deliver) {
  Origin& origin = origins_[key];
  if (generation < origin.current) return;  // given up here already
  const bool was_blocked = blocked(origin);
  Generation& closing = origin.generations[generation];
  if (closing.closed) return;
  closing.closed = true;
  for (const auto& [actor, counter] : last) closing.streams[actor].last = counter;
  for (auto& [actor, stream] : closing.streams) {
    if (!stream.last) stream.last = 0;  // the client sent none: what came is forged
    while (!stream.held.empty() && stream.held.rbegin()->first > *stream.last) {
      stream.held.erase(std::prev(stream.held.end()));
      ++dropped_late_;
    }
  }
  if (!was_blocked && blocked(origin)) origin.blocked_since = now;
  settle(origin, now, deliver);
}

void CastSequencer::lost(const ActorId& key, std::uint64_t generation,
                         const std::map<std::string, std::uint64_t>& upto) {
  Origin& origin = origins_[key];
  if (generation < origin.suspect_generation) return;
  if (generation > origin.suspect_generation) {
    origin.suspect_generation = generation;
    origin.suspect_upto.clear();
  }
  for (const auto& [actor, counter] : upto) {
    auto& mark = origin.suspect_upto[actor];
    mark = std::max(mark, counter);
  }
}

void CastSequencer::drain(Stream& stream, Clock::time_point now, const Deliver& deliver) {
  bool progressed = false;
  while (!stream.held.empty() && stream.held.begin()->first == stream.next) {
    auto node = stream.held.extract(stream.held.begin());
    ++stream.next;
    progressed = true;
    if (node.mapped()) deliver(std::move(*node.mapped()));
  }
  // A gap further on is waited for afresh.
  if (progressed) stream.waiting_since = now;
}

bool CastSequencer::complete(const Stream& stream) {
  return stream.held.empty() && stream.last && stream.next > *stream.last;
}

bool CastSequencer::complete(const Generation& generation) {
  return generation.closed && std::all_of(generation.streams.begin(), generation.streams.end(),
                                          [](const auto& entry) { return complete(entry.second); });
}

bool CastSequencer::blocked(const Origin& origin) const {
  return origin.generations.upper_bound(origin.current) != origin.generations.end();
}

void CastSequencer::settle(Origin& origin, Clock::time_point now, const Deliver& deliver) {
  for (;;) {
    auto it = origin.generations.find(origin.current);
    if (it == origin.generations.end() || !complete(it->second)) return;
    origin.generations.erase(it);
    ++origin.current;
    origin.blocked_since = now;
    auto next = origin.generations.find(origin.current);
    if (next == origin.generations.end()) continue;  // a later one may be complete already
    for (auto& [actor, stream] : next->second.streams) {
      stream.waiting_since = now;
      drain(stream, now, deliver);
    }
  }
}

void CastSequencer::give_up_generation(Origin& origin, Clock::time_point now,
                                       const Deliver& deliver) {
  if (auto it = origin.generations.find(origin.current); it != origin.generations.end()) {
    for (auto& [actor, stream] : it->second.streams) {
      for (auto& [counter, cast] : stream.held) {
        given_up_ += counter - stream.next;
        stream.next = counter + 1;
        if (cast) deliver(std::move(*cast));
      }
      if (stream.last && *stream.last >= stream.next) given_up_ += *stream.last + 1 - stream.next;
    }
    origin.generations.erase(it);
  }
  ++origin.current;
  origin.blocked_since = now;
  if (auto next = origin.generations.find(origin.current); next != origin.generations.end()) {
    for (auto& [actor, stream] : next->second.streams) {
      stream.waiting_since = now;
      drain(stream, now, deliver);
    }
  }
  settle(origin, now, deliver);
}

Clock::duration CastSequencer::patience(const Origin& origin, const std::string& actor,
                                        const Stream& stream) const {
  if (origin.suspect_generation > origin.current) return grace_;
  if (origin.suspect_generation == origin.current) {
    auto it = origin.suspect_upto.find(actor);
    if (it != origin.suspect_upto.end() && stream.next <= it->second) return grace_;
  }
  return gap_timeout_;
}

void CastSequencer::expire(Clock::time_point now, const Deliver& deliver) {
  for (auto& [key, origin] : origins_) {
    for (;;) {
      if (auto it = origin.generations.find(origin.current); it != origin.generations.end()) {
        for (auto& [actor, stream] : it->second.streams) {
          if (stream.held.empty() || now - stream.waiting_since < patience(origin, actor, stream)) {
            continue;
          }
          given_up_ += stream.held.begin()->first - stream.next;
          stream.next = stream.held.begin()->first;
          drain(stream, now, deliver);
        }
      }
      settle(origin, now, deliver);
      // A later generation waits for casts of this one that may never come.
      const auto wait =
          origin.suspect_generation > origin.current ? grace_ : gap_timeout_;
      if (!blocked(origin) || now - origin.blocked_since < wait) break;
      give_up_generation(origin, now, deliver);
    }
  }
}

std::optional<Clock::time_point> CastSequencer::next_expiry() const {
  std::optional<Clock::time_point> next;
  auto consider = [&next](Clock::time_point due) {
    if (!next || due < *next) next = due;
  };
  for (const auto& [key, origin] : origins_) {
    if (auto it = origin.generations.find(origin.current); it != origin.generations.end()) {
      for (const auto& [actor, stream] : it->second.streams) {
        if (!stream.held.empty()) consider(stream.waiting_since + patience(origin, actor, stream));
      }
    }
    if (blocked(origin)) {
      consider(origin.blocked_since +
               (origin.suspect_generation > origin.current ? grace_ : gap_timeout_));
    }
  }
  return next;
}

std::size_t CastSequencer::held() const {
  std::size_t count = 0;
  for (const auto& [key, origin] : origins_) {
    for (const auto& [number, generation] : origin.generations) {
      for (const auto& [actor, stream] : generation.streams) count += stream.held.size();
    }
  }
  return count;
}

std::size_t CastSequencer::streams() const {
  std::size_t count = 0;
  for (const auto& [key, origin] : origins_) {
    for (const auto& [number, generation] : origin.generations) count += generation.streams.size();
  }
  return count;
}

}  // namespace zmesh::comm::internal
