// ShmLane, the same-host lane of two shared-memory rings and two doorbell pipes: records
// round-trip intact in both directions across many wrap-arounds, a full ring rings the
// writer's doorbell once room is freed, bells ring only for a sleeping reader, a forked child
// echoes through its own open() and may be SIGKILLed without SIGPIPE or a file left behind,
// open() refuses what is not the lane, hostile bytes break the lane instead of the reader,
// and two threads stream 200000 records through the sleep protocol (run under TSan too).
// No sleeping: every wait polls a doorbell with a deadline.
#include "testing/shared_memory.hpp"
#include "zmesh/transport/internal/shm_lane.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace zmesh::internal {
namespace {

using testing::entries_in;

constexpr int deadline_ms = 5000;

// Whether `fd` becomes readable within `timeout_ms`.
bool readable(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  int ready;
  while ((ready = ::poll(&entry, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  return ready > 0 && (entry.revents & POLLIN) != 0;
}

// The byte at `index` of part `part` of record `record`.
char pattern_byte(std::uint64_t record, std::size_t part, std::size_t index) {
  return static_cast<char>(record * 131 + part * 17 + index * 7 + (index >> 8));
}

// Record `record`: 1 to `max_parts` parts of varied sizes (empty ones included), the first
// starting with the record's sequence number.
std::vector<std::string> make_record(std::uint64_t record, std::size_t max_parts,
                                     std::size_t max_part_bytes) {
  std::vector<std::string> parts(1 + record % max_parts);
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const std::size_t size = (record * 37 + p * 101) % max_part_bytes;
    parts[p].resize(size);
    for (std::size_t i = 0; i < size; ++i) parts[p][i] = pattern_byte(record, p, i);
  }
  std::string sequence(sizeof record, '\0');
  std::memcpy(sequence.data(), &record, sizeof record);
  parts[0].insert(0, sequence);
  return parts;
}

std::vector<std::string_view> views(const std::vector<std::string>& parts) {
  return {parts.begin(), parts.end()};
}

// Whether `got` is record `record` as make_record made it; "" if so, else what differs.
std::string check_record(const std::vector<std::string_view>& got, std::uint64_t record,
                         std::size_t max_parts, std::size_t max_part_bytes) {
  const auto expected = make_record(record, max_parts, max_part_bytes);
  if (got.size() != expected.size()) {
    return "record " + std::to_string(record) + ": " + std::to_string(got.size()) +
           " parts, expected " + std::to_string(expected.size());
  }
  for (std::size_t p = 0; p < got.size(); ++p) {
    if (got[p] != expected[p]) {
      return "record " + std::to_string(record) + ": part " + std::to_string(p) + " differs";
    }
  }
  return "";
}

struct Pair {
  std::unique_ptr<ShmLane> creator;
  std::unique_ptr<ShmLane> opener;
};

Pair make_pair(std::size_t ring_bytes, const std::string& dir = "/dev/shm") {
  auto creator = ShmLane::create(dir, ring_bytes);
  if (!creator) throw Exception(creator.error());
  auto opener = ShmLane::open((*creator)->descriptor());
  if (!opener) throw Exception(opener.error());
  return {std::move(*creator), std::move(*opener)};
}

// The whole lane file, mapped writable on its own, as a hostile peer would.
class RawLane {
 public:
  explicit RawLane(const ShmLane& creator) {
    const auto d = creator.descriptor();
    size_ = ShmLane::rings_offset + 2 * std::size_t{d.ring_bytes};
    const UniqueFd fd(::open(("/proc/self/fd/" + std::to_string(d.file_fd)).c_str(), O_RDWR));
    EXPECT_TRUE(fd.valid());
    void* base = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    EXPECT_NE(base, MAP_FAILED);
    mapping_ = Mapping(base, size_);
  }
  // The forward ring's bytes.
  char* forward() const { return mapping_.data() + ShmLane::rings_offset; }
  // A field of a ring's control block (the layout shm_lane.hpp documents).
  std::uint64_t* control(int ring, int field) const {
    return reinterpret_cast<std::uint64_t*>(mapping_.data() + 64 + 256 * ring + 64 * field);
  }
  void put_u32(char* at, std::uint32_t value) const { std::memcpy(at, &value, sizeof value); }

 private:
  std::size_t size_ = 0;
  Mapping mapping_;
};
constexpr int forward_ring = 0;
constexpr int head_field = 0;
constexpr int tail_field = 1;

// Kills (if still running) and reaps a forked child, so that no test leaks a process.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  // The child's wait status.
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

// -- 1: round trips --

// Writes `count` records from `writer` to `reader` in bursts of 1 to 7 (or until full),
// reading bursts of 1 to 7 in between, and checks every byte.
void stream(ShmLane& writer, ShmLane& reader, std::uint64_t count, std::size_t max_parts,
            std::size_t max_part_bytes) {
  const auto written_before = writer.counters().records_written;
  const auto read_before = reader.counters().records_read;
  std::uint64_t written = 0, read = 0, burst = 1;
  std::vector<std::string_view> got;
  while (read < count) {
    burst = burst * 6364136223846793005ULL + 1442695040888963407ULL;
    for (std::uint64_t i = 0; i < 1 + (burst >> 60) % 7 && written < count; ++i) {
      const auto record = make_record(written, max_parts, max_part_bytes);
      const auto result = writer.write(views(record));
      if (result == ShmLane::Write::full) break;
      ASSERT_EQ(result, ShmLane::Write::written);
      ++written;
    }
    for (std::uint64_t i = 0; i < 1 + (burst >> 56) % 7 && read < written; ++i) {
      const auto peeked = reader.peek(got);
      ASSERT_TRUE(peeked.ok()) << peeked.error().describe();
      ASSERT_TRUE(*peeked);
      ASSERT_EQ(check_record(got, read, max_parts, max_part_bytes), "");
      reader.pop();
      ++read;
    }
  }
  const auto peeked = reader.peek(got);
  ASSERT_TRUE(peeked.ok());
  EXPECT_FALSE(*peeked);
  EXPECT_EQ(writer.counters().records_written - written_before, count);
  EXPECT_EQ(reader.counters().records_read - read_before, count);
}

TEST(ShmLaneTest, RecordsRoundTripBothWaysAcrossManyWraps) {
  auto pair = make_pair(4096);
  EXPECT_TRUE(pair.creator->creator());
  EXPECT_FALSE(pair.opener->creator());
  // Up to 5 parts of up to 179 bytes: records of 16 to 931 bytes (of the 1024 allowed), so
  // that they land at every offset and often do not fit before the ring's end. 3000 records
  // of ~450 bytes are ~330 trips around a 4 KiB ring.
  stream(*pair.creator, *pair.opener, 3000, 5, 180);
  stream(*pair.opener, *pair.creator, 3000, 5, 180);
  // Many small parts, then the largest records.
  stream(*pair.creator, *pair.opener, 2000, 64, 9);
  stream(*pair.opener, *pair.creator, 500, 1, 1000);
}

TEST(ShmLaneTest, DescriptorEncodesAndParses) {
  auto pair = make_pair(8192);
  const auto d = pair.creator->descriptor();
  const auto bytes = encode_lane_descriptor(d);
  EXPECT_EQ(bytes.size(), lane_descriptor_size);
  EXPECT_EQ(bytes.substr(0, 8), std::string("zmlane1\0", 8));
  const auto parsed = parse_lane_descriptor(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(parsed->pid, d.pid);
  EXPECT_EQ(parsed->file_fd, d.file_fd);
  EXPECT_EQ(parsed->creator_bell_fd, d.creator_bell_fd);
  EXPECT_EQ(parsed->opener_bell_fd, d.opener_bell_fd);
  EXPECT_EQ(parsed->inode, d.inode);
  EXPECT_EQ(parsed->device, d.device);
  EXPECT_EQ(parsed->token, d.token);
  EXPECT_EQ(parsed->ring_bytes, 8192u);
  EXPECT_FALSE(parse_lane_descriptor(bytes.substr(1)).ok());
}

TEST(ShmLaneTest, CreateRefusesBadRingSizes) {
  for (const std::size_t size : {std::size_t{0}, std::size_t{2048}, std::size_t{6000},
                                 ShmLane::max_ring_bytes * 2}) {
    const auto lane = ShmLane::create("/dev/shm", size);
    ASSERT_FALSE(lane.ok()) << size;
    EXPECT_EQ(lane.error().code, ErrorCode::invalid_argument);
    EXPECT_NE(lane.error().message.find("power of two"), std::string::npos);
  }
  const auto not_tmpfs = ShmLane::create("/no/such/dir", 4096);
  ASSERT_FALSE(not_tmpfs.ok());
  EXPECT_EQ(not_tmpfs.error().code, ErrorCode::transport_failed);
  EXPECT_NE(not_tmpfs.error().message.find("/no/such/dir"), std::string::npos);
}

// -- 2: a full ring --

TEST(ShmLaneTest, FullRingRingsTheWritersDoorbellOnceRoomIsFreed) {
  auto pair = make_pair(4096);
  ShmLane& writer = *pair.creator;
  ShmLane& reader = *pair.opener;
  const std::string big(1000, 'x');
  const std::string_view part = big;
  int written = 0;
  while (writer.write({&part, 1}) == ShmLane::Write::written) ++written;
  EXPECT_EQ(written, 4);  // 1016-byte records in a 4096-byte ring
  EXPECT_EQ(writer.write({&part, 1}), ShmLane::Write::full);
  EXPECT_FALSE(readable(writer.doorbell_fd(), 0));

  std::vector<std::string_view> got;
  ASSERT_TRUE(*reader.peek(got));
  reader.pop();
  EXPECT_EQ(reader.counters().bells_rung, 1u);  // the writer asked for room
  ASSERT_TRUE(readable(writer.doorbell_fd(), deadline_ms));
  writer.woke();
  EXPECT_FALSE(readable(writer.doorbell_fd(), 0));
  EXPECT_EQ(writer.write({&part, 1}), ShmLane::Write::written);

  // Too large: refused without asking the reader for room.
  const std::string huge(writer.max_record_bytes(), 'y');
  const std::string_view huge_part = huge;
  EXPECT_FALSE(writer.fits({&huge_part, 1}));
  EXPECT_EQ(writer.write({&huge_part, 1}), ShmLane::Write::too_large);
  const std::vector<std::string_view> many(ShmLane::max_parts + 1, "");
  EXPECT_FALSE(writer.fits(many));
  EXPECT_EQ(writer.write(many), ShmLane::Write::too_large);
  ASSERT_TRUE(*reader.peek(got));
  reader.pop();
  EXPECT_EQ(reader.counters().bells_rung, 1u);
  // The largest record that is not too large: 8 bytes + 4 for its one part + the bytes.
  const std::string largest(writer.max_record_bytes() - 12, 'z');
  const std::string_view largest_part = largest;
  EXPECT_TRUE(writer.fits({&largest_part, 1}));
  while (*reader.peek(got)) reader.pop();
  EXPECT_EQ(writer.write({&largest_part, 1}), ShmLane::Write::written);
  ASSERT_TRUE(*reader.peek(got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], largest);
}

// -- 3: the sleep protocol --

TEST(ShmLaneTest, BellsRingOnlyForASleepingReader) {
  auto pair = make_pair(4096);
  ShmLane& writer = *pair.creator;
  ShmLane& reader = *pair.opener;
  const std::string_view part = "hello";

  // Awake reader: no bell.
  EXPECT_EQ(writer.write({&part, 1}), ShmLane::Write::written);
  EXPECT_EQ(writer.counters().bells_rung, 0u);
  // A record is waiting: do not sleep.
  EXPECT_FALSE(reader.prepare_to_sleep());
  EXPECT_EQ(writer.write({&part, 1}), ShmLane::Write::written);
  EXPECT_EQ(writer.counters().bells_rung, 0u);
  std::vector<std::string_view> got;
  while (*reader.peek(got)) reader.pop();

  // Sleeping reader: one write rings once, and the bell is readable.
  EXPECT_TRUE(reader.prepare_to_sleep());
  EXPECT_FALSE(readable(reader.doorbell_fd(), 0));
  EXPECT_EQ(writer.write({&part, 1}), ShmLane::Write::written);
  EXPECT_EQ(writer.counters().bells_rung, 1u);
  EXPECT_TRUE(readable(reader.doorbell_fd(), deadline_ms));
  // The bell was taken: further writes do not ring until the reader sleeps again.
  EXPECT_EQ(writer.write({&part, 1}), ShmLane::Write::written);
  EXPECT_EQ(writer.counters().bells_rung, 1u);
  reader.woke();
  EXPECT_FALSE(readable(reader.doorbell_fd(), 0));
  EXPECT_EQ(writer.write({&part, 1}), ShmLane::Write::written);
  EXPECT_EQ(writer.counters().bells_rung, 1u);
  while (*reader.peek(got)) reader.pop();
  EXPECT_EQ(reader.counters().records_read, 5u);

  // The same the other way.
  EXPECT_TRUE(writer.prepare_to_sleep());
  EXPECT_EQ(reader.write({&part, 1}), ShmLane::Write::written);
  EXPECT_EQ(reader.counters().bells_rung, 1u);
  EXPECT_TRUE(readable(writer.doorbell_fd(), deadline_ms));
  writer.woke();
  EXPECT_EQ(reader.write({&part, 1}), ShmLane::Write::written);
  EXPECT_EQ(reader.counters().bells_rung, 1u);
}

// -- 4: across processes --

// The child's side: opens the lane from its encoded descriptor and echoes `count` records.
// Returns the exit code (0: done; others name the step that failed).
int echo_child(const std::string& encoded, std::uint64_t count) {
  const auto descriptor = parse_lane_descriptor(encoded);
  if (!descriptor) return 10;
  auto opened = ShmLane::open(*descriptor);
  if (!opened) return 11;
  ShmLane& lane = **opened;
  std::vector<std::string_view> parts;
  std::uint64_t echoed = 0;
  while (echoed < count) {
    const auto peeked = lane.peek(parts);
    if (!peeked) return 12;
    if (*peeked) {
      const auto result = lane.write(parts);
      if (result == ShmLane::Write::written) {
        lane.pop();
        ++echoed;
        continue;
      }
      if (result != ShmLane::Write::full) return 13;
      // Asked for room: the parent rings once it pops.
      if (!readable(lane.doorbell_fd(), deadline_ms)) return 14;
    } else if (lane.prepare_to_sleep() && !readable(lane.doorbell_fd(), deadline_ms)) {
      return 15;
    }
    lane.woke();
  }
  return 0;
}

TEST(ShmLaneTest, ForkedChildEchoesTenThousandRecordsInOrder) {
  constexpr std::uint64_t count = 10000;
  constexpr std::size_t max_parts = 3, max_part_bytes = 400;
  auto created = ShmLane::create("/dev/shm", 16384);
  ASSERT_TRUE(created.ok()) << created.error().describe();
  ShmLane& lane = **created;
  const std::string encoded = encode_lane_descriptor(lane.descriptor());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(echo_child(encoded, count));
  Child child(pid);

  std::uint64_t sent = 0, received = 0;
  std::vector<std::string_view> got;
  while (received < count) {
    bool progress = false;
    if (sent < count) {
      const auto record = make_record(sent, max_parts, max_part_bytes);
      const auto result = lane.write(views(record));
      ASSERT_NE(result, ShmLane::Write::too_large);
      ASSERT_NE(result, ShmLane::Write::broken);
      if (result == ShmLane::Write::written) {
        ++sent;
        progress = true;
      }
    }
    const auto peeked = lane.peek(got);
    ASSERT_TRUE(peeked.ok()) << peeked.error().describe();
    if (*peeked) {
      ASSERT_EQ(check_record(got, received, max_parts, max_part_bytes), "");
      lane.pop();
      ++received;
      progress = true;
    }
    if (!progress) {
      // Nothing to read, and the outgoing ring is full (room asked for) or all is sent.
      if (lane.prepare_to_sleep()) {
        ASSERT_TRUE(readable(lane.doorbell_fd(), deadline_ms))
            << "no bell within 5 s; sent " << sent << ", received " << received;
      }
      lane.woke();
    }
  }
  const int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(lane.counters().records_read, count);
}

// The child's side of the SIGKILL test: reads `count` records, says it sleeps, tells the
// parent so with a record, and waits to be killed.
int sleeping_child(const std::string& encoded, std::uint64_t count) {
  const auto descriptor = parse_lane_descriptor(encoded);
  if (!descriptor) return 10;
  auto opened = ShmLane::open(*descriptor);
  if (!opened) return 11;
  ShmLane& lane = **opened;
  std::vector<std::string_view> parts;
  for (std::uint64_t read = 0; read < count;) {
    const auto peeked = lane.peek(parts);
    if (!peeked) return 12;
    if (*peeked) {
      lane.pop();
      ++read;
      continue;
    }
    if (lane.prepare_to_sleep() && !readable(lane.doorbell_fd(), deadline_ms)) return 15;
    lane.woke();
  }
  if (!lane.prepare_to_sleep()) return 16;
  const std::string_view asleep = "asleep";
  if (lane.write({&asleep, 1}) != ShmLane::Write::written) return 17;
  for (;;) ::pause();
}

TEST(ShmLaneTest, KilledChildLeavesNoFileAndNoSigpipe) {
  const std::string dir = "/dev/shm/zmesh-lane-test-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  {
    auto created = ShmLane::create(dir, 4096);
    ASSERT_TRUE(created.ok()) << created.error().describe();
    ShmLane& lane = **created;
    EXPECT_EQ(entries_in(dir), 0u);  // unnamed from the start
    const std::string encoded = encode_lane_descriptor(lane.descriptor());
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ::_exit(sleeping_child(encoded, 100));
    Child child(pid);

    const std::string_view part = "0123456789abcdef";
    for (int i = 0; i < 100;) {
      const auto result = lane.write({&part, 1});
      if (result == ShmLane::Write::written) {
        ++i;
        continue;
      }
      ASSERT_EQ(result, ShmLane::Write::full);
      ASSERT_TRUE(readable(lane.doorbell_fd(), deadline_ms)) << "no room after " << i;
      lane.woke();
    }
    std::vector<std::string_view> got;
    for (;;) {
      const auto peeked = lane.peek(got);
      ASSERT_TRUE(peeked.ok());
      if (*peeked) break;
      if (lane.prepare_to_sleep()) {
        ASSERT_TRUE(readable(lane.doorbell_fd(), deadline_ms)) << "the child did not report";
      }
      lane.woke();
    }
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0], "asleep");
    lane.pop();

    ASSERT_EQ(::kill(child.pid(), SIGKILL), 0);
    const int status = child.wait();
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    // The dead child said it sleeps: the next write rings its doorbell, a pipe nobody else
    // reads now. This process survives it (no SIGPIPE), and writes go on until full.
    const auto bells = lane.counters().bells_rung;
    int written = 0;
    ShmLane::Write result;
    while ((result = lane.write({&part, 1})) == ShmLane::Write::written) ++written;
    EXPECT_EQ(result, ShmLane::Write::full);
    EXPECT_GT(written, 100);
    EXPECT_EQ(lane.counters().bells_rung, bells + 1);
    EXPECT_EQ(entries_in(dir), 0u);
  }
  EXPECT_EQ(entries_in(dir), 0u);
  std::filesystem::remove(dir);
}

// -- 5: open() refuses what is not the lane --

void expect_refused(const LaneDescriptor& d, std::string_view named) {
  const auto lane = ShmLane::open(d);
  ASSERT_FALSE(lane.ok()) << "opened a lane naming the wrong " << named;
  EXPECT_EQ(lane.error().code, ErrorCode::decode_error) << lane.error().describe();
  EXPECT_NE(lane.error().message.find(named), std::string::npos) << lane.error().describe();
}

TEST(ShmLaneTest, OpenRefusesWhatIsNotTheLane) {
  auto pair = make_pair(4096);
  const LaneDescriptor good = pair.creator->descriptor();

  LaneDescriptor d = good;
  d.token[3] ^= 1;
  expect_refused(d, "token");
  d = good;
  d.inode += 1;
  expect_refused(d, "inode");
  d = good;
  d.pid = INT32_MAX;  // above any pid_max
  expect_refused(d, "the creator exited");
  d = good;
  d.ring_bytes *= 2;
  expect_refused(d, "8192-byte rings");
  d = good;
  d.ring_bytes = 5000;
  expect_refused(d, "power of two");
  d = good;
  d.creator_bell_fd = d.file_fd;
  expect_refused(d, "creator's doorbell");
  d = good;
  std::swap(d.creator_bell_fd, d.opener_bell_fd);
  expect_refused(d, "doorbell");

  std::string bytes = encode_lane_descriptor(good);
  bytes[0] = 'Z';
  const auto parsed = parse_lane_descriptor(bytes);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ErrorCode::decode_error);
  EXPECT_NE(parsed.error().message.find("magic"), std::string::npos);

