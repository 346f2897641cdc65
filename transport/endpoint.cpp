#include "zmesh/transport/endpoint.hpp"

#include "zmesh/core/log.hpp"
#include "zmesh/transport/address.hpp"
#include "zmesh/transport/internal/handoff_annotations.hpp"
#include "zmesh/transport/internal/link_header.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>
#include <zmq.hpp>

namespace zmesh {
namespace {

using internal::LinkHeader;
using internal::LinkKind;
using namespace std::chrono_literals;

// Frames smaller than this are copied into ZeroMQ: a copy is cheaper than the two
// allocations and the atomic reference counting of lending ZeroMQ a shared buffer.
constexpr std::size_t zero_copy_threshold = 512;
// Messages read from one socket per turn, so that a flood on one link cannot starve acks,
// sends and timers.
constexpr int max_receive_batch = 4096;
// ZeroMQ redials a lost peer after 10 ms, backing off to 1 s while it stays away.
constexpr int reconnect_interval_ms = 10;
constexpr int reconnect_interval_max_ms = 1000;
// Per-connection queue bounds. Reliability does not depend on them (anything ZeroMQ drops
// is resent); they bound memory and let a slow peer push back.
constexpr int router_high_water_mark = 10000;
constexpr int ack_high_water_mark = 10000;
// Each resend that brings no ack doubles the wait before the next, up to 2^4 times.
constexpr int max_resend_backoff = 4;

std::uint64_t random_session() {
  std::random_device random;
  std::uint64_t session = 0;
  while (session == 0) session = (std::uint64_t{random()} << 32) ^ random();
  return session;
}

std::string hex(const zmq::message_t& bytes) {
  std::string text;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    text += fmt::format("{:02x}", bytes.data<unsigned char>()[i]);
  }
  return text;
}

long long millis_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::round<std::chrono::milliseconds>(to - from).count();
}

// ZeroMQ calls this when it is done with a lent frame, possibly on its own I/O thread.
void release_owner(void* /*data*/, void* hint) {
  delete static_cast<std::shared_ptr<const void>*>(hint);
}

// Fills `message` with `frame`: copied if small, else lent to ZeroMQ with a reference to
// the frame's owner so that the bytes live until ZeroMQ has written them.
void fill(zmq::message_t& message, const Frame& frame) {
  if (frame.empty()) {
    message.rebuild(std::size_t{0});
  } else if (frame.size() < zero_copy_threshold || !frame.owner()) {
    message.rebuild(frame.data(), frame.size());
  } else {
    auto* keeper = new std::shared_ptr<const void>(frame.owner());
    try {
      message.rebuild(const_cast<char*>(frame.data()), frame.size(), release_owner, keeper);
    } catch (...) {
      delete keeper;
      throw;
    }
  }
}

// A message this proc sent (or will send) on one link.
struct Outgoing {
  zmq::message_t header;  // the encoded envelope header; each transmission shares it
  Frames payload;
  Deadline deadline{};
  Clock::time_point queued_at{};
  Clock::time_point sent_at{};  // last transmission; the epoch until the first
  bool live = true;             // false: given up; still occupies its seq and goes out as "skip"
  bool resent = false;          // transmitted more than once: its ack delay is ambiguous
};

// A message handed over by send(), on its way to the I/O thread.
struct Posted {
  ProcId to;
  Outgoing message;
};

// The sending side of this proc -> one peer proc.
struct Link {
  ProcId peer;
  std::string peer_text;
  std::string address;     // empty until add_route()
  bool inproc = false;     // the address is inproc://: frames are shared, not copied
  std::string dial_error;  // why the last dial failed, for the undeliverable reason
  std::string gone_reason;  // set by forget(): sends fail at once until a new route comes
  std::optional<zmq::socket_t> dealer;
  std::size_t poll_index = 0;  // 0: not polled
  // unacked[i] has seq front_seq + i; the front is never a tombstone, so front_seq is the
  // floor: everything below it is acked or given up.
  std::deque<Outgoing> unacked;
  std::deque<Outgoing> backlog;  // beyond the window; no seq yet
  std::uint64_t front_seq = 1;
  std::uint64_t cursor = 1;  // next seq to hand to ZeroMQ
  bool blocked = false;      // ZeroMQ refused (no connection, or full): wait for POLLOUT
  Deadline earliest_deadline = Deadline::max();  // no message expires before this
  Clock::time_point last_progress{};             // last ack that released something
  std::uint64_t nack_resent_from = 0;            // to answer each gap with one resend only
  Clock::time_point nack_resent_at{};
  // Ack delay, smoothed as TCP does (RFC 6298): a receiver that is slow, not deaf, should
  // not be sent copies of a window it is still working through.
  Clock::duration smoothed_ack_delay{};
  Clock::duration ack_delay_variation{};
  int resend_backoff = 0;  // resends in a row without progress

  std::uint64_t next_seq() const { return front_seq + unacked.size(); }
  bool idle() const { return unacked.empty() && backlog.empty(); }
};

// The receiving side of one sender incarnation (one session) -> this proc.
struct Session {
  std::uint64_t id = 0;
  std::string sender_bytes;  // the sender ProcId as encoded in the link header
  std::string sender_text;
  std::string routing_id;  // the ROUTER's name for the sender's current connection
  std::uint64_t expected = 1;
  std::uint64_t acked = 0;      // acked_through last sent
  std::uint64_t nacked_at = 0;  // `expected` when the last nack went out
  bool dirty = false;           // listed in dirty_sessions
  bool reack = false;           // a duplicate arrived: the sender missed our ack
  bool nack = false;            // a gap was seen: ask for a resend now
  // The last message refused (undecodable): a resend of it is answered with the refusal
  // again, not with an ack that would pass for delivery.
  std::uint64_t rejected_seq = 0;
  std::string rejected_reason;
};

// Counters written by the I/O thread (relaxed, no read-modify-write needed) and read by
// stats() from any thread.
struct AtomicStats {
  std::atomic<std::uint64_t> sent{0}, resent{0}, delivered{0}, duplicates_dropped{0},
      gaps_dropped{0}, garbage_dropped{0}, acks_sent{0}, acks_received{0};
  // Written from any thread (send() after close), so incremented atomically.
  std::atomic<std::uint64_t> undeliverable{0}, accepted{0}, finished{0};
};

