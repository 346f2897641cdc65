// fuzz_bulk_messages: feeds the input to decode<T>(Frames) (core/message.hpp) of messages
// with bulk fields (zmesh::Bytes, zmesh::Tensor<T>; core/bytes.hpp, core/tensor.hpp), as a
// handler's dispatch runs it on every message it receives: a msgpack body whose bulk
// references name payload frames that may not exist, have the wrong size, or sit at an odd
// address. Layout: byte 0 is k (mod 4), the number of bulk frames; bytes 1..k their sizes;
// those frames are cut from the end of the input (odd ones at an odd address); the rest is
// the body.
// Asserts: no crash, leak, UB or runaway allocation on any bytes; a failed decode is
// decode_error; the body decoded alone (without its bulk frames) fails or decodes as well;
// what decodes holds Bytes that share the given frames (a tensor's only if aligned), tensors
// whose shape fits their elements, and re-encodes (encode_frames) to frames that decode to
// the same bytes, with a body that is stable across a second round.

#include "bulk_probe.hpp"
#include "fuzz_check.hpp"

#include "zmesh/core/message.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace zmesh;
using zmesh::fuzz::OneTensor;
using zmesh::fuzz::Probe;

// `bytes` at an odd address when `odd`, in a buffer of its own that ASan guards.
Frame frame_at(std::string_view bytes, bool odd) {
  const std::size_t shift = odd ? 1 : 0;
  auto storage = std::make_shared<std::string>(bytes.size() + shift, '\0');
  std::memcpy(storage->data() + shift, bytes.data(), bytes.size());
  return Frame::wrap(storage, storage->data() + shift, bytes.size());
}

bool inside(const Bytes& bytes, const Frames& frames) {
  if (bytes.empty()) return true;
  for (std::size_t i = 1; i < frames.size(); ++i) {
    if (bytes.data() == frames[i].bytes().data() && bytes.size() == frames[i].size()) return true;
  }
  return false;
}

template <class T>
void check_tensor(const Tensor<T>& tensor, const Frames& frames) {
  auto count = internal::tensor_elements(tensor.shape());
  FUZZ_CHECK(count.ok() && *count == tensor.size(), "a decoded tensor's shape does not fit it");
  FUZZ_CHECK(tensor.bytes().size() == tensor.size() * sizeof(T), "a tensor's bytes are not its elements");
  FUZZ_CHECK(reinterpret_cast<std::uintptr_t>(tensor.elements().data()) % alignof(T) == 0,
             "a decoded tensor is misaligned");
  (void)frames;  // shared if its frame was aligned, else a copy: either way, every byte reads
  double sum = 0;
  for (const T value : tensor.elements()) sum += static_cast<double>(value);
  (void)sum;
}

void check(const Probe& probe, const Frames& frames) {
  FUZZ_CHECK(inside(probe.data, frames), "a decoded Bytes does not share a payload frame");
  for (const auto& bytes : probe.more) FUZZ_CHECK(inside(bytes, frames), "a Bytes was copied");
  check_tensor(probe.floats, frames);
  check_tensor(probe.integers, frames);
}
void check(const OneTensor& message, const Frames& frames) { check_tensor(message.values, frames); }

bool same(const Probe& a, const Probe& b) {
  bool more = a.more.size() == b.more.size();
  for (std::size_t i = 0; more && i < a.more.size(); ++i) more = a.more[i] == b.more[i];
  return a.data == b.data && more && a.floats.bytes() == b.floats.bytes() &&
         a.floats.shape() == b.floats.shape() && a.integers.bytes() == b.integers.bytes() &&
         a.integers.shape() == b.integers.shape() && a.name == b.name;
}
bool same(const OneTensor& a, const OneTensor& b) {
  return a.values.bytes() == b.values.bytes() && a.values.shape() == b.values.shape();
}

template <class T>
void feed(const Frames& frames) {
  auto decoded = decode<T>(frames);
  if (!decoded) {
    FUZZ_CHECK(decoded.error().code == ErrorCode::decode_error, decoded.error().describe());
  } else {
    check(*decoded, frames);
    const Frames encoded = encode_frames(*decoded);
    auto again = decode<T>(encoded);
    FUZZ_CHECK(again.ok(), fmt::format("{}: re-encoded frames do not decode: {}", message_name<T>(),
                                       again.ok() ? "" : again.error().message));
    FUZZ_CHECK(same(*decoded, *again), "re-encoding changed the message");
    FUZZ_CHECK(encode_frames(*again).front().view() == encoded.front().view(),
               "the body's encoding is not stable across a decode");
  }
  auto alone = decode<T>(frames.front());
  FUZZ_CHECK(alone.ok() || alone.error().code == ErrorCode::decode_error, alone.error().describe());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t count = data[0] % 4;
  std::size_t begin = 1 + count, end = size;
  if (begin > size) return 0;
  Frames bulk;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t length = std::min<std::size_t>(data[1 + i], end - begin);
    end -= length;
    bulk.push_back(frame_at(std::string_view(reinterpret_cast<const char*>(data) + end, length), i % 2 == 1));
  }
  Frames frames{zmesh::fuzz::frame_of(data + begin, end - begin)};
  frames.insert(frames.end(), bulk.begin(), bulk.end());
  feed<Probe>(frames);
  feed<OneTensor>(frames);
  return 0;
}
