#pragma once
// LocalNetwork: routes messages between procs that live in this process (the local
// allocator's procs and their client) by direct delivery, with no sockets: a large
// in-process mesh costs no threads or file descriptors per proc.
// Thread: every member is thread-safe; a shared mutex guards the proc table. Each LocalNetwork
// belongs to one allocation (no process-wide table).

#include "zmesh/core/proc.hpp"
#include "zmesh/core/remote.hpp"

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <unordered_map>

namespace zmesh {

class LocalNetwork {
 public:
  // Makes `proc` reachable and gives it a link to every other member. The proc must call
  // leave() (or be left by the network's owner) before it is destroyed.
  void join(Proc& proc);
  void leave(const ProcId& proc);

 private:
  class Link final : public RemoteLink {
   public:
    Link(LocalNetwork& network, Proc& self) : network_(network), self_(self) {}
    void send(Envelope envelope) override;
    Result<void> send_bounded(Envelope envelope, Deadline room_deadline) override;
    bool has_room(const ProcId& proc, std::size_t bytes) const override;
    void retry_held() override {}

   private:
    LocalNetwork& network_;
    Proc& self_;
  };

  // A member's `users` counts deliveries under way, so leave() can wait them out without
  // holding the table lock during delivery (a delivery may itself send, e.g. a bounce).
  struct Member {
    Proc* proc;
    std::atomic<int> users{0};
  };

  std::shared_mutex mutex_;  // guards members_ and links_
  std::unordered_map<ProcId, std::shared_ptr<Member>> members_;
  std::unordered_map<ProcId, std::unique_ptr<Link>> links_;
};

}  // namespace zmesh