void bump(std::atomic<std::uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

struct Endpoint::Impl {
  Impl(zmq::context_t& context_in, ProcId self_in, Inbound inbound_in, const Config& config_in)
      : context(context_in),
        self(std::move(self_in)),
        self_text(self.to_string()),
        inbound(std::move(inbound_in)),
        config(config_in),
        session(random_session()),
        data_prefix(internal::encode_data_prefix(LinkKind::data, self, session)),
        skip_prefix(internal::encode_data_prefix(LinkKind::skip, self, session)),
        log("zmesh.transport", "proc=" + self_text, config.log_level) {}

  ~Impl() {
    if (wake_fd >= 0) ::close(wake_fd);
  }

  Result<void> open(const Address& address);
  void run();
  void post(Envelope&& envelope);
  Result<void> route(const ProcId& proc, std::string_view address);
  void forget(const ProcId& proc, std::string reason);
  void close();
  Stats snapshot() const;

  // -- I/O thread --
  void iterate();
  void rebuild_poll_items();
  int poll_timeout_ms();
  void take_handoff();
  void process_local_posts();
  void enqueue(Posted&& posted);
  Link& link_for(const ProcId& proc);
  void apply_route(const ProcId& proc, const Address& address);
  void apply_forget(const ProcId& proc, const std::string& reason);
  void dial(Link& link);
  void set_blocked(Link& link, bool blocked);
  void admit(Link& link);
  void pump(Link& link);
  bool transmit(Link& link, std::uint64_t seq, Outgoing& message);
  bool build_parts(Link& link, Outgoing& message);
  void pop_settled(Link& link);
  void receive_acks(Link& link);
  void on_ack(Link& link, const LinkHeader& header);
  void on_reject(Link& link, const LinkHeader& header);
  void run_timers();
  void expire(Link& link);
  Clock::time_point resend_due(const Link& link) const;
  bool resend_armed(const Link& link) const;
  void abandon(Outgoing& message, Error error);
  void give_back(Outgoing&& message, Error error);
  Error deadline_error(const Link& link, const Outgoing& message) const;
  void receive_data();
  void on_data(std::size_t count);
  Session* session_for(const LinkHeader& header, const zmq::message_t& routing_id);
  void deliver(Session& session, const LinkHeader& header, std::size_t count);
  void mark_dirty(Session& session);
  void flush_acks();
  void send_ack(Session& session, LinkKind kind);
  void send_reject(Session& session, std::uint64_t seq, std::string_view reason);
  bool reply(const Session& session, const std::string& header);
  void garbage(std::string_view peer, std::string_view reason);
  bool settled() const;
  void finish();

  // -- immutable after bind --
  zmq::context_t& context;
  const ProcId self;
  const std::string self_text;
  const Inbound inbound;
  const Config config;
  const std::uint64_t session;
  const std::string data_prefix;  // link header up to seq and floor, for data...
  const std::string skip_prefix;  // ...and for given-up messages
  const Logger log;
  std::string bound_address;
  bool inproc = false;  // bound to inproc://: received frames are the senders' buffers
  // ipc:// only: the socket file we created, removed on close (libzmq 4.3 leaves it) unless
  // a successor bound the same path since (then it is another file).
  std::string socket_path;
  ino_t socket_inode = 0;
  dev_t socket_device = 0;
  int wake_fd = -1;

  // -- shared with other threads --
  struct Handoff {
    std::mutex mutex;
    std::vector<Posted> posted;                      // guarded by mutex
    std::vector<std::pair<ProcId, Address>> routes;  // guarded by mutex
    std::vector<std::pair<ProcId, std::string>> forgets;  // guarded by mutex
    bool signaled = false;  // guarded: a wake-up is written and not yet consumed
    bool closed = false;    // guarded: close() was called; send() no longer queues
  } handoff;
  std::atomic<std::thread::id> io_thread{};
  AtomicStats stats;
  std::mutex close_mutex;  // one close() joins the thread; others wait for it
  std::thread thread;

  // -- owned by the I/O thread --
  std::optional<zmq::socket_t> router;
  std::unordered_map<ProcId, std::unique_ptr<Link>> links;
  Link* last_link = nullptr;  // most senders talk to one peer at a time
  std::vector<zmq_pollitem_t> poll_items;
  std::vector<Link*> polled_links;  // poll_items[i + 2] belongs to polled_links[i]
  bool poll_dirty = true;
  std::vector<Posted> taken;         // swapped with handoff.posted, keeps its capacity
  std::vector<Posted> local_posted;  // send() from the Inbound callbacks
  std::vector<Posted> local_taken;
  std::vector<std::pair<ProcId, Address>> taken_routes;
  std::vector<std::pair<ProcId, std::string>> taken_forgets;
  std::vector<zmq::message_t> parts;      // one received message
  std::vector<zmq::message_t> out_parts;  // envelope frames of one transmission
  zmq::message_t scratch;
  std::unordered_map<std::uint64_t, Session> sessions;
  std::unordered_map<std::string, std::uint64_t> session_of_sender;
  std::unordered_set<std::uint64_t> retired_sessions;  // of senders that restarted
  std::vector<std::uint64_t> dirty_sessions;
  RateLimiter garbage_limiter{1s};
  RateLimiter error_limiter{1s};
  Clock::time_point now = Clock::now();
  bool closing = false;
  Clock::time_point linger_deadline{};
  bool io_finished = false;  // finish() is returning what is left
};

// ---------------------------------------------------------------------------------------
// construction and the other threads' side

Result<void> Endpoint::Impl::open(const Address& address) {
  wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    return Error(ErrorCode::transport_failed,
                 fmt::format("proc {}: eventfd failed: {}", self_text, std::strerror(errno)));
  }
  try {
    router.emplace(context, zmq::socket_type::router);
    router->set(zmq::sockopt::linger, static_cast<int>(config.linger.count()));
    router->set(zmq::sockopt::router_mandatory, 1);
    router->set(zmq::sockopt::maxmsgsize, config.max_message_bytes);
    router->set(zmq::sockopt::sndhwm, ack_high_water_mark);
    router->set(zmq::sockopt::rcvhwm, router_high_water_mark);
    router->bind(address.bind_text());
    bound_address = router->get(zmq::sockopt::last_endpoint);
    inproc = address.scheme == Scheme::inproc;
    struct stat file {};
    if (address.scheme == Scheme::ipc && address.location.front() != '@' &&
        ::stat(address.location.c_str(), &file) == 0) {
      socket_path = address.location;
      socket_inode = file.st_ino;
      socket_device = file.st_dev;
    }
  } catch (const zmq::error_t& e) {
    router.reset();
    return Error(ErrorCode::transport_failed,
                 fmt::format("proc {} cannot bind {}: {}; is another process using that "
                             "address?",
                             self_text, address.to_string(), e.what()));
  }
  parts.resize(static_cast<std::size_t>(config.max_frames) + 2);  // + routing id, link header
  return {};
}