  EXPECT_TRUE(ShmLane::open(good).ok());  // and the genuine one still opens
}

// -- 6: hostile bytes --

// Writes a genuine record, lets `scribble` spoil the lane through its own mapping, and
// checks that the reader reports `named` as a decode_error, now and on every later call.
void expect_broken(const std::function<void(const RawLane&)>& scribble, std::string_view named) {
  auto pair = make_pair(4096);
  const std::vector<std::string_view> record = {"hello", "world"};
  ASSERT_EQ(pair.creator->write(record), ShmLane::Write::written);
  const RawLane raw(*pair.creator);
  scribble(raw);
  std::vector<std::string_view> got;
  const auto first = pair.opener->peek(got);
  ASSERT_FALSE(first.ok()) << "accepted a record spoilt by " << named;
  EXPECT_EQ(first.error().code, ErrorCode::decode_error);
  EXPECT_NE(first.error().message.find(named), std::string::npos) << first.error().describe();
  EXPECT_TRUE(got.empty());
  EXPECT_FALSE(pair.opener->prepare_to_sleep());
  const auto again = pair.opener->peek(got);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), first.error());
  ASSERT_TRUE(pair.opener->error().has_value());
  EXPECT_EQ(pair.opener->write(record), ShmLane::Write::broken);
}

