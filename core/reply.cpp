#include "zmesh/core/reply.hpp"

#include "zmesh/core/context.hpp"
#include "zmesh/core/proc.hpp"

namespace zmesh::internal {
namespace {

void send_along_route(Context& ctx, Headers headers, Frames payload) {
  const Envelope* request = ctx.current();
  if (request == nullptr) return;
  auto route = request->headers.get<ReplyRoute>(reply_route_key);
  if (!route) return;
  Envelope reply{ctx.self(), route->port, std::string(message_name<ReplyMessage>()),
                 std::move(headers), std::move(payload), {}};
  if (!route->tag.empty()) reply.headers.set(std::string(reply_tag_key), route->tag);
  if (route->port.actor.proc == ctx.proc().id()) {
    ctx.proc().deliver(std::move(reply), /*may_run_here=*/true);
  } else {
    ctx.send(std::move(reply));
  }
}

}  // namespace

void send_reply(Context& ctx, Frames value) { send_along_route(ctx, {}, std::move(value)); }

void send_reply_error(Context& ctx, const Error& error) {
  Headers headers;
  headers.set(std::string(reply_error_key), error);
  send_along_route(ctx, std::move(headers), {});
}

std::optional<Error> reply_error(const Envelope& reply) {
  return reply.headers.get<Error>(reply_error_key);
}

}  // namespace zmesh::internal
