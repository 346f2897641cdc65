#include "zmesh/core/config.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <functional>
#include <string_view>

namespace zmesh {
namespace {

// One overridable setting: its variable, its meaning, and how to read/print it.
struct Setting {
  std::string_view variable;
  std::string_view meaning;
  std::function<Result<void>(Config&, std::string_view)> parse;
  std::function<std::string(const Config&)> print;
  bool secret = false;      // describe() shows only whether it is set
  bool local_only = false;  // never passed to a child (to_environment skips it)
};

template <class Int>
Result<Int> parse_integer(std::string_view variable, std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("{}=\"{}\" is not a whole number; unset it or give e.g. {}=1000",
                             variable, text, variable));
  }
  return value;
}

template <class Int>
Setting integer(std::string_view variable, std::string_view meaning, Int Config::*field) {
  return {variable, meaning,
          [variable, field](Config& c, std::string_view text) -> Result<void> {
            auto value = parse_integer<Int>(variable, text);
            if (!value) return std::move(value).error();
            c.*field = *value;
            return {};
          },
          [field](const Config& c) { return std::to_string(c.*field); }};
}

Setting millis(std::string_view variable, std::string_view meaning, Millis Config::*field) {
  return {variable, meaning,
          [variable, field](Config& c, std::string_view text) -> Result<void> {
            auto value = parse_integer<std::int64_t>(variable, text);
            if (!value) return std::move(value).error();
            c.*field = Millis(*value);
            return {};
          },
          [field](const Config& c) { return std::to_string((c.*field).count()); }};
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      millis("ZMESH_DELIVERY_TIMEOUT_MS", "unacknowledged this long: message is undeliverable",
             &Config::delivery_timeout),
      millis("ZMESH_RESEND_INTERVAL_MS", "resend unacknowledged messages this often",
             &Config::resend_interval),
      integer("ZMESH_ACK_EVERY", "acknowledge at least every N messages", &Config::ack_every),
      millis("ZMESH_ACK_DELAY_MS",
             "an ack waits this long to ride on a message to the same proc, then goes alone",
             &Config::ack_delay),
      integer("ZMESH_MAX_UNACKED", "unacknowledged messages per link before sends wait",
              &Config::max_unacked),
      integer("ZMESH_LINK_WINDOW_MESSAGES",
              "data messages queued or unacknowledged per link before senders wait",
              &Config::link_window_messages),
      integer("ZMESH_LINK_WINDOW_BYTES",
              "data bytes queued or unacknowledged per link before senders wait",
              &Config::link_window_bytes),
      integer("ZMESH_MAX_MESSAGE_BYTES", "larger incoming messages are refused",
              &Config::max_message_bytes),
      integer("ZMESH_MAX_FRAMES", "frames per message; more is treated as garbage",
              &Config::max_frames),
      millis("ZMESH_LINGER_MS", "how long a closing socket may flush", &Config::linger),
      integer("ZMESH_SHM_THRESHOLD",
              "payload frames this large go to same-host procs through shared memory; 0: never",
              &Config::shm_threshold),
      integer("ZMESH_SHM_LANE_BYTES",
              "ring size of a shared-memory lane to a same-host proc (power of two); 0: none",
              &Config::shm_lane_bytes),
      {"ZMESH_SHM_DIR", "tmpfs directory for shared-memory regions (unnamed files)",
       [](Config& c, std::string_view text) -> Result<void> {
         if (text.empty()) {
           return Error(ErrorCode::invalid_argument,
                        "ZMESH_SHM_DIR is empty; unset it (default /dev/shm) or name a tmpfs "
                        "directory");
         }
         c.shm_dir = std::string(text);
         return {};
       },
       [](const Config& c) { return c.shm_dir; }},
      {"ZMESH_HOST_KEY",
       "overrides which procs count as one host for shared memory (tests); empty: derived",
       [](Config& c, std::string_view text) -> Result<void> {
         c.host_key = std::string(text);
         return {};
       },
       [](const Config& c) { return c.host_key; }, false, true},
      integer("ZMESH_PROC_THREADS", "handler threads per proc", &Config::proc_threads),
      integer("ZMESH_MAILBOX_BATCH", "messages an actor handles per turn", &Config::mailbox_batch),
      integer("ZMESH_IO_TURN_LIMIT_US",
              "an actor turn on the I/O thread this long: a standby thread serves the sockets; "
              "0: actor turns only on the pool",
              &Config::io_turn_limit_us),
      integer("ZMESH_MAILBOX_MAX_MESSAGES", "messages queued per actor before it refuses more",
              &Config::mailbox_max_messages),
      integer("ZMESH_MAILBOX_MAX_BYTES", "payload bytes queued per actor before it refuses more",
              &Config::mailbox_max_bytes),
      millis("ZMESH_STOP_TIMEOUT_MS", "drain time before an actor's stop is forced",
             &Config::stop_timeout),
      millis("ZMESH_HEARTBEAT_INTERVAL_MS", "heartbeat period", &Config::heartbeat_interval),
      millis("ZMESH_HEARTBEAT_TIMEOUT_MS", "silence this long: peer is presumed dead",
             &Config::heartbeat_timeout),
      millis("ZMESH_BOOTSTRAP_TIMEOUT_MS", "time for a new proc to say hello and start",
             &Config::bootstrap_timeout),
      millis("ZMESH_TERM_TIMEOUT_MS", "stop request to SIGTERM", &Config::term_timeout),
      millis("ZMESH_KILL_TIMEOUT_MS", "SIGTERM to SIGKILL", &Config::kill_timeout),
      integer("ZMESH_STDERR_TAIL_LINES", "stderr lines kept for exit reasons",
              &Config::stderr_tail_lines),
      integer("ZMESH_CAST_FANOUT", "children per comm-tree node", &Config::cast_fanout),
      {"ZMESH_LOG", "log level: trace, debug, info, warn, error, off",
       [](Config& c, std::string_view text) -> Result<void> {
         for (std::string_view level : {"trace", "debug", "info", "warn", "error", "off"}) {
           if (text == level) {
             c.log_level = std::string(text);
             return {};
           }
         }
         return Error(ErrorCode::invalid_argument,
                      fmt::format("ZMESH_LOG=\"{}\" is not a level; use trace, debug, info, "
                                  "warn, error or off",
                                  text));
       },
       [](const Config& c) { return c.log_level; }},
      {"ZMESH_INSECURE", "1: plain tcp without CURVE keys (trusted networks only)",
       [](Config& c, std::string_view text) -> Result<void> {
         if (text != "0" && text != "1") {
           return Error(ErrorCode::invalid_argument,
                        fmt::format("ZMESH_INSECURE=\"{}\" must be 0 or 1", text));
         }
         c.insecure = text == "1";
         return {};
       },
       [](const Config& c) { return std::string(c.insecure ? "1" : "0"); }},
      // Before ZMESH_KEY, which wins when both are set (a parent's pair beats a file path).
      {"ZMESH_KEY_FILE", "file holding the CURVE key pair for tcp (`zmesh keygen FILE`)",
       [](Config& c, std::string_view text) -> Result<void> {
         if (text.empty()) return {};
         return c.use_key_file(std::string(text));
       },
       [](const Config& c) { return c.key_file; }, false, true},
      {"ZMESH_KEY", "the CURVE key pair itself, PUBLIC:SECRET (set by allocators for procs)",
       [](Config& c, std::string_view text) -> Result<void> {
         if (text.empty()) return {};
         auto keys = parse_key_pair_text(text, "ZMESH_KEY");
         if (!keys) return std::move(keys).error();
         c.curve = std::move(*keys);
         return {};
       },
       [](const Config& c) { return c.curve.empty() ? std::string() : key_pair_text(c.curve); },
       true},
  };
  return all;
}

}  // namespace

