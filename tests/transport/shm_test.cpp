// Shared memory between procs on one host, with real processes (transport_peer): large
// frames travel as regions and are mapped in place, a relay shares a received region on,
// small frames and peers of another host key get bytes, a receiver not allowed to map a
// region gets the frame as bytes instead (root), forged descriptors are refused with a reason while the
// receiver lives on, and (root: a small tmpfs of our own) SIGKILL of a
// sender or of a receiver holding a mapping frees the memory, and a full tmpfs falls back
// to the socket with one warning.
#include "payload_checksum.hpp"
#include "peer_process.hpp"
#include "testing/shared_memory.hpp"
#include "transport_testing.hpp"
#include "zmesh/transport/endpoint.hpp"
#include "zmesh/transport/internal/link_header.hpp"
#include "zmesh/transport/internal/shm_region.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <zmq.hpp>

namespace zmesh {
namespace {

using namespace std::chrono_literals;
using testing::in_shared_mapping;
using testing::Inbox;
using testing::make_message;
using testing::payload_checksum;
using testing::PeerProcess;
using testing::proc;
using testing::ScopedTmpfs;
using testing::test_config;
using testing::unique_temp_path;
using testing::wait_until;

constexpr std::size_t mebibyte = std::size_t{1} << 20;
constexpr std::string_view stop_type = "transport_test.Stop";

// `size` bytes of a pattern that depends on `seed`.
Frame pattern(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 31 + seed) >> 3);
  return Frame::from_string(std::move(bytes));
}

// The key=value fields of a peer's "exit ..." line.
std::map<std::string, std::uint64_t> exit_stats(const PeerProcess& peer) {
  std::map<std::string, std::uint64_t> fields;
  for (const auto& line : peer.lines()) {
    if (!line.starts_with("exit ")) continue;
    std::istringstream words(line.substr(5));
    std::string word;
    while (words >> word) {
      const auto equals = word.find('=');
      if (equals != std::string::npos)
        fields[word.substr(0, equals)] = std::stoull(word.substr(equals + 1));
    }
  }
  return fields;
}

class ShmTest : public ::testing::Test {
 protected:
  // The driver: this process's endpoint. `threshold` 0 turns its shared memory off.
  void start_driver(const std::string& shm_dir = "/dev/shm",
                    std::int64_t threshold = Config().shm_threshold) {
    Config config = test_config();
    config.shm_dir = shm_dir;
    config.shm_threshold = threshold;
    auto driver = Endpoint::bind(context_, driver_id_, "ipc://" + unique_temp_path("shm-driver"),
                                 inbox_.inbound(), config);
    ASSERT_TRUE(driver.ok()) << driver.error().describe();
    driver_ = std::move(driver).value();
  }
  void TearDown() override {
    if (driver_) driver_->close();
    peers_.clear();
  }

  PeerProcess& start_peer(const std::string& mode, std::vector<std::string> environment = {}) {
    const ProcId id = peer_id(peers_.size());
    peers_.push_back(
        PeerProcess::start({mode, id.to_string(), "ipc://" + unique_temp_path("shm-peer"),
                            driver_id_.to_string() + "=" + driver_->address()},
                           environment));
    EXPECT_TRUE(driver_->add_route(id, peers_.back()->address()).ok());
    return *peers_.back();
  }
  ProcId peer_id(std::size_t index) const {
    return proc("shm-peer", static_cast<std::uint32_t>(index));
  }