TEST(ShmLaneTest, HostileBytesBreakTheLaneNotTheReader) {
  expect_broken([](const RawLane& raw) { raw.put_u32(raw.forward(), 0x7FFFFFF0); },
                "a record of 2147483632 bytes");
  expect_broken([](const RawLane& raw) { raw.put_u32(raw.forward(), 4); }, "a record of 4 bytes");
  // Longer than what was written (a 28-byte record, so 32 bytes of head).
  expect_broken([](const RawLane& raw) { raw.put_u32(raw.forward(), 1000); },
                "only 32 were written");
  expect_broken([](const RawLane& raw) { raw.put_u32(raw.forward() + 4, 100000); },
                "100000 parts");
  expect_broken([](const RawLane& raw) { raw.put_u32(raw.forward() + 4, 6); }, "6 parts");
  expect_broken([](const RawLane& raw) { raw.put_u32(raw.forward() + 8, 0xFFFFFFF0); },
                "part 0 of 4294967280 bytes overruns");
  expect_broken([](const RawLane& raw) { raw.put_u32(raw.forward() + 12, 2); },
                "parts of 7 bytes in all");
  expect_broken([](const RawLane& raw) { raw.put_u32(raw.forward(), 0xFFFFFFFF); },
                "wrap marker at the start");
  expect_broken([](const RawLane& raw) { *raw.control(forward_ring, head_field) = 1ULL << 40; },
                "head");
  expect_broken([](const RawLane& raw) { *raw.control(forward_ring, head_field) = 33; },
                "not 8-byte aligned");
}

