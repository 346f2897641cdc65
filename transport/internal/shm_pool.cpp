#include "zmesh/transport/internal/shm_pool.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace zmesh::internal {

Result<std::shared_ptr<const ShmRegion>> ShmPool::write(const Frame& frame, Clock::time_point now,
                                                        bool& created) {
  created = false;
  // Sizes rounded up to a power of two, so that a tensor's file serves the next step's even
  // when the encoded size moves a little.
  const std::uint64_t capacity = std::bit_ceil(std::max<std::uint64_t>(frame.size(), 4096));
  for (auto& file : files_) {
    // use_count 1: no message of ours holds it (only this thread copies these pointers).
    if (file->capacity() != capacity || file.use_count() != 1 || !file->try_claim()) continue;
    file->last_used = now;
    return ShmRegion::write(file, frame);
  }
  // Room for a new one: files no message holds go first, the least recently used first.
  while (bytes_ + capacity > max_bytes_) {
    auto oldest = files_.end();
    for (auto it = files_.begin(); it != files_.end(); ++it) {
      if (it->use_count() == 1 && (oldest == files_.end() || (*it)->last_used < (*oldest)->last_used)) {
        oldest = it;
      }
    }
    if (oldest == files_.end()) break;
    bytes_ -= (*oldest)->capacity();
    files_.erase(oldest);
  }
  auto file = ShmFile::create(dir_, capacity);
  if (!file) return std::move(file).error();
  created = true;
  (void)(*file)->try_claim();  // new: nobody else knows it
  (*file)->last_used = now;
  // Past the limit (every file is in a message still): used once, freed with that message.
  if (bytes_ + capacity <= max_bytes_) {
    bytes_ += capacity;
    files_.push_back(*file);
  }
  return ShmRegion::write(std::move(*file), frame);
}

void ShmPool::expire(Clock::time_point now) {
  std::erase_if(files_, [&](const std::shared_ptr<ShmFile>& file) {
    if (file.use_count() != 1 || now - file->last_used < shm_idle_limit) return false;
    bytes_ -= file->capacity();
    return true;
  });
}

std::size_t ShmCache::TokenHash::operator()(const std::array<std::uint8_t, 16>& token) const noexcept {
  std::size_t hash;  // the token is random: any 8 bytes of it are a good hash
  std::memcpy(&hash, token.data(), sizeof hash);
  return hash;
}

Result<std::shared_ptr<const ShmRegion>> ShmCache::open(const ShmDescriptor& descriptor,
                                                        Clock::time_point now) {
  auto it = files_.find(descriptor.token);
  if (it == files_.end() || it->second->inode() != descriptor.inode ||
      it->second->device() != descriptor.device) {
    auto file = ShmFile::open(descriptor, budget_);
    if (!file) return std::move(file).error();
    if (it != files_.end()) files_.erase(it);
    if (files_.size() >= max_files_) {
      files_.erase(std::min_element(files_.begin(), files_.end(), [](const auto& a, const auto& b) {
        return a.second->last_used < b.second->last_used;
      }));
    }
    it = files_.emplace(descriptor.token, std::move(*file)).first;
  }
  it->second->last_used = now;
  return ShmRegion::lease(it->second, descriptor);
}

void ShmCache::expire(Clock::time_point now) {
  std::erase_if(files_, [&](const auto& entry) {
    return now - entry.second->last_used >= shm_idle_limit;
  });
}

}  // namespace zmesh::internal