  void send(std::size_t peer, Frame frame) {
    driver_->send(make_message(driver_id_, peer_id(peer), {std::move(frame)}));
  }
  // Sends `frame` to an echo peer and waits for it to come back, intact.
  void round_trip(std::size_t peer, const Frame& frame) {
    const std::size_t before = inbox_.delivered_count();
    send(peer, frame);
    ASSERT_TRUE(wait_until(20s, [&] { return inbox_.delivered_count() == before + 1; }))
        << "no echo; driver stats: sent=" << driver_->stats().sent;
    const Envelope echo = inbox_.delivered().back();
    ASSERT_EQ(echo.payload.size(), 1u);
    EXPECT_EQ(echo.payload[0].size(), frame.size());
    EXPECT_EQ(payload_checksum(echo.payload[0]), payload_checksum(frame));
  }
  bool all_acked() {
    return wait_until(20s, [&] { return driver_->stats().pending == 0; });
  }
  // Stops peer `index` and returns its final Stats.
  std::map<std::string, std::uint64_t> stop(std::size_t index) {
    driver_->send(make_message(driver_id_, peer_id(index), {}, std::string(stop_type)));
    EXPECT_TRUE(peers_[index]->wait_exit(20s).has_value());
    return exit_stats(*peers_[index]);
  }

  zmq::context_t context_;
  const ProcId driver_id_ = proc("shm-driver", 0);
  Inbox inbox_;
  std::unique_ptr<Endpoint> driver_;
  std::vector<std::unique_ptr<PeerProcess>> peers_;
};

TEST_F(ShmTest, LargeFrameIsMappedAndTheRelaySharesItOn) {
  start_driver();
  start_peer("echo");
  // The first large frame goes as bytes and asks the peer for its host (each way); once
  // both know, frames go as regions. Each echo is the relay case: the peer sends on the
  // frame it received.
  for (unsigned round = 1; round <= 8; ++round) {
    round_trip(0, pattern(mebibyte, round));
    if (driver_->stats().shm_received > 0) break;
  }
  const auto stats = driver_->stats();
  EXPECT_GE(stats.shm_sent, 1u);
  EXPECT_EQ(stats.shm_regions, stats.shm_sent);  // one region per frame, each sent once
  EXPECT_EQ(stats.shm_fallbacks, 0u);
  ASSERT_GE(stats.shm_received, 1u);
  const Frame received = inbox_.delivered().back().payload[0];
  EXPECT_NE(received.region(), nullptr);
  EXPECT_TRUE(in_shared_mapping(received.data()));

  const auto peer = stop(0);
  EXPECT_GE(peer.at("shm_received"), 1u);
  EXPECT_GE(peer.at("shm_sent"), 1u);
  EXPECT_EQ(peer.at("shm_regions"), 0u) << "the relay wrote a region instead of sharing one";
}

// Files are kept and written again: a round trip through a relay (the echo peer shares the
// driver's file back) leaves the file free once both have let go of the frame, so twenty
// round trips need two or three files, not twenty. Every echo carries its own round's bytes.
TEST_F(ShmTest, FilesAreWrittenAgainOnceReceiversAreDone) {
  start_driver();
  start_peer("echo");
  unsigned round = 0;
  while (round < 8 && driver_->stats().shm_sent == 0) {
    round_trip(0, pattern(mebibyte, ++round));
    inbox_.clear();
  }
  const auto before = driver_->stats();
  ASSERT_GE(before.shm_sent, 1u);
  for (unsigned i = 0; i < 20; ++i) {
    round_trip(0, pattern(mebibyte, ++round));
    ASSERT_TRUE(in_shared_mapping(inbox_.delivered().back().payload[0].data()));
    inbox_.clear();  // lets go of the echoed frame, and so of its lease
  }
  const auto stats = driver_->stats();
  EXPECT_EQ(stats.shm_regions - before.shm_regions, 20u);
  // The peer lets go of a frame when the driver's ack reaches it, which may ride on the next
  // round's message: two files alternate, a third when an ack is late.
  EXPECT_LE(stats.shm_files - before.shm_files, 3u)
      << "a new shared-memory file for each of 20 frames: files are not reused";
  EXPECT_EQ(stats.shm_fallbacks, 0u);
}

