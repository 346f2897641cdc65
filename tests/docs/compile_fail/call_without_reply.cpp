// Must not compile: calling a handler that returns nothing (there is no reply to gather).
#include <zmesh/zmesh.hpp>

struct Step {
  ZMESH_MESSAGE("test.Step");
  MSGPACK_DEFINE();
};
struct Worker : zmesh::Actor {
  void step(const Step&) {}
  using Handlers = zmesh::Handlers<&Worker::step>;
};

void ask(zmesh::ActorMesh<Worker>& workers) { (void)workers.call(Step{}, zmesh::deadline_in(std::chrono::seconds(1))); }
