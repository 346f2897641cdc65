#pragma once
// Registry: the message and actor types a program knows by name, so that a remote caller
// can spawn "Worker" with msgpack parameters and a receiver can reject unknown names.
// Registration is explicit (no static initialisers): build one Registry at the top of
// main, before zmesh::init(), and hand it to every proc.
// Thread: fill it on one thread, then share it read-only (std::shared_ptr<const Registry>).

#include "zmesh/core/actor.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/frame.hpp"
#include "zmesh/core/message.hpp"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

namespace zmesh {

// What an actor type is spawned with: its `struct Params` (msgpack), or nothing for a type
// without one (then it is default-constructed).
struct NoParams {
  MSGPACK_DEFINE();
};
template <class A>
struct ParamsOf {
  using type = NoParams;
};
template <class A>
  requires requires { typename A::Params; }
struct ParamsOf<A> {
  using type = typename A::Params;
};
template <class A>
using params_t = typename ParamsOf<A>::type;

// An actor type spawnable by name: a constructor taking its Params, or a default one.
template <class A>
concept SpawnableActor =
    std::derived_from<A, Actor> &&
    ((requires { typename A::Params; } && std::constructible_from<A, const params_t<A>&>) ||
     (!requires { typename A::Params; } && std::default_initializable<A>));

// Builds an actor of type A from its parameters, with the handlers it lists (make_actor).
template <SpawnableActor A>
std::unique_ptr<A> construct_actor(const params_t<A>& params) {
  if constexpr (requires { typename A::Params; }) {
    return make_actor<A>(params);
  } else {
    return make_actor<A>();
  }
}

class Registry {
 public:
  using Factory = std::function<Result<std::unique_ptr<Actor>>(const Frame& params)>;

  // Records a message type; another type under the same name is a duplicate error.
  template <Message M>
  Result<void> add_message() {
    return add_message_name(std::string(message_name<M>()), std::type_index(typeid(M)));
  }

  // Records actor type A under `name`; a second registration of the name is an error.
  template <SpawnableActor A>
  Result<void> add_actor(std::string name) {
    return add_factory(std::move(name), std::type_index(typeid(A)),
                       [](const Frame& params) -> Result<std::unique_ptr<Actor>> {
                         auto decoded = decode_value<params_t<A>>(params, "parameters");
                         if (!decoded) return std::move(decoded).error();
                         return std::unique_ptr<Actor>(construct_actor<A>(*decoded));
                       });
  }

  // Builds an actor of the registered `type_name` from encoded parameters. Errors: the
  // name is unknown (the message lists the known ones) or the parameters do not decode.
  Result<std::unique_ptr<Actor>> create(std::string_view type_name, const Frame& params) const;

  // The name actor type A was registered under, if it was.
  template <class A>
  std::optional<std::string> name_of() const {
    for (const auto& [name, type] : actors_) {
      if (type.type == std::type_index(typeid(A))) return name;
    }
    return std::nullopt;
  }
  std::vector<std::string> actor_types() const;

  // -- parts a higher layer installs for the layers below it --
  // The comm layer installs the client's half of the comm tree here (zmesh::init does it), so
  // that a ProcMesh, one layer below, can start the tree without knowing its type. One per T.
  template <class T>
  void set_extension(std::shared_ptr<T> extension) {
    extensions_[std::type_index(typeid(T))] = std::shared_ptr<const void>(std::move(extension));
  }
  // The extension of type T, or null.
  template <class T>
  std::shared_ptr<T> extension() const {
    auto it = extensions_.find(std::type_index(typeid(T)));
    if (it == extensions_.end()) return nullptr;
    return std::static_pointer_cast<T>(std::const_pointer_cast<void>(it->second));
  }

 private:
  Result<void> add_message_name(std::string name, std::type_index type);
  Result<void> add_factory(std::string name, std::type_index type, Factory factory);

  std::map<std::string, std::type_index, std::less<>> messages_;
  struct ActorType {
    std::type_index type;
    Factory factory;
  };
  std::map<std::string, ActorType, std::less<>> actors_;
  std::map<std::type_index, std::shared_ptr<const void>> extensions_;
};

}  // namespace zmesh
