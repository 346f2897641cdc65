// The Endpoint facade and the calling threads' side of it: handing messages, routes and
// wake-ups to the I/O thread, the per-link data windows (credits) that send_bounded waits
// on, and close. The I/O thread's side is in internal/io_loop.cpp.
#include "zmesh/transport/endpoint.hpp"

#include "zmesh/transport/internal/endpoint_impl.hpp"
#include "zmesh/transport/internal/host_key.hpp"
#include "zmesh/transport/security.hpp"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

namespace zmesh {
namespace {

using internal::LinkKind;
using internal::Posted;

// Per-connection bound of the acks a ROUTER may queue toward one sender. Reliability does
// not depend on it (a lost ack is answered again when its message is resent).
constexpr int ack_high_water_mark = 10000;

std::uint64_t random_session() {
  std::random_device random;
  std::uint64_t session = 0;
  while (session == 0) session = (std::uint64_t{random()} << 32) ^ random();
  return session;
}

// Received regions may keep a quarter of the process's descriptors open (to be shared on).
int shm_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 256;
  return static_cast<int>(std::min<rlim_t>(limit.rlim_cur / 4, 1 << 20));
}

// Lanes each way: a sending lane holds three descriptors (file, two doorbells), a receiving
// one two; a sixteenth of the limit each way leaves most of it to sockets and regions.
std::size_t lane_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 16;
  return static_cast<std::size_t>(std::min<rlim_t>(limit.rlim_cur / 16, 4096));
}

std::array<std::string, 2> prefixes(LinkKind kind, const ProcId& self, std::uint64_t session) {
  return {internal::encode_data_prefix(kind, self, session, 0),
          internal::encode_data_prefix(kind, self, session, 1)};
}

}  // namespace

Endpoint::Impl::Impl(zmq::context_t& context_in, ProcId self_in, Inbound inbound_in,
                     const Config& config_in)
    : context(context_in),
      self(std::move(self_in)),
      self_text(self.to_string()),
      inbound(std::move(inbound_in)),
      config(config_in),
      session(random_session()),
      data_prefix(prefixes(LinkKind::data, self, session)),
      skip_prefix(prefixes(LinkKind::skip, self, session)),
      data_ack_prefix(internal::encode_data_prefix(LinkKind::data, self, session, 0, true)),
      data_shm_prefix{internal::encode_data_prefix(LinkKind::data, self, session, 0, true, true),
                      internal::encode_data_prefix(LinkKind::data, self, session, 1, true, true)},
      host_key(internal::host_key(config)),
      shm_threshold(static_cast<std::uint64_t>(config.shm_threshold)),
      shm_fd_budget(std::make_shared<internal::FdBudget>(shm_fd_limit())),
      lanes_each_way(config.shm_lane_bytes == 0 ? 0 : lane_limit()),
      ack_delay(std::clamp<Clock::duration>(config.ack_delay, Clock::duration::zero(),
                                            config.resend_interval / 4)),
      window{config.link_window_messages, static_cast<std::uint64_t>(config.link_window_bytes)},
      data_unacked(std::min(config.max_unacked, config.link_window_messages)),
      control_unacked(config.max_unacked),
      send_backlog_limit(4 *
                         std::uint64_t{std::max(config.max_unacked, config.link_window_messages)}),
      log("zmesh.transport", "proc=" + self_text, config.log_level),
      sessions(internal::max_receive_sessions,
               std::max<Clock::duration>(2 * config.delivery_timeout, std::chrono::minutes(1))) {}

Endpoint::Impl::~Impl() {
  if (wake_fd >= 0) ::close(wake_fd);
  if (standby_timer >= 0) ::close(standby_timer);
}

