#pragma once
// Endpoint::Impl: the state behind the Endpoint facade. endpoint.cpp holds the calling
// threads' side (hand-off to the I/O thread, flow-control credits, close); io_loop.cpp holds
// the I/O thread's side (sockets, links, receive sessions, timers). The reliability protocol
// itself lives in send_window.hpp and receive_session.hpp.
// Thread: fields are grouped by owner below. The hand-off block is guarded by its mutex;
// everything under "owned by the I/O thread" is touched only under io_mutex: by the I/O
// thread, or by a sender doing its work while it waits in poll (try_send_directly). Lock
// order: io_mutex before handoff.mutex.
// Failure: nothing here throws across a thread: ZeroMQ errors become undeliverables or
// rate-limited warnings, and the loop goes on.

#include "zmesh/core/log.hpp"
#include "zmesh/transport/address.hpp"
#include "zmesh/transport/endpoint.hpp"
#include "zmesh/transport/internal/handshake_watch.hpp"
#include "zmesh/transport/internal/lane_bells.hpp"
#include "zmesh/transport/internal/link_header.hpp"
#include "zmesh/transport/internal/receive_session.hpp"
#include "zmesh/transport/internal/send_window.hpp"
#include "zmesh/transport/internal/shm_lane.hpp"
#include "zmesh/transport/internal/shm_pool.hpp"

#include <poll.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>
#include <zmq.hpp>

namespace zmesh {
namespace internal {

// The sending side of this proc -> one peer proc: one DEALER, a SendWindow per lane.
struct Link {
  Link(ProcId peer_in, std::uint32_t data_unacked, std::uint32_t control_unacked,
       Clock::duration resend_interval)
      : peer(std::move(peer_in)),
        peer_text(peer.to_string()),
        peer_bytes(encode_sender(peer)),
        lanes{SendWindow(data_unacked, resend_interval),
              SendWindow(control_unacked, resend_interval)} {}

  SendWindow& lane(Lane which) { return lanes[static_cast<std::size_t>(which)]; }
  bool idle() const { return lanes[0].idle() && lanes[1].idle(); }
  Deadline earliest_deadline() const {
    return std::min(lanes[0].earliest_deadline(), lanes[1].earliest_deadline());
  }

