#include "zmesh/tools/raw_reducer.hpp"

#include "zmesh/tools/bench_reduce_actors.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

namespace zmesh::tools {
namespace {

// A message owning `gradient`'s buffer, sent without a copy, as zmesh sends the tensor.
zmq::message_t adopt(std::vector<float> gradient) {
  auto* owned = new std::vector<float>(std::move(gradient));
  return zmq::message_t(
      owned->data(), owned->size() * sizeof(float),
      [](void*, void* hint) { delete static_cast<std::vector<float>*>(hint); }, owned);
}

// The elements of a received frame, which ZeroMQ may place at any address: copied into an
// aligned buffer only when misaligned, as zmesh's Tensor does.
double read_frame(const zmq::message_t& frame) {
  const std::size_t floats = frame.size() / sizeof(float);
  if (reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(float) == 0) {
    return read_every_element({static_cast<const float*>(frame.data()), floats});
  }
  std::vector<float> copy(floats);
  std::memcpy(copy.data(), frame.data(), floats * sizeof(float));
  return read_every_element(copy);
}

}  // namespace

void run_raw_reducer(zmq::socket_t& dealer, std::uint32_t rank) {
  try {
    dealer.send(zmq::str_buffer("hello"), zmq::send_flags::none);
    for (;;) {
      zmq::message_t seq, floats;
      if (!dealer.recv(seq)) continue;
      if (!seq.more()) return;  // a lone frame: stop
      if (!dealer.recv(floats) || floats.size() != sizeof(std::uint64_t)) return;
      std::uint64_t count = 0;
      std::memcpy(&count, floats.data(), sizeof count);
      dealer.send(seq, zmq::send_flags::sndmore);
      if (!floats.more()) {
        dealer.send(adopt(bench_gradient(rank, count)), zmq::send_flags::none);
        continue;
      }
      zmq::message_t sum;
      if (!dealer.recv(sum)) return;
      const double read = read_frame(sum);
      dealer.send(zmq::buffer(&read, sizeof read), zmq::send_flags::none);
    }
  } catch (const zmq::error_t& e) {
    if (e.num() != ETERM) throw;  // ETERM: the context is shutting down, the way to stop
  }
}

}  // namespace zmesh::tools
