// The I/O thread of an Endpoint: the poll loop over the ROUTER, the DEALERs and the wake-up
// eventfd; links (a SendWindow per lane) and receive sessions driven by what arrives; timers
// (resends, deadlines, held-message retries, expiry of idle state). See endpoint_impl.hpp.
#include "zmesh/transport/internal/endpoint_impl.hpp"
#include "zmesh/transport/security.hpp"
#include "zmesh/transport/internal/handoff_annotations.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>

namespace zmesh {
namespace {

using internal::Link;
using internal::LinkHeader;
using internal::LinkKind;
using internal::Outgoing;
using internal::Posted;
using internal::ReceiveSession;
using namespace std::chrono_literals;

// Frames smaller than this are copied into ZeroMQ: one allocation and a copy of a few KiB
// cost less than lending ZeroMQ a shared buffer, which takes two allocations (our keeper
// and ZeroMQ's record of the buffer), two atomic reference counts, and a free on ZeroMQ's
// I/O thread of what this thread allocated.
constexpr std::size_t zero_copy_threshold = 4096;
// Messages read from one socket per turn, so that a flood on one link cannot starve acks,
// sends and timers.
constexpr int max_receive_batch = 4096;
// The largest lane ring a receiver maps for a sender (as ZMESH_SHM_LANE_BYTES allows).
constexpr std::uint64_t max_lane_ring_bytes = std::uint64_t{1} << 30;
// ZeroMQ redials a lost peer after 10 ms, backing off to 1 s while it stays away.
constexpr int reconnect_interval_ms = 10;
constexpr int reconnect_interval_max_ms = 1000;
constexpr int ack_high_water_mark = 10000;
// How often idle state is looked for (receive sessions not heard from for long, links that
// were only ever created to answer a proc we have no route for): half the delivery
// timeout, within these bounds.
constexpr Clock::duration min_sweep_interval = 10ms;
constexpr Clock::duration max_sweep_interval = 5s;
constexpr Lane lanes_in_send_order[] = {Lane::control, Lane::data};

std::string hex(std::string_view bytes) {
  std::string text;
  for (const char byte : bytes) text += fmt::format("{:02x}", static_cast<unsigned char>(byte));
  return text;
}
std::string hex(const zmq::message_t& bytes) { return hex(bytes.to_string_view()); }

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

}  // namespace

// ---------------------------------------------------------------------------------------
// the loop

void Endpoint::Impl::run() {
  std::unique_lock io(io_mutex);
  io_thread.store(std::this_thread::get_id(), std::memory_order_relaxed);
  loop_thread = std::this_thread::get_id();
  pthread_setname_np(pthread_self(), "zmesh-io");
  next_sweep = Clock::now() + sweep_interval();
  io_ready = true;
  while (!closing || (!settled() && now < linger_deadline)) {
    try {
      iterate(io, poll_fds);
      deferred_waiting = false;
      if (deferring() && inbound.end_round()) {
        run_deferred(io);
        // Turns left for later: the next poll only looks.
        deferred_waiting = inbound.end_round();
      }
    } catch (const std::exception& e) {
      // Every ZeroMQ call handles its own errors; this is the last line for the unexpected
      // (allocation failure, a throwing std::function). The loop must go on serving.
      if (error_limiter.allow()) log.error("ZM-IO-ERROR the I/O loop caught: {}", e.what());
    }
  }
  io_ready = false;
  finish();
  if (deferring()) {
    standby_exit = true;
    arm_standby(std::chrono::nanoseconds(1));
    // Work the callbacks of finish() deferred: nobody comes round to run it here any more.
    inbound.end_round();
    inbound.release_deferred();
  }
}

bool Endpoint::Impl::deferring() const {
  return standby_timer >= 0 && inbound.end_round && inbound.run_deferred &&
         inbound.release_deferred;
}

// Runs the turns deliveries left for this thread, unlocked: they are handlers, not I/O
// callbacks, and may send (directly, since the lock is free) or block. The standby thread
// serves the sockets should the run overrun.
void Endpoint::Impl::run_deferred(std::unique_lock<std::mutex>& io) {
  deferred_running = true;
  deferred_started = Clock::now();
  io_thread.store(std::thread::id{}, std::memory_order_relaxed);
  io.unlock();
  arm_standby(std::chrono::microseconds(config.io_turn_limit_us));
  try {
    inbound.run_deferred();
  } catch (const std::exception& e) {
    if (error_limiter.allow()) log.error("ZM-CALLBACK-THREW Inbound::run_deferred threw: {}", e.what());
  }
  arm_standby(Clock::duration::zero());
  io.lock();
  deferred_running = false;
  now = Clock::now();
  io_thread.store(std::this_thread::get_id(), std::memory_order_relaxed);
  if (std::exchange(standby_serving, false)) {
    // The standby thread may still wait in its poll: wake it so it goes back to its timer.
    wake();
  }
}

void Endpoint::Impl::arm_standby(Clock::duration after) {
  itimerspec spec{};
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(after).count();
  spec.it_value.tv_sec = static_cast<time_t>(nanos / 1'000'000'000);
  spec.it_value.tv_nsec = static_cast<long>(nanos % 1'000'000'000);
  ::timerfd_settime(standby_timer, 0, &spec, nullptr);
}

void Endpoint::Impl::stand_by() {
  pthread_setname_np(pthread_self(), "zmesh-standby");
  const auto limit = std::chrono::microseconds(config.io_turn_limit_us);
  for (;;) {
    std::uint64_t expirations = 0;
    // Blocks until the timer expires: a run of deferred turns went on for `limit`, or the
    // loop ended. EINTR: just look.
    [[maybe_unused]] const auto got = ::read(standby_timer, &expirations, sizeof expirations);
    std::unique_lock io(io_mutex);
    if (standby_exit) return;
    // A run that ended, or a later one (the timer was armed again for it), is no overrun.
    if (deferred_running && Clock::now() - deferred_started >= limit) serve_while_deferred(io);
  }
}

void Endpoint::Impl::serve_while_deferred(std::unique_lock<std::mutex>& io) {
  // Once per overrun: after closing, the loop below may end while the run still goes on.
  if (!std::exchange(standby_serving, true)) internal::bump(stats.standby_takeovers);
  io_thread.store(std::this_thread::get_id(), std::memory_order_relaxed);
  // What has not started waits no longer behind the turn that holds the I/O thread.
  inbound.release_deferred();
  deferred_waiting = false;
  while (standby_serving && !standby_exit && (!closing || (!settled() && now < linger_deadline))) {
    try {
      iterate(io, standby_poll_fds);
    } catch (const std::exception& e) {
      if (error_limiter.allow()) log.error("ZM-IO-ERROR the I/O loop caught: {}", e.what());
    }
  }
}

void Endpoint::Impl::iterate(std::unique_lock<std::mutex>& io, std::vector<pollfd>& fds) {
  internal::bump(stats.io_rounds);
  process_local_posts();
  if (poll_dirty) rebuild_poll_items();
  if (&fds != &poll_fds) fds = poll_fds;
  int timeout = any_recheck || deferred_waiting ? 0 : poll_timeout_ms();
  // A lane's writer rings our doorbell only when we said we sleep; input already there
  // means no sleep at all.
  const bool lanes_prepared = timeout != 0 && !polled_lanes.empty();
  if (lanes_prepared && !prepare_lanes_to_sleep()) timeout = 0;
  io_wakes_at = timeout < 0 ? Clock::time_point::max()
                            : Clock::now() + std::chrono::milliseconds(timeout);
  // Senders may do the I/O work while this thread waits (try_send_directly).
  io.unlock();
  stats.sleeping.store(timeout != 0 ? 1 : 0, std::memory_order_relaxed);
  const int ready = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout);
  stats.sleeping.store(0, std::memory_order_relaxed);
  io.lock();
  // The standby thread's turn ended while it waited: the I/O thread serves again.
  if (io_thread.load(std::memory_order_relaxed) != std::this_thread::get_id()) return;
  now = Clock::now();
  run_deferred_callbacks();
  if (ready < 0) return;  // EINTR: just poll again
  if (ready == 0 && timeout != 0) internal::bump(stats.timer_wakeups);
  any_recheck = false;
  if (fds[0].revents & POLLIN) take_handoff();
  if (router_recheck || (fds[1].revents & POLLIN)) {
    router_recheck = false;
    if (events_of(router->handle()) & ZMQ_POLLIN) receive_data();
  }
  if (handshakes && (handshakes_recheck || (fds[2].revents & POLLIN))) {
    handshakes_recheck = false;
    if (events_of(handshakes->handle()) & ZMQ_POLLIN) report_refused_handshakes();
  }
  // Lanes even when sockets or lanes changed this round (offers taken, lanes opened): while
  // procs keep offering lanes, a round that skipped them would starve every lane.
  if (!polled_lanes.empty()) serve_lanes(fds, lanes_prepared);
  if (!poll_dirty) {
    for (std::size_t i = first_link_item; i < first_link_item + polled_links.size(); ++i) {
      Link& link = *polled_links[i - first_link_item];
      if (!link.recheck && !(fds[i].revents & POLLIN)) continue;
      serve_link(link);
    }
  }
  if (retry_requested.load(std::memory_order_relaxed) && retry_requested.exchange(false) &&
      !held_sessions.empty()) {
    retry_held_now();
  }
  run_timers();
  // Replies that handlers on this thread posted go out now, carrying what acks they can,
  // before the acks that waited long enough go alone.
  process_local_posts();
  flush_deferred_acks(closing);
  settle_credits();
  any_recheck = any_recheck || router_recheck || handshakes_recheck;
  for (std::size_t i = 0; i < polled_links.size() && !any_recheck && !poll_dirty; ++i) {
    any_recheck = polled_links[i]->recheck;
  }
}

// What ZeroMQ has for the link's DEALER: acks to read, or room again after it was full.
void Endpoint::Impl::serve_link(Link& link) {
  link.recheck = false;
  if (!link.dealer) return;
  const int events = events_of(link.dealer->handle());
  if (events & ZMQ_POLLIN) receive_acks(link);
  if ((events & ZMQ_POLLOUT) && link.blocked) {
    // Often a reconnection: what the old connection lost is due for resending now, not
    // after a backed-off wait.
    for (auto& lane : link.lanes) lane.reset_backoff();
    set_blocked(link, false);
    pump(link);
  }
}

bool Endpoint::Impl::try_send_directly(Posted& posted) {
  std::unique_lock io(io_mutex, std::try_to_lock);
  if (!io.owns_lock() || !io_ready) return false;
  {
    std::lock_guard lock(handoff.mutex);
    // Hand-offs pending (earlier messages, routes, forgets) go first, and so does close.
    if (handoff.signaled || handoff.closed) return false;
  }
  internal::bump(stats.sent_directly);
  direct_send = true;
  now = Clock::now();
  const bool recheck_before = any_recheck;
  Link& link = link_for(posted.to);
  enqueue(std::move(posted));
  if (deferred_running && !standby_serving && std::this_thread::get_id() == loop_thread) {
    // A handler's send from a turn the I/O thread runs: the loop's next round comes right
    // after the run (or the standby thread's, should it take over) and looks at the DEALER
    // then, once for all the run's sends, with its timers and new sockets. Looking now, and
    // waking the loop, would cost a few system calls per reply.
    settle_credits();
    direct_send = false;
    return true;
  }
  // The sends may have taken the wake-up of the DEALER's descriptor, which the I/O thread
  // is waiting on. When its own timer (an ack waiting to ride, usually) ends its wait within
  // ack_delay, it looks at the DEALER in that round: what came meanwhile is read no later
  // than an ack would have been sent, and casting to many peers costs no look per message.
  // Otherwise look at its events here, as the loop would after a send; acks read now may
  // let more go out, so a few turns.
  const bool loop_looks =
      ack_delay > Clock::duration::zero() && io_wakes_at <= now + ack_delay;
  for (int turn = 0; turn < 4 && link.recheck && !loop_looks && !poll_dirty; ++turn) {
    serve_link(link);
  }
  settle_credits();
  direct_send = false;
  const bool callbacks = !undeliverables_for_io.empty() || link_room_for_io;
  // The I/O thread sleeps until io_wakes_at, on the descriptors it had: it must come round
  // for a new socket, for a descriptor not served here, or for a timer due earlier.
  Clock::time_point next = std::min({link.earliest_deadline(), next_sweep, next_shm_expiry});
  for (const auto& lane : link.lanes) {
    if (lane.resend_armed()) next = std::min(next, lane.resend_due());
  }
  const bool wake_io =
      callbacks || poll_dirty || (link.recheck && !loop_looks) || next < io_wakes_at;
  // A look left to the loop keeps any_recheck: should the loop be out of its poll (running
  // deferred turns, or about to take the lock), its next poll must not wait before it.
  if (!wake_io && !link.recheck) any_recheck = recheck_before;
  io.unlock();
  if (wake_io) wake();
  return true;
}

// What direct sends gave rise to, run here on the I/O thread.
void Endpoint::Impl::run_deferred_callbacks() {
  for (auto& [envelope, error] : undeliverables_for_io) {
    call_undeliverable(std::move(envelope), std::move(error));
  }
  undeliverables_for_io.clear();
  if (std::exchange(link_room_for_io, false)) call_link_room();
}

void Endpoint::Impl::call_undeliverable(Envelope&& envelope, Error error) {
  if (direct_send) {
    undeliverables_for_io.emplace_back(std::move(envelope), std::move(error));
    return;
  }
  try {
    inbound.undeliverable(std::move(envelope), std::move(error));
  } catch (const std::exception& e) {
    if (error_limiter.allow()) log.error("ZM-CALLBACK-THREW Inbound::undeliverable threw: {}", e.what());
  }
}

void Endpoint::Impl::call_link_room() {
  if (direct_send) {
    link_room_for_io = true;
    return;
  }
  if (!inbound.link_room) return;
  try {
    inbound.link_room();
  } catch (const std::exception& e) {
    if (error_limiter.allow()) log.error("ZM-CALLBACK-THREW Inbound::link_room threw: {}", e.what());
  }
}

// ZeroMQ's events for `socket` (ZMQ_POLLIN, ZMQ_POLLOUT); 0 when it cannot say.
int Endpoint::Impl::events_of(void* socket) {
  int events = 0;
  std::size_t size = sizeof events;
  if (zmq_getsockopt(socket, ZMQ_EVENTS, &events, &size) == 0) return events;
  if (zmq_errno() == ETERM) {
    context_gone();
  } else if (zmq_errno() != EINTR && error_limiter.allow()) {
    log.warn("ZM-POLL-FAIL {}: {}", bound_address, zmq_strerror(zmq_errno()));
  }
  return 0;
}

// The descriptor that tells when ZeroMQ has news for `socket`.
int Endpoint::Impl::descriptor_of(void* socket) {
  int fd = -1;
  std::size_t size = sizeof fd;
  if (zmq_getsockopt(socket, ZMQ_FD, &fd, &size) == 0) return fd;
  // Only a dead context: nothing to wait for (poll skips a negative descriptor).
  if (zmq_errno() == ETERM) context_gone();
  return -1;
}

void Endpoint::Impl::context_gone() {
  if (closing && linger_deadline <= now) return;
  // The context was shut down under us: nothing can be sent any more.
  log.error("ZM-CONTEXT-GONE the ZeroMQ context was terminated while the endpoint was open");
  closing = true;
  linger_deadline = now;
}

void Endpoint::Impl::report_refused_handshakes() {
  for (const auto& refusal : handshakes->drain()) {
    log.warn("ZM-HANDSHAKE-REFUSED proc={} refused {} at {}: {} (logged once per host; "
             "Endpoint::stats().handshakes_refused counts them all)",
             self_text, refusal.peer_text(), bound_address, refusal.reason);
  }
  stats.handshakes_refused.store(handshakes->refused(), std::memory_order_relaxed);
}

void Endpoint::Impl::rebuild_poll_items() {
  poll_fds.clear();
  polled_links.clear();
  // Every socket is asked once after a rebuild: a new one may hold news from before.
  poll_fds.push_back({wake_fd, POLLIN, 0});
  poll_fds.push_back({descriptor_of(router->handle()), POLLIN, 0});
  router_recheck = true;
  if (handshakes) {
    poll_fds.push_back({descriptor_of(handshakes->handle()), POLLIN, 0});
    handshakes_recheck = true;
  }
  first_link_item = poll_fds.size();
  for (auto& [proc, link] : links) {
    if (!link->dealer) continue;
    poll_fds.push_back({descriptor_of(link->dealer->handle()), POLLIN, 0});
    polled_links.push_back(link.get());
    link->recheck = true;
  }
  polled_lanes.clear();
  polled_lane_by_bell.clear();
  for (auto& [proc, link] : links) {
    if (link->lane_state != Link::LaneState::open) continue;
    polled_lanes.push_back({link->shm_lane.get(), link.get(), 0});
  }
  for (auto& [id, lane] : receive_lanes) polled_lanes.push_back({lane.get(), nullptr, id});
  std::vector<int> bells;
  for (std::size_t i = 0; i < polled_lanes.size(); ++i) {
    bells.push_back(polled_lanes[i].lane->doorbell_fd());
    polled_lane_by_bell[bells.back()] = i;
  }
  if (lane_bells) lane_bells->watch(bells);
  lane_bell_item = 0;
  if (!polled_lanes.empty()) {
    lane_bell_item = poll_fds.size();
    poll_fds.push_back({lane_bells->fd(), POLLIN, 0});
  }
  // A prepare before this rebuild may have left lanes saying "asleep": the next serve says
  // "awake" on all of them, so that their writers stop ringing.
  lanes_asleep = true;
  stats.lanes_sending.store(polled_lanes.size() - receive_lanes.size(), std::memory_order_relaxed);
  stats.lanes_receiving.store(receive_lanes.size(), std::memory_order_relaxed);
  any_recheck = true;
  poll_dirty = false;
}

int Endpoint::Impl::poll_timeout_ms() {
  if (!local_posted.empty() || retry_requested.load(std::memory_order_relaxed)) return 0;
  Clock::time_point next = Clock::time_point::max();
  for (const auto& [proc, link] : links) {
    next = std::min(next, link->earliest_deadline());
    if (!link->dealer || link->blocked) continue;
    for (const auto& lane : link->lanes) {
      if (lane.resend_armed()) next = std::min(next, lane.resend_due());
    }
  }
  if (!held_sessions.empty()) next = std::min(next, next_held_retry);
  drop_carried_acks();
  if (!deferred_acks.empty()) next = std::min(next, deferred_acks.front().second);
  if (sessions.size() > 0 || !links.empty()) next = std::min(next, next_sweep);
  next = std::min(next, next_shm_expiry);
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
  taken_forgets.clear();
  {
    std::lock_guard lock(handoff.mutex);
    taken.swap(handoff.posted);
    taken_routes.swap(handoff.routes);
    taken_forgets.swap(handoff.forgets);
    handoff.signaled = false;
    closed = handoff.closed;
  }
  for (auto& route : taken_routes) {
    apply_route(route.proc, route.address, route.peer_max_message_bytes);
  }
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
  handoff.room.notify_all();
  for (auto& posted : taken) {
    link_for(posted.to).lane(posted.lane).push(std::move(posted.message));
  }
  taken.clear();
  for (auto& posted : local_posted) {
    link_for(posted.to).lane(posted.lane).push(std::move(posted.message));
  }
  local_posted.clear();
  io_finished = true;  // send() from the callbacks below now takes the closed path
  for (auto& [proc, link] : links) {
    const Error closed(ErrorCode::undeliverable,
                       fmt::format("the endpoint of proc {} closed before {} acknowledged the "
                                   "message",
                                   self_text, link->peer_text));
    for (auto& lane : link->lanes) {
      for (auto& message : lane.take_all()) give_back(*link, std::move(message), closed);
    }
    link->dealer.reset();
    drop_lane(*link, false);
  }
  receive_lanes.clear();
  polled_lanes.clear();
  settle_credits();
  handshakes.reset();
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
    slot = std::make_unique<Link>(proc, data_unacked, control_unacked, config.resend_interval);
    slot->last_used = now;
    stats.links.store(links.size(), std::memory_order_relaxed);
  }
  last_link = slot.get();
  return *slot;
}

void Endpoint::Impl::enqueue(Posted&& posted) {
  Link& link = link_for(posted.to);
  link.last_used = now;
  Outgoing& message = posted.message;
  // Refuse here what the peer would refuse: an oversized frame makes its ZeroMQ drop the
  // connection, which would repeat on every resend until the deadline.
  if (message.payload.size() + 1 > config.max_frames) {
    give_back(link, std::move(message),
              Error(ErrorCode::undeliverable,
                    fmt::format("message to {} has {} frames, more than max_frames={} "
                                "(ZMESH_MAX_FRAMES)",
                                link.peer_text, message.payload.size() + 1, config.max_frames)));
    return;
  }
  const std::int64_t peer_limit = link.peer_max_message_bytes;
  if ((config.max_message_bytes >= 0 &&
       message.bytes > static_cast<std::uint64_t>(config.max_message_bytes)) ||
      (peer_limit > 0 && message.bytes > static_cast<std::uint64_t>(peer_limit))) {
    give_back(link, std::move(message), too_large(link.peer, message.bytes, peer_limit));
    return;
  }
  if (!link.gone_reason.empty()) {
    give_back(link, std::move(message),
              Error(ErrorCode::proc_failed,
                    fmt::format("{} is gone: {}", link.peer_text, link.gone_reason)));
    return;
  }
  internal::SendWindow& lane = link.lane(posted.lane);
  // send() does not wait for room, so what bounds it is this: beyond the messages in
  // flight, at most send_backlog_limit more wait per lane; further ones come back at once.
  // (Counted messages are bounded by the window before they get here.)
  if (!message.counted && lane.backlog() >= send_backlog_limit) {
    give_back(link, std::move(message),
              Error(ErrorCode::backpressure,
                    fmt::format("link to {} full: {} messages wait beyond the {} in flight; "
                                "the receiver is slow or stopped",
                                link.peer_text, lane.backlog(), lane.unacked())));
    return;
  }
  lane.push(std::move(message));
  pump(link);
}

void Endpoint::Impl::apply_forget(const ProcId& proc, const std::string& reason) {
  Link& link = link_for(proc);
  link.gone_reason = reason;
  const Error gone(ErrorCode::proc_failed, fmt::format("{} is gone: {}", link.peer_text, reason));
  link.dealer.reset();
  drop_lane(link, false);
  // And the lane it wrote to us: nobody writes there any more.
  if (const ReceiveSession* state = sessions.find_by_sender(link.peer_bytes); state != nullptr) {
    if (receive_lanes.erase(state->id()) != 0) poll_dirty = true;
  }
  link.address.clear();
  link.blocked = false;
  poll_dirty = true;
  // Their seqs stay used: a successor at a new route starts from the floor after them.
  for (auto& lane : link.lanes) {
    for (auto& message : lane.take_all()) give_back(link, std::move(message), gone);
  }
}

void Endpoint::Impl::apply_route(const ProcId& proc, const Address& address,
                                 std::int64_t peer_max) {
  Link& link = link_for(proc);
  link.gone_reason.clear();
  if (peer_max > 0) link.peer_max_message_bytes = peer_max;
  std::string text = address.to_string();
  if (link.dealer && link.address == text) return;
  link.address = std::move(text);
  link.inproc = address.scheme == Scheme::inproc;
  link.peer_host = Link::Host::unknown;  // a new address may be another host
  dial(link);
  pump(link);
}

void Endpoint::Impl::dial(Link& link) {
  if (link.dealer) link.dealer.reset();
  drop_lane(link, false);  // rewound below
  poll_dirty = true;
  try {
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, static_cast<int>(config.linger.count()));
    // Queue only on completed connections: while the peer is away, sends fail at once
    // (we keep the messages anyway) and POLLOUT tells us when it is back.
    dealer.set(zmq::sockopt::immediate, 1);
    // Both lanes share this connection, so its queue holds everything both may have in
    // flight: a full data window can then never make ZeroMQ refuse a control message
    // (which the pump sends first anyway). Only copies resent while the old ones still
    // wait in the queue (a stopped receiver) can fill it; then nothing would reach that
    // receiver either.
    dealer.set(zmq::sockopt::sndhwm,
               static_cast<int>(std::min<std::uint64_t>(
                   std::uint64_t{data_unacked} + control_unacked + 1000, INT32_MAX)));
    dealer.set(zmq::sockopt::rcvhwm, ack_high_water_mark);
    dealer.set(zmq::sockopt::reconnect_ivl, reconnect_interval_ms);
    dealer.set(zmq::sockopt::reconnect_ivl_max, reconnect_interval_max_ms);
    if (auto secured = secure_socket(dealer, link.address, config, SocketRole::client); !secured) {
      link.dial_error = secured.error().message;
      if (error_limiter.allow()) {
        log.warn("ZM-DIAL-FAIL proc={} {}: {}; its messages wait for another add_route() until "
                 "their deadline",
                 link.peer_text, link.address, link.dial_error);
      }
      return;
    }
    dealer.connect(link.address);
    link.dealer.emplace(std::move(dealer));
    link.dial_error.clear();
    link.ever_dialed = true;
  } catch (const zmq::error_t& e) {
    link.dial_error = e.what();
    if (error_limiter.allow()) {
      log.warn(
          "ZM-DIAL-FAIL proc={} {}: {}; its messages wait for another add_route() until "
          "their deadline",
          link.peer_text, link.address, e.what());
    }
    return;
  }
  // A new connection has seen nothing yet: everything unacked goes out again, in order,
  // once the caller pumps.
  for (auto& lane : link.lanes) lane.rewind();
  link.blocked = false;
}

