#include "zmesh/comm/reply_port.hpp"

#include "zmesh/core/proc.hpp"
#include "zmesh/mesh/cast_info.hpp"
#include "zmesh/mesh/cast_router.hpp"

namespace zmesh::comm::internal {

Result<ReplyRoute> route_reply(const Context& ctx, std::uint64_t cast_id) {
  auto header = ctx.headers().get<CastHeader>(cast_header_key);
  if (!header) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("{} replied to the reply port of cast {} outside a cast; reply in "
                             "the handler of the cast that carried the port, or bind_reply() "
                             "there to reply later",
                             ctx.self().to_string(), cast_id));
  }
  if (header->cast_id != cast_id) {
    return Error(ErrorCode::invalid_argument,
                 fmt::format("{} replied to the reply port of cast {} while handling cast {} of "
                             "{}; use bind_reply() in the first cast's handler to reply later",
                             ctx.self().to_string(), cast_id, header->cast_id, header->mesh));
  }
  const ActorId comm{ctx.proc().id(), std::string(comm_actor_name), 0};
  return ReplyRoute{handler_port<Contribution>(comm),
                    Contribution{header->origin, ctx.self().name, cast_id, header->rank, {}}};
}

void send_reply(Sender& from, const PortRef<Contribution>& to, const Contribution& reply) {
  Envelope envelope = make_envelope(from.self(), to.id, reply);
  if (to.id.actor.proc == from.proc().id()) {
    from.proc().deliver(std::move(envelope), /*may_run_here=*/true);
  } else {
    from.send(std::move(envelope));
  }
}

}  // namespace zmesh::comm::internal
