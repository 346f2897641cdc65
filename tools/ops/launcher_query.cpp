#include "zmesh/tools/ops/launcher_query.hpp"

#include "zmesh/transport/security.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace zmesh::tools {
namespace {

constexpr int watched_events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

// What the monitor saw of the connection, for the error at the deadline.
struct Progress {
  bool connected = false;
  bool handshake_done = false;
  int handshake_failure = 0;  // the ZMQ_EVENT_HANDSHAKE_FAILED_* seen last
  int retries = 0;

  void note(std::uint16_t event) {
    switch (event) {
      case ZMQ_EVENT_CONNECTED: connected = true; break;
      case ZMQ_EVENT_CONNECT_RETRIED: ++retries; break;
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: handshake_done = true; break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: handshake_failure = event; break;
      default: break;
    }
  }

  QueryStage stage() const {
    return handshake_failure != 0 ? QueryStage::handshake_failed
           : handshake_done       ? QueryStage::handshake_done
           : connected            ? QueryStage::connected
                                  : QueryStage::no_connection;
  }

  std::string explain(const std::string& where, Millis waited) const {
    if (handshake_failure != 0) {
      return fmt::format("the security handshake with {} failed ({}): the launcher uses another key, or "
                         "another security mode (CURVE or plain tcp); give both the same key file (--key "
                         "FILE / ZMESH_KEY_FILE)",
                         where, handshake_failure == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "refused" : "protocol error");
    }
    if (handshake_done) {
      return fmt::format("{} accepted the connection but did not answer within {} ms: is the launcher "
                         "there frozen (SIGSTOP) or overloaded, or is another program listening there?",
                         where, waited.count());
    }
    if (connected) {
      return fmt::format("{} accepted the tcp connection but the handshake did not complete within {} ms: "
                         "is that a zmesh-launcher, with the same key (--key FILE) and security mode?",
                         where, waited.count());
    }
    return fmt::format("no connection to {} within {} ms{}: is zmesh-launcher running there "
                       "(zmesh-launcher --listen tcp://{}) and reachable from this host?",
                       where, waited.count(), retries > 0 ? " (refused: nothing listens on that port)" : "",
                       where);
  }
};

}  // namespace

Result<std::pair<std::string, std::string>> query_launcher(zmq::context_t& context, const Config& config,
                                                           const HostEntry& host,
                                                           const std::pair<std::string, std::string>& request,
                                                           std::string_view reply_type, Deadline deadline,
                                                           QueryStage* stage) {
  QueryStage ignored = QueryStage::no_connection;
  if (!stage) stage = &ignored;
  *stage = QueryStage::no_connection;
  const std::string where = host.to_string();
  const auto started = Clock::now();
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::maxmsgsize, std::int64_t{16} << 20);
  const std::string monitor_address = fmt::format("inproc://zmesh-query-monitor-{}", static_cast<void*>(&dealer));
  if (::zmq_socket_monitor(dealer.handle(), monitor_address.c_str(), watched_events) != 0) {
    return Error(ErrorCode::transport_failed, fmt::format("monitoring the connection to {}: {}", where,
                                                          ::zmq_strerror(::zmq_errno())));
  }
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(monitor_address);
  const std::string address = fmt::format("tcp://{}", where);
  if (auto secured = secure_socket(dealer, address, config, SocketRole::client); !secured) {
    return Error(secured.error().code, fmt::format("{}: {}", where, secured.error().message));
  }
  try {
    dealer.connect(address);
  } catch (const zmq::error_t& e) {
    return Error(ErrorCode::invalid_argument, fmt::format("cannot connect to tcp://{}: {}", where, e.what()));
  }
  (void)dealer.send(zmq::buffer(request.first), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)dealer.send(zmq::buffer(request.second), zmq::send_flags::dontwait);

  Progress progress;
  for (;;) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left <= Millis(0)) {
      *stage = progress.stage();
      return Error(ErrorCode::timeout,
                   progress.explain(where, std::chrono::duration_cast<Millis>(Clock::now() - started)));
    }
    zmq::pollitem_t items[] = {{dealer.handle(), 0, ZMQ_POLLIN, 0}, {monitor.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, left);
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t event, address;
      if (monitor.recv(event, zmq::recv_flags::dontwait)) {
        if (event.more()) (void)monitor.recv(address);
        std::uint16_t id = 0;
        if (event.size() >= sizeof id) std::memcpy(&id, event.data(), sizeof id);
        progress.note(id);
      }
      if (progress.handshake_failure != 0) {  // retrying cannot help: say so now
        *stage = progress.stage();
        return Error(ErrorCode::unauthenticated,
                     progress.explain(where, std::chrono::duration_cast<Millis>(Clock::now() - started)));
      }
    }
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    std::vector<zmq::message_t> frames;
    for (;;) {
      zmq::message_t frame;
      if (!dealer.recv(frame, zmq::recv_flags::dontwait)) break;
      const bool more = frame.more();
      if (frames.size() < 3) frames.push_back(std::move(frame));
      if (!more) break;
    }
    if (frames.size() != 2) continue;  // not a launcher message: wait for one
    *stage = QueryStage::answered;
    std::string type = frames[0].to_string();
    if (type == reply_type) return std::make_pair(std::move(type), frames[1].to_string());
    if (type == message_name<internal::LauncherError>()) {
      auto error = internal::decode_launcher_body<internal::LauncherError>(frames[1].to_string());
      const std::string text = error ? error->error.message : "(undecodable)";
      if (text.find("unknown message type") != std::string::npos) {
        return Error(ErrorCode::version_mismatch,
                     fmt::format("the launcher at {} does not know {} requests: it runs an older zmesh; "
                                 "upgrade it to this version ({})",
                                 where, request.first, text));
      }
      return Error(ErrorCode::transport_failed, fmt::format("the launcher at {} refused: {}", where, text));
    }
  }
}

}  // namespace zmesh::tools
