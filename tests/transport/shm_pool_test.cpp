// The sender's pool of shared-memory files and a receiver's cache of mapped ones, in one
// process (a receiver opens /proc/self/fd/N as it would another proc's): a file is written
// again only when no region of the sender and no receiver's lease holds it, past the pool's
// limit a frame gets a file used once, idle files are let go of, and a receiver finds a file
// it mapped by its token. Time is passed in, so nothing here sleeps.
#include "payload_checksum.hpp"
#include "zmesh/transport/internal/shm_pool.hpp"

#include <gtest/gtest.h>

#include <string>

namespace zmesh {
namespace {

using internal::ShmCache;
using internal::ShmPool;
using internal::ShmRegion;
using testing::payload_checksum;

constexpr std::size_t mebibyte = std::size_t{1} << 20;
const std::string shm_dir = "/dev/shm";

Frame filled(std::size_t size, char byte) {
  return Frame::from_string(std::string(size, byte));
}

struct Written {
  std::shared_ptr<const ShmRegion> region;
  bool created = false;
};

Written write(ShmPool& pool, const Frame& frame, Clock::time_point now) {
  Written out;
  auto region = pool.write(frame, now, out.created);
  EXPECT_TRUE(region.ok()) << region.error().describe();
  if (region) out.region = std::move(*region);
  return out;
}

TEST(ShmPoolTest, AFileIsWrittenAgainOnlyWhenNothingHoldsIt) {
  const auto now = Clock::now();
  ShmPool pool(shm_dir, 64 * mebibyte);
  auto first = write(pool, filled(mebibyte, 'a'), now);
  EXPECT_TRUE(first.created);
  // The first region is still held (an unacked message): the next frame needs another file.
  auto second = write(pool, filled(mebibyte, 'b'), now);
  EXPECT_TRUE(second.created);
  EXPECT_NE(second.region->file(), first.region->file());

  // A receiver maps the first file and holds a lease; the sender lets go of its region.
  ShmCache cache(std::make_shared<internal::FdBudget>(16), 16);
  auto received = cache.open(first.region->descriptor(), now);
  ASSERT_TRUE(received.ok()) << received.error().describe();
  EXPECT_EQ((*received)->file()->leases(), 1u);
  const auto first_file = first.region->file().get();
  first.region.reset();
  second.region.reset();
  // The second file is free, the first is leased: the next frame goes into the second.
  auto third = write(pool, filled(mebibyte, 'c'), now);
  EXPECT_FALSE(third.created);
  EXPECT_NE(third.region->file().get(), first_file);
  // What the receiver holds kept its bytes.
  EXPECT_EQ(payload_checksum(internal::region_frame(*received)),
            payload_checksum(filled(mebibyte, 'a')));

  // The lease goes with the receiver's last reference: the first file is free again.
  received->reset();
  auto fourth = write(pool, filled(mebibyte, 'd'), now);
  EXPECT_FALSE(fourth.created);
  EXPECT_EQ(fourth.region->file().get(), first_file);
  EXPECT_EQ(pool.files(), 2u);
}

TEST(ShmPoolTest, SizesShareAFileUpToTheirPowerOfTwo) {
  const auto now = Clock::now();
  ShmPool pool(shm_dir, 64 * mebibyte);
  auto file = write(pool, filled(mebibyte - 100, 'a'), now).region->file();
  file.reset();
  auto same = write(pool, filled(mebibyte, 'b'), now);
  EXPECT_FALSE(same.created) << "a 1 MiB frame did not reuse the file of a slightly smaller one";
  auto larger = write(pool, filled(mebibyte + 1, 'c'), now);
  EXPECT_TRUE(larger.created);
  EXPECT_EQ(larger.region->file()->capacity(), 2 * mebibyte);
}

TEST(ShmPoolTest, PastItsLimitAFrameGetsAFileUsedOnce) {
  const auto now = Clock::now();
  ShmPool pool(shm_dir, 2 * mebibyte);
  auto a = write(pool, filled(mebibyte, 'a'), now);
  auto b = write(pool, filled(mebibyte, 'b'), now);
  EXPECT_EQ(pool.files(), 2u);
  // Both held: the third cannot be pooled, and is not.
  auto c = write(pool, filled(mebibyte, 'c'), now);
  ASSERT_TRUE(c.region);
  EXPECT_TRUE(c.created);
  EXPECT_EQ(pool.files(), 2u);
  EXPECT_EQ(c.region->file().use_count(), 1) << "a file past the limit stayed in the pool";
  // Let go of one: at the limit, a new size evicts it rather than grow the pool.
  a.region.reset();
  auto d = write(pool, filled(2 * mebibyte, 'd'), now);
  EXPECT_TRUE(d.created);
  EXPECT_EQ(pool.files(), 1u) << "the free file was not evicted for the new one";
}

TEST(ShmPoolTest, IdleFilesAreLetGoOfButNotOnesInUse) {
  const auto now = Clock::now();
  ShmPool pool(shm_dir, 64 * mebibyte);
  auto held = write(pool, filled(mebibyte, 'a'), now);
  (void)write(pool, filled(mebibyte, 'b'), now);  // released at once
  pool.expire(now + internal::shm_idle_limit / 2);
  EXPECT_EQ(pool.files(), 2u);
  pool.expire(now + internal::shm_idle_limit);
  EXPECT_EQ(pool.files(), 1u) << "the idle file was kept, or the held one let go of";
  held.region.reset();
  pool.expire(now + internal::shm_idle_limit);
  EXPECT_TRUE(pool.empty());

  ShmCache cache(std::make_shared<internal::FdBudget>(16), 16);
  ShmPool other(shm_dir, 64 * mebibyte);
  auto region = write(other, filled(mebibyte, 'c'), now).region;
  ASSERT_TRUE(cache.open(region->descriptor(), now).ok());
  cache.expire(now + internal::shm_idle_limit / 2);
  EXPECT_FALSE(cache.empty());
  cache.expire(now + internal::shm_idle_limit);
  EXPECT_TRUE(cache.empty());
}

TEST(ShmCacheTest, AFileMappedBeforeIsFoundByItsTokenAndEachWriteIsReadAsItsOwn) {
  const auto now = Clock::now();
  ShmPool pool(shm_dir, 64 * mebibyte);
  ShmCache cache(std::make_shared<internal::FdBudget>(16), 16);
  std::shared_ptr<internal::ShmFile> mapped;
  for (char byte : {'a', 'b', 'c'}) {
    auto region = write(pool, filled(mebibyte, byte), now).region;
    auto received = cache.open(region->descriptor(), now);
    ASSERT_TRUE(received.ok()) << received.error().describe();
    if (!mapped) mapped = (*received)->file();
    EXPECT_EQ((*received)->file(), mapped) << "the receiver mapped the same file again";
    EXPECT_EQ(payload_checksum(internal::region_frame(*received)),
              payload_checksum(filled(mebibyte, byte)));
    // An older generation of the same file is refused, not read.
    auto stale = region->descriptor();
    stale.generation -= 1;
    auto refused = cache.open(stale, now);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("holds other contents by now"), std::string::npos)
        << refused.error().message;
  }
  EXPECT_EQ(pool.files(), 1u);
}

}  // namespace
}  // namespace zmesh
