#include "zmesh/mesh/slice.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <span>

namespace zmesh {

namespace {

constexpr std::size_t kMaxRank = std::numeric_limits<std::size_t>::max();

std::string list(const std::vector<std::size_t>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(values[i]);
  }
  return text + "]";
}

Error invalid(std::string message) {
  return make_error(ErrorCode::invalid_argument, std::move(message));
}

}  // namespace

Result<Slice> Slice::create(std::size_t offset, std::vector<std::size_t> sizes,
                            std::vector<std::size_t> strides) {
  const std::string described = "slice offset=" + std::to_string(offset) + " sizes=" + list(sizes) +
                                " strides=" + list(strides);
  if (sizes.size() != strides.size()) {
    return invalid(described + " has " + std::to_string(sizes.size()) + " sizes but " +
                   std::to_string(strides.size()) + " strides; give one stride per size");
  }
  std::size_t num_ranks = 1;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0) {
      return invalid(described + ": dimension " + std::to_string(i) +
                     " has size 0; every dimension needs at least one index");
    }
    if (num_ranks > kMaxRank / sizes[i]) return invalid(described + ": too many ranks");
    num_ranks *= sizes[i];
  }
  // Every point gets its own base rank if, taking the dimensions by increasing stride, each
  // stride is larger than the span the smaller ones cover (a mixed-radix number system).
  // This is also what lets coords_of() recover coordinates greedily.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] > 1) order.push_back(i);
  }
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return strides[a] < strides[b]; });
  std::size_t span = 1;  // one past the largest offset reachable so far
  for (std::size_t dim : order) {
    if (strides[dim] < span) {
      return invalid(described + ": stride " + std::to_string(strides[dim]) + " of dimension " +
                     std::to_string(dim) + " is smaller than " + std::to_string(span) +
                     ", the span of the dimensions with smaller strides, so two points would "
                     "share a rank");
    }
    const std::size_t extra = sizes[dim] - 1;
    if (strides[dim] > (kMaxRank - span) / extra) return invalid(described + ": ranks overflow");
    span += strides[dim] * extra;
  }
  if (offset > kMaxRank - span) return invalid(described + ": ranks overflow");
  return Slice(offset, std::move(sizes), std::move(strides), num_ranks);
}

Result<Slice> Slice::row_major(std::vector<std::size_t> sizes) {
  std::vector<std::size_t> strides(sizes.size(), 1);
  std::size_t stride = 1;
  for (std::size_t i = sizes.size(); i-- > 0;) {
    strides[i] = stride;
    // A zero size or an overflow is reported by create(); keep the arithmetic defined here.
    if (sizes[i] != 0 && stride <= kMaxRank / sizes[i]) stride *= sizes[i];
  }
  return create(0, std::move(sizes), std::move(strides));
}

bool Slice::is_dense() const noexcept {
  if (offset_ != 0) return false;
  std::size_t stride = 1;
  for (std::size_t i = sizes_.size(); i-- > 0;) {
    if (strides_[i] != stride) return false;
    stride *= sizes_[i];
  }
  return true;
}

Result<std::size_t> Slice::base_rank(std::span<const std::size_t> coords) const {
  if (coords.size() != num_dims()) {
    return invalid(std::to_string(coords.size()) + " coordinates given for " + to_string() +
                   ", which has " + std::to_string(num_dims()) + " dimensions");
  }
  std::size_t rank = offset_;
  for (std::size_t i = 0; i < num_dims(); ++i) {
    if (coords[i] >= sizes_[i]) {
      return invalid("coordinate " + std::to_string(coords[i]) + " of dimension " +
                     std::to_string(i) + " is out of range for " + to_string() + ": dimension " +
                     std::to_string(i) + " has " + std::to_string(sizes_[i]) + " indices");
    }
    rank += coords[i] * strides_[i];
  }
  return rank;
}

namespace {

// Room for one number per dimension, on the stack for the usual few: every cast delivery
// asks for a rank's coordinates (twice), and a vector was an allocation each time.
class PerDimension {
 public:
  explicit PerDimension(std::size_t dims) {
    if (dims > small_.size()) large_.resize(dims);
    values_ = dims > small_.size() ? std::span(large_) : std::span(small_).first(dims);
  }
  PerDimension(const PerDimension&) = delete;  // values_ may point into this object
  PerDimension& operator=(const PerDimension&) = delete;
  std::span<std::size_t> values() const { return values_; }

 private:
  std::array<std::size_t, 16> small_{};
  std::vector<std::size_t> large_;
  std::span<std::size_t> values_;
};

}  // namespace

