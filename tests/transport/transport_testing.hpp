#pragma once
// Helpers shared by the transport tests: an Inbox that records what an Endpoint hands to
// its Inbound callbacks, message builders, and test configurations with short timeouts.
// Thread: Inbox callbacks run on the endpoint's I/O thread; its readers lock.

#include "testing/test_keys.hpp"
#include "testing/wait.hpp"
#include "zmesh/core/config.hpp"
#include "zmesh/core/envelope.hpp"
#include "zmesh/transport/endpoint.hpp"

#include <unistd.h>

#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace zmesh::testing {

// Records every delivered and returned envelope. While closed (set_open(false)) it refuses
// data-lane messages as a full mailbox does, counting the refusals.
class Inbox {
 public:
  Endpoint::Inbound inbound() {
    return {[this](Envelope& envelope) {
              std::lock_guard lock(mutex_);
              if (!open_ && lane_of(envelope.type_name) == Lane::data) {
                ++refused_;
                return false;
              }
              delivered_.push_back(std::move(envelope));
              return true;
            },
            [this](Envelope&& envelope, Error error) {
              std::lock_guard lock(mutex_);
              returned_.emplace_back(std::move(envelope), std::move(error));
            }};
  }
  // Forgets what was delivered and returned (and lets go of their frames).
  void clear() {
    std::lock_guard lock(mutex_);
    delivered_.clear();
    returned_.clear();
  }
  void set_open(bool open) {
    std::lock_guard lock(mutex_);
    open_ = open;
  }
  std::size_t refused_count() const {
    std::lock_guard lock(mutex_);
    return refused_;
  }
  std::size_t delivered_count() const {
    std::lock_guard lock(mutex_);
    return delivered_.size();
  }
  std::size_t returned_count() const {
    std::lock_guard lock(mutex_);
    return returned_.size();
  }
  std::vector<Envelope> delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  std::vector<std::pair<Envelope, Error>> returned() const {
    std::lock_guard lock(mutex_);
    return returned_;
  }
  // The payload of every delivered message as text (first frame), in arrival order.
  std::vector<std::string> delivered_texts() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> texts;
    for (const auto& envelope : delivered_) {
      texts.emplace_back(envelope.payload.empty() ? "" : envelope.payload[0].view());
    }
    return texts;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Envelope> delivered_;
  std::vector<std::pair<Envelope, Error>> returned_;
  bool open_ = true;
  std::size_t refused_ = 0;
};

// A unique ipc:// address for a socket the test binds itself; removes the socket file
// (libzmq leaves it) when the test ends.
class ScopedIpcAddress {
 public:
  explicit ScopedIpcAddress(const std::string& tag) : path_(unique_temp_path(tag)) {}
  ~ScopedIpcAddress() { ::unlink(path_.c_str()); }
  ScopedIpcAddress(const ScopedIpcAddress&) = delete;
  ScopedIpcAddress& operator=(const ScopedIpcAddress&) = delete;
  std::string address() const { return "ipc://" + path_; }

 private:
  std::string path_;
};

inline ProcId proc(std::string world, std::uint32_t rank) {
  return ProcId{WorldId{std::move(world)}, rank};
}

// A message from an actor on `from` to port 7 of actor "sink" on `to`, carrying `payload`.
inline Envelope make_message(const ProcId& from, const ProcId& to, Frames payload,
                             std::string type = "transport_test.Text") {
  Envelope envelope;
  envelope.sender = ActorId{from, "source", 0};
  envelope.destination = PortId{ActorId{to, "sink", 0}, 7};
  envelope.type_name = std::move(type);
  envelope.payload = std::move(payload);
  return envelope;
}

inline Envelope make_text(const ProcId& from, const ProcId& to, std::string_view text,
                          std::string type = "transport_test.Text") {
  return make_message(from, to, {Frame::copy_of(text)}, std::move(type));
}

// Defaults, except a delivery timeout that ends a broken test sooner (still generous for
// sanitizer builds on a loaded machine). Failure tests shorten the timeouts further.
// tcp endpoints use CURVE, as in production: every test endpoint shares test_key_pair().
inline Config test_config() {
  Config config;
  config.curve = test_key_pair();
  config.delivery_timeout = Millis(20000);
  config.linger = Millis(2000);
  config.log_level = "warn";
  return config;
}

}  // namespace zmesh::testing
