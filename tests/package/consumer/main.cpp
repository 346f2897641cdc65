// Uses the installed headers and libraries of every layer through the umbrella header: a
// local mesh of two procs, one call, one reduce, one selection parsed.
#include <zmesh/zmesh.hpp>

#include <cstdio>

struct Question {
  ZMESH_MESSAGE("consumer.Question");
  MSGPACK_DEFINE();
};

class Oracle : public zmesh::Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit Oracle(const Params&) {}
  int answer(const Question&) { return 42; }
  using Handlers = zmesh::Handlers<&Oracle::answer>;
};

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  auto registry = std::make_shared<zmesh::Registry>();
  registry->add_actor<Oracle>("Oracle").value();
  zmesh::init(argc, argv, registry);
  zmesh::Runtime runtime(zmesh::Config{});
  zmesh::AllocSpec spec;
  spec.dimensions = {{"gpu", 2}};
  auto alloc = zmesh::LocalAllocator::allocate(runtime, spec, registry).value();
  auto mesh = zmesh::ProcMesh::allocate(runtime, std::move(alloc), zmesh::deadline_in(10s)).value();
  auto oracles = mesh->spawn<Oracle>("oracle", {}, zmesh::deadline_in(10s)).value();
  auto answers = oracles.call(zmesh::parse_selection("*").value(), Question{}, zmesh::deadline_in(10s)).value();
  auto total = oracles.reduce<zmesh::Sum>(Question{}, zmesh::deadline_in(10s)).value();
  std::printf("answers: %zu, first: %d, sum: %d\n", answers.replies.size(), answers.replies.at(0),
              total.value.value_or(0));
  const bool ok = answers.replies.size() == 2 && answers.replies.at(1) == 42 && total.value == 84;
  return ok && mesh->stop(zmesh::deadline_in(10s)).ok() ? 0 : 1;
}
