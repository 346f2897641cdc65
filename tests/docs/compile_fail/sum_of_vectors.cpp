// Must not compile: a scalar reducer over a vector reply.
#include <zmesh/zmesh.hpp>

struct Step {
  ZMESH_MESSAGE("test.Step");
  MSGPACK_DEFINE();
};
struct Worker : zmesh::Actor {
  std::vector<float> step(const Step&) { return {}; }
  using Handlers = zmesh::Handlers<&Worker::step>;
};

void fold(zmesh::ActorMesh<Worker>& workers) {
  (void)workers.reduce<zmesh::Sum>(Step{}, zmesh::deadline_in(std::chrono::seconds(1)));
}
