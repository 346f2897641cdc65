#pragma once
// The supervision channel: every proc publishes its supervision events and heartbeats on a
// PUB socket; a mesh client subscribes to all of its procs. PUB/SUB drops messages (slow
// joiners, reconnects, high-water marks), so events carry a per-proc sequence number and
// heartbeats carry the latest one: the subscriber notices any gap and fetches what it
// missed through `fetch` (the proc agent keeps its events), so no event is lost.
// Thread: SupervisionPublisher is thread-safe (a mutex guards its socket). A
// SupervisionSubscriber owns one thread that owns its SUB socket; its callbacks run there.

#include "zmesh/core/config.hpp"
#include "zmesh/core/ids.hpp"
#include "zmesh/core/log.hpp"
#include "zmesh/core/supervision.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace zmesh {

struct SequencedEvent {
  std::uint64_t seq = 0;
  SupervisionEvent event;
  MSGPACK_DEFINE(seq, event);
};

class SupervisionPublisher {
 public:
  // Binds a PUB socket at `address` (tcp port 0: any free port).
  static Result<std::unique_ptr<SupervisionPublisher>> bind(zmq::context_t& context, ProcId proc,
                                                            std::string_view address,
                                                            const Config& config);
  ~SupervisionPublisher();

  const std::string& address() const { return address_; }
  // Publishes `event` under sequence number `seq` (assigned by the caller's event log).
  void publish_event(const SequencedEvent& event);
  // Publishes a heartbeat that says "my latest event is `latest_seq`".
  void publish_heartbeat(std::uint64_t latest_seq);

 private:
  SupervisionPublisher(ProcId proc, std::unique_ptr<zmq::socket_t> socket, std::string address);
  void publish(const std::string& bytes);

  ProcId proc_;
  std::mutex mutex_;  // guards socket_
  std::unique_ptr<zmq::socket_t> socket_;
  std::string address_;
};

class SupervisionSubscriber {
 public:
  struct Callbacks {
    // Each event exactly once, in sequence order per proc.
    std::function<void(const ProcId&, const SequencedEvent&)> on_event;
    // Fetches the events of `proc` from `from_seq` on (blocking; may fail).
    std::function<Result<std::vector<SequencedEvent>>(const ProcId&, std::uint64_t from_seq)> fetch;
    // `proc` has been silent for half the heartbeat deadline (once per silence), which
    // leaves the other half before a watchdog stops it.
    std::function<void(const ProcId&)> on_silence;
  };

  SupervisionSubscriber(zmq::context_t& context, Callbacks callbacks, const Config& config,
                        std::string_view owner);
  ~SupervisionSubscriber();  // stops and joins the thread

  // Subscribes to the publisher of `proc` at `address`. Thread-safe.
  void connect(const ProcId& proc, const std::string& address);
  // Stops watching `proc` (it stopped): no more silence reports for it. Thread-safe.
  void forget(const ProcId& proc);

 private:
  struct Watched;  // per proc: what was delivered, when it was heard (defined in the .cpp)
  void run();
  void handle(const std::string& bytes);
  void catch_up(const ProcId& proc, Watched& watched, std::uint64_t through);
  void check_silence();
  void wake();

  Callbacks callbacks_;
  Config config_;
  Logger log_;
  std::unique_ptr<zmq::socket_t> socket_;  // owned by thread_
  std::optional<bool> uses_curve_;  // owned by thread_: decided by the first connect
  int wake_fd_ = -1;

  std::mutex mutex_;  // guards pending_connects_, pending_forgets_, stopping_
  std::vector<std::pair<ProcId, std::string>> pending_connects_;
  std::vector<ProcId> pending_forgets_;
  bool stopping_ = false;

  std::unordered_map<ProcId, std::unique_ptr<Watched>> watched_;  // owned by thread_
  std::thread thread_;
};

}  // namespace zmesh
