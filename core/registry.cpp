#include "zmesh/core/registry.hpp"

#include <fmt/ranges.h>

namespace zmesh {

Result<void> Registry::add_message_name(std::string name, std::type_index type) {
  auto [it, inserted] = messages_.emplace(name, type);
  if (!inserted && it->second != type) {
    return Error(ErrorCode::duplicate,
                 fmt::format("message type name \"{}\" is already registered for another type; "
                             "give each message struct its own ZMESH_MESSAGE name",
                             name));
  }
  return {};
}

Result<void> Registry::add_factory(std::string name, std::type_index type, Factory factory) {
  if (auto valid = check_name(name, "actor type"); !valid) return valid;
  auto [it, inserted] = actors_.emplace(name, ActorType{type, std::move(factory)});
  if (!inserted) {
    return Error(ErrorCode::duplicate,
                 fmt::format("actor type \"{}\" is already registered; each name may be "
                             "registered once",
                             name));
  }
  return {};
}

Result<std::unique_ptr<Actor>> Registry::create(std::string_view type_name,
                                                const Frame& params) const {
  auto it = actors_.find(type_name);
  if (it == actors_.end()) {
    return Error(ErrorCode::not_found,
                 fmt::format("no actor type registered under \"{}\" (registered: {})", type_name,
                             actor_types().empty() ? "none" : fmt::format("{}", fmt::join(actor_types(), ", "))));
  }
  // The factory runs the user's constructor: what it throws is a spawn error, never the
  // death of the agent (and with it the proc) that asked.
  std::optional<Result<std::unique_ptr<Actor>>> made;
  try {
    made.emplace(it->second.factory(params));
  } catch (const std::exception& e) {
    return Error(ErrorCode::actor_failed,
                 fmt::format("the constructor of actor type \"{}\" threw: {}", type_name, e.what()));
  } catch (...) {
    return Error(ErrorCode::actor_failed,
                 fmt::format("the constructor of actor type \"{}\" threw a non-standard exception",
                             type_name));
  }
  auto& actor = *made;
  if (!actor) {
    return Error(ErrorCode::decode_error,
                 fmt::format("parameters for actor type \"{}\" do not decode: {}", type_name,
                             actor.error().message));
  }
  return std::move(actor);
}

std::vector<std::string> Registry::actor_types() const {
  std::vector<std::string> names;
  for (const auto& [name, type] : actors_) names.push_back(name);
  return names;
}

}  // namespace zmesh
