#include "zmesh/core/bulk_scope.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace zmesh {
namespace {

// The frame lists of the encode and the decode this thread is running, if any; only the
// scopes below set them, and each puts back the previous value (see bulk_scope.hpp).
thread_local Frames* encoding = nullptr;
thread_local const Frames* decoding = nullptr;

}  // namespace

BulkEncodeScope::BulkEncodeScope(Frames& frames) noexcept : previous_(encoding) {
  encoding = &frames;
}
BulkEncodeScope::~BulkEncodeScope() { encoding = previous_; }

BulkDecodeScope::BulkDecodeScope(const Frames& frames) noexcept : previous_(decoding) {
  decoding = &frames;
}
BulkDecodeScope::~BulkDecodeScope() { decoding = previous_; }

namespace internal {

std::uint32_t append_bulk_frame(Frame frame) {
  if (encoding == nullptr) {
    throw std::logic_error(
        "a zmesh::Bytes or zmesh::Tensor was encoded outside a message's encode_frames(): "
        "bulk fields travel as their own payload frames, which only a message sent with "
        "make_envelope, Sender::send or ActorMesh cast/call/reduce carries (replies and "
        "parameters cannot hold them yet)");
  }
  if (encoding->empty()) encoding->emplace_back();  // frame 0 stays the msgpack body
  encoding->push_back(std::move(frame));
  return static_cast<std::uint32_t>(encoding->size() - 1);
}

const Frame& bulk_frame(std::uint64_t index) {
  const std::size_t count = decoding == nullptr ? 1 : decoding->size();
  if (decoding == nullptr || index == 0 || index >= count) {
    throw std::runtime_error(fmt::format(
        "bulk reference to payload frame {}, but the message has {} frame{} (frame 0 is its "
        "msgpack body{})",
        index, count, count == 1 ? "" : "s",
        decoding == nullptr ? "; it was decoded without its bulk frames" : ""));
  }
  return (*decoding)[index];
}

}  // namespace internal
}  // namespace zmesh