void Endpoint::Impl::post(Envelope&& envelope) {
  Posted posted;
  Outgoing& message = posted.message;
  message.queued_at = Clock::now();
  message.deadline = envelope.deadline == Deadline{} ? message.queued_at + config.delivery_timeout
                                                     : envelope.deadline;
  {
    const Frame header = encode_header(envelope);
    message.header.rebuild(header.data(), header.size());
  }
  message.payload = std::move(envelope.payload);
  posted.to = std::move(envelope.destination.actor.proc);
  stats.accepted.fetch_add(1, std::memory_order_relaxed);

  if (io_thread.load(std::memory_order_relaxed) == std::this_thread::get_id() && !io_finished) {
    local_posted.push_back(std::move(posted));  // a callback: no lock, no wake-up needed
    return;
  }
  bool wake = false;
  bool closed = false;
  {
    std::lock_guard lock(handoff.mutex);
    if (handoff.closed) {
      closed = true;
    } else {
      handoff.posted.push_back(std::move(posted));
      wake = !handoff.signaled;
      handoff.signaled = true;
    }
  }
  if (wake) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd, &one, sizeof one);
  }
  if (closed) {
    envelope.destination.actor.proc = posted.to;
    envelope.payload = std::move(message.payload);
    envelope.deadline = message.deadline;
    stats.undeliverable.fetch_add(1, std::memory_order_relaxed);
    stats.finished.fetch_add(1, std::memory_order_relaxed);
    inbound.undeliverable(std::move(envelope),
                          Error(ErrorCode::undeliverable,
                                fmt::format("message to {} not sent: the endpoint of proc {} is "
                                            "closed",
                                            posted.to.to_string(), self_text)));
  }
}

Result<void> Endpoint::Impl::route(const ProcId& proc, std::string_view text) {
  auto address = Address::parse(text);
  if (!address) {
    return Error(ErrorCode::parse_error,
                 fmt::format("route to {}: {}", proc.to_string(), address.error().message));
  }
  bool wake = false;
  {
    std::lock_guard lock(handoff.mutex);
    handoff.routes.emplace_back(proc, std::move(*address));
    wake = !handoff.signaled;
    handoff.signaled = true;
  }
  if (wake) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd, &one, sizeof one);
  }
  return {};
}

void Endpoint::Impl::forget(const ProcId& proc, std::string reason) {
  bool wake = false;
  {
    std::lock_guard lock(handoff.mutex);
    handoff.forgets.emplace_back(proc, std::move(reason));
    wake = !handoff.signaled;
    handoff.signaled = true;
  }
  if (wake) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd, &one, sizeof one);
  }
}

void Endpoint::Impl::close() {
  if (io_thread.load() == std::this_thread::get_id()) {
    log.error(
        "ZM-CLOSE-ON-IO-THREAD Endpoint::close() called from an Inbound callback; the I/O "
        "thread cannot wait for itself. Close the endpoint from another thread.");
    std::abort();
  }
  std::lock_guard guard(close_mutex);
  bool wake = false;
  {
    std::lock_guard lock(handoff.mutex);
    if (!handoff.closed) {
      handoff.closed = true;
      wake = !handoff.signaled;
      handoff.signaled = true;
    }
  }
  if (wake) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd, &one, sizeof one);
  }
  if (thread.joinable()) thread.join();
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
  out.acks_received = stats.acks_received.load(relaxed);
  // finished first: both only grow, so pending never comes out negative.
  const auto finished = stats.finished.load(relaxed);
  out.pending = stats.accepted.load(relaxed) - finished;
  return out;
}

// ---------------------------------------------------------------------------------------
// the I/O loop

void Endpoint::Impl::run() {
  io_thread.store(std::this_thread::get_id());
  pthread_setname_np(pthread_self(), "zmesh-io");
  while (!closing || (!settled() && now < linger_deadline)) {
    try {
      iterate();
    } catch (const std::exception& e) {
      // Every ZeroMQ call handles its own errors; this is the last line for the unexpected
      // (allocation failure, a throwing std::function). The loop must go on serving.
      if (error_limiter.allow()) log.error("ZM-IO-ERROR the I/O loop caught: {}", e.what());
    }
  }
  finish();
}

void Endpoint::Impl::iterate() {
  process_local_posts();
  if (poll_dirty) rebuild_poll_items();
  const int ready =
      zmq_poll(poll_items.data(), static_cast<int>(poll_items.size()), poll_timeout_ms());
  now = Clock::now();
  if (ready < 0) {
    if (zmq_errno() == ETERM) {
      // The context was shut down under us: nothing can be sent any more.
      log.error("ZM-CONTEXT-GONE the ZeroMQ context was terminated while the endpoint was open");
      closing = true;
      linger_deadline = now;
    }
    return;  // EINTR: just poll again
  }
  if (poll_items[0].revents & ZMQ_POLLIN) take_handoff();
  if (poll_items[1].revents & ZMQ_POLLIN) receive_data();
  if (!poll_dirty) {
    for (std::size_t i = 2; i < poll_items.size(); ++i) {
      const short revents = poll_items[i].revents;
      if (revents == 0) continue;
      Link& link = *polled_links[i - 2];
      if (revents & ZMQ_POLLIN) receive_acks(link);
      if ((revents & ZMQ_POLLOUT) && link.blocked) {
        // Often a reconnection: what the old connection lost is due for resending now,
        // not after a backed-off wait.
        link.resend_backoff = 0;
        set_blocked(link, false);
        pump(link);
      }
    }
  }
  run_timers();
}

