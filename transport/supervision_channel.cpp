#include "zmesh/transport/supervision_channel.hpp"

#include "zmesh/core/message.hpp"
#include "zmesh/transport/address.hpp"
#include "zmesh/transport/internal/liveness.hpp"
#include "zmesh/transport/security.hpp"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.hpp>

namespace zmesh {
namespace {

enum class Kind : std::uint8_t { heartbeat = 0, event = 1 };

// One PUB frame: [kind, proc, seq, event-or-nil].
struct Wire {
  Kind kind = Kind::heartbeat;
  ProcId proc;
  std::uint64_t seq = 0;
  std::optional<SupervisionEvent> event;
  MSGPACK_DEFINE(kind, proc, seq, event);
};

}  // namespace
}  // namespace zmesh

MSGPACK_ADD_ENUM(zmesh::Kind);

namespace zmesh {

// -- publisher --

Result<std::unique_ptr<SupervisionPublisher>> SupervisionPublisher::bind(zmq::context_t& context,
                                                                         ProcId proc,
                                                                         std::string_view address,
                                                                         const Config& config) {
  auto parsed = Address::parse(address);
  if (!parsed) return std::move(parsed).error();
  try {
    auto socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::pub);
    if (auto secured = secure_socket(*socket, parsed->to_string(), config, SocketRole::server); !secured) {
      return Error(secured.error().code, fmt::format("cannot bind supervision publisher of {}: {}",
                                                     proc.to_string(), secured.error().message));
    }
    socket->set(zmq::sockopt::linger, static_cast<int>(config.linger.count()));
    // Events must not be dropped by a full queue when a subscriber is slow; gaps are
    // repaired by fetching, but a generous queue keeps that rare.
    socket->set(zmq::sockopt::sndhwm, 100000);
    socket->bind(parsed->bind_text());
    std::string bound = socket->get(zmq::sockopt::last_endpoint);
    return std::unique_ptr<SupervisionPublisher>(
        new SupervisionPublisher(std::move(proc), std::move(socket), std::move(bound)));
  } catch (const zmq::error_t& e) {
    return Error(ErrorCode::transport_failed,
                 fmt::format("cannot bind supervision publisher of {} at {}: {}", proc.to_string(),
                             address, e.what()));
  }
}

SupervisionPublisher::SupervisionPublisher(ProcId proc, std::unique_ptr<zmq::socket_t> socket,
                                           std::string address)
    : proc_(std::move(proc)), socket_(std::move(socket)), address_(std::move(address)) {}

SupervisionPublisher::~SupervisionPublisher() = default;

void SupervisionPublisher::publish_event(const SequencedEvent& event) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, Wire{Kind::event, proc_, event.seq, event.event});
  publish(std::string(buffer.data(), buffer.size()));
}

void SupervisionPublisher::publish_heartbeat(std::uint64_t latest_seq) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, Wire{Kind::heartbeat, proc_, latest_seq, std::nullopt});
  publish(std::string(buffer.data(), buffer.size()));
}

void SupervisionPublisher::publish(const std::string& bytes) {
  std::lock_guard lock(mutex_);
  try {
    (void)socket_->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // A dropped publication is repaired by the subscriber's gap fetch.
  }
}

// -- subscriber --

struct SupervisionSubscriber::Watched {
  explicit Watched(Clock::time_point now) : liveness(now) {}
  std::uint64_t delivered = 0;  // highest seq passed to on_event
  internal::Liveness liveness;
};

SupervisionSubscriber::SupervisionSubscriber(zmq::context_t& context, Callbacks callbacks,
                                             const Config& config, std::string_view owner)
    : callbacks_(std::move(callbacks)),
      config_(config),
      log_("zmesh.transport", owner, config.log_level),
      socket_(std::make_unique<zmq::socket_t>(context, zmq::socket_type::sub)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  socket_->set(zmq::sockopt::linger, 0);
  socket_->set(zmq::sockopt::rcvhwm, 100000);
  socket_->set(zmq::sockopt::subscribe, "");
  thread_ = std::thread([this] { run(); });
}

SupervisionSubscriber::~SupervisionSubscriber() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  socket_.reset();
  ::close(wake_fd_);
}

void SupervisionSubscriber::connect(const ProcId& proc, const std::string& address) {
  {
    std::lock_guard lock(mutex_);
    pending_connects_.emplace_back(proc, address);
  }
  wake();
}