Result<void> Endpoint::Impl::open(const Address& address) {
  wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    return Error(ErrorCode::transport_failed,
                 fmt::format("proc {}: eventfd failed: {}", self_text, std::strerror(errno)));
  }
  if (lanes_each_way != 0) {
    auto bells = internal::LaneBells::create();
    if (!bells) return bells.error();
    lane_bells.emplace(std::move(*bells));
  }
  try {
    router.emplace(context, zmq::socket_type::router);
    router->set(zmq::sockopt::linger, static_cast<int>(config.linger.count()));
    router->set(zmq::sockopt::router_mandatory, 1);
    router->set(zmq::sockopt::maxmsgsize, config.max_message_bytes);
    router->set(zmq::sockopt::sndhwm, ack_high_water_mark);
    // Room for a whole data window plus the control lane's unacked messages from each
    // sender (peers run with the same configuration), so that ZeroMQ never refuses a
    // control message because data fills the connection. The I/O thread reads the ROUTER
    // whatever the proc's mailboxes hold (refused messages are dropped and resent), so
    // this queue drains at the speed of the I/O thread.
    router->set(zmq::sockopt::rcvhwm,
                static_cast<int>(std::min<std::uint64_t>(
                    std::uint64_t{data_unacked} + control_unacked + 1000, INT32_MAX)));
    if (auto secured = secure_socket(*router, address.to_string(), config, SocketRole::server); !secured) {
      router.reset();
      return Error(secured.error().code,
                   fmt::format("proc {} cannot bind: {}", self_text, secured.error().message));
    }
    router->bind(address.bind_text());
    bound_address = router->get(zmq::sockopt::last_endpoint);
    if (uses_curve(bound_address, config)) {
      handshakes.emplace(context, *router, true);
    } else if (address.scheme == Scheme::tcp) {
      log.warn("ZM-INSECURE proc={} listens on plain tcp at {} (ZMESH_INSECURE=1): whoever can reach "
               "it can send to its actors; off a trusted network, use a key (ZMESH_KEY_FILE)",
               self_text, bound_address);
    }
    inproc = address.scheme == Scheme::inproc;
    struct stat file {};
    if (address.scheme == Scheme::ipc && address.location.front() != '@' &&
        ::stat(address.location.c_str(), &file) == 0) {
      socket_path = address.location;
      socket_inode = file.st_ino;
      socket_device = file.st_dev;
    }
  } catch (const zmq::error_t& e) {
    handshakes.reset();
    router.reset();
    return Error(ErrorCode::transport_failed,
                 fmt::format("proc {} cannot bind {}: {}; is another process using that "
                             "address?",
                             self_text, address.to_string(), e.what()));
  }
  // The routing id, then max_frames frames: the link and envelope headers, and the payload.
  parts.resize(static_cast<std::size_t>(config.max_frames) + 1);
  return {};
}

bool Endpoint::Impl::on_io_thread() const {
  return io_thread.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

void Endpoint::Impl::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(wake_fd, &one, sizeof one);
}

Posted Endpoint::Impl::prepare(Envelope&& envelope) {
  Posted posted;
  posted.lane = lane_of(envelope.type_name);
  internal::Outgoing& message = posted.message;
  message.queued_at = Clock::now();
  message.deadline = envelope.deadline == Deadline{} ? message.queued_at + config.delivery_timeout
                                                     : envelope.deadline;
  message.header = encode_header(envelope);
  message.bytes = message.header.size();
  for (const auto& frame : envelope.payload) message.bytes += frame.size();
  message.payload = std::move(envelope.payload);
  posted.to = std::move(envelope.destination.actor.proc);
  return posted;
}

Error Endpoint::Impl::too_large(const ProcId& to, std::uint64_t bytes,
                                std::int64_t peer_limit) const {
  const std::int64_t limit =
      peer_limit > 0 ? std::min(peer_limit, config.max_message_bytes) : config.max_message_bytes;
  return Error(
      ErrorCode::too_large,
      fmt::format("message of {} bytes to {} exceeds the limit of {} bytes "
                  "(ZMESH_MAX_MESSAGE_BYTES: {} at proc {}, {} at {}); send less per "
                  "message or raise the limit on both sides",
                  bytes, to.to_string(), limit, config.max_message_bytes, self_text,
                  peer_limit > 0 ? std::to_string(peer_limit) : "unknown", to.to_string()));
}