TEST(ShmLaneTest, HostileWrapMarkerWithNothingAfterItBreaksTheLane) {
  auto pair = make_pair(4096);
  // Three 1024-byte records and one of 1016 bring both counters to 8 bytes before the end.
  std::vector<std::string_view> got;
  for (const std::size_t bytes : {1012, 1012, 1012, 1004}) {
    const std::string filler(bytes, 'f');
    const std::string_view part = filler;
    ASSERT_EQ(pair.creator->write({&part, 1}), ShmLane::Write::written);
    ASSERT_TRUE(*pair.opener->peek(got));
    pair.opener->pop();
  }
  // A wrap marker published alone: write() never does that (the record follows at once).
  const RawLane raw(*pair.creator);
  raw.put_u32(raw.forward() + 4096 - 8, 0xFFFFFFFF);
  *raw.control(forward_ring, head_field) = 4096;
  const auto peeked = pair.opener->peek(got);
  ASSERT_FALSE(peeked.ok());
  EXPECT_NE(peeked.error().message.find("a wrap marker with no record"), std::string::npos)
      << peeked.error().describe();
}

TEST(ShmLaneTest, HostileTailBreaksTheWriter) {
  auto pair = make_pair(4096);
  const RawLane raw(*pair.creator);
  *raw.control(forward_ring, tail_field) = 1ULL << 40;
  const std::string_view part = "x";
  EXPECT_EQ(pair.creator->write({&part, 1}), ShmLane::Write::broken);
  ASSERT_TRUE(pair.creator->error().has_value());
  EXPECT_EQ(pair.creator->error()->code, ErrorCode::decode_error);
  EXPECT_NE(pair.creator->error()->message.find("tail"), std::string::npos);
  std::vector<std::string_view> got;
  EXPECT_FALSE(pair.creator->peek(got).ok());
}

