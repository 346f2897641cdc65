#pragma once
// Helpers shared by the libFuzzer targets of tests/fuzz: an assertion that reports and aborts
// (libFuzzer then saves the input as crash-<sha1>), and the "decode, re-encode, decode again"
// check that every msgpack message type must pass.
// Thread: each fuzz target runs single-threaded; nothing here is shared between threads.

#include "zmesh/core/frame.hpp"
#include "zmesh/core/message.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

// Fails the current input: prints what broke, then aborts so libFuzzer records a crash.
#define FUZZ_CHECK(cond, what)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   #cond, std::string(what).c_str());                                       \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace zmesh::fuzz {

// The input as one frame (a copy, so the decoder cannot read past the fuzzer's buffer unseen:
// ASan guards the copy's heap block).
inline Frame frame_of(const std::uint8_t* data, std::size_t size) {
  return Frame::copy_of(std::string_view(reinterpret_cast<const char*>(data), size));
}

// Decodes `frame` as T; if that works, T must re-encode to bytes that decode again, and
// re-encoding that second value must give the same bytes (the encoding is stable, so a value
// forwarded through any number of hops stays the same). Returns the decoded value, if any.
template <class T>
Result<T> decode_stable(const Frame& frame, std::string_view what) {
  auto first = decode_value<T>(frame, what);
  if (!first) return first;
  const Frame encoded = encode_value(*first);
  auto second = decode_value<T>(encoded, what);
  FUZZ_CHECK(second.ok(), fmt::format("{}: re-encoded value does not decode: {}", what,
                                             second.ok() ? "" : second.error().message));
  const Frame again = encode_value(*second);
  FUZZ_CHECK(encoded.view() == again.view(),
             fmt::format("{}: encoding is not stable across a decode ({} vs {} bytes)", what,
                         encoded.size(), again.size()));
  return first;
}

}  // namespace zmesh::fuzz