void Endpoint::Impl::post(Envelope&& envelope) {
  Posted posted = prepare(std::move(envelope));
  stats.accepted.fetch_add(1, std::memory_order_relaxed);

  if (on_io_thread() && !io_finished) {
    local_posted.push_back(std::move(posted));  // a callback: no lock, no wake-up needed
    return;
  }
  if (try_send_directly(posted)) return;
  bool wake_up = false;
  bool closed = false;
  {
    std::lock_guard lock(handoff.mutex);
    if (handoff.closed) {
      closed = true;
    } else {
      handoff.posted.push_back(std::move(posted));
      wake_up = !handoff.signaled;
      handoff.signaled = true;
    }
  }
  if (wake_up) wake();
  if (closed) {
    auto returned = decode_envelope(posted.message.header, std::move(posted.message.payload));
    stats.undeliverable.fetch_add(1, std::memory_order_relaxed);
    stats.finished.fetch_add(1, std::memory_order_relaxed);
    if (!returned) return;  // we encoded it a moment ago: cannot happen
    returned->deadline = posted.message.deadline;
    inbound.undeliverable(std::move(*returned),
                          Error(ErrorCode::undeliverable,
                                fmt::format("message to {} not sent: the endpoint of proc {} is "
                                            "closed",
                                            posted.to.to_string(), self_text)));
  }
}

Result<void> Endpoint::Impl::post_bounded(Envelope&& envelope, Deadline room_deadline) {
  Posted posted = prepare(std::move(envelope));
  const std::uint64_t bytes = posted.message.bytes;
  const bool io = on_io_thread();
  const auto closed_error = [&] {
    return Error(ErrorCode::undeliverable,
                 fmt::format("message to {} not sent: the endpoint of proc {} is closed",
                             posted.to.to_string(), self_text));
  };
  if (config.max_message_bytes >= 0 &&
      bytes > static_cast<std::uint64_t>(config.max_message_bytes)) {
    return too_large(posted.to, bytes, 0);
  }
  bool wake_up = false;
  bool direct = false;
  {
    std::unique_lock lock(handoff.mutex);
    if (handoff.closed || (io && io_finished)) return closed_error();
    internal::Credit* credit = nullptr;
    if (auto it = handoff.credits.find(posted.to); it != handoff.credits.end()) {
      credit = &it->second;
      const std::int64_t peer_limit = credit->peer_max_message_bytes;
      if (peer_limit > 0 && bytes > static_cast<std::uint64_t>(peer_limit)) {
        return too_large(posted.to, bytes, peer_limit);
      }
    }
    if (posted.lane == Lane::data) {
      if (credit == nullptr) credit = &handoff.credits[posted.to];
      const auto room = [&] {
        return internal::window_has_room(credit->messages, credit->bytes, bytes, window);
      };
      if (!room()) {
        credit->pressed = true;
        // The I/O thread never waits: it is the one that would make room.
        if (!io) {
          ++credit->waiters;
          ++handoff.room_waiters;
          const auto ready = [&] { return handoff.closed || room(); };
          if (room_deadline == Deadline::max()) {
            handoff.room.wait(lock, ready);  // "no deadline", written out by the caller
          } else {
            handoff.room.wait_until(lock, room_deadline, ready);
          }
          --credit->waiters;
          --handoff.room_waiters;
          if (handoff.closed) return closed_error();
        }
        if (!room()) {
          return Error(ErrorCode::backpressure,
                       fmt::format("link to {} full: {} messages / {} bytes queued (limits {} / "
                                   "{}); the receiver is slow or stopped",
                                   posted.to.to_string(), credit->messages, credit->bytes,
                                   window.messages, window.bytes));
        }
      }
      ++credit->messages;
      credit->bytes += bytes;
      posted.message.counted = true;
    }
    stats.accepted.fetch_add(1, std::memory_order_relaxed);
    // With hand-offs pending, this message goes after them (FIFO per sender), so it cannot
    // be sent directly.
    direct = !io && !handoff.signaled;
    if (!io && !direct) {
      handoff.posted.push_back(std::move(posted));
      wake_up = !handoff.signaled;
      handoff.signaled = true;
    }
  }
  if (io) {
    local_posted.push_back(std::move(posted));  // a callback: no wake-up needed
  } else if (direct && !try_send_directly(posted)) {
    std::lock_guard lock(handoff.mutex);
    // Closed meanwhile: finish() has returned the queue already, so say so here.
    if (handoff.closed) {
      stats.finished.fetch_add(1, std::memory_order_relaxed);
      return closed_error();
    }
    handoff.posted.push_back(std::move(posted));
    wake_up = !handoff.signaled;
    handoff.signaled = true;
  }
  if (wake_up) wake();
  return {};
}

