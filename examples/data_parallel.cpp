// A data-parallel training loop, as a user writes one: a {host=2,gpu=4} mesh of processes,
// each holding the model's parameters; every step each rank computes a gradient (1 MiB of
// floats), the gradients are summed across ranks and the sum comes back to every rank,
// which applies it. zmesh does a step with one allreduce; the same loop on raw cppzmq
// (gather to the controller, sum, send the sum to every worker) runs first, in the same
// program, on the same machine, and the example prints both rates and their ratio.
// Run: build-release/examples/data_parallel [--steps N] [--mib M] [--transport ipc|tcp]
#include <zmesh/zmesh.hpp>

#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.hpp>

#include <csignal>
#include <cstring>
#include <filesystem>

using namespace std::chrono_literals;

namespace data_parallel {

// -- the model: the same arithmetic on both sides --

// Every rank's gradient reads every parameter: g[i] = 0.001 * p[i] + rank + step % 7.
std::vector<float> gradient(std::span<const float> params, std::uint32_t rank, std::uint32_t step) {
  std::vector<float> grads(params.size());
  const float shift = static_cast<float>(rank + step % 7);
  for (std::size_t i = 0; i < params.size(); ++i) grads[i] = 0.001f * params[i] + shift;
  return grads;
}

// Applies the summed gradient (reading every element) and returns a checksum of the result.
double apply(std::vector<float>& params, std::span<const float> sum, std::uint32_t ranks) {
  const float rate = 0.01f / static_cast<float>(ranks);
  double checksum = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    params[i] -= rate * sum[i];
    checksum += params[i];
  }
  return checksum;
}

std::vector<float> initial_params(std::size_t count) {
  std::vector<float> params(count);
  for (std::size_t i = 0; i < count; ++i) params[i] = static_cast<float>(i % 1000) / 1000.0f;
  return params;
}

// -- zmesh: an actor per proc --

struct Backward {
  ZMESH_MESSAGE("data_parallel.Backward");
  std::uint32_t step = 0;
  MSGPACK_DEFINE(step);
};
struct Apply {
  ZMESH_MESSAGE("data_parallel.Apply");
  zmesh::Tensor<float> sum;  // travels as its own frame, read in place
  MSGPACK_DEFINE(sum);
};

class Trainer : public zmesh::Actor {
 public:
  struct Params {
    std::uint64_t elements = 0;
    std::uint32_t ranks = 0;
    MSGPACK_DEFINE(elements, ranks);
  };
  explicit Trainer(const Params& params)
      : params_(initial_params(params.elements)), ranks_(params.ranks) {}

  zmesh::Tensor<float> backward(zmesh::Context& ctx, const Backward& message) {
    return zmesh::Tensor<float>(gradient(params_, ctx.rank(), message.step));  // adopted, no copy
  }
  double apply_sum(const Apply& message) { return apply(params_, message.sum.elements(), ranks_); }
  using Handlers = zmesh::Handlers<&Trainer::backward, &Trainer::apply_sum>;

 private:
  std::vector<float> params_;
  std::uint32_t ranks_;
};

std::shared_ptr<zmesh::Registry> registry() {
  auto registry = std::make_shared<zmesh::Registry>();
  registry->add_actor<Trainer>("DataParallelTrainer").value();
  return registry;
}

struct Options {
  std::uint32_t steps = 40;
  std::uint32_t mib = 1;
  zmesh::AllocTransport transport = zmesh::AllocTransport::ipc;
  std::size_t elements() const { return std::size_t{mib} << 18; }
};

constexpr std::uint32_t ranks = 8;  // {host=2,gpu=4}

double per_second(std::uint32_t steps, zmesh::Clock::duration took) {
  return steps / std::chrono::duration<double>(took).count();
}