// A receiver that holds frames holds their files: the sender writes the next frames into
// new files, and every held frame keeps its own bytes. Once the receiver lets go, the next
// frames go into the files it held.
TEST_F(ShmTest, HeldFramesKeepTheirBytesWhileLaterOnesGoIntoOtherFiles) {
  start_driver();
  Inbox keeper_inbox;
  const ProcId keeper_id = proc("shm-keeper", 0);
  auto keeper = Endpoint::bind(context_, keeper_id, "ipc://" + unique_temp_path("shm-keeper"),
                               keeper_inbox.inbound(), test_config());
  ASSERT_TRUE(keeper.ok()) << keeper.error().describe();
  ASSERT_TRUE(driver_->add_route(keeper_id, (*keeper)->address()).ok());
  unsigned sent = 0;
  unsigned cleared = 0;  // delivered before the keeper's inbox was last cleared
  const auto send_to_keeper = [&] {
    driver_->send(make_message(driver_id_, keeper_id, {pattern(mebibyte, ++sent)}));
    return wait_until(20s, [&] { return keeper_inbox.delivered_count() == sent - cleared; });
  };
  while (sent < 8 && driver_->stats().shm_sent == 0) ASSERT_TRUE(send_to_keeper());
  const unsigned first_held = sent;  // the first that went as a region
  const auto before = driver_->stats();
  for (unsigned i = 0; i < 5; ++i) ASSERT_TRUE(send_to_keeper());
  const auto held = driver_->stats();
  EXPECT_EQ(held.shm_files - before.shm_files, held.shm_regions - before.shm_regions)
      << "a file was written again while the keeper still held its frame";
  for (unsigned n = first_held; n <= sent; ++n) {
    const Frame frame = keeper_inbox.delivered()[n - 1].payload[0];
    EXPECT_TRUE(in_shared_mapping(frame.data())) << "frame " << n;
    EXPECT_EQ(payload_checksum(frame), payload_checksum(pattern(mebibyte, n))) << "frame " << n;
  }

  ASSERT_TRUE(all_acked());
  keeper_inbox.clear();
  cleared = sent;
  for (unsigned i = 0; i < 5; ++i) ASSERT_TRUE(send_to_keeper());
  const auto after = driver_->stats();
  EXPECT_LE(after.shm_files - held.shm_files, 1u)
      << "the files the keeper let go of were not written again";
  for (unsigned n = 1; n <= 5; ++n) {
    const Frame frame = keeper_inbox.delivered()[n - 1].payload[0];
    EXPECT_EQ(payload_checksum(frame), payload_checksum(pattern(mebibyte, sent - 5 + n)));
  }
  (*keeper)->close();
}

TEST_F(ShmTest, FrameBelowTheThresholdGoesAsBytes) {
  start_driver();
  auto& sink = start_peer("sink");
  const Frame small = pattern(static_cast<std::size_t>(Config().shm_threshold) - 1, 3);
  for (int i = 0; i < 3; ++i) send(0, small);
  ASSERT_TRUE(all_acked());
  EXPECT_EQ(driver_->stats().shm_sent, 0u);
  EXPECT_EQ(driver_->stats().shm_regions, 0u);
  const std::string expected =
      fmt::format("got {} bytes, sum {}", small.size(), payload_checksum(small));
  EXPECT_TRUE(wait_until(10s, [&] {
    const auto lines = sink.lines();
    return std::count(lines.begin(), lines.end(), expected) == 3;
  }));
}

TEST_F(ShmTest, PeerWithAnotherHostKeyGetsBytes) {
  start_driver();
  start_peer("echo", {"ZMESH_HOST_KEY=another-host"});
  for (unsigned round = 1; round <= 3; ++round) round_trip(0, pattern(mebibyte, round));
  EXPECT_EQ(driver_->stats().shm_sent, 0u);
  EXPECT_EQ(driver_->stats().shm_received, 0u);
  EXPECT_FALSE(in_shared_mapping(inbox_.delivered().back().payload[0].data()));
  const auto peer = stop(0);
  EXPECT_EQ(peer.at("shm_sent"), 0u);
  EXPECT_EQ(peer.at("shm_received"), 0u);
}

// -- root: a tmpfs of our own, whose free space shows what is still allocated --