bool Endpoint::Impl::has_room(const ProcId& proc, std::size_t bytes) {
  std::lock_guard lock(handoff.mutex);
  if (handoff.closed) return false;
  auto it = handoff.credits.find(proc);
  if (it == handoff.credits.end()) return true;
  internal::Credit& credit = it->second;
  if (internal::window_has_room(credit.messages, credit.bytes, bytes, window)) return true;
  credit.pressed = true;
  return false;
}

void Endpoint::Impl::request_retry() {
  // One wake-up per batch of requests: the I/O thread clears the flag before retrying.
  if (!retry_requested.exchange(true)) wake();
}

Result<void> Endpoint::Impl::route(const ProcId& proc, std::string_view text,
                                   std::int64_t peer_max_message_bytes) {
  auto address = Address::parse(text);
  if (!address) {
    return Error(ErrorCode::parse_error,
                 fmt::format("route to {}: {}", proc.to_string(), address.error().message));
  }
  bool wake_up = false;
  {
    std::lock_guard lock(handoff.mutex);
    if (peer_max_message_bytes > 0) {
      handoff.credits[proc].peer_max_message_bytes = peer_max_message_bytes;
    }
    handoff.routes.push_back(Route{proc, std::move(*address), peer_max_message_bytes});
    wake_up = !handoff.signaled;
    handoff.signaled = true;
  }
  if (wake_up) wake();
  return {};
}

void Endpoint::Impl::forget(const ProcId& proc, std::string reason) {
  bool wake_up = false;
  {
    std::lock_guard lock(handoff.mutex);
    handoff.forgets.emplace_back(proc, std::move(reason));
    wake_up = !handoff.signaled;
    handoff.signaled = true;
  }
  if (wake_up) wake();
}

void Endpoint::Impl::close() {
  if (on_io_thread() || thread.get_id() == std::this_thread::get_id()) {
    log.error(
        "ZM-CLOSE-ON-IO-THREAD Endpoint::close() called from an Inbound callback or a turn it "
        "deferred; the I/O thread cannot wait for itself. Close the endpoint from another "
        "thread.");
    std::abort();
  }
  std::lock_guard guard(close_mutex);
  bool wake_up = false;
  {
    std::lock_guard lock(handoff.mutex);
    if (!handoff.closed) {
      handoff.closed = true;
      wake_up = !handoff.signaled;
      handoff.signaled = true;
    }
  }
  handoff.room.notify_all();  // waiting send_bounded calls fail now
  if (wake_up) wake();
  if (thread.joinable()) thread.join();
  if (standby.joinable()) standby.join();
}

Endpoint::Stats Endpoint::Impl::snapshot() const {
  Stats out;
  constexpr auto relaxed = std::memory_order_relaxed;
  out.sent = stats.sent.load(relaxed);
  out.resent = stats.resent.load(relaxed);
  out.delivered = stats.delivered.load(relaxed);
  out.duplicates_dropped = stats.duplicates_dropped.load(relaxed);
  out.gaps_dropped = stats.gaps_dropped.load(relaxed);
  out.garbage_dropped = stats.garbage_dropped.load(relaxed);
  out.undeliverable = stats.undeliverable.load(relaxed);
  out.acks_sent = stats.acks_sent.load(relaxed);
  out.acks_carried = stats.acks_carried.load(relaxed);
  out.acks_received = stats.acks_received.load(relaxed);
  out.sessions = stats.sessions.load(relaxed);
  out.links = stats.links.load(relaxed);
  out.handshakes_refused = stats.handshakes_refused.load(relaxed);
  out.io_rounds = stats.io_rounds.load(relaxed);
  out.timer_wakeups = stats.timer_wakeups.load(relaxed);
  out.sleeping = stats.sleeping.load(relaxed) != 0;
  out.sent_directly = stats.sent_directly.load(relaxed);
  out.standby_takeovers = stats.standby_takeovers.load(relaxed);
  out.shm_sent = stats.shm_sent.load(relaxed);
  out.shm_regions = stats.shm_regions.load(relaxed);
  out.shm_files = stats.shm_files.load(relaxed);
  out.shm_fallbacks = stats.shm_fallbacks.load(relaxed);
  out.shm_received = stats.shm_received.load(relaxed);
  out.shm_unmappable = stats.shm_unmappable.load(relaxed);
  out.lane_sent = stats.lane_sent.load(relaxed);
  out.lane_received = stats.lane_received.load(relaxed);
  out.lanes_sending = stats.lanes_sending.load(relaxed);
  out.lanes_receiving = stats.lanes_receiving.load(relaxed);
  // finished first: both only grow, so pending never comes out negative.
  const auto finished = stats.finished.load(relaxed);
  out.pending = stats.accepted.load(relaxed) - finished;
  return out;
}

