#pragma once
// ValueMesh<T>: one value per rank of a shape, run-length compressed - adjacent ranks with
// equal values share one run - so that "every rank said ok" is one run however many ranks
// there are. What the Gather reducer returns; ranks that gave no value have no run.
// On the wire it is just its runs (an array of [start, count, value]), which is also what the
// comm tree's relays fold without knowing T.
// Thread: value type. Failure: none; get() of a rank without a value is nullptr.

#include "zmesh/mesh/extent.hpp"

#include <msgpack.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace zmesh {

// Ranks start .. start+count-1 all hold `value`.
template <class T>
struct ValueRun {
  std::uint32_t start = 0;
  std::uint32_t count = 0;
  T value{};
  friend bool operator==(const ValueRun&, const ValueRun&) = default;
  MSGPACK_DEFINE(start, count, value);
};

template <class T>
class ValueMesh {
 public:
  ValueMesh() = default;
  // `runs` ascending and disjoint; adjacent runs with equal values are merged.
  ValueMesh(Extent extent, std::vector<ValueRun<T>> runs) : extent_(std::move(extent)) {
    for (auto& run : runs) append(std::move(run));
  }

  // The shape's dimensions (the cast's shape for a gathered reduce).
  const Extent& extent() const noexcept { return extent_; }
  const std::vector<ValueRun<T>>& runs() const noexcept { return runs_; }
  // How many ranks hold a value.
  std::size_t size() const noexcept {
    std::size_t total = 0;
    for (const auto& run : runs_) total += run.count;
    return total;
  }
  // The value of `rank`, or nullptr when it has none.
  const T* get(std::uint32_t rank) const {
    auto after =
        std::upper_bound(runs_.begin(), runs_.end(), rank,
                         [](std::uint32_t r, const ValueRun<T>& run) { return r < run.start; });
    if (after == runs_.begin()) return nullptr;
    const auto& run = *std::prev(after);
    return rank < run.start + run.count ? &run.value : nullptr;
  }
  // Every rank with its value, uncompressed.
  std::map<std::uint32_t, T> to_map() const {
    std::map<std::uint32_t, T> values;
    for (const auto& run : runs_) {
      for (std::uint32_t i = 0; i < run.count; ++i) values.emplace(run.start + i, run.value);
    }
    return values;
  }

  template <class Packer>
  void msgpack_pack(Packer& packer) const {
    packer.pack(runs_);
  }
  void msgpack_unpack(const msgpack::object& object) {
    runs_.clear();
    for (auto& run : object.as<std::vector<ValueRun<T>>>()) append(std::move(run));
  }

 private:
  void append(ValueRun<T> run) {
    if (run.count == 0) return;
    if (!runs_.empty() && runs_.back().start + runs_.back().count == run.start &&
        runs_.back().value == run.value) {
      runs_.back().count += run.count;
      return;
    }
    runs_.push_back(std::move(run));
  }

  Extent extent_;
  std::vector<ValueRun<T>> runs_;
};

}  // namespace zmesh