bool Slice::find_coords(std::size_t base_rank, std::span<std::size_t> coords) const {
  if (base_rank < offset_) return false;
  std::size_t rest = base_rank - offset_;
  PerDimension order_buffer(num_dims());
  std::size_t* order = order_buffer.values().data();
  std::size_t count = 0;
  for (std::size_t i = 0; i < num_dims(); ++i) {
    if (sizes_[i] > 1) order[count++] = i;
  }
  // The dimensions by falling stride.
  std::sort(order, order + count,
            [&](std::size_t a, std::size_t b) { return strides_[a] > strides_[b]; });
  std::fill(coords.begin(), coords.end(), 0);
  for (std::size_t dim : std::span(order, count)) {
    const std::size_t coord = rest / strides_[dim];
    if (coord >= sizes_[dim]) return false;
    coords[dim] = coord;
    rest -= coord * strides_[dim];
  }
  return rest == 0;
}

Result<std::vector<std::size_t>> Slice::coords_of(std::size_t base_rank) const {
  std::vector<std::size_t> coords(num_dims());
  if (!find_coords(base_rank, coords)) {
    return make_error(ErrorCode::not_found,
                      "base rank " + std::to_string(base_rank) + " is not in " + to_string());
  }
  return coords;
}

bool Slice::contains(std::size_t base_rank) const {
  PerDimension coords(num_dims());
  return find_coords(base_rank, coords.values());
}

Result<std::size_t> Slice::base_rank_of(std::size_t view_rank) const {
  if (view_rank >= num_ranks_) {
    return invalid("view rank " + std::to_string(view_rank) + " is out of range for " +
                   to_string() + ", which has " + std::to_string(num_ranks_) + " ranks");
  }
  std::size_t rank = offset_;
  for (std::size_t i = num_dims(); i-- > 0;) {
    rank += (view_rank % sizes_[i]) * strides_[i];
    view_rank /= sizes_[i];
  }
  return rank;
}

Result<std::size_t> Slice::view_rank_of(std::size_t base_rank) const {
  PerDimension coords(num_dims());
  if (!find_coords(base_rank, coords.values())) {
    return make_error(ErrorCode::not_found,
                      "base rank " + std::to_string(base_rank) + " is not in " + to_string());
  }
  std::size_t view_rank = 0;
  for (std::size_t i = 0; i < num_dims(); ++i) {
    view_rank = view_rank * sizes_[i] + coords.values()[i];
  }
  return view_rank;
}

std::vector<std::size_t> Slice::base_ranks() const {
  std::vector<std::size_t> ranks;
  ranks.reserve(num_ranks_);
  std::vector<std::size_t> coords(num_dims(), 0);
  std::size_t rank = offset_;
  // An odometer over the coordinates, adjusting the rank incrementally.
  for (std::size_t n = 0; n < num_ranks_; ++n) {
    ranks.push_back(rank);
    for (std::size_t i = num_dims(); i-- > 0;) {
      if (++coords[i] < sizes_[i]) {
        rank += strides_[i];
        break;
      }
      rank -= (sizes_[i] - 1) * strides_[i];
      coords[i] = 0;
    }
  }
  return ranks;
}

Result<Slice> Slice::at(std::size_t dim, std::size_t index) const {
  if (dim >= num_dims()) {
    return invalid("dimension " + std::to_string(dim) + " does not exist in " + to_string());
  }
  if (index >= sizes_[dim]) {
    return invalid("index " + std::to_string(index) + " is out of range for dimension " +
                   std::to_string(dim) + " of " + to_string() + ", which has " +
                   std::to_string(sizes_[dim]) + " indices");
  }
  auto sizes = sizes_;
  auto strides = strides_;
  sizes.erase(sizes.begin() + static_cast<std::ptrdiff_t>(dim));
  strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(dim));
  return Slice(offset_ + index * strides_[dim], std::move(sizes), std::move(strides),
               num_ranks_ / sizes_[dim]);
}

Result<Slice> Slice::select(std::size_t dim, std::size_t begin, std::size_t end,
                            std::size_t step) const {
  if (dim >= num_dims()) {
    return invalid("dimension " + std::to_string(dim) + " does not exist in " + to_string());
  }
  const std::string range =
      std::to_string(begin) + ":" + std::to_string(end) + ":" + std::to_string(step);
  if (step == 0) return invalid("range " + range + " has step 0; the step must be at least 1");
  if (begin >= end) {
    return invalid("range " + range + " is empty; end must be greater than begin");
  }
  if (end > sizes_[dim]) {
    return invalid("range " + range + " does not fit dimension " + std::to_string(dim) + " of " +
                   to_string() + ", which has " + std::to_string(sizes_[dim]) + " indices");
  }
  const std::size_t size = (end - begin + step - 1) / step;
  auto sizes = sizes_;
  auto strides = strides_;
  sizes[dim] = size;
  // With one index left the stride is never used; keeping it avoids stride * step overflow.
  if (size > 1) strides[dim] *= step;
  return Slice(offset_ + begin * strides_[dim], std::move(sizes), std::move(strides),
               num_ranks_ / sizes_[dim] * size);
}

std::string Slice::to_string() const {
  return "slice offset=" + std::to_string(offset_) + " sizes=" + list(sizes_) +
         " strides=" + list(strides_);
}

}  // namespace zmesh