TEST_F(ShmTest, KilledReceiverHoldingMappingsFreesTheMemory) {
  ScopedTmpfs tmpfs("shm-kill-receiver", "64m");
  if (!tmpfs.ok()) GTEST_SKIP() << tmpfs.skip_reason();
  const std::uint64_t empty = testing::free_bytes(tmpfs.dir());
  start_driver(tmpfs.dir());
  auto& holder = start_peer("hold", {"ZMESH_SHM_DIR=" + tmpfs.dir()});
  // The first large frame goes as bytes and asks the peer for its host; frames sent before
  // the answer arrives go as bytes too (a slow build, e.g. TSan's, sends all of a burst
  // first). So one at a time until one went as a region, then three more.
  unsigned sent = 0;
  while (sent < 8 && driver_->stats().shm_sent == 0) {
    send(0, pattern(mebibyte, ++sent));
    ASSERT_TRUE(all_acked());
  }
  for (unsigned i = 0; i < 3; ++i) send(0, pattern(mebibyte, ++sent));
  ASSERT_TRUE(all_acked());
  ASSERT_TRUE(wait_until(20s, [&] { return holder.received().size() == sent; }));
  // Acked: the driver let go of its regions; the holder keeps its mappings.
  EXPECT_GE(driver_->stats().shm_sent, 1u);
  EXPECT_LT(testing::free_bytes(tmpfs.dir()), empty);
  holder.kill(SIGKILL);
  ASSERT_TRUE(holder.wait_exit(20s).has_value());
  // As the allocators do for a dead proc: its lanes (which hold tmpfs memory) go too.
  driver_->forget(peer_id(0), "killed by the test");
  EXPECT_TRUE(wait_until(10s, [&] { return testing::free_bytes(tmpfs.dir()) == empty; }))
      << "free " << testing::free_bytes(tmpfs.dir()) << " of " << empty;
  EXPECT_EQ(testing::entries_in(tmpfs.dir()), 0u);
}

TEST_F(ShmTest, KilledSenderLeavesOnlyWhatReceiversMapped) {
  ScopedTmpfs tmpfs("shm-kill-sender", "64m");
  if (!tmpfs.ok()) GTEST_SKIP() << tmpfs.skip_reason();
  const std::uint64_t empty = testing::free_bytes(tmpfs.dir());
  // The driver sends bytes (its shared memory is off), so the echo peer writes the regions.
  start_driver(tmpfs.dir(), 0);
  auto& sender = start_peer("echo", {"ZMESH_SHM_DIR=" + tmpfs.dir()});
  for (unsigned round = 1; round <= 8; ++round) {
    round_trip(0, pattern(mebibyte, round));
    if (driver_->stats().shm_received > 0) break;
  }
  ASSERT_GE(driver_->stats().shm_received, 1u);
  sender.kill(SIGKILL);
  ASSERT_TRUE(sender.wait_exit(20s).has_value());
  driver_->forget(peer_id(0), "killed by the test");
  // What the driver mapped outlives its sender and reads intact; dropping it frees the memory.
  std::optional<Envelope> last = inbox_.delivered().back();
  const auto rounds = static_cast<unsigned>(inbox_.delivered_count());
  EXPECT_EQ(payload_checksum(last->payload[0]), payload_checksum(pattern(mebibyte, rounds)));
  EXPECT_TRUE(in_shared_mapping(last->payload[0].data()));
  EXPECT_LT(testing::free_bytes(tmpfs.dir()), empty);
  inbox_.clear();
  last.reset();
  EXPECT_TRUE(wait_until(10s, [&] { return testing::free_bytes(tmpfs.dir()) == empty; }))
      << "free " << testing::free_bytes(tmpfs.dir()) << " of " << empty;
  EXPECT_EQ(testing::entries_in(tmpfs.dir()), 0u);
}

