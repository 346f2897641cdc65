// Must not compile: casting to an actor a message none of its handlers takes.
#include <zmesh/zmesh.hpp>

struct Step {
  ZMESH_MESSAGE("test.Step");
  MSGPACK_DEFINE();
};
struct Other {
  ZMESH_MESSAGE("test.Other");
  MSGPACK_DEFINE();
};
struct Worker : zmesh::Actor {
  void step(const Step&) {}
  using Handlers = zmesh::Handlers<&Worker::step>;
};

void send(zmesh::ActorMesh<Worker>& workers) { (void)workers.cast(Other{}); }