void Endpoint::Impl::rebuild_poll_items() {
  poll_items.clear();
  polled_links.clear();
  poll_items.push_back({nullptr, wake_fd, ZMQ_POLLIN, 0});
  poll_items.push_back({router->handle(), 0, ZMQ_POLLIN, 0});
  for (auto& [proc, link] : links) {
    link->poll_index = 0;
    if (!link->dealer) continue;
    link->poll_index = poll_items.size();
    const short events = static_cast<short>(ZMQ_POLLIN | (link->blocked ? ZMQ_POLLOUT : 0));
    poll_items.push_back({link->dealer->handle(), 0, events, 0});
    polled_links.push_back(link.get());
  }
  poll_dirty = false;
}

int Endpoint::Impl::poll_timeout_ms() {
  if (!local_posted.empty()) return 0;
  Clock::time_point next = Clock::time_point::max();
  for (const auto& [proc, link] : links) {
    next = std::min(next, link->earliest_deadline);
    if (resend_armed(*link)) next = std::min(next, resend_due(*link));
  }
  if (closing) next = std::min(next, linger_deadline);
  if (next == Clock::time_point::max()) return -1;
  const auto current = Clock::now();
  if (next <= current) return 0;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - current).count();
  return static_cast<int>(std::min<long long>(wait, INT_MAX));
}

void Endpoint::Impl::take_handoff() {
  std::uint64_t count = 0;
  // Consume the wake-up before taking the queue: a send() racing with us then either
  // lands in this batch or writes a fresh wake-up.
  [[maybe_unused]] const auto read = ::read(wake_fd, &count, sizeof count);
  bool closed = false;
  taken.clear();  // left over only if an exception cut the last round short
  taken_routes.clear();
  {
    std::lock_guard lock(handoff.mutex);
    taken.swap(handoff.posted);
    taken_routes.swap(handoff.routes);
    taken_forgets.swap(handoff.forgets);
    handoff.signaled = false;
    closed = handoff.closed;
  }
  for (auto& [proc, address] : taken_routes) apply_route(proc, address);
  taken_routes.clear();
  for (auto& [proc, reason] : taken_forgets) apply_forget(proc, reason);
  taken_forgets.clear();
  for (auto& posted : taken) enqueue(std::move(posted));
  taken.clear();
  if (closed && !closing) {
    closing = true;
    linger_deadline = now + config.linger;
  }
}

void Endpoint::Impl::process_local_posts() {
  // Undeliverables returned while enqueuing run callbacks that may post again: loop.
  while (!local_posted.empty()) {
    local_taken.clear();
    local_taken.swap(local_posted);
    for (auto& posted : local_taken) enqueue(std::move(posted));
    local_taken.clear();
  }
}

bool Endpoint::Impl::settled() const {
  if (!local_posted.empty()) return false;
  for (const auto& [proc, link] : links) {
    if (link->dealer && !link->idle()) return false;
  }
  return true;
}

void Endpoint::Impl::finish() {
  // Nothing more goes out: whatever is still queued anywhere is returned below.
  {
    std::lock_guard lock(handoff.mutex);
    handoff.closed = true;  // already, unless the context died under us
    taken.clear();
    taken.swap(handoff.posted);
  }
  for (auto& posted : taken) link_for(posted.to).backlog.push_back(std::move(posted.message));
  taken.clear();
  for (auto& posted : local_posted) {
    link_for(posted.to).backlog.push_back(std::move(posted.message));
  }
  local_posted.clear();
  io_finished = true;  // send() from the callbacks below now takes the closed path
  for (auto& [proc, link] : links) {
    const Error closed(ErrorCode::undeliverable,
                       fmt::format("the endpoint of proc {} closed before {} acknowledged the "
                                   "message",
                                   self_text, link->peer_text));
    for (auto& message : link->unacked) {
      if (message.live) give_back(std::move(message), closed);
    }
    for (auto& message : link->backlog) give_back(std::move(message), closed);
    link->unacked.clear();
    link->backlog.clear();
    link->dealer.reset();
  }
  router.reset();
  struct stat file {};
  if (!socket_path.empty() && ::stat(socket_path.c_str(), &file) == 0 &&
      file.st_ino == socket_inode && file.st_dev == socket_device) {
    ::unlink(socket_path.c_str());
  }
}

// ---------------------------------------------------------------------------------------
// sending

Link& Endpoint::Impl::link_for(const ProcId& proc) {
  if (last_link != nullptr && last_link->peer == proc) return *last_link;
  auto& slot = links[proc];
  if (!slot) {
    slot = std::make_unique<Link>();
    slot->peer = proc;
    slot->peer_text = proc.to_string();
  }
  last_link = slot.get();
  return *slot;
}

void Endpoint::Impl::enqueue(Posted&& posted) {
  Link& link = link_for(posted.to);
  Outgoing& message = posted.message;
  // Refuse here what the peer would refuse: an oversized frame makes its ZeroMQ drop the
  // connection, which would repeat on every resend until the deadline.
  if (message.payload.size() + 1 > config.max_frames) {
    give_back(std::move(message),
              Error(ErrorCode::undeliverable,
                    fmt::format("message to {} has {} frames, more than max_frames={} "
                                "(ZMESH_MAX_FRAMES)",
                                link.peer_text, message.payload.size() + 1, config.max_frames)));
    return;
  }
  const auto limit = static_cast<std::uint64_t>(config.max_message_bytes);
  std::size_t largest = message.header.size();
  for (const auto& frame : message.payload) largest = std::max(largest, frame.size());
  if (config.max_message_bytes >= 0 && largest > limit) {
    give_back(std::move(message),
              Error(ErrorCode::undeliverable,
                    fmt::format("message to {} has a frame of {} bytes, more than "
                                "max_message_bytes={} (ZMESH_MAX_MESSAGE_BYTES)",
                                link.peer_text, largest, config.max_message_bytes)));
    return;
  }
  if (!link.gone_reason.empty()) {
    give_back(std::move(message),
              Error(ErrorCode::proc_failed,
                    fmt::format("{} is gone: {}", link.peer_text, link.gone_reason)));
    return;
  }
  link.earliest_deadline = std::min(link.earliest_deadline, message.deadline);
  if (link.backlog.empty() && link.unacked.size() < config.max_unacked) {
    link.unacked.push_back(std::move(message));
    pump(link);
  } else {
    link.backlog.push_back(std::move(message));
  }
}