  ProcId peer;
  std::string peer_text;
  std::string peer_bytes;    // as data headers name it: finds its receive session, for acks
  std::string address;       // empty until add_route()
  bool inproc = false;       // the address is inproc://: frames are shared, not copied
  bool ever_dialed = false;  // the peer may have seen our seqs: the link must be kept
  std::string dial_error;    // why the last dial failed, for the undeliverable reason
  std::string gone_reason;   // set by forget(): sends fail at once until a new route comes
  std::int64_t peer_max_message_bytes = 0;  // 0: unknown
  // Whether the peer shares our host (its hello's host key equals ours): large frames then
  // go as shared-memory regions. Unknown until it answers a hello request; reset by a new
  // address, which may be another host.
  enum class Host : std::uint8_t { unknown, same, other } peer_host = Host::unknown;
  std::optional<zmq::socket_t> dealer;
  // The shared-memory lane to a same-host peer (shm_lane.hpp): offered once its hello says
  // "same host", used for every message once it accepted (the DEALER then carries only what
  // does not fit a ring record). Dropped with the DEALER (a new address may be another
  // host) or when the peer closes it; what it held unacked is resent over the socket.
  enum class LaneState : std::uint8_t { none, offered, open, refused } lane_state = LaneState::none;
  std::unique_ptr<ShmLane> shm_lane;
  bool lane_blocked = false;  // its ring was full: the peer rings our doorbell when it reads
  // Per lane (data, control): whether its last transmission went through the shm lane. The
  // receiver reads the socket and the shm lane in its own order, so a message takes the
  // other path only when nothing before it is unacked (else it would arrive as a gap, be
  // dropped and resent); until then the link waits for acks, a resend or a deadline, each
  // of which pumps again.
  std::array<bool, 2> last_on_lane{};
  bool path_wait = false;  // the last pump stopped there (transmit() to pump(), one call)
  // How far the lane's reader had read when a resend last came due: a reader that has not
  // moved since, with records unread, is taken for gone (a peer restarted at the address).
  std::uint64_t lane_read_at_resend = 0;
  // After such a drop the lane is offered again no sooner than this, the wait doubling with
  // each drop (lane_drops): a reader that is only starved of CPU, not gone, would otherwise
  // cost a new lane (a file, its pages, an open through /proc) per resend timeout.
  Clock::time_point lane_offer_after{};
  std::uint32_t lane_drops = 0;
  bool blocked = false;             // ZeroMQ refused (no connection, or full): wait for POLLOUT
  // An operation on the DEALER may have consumed the wake-up of its descriptor (ZeroMQ
  // processes commands inside send and recv), or input is left unread: ask ZeroMQ for the
  // socket's events before the loop waits.
  bool recheck = true;
  std::array<SendWindow, 2> lanes;  // indexed by Lane: data, control
  Clock::time_point last_used{};
  // Window credit to give back to the senders at the end of this I/O round.
  std::uint64_t release_messages = 0;
  std::uint64_t release_bytes = 0;
  bool release_listed = false;
};

// A message handed over by send(), on its way to the I/O thread.
struct Posted {
  ProcId to;
  Lane lane = Lane::data;
  Outgoing message;
};

// A link's data window as the sending threads see it (guarded by the hand-off mutex).
struct Credit {
  std::uint64_t messages = 0;  // counted messages accepted and not yet acked or returned
  std::uint64_t bytes = 0;
  std::int64_t peer_max_message_bytes = 0;  // 0: unknown
  std::uint32_t waiters = 0;                // send_bounded calls waiting for room
  bool pressed = false;  // someone found it full: Inbound::link_room once it is half empty
};

// Counters written by the I/O thread (relaxed, no read-modify-write needed) and read by
// stats() from any thread.
struct AtomicStats {
  std::atomic<std::uint64_t> sent{0}, resent{0}, delivered{0}, duplicates_dropped{0},
      gaps_dropped{0}, garbage_dropped{0}, acks_sent{0}, acks_carried{0}, acks_received{0},
      sessions{0}, links{0}, io_rounds{0}, sent_directly{0}, handshakes_refused{0}, shm_sent{0},
      shm_regions{0}, shm_files{0}, shm_fallbacks{0}, shm_received{0}, shm_unmappable{0},
      standby_takeovers{0}, timer_wakeups{0}, lane_sent{0}, lane_received{0}, lanes_sending{0},
      lanes_receiving{0};
  // 1 while the I/O thread is in a poll that may wait, 0 otherwise (a gauge).
  std::atomic<std::uint64_t> sleeping{0};
  // Written from any thread (send() after close), so incremented atomically.
  std::atomic<std::uint64_t> undeliverable{0}, accepted{0}, finished{0};
};

inline void bump(std::atomic<std::uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace internal

struct Endpoint::Impl {
  Impl(zmq::context_t& context_in, ProcId self_in, Inbound inbound_in, const Config& config_in);
  ~Impl();

  // -- calling threads (endpoint.cpp) --
  Result<void> open(const Address& address);
  internal::Posted prepare(Envelope&& envelope);
  void post(Envelope&& envelope);
  Result<void> post_bounded(Envelope&& envelope, Deadline room_deadline);
  bool has_room(const ProcId& proc, std::size_t bytes);
  void request_retry();
  Result<void> route(const ProcId& proc, std::string_view address,
                     std::int64_t peer_max_message_bytes);
  void forget(const ProcId& proc, std::string reason);
  bool try_send_directly(internal::Posted& posted);
  void close();
  Stats snapshot() const;
  void wake();
  Error too_large(const ProcId& to, std::uint64_t bytes, std::int64_t peer_limit) const;
  bool on_io_thread() const;

  // -- the I/O thread (io_loop.cpp) --
  void run();
  // One round: `fds` is poll_fds, or the standby thread's copy of it.
  void iterate(std::unique_lock<std::mutex>& io, std::vector<pollfd>& fds);
  bool deferring() const;
  void run_deferred(std::unique_lock<std::mutex>& io);
  // -- the standby thread (io_loop.cpp) --
  void stand_by();
  void serve_while_deferred(std::unique_lock<std::mutex>& io);
  void arm_standby(Clock::duration after);  // zero disarms
  void serve_link(internal::Link& link);
  void run_deferred_callbacks();
  void call_undeliverable(Envelope&& envelope, Error error);  // now, or on the I/O thread
  void call_link_room();                                       // now, or on the I/O thread
  void rebuild_poll_items();
  int events_of(void* socket);
  int descriptor_of(void* socket);
  void context_gone();
  void report_refused_handshakes();
  int poll_timeout_ms();
  void take_handoff();
  void process_local_posts();
  void enqueue(internal::Posted&& posted);
  internal::Link& link_for(const ProcId& proc);
  void apply_route(const ProcId& proc, const Address& address, std::int64_t peer_max);
  void apply_forget(const ProcId& proc, const std::string& reason);
  void dial(internal::Link& link);
  void set_blocked(internal::Link& link, bool blocked);
  void pump(internal::Link& link);
  bool transmit(internal::Link& link, Lane lane, internal::Outgoing& message);
  bool send_on_dealer(internal::Link& link, internal::SendWindow& lane,
                      internal::Outgoing& message);
  std::uint64_t share_large_frames(internal::Link& link, internal::Outgoing& message,
                                   bool& ask_host);
  std::shared_ptr<const internal::ShmRegion> region_for(const Frame& frame);
  Result<void> map_shared_frames(const internal::LinkHeader& header, Frames& payload);
  void receive_acks(internal::Link& link);
  void on_reply(internal::Link& link, std::string_view bytes);
  void offer_lane(internal::Link& link);
  void drop_lane(internal::Link& link, bool resend);
  void accept_lane(internal::ReceiveSession& session, const internal::LinkHeader& header);
  // `prepared`: this round's prepare_lanes_to_sleep() found which lanes hold records;
  // otherwise every lane is looked at.
  void serve_lanes(const std::vector<pollfd>& fds, bool prepared);
  void read_lane(internal::ShmLane& lane, std::uint64_t session);
  bool prepare_lanes_to_sleep();
  bool apply_ack(internal::Link& link, Lane lane, bool nack, std::uint64_t through);
  void run_timers();
  void expire(internal::Link& link);
  void sweep();
  Clock::duration sweep_interval() const;
  void give_back(internal::Link& link, internal::Outgoing&& message, Error error);
  void release(internal::Link& link, std::uint64_t messages, std::uint64_t bytes);
  void settle_credits();
  Error deadline_error(const internal::Link& link, const internal::Outgoing& message) const;
  void receive_data();
  // One message as it arrived: from the ROUTER (`frames` views `parts`, whose payload
  // frames on_data() moves into the message, no copy) or from a lane (`frames` views
  // `record`, one copy of the ring record, which the payload frames share).
  struct Arrived {
    std::string_view routing_id;
    std::span<const std::string_view> frames;  // the link header, then the payload
    std::shared_ptr<const char[]> record;
  };
  // `lane_session`: the message came through the lane of that sending session (0: the ROUTER).
  void on_data(const Arrived& arrived, std::uint64_t lane_session = 0);
  bool offer(Envelope& envelope);
  void retry_held_now();
  void mark_dirty(internal::ReceiveSession& session);
  void flush_acks();
  void flush_deferred_acks(bool all);
  void drop_carried_acks();
  internal::ReceiveSession* ack_to_carry(const internal::Link& link);
  void send_ack(internal::ReceiveSession& session, Lane lane, internal::ReceiveSession::AckDue due);
  void send_reject(internal::ReceiveSession& session, Lane lane, std::uint64_t seq,
                   std::string_view reason);
  // Through the session's lane when its last message came that way, unless `socket_only`.
  bool reply(const internal::ReceiveSession& session, const std::string& header,
             bool socket_only = false);
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
  // Link header up to seq and floor, by lane: for data, and for given-up messages (skip).
  const std::array<std::string, 2> data_prefix;
  const std::array<std::string, 2> skip_prefix;
  const std::string data_ack_prefix;  // data lane, with a piggybacked ack after the floor
  // By lane: data headers with the shared-memory frame mask (link_header.hpp).
  const std::array<std::string, 2> data_shm_prefix;
  const std::string host_key;  // ours, as hellos announce it (internal/host_key.hpp)
  const std::uint64_t shm_threshold;  // Config::shm_threshold; 0: shared memory off
  // Received regions that may keep their fd (to be shared on); shared with the regions,
  // which give their share back from whatever thread drops them.
  const std::shared_ptr<internal::FdBudget> shm_fd_budget;
  // How many lanes this endpoint sends on, and reads, at most (a share of RLIMIT_NOFILE):
  // links beyond stay on the socket. 0 when lanes are off.
  const std::size_t lanes_each_way;
  // How long an ack may wait to ride on a data message (Config::ack_delay, kept well inside
  // the resend interval whatever the configuration).
  const Clock::duration ack_delay;
  const internal::WindowLimits window;
  const std::uint32_t data_unacked;     // per link: min(max_unacked, link_window_messages)
  const std::uint32_t control_unacked;  // per link: max_unacked
  // Per link and lane, uncounted messages (send()) that may wait beyond those in flight:
  // 4 * max(max_unacked, link_window_messages). Replies and control traffic stay far
  // below it; it only stops a runaway sender from growing memory without bound.
  const std::uint64_t send_backlog_limit;
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
  struct Route {
    ProcId proc;
    Address address;
    std::int64_t peer_max_message_bytes = 0;
  };
  struct Handoff {
    std::mutex mutex;
    std::vector<internal::Posted> posted;                  // guarded by mutex
    std::vector<Route> routes;                             // guarded by mutex
    std::vector<std::pair<ProcId, std::string>> forgets;   // guarded by mutex
    std::unordered_map<ProcId, internal::Credit> credits;  // guarded by mutex
    std::uint32_t room_waiters = 0;  // guarded: send_bounded calls waiting on `room`
    bool signaled = false;           // guarded: a wake-up is written and not yet consumed
    bool closed = false;             // guarded: close() was called; send() no longer queues
    std::condition_variable room;    // credits were released, or the endpoint closed
  } handoff;
  std::atomic<bool> retry_requested{false};  // retry_held() was called
  // The I/O work is done under io_mutex, by the I/O thread in each round (it lets go only
  // while it waits in poll) or by a sending thread that finds it free and sends its own
  // message at once (try_send_directly): no wake-up, no thread switch. Everything "owned by
  // the I/O thread" below belongs to whoever holds it.
  std::mutex io_mutex;
  // Who holds the I/O role: the I/O thread, or the standby thread while it serves; nobody
  // while the I/O thread runs deferred turns (they are not I/O callbacks).
  std::atomic<std::thread::id> io_thread{};
  bool io_ready = false;  // guarded by io_mutex: the loop has started and not finished
  // Guarded by io_mutex: when the I/O thread's poll returns by itself (a sender that arms
  // an earlier timer wakes it).
  Clock::time_point io_wakes_at = Clock::time_point::max();
  internal::AtomicStats stats;
  std::mutex close_mutex;  // one close() joins the thread; others wait for it
  std::thread thread;
  // Started when the Inbound defers work: serves the sockets while a run of deferred turns
  // overruns (stand_by()). It sleeps in a read of standby_timer, which the I/O thread arms
  // for io_turn_limit_us at the start of each run and disarms at its end: a run that ends in
  // time wakes nobody. The flags are guarded by io_mutex.
  std::thread standby;
  int standby_timer = -1;
  bool deferred_running = false;  // the I/O thread is in Inbound::run_deferred
  std::thread::id loop_thread{};  // the thread of run(), which runs the deferred turns
  bool deferred_waiting = false;  // its last run left work for the next
  Clock::time_point deferred_started{};
  bool standby_serving = false;  // it holds the I/O role until the run returns
  bool standby_exit = false;
  std::vector<pollfd> standby_poll_fds;  // its copy of poll_fds, which its poll writes into

  // -- owned by the I/O thread (under io_mutex) --
  std::optional<zmq::socket_t> router;
  std::optional<internal::HandshakeWatch> handshakes;  // tcp with CURVE only: refused peers
  std::unordered_map<ProcId, std::unique_ptr<internal::Link>> links;
  internal::Link* last_link = nullptr;  // most senders talk to one peer at a time
  // The loop polls plain descriptors: the wake fd and each socket's ZMQ_FD, which becomes
  // readable when ZeroMQ has news for that socket. Only sockets with news or a recheck due
  // are asked for their events (zmq_poll asks every socket, twice when it waits).
  std::vector<pollfd> poll_fds;
  std::size_t first_link_item = 2;  // wake fd, ROUTER, then the handshake watch if any
  std::vector<internal::Link*> polled_links;  // poll_fds[i + first_link_item] is polled_links[i]
  // Then, while there are lanes, one item for all their doorbells (lane_bells). A sending
  // link's lane (acks, room) names the link; a receiving lane names its session.
  struct PolledLane {
    internal::ShmLane* lane = nullptr;
    internal::Link* link = nullptr;
    std::uint64_t session = 0;
    bool ready = false;  // found with records at the last prepare_lanes_to_sleep()
  };
  std::size_t lane_bell_item = 0;  // 0: no lanes polled
  std::vector<PolledLane> polled_lanes;
  bool still_polled(const PolledLane& polled) const;
  std::unordered_map<int, std::size_t> polled_lane_by_bell;  // doorbell fd -> polled_lanes
  std::optional<internal::LaneBells> lane_bells;  // while lanes are on
  // Some lane may still say "asleep" (its writers then ring): set by prepare_lanes_to_sleep(),
  // cleared when serve_lanes() said "awake" on every lane.
  bool lanes_asleep = false;
  // The lanes of senders that we read, by their sending session.
  std::unordered_map<std::uint64_t, std::unique_ptr<internal::ShmLane>> receive_lanes;
  std::vector<std::string_view> lane_parts;  // one record read from a lane
  std::vector<std::string_view> lane_copies;  // its frames, copied out (read_lane)
  std::vector<std::string_view> received_views;  // the frames of `parts` (receive_data)
  std::vector<std::string_view> lane_out;    // one record written to a lane
  bool lane_warned = false;  // ZM-LANE-FALLBACK is logged once per endpoint
  std::size_t sending_lanes = 0;  // links holding a lane of ours (offered or open)
  bool router_recheck = true;      // as Link::recheck, for the ROUTER
  bool handshakes_recheck = false;  // and for the handshake watch (set while there is one)
  bool any_recheck = true;         // some socket has a recheck due: poll without waiting
  bool poll_dirty = true;
  std::vector<internal::Posted> taken;         // swapped with handoff.posted, keeps capacity
  std::vector<internal::Posted> local_posted;  // send() from the Inbound callbacks
  std::vector<internal::Posted> local_taken;
  std::vector<Route> taken_routes;
  std::vector<std::pair<ProcId, std::string>> taken_forgets;
  std::vector<internal::Link*> released_links;  // with credit to give back this round
  std::vector<zmq::message_t> parts;            // one received message
  // One transmission: its first frame (link and envelope headers), its payload frames as
  // they go out (views of the message's frames, or of `descriptors` for shared-memory
  // regions), and those as ZeroMQ messages when it goes through the DEALER.
  std::string head_bytes;
  std::vector<std::string> descriptors;
  std::vector<std::string_view> wire_frames;
  std::vector<zmq::message_t> out_parts;
  zmq::message_t scratch;
  internal::SessionTable sessions;
  // Regions this endpoint wrote, by the bytes they hold: a frame cast to many same-host
  // peers is written once. A live region holds its source frame, so no other buffer can
  // take that address meanwhile; expired entries are pruned as the table grows.
  struct WrittenKey {
    const char* data;
    std::size_t size;
    bool operator==(const WrittenKey&) const = default;
  };
  struct WrittenKeyHash {
    std::size_t operator()(const WrittenKey& key) const noexcept {
      return std::hash<const void*>()(key.data) ^ (key.size * 0x9e3779b97f4a7c15ull);
    }
  };
  std::unordered_map<WrittenKey, std::weak_ptr<const internal::ShmRegion>, WrittenKeyHash>
      shm_written;
  // Files we write large frames into, kept for reuse; files we mapped, kept for the next
  // frame written into them.
  internal::ShmPool shm_pool{config.shm_dir, internal::shm_pool_bytes};
  internal::ShmCache shm_cache{shm_fd_budget, internal::shm_cache_files};
  Clock::time_point next_shm_expiry = Clock::time_point::max();  // when the two let go
  std::size_t shm_written_prune_at = 64;
  bool shm_warned = false;  // ZM-SHM-FALLBACK is logged once per endpoint
  bool shm_unmappable_warned = false;  // ZM-SHM-UNMAPPABLE likewise
  std::vector<std::uint64_t> dirty_sessions;
  // Sessions whose data-lane ack waits to ride on a message to their sender, oldest first,
  // with the time it goes alone.
  std::deque<std::pair<std::uint64_t, Clock::time_point>> deferred_acks;
  std::vector<std::uint64_t> held_sessions;  // sessions holding a refused message
  Clock::time_point next_held_retry{};
  Clock::time_point next_sweep{};
  RateLimiter garbage_limiter{std::chrono::seconds(1)};
  RateLimiter error_limiter{std::chrono::seconds(1)};
  Clock::time_point now = Clock::now();
  bool closing = false;
  Clock::time_point linger_deadline{};
  bool io_finished = false;  // finish() is returning what is left
  // A sender is doing the I/O work. The callbacks it gives rise to wait for the I/O thread:
  // the sender may hold locks of its own (a mailbox's, say) that they would take again.
  bool direct_send = false;
  std::vector<std::pair<Envelope, Error>> undeliverables_for_io;
  bool link_room_for_io = false;
};

}  // namespace zmesh