// Collects what this process writes to stderr (the log) while it lives.
class StderrCapture {
 public:
  StderrCapture() : path_(unique_temp_path("stderr")), saved_(::dup(STDERR_FILENO)) {
    std::fflush(stderr);
    const int fd = ::open(path_.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() {
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::unlink(path_.c_str());
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  std::string text() const {
    std::fflush(stderr);
    std::ifstream file(path_);
    return std::string(std::istreambuf_iterator<char>(file), {});
  }

 private:
  std::string path_;
  int saved_;
};

std::size_t occurrences(const std::string& text, std::string_view word) {
  std::size_t count = 0;
  for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++count;
  return count;
}

TEST_F(ShmTest, FullTmpfsFallsBackToTheSocketWithOneWarning) {
  ScopedTmpfs tmpfs("shm-full", "1m");
  if (!tmpfs.ok()) GTEST_SKIP() << tmpfs.skip_reason();
  StderrCapture log;
  start_driver(tmpfs.dir());
  start_peer("echo");
  for (unsigned round = 1; round <= 4; ++round) round_trip(0, pattern(2 * mebibyte, round));
  const auto stats = driver_->stats();
  EXPECT_EQ(stats.shm_sent, 0u);
  EXPECT_GE(stats.shm_fallbacks, 2u);  // all but the first, which asked for the peer's host
  const std::string text = log.text();
  EXPECT_EQ(occurrences(text, "ZM-SHM-FALLBACK"), 1u) << text;
  EXPECT_NE(text.find(tmpfs.dir()), std::string::npos) << text;
  EXPECT_NE(text.find("ZMESH_SHM_DIR"), std::string::npos) << text;
  EXPECT_EQ(testing::entries_in(tmpfs.dir()), 0u);
}

// A receiver that cannot map a region for a reason of its own is not sent a bad message:
// it asks for the message again, the sender resends it as bytes, and that link carries
// bytes from then on. Nothing is lost or returned. The reason here: the peer was started
// as root, then dropped to nobody, so it may not open the driver's descriptors (EACCES), as
// a proc in a strict sandbox. Running out of descriptors takes the same path, but under
// the sanitizers a process with no descriptor left cannot run their own checks.
TEST_F(ShmTest, ReceiverNotAllowedToMapGetsTheFrameAsBytesInstead) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: the peer drops from root to nobody";
  start_driver();
  auto& peer = start_peer("echo");
  round_trip(0, Frame::copy_of(std::string_view("connected both ways")));
  driver_->send(make_message(driver_id_, peer_id(0), {}, "transport_test.Demote"));
  ASSERT_TRUE(wait_until(20s, [&] {
    const auto lines = peer.lines();
    return std::any_of(lines.begin(), lines.end(),
                       [](const std::string& line) { return line.starts_with("demote"); });
  }));
  const auto lines = peer.lines();
  ASSERT_TRUE(std::find(lines.begin(), lines.end(), "demoted uid=65534") != lines.end())
      << lines.back();
  // The first large frame asks the peer for its host and goes as bytes; once the answer is
  // in, one goes as a region that the peer cannot open, and comes back all the same.
  for (unsigned round = 1; round <= 8 && driver_->stats().shm_sent == 0; ++round) {
    round_trip(0, pattern(mebibyte, round));
  }
  // One region was written (and its message resent as bytes; on a slow machine the resend
  // timer may send the descriptor once more before the peer's answer is in); the link
  // carries bytes since.
  EXPECT_EQ(driver_->stats().shm_regions, 1u);
  const auto descriptors_sent = driver_->stats().shm_sent;
  for (unsigned round = 20; round < 23; ++round) round_trip(0, pattern(mebibyte, round));
  ASSERT_TRUE(all_acked());
  EXPECT_EQ(driver_->stats().shm_regions, 1u);
  EXPECT_EQ(driver_->stats().shm_sent, descriptors_sent);
  EXPECT_EQ(inbox_.returned_count(), 0u) << "a message was returned as undeliverable";
  EXPECT_EQ(driver_->stats().garbage_dropped, 0u);
  const auto stats = stop(0);
  EXPECT_EQ(stats.at("shm_received"), 0u);
  EXPECT_GE(stats.at("shm_unmappable"), 1u);
  EXPECT_EQ(stats.at("shm_unmappable"), descriptors_sent);
}

// -- forged descriptors, sent by hand to a receiver that must refuse them and live on --

class ForgedDescriptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto receiver = Endpoint::bind(context_, receiver_id_, "ipc://" + unique_temp_path("forged"),
                                   inbox_.inbound(), test_config());
    ASSERT_TRUE(receiver.ok()) << receiver.error().describe();
    receiver_ = std::move(receiver).value();
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.connect(receiver_->address());
  }
  void TearDown() override { receiver_->close(); }