void Endpoint::Impl::set_blocked(Link& link, bool blocked) {
  link.blocked = blocked;
  // Room may have come back before we looked: ask once, then wait for the descriptor.
  if (blocked) link.recheck = any_recheck = true;
}

void Endpoint::Impl::pump(Link& link) {
  if (!link.dealer || link.blocked || link.lane_blocked) return;
  // A wait before switching paths is looked at again on every pump (transmit() sets it
  // anew if still due): what it waited for may have been acked, resent, or given up at its
  // deadline since, and a wait kept after that would hold the link for good.
  link.path_wait = false;
  if (link.lane_state == Link::LaneState::none && link.peer_host == Link::Host::same &&
      lanes_each_way != 0 && !link.inproc && now >= link.lane_offer_after) {
    offer_lane(link);
  }
  // Control first: a heartbeat never waits behind queued data.
  for (const Lane which : lanes_in_send_order) {
    internal::SendWindow& lane = link.lane(which);
    while (Outgoing* message = lane.to_send()) {
      if (!transmit(link, which, *message)) {
        if (link.dealer && !link.lane_blocked && !link.path_wait) set_blocked(link, true);
        return;
      }
    }
  }
}

// Hands the message at `lane`'s cursor to the DEALER. False when ZeroMQ cannot take it now
// (no connection, or full), in which case nothing was sent.
bool Endpoint::Impl::transmit(Link& link, Lane which, Outgoing& message) {
  internal::SendWindow& lane = link.lane(which);
  std::uint64_t shm_frames = 0;  // payload frames that go as region descriptors
  bool ask_host = false;         // a large frame waits for the peer's hello
  if (message.live) {
    try {
      if (shm_threshold != 0 && !link.inproc) {
        shm_frames = share_large_frames(link, message, ask_host);
      }
      // Lanes need to know the peer's host too: ask with the first messages.
      if (config.shm_lane_bytes != 0 && !link.inproc && link.peer_host == Link::Host::unknown) {
        ask_host = true;
      }
      // The frames as they go out: a region's descriptor, or the frame's own bytes.
      descriptors.resize(message.payload.size());
      for (std::size_t i = 0; i < message.payload.size() && shm_frames != 0; ++i) {
        if (i < 64 && (shm_frames >> i & 1) != 0) {
          // share_large_frames made this frame's owner a region.
          const auto& region =
              static_cast<const internal::ShmRegion&>(*message.payload[i].region());
          descriptors[i] = internal::encode_shm_descriptor(region.descriptor());
        }
      }
      wire_frames.clear();
      for (std::size_t i = 0; i < message.payload.size(); ++i) {
        const bool shared = i < 64 && (shm_frames >> i & 1) != 0;
        wire_frames.push_back(shared ? std::string_view(descriptors[i])
                                     : message.payload[i].view());
      }
    } catch (const std::exception& e) {
      wire_frames.clear();
      // Now a tombstone: it goes out as a skip.
      give_back(link, lane.give_up(message),
                Error(ErrorCode::undeliverable,
                      fmt::format("message to {} could not be handed to ZeroMQ: {}", link.peer_text,
                                  e.what())));
    }
  }
  const bool data = message.live;
  const auto index = static_cast<std::size_t>(which);
  const std::uint64_t seq = lane.send_seq();
  const std::uint64_t floor = lane.front_seq();
  const bool control = which == Lane::control;
  // A data message to a proc we owe an ack carries it, saving that proc an ack message.
  // Marked sent only once ZeroMQ took the message: a send refused now (no connection yet)
  // must not take the ack with it.
  internal::ReceiveSession* const carried =
      data && !control && !deferred_acks.empty() ? ack_to_carry(link) : nullptr;
  const std::uint64_t ack_session = carried != nullptr ? carried->id() : 0;
  const std::uint64_t ack_through = carried != nullptr ? carried->consumed_through(Lane::data) : 0;
  // The long form (lane, ack or zeros, frame mask) only for messages with large frames.
  const bool shm_form = data && (shm_frames != 0 || ask_host);
  const std::string& prefix = shm_form             ? data_shm_prefix[index]
                              : ack_session != 0    ? data_ack_prefix
                              : data                ? data_prefix[index]
                                                    : skip_prefix[index];
  const std::size_t tail_bytes =
      shm_form ? 1 + internal::uint_size(ack_session) + internal::uint_size(ack_through) +
                     internal::uint_size(shm_frames)
      : ack_session != 0
          ? 1 + internal::uint_size(ack_session) + internal::uint_size(ack_through)
          : (control ? 1 : 0);
  // A data message's envelope header follows its link header in the same frame: one frame
  // less per message for both ZeroMQ and the receiver.
  const std::size_t header_bytes = data ? message.header.size() : 0;
  head_bytes.resize(prefix.size() + internal::uint_size(seq) + internal::uint_size(floor) +
                    tail_bytes + header_bytes);
  char* out = head_bytes.data();
  std::memcpy(out, prefix.data(), prefix.size());
  out = internal::put_uint(internal::put_uint(out + prefix.size(), seq), floor);
  if (shm_form) {
    out = internal::put_uint(out, static_cast<std::uint64_t>(which));
    out = internal::put_uint(internal::put_uint(out, ack_session), ack_through);
    out = internal::put_uint(out, shm_frames);
  } else if (ack_session != 0) {
    out = internal::put_uint(out, static_cast<std::uint64_t>(Lane::data));
    out = internal::put_uint(internal::put_uint(out, ack_session), ack_through);
  } else if (control) {
    out = internal::put_uint(out, static_cast<std::uint64_t>(Lane::control));
  }
  if (header_bytes != 0) std::memcpy(out, message.header.data(), header_bytes);

  bool on_lane = false;
  bool fits_lane = false;
  if (link.lane_state == Link::LaneState::open) {
    lane_out.clear();
    lane_out.emplace_back(head_bytes);
    if (data) lane_out.insert(lane_out.end(), wire_frames.begin(), wire_frames.end());
    fits_lane = link.shm_lane->fits(lane_out);
  }
  if (fits_lane != link.last_on_lane[index] && seq != floor) {
    // The other path, with messages before this one in flight (Link::last_on_lane).
    link.path_wait = true;
    return false;
  }
  link.last_on_lane[index] = fits_lane;
  if (fits_lane) {
    switch (link.shm_lane->write(lane_out)) {
      case internal::ShmLane::Write::written:
        on_lane = true;
        break;
      case internal::ShmLane::Write::full:
        // The reader rings our doorbell when it makes room (serve_lanes pumps again).
        link.lane_blocked = true;
        return false;
      case internal::ShmLane::Write::too_large:  // not after fits()
      case internal::ShmLane::Write::broken:
        // What it holds unacked is resent when its timer runs out: rewinding now would move
        // the cursor this message stands at.
        if (link.shm_lane->error()) garbage(link.peer_text, link.shm_lane->error()->message);
        drop_lane(link, false);
        link.lane_state = Link::LaneState::refused;
        break;
    }
  }
  if (!on_lane && !send_on_dealer(link, lane, message)) return false;
  if (on_lane) internal::bump(stats.lane_sent);
  if (carried != nullptr) {
    carried->ack_now(Lane::data);
    internal::bump(stats.acks_carried);
  }
  if (shm_frames != 0) {
    stats.shm_sent.fetch_add(static_cast<std::uint64_t>(std::popcount(shm_frames)),
                             std::memory_order_relaxed);
  }
  // Not the loop's `now`: pumping a large batch takes a while, and a stale stamp would
  // make the message look overdue early.
  if (lane.sent(Clock::now())) {
    internal::bump(stats.sent);
  } else {
    internal::bump(stats.resent);
  }
  return true;
}