double run_zmesh(const std::shared_ptr<zmesh::Registry>& registry, const Options& options) {
  using namespace zmesh;
  Runtime runtime(Config::from_environment().value());
  AllocSpec spec;
  spec.dimensions = {{"host", 2}, {"gpu", 4}};
  spec.transport = options.transport;
  auto alloc = ProcessAllocator::allocate(runtime, spec, registry).value();
  auto procs = ProcMesh::allocate(runtime, std::move(alloc), deadline_in(60s)).value();
  auto trainers =
      procs->spawn<Trainer>("trainer", {options.elements(), ranks}, deadline_in(30s)).value();

  auto step = [&](std::uint32_t number) {
    auto reduced = trainers.allreduce<Sum>(
        Backward{number}, [](const Tensor<float>& sum) { return Apply{sum}; }, deadline_in(30s));
    if (!reduced || !reduced->complete()) {
      throw Exception(reduced ? reduced->missing.begin()->second : reduced.error());
    }
  };
  step(0);  // warm-up: connections, first buffers
  const auto start = Clock::now();
  for (std::uint32_t i = 1; i <= options.steps; ++i) {
    step(i);
    if (i % 10 == 0) fmt::print("      zmesh: step {}/{}\n", i, options.steps);
  }
  const double rate = per_second(options.steps, Clock::now() - start);
  procs->stop(deadline_in(30s)).value();
  return rate;
}

// -- raw cppzmq: the same loop, written by hand --

// A worker process: DEALER to the controller's ROUTER. Messages: "B"+step -> its gradient;
// the summed gradient -> an 8-byte checksum; "Q" -> exit.
[[noreturn]] void raw_worker(const std::string& endpoint, std::uint32_t rank, std::size_t elements) {
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(endpoint);
  socket.send(zmq::buffer(&rank, sizeof rank));
  std::vector<float> params = initial_params(elements);
  for (;;) {
    zmq::message_t request;
    if (!socket.recv(request)) continue;
    if (request.size() == 1) break;  // "Q"
    if (request.size() == 1 + sizeof(std::uint32_t)) {
      std::uint32_t step = 0;
      std::memcpy(&step, request.data<char>() + 1, sizeof step);
      auto grads = std::make_unique<std::vector<float>>(gradient(params, rank, step));
      auto* owned = grads.release();
      socket.send(zmq::message_t(owned->data(), owned->size() * sizeof(float),
                                 [](void*, void* hint) { delete static_cast<std::vector<float>*>(hint); },
                                 owned),
                  zmq::send_flags::none);
    } else {
      const double checksum =
          apply(params, {request.data<float>(), request.size() / sizeof(float)}, ranks);
      socket.send(zmq::buffer(&checksum, sizeof checksum));
    }
  }
  std::_Exit(0);
}

// The controller's endpoint travels to the forked workers through a pipe, one fixed-size
// record each (a write of at most PIPE_BUF bytes is atomic, so each read gets one whole).
constexpr std::size_t endpoint_record = 256;

