#include "zmesh/core/message.hpp"

namespace zmesh {
namespace {

bool reference_everything(msgpack::type::object_type, std::size_t, void*) { return true; }

// One thread's decoding state: the zone the objects live in and the parser. msgpack::unpack
// builds a new parser per call, whose stack is a std::vector: a heap allocation (and more as
// it grows) for every message. This parser keeps its stack's capacity from call to call.
struct Scratch {
  msgpack::zone zone{4096};
  msgpack::v1::detail::context parser{reference_everything, nullptr, decode_limits()};
};

}  // namespace

msgpack::unpack_limit decode_limits() {
  // array, map, str, bin, ext, depth: generous for real messages, tiny next to a forged
  // 4-billion-element header.
  return msgpack::unpack_limit(1u << 20, 1u << 16, 1u << 30, 1u << 31, 1u << 30, 64);
}

msgpack::object unpack_scratch(const char* data, std::size_t size) {
  // Per thread: decoders on different threads never share it, and one decode finishes
  // (its object is converted) before the next starts. A parse that threw left the parser
  // mid-value; init() starts it afresh.
  thread_local Scratch scratch;
  scratch.zone.clear();
  auto& parser = scratch.parser;
  parser.init();
  parser.user().set_zone(scratch.zone);
  parser.user().set_referenced(false);
  std::size_t offset = 0;
  const int state = size == 0 ? 0 : parser.execute(data, size, offset);
  if (state < 0) throw msgpack::parse_error("parse error");
  if (state == 0) throw msgpack::insufficient_bytes("insufficient bytes");
  return parser.data();  // bytes after the value are ignored, as msgpack::unpack does
}

}  // namespace zmesh
