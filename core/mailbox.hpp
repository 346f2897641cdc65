#pragma once
// Mailbox: lets code that is not an actor (a client's main thread, a test) take part:
// it has an actor id, sends, opens reply ports, and collects the undeliverables of what
// it sent. Obtained from Proc::attach(name); detaches when destroyed. Destroy it before
// its Proc (sending through a Mailbox whose Proc is gone is a bug).
// Thread: sends and next_undeliverable() are thread-safe.

#include "zmesh/core/blocking_queue.hpp"
#include "zmesh/core/sender.hpp"

#include <memory>

namespace zmesh {

class Mailbox : public Sender {
 public:
  Mailbox(Mailbox&&) noexcept = default;
  Mailbox& operator=(Mailbox&&) noexcept = delete;
  ~Mailbox();

  // The next message this mailbox sent that came back, or nothing by the deadline.
  std::optional<Undeliverable> next_undeliverable(Deadline deadline) {
    return undeliverables_->pop(deadline);
  }

 private:
  friend class Proc;
  Mailbox(Proc& proc, ActorId self, std::shared_ptr<BlockingQueue<Undeliverable>> undeliverables,
          std::weak_ptr<void> proc_alive)
      : Sender(proc, std::move(self)),
        undeliverables_(std::move(undeliverables)),
        proc_alive_(std::move(proc_alive)) {}

  std::shared_ptr<BlockingQueue<Undeliverable>> undeliverables_;
  std::weak_ptr<void> proc_alive_;  // detaching from a proc that is gone is skipped
};

}  // namespace zmesh
