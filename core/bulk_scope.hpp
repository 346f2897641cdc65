#pragma once
// Bulk scopes: how a message's bulk fields (zmesh::Bytes, zmesh::Tensor) reach the payload
// frames of the message being encoded or decoded. encode_frames() and decode(Frames) in
// message.hpp open one around a single encode or decode; nothing else needs to.
// Thread: each scope belongs to the thread that opened it and lasts one encode or decode.
//
// Why a per-thread scope and not a context argument: msgpack calls a field's adaptor with
// only the packer (encoding) or the msgpack::object (decoding), through MSGPACK_DEFINE of
// every enclosing struct, so no argument of ours can reach a Bytes nested anywhere in a
// user's message. The scope is the smallest way there that leaves MSGPACK_DEFINE as it is:
// an RAII guard points this thread at the frame list for the length of one call and puts
// back what was there before (scopes nest), so it is not shared state: no other thread and
// no later call can see it.
// Failure: a Bytes encoded with no scope open (encode(), encode_value(), spawn parameters)
// throws std::logic_error, as its bytes would otherwise be lost; a reference resolved with
// no scope, or to a frame the message does not have, throws std::runtime_error naming the
// index and the frame count, which decode_value turns into a decode_error.

#include "zmesh/core/frame.hpp"

#include <cstdint>

namespace zmesh {

// While alive, bulk fields encoded on this thread append their frame to `frames` (whose
// first frame is kept for the message's msgpack body) and write only its index.
class BulkEncodeScope {
 public:
  explicit BulkEncodeScope(Frames& frames) noexcept;
  ~BulkEncodeScope();
  BulkEncodeScope(const BulkEncodeScope&) = delete;
  BulkEncodeScope& operator=(const BulkEncodeScope&) = delete;

 private:
  Frames* previous_;
};

// While alive, bulk references decoded on this thread resolve to frames of `frames` (the
// payload of the message being decoded; frame 0 is its msgpack body). `frames` must outlive
// the scope; a resolved Bytes shares its frame and may outlive both.
class BulkDecodeScope {
 public:
  explicit BulkDecodeScope(const Frames& frames) noexcept;
  ~BulkDecodeScope();
  BulkDecodeScope(const BulkDecodeScope&) = delete;
  BulkDecodeScope& operator=(const BulkDecodeScope&) = delete;

 private:
  const Frames* previous_;
};

namespace internal {
// Appends `frame` to the payload of the message this thread is encoding; its index there.
// Throws std::logic_error with no BulkEncodeScope open.
std::uint32_t append_bulk_frame(Frame frame);
// Frame `index` of the message this thread is decoding. Throws std::runtime_error naming
// the index and the frame count when it does not exist, is the body (0), or no
// BulkDecodeScope is open.
const Frame& bulk_frame(std::uint64_t index);
}  // namespace internal

}  // namespace zmesh
