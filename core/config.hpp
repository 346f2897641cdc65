#pragma once
// Config: every timeout and limit of zmesh in one typed place, with its default.
// Each field can be overridden by an environment variable (ZMESH_<NAME>); durations are
// in milliseconds. `zmesh doctor` and docs/configuration.md list them.
// Thread: value type; read Config::from_environment() once per runtime and pass it down.

#include "zmesh/core/error.hpp"
#include "zmesh/core/key_file.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace zmesh {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
using Millis = std::chrono::milliseconds;

// A deadline `timeout` from now.
inline Deadline deadline_in(Clock::duration timeout) { return Clock::now() + timeout; }

struct Config {
  // -- delivery (transport) --
  Millis delivery_timeout{30000};   // ZMESH_DELIVERY_TIMEOUT_MS: unacked this long -> undeliverable
  Millis resend_interval{200};      // ZMESH_RESEND_INTERVAL_MS: resend unacked messages this often
  std::uint32_t ack_every = 256;    // ZMESH_ACK_EVERY: ack at least every N messages per link
  // An ack waits this long for a message to the same proc to carry it (most traffic is
  // request and reply), then goes alone; 0 acks at the end of each receive round.
  Millis ack_delay{2};              // ZMESH_ACK_DELAY_MS; below resend_interval / 2
  std::uint32_t max_unacked = 65536;  // ZMESH_MAX_UNACKED: per link; beyond it sends wait
  // Per link, data lane: messages and bytes queued or unacknowledged. A sender that finds no
  // room waits up to its deadline, then gets ErrorCode::backpressure. Control traffic
  // (heartbeats, agent requests, undeliverables) is not counted and never waits.
  std::uint32_t link_window_messages = 8192;  // ZMESH_LINK_WINDOW_MESSAGES
  std::int64_t link_window_bytes = std::int64_t{256} << 20;  // ZMESH_LINK_WINDOW_BYTES
  std::int64_t max_message_bytes = std::int64_t{1} << 31;  // ZMESH_MAX_MESSAGE_BYTES
  std::uint32_t max_frames = 64;    // ZMESH_MAX_FRAMES: frames per message, more is garbage
  Millis linger{2000};              // ZMESH_LINGER_MS: how long closing sockets may flush

  // -- shared memory (transport; docs/messaging.md, "Bulk payloads") --
  // A payload frame of at least this many bytes, sent to a proc on the same host, is written
  // once into an unnamed file in shm_dir and the peer maps it; 0 turns shared memory off.
  // 64 KiB: measured (docs/performance.md), from there on the files (written again, mapped
  // once) beat the socket whatever the rate.
  std::int64_t shm_threshold = std::int64_t{64} << 10;  // ZMESH_SHM_THRESHOLD (bytes)
  std::string shm_dir = "/dev/shm";  // ZMESH_SHM_DIR: a tmpfs directory for the regions
  // Messages to a proc on the same host go through a shared-memory lane of two rings of
  // this many bytes (a power of two, at least 4096) instead of ZeroMQ's sockets and I/O
  // threads: the sender's write wakes the receiver's I/O thread directly. 0: lanes off,
  // the default for now: a 64-proc start-up on a heavily overloaded machine can still stall
  // with them (docs/messaging.md, "Lanes"). 262144 turns them on.
  std::int64_t shm_lane_bytes = 0;  // ZMESH_SHM_LANE_BYTES
  // Which procs share this host: empty derives it from the kernel (boot id, pid and net
  // namespaces, uid). Set only to tell procs apart that the kernel would call one host
  // (tests); never passed on to child procs.
  std::string host_key;             // ZMESH_HOST_KEY

  // -- procs and actors (core) --
  std::uint32_t proc_threads = 2;   // ZMESH_PROC_THREADS: handler threads per proc
  std::uint32_t mailbox_batch = 64; // ZMESH_MAILBOX_BATCH: messages per actor turn
  // An actor's turn may run on the I/O thread that received its message, saving the
  // hand-off to the pool; a run of turns longer than this makes a standby thread serve the
  // sockets meanwhile, and an actor whose turn took ten times this takes the pool for 1 s.
  // 0: always the pool.
  std::int64_t io_turn_limit_us = 1000;  // ZMESH_IO_TURN_LIMIT_US
  // An actor's queued messages; a full mailbox refuses more until it drains (the transport
  // holds the refused message and its link's later ones, which fills the senders' windows).
  std::uint32_t mailbox_max_messages = 4096;  // ZMESH_MAILBOX_MAX_MESSAGES
  std::int64_t mailbox_max_bytes = std::int64_t{256} << 20;  // ZMESH_MAILBOX_MAX_BYTES
  Millis stop_timeout{5000};        // ZMESH_STOP_TIMEOUT_MS: drain before cleanup is forced

  // -- supervision and allocation --
  Millis heartbeat_interval{250};   // ZMESH_HEARTBEAT_INTERVAL_MS
  Millis heartbeat_timeout{5000};   // ZMESH_HEARTBEAT_TIMEOUT_MS: silence -> watchdog
  Millis bootstrap_timeout{20000};  // ZMESH_BOOTSTRAP_TIMEOUT_MS: hello/start/started
  Millis term_timeout{2000};        // ZMESH_TERM_TIMEOUT_MS: stop request -> SIGTERM
  Millis kill_timeout{2000};        // ZMESH_KILL_TIMEOUT_MS: SIGTERM -> SIGKILL
  std::uint32_t stderr_tail_lines = 20;  // ZMESH_STDERR_TAIL_LINES: kept for exit reasons

  // -- casts --
  std::uint32_t cast_fanout = 16;   // ZMESH_CAST_FANOUT: children per comm-tree node

  // -- security (tcp) --
  // Every tcp socket uses CURVE with this pair (docs/launcher.md, "Security"). Without keys,
  // binding or dialing tcp fails (ErrorCode::unauthenticated) unless `insecure` is set.
  // ipc and inproc need no keys: they never leave the host and its user.
  CurveKeyPair curve;               // ZMESH_KEY=PUBLIC:SECRET, or read from ZMESH_KEY_FILE
  std::string key_file;             // ZMESH_KEY_FILE: where `curve` came from, for messages
  bool insecure = false;            // ZMESH_INSECURE=1: plain tcp, for trusted networks only

  // -- logging --
  std::string log_level = "warn";   // ZMESH_LOG: trace, debug, info, warn, error, off

  // Defaults overridden by ZMESH_* variables; a malformed value is an error naming it.
  static Result<Config> from_environment();

  // Reads the key pair from `path` (see read_key_file) into `curve` and `key_file`.
  Result<void> use_key_file(const std::string& path);

  // Every setting as (ZMESH_NAME, value): what a parent puts in a child proc's environment
  // so that both sides agree on timeouts and limits (message size, windows). The key pair
  // travels itself (ZMESH_KEY), not its file's path, which may not exist on another host;
  // a child's environment is readable only by its user, like the key file.
  std::vector<std::pair<std::string, std::string>> to_environment() const;

  // One line per setting: "ZMESH_NAME=value  (default D) meaning", for `zmesh doctor`;
  // the key pair shows only whether it is set.
  std::vector<std::string> describe() const;
};

}  // namespace zmesh