// ---------------------------------------------------------------------------------------
// Endpoint

Endpoint::Endpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Endpoint::~Endpoint() {
  close();
}

Result<std::unique_ptr<Endpoint>> Endpoint::bind(zmq::context_t& context, ProcId self,
                                                 std::string_view address, Inbound inbound,
                                                 const Config& config) {
  auto parsed = Address::parse(address);
  if (!parsed) {
    return Error(ErrorCode::parse_error,
                 fmt::format("proc {}: {}", self.to_string(), parsed.error().message));
  }
  if (!inbound.deliver || !inbound.undeliverable) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("proc {}: Inbound::deliver and Inbound::undeliverable must both be "
                             "set",
                             self.to_string()));
  }
  if (static_cast<bool>(inbound.end_round) != static_cast<bool>(inbound.run_deferred) ||
      static_cast<bool>(inbound.run_deferred) != static_cast<bool>(inbound.release_deferred)) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("proc {}: Inbound::end_round, run_deferred and release_deferred "
                             "go together: set all three or none",
                             self.to_string()));
  }
  if (config.max_unacked == 0 || config.ack_every == 0 || config.max_frames == 0 ||
      config.link_window_messages == 0 || config.link_window_bytes <= 0) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("proc {}: max_unacked, ack_every, max_frames, link_window_messages "
                             "and link_window_bytes must be at least 1",
                             self.to_string()));
  }
  auto impl = std::make_unique<Impl>(context, std::move(self), std::move(inbound), config);
  if (auto opened = impl->open(*parsed); !opened) return std::move(opened).error();
  Impl* raw = impl.get();
  if (config.io_turn_limit_us > 0 && raw->inbound.run_deferred) {
    // Without its timer no turn may run on the I/O thread: the Inbound then never defers.
    raw->standby_timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (raw->standby_timer < 0) {
      raw->log.warn("ZM-NO-STANDBY proc={}: timerfd_create failed ({}); actor turns stay on the "
                    "pool",
                    raw->self_text, std::strerror(errno));
    }
  }
  impl->thread = std::thread([raw] { raw->run(); });
  if (raw->deferring()) impl->standby = std::thread([raw] { raw->stand_by(); });
  return std::unique_ptr<Endpoint>(new Endpoint(std::move(impl)));
}

void Endpoint::send(Envelope envelope) {
  impl_->post(std::move(envelope));
}

Result<void> Endpoint::send_bounded(Envelope envelope, Deadline room_deadline) {
  return impl_->post_bounded(std::move(envelope), room_deadline);
}

bool Endpoint::has_room(const ProcId& proc, std::size_t bytes) const {
  return impl_->has_room(proc, bytes);
}

void Endpoint::retry_held() {
  impl_->request_retry();
}

Result<void> Endpoint::add_route(const ProcId& proc, std::string_view address,
                                 std::int64_t peer_max_message_bytes) {
  return impl_->route(proc, address, peer_max_message_bytes);
}

void Endpoint::forget(const ProcId& proc, std::string_view reason) {
  impl_->forget(proc, std::string(reason));
}

const std::string& Endpoint::address() const noexcept {
  return impl_->bound_address;
}

const ProcId& Endpoint::self() const noexcept {
  return impl_->self;
}

std::thread::id Endpoint::deferred_work_thread() const noexcept {
  return impl_->deferring() ? impl_->thread.get_id() : std::thread::id{};
}

Endpoint::Stats Endpoint::stats() const {
  return impl_->snapshot();
}

void Endpoint::close() {
  impl_->close();
}

}  // namespace zmesh
