#pragma once
// Bytes: an immutable, shared byte buffer for bulk data in a message field. It travels as
// its own payload frame of the envelope, after the message's msgpack body, and the body
// holds only a reference to it (a msgpack ext value: type bulk_reference_ext, 4 bytes of
// big-endian frame index). Nothing is copied on the way: encoding shares the buffer into
// the frame list, the transport hands it to ZeroMQ, the comm tree forwards the same frame,
// and decoding gives the handler a Bytes sharing the received frame, read in place.
//   struct Blob { ZMESH_MESSAGE("app.Blob"); std::string name; zmesh::Bytes data;
//                 MSGPACK_DEFINE(name, data); };
// Lifetime: a Bytes shares ownership of its frame, so a handler may keep one (or a Tensor)
// past its turn, move it to another thread or send it on: it stays valid and unchanged
// until its last copy is gone. That is defined behaviour, at the price of holding the
// received buffer (the whole frame) that long.
// Limits: messages and reply values carry bulk fields (encode_frames, encode_value_frames);
// spawn parameters holding a Bytes fail when encoded (std::logic_error: the spawn fails with
// that text), and each Bytes is one frame of ZMESH_MAX_FRAMES.
// Thread: the bytes never change, so copies may be used from any thread.
// Failure: decoding a reference to a missing frame, or a malformed one, is a decode_error
// naming the index and the frame count (bulk_scope.hpp).

#include "zmesh/core/bulk_scope.hpp"
#include "zmesh/core/frame.hpp"

#include <msgpack.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace zmesh {

// The msgpack ext type of a reference to a bulk payload frame.
inline constexpr std::int8_t bulk_reference_ext = 0x5a;

class Bytes {
 public:
  Bytes() = default;
  // Shares `frame` (no copy).
  explicit Bytes(Frame frame) noexcept : frame_(std::move(frame)) {}
  // Takes ownership of `bytes` (no copy).
  static Bytes adopt(std::string bytes) { return Bytes(Frame::from_string(std::move(bytes))); }
  // One copy into a new buffer.
  static Bytes copy_of(std::span<const std::byte> bytes) { return Bytes(Frame::copy_of(bytes)); }
  static Bytes copy_of(std::string_view bytes) { return Bytes(Frame::copy_of(bytes)); }

  const std::byte* data() const noexcept { return frame_.bytes().data(); }
  std::size_t size() const noexcept { return frame_.size(); }
  bool empty() const noexcept { return frame_.empty(); }
  std::span<const std::byte> span() const noexcept { return frame_.bytes(); }
  std::string_view view() const noexcept { return frame_.view(); }
  const Frame& frame() const noexcept { return frame_; }

  // Same contents (not necessarily the same buffer).
  friend bool operator==(const Bytes& a, const Bytes& b) noexcept { return a.view() == b.view(); }

 private:
  Frame frame_;
};

namespace internal {
// Appends `bytes`' frame to the message being encoded; the ext body referring to it.
std::string bulk_reference_of(const Bytes& bytes);
// The Bytes a bulk reference `object` names in the message being decoded; throws
// std::runtime_error when it is not a reference or names no frame (bulk_scope.hpp).
Bytes resolve_bulk_reference(const msgpack::object& object);
}  // namespace internal

}  // namespace zmesh

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {

template <>
struct pack<zmesh::Bytes> {
  template <class Stream>
  packer<Stream>& operator()(packer<Stream>& out, const zmesh::Bytes& bytes) const {
    const std::string body = zmesh::internal::bulk_reference_of(bytes);
    out.pack_ext(body.size(), zmesh::bulk_reference_ext);
    out.pack_ext_body(body.data(), static_cast<std::uint32_t>(body.size()));
    return out;
  }
};

template <>
struct convert<zmesh::Bytes> {
  const msgpack::object& operator()(const msgpack::object& object, zmesh::Bytes& bytes) const {
    bytes = zmesh::internal::resolve_bulk_reference(object);
    return object;
  }
};

}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
}  // namespace msgpack