Result<Config> Config::from_environment() {
  Config config;
  for (const auto& setting : settings()) {
    const char* text = std::getenv(std::string(setting.variable).c_str());
    if (text == nullptr) continue;
    if (auto parsed = setting.parse(config, text); !parsed) return std::move(parsed).error();
  }
  if (config.proc_threads == 0 || config.cast_fanout == 0 || config.ack_every == 0 ||
      config.max_unacked == 0 || config.mailbox_batch == 0 || config.link_window_messages == 0 ||
      config.link_window_bytes <= 0 || config.mailbox_max_messages == 0 ||
      config.mailbox_max_bytes <= 0 || config.max_message_bytes <= 0 ||
      config.shm_threshold < 0 || config.io_turn_limit_us < 0) {
    return Error(ErrorCode::invalid_argument,
                 "ZMESH_PROC_THREADS, ZMESH_CAST_FANOUT, ZMESH_ACK_EVERY, ZMESH_MAX_UNACKED, "
                 "ZMESH_MAILBOX_BATCH, ZMESH_LINK_WINDOW_*, ZMESH_MAILBOX_MAX_* and "
                 "ZMESH_MAX_MESSAGE_BYTES must be at least 1, and ZMESH_SHM_THRESHOLD and "
                 "ZMESH_IO_TURN_LIMIT_US at least 0");
  }
  if (config.shm_lane_bytes != 0 &&
      (config.shm_lane_bytes < 4096 || config.shm_lane_bytes > (std::int64_t{1} << 30) ||
       (config.shm_lane_bytes & (config.shm_lane_bytes - 1)) != 0)) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("ZMESH_SHM_LANE_BYTES={} must be 0 (no lanes) or a power of two "
                             "from 4096 to 1073741824",
                             config.shm_lane_bytes));
  }
  if (config.ack_delay.count() < 0 || config.ack_delay * 2 >= config.resend_interval) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("ZMESH_ACK_DELAY_MS={} must be at least 0 and below half of "
                             "ZMESH_RESEND_INTERVAL_MS={}, or senders resend what was received",
                             config.ack_delay.count(), config.resend_interval.count()));
  }
  return config;
}

Result<void> Config::use_key_file(const std::string& path) {
  auto keys = read_key_file(path);
  if (!keys) return std::move(keys).error();
  curve = std::move(*keys);
  key_file = path;
  return {};
}

std::vector<std::pair<std::string, std::string>> Config::to_environment() const {
  std::vector<std::pair<std::string, std::string>> variables;
  for (const auto& setting : settings()) {
    if (setting.local_only) continue;
    variables.emplace_back(std::string(setting.variable), setting.print(*this));
  }
  return variables;
}

std::vector<std::string> Config::describe() const {
  const Config defaults;
  std::vector<std::string> lines;
  for (const auto& setting : settings()) {
    const auto shown = [&](const Config& c) {
      if (!setting.secret) return setting.print(c);
      return std::string(setting.print(c).empty() ? "(not set)" : "(set)");
    };
    lines.push_back(fmt::format("{}={}  (default {}) {}", setting.variable, shown(*this),
                                shown(defaults), setting.meaning));
  }
  return lines;
}

}  // namespace zmesh
