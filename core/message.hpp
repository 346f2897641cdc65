#pragma once
// Messages: user structs with msgpack fields and a stable type name.
//   struct Ping {
//     ZMESH_MESSAGE("example.Ping");
//     std::uint64_t seq = 0;
//     MSGPACK_DEFINE(seq);
//   };
// The name travels in every envelope and selects the handler on the receiving side, so it
// must be stable across builds; a Registry rejects two types with one name.
// A message travels as payload frames: its msgpack body, then one frame per bulk field
// (zmesh::Bytes, zmesh::Tensor; bytes.hpp) that the body refers to by index. A message
// without bulk fields is the body alone.
// Thread: free functions on values.

#include "zmesh/core/bulk_scope.hpp"
#include "zmesh/core/error.hpp"
#include "zmesh/core/frame.hpp"

#include <fmt/format.h>
#include <msgpack.hpp>

#include <array>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

// Declares the stable wire name of a message type, inside its struct.
#define ZMESH_MESSAGE(type_name) \
  static constexpr std::string_view zmesh_message_name = type_name

namespace zmesh {

template <class T>
concept Message = requires {
  { T::zmesh_message_name } -> std::convertible_to<std::string_view>;
};

template <Message T>
constexpr std::string_view message_name() {
  return T::zmesh_message_name;
}

// FNV-1a of a type name: the well-known handler port of that type on every actor.
constexpr std::uint64_t message_port_index(std::string_view type_name) {
  std::uint64_t hash = 14695981039346656037ull;
  for (char c : type_name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash | (std::uint64_t{1} << 63);  // reply ports count up from 1 and never collide
}

// Limits on what a decoder accepts, so that a forged length cannot make us allocate wildly.
msgpack::unpack_limit decode_limits();

// Decodes one msgpack value from [data, data + size) into a per-thread scratch zone that
// the next call on the same thread reuses, so decoding allocates nothing in the steady
// state; strings and binaries point into `data`. Use the object before the next call.
// Throws msgpack's exceptions on malformed input or a broken decode_limits().
msgpack::object unpack_scratch(const char* data, std::size_t size);

namespace internal {
// A msgpack stream appending to a string.
struct StringSink {
  std::string& out;
  void write(const char* data, std::size_t size) { out.append(data, size); }
};
}  // namespace internal

// Serializes any msgpack-able value into a string. For header values: most are a few bytes
// and stay in the string's inline buffer, where a msgpack::sbuffer would allocate.
template <class T>
std::string encode_to_string(const T& value) {
  std::string out;
  internal::StringSink sink{out};
  msgpack::pack(sink, value);
  return out;
}

namespace internal {
// A msgpack stream that keeps small output on the stack and spills to the heap past it, so
// that a small value becomes a Frame with one allocation (Frame::copy_of).
class PackBuffer {
 public:
  void write(const char* data, std::size_t size) {
    if (spill_.empty() && size_ + size <= small_.size()) {
      std::memcpy(small_.data() + size_, data, size);
    } else {
      if (spill_.empty()) spill_.assign(small_.data(), size_);
      spill_.append(data, size);
    }
    size_ += size;
  }
  std::string_view view() const {
    return spill_.empty() ? std::string_view(small_.data(), size_) : std::string_view(spill_);
  }
  // Small output is copied once into the Frame; spilled output is moved into it.
  Frame frame() && {
    return spill_.empty() ? Frame::copy_of(view()) : Frame::from_string(std::move(spill_));
  }

 private:
  std::array<char, 512> small_;
  std::size_t size_ = 0;
  std::string spill_;
};
}  // namespace internal

// Serializes any msgpack-able value into a Frame.
template <class T>
Frame encode_value(const T& value) {
  internal::PackBuffer buffer;
  msgpack::pack(buffer, value);
  return std::move(buffer).frame();
}

// Decodes `frame` as a T; the error names `what` (usually the type name).
template <class T>
Result<T> decode_value(const Frame& frame, std::string_view what) {
  try {
    T value{};
    unpack_scratch(frame.data(), frame.size()).convert(value);
    return value;
  } catch (const std::exception& e) {
    return Error(ErrorCode::decode_error,
                 fmt::format("cannot decode {} from {} bytes: {}", what, frame.size(), e.what()));
  }
}

// The frames of any msgpack-able value: its body, then the frame of each bulk field it
// holds (Bytes, Tensor), in the order encoding met them. For values that may hold bulk
// fields: reply values, reduced values, messages (encode_frames).
template <class T>
Frames encode_value_frames(const T& value) {
  Frames frames(1);
  {
    BulkEncodeScope scope(frames);
    Frame body = encode_value(value);
    frames.front() = std::move(body);
  }
  return frames;
}

// Decodes a T from its frames (encode_value_frames); bulk fields share their frames. The
// error names `what`.
template <class T>
Result<T> decode_value_frames(const Frames& frames, std::string_view what) {
  if (frames.empty()) {
    return Error(ErrorCode::decode_error, fmt::format("{} arrived with no payload frame", what));
  }
  BulkDecodeScope scope(frames);
  return decode_value<T>(frames.front(), what);
}

// The msgpack body of `message` alone: for messages without bulk fields (a bulk field
// throws std::logic_error here, as its frame would be lost; use encode_frames).
template <Message T>
Frame encode(const T& message) {
  return encode_value(message);
}

// The payload frames of `message`: its body, then the frame of each bulk field in the order
// encoding met them. Without bulk fields this is {encode(message)}, byte for byte.
template <Message T>
Frames encode_frames(const T& message) {
  return encode_value_frames(message);
}

// Decodes a message from its body alone; a bulk reference in it is a decode_error.
template <Message T>
Result<T> decode(const Frame& frame) {
  return decode_value<T>(frame, message_name<T>());
}

// Decodes a message from all its payload frames; its bulk fields share their frames (no
// copy). A reference to a frame `payload` does not have is a decode_error naming both.
template <Message T>
Result<T> decode(const Frames& payload) {
  return decode_value_frames<T>(payload, message_name<T>());
}

}  // namespace zmesh
