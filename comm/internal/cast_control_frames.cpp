#include "zmesh/comm/internal/cast_control_frames.hpp"

#include "zmesh/comm/internal/rank_runs.hpp"

#include <msgpack.hpp>

#include <cstring>
#include <memory>

namespace zmesh::comm::internal {
namespace {

// msgpack's packer writes to anything with write(data, size).
struct AppendTo {
  std::string& out;
  void write(const char* data, std::size_t size) { out.append(data, size); }
};

}  // namespace

CastControlFrames::CastControlFrames(const CastControl& control) {
  AppendTo before{before_ranks_};
  msgpack::packer<AppendTo> head(before);
  head.pack_array(cast_control_fields);
  head.pack(control.mesh);
  head.pack(control.cast_id);
  head.pack(control.origin);
  head.pack(control.actor);
  head.pack(control.type_name);
  head.pack(control.shape);
  head.pack(control.fanout);
  head.pack(control.generation);
  AppendTo after{after_ranks_};
  msgpack::packer<AppendTo> tail(after);
  tail.pack(control.headers);
  tail.pack(control.reduce);
  tail.pack(control.reduction);
}

Frame CastControlFrames::with_ranks(std::span<const std::size_t> ranks,
                                    std::span<const std::uint64_t> counters) {
  compress(ranks, counters, runs_);
  ranks_.clear();
  AppendTo sink{ranks_};
  msgpack::pack(sink, runs_);
  const std::size_t size = before_ranks_.size() + ranks_.size() + after_ranks_.size();
  std::shared_ptr<char[]> bytes = std::make_shared_for_overwrite<char[]>(size);
  char* at = bytes.get();
  for (const std::string* piece : {&before_ranks_, &ranks_, &after_ranks_}) {
    std::memcpy(at, piece->data(), piece->size());
    at += piece->size();
  }
  const char* data = bytes.get();
  return Frame::wrap(std::move(bytes), data, size);
}

}  // namespace zmesh::comm::internal