  // Sends message `seq` whose payload is `frames`, the ones in `mask` flagged as descriptors,
  // and returns the reason the receiver refused it with (empty: it did not refuse).
  std::string refusal(std::uint64_t mask, const std::vector<std::string>& frames) {
    ++seq_;
    std::string header =
        internal::encode_data_prefix(internal::LinkKind::data, sender_id_, session_, 0, true, true);
    char buffer[64];
    char* out = internal::put_uint(internal::put_uint(buffer, seq_), 1);  // seq, floor
    out = internal::put_uint(out, 0);                                     // lane
    out = internal::put_uint(internal::put_uint(out, 0), 0);              // no ack
    out = internal::put_uint(out, mask);
    header.append(buffer, out);
    Frames payload;
    for (const auto& frame : frames) payload.push_back(Frame::copy_of(frame));
    header.append(encode_header(make_message(sender_id_, receiver_id_, payload)).view());
    dealer_.send(zmq::buffer(header), zmq::send_flags::sndmore);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      dealer_.send(zmq::buffer(frames[i]),
                   i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    while (true) {
      zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, 10s) == 0) return "(no reply within 10 s)";
      zmq::message_t reply;
      (void)dealer_.recv(reply);
      auto parsed = internal::parse_link_header(reply.to_string_view());
      if (!parsed) return "(unparsable reply)";
      if (parsed->kind == internal::LinkKind::reject && parsed->seq == seq_) {
        return std::string(parsed->reason);
      }
      if (parsed->kind == internal::LinkKind::ack && parsed->seq >= seq_) return {};
    }
  }
  // A descriptor naming `fd` of this process with `fd`'s own inode and `size`.
  static internal::ShmDescriptor naming(int fd, std::uint64_t size) {
    struct stat st {};
    EXPECT_EQ(::fstat(fd, &st), 0);
    internal::ShmDescriptor d;
    d.pid = static_cast<std::uint32_t>(::getpid());
    d.fd = static_cast<std::uint32_t>(fd);
    d.size = size;
    d.inode = st.st_ino;
    d.device = st.st_dev;
    return d;
  }

  zmq::context_t context_;
  const ProcId receiver_id_ = proc("forged", 0);
  const ProcId sender_id_ = proc("forger", 1);
  const std::uint64_t session_ = 4242;
  std::uint64_t seq_ = 0;
  Inbox inbox_;
  std::unique_ptr<Endpoint> receiver_;
  zmq::socket_t dealer_{context_, zmq::socket_type::dealer};
};

#define EXPECT_REFUSED(reason, expected) \
  EXPECT_NE((reason).find(expected), std::string::npos) << "reason: " << (reason)