// Hands a transmission (head_bytes, then wire_frames for a data message) to the link's
// DEALER. False when ZeroMQ cannot take it now, or failed (then the message was given up
// and the link redialed).
bool Endpoint::Impl::send_on_dealer(Link& link, internal::SendWindow& lane, Outgoing& message) {
  const bool data = message.live;
  zmq::socket_t& dealer = *link.dealer;
  link.recheck = any_recheck = true;
  std::size_t sent_parts = 0;
  try {
    zmq::message_t head(head_bytes.data(), head_bytes.size());
    out_parts.resize(data ? wire_frames.size() : 0);
    for (std::size_t i = 0; i < out_parts.size(); ++i) {
      // A frame's own bytes are lent to ZeroMQ (or copied when small); a descriptor copied.
      if (wire_frames[i].data() == message.payload[i].data()) {
        fill(out_parts[i], message.payload[i]);
      } else {
        out_parts[i].rebuild(wire_frames[i].data(), wire_frames[i].size());
      }
    }
    const auto head_flags = data && !out_parts.empty()
                                ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                : zmq::send_flags::dontwait;
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
      give_back(
          link, lane.give_up(message),
          Error(ErrorCode::undeliverable, fmt::format("sending to {} at {} failed in ZeroMQ: {}",
                                                      link.peer_text, link.address, e.what())));
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
  return true;
}

// Turns `message`'s large payload frames into shared-memory regions, once the peer is known
// to share our host, and returns the mask of the frames that go as descriptors. The regions
// replace the frames in `message`, which holds them (and so their fds) until the peer acks:
// resends share the same region, and a receiver that acked has it mapped. Sets `ask_host`
// when a large frame waits for the peer's hello (it goes as bytes meanwhile).
std::uint64_t Endpoint::Impl::share_large_frames(Link& link, Outgoing& message, bool& ask_host) {
  if (link.peer_host == Link::Host::other) return 0;
  std::uint64_t mask = 0;
  const std::size_t shareable = std::min<std::size_t>(message.payload.size(), 64);
  for (std::size_t i = 0; i < shareable; ++i) {
    Frame& frame = message.payload[i];
    if (frame.size() < shm_threshold) continue;
    if (link.peer_host == Link::Host::unknown) {
      ask_host = true;
      return 0;
    }
    auto region = region_for(frame);
    if (!region) continue;  // counted and logged: the bytes go inline
    if (frame.region() != region.get()) frame = internal::region_frame(std::move(region));
    mask |= std::uint64_t{1} << i;
  }
  return mask;
}

// The region to share for `frame`: its own when it was received as one and we hold its fd,
// one this endpoint wrote for the same bytes, or the frame written now into a file of the
// pool. Null (counted, logged once) when that fails.
std::shared_ptr<const internal::ShmRegion> Endpoint::Impl::region_for(const Frame& frame) {
  if (const auto* own = dynamic_cast<const internal::ShmRegion*>(frame.region());
      own != nullptr && own->shareable()) {
    return std::shared_ptr<const internal::ShmRegion>(frame.owner(), own);
  }
  const WrittenKey key{frame.data(), frame.size()};
  if (auto it = shm_written.find(key); it != shm_written.end()) {
    if (auto region = it->second.lock()) return region;
  }
  bool new_file = false;
  auto created = shm_pool.write(frame, now, new_file);
  if (!created) {
    internal::bump(stats.shm_fallbacks);
    if (!shm_warned) {
      shm_warned = true;
      log.warn("ZM-SHM-FALLBACK {}; frames of {} bytes and more to procs on this host go over "
               "the socket instead (copied). Free space there, point ZMESH_SHM_DIR at another "
               "tmpfs, or raise ZMESH_SHM_THRESHOLD (0 turns shared memory off). Logged once.",
               created.error().message, shm_threshold);
    }
    return nullptr;
  }
  internal::bump(stats.shm_regions);
  if (new_file) internal::bump(stats.shm_files);
  next_shm_expiry = std::min(next_shm_expiry, now + internal::shm_idle_limit);
  if (shm_written.size() >= shm_written_prune_at) {
    std::erase_if(shm_written, [](const auto& entry) { return entry.second.expired(); });
    shm_written_prune_at = std::max<std::size_t>(64, 2 * shm_written.size());
  }
  shm_written[key] = *created;
  return std::move(*created);
}

// Returns `message` to its sender through Inbound::undeliverable, and its window credit.
void Endpoint::Impl::give_back(Link& link, Outgoing&& message, Error error) {
  if (message.counted) release(link, 1, message.bytes);
  stats.undeliverable.fetch_add(1, std::memory_order_relaxed);
  stats.finished.fetch_add(1, std::memory_order_relaxed);
  auto envelope = decode_envelope(message.header, std::move(message.payload));
  if (!envelope) {
    if (error_limiter.allow()) {
      log.error("ZM-INTERNAL cannot rebuild an undeliverable envelope ({}): {}",
                envelope.error().message, error.message);
    }
    return;
  }
  envelope->deadline = message.deadline;
  call_undeliverable(std::move(*envelope), std::move(error));
}

void Endpoint::Impl::release(Link& link, std::uint64_t messages, std::uint64_t bytes) {
  if (messages == 0) return;
  link.release_messages += messages;
  link.release_bytes += bytes;
  if (!link.release_listed) {
    link.release_listed = true;
    released_links.push_back(&link);
  }
}

// Gives the window credit released this round back to the sending threads: one lock per
// round, not per message.
void Endpoint::Impl::settle_credits() {
  if (released_links.empty()) return;
  bool room = false;
  bool notify = false;
  {
    std::lock_guard lock(handoff.mutex);
    for (Link* link : released_links) {
      auto it = handoff.credits.find(link->peer);
      if (it != handoff.credits.end()) {
        internal::Credit& credit = it->second;
        credit.messages -= std::min(credit.messages, link->release_messages);
        credit.bytes -= std::min(credit.bytes, link->release_bytes);
        if (credit.pressed && internal::window_half_empty(credit.messages, credit.bytes, window)) {
          credit.pressed = false;
          room = true;
        }
        if (credit.messages == 0 && credit.waiters == 0 && credit.peer_max_message_bytes == 0 &&
            !credit.pressed) {
          handoff.credits.erase(it);
        }
      }
      link->release_messages = 0;
      link->release_bytes = 0;
      link->release_listed = false;
    }
    notify = handoff.room_waiters > 0;
  }
  released_links.clear();
  if (notify) handoff.room.notify_all();
  if (room) call_link_room();
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

void Endpoint::Impl::receive_acks(Link& link) {
  int n = 0;
  for (; n < max_receive_batch && link.dealer; ++n) {
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
    on_reply(link, scratch.to_string_view());
  }
  // Input left after a full batch raises no new wake-up: look again next round.
  if (n == max_receive_batch) link.recheck = any_recheck = true;
  pump(link);
}

// One message from the peer about our link to it (ack, nack, hello, reject, lane answer),
// from the DEALER or from the lane.
void Endpoint::Impl::on_reply(Link& link, std::string_view bytes) {
  auto header = internal::parse_link_header(bytes);
  if (!header) {
    garbage(link.peer_text, header.error().message);
    return;
  }
  if (header->session != session) {
    garbage(link.peer_text,
            fmt::format("a {} for session {:016x}, ours is {:016x}",
                        internal::to_string(header->kind), header->session, session));
    return;
  }
  internal::SendWindow& lane = link.lane(static_cast<Lane>(header->lane));
  switch (header->kind) {
    case LinkKind::ack:
    case LinkKind::nack:
      if (apply_ack(link, static_cast<Lane>(header->lane), header->kind == LinkKind::nack,
                    header->seq)) {
        internal::bump(stats.acks_received);
      }
      break;
    case LinkKind::hello:
      link.peer_host = !host_key.empty() && header->host_key == host_key ? Link::Host::same
                                                                         : Link::Host::other;
      break;
    case LinkKind::reject:
      if (auto refused = lane.on_reject(header->seq)) {
        give_back(link, std::move(*refused),
                  Error(ErrorCode::undeliverable, fmt::format("{} refused the message: {}",
                                                              link.peer_text, header->reason)));
      }
      break;
    case LinkKind::lane_answer:
      if (header->lane_accepted && link.lane_state == Link::LaneState::offered) {
        link.lane_state = Link::LaneState::open;
        link.shm_lane->close_file();
        poll_dirty = true;
      } else if (!header->lane_accepted && link.lane_state != Link::LaneState::none) {
        // Refused, or closed after a fault on its side: what it may not have read goes
        // again over the socket, and the link stays there.
        log.debug("proc={} does not read our lane: {}", link.peer_text, header->reason);
        drop_lane(link, true);
        link.lane_state = Link::LaneState::refused;
      }
      break;
    default:
      garbage(link.peer_text,
              fmt::format("a {} header sent to a DEALER", internal::to_string(header->kind)));
  }
}

// ---------------------------------------------------------------------------------------
// shared-memory lanes (shm_lane.hpp)

// Offers the peer, which shares our host, a lane; its answer (on_reply) opens it. The file
// is made once per link and kept while the offer cannot go out yet (no connection).
void Endpoint::Impl::offer_lane(Link& link) {
  if (!link.shm_lane && sending_lanes >= lanes_each_way) {
    link.lane_state = Link::LaneState::refused;
    return;
  }
  if (!link.shm_lane) {
    auto created = internal::ShmLane::create(config.shm_dir,
                                             static_cast<std::size_t>(config.shm_lane_bytes));
    if (!created) {
      link.lane_state = Link::LaneState::refused;
      if (!std::exchange(lane_warned, true)) {
        log.warn("ZM-LANE-FALLBACK {}; messages to procs on this host go through ZeroMQ's "
                 "sockets instead. Free space there, point ZMESH_SHM_DIR at another tmpfs, "
                 "or set ZMESH_SHM_LANE_BYTES=0 to not try. Logged once.",
                 created.error().message);
      }
      return;
    }
    link.shm_lane = std::move(*created);
    ++sending_lanes;
  }
  const std::string offer = internal::encode_lane_offer(
      session, internal::encode_lane_descriptor(link.shm_lane->descriptor()));
  try {
    zmq::message_t message(offer.data(), offer.size());
    link.recheck = any_recheck = true;
    if (!link.dealer->send(message, zmq::send_flags::dontwait)) return;  // again next pump
  } catch (const zmq::error_t&) {
    return;
  }
  link.lane_state = Link::LaneState::offered;
}

// Stops sending on `link`'s lane; with `resend`, what it holds unacked goes out again.
void Endpoint::Impl::drop_lane(Link& link, bool resend) {
  if (link.lane_state == Link::LaneState::open) poll_dirty = true;
  if (link.shm_lane) --sending_lanes;
  link.shm_lane.reset();
  link.lane_blocked = false;
  link.last_on_lane = {};
  link.lane_read_at_resend = 0;
  link.lane_state = Link::LaneState::none;
  if (resend) {
    for (auto& lane : link.lanes) lane.rewind();
  }
}

// A sender offers its lane: read its messages from there from now on, or say why not.
void Endpoint::Impl::accept_lane(ReceiveSession& state, const LinkHeader& header) {
  const auto answer = [&](bool accepted, std::string_view reason) {
    (void)reply(state, internal::encode_lane_answer(state.id(), accepted, reason), true);
  };
  if (config.shm_lane_bytes == 0) return answer(false, "ZMESH_SHM_LANE_BYTES=0 here");
  if (!receive_lanes.contains(state.id()) && receive_lanes.size() >= lanes_each_way) {
    return answer(false, fmt::format("it reads {} lanes already, its share of RLIMIT_NOFILE",
                                     receive_lanes.size()));
  }
  auto descriptor = internal::parse_lane_descriptor(header.lane_descriptor);
  if (!descriptor) {
    garbage(state.sender_text(), descriptor.error().message);
    return answer(false, descriptor.error().message);
  }
  if (descriptor->ring_bytes > max_lane_ring_bytes) {
    return answer(false, fmt::format("rings of {} bytes, more than the {} a receiver maps",
                                     descriptor->ring_bytes, max_lane_ring_bytes));
  }
  auto opened = internal::ShmLane::open(*descriptor);
  if (!opened) {
    log.debug("proc={} offered a lane we cannot open: {}", state.sender_text(),
              opened.error().message);
    return answer(false, opened.error().message);
  }
  receive_lanes[state.id()] = std::move(*opened);
  poll_dirty = true;
  answer(true, {});
}

// Whether `polled` is still the lane it was at the last rebuild_poll_items(): lanes are
// dropped, closed and replaced between rebuilds, and serving goes on meanwhile.
bool Endpoint::Impl::still_polled(const PolledLane& polled) const {
  if (polled.link != nullptr) {
    return polled.link->lane_state == Link::LaneState::open &&
           polled.link->shm_lane.get() == polled.lane;
  }
  const auto found = receive_lanes.find(polled.session);
  return found != receive_lanes.end() && found->second.get() == polled.lane;
}

bool Endpoint::Impl::prepare_lanes_to_sleep() {
  bool sleep = true;
  lanes_asleep = true;
  for (auto& polled : polled_lanes) {
    polled.ready = !polled.lane->prepare_to_sleep();
    sleep = sleep && !polled.ready;
  }
  return sleep;
}

// The lanes with records for us, or room: after a round that prepared to sleep, those found
// with records then and those whose doorbell rang (a writer rings only while we sleep); after
// a busy round, every lane (an empty ring costs a load). Input that came while we were awake
// and rang nothing is found by the next prepare, before any sleep.
void Endpoint::Impl::serve_lanes(const std::vector<pollfd>& fds, bool prepared) {
  if (std::exchange(lanes_asleep, false)) {
    for (auto& polled : polled_lanes) {
      if (still_polled(polled)) polled.lane->awake();
    }
  }
  for (auto& polled : polled_lanes) polled.ready = polled.ready || !prepared;
  if ((fds[lane_bell_item].revents & POLLIN) != 0) {
    for (const int bell : lane_bells->rung(polled_lanes.size())) {
      const auto found = polled_lane_by_bell.find(bell);
      if (found == polled_lane_by_bell.end()) continue;  // a lane closed since the poll
      PolledLane& polled = polled_lanes[found->second];
      if (!still_polled(polled)) continue;
      polled.lane->woke();
      polled.ready = true;
    }
  }
  for (std::size_t i = 0; i < polled_lanes.size(); ++i) {
    if (!std::exchange(polled_lanes[i].ready, false) || !still_polled(polled_lanes[i])) continue;
    const PolledLane polled = polled_lanes[i];
    if (polled.link == nullptr) {
      read_lane(*polled.lane, polled.session);
      continue;
    }
    Link& link = *polled.link;
    bool read_any = false;
    for (int n = 0; n < max_receive_batch; ++n) {
      auto got = polled.lane->peek(lane_parts);
      if (!got || !*got) {
        if (!got) {
          garbage(link.peer_text, got.error().message);
          drop_lane(link, true);
          link.lane_state = Link::LaneState::refused;
        }
        break;
      }
      if (lane_parts.size() == 1) {
        on_reply(link, lane_parts[0]);
        if (link.shm_lane.get() != polled.lane) break;  // a lane answer closed it
      } else {
        garbage(link.peer_text, fmt::format("a reply of {} frames; acks have one",
                                            lane_parts.size()));
      }
      polled.lane->pop();
      read_any = true;
      if (n + 1 == max_receive_batch) any_recheck = true;
    }
    // Acks let more go; room (a full ring's reader rings when it reads): try again, and a
    // ring still full blocks the link again.
    if (read_any || link.lane_blocked) {
      link.lane_blocked = false;
      pump(link);
    }
  }
}

// The messages a sender wrote into its lane to us since the last look, as if they came
// through the ROUTER.
void Endpoint::Impl::read_lane(internal::ShmLane& lane, std::uint64_t session_id) {
  const auto close = [&](std::string_view reason) {
    ReceiveSession* state = sessions.find(session_id);
    if (state != nullptr) {
      garbage(state->sender_text(), reason);
      (void)reply(*state, internal::encode_lane_answer(session_id, false, reason), true);
    }
    receive_lanes.erase(session_id);
    poll_dirty = true;
  };
  for (int n = 0; n < max_receive_batch; ++n) {
    auto got = lane.peek(lane_parts);
    if (!got) return close(got.error().message);
    if (!*got) break;
    ReceiveSession* state = sessions.find(session_id);
    if (state == nullptr) return close("its session is gone");
    if (lane_parts.size() + 1 > parts.size()) {
      return close(fmt::format("a message of {} frames, more than max_frames={}",
                               lane_parts.size(), config.max_frames));
    }
    // One copy out of the ring (the writer reuses those bytes once we pop), into one buffer
    // that the message's frames share.
    std::size_t total = 0;
    for (const auto part : lane_parts) total += part.size();
    auto record = std::make_shared_for_overwrite<char[]>(std::max<std::size_t>(total, 1));
    lane_copies.clear();
    std::size_t offset = 0;
    for (const auto part : lane_parts) {
      std::memcpy(record.get() + offset, part.data(), part.size());
      lane_copies.emplace_back(record.get() + offset, part.size());
      offset += part.size();
    }
    lane.pop();
    internal::bump(stats.lane_received);
    on_data(Arrived{state->routing_id, lane_copies, std::move(record)}, session_id);
    if (n + 1 == max_receive_batch) any_recheck = true;
  }
  flush_acks();
}

// Applies an ack (or nack) of `link`'s messages through `through` on `lane`; false (and
// counted as garbage) when it acks more than was sent.
bool Endpoint::Impl::apply_ack(Link& link, Lane which, bool nack, std::uint64_t through) {
  internal::SendWindow& lane = link.lane(which);
  const auto acked = lane.on_ack(through, nack, now);
  if (!acked.valid) {
    garbage(link.peer_text, fmt::format("an ack through {}, but only {} were sent", through,
                                        lane.next_seq() - 1));
    return false;
  }
  stats.finished.fetch_add(acked.released, std::memory_order_relaxed);
  release(link, acked.counted_messages, acked.counted_bytes);
  return true;
}

// ---------------------------------------------------------------------------------------
// timers

void Endpoint::Impl::run_timers() {
  for (auto& [proc, link_pointer] : links) {
    Link& link = *link_pointer;
    if (now >= link.earliest_deadline()) expire(link);
    if (!link.dealer || link.blocked) continue;
    for (auto& lane : link.lanes) {
      if (lane.resend_armed() && now >= lane.resend_due()) {
        // No ack in time. When the lane's reader has not read on since the last time and
        // has records of ours unread, it is gone (a peer restarted at the same address reads
        // only its socket): everything unacked on both windows goes again over the socket at
        // once, not one probe per backed-off timeout, and the lane is offered again later,
        // to whoever reads there then. A reader that reads on is only slow.
        if (link.lane_state == Link::LaneState::open) {
          const std::uint64_t read = link.shm_lane->peer_read();
          if (link.shm_lane->unread() && read == link.lane_read_at_resend) {
            drop_lane(link, true);
            for (auto& rewound : link.lanes) rewound.reset_backoff();
            const auto wait = std::min<Clock::duration>(
                std::max<Clock::duration>(std::chrono::seconds(1), 4 * config.resend_interval) *
                    (Clock::rep{1} << std::min<std::uint32_t>(link.lane_drops, 6)),
                std::chrono::minutes(1));
            link.lane_offer_after = now + wait;
            ++link.lane_drops;
            pump(link);
            break;  // both windows were rewound
          } else {
            link.lane_read_at_resend = read;
          }
        }
        lane.resend_now();
        pump(link);
      }
    }
  }
  if (!held_sessions.empty() && now >= next_held_retry) retry_held_now();
  if (now >= next_sweep) sweep();
  if (now >= next_shm_expiry) {
    shm_pool.expire(now);
    shm_cache.expire(now);
    next_shm_expiry = shm_pool.empty() && shm_cache.empty() ? Clock::time_point::max()
                                                             : now + internal::shm_idle_limit / 2;
  }
}

void Endpoint::Impl::expire(Link& link) {
  for (auto& lane : link.lanes) {
    for (auto& message : lane.expire(now)) {
      const Error error = deadline_error(link, message);
      give_back(link, std::move(message), error);
    }
  }
  pump(link);
}

Clock::duration Endpoint::Impl::sweep_interval() const {
  return std::clamp<Clock::duration>(config.delivery_timeout / 2, min_sweep_interval,
                                     max_sweep_interval);
}

void Endpoint::Impl::sweep() {
  next_sweep = now + sweep_interval();
  settle_credits();  // released_links may point at links dropped below
  sessions.expire_idle(now);
  stats.sessions.store(sessions.size(), std::memory_order_relaxed);
  if (std::erase_if(receive_lanes, [&](const auto& entry) {
        return sessions.find(entry.first) == nullptr;
      }) != 0) {
    poll_dirty = true;
  }
  bool dropped = false;
  for (auto it = links.begin(); it != links.end();) {
    const Link& link = *it->second;
    // Never routed nor dialed: the peer never saw its seqs, so a later link to it can start
    // afresh.
    // Idle for a delivery timeout: whatever waited for a route has expired meanwhile.
    if (!link.ever_dialed && link.address.empty() && link.gone_reason.empty() && link.idle() &&
        now - link.last_used > config.delivery_timeout) {
      if (last_link == it->second.get()) last_link = nullptr;
      it = links.erase(it);
      dropped = true;
    } else {
      ++it;
    }
  }
  if (dropped) poll_dirty = true;
  stats.links.store(links.size(), std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------
// receiving

void Endpoint::Impl::receive_data() {
  int n = 0;
  for (; n < max_receive_batch; ++n) {
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
                                         "the routing id)",
                                         total, parts.size(), config.max_frames));
      continue;
    }
    received_views.clear();
    for (std::size_t i = 1; i < count; ++i) received_views.push_back(parts[i].to_string_view());
    on_data(Arrived{parts[0].to_string_view(), received_views, nullptr});
  }
  // Input left after a full batch raises no new wake-up: look again next round.
  if (n == max_receive_batch) router_recheck = any_recheck = true;
  flush_acks();
  stats.sessions.store(sessions.size(), std::memory_order_relaxed);
}

void Endpoint::Impl::on_data(const Arrived& arrived, std::uint64_t lane_session) {
  const std::string_view routing_id = arrived.routing_id;
  const std::size_t count = arrived.frames.size() + 1;
  if (count < 2) {
    garbage(hex(routing_id), "an empty message (no link header)");
    return;
  }
  auto header = internal::parse_link_header(arrived.frames[0]);
  if (!header) {
    garbage(hex(routing_id), header.error().message);
    return;
  }
  if (lane_session != 0 && header->session != lane_session) {
    garbage(hex(routing_id), fmt::format("a message of session {:016x} in the lane of {:016x}",
                                         header->session, lane_session));
    return;
  }
  if (header->kind == LinkKind::lane_offer && lane_session == 0 && count == 2) {
    ReceiveSession* state = sessions.find(header->session);
    if (state == nullptr) {
      garbage(hex(routing_id), fmt::format("a lane offer of session {:016x}, which sent nothing",
                                           header->session));
      return;
    }
    if (state->routing_id != routing_id) state->routing_id.assign(routing_id);
    accept_lane(*state, *header);
    return;
  }
  if (header->kind != LinkKind::data && header->kind != LinkKind::skip) {
    garbage(hex(routing_id),
            fmt::format("a {} header sent to a ROUTER", internal::to_string(header->kind)));
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
  const auto found = sessions.find_or_create(*header, now);
  if (found.retired) {
    internal::bump(stats.duplicates_dropped);  // from a previous incarnation of a restarted sender
    return;
  }
  if (found.session == nullptr) {
    garbage(hex(routing_id),
            fmt::format("session {:016x} belongs to {}, but the message claims another sender",
                        header->session, found.claimed_by->sender_text()));
    return;
  }
  ReceiveSession& state = *found.session;
  if (state.routing_id != routing_id) state.routing_id.assign(routing_id);
  state.replies_by_lane = lane_session != 0;
  // A sender with a large frame for us asks which host we are on (link_header.hpp).
  if (header->has_shm && header->shm_frames == 0) {
    (void)reply(state, internal::encode_hello(header->session, host_key));
  }
  // An ack of a previous incarnation of ours has nothing left to ack: ignored.
  if (header->has_ack && header->ack_session == session) {
    if (auto it = links.find(state.sender()); it != links.end()) {
      Link& link = *it->second;
      if (apply_ack(link, static_cast<Lane>(header->lane), false, header->ack_through)) {
        internal::bump(stats.acks_received);
        pump(link);  // the window may have room again
      }
    }
  }
  const auto lane = static_cast<Lane>(header->lane);
  switch (state.arrive(lane, header->seq, header->floor)) {
    case internal::Arrival::duplicate:
      internal::bump(stats.duplicates_dropped);
      mark_dirty(state);
      return;
    case internal::Arrival::reject_again:
      internal::bump(stats.duplicates_dropped);
      send_reject(state, lane, header->seq, state.rejected_reason(lane));
      return;
    case internal::Arrival::held:
      internal::bump(stats.duplicates_dropped);
      return;
    case internal::Arrival::gap:
      internal::bump(stats.gaps_dropped);
      mark_dirty(state);
      return;
    case internal::Arrival::deliver:
      break;
  }
  bool ack_due = false;
  if (header->kind == LinkKind::skip) {
    ack_due = state.consumed(lane, config.ack_every);
  } else {
    Frames payload;
    payload.reserve(count - 2);
    for (std::size_t i = 2; i < count; ++i) {
      const std::string_view bytes = arrived.frames[i - 1];
      if (bytes.empty()) {
        payload.emplace_back();
      } else if (arrived.record) {
        payload.push_back(Frame::wrap(arrived.record, bytes.data(), bytes.size()));
      } else {
        // The received buffer becomes the Frame: no copy.
        auto owner = std::make_shared<zmq::message_t>(std::move(parts[i]));
        const void* data = owner->data();
        const std::size_t size = owner->size();
        payload.push_back(Frame::wrap(std::move(owner), data, size));
      }
    }
    // Mapped and leased here, before anything is acked: once the sender sees the ack it may
    // close its fd or write the file again, and "acked" must imply "leased".
    auto envelope = [&]() -> Result<Envelope> {
      if (header->shm_frames != 0) {
        if (auto mapped = map_shared_frames(*header, payload); !mapped) {
          return std::move(mapped).error();
        }
      }
      return decode_envelope(
          Frame::wrap(nullptr, header->envelope_header.data(), header->envelope_header.size()),
          std::move(payload));
    }();
    if (!envelope && envelope.error().code == ErrorCode::transport_failed) {
      // A region this proc cannot map now (out of descriptors or memory, not allowed): the
      // message is fine, so it is not consumed. Our hello tells the sender that we share no
      // host after all, and the nack has it resend at once, as bytes.
      internal::bump(stats.shm_unmappable);
      if (!shm_unmappable_warned) {
        shm_unmappable_warned = true;
        log.warn("ZM-SHM-UNMAPPABLE a shared-memory region from {} could not be mapped ({}); "
                 "that link now carries bytes over the socket",
                 state.sender_text(), envelope.error().message);
      }
      (void)reply(state, internal::encode_hello(header->session, {}));
      state.ask_again(lane);
      mark_dirty(state);
      return;
    }
    if (!envelope) {
      garbage(hex(routing_id), fmt::format("message {} from {}: {}", header->seq, state.sender_text(),
                                         envelope.error().message));
      ack_due = state.rejected(lane, header->seq, envelope.error().message, config.ack_every);
      send_reject(state, lane, header->seq, state.rejected_reason(lane));
    } else if (offer(*envelope)) {
      // The callback can only post (send() from this thread queues locally), so `state`
      // stays valid across it.
      ack_due = state.consumed(lane, config.ack_every);
    } else {
      // No room in the proc: keep it, and nothing after it, until retry_held().
      const bool was_holding = state.holding();
      state.hold(lane, std::move(*envelope));
      if (held_sessions.empty()) next_held_retry = now + config.resend_interval;
      if (!was_holding) held_sessions.push_back(state.id());
      mark_dirty(state);  // acks what came before
      return;
    }
  }
  if (ack_due) {
    send_ack(state, lane, state.ack_now(lane));
  } else {
    mark_dirty(state);
  }
}

// Replaces the payload frames that `header` flags as shared-memory descriptors with the
// regions they name, mapped read-only. Fails, naming the frame and what is wrong, with
// decode_error on a descriptor that does not name a zmesh region of its size and token,
// with transport_failed on one this proc cannot map now (ShmFile::open).
Result<void> Endpoint::Impl::map_shared_frames(const LinkHeader& header, Frames& payload) {
  for (std::size_t i = 0; i < 64; ++i) {
    if ((header.shm_frames >> i & 1) == 0) continue;
    if (i >= payload.size()) {
      return Error(ErrorCode::decode_error,
                   fmt::format("shared-memory frame mask 0x{:x} names payload frame {}, but "
                               "there are {}",
                               header.shm_frames, i, payload.size()));
    }
    auto descriptor = internal::parse_shm_descriptor(payload[i].view());
    if (!descriptor) {
      return Error(ErrorCode::decode_error,
                   fmt::format("payload frame {}: {}", i, descriptor.error().message));
    }
    // The wire size of a descriptor says nothing of the region's: the limit applies here.
    if (config.max_message_bytes >= 0 &&
        descriptor->size > static_cast<std::uint64_t>(config.max_message_bytes)) {
      return Error(ErrorCode::decode_error,
                   fmt::format("payload frame {}: a shared-memory region of {} bytes, more than "
                               "max_message_bytes={} (ZMESH_MAX_MESSAGE_BYTES)",
                               i, descriptor->size, config.max_message_bytes));
    }
    auto region = shm_cache.open(*descriptor, now);
    next_shm_expiry = std::min(next_shm_expiry, now + internal::shm_idle_limit);
    if (!region) {
      return Error(region.error().code,
                   fmt::format("payload frame {}: {}", i, region.error().message));
    }
    payload[i] = internal::region_frame(std::move(*region));
    internal::bump(stats.shm_received);
  }
  return {};
}

bool Endpoint::Impl::offer(Envelope& envelope) {
  bool taken = true;
  try {
    taken = inbound.deliver(envelope);
  } catch (const std::exception& e) {
    // Counted as delivered: it reached the proc, which failed on it; resending would fail
    // the same way.
    if (error_limiter.allow()) log.error("ZM-CALLBACK-THREW Inbound::deliver threw: {}", e.what());
  }
  if (taken) internal::bump(stats.delivered);
  return taken;
}

void Endpoint::Impl::retry_held_now() {
  next_held_retry = now + config.resend_interval;
  std::erase_if(held_sessions, [&](std::uint64_t id) {
    ReceiveSession* state = sessions.find(id);
    if (state == nullptr) return true;  // expired or pushed out: the sender resends
    for (const Lane lane : lanes_in_send_order) {
      Envelope* held = state->held(lane);
      if (held == nullptr || !offer(*held)) continue;
      state->release(lane);
      mark_dirty(*state);
    }
    return !state->holding();
  });
  flush_acks();
}

void Endpoint::Impl::mark_dirty(ReceiveSession& state) {
  if (state.dirty) return;
  state.dirty = true;
  dirty_sessions.push_back(state.id());
}

void Endpoint::Impl::flush_acks() {
  for (const std::uint64_t id : dirty_sessions) {
    ReceiveSession* state = sessions.find(id);
    if (state == nullptr) continue;
    state->dirty = false;
    if (auto due = state->take_ack(Lane::control)) send_ack(*state, Lane::control, *due);
    // Data: a nack or re-ack goes now; a plain ack waits for a message to ride on (the
    // reply to what it acks, usually), at most ack_delay.
    if (auto due = state->take_urgent_ack(Lane::data)) {
      send_ack(*state, Lane::data, *due);
    } else if (state->ack_pending(Lane::data) && !state->deferred) {
      if (ack_delay == Clock::duration::zero()) {
        send_ack(*state, Lane::data, state->ack_now(Lane::data));
      } else {
        state->deferred = true;
        deferred_acks.emplace_back(id, now + ack_delay);
      }
    }
  }
  dirty_sessions.clear();
}

// Forgets the oldest deferred acks that messages have carried meanwhile, so that the loop
// does not wake when their wait would have ended only to find nothing to send: with one
// request in flight the reply carries every ack, and those wake-ups were most of the I/O
// thread's timer wake-ups.
void Endpoint::Impl::drop_carried_acks() {
  while (!deferred_acks.empty()) {
    ReceiveSession* state = sessions.find(deferred_acks.front().first);
    if (state != nullptr && state->ack_pending(Lane::data)) return;
    if (state != nullptr) state->deferred = false;
    deferred_acks.pop_front();
  }
}

// Sends the deferred acks whose wait is over (all of them when `all`), unless a message
// took them along meanwhile.
void Endpoint::Impl::flush_deferred_acks(bool all) {
  while (!deferred_acks.empty() && (all || deferred_acks.front().second <= now)) {
    ReceiveSession* state = sessions.find(deferred_acks.front().first);
    deferred_acks.pop_front();
    if (state == nullptr) continue;
    state->deferred = false;
    if (state->ack_pending(Lane::data)) send_ack(*state, Lane::data, state->ack_now(Lane::data));
  }
}

// The session whose ack a data message to `link`'s peer can carry, or nullptr when nothing
// is owed to that peer.
internal::ReceiveSession* Endpoint::Impl::ack_to_carry(const Link& link) {
  ReceiveSession* state = sessions.find_by_sender(link.peer_bytes);
  return state != nullptr && state->ack_pending(Lane::data) ? state : nullptr;
}

void Endpoint::Impl::send_ack(ReceiveSession& state, Lane lane, ReceiveSession::AckDue due) {
  // Full or gone (EHOSTUNREACH with router_mandatory): a later ack, or the answer to the
  // sender's resend, covers this one.
  if (reply(state, internal::encode_ack(due.kind, state.id(), due.through,
                                        static_cast<std::uint8_t>(lane)))) {
    internal::bump(stats.acks_sent);
  }
}

void Endpoint::Impl::send_reject(ReceiveSession& state, Lane lane, std::uint64_t seq,
                                 std::string_view reason) {
  // If it is lost, the sender's resend of `seq` is refused again (reject_again).
  (void)reply(state,
              internal::encode_reject(state.id(), seq, reason, static_cast<std::uint8_t>(lane)));
}

bool Endpoint::Impl::reply(const ReceiveSession& state, const std::string& header,
                           bool socket_only) {
  if (!socket_only && state.replies_by_lane && !receive_lanes.empty()) {
    if (auto it = receive_lanes.find(state.id()); it != receive_lanes.end()) {
      const std::string_view part(header);
      // Full: as a ROUTER refusing, a later ack (or the answer to a resend) covers it.
      return it->second->write(std::span(&part, 1)) == internal::ShmLane::Write::written;
    }
  }
  router_recheck = any_recheck = true;  // a send may take the ROUTER's wake-up
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
  internal::bump(stats.garbage_dropped);
  if (!garbage_limiter.allow()) return;
  log.warn(
      "ZM-GARBAGE peer={} at {} (lines suppressed so far: {}): dropped a malformed "
      "message: {}",
      peer, bound_address, garbage_limiter.suppressed(), reason);
}

}  // namespace zmesh