void Endpoint::Impl::apply_forget(const ProcId& proc, const std::string& reason) {
  Link& link = link_for(proc);
  link.gone_reason = reason;
  const Error gone(ErrorCode::proc_failed, fmt::format("{} is gone: {}", link.peer_text, reason));
  // Its seqs stay used: a successor at a new route starts from the floor after them.
  link.front_seq += link.unacked.size();
  link.cursor = link.front_seq;
  auto unacked = std::move(link.unacked);
  auto backlog = std::move(link.backlog);
  link.unacked.clear();
  link.backlog.clear();
  link.earliest_deadline = Deadline::max();
  link.dealer.reset();
  link.address.clear();
  link.blocked = false;
  poll_dirty = true;
  for (auto& message : unacked) {
    if (message.live) give_back(std::move(message), gone);
  }
  for (auto& message : backlog) give_back(std::move(message), gone);
}

void Endpoint::Impl::apply_route(const ProcId& proc, const Address& address) {
  Link& link = link_for(proc);
  link.gone_reason.clear();
  std::string text = address.to_string();
  if (link.dealer && link.address == text) return;
  link.address = std::move(text);
  link.inproc = address.scheme == Scheme::inproc;
  dial(link);
  pump(link);
}

void Endpoint::Impl::dial(Link& link) {
  if (link.dealer) link.dealer.reset();
  poll_dirty = true;
  try {
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, static_cast<int>(config.linger.count()));
    // Queue only on completed connections: while the peer is away, sends fail at once
    // (we keep the messages anyway) and POLLOUT tells us when it is back.
    dealer.set(zmq::sockopt::immediate, 1);
    dealer.set(zmq::sockopt::sndhwm,
               static_cast<int>(std::min<std::uint32_t>(config.max_unacked, 1u << 20) + 1000));
    dealer.set(zmq::sockopt::rcvhwm, ack_high_water_mark);
    dealer.set(zmq::sockopt::reconnect_ivl, reconnect_interval_ms);
    dealer.set(zmq::sockopt::reconnect_ivl_max, reconnect_interval_max_ms);
    dealer.connect(link.address);
    link.dealer.emplace(std::move(dealer));
    link.dial_error.clear();
  } catch (const zmq::error_t& e) {
    link.dial_error = e.what();
    log.warn(
        "ZM-DIAL-FAIL proc={} {}: {}; its messages wait for another add_route() until "
        "their deadline",
        link.peer_text, link.address, e.what());
    return;
  }
  // A new connection has seen nothing yet: everything unacked goes out again, in order,
  // once the caller pumps.
  link.cursor = link.front_seq;
  link.blocked = false;
}

void Endpoint::Impl::set_blocked(Link& link, bool blocked) {
  link.blocked = blocked;
  if (link.poll_index != 0 && !poll_dirty) {
    poll_items[link.poll_index].events =
        static_cast<short>(ZMQ_POLLIN | (blocked ? ZMQ_POLLOUT : 0));
  }
}

void Endpoint::Impl::admit(Link& link) {
  while (!link.backlog.empty() && link.unacked.size() < config.max_unacked) {
    link.unacked.push_back(std::move(link.backlog.front()));
    link.backlog.pop_front();
  }
}

void Endpoint::Impl::pump(Link& link) {
  if (!link.dealer || link.blocked) return;
  while (link.cursor < link.next_seq()) {
    Outgoing& message = link.unacked[link.cursor - link.front_seq];
    if (!transmit(link, link.cursor, message)) {
      if (link.dealer) set_blocked(link, true);
      return;
    }
    ++link.cursor;
  }
}

bool Endpoint::Impl::build_parts(Link& link, Outgoing& message) {
  try {
    out_parts.resize(message.payload.size() + 1);
    out_parts[0].copy(message.header);  // shares the bytes (ZeroMQ reference-counts them)
    for (std::size_t i = 0; i < message.payload.size(); ++i) {
      fill(out_parts[i + 1], message.payload[i]);
    }
    return true;
  } catch (const std::exception& e) {
    abandon(message, Error(ErrorCode::undeliverable,
                           fmt::format("message to {} could not be handed to ZeroMQ: {}",
                                       link.peer_text, e.what())));
    return false;
  }
}

