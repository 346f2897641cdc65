#include "launcher_queries.hpp"

#include "zmesh/tools/net/tcp_check.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace zmesh::launcher {
namespace {

using internal::ProbeReply;
using internal::ProbeRequest;
using internal::StatusReply;
using internal::StatusRequest;

// Probes at once; more is someone hammering the launcher: they are told to retry.
constexpr std::size_t max_probes = 16;
// The longest tcp connect a probe may ask for.
constexpr std::uint32_t max_probe_timeout_ms = 10000;

Error other_version(const std::string& host, std::uint32_t theirs) {
  return Error(ErrorCode::version_mismatch,
               fmt::format("{}: the query speaks launcher protocol {}, this launcher {}; use the same "
                           "zmesh version on both sides",
                           host, theirs, internal::launcher_protocol_version));
}

}  // namespace

Result<void> check_executable(const std::string& host, const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return Error(ErrorCode::invalid_argument, fmt::format("{}: executable \"{}\" is not an absolute path", host, path));
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return Error(ErrorCode::not_found, fmt::format("{}: cannot run {}: {}", host, path, std::strerror(errno)));
  }
  if (!S_ISREG(info.st_mode)) {
    return Error(ErrorCode::invalid_argument, fmt::format("{}: cannot run {}: not a regular file", host, path));
  }
  if (::access(path.c_str(), X_OK) != 0) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("{}: cannot run {}: not executable ({})", host, path, std::strerror(errno)));
  }
  return {};
}

LauncherQueries::LauncherQueries(std::string host, Hooks hooks) : host_(std::move(host)), hooks_(std::move(hooks)) {}

LauncherQueries::~LauncherQueries() {
  for (auto& probe : probes_) probe.thread.join();
}

bool LauncherQueries::is_query(std::string_view type) {
  return type == message_name<StatusRequest>() || type == message_name<ProbeRequest>();
}

std::string LauncherQueries::names() {
  return fmt::format("{}, {}", message_name<StatusRequest>(), message_name<ProbeRequest>());
}

Result<void> LauncherQueries::answer(const std::string& identity, std::string_view type, const std::string& body) {
  if (type == message_name<StatusRequest>()) {
    auto request = internal::decode_launcher_body<StatusRequest>(body);
    if (!request) return Error(ErrorCode::decode_error, fmt::format("garbage: {}", request.error().message));
    StatusReply reply;
    reply.host = host_;
    reply.uptime_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_).count());
    if (request->version != internal::launcher_protocol_version) {
      reply.error = other_version(host_, request->version);
    } else {
      reply.ok = true;
      reply.clients = hooks_.clients();
    }
    hooks_.send(identity, internal::launcher_frames(reply));
    return {};
  }
  auto request = internal::decode_launcher_body<ProbeRequest>(body);
  if (!request) return Error(ErrorCode::decode_error, fmt::format("garbage: {}", request.error().message));
  reap_finished_probes();
  if (request->version != internal::launcher_protocol_version || probes_.size() >= max_probes) {
    ProbeReply reply;
    reply.host = host_;
    reply.error = request->version != internal::launcher_protocol_version
                      ? other_version(host_, request->version)
                      : Error(ErrorCode::backpressure,
                              fmt::format("{}: {} probes are running already; retry in a few seconds", host_,
                                          probes_.size()));
    hooks_.send(identity, internal::launcher_frames(reply));
    return {};
  }
  try {
    probe(identity, std::move(*request));
  } catch (const std::system_error& e) {  // no thread to be had: say so, keep serving
    ProbeReply reply;
    reply.host = host_;
    reply.error = Error(ErrorCode::backpressure, fmt::format("{}: cannot start a probe ({}); retry later", host_, e.what()));
    hooks_.send(identity, internal::launcher_frames(reply));
  }
  return {};
}

void LauncherQueries::probe(const std::string& identity, ProbeRequest request) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([host = host_, send = hooks_.send, post = hooks_.post, identity, request = std::move(request), done] {
    ProbeReply reply;
    reply.ok = true;
    reply.host = host;
    if (auto runnable = check_executable(host, request.executable); !runnable) {
      reply.executable_problem = runnable.error().message;
    }
    const Millis timeout(std::min(request.timeout_ms, max_probe_timeout_ms));
    if (auto reached = tools::tcp_connect_check(request.reach_host, request.reach_port, timeout); !reached) {
      reply.reach_problem = fmt::format("{}: {}", host, reached.error().message);
    }
    // `send` is the server's own: the reply goes out from its thread.
    post([send, identity, frames = internal::launcher_frames(reply)] { send(identity, frames); });
    done->store(true);
  });
  probes_.push_back(Probe{std::move(thread), std::move(done)});
}

void LauncherQueries::reap_finished_probes() {
  for (auto it = probes_.begin(); it != probes_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = probes_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace zmesh::launcher
