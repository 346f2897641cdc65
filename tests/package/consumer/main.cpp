// Uses the installed headers and libraries of every layer: a local mesh of two procs,
// one call, one selection parsed and printed.
#include <zmesh/alloc/bootstrap.hpp>
#include <zmesh/alloc/local_allocator.hpp>
#include <zmesh/mesh/proc_mesh.hpp>
#include <zmesh/mesh/selection_text.hpp>

#include <cstdio>

struct Answer {
  ZMESH_MESSAGE("consumer.Answer");
  int value = 0;
  MSGPACK_DEFINE(value);
};

struct Question {
  ZMESH_MESSAGE("consumer.Question");
  zmesh::PortRef<Answer> reply_to;
  MSGPACK_DEFINE(reply_to);
};

class Oracle : public zmesh::Actor {
 public:
  struct Params {
    MSGPACK_DEFINE();
  };
  explicit Oracle(const Params&) {
    on<Question>([](zmesh::Context& ctx, const Question& q) { ctx.send(q.reply_to, Answer{42}); });
  }
};

int main(int argc, char** argv) {
  auto registry = std::make_shared<zmesh::Registry>();
  registry->add_actor<Oracle>("Oracle").value();
  zmesh::init(argc, argv, registry);
  zmesh::Runtime runtime(zmesh::Config{});
  zmesh::AllocSpec spec;
  spec.dimensions = {{"gpu", 2}};
  auto alloc = zmesh::LocalAllocator::allocate(runtime, spec, registry).value();
  auto mesh = zmesh::ProcMesh::allocate(runtime, std::move(alloc), zmesh::deadline_in(std::chrono::seconds(10))).value();
  auto oracles = mesh->spawn<Oracle>("oracle", {}, zmesh::deadline_in(std::chrono::seconds(10))).value();
  auto answers = oracles.call<Answer>(zmesh::parse_selection("*").value(),
                                      [](zmesh::PortRef<Answer> r) { return Question{r}; },
                                      zmesh::deadline_in(std::chrono::seconds(10)))
                     .value();
  std::printf("answers: %zu, first: %d\n", answers.replies.size(), answers.replies.at(0).value);
  return answers.replies.size() == 2 && answers.replies.at(0).value == 42 ? 0 : 1;
}
