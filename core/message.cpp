#include "zmesh/core/message.hpp"

namespace zmesh {

msgpack::unpack_limit decode_limits() {
  // array, map, str, bin, ext, depth: generous for real messages, tiny next to a forged
  // 4-billion-element header.
  return msgpack::unpack_limit(1u << 20, 1u << 16, 1u << 30, 1u << 31, 1u << 30, 64);
}

msgpack::object unpack_scratch(const char* data, std::size_t size) {
  // Per thread: decoders on different threads never share it, and one decode finishes
  // (its object is converted) before the next starts.
  thread_local msgpack::zone zone(4096);
  zone.clear();
  auto reference_everything = [](msgpack::type::object_type, std::size_t, void*) { return true; };
  return msgpack::unpack(zone, data, size, reference_everything, nullptr, decode_limits());
}

}  // namespace zmesh
