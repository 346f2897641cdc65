#pragma once
// Messages with bulk fields for fuzz_bulk_messages and its seeds (make_seeds.cpp), and the
// target's input layout: [k][k frame sizes][body][frame k-1]...[frame 0].
// Thread: values and a pure function.

#include "zmesh/core/bytes.hpp"
#include "zmesh/core/message.hpp"
#include "zmesh/core/tensor.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace zmesh::fuzz {

struct Probe {
  ZMESH_MESSAGE("fuzz.Probe");
  Bytes data;
  Tensor<float> floats;
  std::vector<Bytes> more;
  Tensor<std::int64_t> integers;
  std::string name;
  MSGPACK_DEFINE(data, floats, more, integers, name);
};

struct OneTensor {
  ZMESH_MESSAGE("fuzz.OneTensor");
  Tensor<double> values;
  MSGPACK_DEFINE(values);
};

// `frames` (a body and at most 3 bulk frames of at most 255 bytes) as a fuzz input.
inline std::string bulk_input(const Frames& frames) {
  std::string input(1, static_cast<char>(frames.size() - 1));
  for (std::size_t i = 1; i < frames.size(); ++i) input += static_cast<char>(frames[i].size());
  input += frames.front().view();
  for (std::size_t i = frames.size() - 1; i >= 1; --i) input += frames[i].view();
  return input;
}

}  // namespace zmesh::fuzz