TEST_F(ForgedDescriptorTest, EachForgeryIsRefusedWithItsReasonAndTheReceiverLives) {
  using internal::encode_shm_descriptor;
  EXPECT_REFUSED(refusal(1, {"garbage"}), "descriptor of 7 bytes, expected 64");
  EXPECT_REFUSED(refusal(1, {std::string(64, 'x')}), "without its magic");
  EXPECT_REFUSED(refusal(2, {std::string(64, 'x')}), "names payload frame 1, but there are 1");

  internal::ShmDescriptor no_such;
  no_such.pid = 0x7ffffff0;
  no_such.fd = 3;
  no_such.size = 100;
  EXPECT_REFUSED(refusal(1, {encode_shm_descriptor(no_such)}), "/proc/2147483632/fd/3");

  internal::ShmDescriptor huge = no_such;
  huge.size = std::uint64_t{1} << 40;
  EXPECT_REFUSED(refusal(1, {encode_shm_descriptor(huge)}), "more than max_message_bytes");

  const int null_device = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_REFUSED(refusal(1, {encode_shm_descriptor(naming(null_device, 0))}),
                 "is not the regular file");
  ::close(null_device);

  // A regular file on a disk (the working directory, the build tree), not a tmpfs.
  const std::string disk_path = "shm-test-disk-file-" + std::to_string(::getpid());
  const int disk = ::open(disk_path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(disk, 0);
  ::unlink(disk_path.c_str());
  ASSERT_EQ(::ftruncate(disk, 64 + 100), 0);
  struct statfs disk_fs {};
  ASSERT_EQ(::fstatfs(disk, &disk_fs), 0);
  std::uint64_t forgeries = 11;
  if (disk_fs.f_type != TMPFS_MAGIC) {
    ++forgeries;
    EXPECT_REFUSED(refusal(1, {encode_shm_descriptor(naming(disk, 100))}), "is not on a tmpfs");
  }
  ::close(disk);

  // A tmpfs file with a name: another program's, not a region.
  const std::string named_path = "/dev/shm/zmesh-test-named-" + std::to_string(::getpid());
  const int named = ::open(named_path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(named, 0);
  ASSERT_EQ(::ftruncate(named, 64 + 100), 0);
  EXPECT_REFUSED(refusal(1, {encode_shm_descriptor(naming(named, 100))}), "has a name");
  ::close(named);
  ::unlink(named_path.c_str());

  // A real region, described with the wrong size, with more than its file holds, with
  // contents it no longer has (a message given up and delivered late), then with the wrong
  // token. The first maps the file; the next two find it mapped, and are checked all the same.
  auto region = internal::ShmRegion::create("/dev/shm", Frame::copy_of(std::string(1000, 'r')));
  ASSERT_TRUE(region.ok()) << region.error().describe();
  internal::ShmDescriptor wrong_size = (*region)->descriptor();
  wrong_size.size = 999;
  EXPECT_REFUSED(refusal(1, {encode_shm_descriptor(wrong_size)}),
                 "the region holds 1000 bytes, the descriptor says 999");
  internal::ShmDescriptor too_large = (*region)->descriptor();
  too_large.size = 1001;
  EXPECT_REFUSED(refusal(1, {encode_shm_descriptor(too_large)}), "has room for 1000 bytes");
  internal::ShmDescriptor stale = (*region)->descriptor();
  stale.generation -= 1;
  EXPECT_REFUSED(refusal(1, {encode_shm_descriptor(stale)}), "holds other contents by now");
  EXPECT_EQ((*region)->file()->leases(), 0u) << "a refused descriptor kept its lease";
  internal::ShmDescriptor wrong_token = (*region)->descriptor();
  wrong_token.token[0] ^= 1;
  EXPECT_REFUSED(refusal(1, {encode_shm_descriptor(wrong_token)}), "not the zmesh region");
  // The genuine descriptor is mapped: the bytes arrive.
  EXPECT_EQ(refusal(1, {encode_shm_descriptor((*region)->descriptor())}), "");

  EXPECT_EQ(receiver_->stats().garbage_dropped, forgeries);
  EXPECT_EQ(receiver_->stats().shm_received, 1u);
  ASSERT_TRUE(wait_until(5s, [&] { return inbox_.delivered_count() == 1; }));
  EXPECT_EQ(inbox_.delivered()[0].payload[0].view(), std::string(1000, 'r'));
  EXPECT_TRUE(in_shared_mapping(inbox_.delivered()[0].payload[0].data()));
}

}  // namespace
}  // namespace zmesh