void SupervisionSubscriber::forget(const ProcId& proc) {
  {
    std::lock_guard lock(mutex_);
    pending_forgets_.push_back(proc);
  }
  wake();
}

void SupervisionSubscriber::wake() {
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void SupervisionSubscriber::run() {
  // Wake often enough to notice silence about a heartbeat interval after the deadline.
  const auto tick = std::max<Millis>(Millis(10), config_.heartbeat_interval);
  for (;;) {
    zmq::pollitem_t items[] = {{socket_->handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, tick);
    if (items[1].revents & ZMQ_POLLIN) {
      std::uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof count);
    }
    std::vector<std::pair<ProcId, std::string>> connects;
    std::vector<ProcId> forgets;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      connects.swap(pending_connects_);
      forgets.swap(pending_forgets_);
    }
    for (auto& [proc, address] : connects) {
      try {
        // Security options apply to the connections made after them, so the first address
        // decides; one mesh's procs all use one transport.
        const bool curve = uses_curve(address, config_);
        if (!uses_curve_) {
          uses_curve_ = curve;
          if (auto secured = secure_socket(*socket_, address, config_, SocketRole::client); !secured) {
            log_.warn("ZM-SUB-CONNECT cannot subscribe to {} at {}: {}", proc.to_string(), address,
                      secured.error().message);
            uses_curve_.reset();
            continue;
          }
        } else if (*uses_curve_ != curve) {
          log_.warn("ZM-SUB-CONNECT cannot subscribe to {} at {}: one subscriber cannot mix "
                    "CURVE tcp with ipc or plain tcp",
                    proc.to_string(), address);
          continue;
        }
        socket_->connect(address);
        auto& watched = watched_[proc];
        if (watched) {
          watched->liveness.heard(Clock::now());
        } else {
          watched = std::make_unique<Watched>(Clock::now());
        }
      } catch (const zmq::error_t& e) {
        log_.warn("ZM-SUB-CONNECT cannot subscribe to {} at {}: {}", proc.to_string(), address,
                  e.what());
      }
    }
    for (auto& proc : forgets) watched_.erase(proc);
    for (int i = 0; i < 1000; ++i) {
      zmq::message_t message;
      if (!socket_->recv(message, zmq::recv_flags::dontwait)) break;
      handle(message.to_string());
    }
    check_silence();
  }
}

void SupervisionSubscriber::handle(const std::string& bytes) {
  auto wire = decode_value<Wire>(Frame::copy_of(bytes), "supervision message");
  if (!wire) {
    log_.warn("ZM-GARBAGE supervision channel: {}", wire.error().message);
    return;
  }
  auto it = watched_.find(wire->proc);
  if (it == watched_.end()) return;  // not ours (or forgotten): ignore
  Watched& watched = *it->second;
  watched.liveness.heard(Clock::now());
  if (wire->kind == Kind::heartbeat) {
    if (wire->seq > watched.delivered) catch_up(wire->proc, watched, wire->seq);
    return;
  }
  if (!wire->event || wire->seq <= watched.delivered) return;  // duplicate of a fetched one
  if (wire->seq > watched.delivered + 1) catch_up(wire->proc, watched, wire->seq - 1);
  if (wire->seq == watched.delivered + 1) {
    watched.delivered = wire->seq;
    callbacks_.on_event(wire->proc, SequencedEvent{wire->seq, std::move(*wire->event)});
  }
}

void SupervisionSubscriber::catch_up(const ProcId& proc, Watched& watched, std::uint64_t through) {
  auto fetched = callbacks_.fetch(proc, watched.delivered + 1);
  if (!fetched) {
    // The next heartbeat will try again; the events are kept by the proc.
    log_.info("fetching missed events of {} failed: {}", proc.to_string(), fetched.error().message);
    return;
  }
  for (auto& event : *fetched) {
    if (event.seq != watched.delivered + 1) continue;
    watched.delivered = event.seq;
    callbacks_.on_event(proc, event);
    if (watched.delivered >= through) break;
  }
}

void SupervisionSubscriber::check_silence() {
  const auto now = Clock::now();
  // Half the watchdog's deadline: "unresponsive, may still recover" is a warning, useful only
  // while there is time left before the watchdog stops the proc.
  const auto warn_after = config_.heartbeat_timeout / 2;
  for (auto& [proc, watched] : watched_) {
    if (watched->liveness.newly_silent(now, warn_after)) callbacks_.on_silence(proc);
  }
}

}  // namespace zmesh
