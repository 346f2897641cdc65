#include "zmesh/transport/node.hpp"

namespace zmesh {

Result<std::unique_ptr<Node>> Node::start(Runtime& runtime, ProcOptions options,
                                          std::string_view address) {
  std::unique_ptr<Node> node(new Node());
  const ProcId id = options.id;
  const Config config = options.config;
  node->proc_ = std::make_unique<Proc>(std::move(options));
  Proc* proc = node->proc_.get();
  Endpoint::Inbound inbound{
      // On the I/O thread: actors whose handlers never block run right here.
      // False: a full mailbox; the endpoint holds the message until proc->offer has room
      // (the proc calls retry_held()).
      [proc](Envelope& envelope) { return proc->offer(envelope, /*may_run_here=*/true); },
      [proc](Envelope&& envelope, Error reason) {
        proc->return_undeliverable(std::move(envelope), std::move(reason));
      },
      // A data link that was full has room again: actors paused on backpressure resume.
      [proc] { proc->on_link_room(); },
      // Replies wake their receivers once per round, and turns of actors the I/O thread
      // delivered to run on it between rounds, saving the hand-off to the pool
      // (Proc::defer_turns_to).
      [proc] { return proc->finish_io_round(); },
      [proc] { proc->run_deferred_turns(); },
      [proc] { proc->release_deferred_turns(); }};
  auto endpoint = Endpoint::bind(runtime.context(), id, address, std::move(inbound), config);
  if (!endpoint) return std::move(endpoint).error();
  node->endpoint_ = std::move(*endpoint);
  node->proc_->set_remote(node->endpoint_.get());
  node->proc_->defer_turns_to(node->endpoint_->deferred_work_thread());
  return node;
}

Node::~Node() {
  if (proc_ && endpoint_) {
    if (auto stopped = proc_->stop(deadline_in(proc_->config().stop_timeout)); !stopped) {
      proc_->log().warn("ZM-NODE-STOP {}", stopped.error().message);
    }
    endpoint_->close();
    proc_->defer_turns_to(std::thread::id{});  // that thread has ended
    proc_->set_remote(nullptr);
  }
  endpoint_.reset();
  proc_.reset();
}

}  // namespace zmesh
