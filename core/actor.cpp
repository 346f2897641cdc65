#include "zmesh/core/actor.hpp"

#include "zmesh/core/context.hpp"
#include "zmesh/core/port.hpp"

namespace zmesh {

void Actor::on_undeliverable(Context&, const Undeliverable& returned) {
  // A reply (to a port, not a handler) that found no one waiting: its caller gave up or
  // ended. Normal after timeouts, so never this actor's failure.
  if (!is_handler_port(returned.destination.index)) return;
  throw Exception(Error(ErrorCode::undeliverable,
                        fmt::format("{} to {} was undeliverable: {}", returned.type_name,
                                    returned.destination.to_string(), returned.reason.describe())));
}

const Actor::RawHandler* Actor::find_handler(std::string_view type_name) const {
  auto it = handlers_.find(type_name);
  return it == handlers_.end() ? nullptr : &it->second;
}

void Actor::on_raw(std::string type_name, RawHandler handler) {
  handlers_[std::move(type_name)] = std::move(handler);
}

}  // namespace zmesh
