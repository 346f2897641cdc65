#include "zmesh/comm/init.hpp"

#include "zmesh/alloc/bootstrap.hpp"
#include "zmesh/comm/internal/comm_actor.hpp"
#include "zmesh/comm/internal/timer_service.hpp"
#include "zmesh/comm/internal/tree_router.hpp"

namespace zmesh {
namespace {

// The registered type name of the comm actor.
constexpr std::string_view comm_actor_type = "zmesh_comm";

class CommTree final : public CastTree {
 public:
  CommTree(std::shared_ptr<comm::internal::TimerService> timers, CommTreeOptions options)
      : timers_(std::move(timers)), options_(options) {}
  std::string_view actor_type() const override { return comm_actor_type; }
  std::shared_ptr<CastRouter> make_router(internal::MeshState& state) const override {
    return std::make_shared<comm::TreeRouter>(state, timers_, options_.stream_idle);
  }

 private:
  std::shared_ptr<comm::internal::TimerService> timers_;
  CommTreeOptions options_;
};

}  // namespace

Result<void> install_comm_tree(Registry& registry, const CommTreeOptions& options) {
  if (!registry.extension<const CastTree>()) {
    if (auto added = registry.add_actor<comm::CommActor>(std::string(comm_actor_type)); !added) {
      return added;
    }
    // The one timer thread of every comm actor and router that uses this registry.
    registry.set_extension<comm::internal::TimerService>(
        std::make_shared<comm::internal::TimerService>());
  }
  registry.set_extension<const CastTree>(std::make_shared<const CommTree>(
      registry.extension<comm::internal::TimerService>(), options));
  return {};
}

void init(int argc, char** argv, const std::shared_ptr<Registry>& registry) {
  if (auto installed = install_comm_tree(*registry); !installed) throw Exception(installed.error());
  run_if_started_as_proc(argc, argv, registry);
}

}  // namespace zmesh
