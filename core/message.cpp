#include "zmesh/core/message.hpp"

namespace zmesh {

msgpack::unpack_limit decode_limits() {
  // array, map, str, bin, ext, depth: generous for real messages, tiny next to a forged
  // 4-billion-element header.
  return msgpack::unpack_limit(1u << 20, 1u << 16, 1u << 30, 1u << 31, 1u << 30, 64);
}

}  // namespace zmesh
