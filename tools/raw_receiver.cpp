#include "zmesh/tools/raw_receiver.hpp"

#include "zmesh/transport/security.hpp"

#include <fmt/format.h>

#include <cstring>

namespace zmesh::tools {

Result<zmq::socket_t> raw_receiver_socket(zmq::context_t& context, const std::string& address,
                                          std::optional<std::uint32_t> rank, const Config& config) {
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  if (rank) dealer.set(zmq::sockopt::routing_id, fmt::format("r{}", *rank));
  dealer.set(zmq::sockopt::rcvhwm, 0);
  if (auto secured = secure_socket(dealer, address, config, SocketRole::client); !secured) {
    return std::move(secured).error();
  }
  dealer.connect(address);
  return dealer;
}

void read_every_byte(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::uint64_t sum = 0;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    sum += word;
  }
  for (; i < size; ++i) sum += bytes[i];
  asm volatile("" : : "r"(sum) : "memory");  // the sum is used: no read may be skipped
}

void run_raw_receiver(zmq::socket_t& dealer) {
  try {
    dealer.send(zmq::str_buffer("hello"), zmq::send_flags::none);
    for (;;) {
      zmq::message_t seq, payload;
      if (!dealer.recv(seq)) continue;
      if (!seq.more()) return;  // a lone frame: stop
      if (!dealer.recv(payload)) return;
      read_every_byte(payload.data(), payload.size());
      dealer.send(seq, zmq::send_flags::none);  // the 8-byte reply
    }
  } catch (const zmq::error_t& e) {
    if (e.num() != ETERM) throw;  // ETERM: the context is shutting down, the way to stop
  }
}

}  // namespace zmesh::tools