// Hands one message to the DEALER. False when ZeroMQ cannot take it now (no connection or
// full), in which case nothing was sent.
bool Endpoint::Impl::transmit(Link& link, std::uint64_t seq, Outgoing& message) {
  if (message.live && !build_parts(link, message)) out_parts.clear();  // now a tombstone
  const bool data = message.live;
  const std::string& prefix = data ? data_prefix : skip_prefix;
  zmq::message_t head(prefix.size() + internal::uint_size(seq) +
                      internal::uint_size(link.front_seq));
  char* out = head.data<char>();
  std::memcpy(out, prefix.data(), prefix.size());
  internal::put_uint(internal::put_uint(out + prefix.size(), seq), link.front_seq);

  zmq::socket_t& dealer = *link.dealer;
  std::size_t sent_parts = 0;
  try {
    const auto head_flags =
        data ? zmq::send_flags::sndmore | zmq::send_flags::dontwait : zmq::send_flags::dontwait;
    if (link.inproc) {
      internal::released_to_zeromq(head.data());
      for (auto& part : out_parts) internal::released_to_zeromq(part.data());
    }
    if (!dealer.send(head, head_flags)) {
      out_parts.clear();
      return false;
    }
    // The rest of a multipart message always follows its first part (ZeroMQ queues whole
    // messages), so these do not block.
    for (std::size_t i = 0; data && i < out_parts.size(); ++i) {
      const bool last = i + 1 == out_parts.size();
      dealer.send(out_parts[i], last ? zmq::send_flags::dontwait
                                     : zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      ++sent_parts;
    }
  } catch (const zmq::error_t& e) {
    out_parts.clear();
    if (message.live) {
      abandon(message, Error(ErrorCode::undeliverable,
                             fmt::format("sending to {} at {} failed in ZeroMQ: {}", link.peer_text,
                                         link.address, e.what())));
    }
    // A socket left inside a half-sent message would glue the next message onto it.
    if (error_limiter.allow()) {
      log.warn("ZM-SEND-FAIL proc={} {}: {} after {} frames; redialing", link.peer_text,
               link.address, e.what(), sent_parts);
    }
    dial(link);
    return false;
  }
  out_parts.clear();
  if (message.sent_at == Clock::time_point{}) {
    bump(stats.sent);
  } else {
    bump(stats.resent);
    message.resent = true;
  }
  // Not the loop's `now`: pumping a large batch takes a while, and a stale stamp would
  // make the message look overdue early.
  message.sent_at = Clock::now();
  return true;
}

// Gives `message` back to its sender; it stays in place as a tombstone holding its seq.
void Endpoint::Impl::abandon(Outgoing& message, Error error) {
  Outgoing gone;
  gone.header = std::move(message.header);
  gone.payload = std::move(message.payload);
  gone.deadline = message.deadline;
  message.live = false;
  message.payload.clear();
  give_back(std::move(gone), std::move(error));
}

void Endpoint::Impl::give_back(Outgoing&& message, Error error) {
  stats.undeliverable.fetch_add(1, std::memory_order_relaxed);
  stats.finished.fetch_add(1, std::memory_order_relaxed);
  const Frame header = Frame::wrap(nullptr, message.header.data(), message.header.size());
  auto envelope = decode_envelope(header, std::move(message.payload));
  if (!envelope) {
    log.error("ZM-INTERNAL cannot rebuild an undeliverable envelope ({}): {}",
              envelope.error().message, error.message);
    return;
  }
  envelope->deadline = message.deadline;
  try {
    inbound.undeliverable(std::move(*envelope), std::move(error));
  } catch (const std::exception& e) {
    log.error("ZM-CALLBACK-THREW Inbound::undeliverable threw: {}", e.what());
  }
}

Error Endpoint::Impl::deadline_error(const Link& link, const Outgoing& message) const {
  const auto budget = millis_between(message.queued_at, message.deadline);
  if (link.address.empty()) {
    return Error(ErrorCode::undeliverable,
                 fmt::format("no route to {}: delivery deadline passed ({} ms) before "
                             "add_route() named its address",
                             link.peer_text, budget));
  }
  if (!link.dealer) {
    return Error(ErrorCode::undeliverable,
                 fmt::format("cannot dial {} at {} ({}): delivery deadline passed ({} ms)",
                             link.peer_text, link.address, link.dial_error, budget));
  }
  return Error(ErrorCode::undeliverable,
               fmt::format("{} at {} did not acknowledge the message: delivery deadline passed "
                           "({} ms); is that proc alive?",
                           link.peer_text, link.address, budget));
}

// Drops the acked front and the given-up messages at the front: the floor moves past them.
void Endpoint::Impl::pop_settled(Link& link) {
  while (!link.unacked.empty() && !link.unacked.front().live) {
    link.unacked.pop_front();
    ++link.front_seq;
  }
  link.cursor = std::max(link.cursor, link.front_seq);
  if (link.idle()) link.earliest_deadline = Deadline::max();
}

void Endpoint::Impl::receive_acks(Link& link) {
  for (int n = 0; n < max_receive_batch && link.dealer; ++n) {
    try {
      if (!link.dealer->recv(scratch, zmq::recv_flags::dontwait)) break;
      if (link.inproc) internal::acquired_from_zeromq(scratch.data());
      if (scratch.more()) {
        std::size_t frames = 1;
        zmq::message_t rest;
        do {
          (void)link.dealer->recv(rest);
          ++frames;
        } while (rest.more());
        garbage(link.peer_text, fmt::format("a reply of {} frames; acks have one", frames));
        continue;
      }
    } catch (const zmq::error_t& e) {
      if (error_limiter.allow()) {
        log.warn("ZM-RECV-FAIL proc={} {}: {}", link.peer_text, link.address, e.what());
      }
      break;
    }
    auto header = internal::parse_link_header(scratch.to_string_view());
    if (!header) {
      garbage(link.peer_text, header.error().message);
      continue;
    }
    if (header->session != session) {
      garbage(link.peer_text,
              fmt::format("a {} for session {:016x}, ours is {:016x}",
                          internal::to_string(header->kind), header->session, session));
      continue;
    }
    switch (header->kind) {
      case LinkKind::ack:
      case LinkKind::nack:
        on_ack(link, *header);
        break;
      case LinkKind::reject:
        on_reject(link, *header);
        break;
      default:
        garbage(link.peer_text,
                fmt::format("a {} header sent to a DEALER", internal::to_string(header->kind)));
    }
  }
  admit(link);
  pump(link);
}

void Endpoint::Impl::on_ack(Link& link, const LinkHeader& header) {
  const std::uint64_t through = header.seq;
  if (through >= link.next_seq()) {
    garbage(link.peer_text,
            fmt::format("an ack through {}, but only {} were sent", through, link.next_seq() - 1));
    return;
  }
  bump(stats.acks_received);
  bool progress = false;
  Clock::time_point sample_sent_at{};  // of the newest released message sent only once
  while (link.front_seq <= through && !link.unacked.empty()) {
    const Outgoing& front = link.unacked.front();
    if (front.live) {
      stats.finished.fetch_add(1, std::memory_order_relaxed);
      if (!front.resent && front.sent_at != Clock::time_point{}) sample_sent_at = front.sent_at;
    }
    link.unacked.pop_front();
    ++link.front_seq;
    progress = true;
  }
  pop_settled(link);
  if (progress) link.last_progress = now;
  if (sample_sent_at != Clock::time_point{}) {
    // Karn: only an ack of a message sent once measures the delay, and only such an ack
    // proves the backed-off wait too long; acks of resent copies keep the backoff.
    link.resend_backoff = 0;
    const Clock::duration sample = now - sample_sent_at;
    if (link.smoothed_ack_delay == Clock::duration::zero()) {
      link.smoothed_ack_delay = sample;
      link.ack_delay_variation = sample / 2;
    } else {
      const Clock::duration error = link.smoothed_ack_delay > sample
                                        ? link.smoothed_ack_delay - sample
                                        : sample - link.smoothed_ack_delay;
      link.ack_delay_variation = (3 * link.ack_delay_variation + error) / 4;
      link.smoothed_ack_delay = (7 * link.smoothed_ack_delay + sample) / 8;
    }
  }
  // A nack: the receiver saw a gap (ZeroMQ dropped messages, e.g. on reconnect). Go back
  // to the floor once per gap; later nacks for the same gap are in flight already.
  if (header.kind == LinkKind::nack && through + 1 == link.front_seq && !link.unacked.empty() &&
      link.cursor > link.front_seq &&
      !(link.nack_resent_from == link.front_seq &&
        now < link.nack_resent_at + config.resend_interval)) {
    link.nack_resent_from = link.front_seq;
    link.nack_resent_at = now;
    link.cursor = link.front_seq;
  }
}

void Endpoint::Impl::on_reject(Link& link, const LinkHeader& header) {
  if (header.seq < link.front_seq || header.seq >= link.next_seq()) return;  // settled already
  Outgoing& message = link.unacked[header.seq - link.front_seq];
  if (!message.live) return;
  abandon(message, Error(ErrorCode::undeliverable,
                         fmt::format("{} refused the message: {}", link.peer_text, header.reason)));
  pop_settled(link);
}

bool Endpoint::Impl::resend_armed(const Link& link) const {
  // Only what was transmitted can be overdue; a blocked link waits for POLLOUT instead.
  return link.dealer && !link.blocked && link.cursor > link.front_seq;
}

Clock::time_point Endpoint::Impl::resend_due(const Link& link) const {
  // Measured from the last ack progress too, so that a slow but moving receiver is not
  // flooded with copies of what it is about to ack. config.resend_interval is the least
  // wait; a link whose acks take longer waits for them (plus their usual variation).
  const Clock::duration expected_ack_delay = link.smoothed_ack_delay + 4 * link.ack_delay_variation;
  const Clock::duration wait =
      std::max<Clock::duration>(config.resend_interval, expected_ack_delay) *
      (1 << link.resend_backoff);
  return std::max(link.unacked.front().sent_at, link.last_progress) + wait;
}

void Endpoint::Impl::run_timers() {
  for (auto& [proc, link_pointer] : links) {
    Link& link = *link_pointer;
    if (now >= link.earliest_deadline) expire(link);
    if (resend_armed(link) && now >= resend_due(link)) {
      link.resend_backoff = std::min(link.resend_backoff + 1, max_resend_backoff);
      link.cursor = link.front_seq;
      pump(link);
    }
  }
}

void Endpoint::Impl::expire(Link& link) {
  Deadline next = Deadline::max();
  for (auto& message : link.unacked) {
    if (!message.live) continue;
    if (message.deadline <= now) {
      abandon(message, deadline_error(link, message));
    } else {
      next = std::min(next, message.deadline);
    }
  }
  if (!link.backlog.empty()) {
    std::deque<Outgoing> kept;
    for (auto& message : link.backlog) {
      if (message.deadline <= now) {
        const Error error = deadline_error(link, message);
        give_back(std::move(message), error);
      } else {
        next = std::min(next, message.deadline);
        kept.push_back(std::move(message));
      }
    }
    link.backlog.swap(kept);
  }
  link.earliest_deadline = next;
  pop_settled(link);
  admit(link);
  pump(link);
}

// ---------------------------------------------------------------------------------------
// receiving

void Endpoint::Impl::receive_data() {
  for (int n = 0; n < max_receive_batch; ++n) {
    std::size_t count = 0;
    std::size_t total = 0;
    try {
      if (!router->recv(parts[0], zmq::recv_flags::dontwait)) break;
      if (inproc) internal::acquired_from_zeromq(parts[0].data());
      count = total = 1;
      // The other parts of a message arrive with its first, so these never block.
      while (parts[count - 1].more()) {
        if (count == parts.size()) {
          do {
            (void)router->recv(scratch);
            ++total;
          } while (scratch.more());
          break;
        }
        (void)router->recv(parts[count]);
        if (inproc) internal::acquired_from_zeromq(parts[count].data());
        ++count;
        ++total;
      }
    } catch (const zmq::error_t& e) {
      if (error_limiter.allow()) log.warn("ZM-RECV-FAIL {}: {}", bound_address, e.what());
      break;
    }
    if (total > count) {
      garbage(hex(parts[0]), fmt::format("{} frames, more than the {} allowed (max_frames={} plus "
                                         "routing id and link header)",
                                         total, parts.size(), config.max_frames));
      continue;
    }
    on_data(count);
  }
  flush_acks();
}

void Endpoint::Impl::on_data(std::size_t count) {
  const zmq::message_t& routing_id = parts[0];
  if (count < 2) {
    garbage(hex(routing_id), "an empty message (no link header)");
    return;
  }
  auto header = internal::parse_link_header(parts[1].to_string_view());
  if (!header) {
    garbage(hex(routing_id), header.error().message);
    return;
  }
  if (header->kind != LinkKind::data && header->kind != LinkKind::skip) {
    garbage(hex(routing_id),
            fmt::format("a {} header sent to a ROUTER", internal::to_string(header->kind)));
    return;
  }
  if (header->kind == LinkKind::data && count < 3) {
    garbage(hex(routing_id), "a data message without an envelope header");
    return;
  }
  if (header->kind == LinkKind::skip && count != 2) {
    garbage(hex(routing_id), fmt::format("a skip with {} extra frames", count - 2));
    return;
  }
  if (header->seq == 0) {
    garbage(hex(routing_id), "sequence number 0 (they start at 1)");
    return;
  }
  if (retired_sessions.count(header->session) != 0) {
    bump(stats.duplicates_dropped);  // from a previous incarnation of a restarted sender
    return;
  }
  Session* state = session_for(*header, routing_id);
  if (state == nullptr) return;
  state->expected = std::max(state->expected, header->floor);
  if (header->seq < state->expected) {
    bump(stats.duplicates_dropped);
    if (header->seq == state->rejected_seq) {
      send_reject(*state, header->seq, state->rejected_reason);
      return;
    }
    state->reack = true;
    mark_dirty(*state);
    return;
  }
  if (header->seq > state->expected) {
    bump(stats.gaps_dropped);
    if (state->nacked_at != state->expected) {
      state->nack = true;
      mark_dirty(*state);
    }
    return;
  }
  ++state->expected;
  // The callback below can only post (send() from this thread queues locally), so `state`
  // stays valid across it.
  if (header->kind == LinkKind::data) deliver(*state, *header, count);
  if (state->expected - 1 - state->acked >= config.ack_every) {
    send_ack(*state, LinkKind::ack);
  } else {
    mark_dirty(*state);
  }
}

Session* Endpoint::Impl::session_for(const LinkHeader& header, const zmq::message_t& routing_id) {
  auto it = sessions.find(header.session);
  if (it == sessions.end()) {
    // A sender incarnation we have not heard from (it or we restarted): start at its floor.
    std::string sender(header.sender_bytes);
    auto previous = session_of_sender.find(sender);
    if (previous != session_of_sender.end()) {
      retired_sessions.insert(previous->second);
      sessions.erase(previous->second);
      previous->second = header.session;
    } else {
      session_of_sender.emplace(sender, header.session);
    }
    Session fresh;
    fresh.id = header.session;
    fresh.sender_bytes = std::move(sender);
    fresh.sender_text =
        ProcId{WorldId{std::string(header.sender_world)}, header.sender_rank}.to_string();
    fresh.expected = std::max<std::uint64_t>(header.floor, 1);
    fresh.acked = fresh.expected - 1;
    it = sessions.emplace(header.session, std::move(fresh)).first;
  } else if (it->second.sender_bytes != header.sender_bytes) {
    garbage(hex(routing_id),
            fmt::format("session {:016x} belongs to {}, but the message claims another sender",
                        header.session, it->second.sender_text));
    return nullptr;
  }
  Session& state = it->second;
  const std::string_view id(routing_id.data<char>(), routing_id.size());
  if (state.routing_id != id) state.routing_id.assign(id);
  return &state;
}

void Endpoint::Impl::deliver(Session& state, const LinkHeader& header, std::size_t count) {
  Frames payload;
  payload.reserve(count - 3);
  for (std::size_t i = 3; i < count; ++i) {
    if (parts[i].size() == 0) {
      payload.emplace_back();
      continue;
    }
    // The received buffer becomes the Frame: no copy.
    auto owner = std::make_shared<zmq::message_t>(std::move(parts[i]));
    const void* data = owner->data();
    const std::size_t size = owner->size();
    payload.push_back(Frame::wrap(std::move(owner), data, size));
  }
  const Frame envelope_header = Frame::wrap(nullptr, parts[2].data(), parts[2].size());
  auto envelope = decode_envelope(envelope_header, std::move(payload));
  if (!envelope) {
    garbage(hex(parts[0]), fmt::format("message {} from {}: {}", header.seq, state.sender_text,
                                       envelope.error().message));
    state.rejected_seq = header.seq;
    state.rejected_reason = envelope.error().message;
    send_reject(state, header.seq, state.rejected_reason);
    return;
  }
  bump(stats.delivered);
  try {
    inbound.deliver(std::move(*envelope));
  } catch (const std::exception& e) {
    if (error_limiter.allow()) log.error("ZM-CALLBACK-THREW Inbound::deliver threw: {}", e.what());
  }
}

void Endpoint::Impl::mark_dirty(Session& state) {
  if (state.dirty) return;
  state.dirty = true;
  dirty_sessions.push_back(state.id);
}

void Endpoint::Impl::flush_acks() {
  for (const std::uint64_t id : dirty_sessions) {
    auto it = sessions.find(id);
    if (it == sessions.end()) continue;
    Session& state = it->second;
    state.dirty = false;
    if (state.nack) {
      send_ack(state, LinkKind::nack);
    } else if (state.reack || state.expected - 1 > state.acked) {
      send_ack(state, LinkKind::ack);
    }
  }
  dirty_sessions.clear();
}

void Endpoint::Impl::send_ack(Session& state, LinkKind kind) {
  state.acked = state.expected - 1;
  state.reack = false;
  if (kind == LinkKind::nack) state.nacked_at = state.expected;
  state.nack = false;
  // Full or gone (EHOSTUNREACH with router_mandatory): a later ack, or the answer to the
  // sender's resend, covers this one.
  if (reply(state, internal::encode_ack(kind, state.id, state.acked))) bump(stats.acks_sent);
}

void Endpoint::Impl::send_reject(Session& state, std::uint64_t seq, std::string_view reason) {
  // If it is lost, the sender's resend of `seq` is refused again (Session::rejected_seq).
  (void)reply(state, internal::encode_reject(state.id, seq, reason));
}

bool Endpoint::Impl::reply(const Session& state, const std::string& header) {
  try {
    zmq::message_t body(header.data(), header.size());
    if (inproc) internal::released_to_zeromq(body.data());
    if (!router->send(zmq::buffer(state.routing_id),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return false;
    }
    (void)router->send(body, zmq::send_flags::dontwait);
    return true;
  } catch (const zmq::error_t&) {
    return false;
  }
}

void Endpoint::Impl::garbage(std::string_view peer, std::string_view reason) {
  bump(stats.garbage_dropped);
  if (!garbage_limiter.allow()) return;
  log.warn(
      "ZM-GARBAGE peer={} at {} (lines suppressed so far: {}): dropped a malformed "
      "message: {}",
      peer, bound_address, garbage_limiter.suppressed(), reason);
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
  if (config.max_unacked == 0 || config.ack_every == 0 || config.max_frames == 0) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("proc {}: max_unacked, ack_every and max_frames must be at least 1",
                             self.to_string()));
  }
  auto impl = std::make_unique<Impl>(context, std::move(self), std::move(inbound), config);
  if (auto opened = impl->open(*parsed); !opened) return std::move(opened).error();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Endpoint>(new Endpoint(std::move(impl)));
}

void Endpoint::send(Envelope envelope) {
  impl_->post(std::move(envelope));
}

Result<void> Endpoint::send_bounded(Envelope envelope, Deadline /*room_deadline*/) {
  impl_->post(std::move(envelope));
  return {};
}

bool Endpoint::has_room(const ProcId& /*proc*/, std::size_t /*bytes*/) const { return true; }

void Endpoint::retry_held() {}

Result<void> Endpoint::add_route(const ProcId& proc, std::string_view address) {
  return impl_->route(proc, address);
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

Endpoint::Stats Endpoint::stats() const {
  return impl_->snapshot();
}

void Endpoint::close() {
  impl_->close();
}

}  // namespace zmesh