// -- 7: two threads --

TEST(ShmLaneTest, TwoThreadsStreamTwoHundredThousandRecords) {
  constexpr std::uint64_t count = 200000;
  auto pair = make_pair(4096);
  std::string writer_error, reader_error;
  std::thread writer([&] {
    ShmLane& lane = *pair.creator;
    std::string record(24, '.');
    for (std::uint64_t sequence = 0; sequence < count;) {
      std::memcpy(record.data(), &sequence, sizeof sequence);
      const std::string_view part = record;
      const auto result = lane.write({&part, 1});
      if (result == ShmLane::Write::written) {
        ++sequence;
        continue;
      }
      if (result != ShmLane::Write::full) {
        writer_error = "write failed at " + std::to_string(sequence);
        return;
      }
      if (!readable(lane.doorbell_fd(), deadline_ms)) {
        writer_error = "no room within 5 s at " + std::to_string(sequence);
        return;
      }
      lane.woke();
    }
  });
  std::thread reader([&] {
    ShmLane& lane = *pair.opener;
    std::vector<std::string_view> got;
    for (std::uint64_t expected = 0; expected < count;) {
      const auto peeked = lane.peek(got);
      if (!peeked) {
        reader_error = peeked.error().describe();
        return;
      }
      if (*peeked) {
        std::uint64_t sequence = 0;
        if (got.size() != 1 || got[0].size() != 24) {
          reader_error = "a record of another shape at " + std::to_string(expected);
          return;
        }
        std::memcpy(&sequence, got[0].data(), sizeof sequence);
        if (sequence != expected) {
          reader_error = "record " + std::to_string(sequence) + " where " +
                         std::to_string(expected) + " was due";
          return;
        }
        lane.pop();
        ++expected;
        continue;
      }
      if (lane.prepare_to_sleep() && !readable(lane.doorbell_fd(), deadline_ms)) {
        reader_error = "no bell within 5 s at " + std::to_string(expected);
        return;
      }
      lane.woke();
    }
  });
  writer.join();
  reader.join();
  EXPECT_EQ(writer_error, "");
  EXPECT_EQ(reader_error, "");
  EXPECT_EQ(pair.creator->counters().records_written, count);
  EXPECT_EQ(pair.opener->counters().records_read, count);
}

}  // namespace
}  // namespace zmesh::internal