double run_raw(const Options& options) {
  // The workers are forked before this process creates any ZeroMQ state: a child must not
  // inherit a context's sockets and its threads' descriptors.
  int endpoint_pipe[2];
  if (::pipe(endpoint_pipe) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
  std::vector<pid_t> workers;
  for (std::uint32_t rank = 0; rank < ranks; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the controller
      char record[endpoint_record] = {};
      if (::read(endpoint_pipe[0], record, sizeof record) != static_cast<ssize_t>(sizeof record)) std::_Exit(1);
      raw_worker(record, rank, options.elements());
    }
    workers.push_back(pid);
  }
  ::close(endpoint_pipe[0]);
  zmq::context_t context(1);
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind(options.transport == zmesh::AllocTransport::tcp
                  ? std::string("tcp://127.0.0.1:0")
                  : fmt::format("ipc://{}/zmesh-data-parallel-{}.ipc",
                                std::filesystem::temp_directory_path().string(), ::getpid()));
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  char record[endpoint_record] = {};
  endpoint.copy(record, sizeof record - 1);
  for (std::uint32_t rank = 0; rank < ranks; ++rank) {
    if (::write(endpoint_pipe[1], record, sizeof record) != static_cast<ssize_t>(sizeof record)) {
      throw std::runtime_error(fmt::format("write to the workers: {}", std::strerror(errno)));
    }
  }
  ::close(endpoint_pipe[1]);
  std::vector<zmq::message_t> identity(ranks);
  for (std::uint32_t i = 0; i < ranks; ++i) {
    zmq::message_t id;
    zmq::message_t hello;
    (void)router.recv(id);
    (void)router.recv(hello);
    std::uint32_t rank = 0;
    std::memcpy(&rank, hello.data(), sizeof rank);
    identity.at(rank).copy(id);
  }
  auto send_to = [&](std::uint32_t rank, zmq::message_t body) {
    zmq::message_t id;
    id.copy(identity[rank]);
    router.send(id, zmq::send_flags::sndmore);
    router.send(body, zmq::send_flags::none);
  };

  auto step = [&](std::uint32_t number) {
    for (std::uint32_t rank = 0; rank < ranks; ++rank) {
      std::string request(1 + sizeof number, 'B');
      std::memcpy(request.data() + 1, &number, sizeof number);
      send_to(rank, zmq::message_t(request.data(), request.size()));
    }
    auto sum = std::make_shared<std::vector<float>>(options.elements(), 0.0f);
    for (std::uint32_t i = 0; i < ranks; ++i) {
      zmq::message_t id;
      zmq::message_t grads;
      (void)router.recv(id);
      (void)router.recv(grads);
      const float* g = grads.data<float>();
      for (std::size_t k = 0; k < sum->size(); ++k) (*sum)[k] += g[k];
    }
    for (std::uint32_t rank = 0; rank < ranks; ++rank) {
      // Shares the sum with ZeroMQ, no copy: as zmesh shares the allreduce's result.
      auto* keeper = new std::shared_ptr<std::vector<float>>(sum);
      send_to(rank, zmq::message_t(sum->data(), sum->size() * sizeof(float),
                                   [](void*, void* hint) {
                                     delete static_cast<std::shared_ptr<std::vector<float>>*>(hint);
                                   },
                                   keeper));
    }
    for (std::uint32_t i = 0; i < ranks; ++i) {
      zmq::message_t id;
      zmq::message_t checksum;
      (void)router.recv(id);
      (void)router.recv(checksum);
    }
  };
  step(0);
  const auto start = zmesh::Clock::now();
  for (std::uint32_t i = 1; i <= options.steps; ++i) {
    step(i);
    if (i % 10 == 0) fmt::print("      raw: step {}/{}\n", i, options.steps);
  }
  const double rate = per_second(options.steps, zmesh::Clock::now() - start);
  for (std::uint32_t rank = 0; rank < ranks; ++rank) send_to(rank, zmq::message_t("Q", 1));
  for (pid_t pid : workers) ::waitpid(pid, nullptr, 0);
  if (options.transport == zmesh::AllocTransport::ipc) {
    std::filesystem::remove(endpoint.substr(std::string_view("ipc://").size()));
  }
  return rate;
}

int usage() {
  fmt::print(stderr, "usage: data_parallel [--steps N] [--mib M] [--transport ipc|tcp]\n");
  return 2;
}

}  // namespace data_parallel

int main(int argc, char** argv) {
  using namespace data_parallel;
  auto registry = data_parallel::registry();
  zmesh::init(argc, argv, registry);  // a process started as a proc runs it here, never returns
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string value = argv[++i];
    try {
      if (arg == "--steps") {
        options.steps = static_cast<std::uint32_t>(std::stoul(value));
      } else if (arg == "--mib") {
        options.mib = static_cast<std::uint32_t>(std::stoul(value));
      } else if (arg == "--transport") {
        auto parsed = zmesh::parse_alloc_transport(value);
        if (!parsed) {
          fmt::print(stderr, "data_parallel: {}\n", parsed.error().message);
          return 2;
        }
        options.transport = *parsed;
      } else {
        return usage();
      }
    } catch (const std::exception&) {
      fmt::print(stderr, "data_parallel: {} needs a number, not \"{}\"\n", arg, value);
      return 2;
    }
  }
  if (options.steps == 0 || options.mib == 0) return usage();
  try {
    fmt::print("data_parallel: {} ranks ({{host=2,gpu=4}}), {} MiB of float gradients up and the "
               "sum back down per step, {} steps, {}\n",
               ranks, options.mib, options.steps, zmesh::to_string(options.transport));
    // Raw first: it forks its workers, which must happen before zmesh starts any thread.
    fmt::print("[1/2] raw cppzmq: gather to the controller, sum, send the sum to every worker\n");
    const double raw = run_raw(options);
    fmt::print("      {:.1f} steps/s\n", raw);
    fmt::print("[2/2] zmesh: allreduce<Sum> of Tensor<float> gradients over a process mesh\n");
    const double zmesh_rate = run_zmesh(registry, options);
    fmt::print("      {:.1f} steps/s\n", zmesh_rate);
    fmt::print("zmesh {:.1f} steps/s, raw cppzmq {:.1f} steps/s: {:.2f}x raw\n", zmesh_rate, raw,
               zmesh_rate / raw);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "data_parallel failed: {}\n", e.what());
    return 1;
  }
}
