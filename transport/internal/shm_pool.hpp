#pragma once
// Keeping shared-memory files between messages (shm_region.hpp says why): the sender's
// ShmPool writes each large frame into a file of its own that no receiver holds any more,
// and a receiver's ShmCache keeps each file it mapped, found again by the token the next
// descriptor carries. Both let go of files idle for `idle_limit`, so the memory of a dead
// peer's files (or of files a dead receiver still held) is freed soon after.
// Thread: both belong to the endpoint's I/O work (under its io_mutex); the files they hand
// out may be dropped on any thread.
// Failure: acquire() and open() return the Error of ShmFile::create or ShmFile::open.

#include "zmesh/transport/internal/shm_region.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace zmesh::internal {

inline constexpr Clock::duration shm_idle_limit = std::chrono::seconds(2);
// An endpoint's pool keeps up to 256 MiB of files, its cache up to 256 mapped files.
inline constexpr std::uint64_t shm_pool_bytes = std::uint64_t{256} << 20;
inline constexpr std::size_t shm_cache_files = 256;

class ShmPool {
 public:
  // Files go in `dir`; the pool keeps at most `max_bytes` of them (busy ones included).
  ShmPool(std::string dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}

  // `frame` written into a file that nothing else holds (a new one when none is free).
  // `created` tells whether it is new.
  Result<std::shared_ptr<const ShmRegion>> write(const Frame& frame, Clock::time_point now,
                                                 bool& created);
  // Lets go of files unused since `now - idle_limit`.
  void expire(Clock::time_point now);
  bool empty() const { return files_.empty(); }
  std::size_t files() const { return files_.size(); }

 private:
  std::string dir_;
  std::uint64_t max_bytes_;
  std::uint64_t bytes_ = 0;
  std::vector<std::shared_ptr<ShmFile>> files_;
};

class ShmCache {
 public:
  // Keeps at most `max_files` files mapped (the least recently used go first).
  ShmCache(std::shared_ptr<FdBudget> budget, std::size_t max_files)
      : budget_(std::move(budget)), max_files_(max_files) {}

  // The contents `descriptor` names, leased: from the file mapped before, or opened now.
  Result<std::shared_ptr<const ShmRegion>> open(const ShmDescriptor& descriptor,
                                                Clock::time_point now);
  // Lets go of files unused since `now - idle_limit`.
  void expire(Clock::time_point now);
  bool empty() const { return files_.empty(); }

 private:
  struct TokenHash {
    std::size_t operator()(const std::array<std::uint8_t, 16>& token) const noexcept;
  };
  std::shared_ptr<FdBudget> budget_;
  std::size_t max_files_;
  std::unordered_map<std::array<std::uint8_t, 16>, std::shared_ptr<ShmFile>, TokenHash> files_;
};

}  // namespace zmesh::internal
