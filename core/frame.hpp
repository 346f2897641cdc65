#pragma once
// Frame: an immutable, reference-counted byte buffer: one payload frame of a message.
// Copying a Frame shares the bytes (no copy), so the comm tree and the resend buffer can
// hold the same payload many times; the transport hands it to ZeroMQ without copying.
// Thread: the bytes never change, so copies may be used from any thread.
// A Frame may say that its bytes lie in a shared-memory region (region()), so that the
// transport can pass the region on to a peer on the same host instead of the bytes; core
// only carries that marker, the transport defines and reads it.

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh {

// What a Frame's owner is when its bytes lie in shared memory. Core never looks inside;
// the transport (transport/internal/shm_region.hpp) derives from it.
class SharedRegion {
 public:
  virtual ~SharedRegion() = default;
};

class Frame {
 public:
  Frame() = default;

  // Takes ownership of `bytes` (no copy).
  static Frame from_string(std::string bytes) {
    auto holder = std::make_shared<const std::string>(std::move(bytes));
    return Frame(holder, holder->data(), holder->size());
  }
  // One allocation holds the count and the bytes.
  static Frame copy_of(std::string_view bytes) {
    std::shared_ptr<char[]> holder = std::make_shared_for_overwrite<char[]>(bytes.size());
    if (!bytes.empty()) std::memcpy(holder.get(), bytes.data(), bytes.size());
    const char* data = holder.get();
    return Frame(std::move(holder), data, bytes.size());
  }
  static Frame copy_of(std::span<const std::byte> bytes) {
    return copy_of(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  // Shares `owner`, which must keep [data, data + size) alive and unchanged.
  static Frame wrap(std::shared_ptr<const void> owner, const void* data, std::size_t size) {
    return Frame(std::move(owner), data, size);
  }
  // Shares `region`, which keeps [data, data + size) alive and unchanged and says where
  // the bytes lie (see region()).
  static Frame wrap_region(std::shared_ptr<const SharedRegion> region, const void* data,
                           std::size_t size) {
    const SharedRegion* marker = region.get();
    Frame frame(std::move(region), data, size);
    frame.region_ = marker;
    return frame;
  }

  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<const std::byte> bytes() const noexcept {
    return {reinterpret_cast<const std::byte*>(data_), size_};
  }
  std::string_view view() const noexcept { return {data_, size_}; }
  const std::shared_ptr<const void>& owner() const noexcept { return owner_; }
  // The shared-memory region holding the bytes (owner() keeps it alive), or null.
  const SharedRegion* region() const noexcept { return region_; }

 private:
  Frame(std::shared_ptr<const void> owner, const void* data, std::size_t size)
      : owner_(std::move(owner)), data_(static_cast<const char*>(data)), size_(size) {}

  std::shared_ptr<const void> owner_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
  const SharedRegion* region_ = nullptr;  // owner_, when it is a region
};

using Frames = std::vector<Frame>;

}  // namespace zmesh
