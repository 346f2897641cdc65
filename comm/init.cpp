#include "zmesh/comm/init.hpp"

#include "zmesh/alloc/bootstrap.hpp"
#include "zmesh/comm/internal/comm_actor.hpp"
#include "zmesh/comm/internal/tree_router.hpp"

namespace zmesh {
namespace {

// The registered type name of the comm actor.
constexpr std::string_view comm_actor_type = "zmesh_comm";

class CommTree final : public CastTree {
 public:
  std::string_view actor_type() const override { return comm_actor_type; }
  std::shared_ptr<CastRouter> make_router(internal::MeshState& state) const override {
    return std::make_shared<comm::TreeRouter>(state);
  }
};

}  // namespace

Result<void> install_comm_tree(Registry& registry) {
  if (registry.extension<const CastTree>()) return {};
  if (auto added = registry.add_actor<comm::CommActor>(std::string(comm_actor_type)); !added) {
    return added;
  }
  registry.set_extension<const CastTree>(std::make_shared<const CommTree>());
  return {};
}

void init(int argc, char** argv, const std::shared_ptr<Registry>& registry) {
  if (auto installed = install_comm_tree(*registry); !installed) throw Exception(installed.error());
  run_if_started_as_proc(argc, argv, registry);
}

}  // namespace zmesh
