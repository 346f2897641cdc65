#pragma once
// Envelope: one message in flight: sender, destination port, type name, a header map and
// the payload frames. On the wire the header is one msgpack map frame followed by the
// payload frames untouched, so forwarding never re-encodes or copies a payload.
// Unknown header keys are skipped (newer peers may add some); a different format
// version is a clear version_mismatch error.
// Thread: value type.

#include "zmesh/core/config.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/frame.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/message.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace zmesh {

inline constexpr std::uint32_t envelope_format_version = 1;

// String -> msgpack value, kept as encoded bytes so unknown entries pass through intact.
class Headers {
 public:
  template <class T>
  void set(std::string key, const T& value) {
    entries_[std::move(key)] = encode_to_string(value);
  }
  // The value under `key`, or nothing if absent or not convertible to T.
  template <class T>
  std::optional<T> get(std::string_view key) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    try {
      T value{};
      unpack_scratch(it->second.data(), it->second.size()).convert(value);
      return value;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  bool contains(std::string_view key) const { return entries_.find(key) != entries_.end(); }
  void erase(std::string_view key) {
    if (auto it = entries_.find(key); it != entries_.end()) entries_.erase(it);
  }
  std::size_t size() const { return entries_.size(); }
  const std::map<std::string, std::string, std::less<>>& raw() const { return entries_; }
  void set_raw(std::string key, std::string encoded) { entries_[std::move(key)] = std::move(encoded); }

  friend bool operator==(const Headers&, const Headers&) = default;

 private:
  std::map<std::string, std::string, std::less<>> entries_;
};

struct Envelope {
  ActorId sender;
  PortId destination;
  std::string type_name;
  Headers headers;
  Frames payload;
  // When the transport stops trying and returns the message as undeliverable. Local only
  // (not sent); the time_point's epoch means "the configured delivery timeout".
  Deadline deadline{};
  // Local only: set by Proc::offer for messages that came in over the network, so that
  // messages only this process may make (e.g. a gather's rank-failed notice) can refuse
  // forged copies.
  bool from_network = false;
};

// Which flow-control lane a message travels in. Control messages (the agent protocol,
// bootstrap, heartbeats, undeliverable notices) bypass link windows and mailbox bounds and
// have their own sequence space, so that a flood of data never delays a heartbeat into a
// watchdog kill.
enum class Lane : std::uint8_t { data = 0, control = 1 };
Lane lane_of(std::string_view type_name) noexcept;

// Bytes a message occupies in queues: header estimate plus payload frames.
std::size_t queued_bytes(const Envelope& envelope) noexcept;

// Builds an envelope carrying `message` (its body and bulk frames) to `destination`.
template <Message T>
Envelope make_envelope(ActorId sender, PortId destination, const T& message) {
  Envelope envelope{std::move(sender), std::move(destination), std::string(message_name<T>()),
                    {}, encode_frames(message), {}};
  return envelope;
}

// The header frame of `envelope` (everything but the payload).
Frame encode_header(const Envelope& envelope);

// Rebuilds an envelope from a header frame and payload frames; errors name what was wrong.
Result<Envelope> decode_envelope(const Frame& header, Frames payload);

// A message that could not be delivered, returned to its sender with the reason.
struct Undeliverable {
  ZMESH_MESSAGE("zmesh.Undeliverable");
  ActorId sender;
  PortId destination;
  std::string type_name;
  Error reason;
  MSGPACK_DEFINE(sender, destination, type_name, reason);
};

}  // namespace zmesh
