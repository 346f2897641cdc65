// The supervision channel: events published over PUB/SUB reach the subscriber exactly once
// and in order even when it connects late or publications are lost (gaps are fetched from
// the proc's event log), and silence past the heartbeat deadline is reported once per
// silence (the timing itself is tested without sockets in tests/transport/liveness_test.cpp).
#include "zmesh/alloc/event_log.hpp"
#include "zmesh/transport/runtime.hpp"
#include "zmesh/transport/supervision_channel.hpp"

#include "testing/wait.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

using namespace std::chrono_literals;

namespace zmesh {
namespace {

SupervisionEvent event_number(int i) {
  return SupervisionEvent{SupervisionKind::actor_failed,
                          ActorId{ProcId{WorldId{"w"}, 0}, "worker", 0}, "m",
                          "failure " + std::to_string(i), unix_time_now_ns()};
}

class SupervisionChannelTest : public ::testing::Test {
 protected:
  SupervisionChannelTest() {
    config_.heartbeat_interval = 20ms;
    config_.heartbeat_timeout = 300ms;
  }

  std::unique_ptr<SupervisionSubscriber> subscribe(EventLog& log) {
    return std::make_unique<SupervisionSubscriber>(
        runtime_.context(),
        SupervisionSubscriber::Callbacks{
            [this](const ProcId&, const SequencedEvent& event) {
              std::lock_guard lock(mutex_);
              received_.push_back(event);
              // On the subscriber's thread, as on_silence: exact at the time of the event.
              silences_at_event_.push_back(silences_.load());
            },
            [&log, this](const ProcId&, std::uint64_t from) -> Result<std::vector<SequencedEvent>> {
              ++fetches_;
              return log.since(from);
            },
            [this](const ProcId&) { ++silences_; }},
        config_, "test");
  }
  std::vector<SequencedEvent> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::vector<int> silences_at_event() {
    std::lock_guard lock(mutex_);
    return silences_at_event_;
  }
  void expect_exactly_in_order(int count) {
    auto events = received();
    ASSERT_EQ(events.size(), static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      EXPECT_EQ(events[i].seq, static_cast<std::uint64_t>(i + 1));
      EXPECT_EQ(events[i].event.reason, "failure " + std::to_string(i + 1));
    }
  }

  Config config_;
  Runtime runtime_{config_};
  const ProcId proc_{WorldId{"w"}, 0};
  std::mutex mutex_;
  std::vector<SequencedEvent> received_;
  std::vector<int> silences_at_event_;  // silences reported when each event arrived
  std::atomic<int> fetches_{0};
  std::atomic<int> silences_{0};
};

TEST_F(SupervisionChannelTest, LateSubscriberGetsEveryEventOnceInOrder) {
  auto publisher = SupervisionPublisher::bind(runtime_.context(), proc_, "inproc://late", config_).value();
  EventLog log(publisher.get());
  for (int i = 1; i <= 50; ++i) log.append(event_number(i));  // nobody listens yet
  auto subscriber = subscribe(log);
  subscriber->connect(proc_, publisher->address());
  // The first heartbeat says "latest is 50": the subscriber fetches what it missed.
  ASSERT_TRUE(testing::wait_until(5s, [&] {
    log.heartbeat();
    return received().size() >= 50;
  }));
  for (int i = 51; i <= 60; ++i) log.append(event_number(i));
  ASSERT_TRUE(testing::wait_until(5s, [&] {
    log.heartbeat();
    return received().size() >= 60;
  }));
  expect_exactly_in_order(60);
  EXPECT_GE(fetches_.load(), 1);
}

TEST_F(SupervisionChannelTest, LostPublicationsAreFetchedNotSkipped) {
  auto publisher = SupervisionPublisher::bind(runtime_.context(), proc_, "inproc://gaps", config_).value();
  EventLog kept(nullptr);  // the proc's log: keeps every event, publishes nothing itself
  auto subscriber = subscribe(kept);
  subscriber->connect(proc_, publisher->address());
  // Every third publication is lost, as PUB/SUB may lose them.
  for (int i = 1; i <= 30; ++i) {
    kept.append(event_number(i));
    if (i % 3 != 0) publisher->publish_event(SequencedEvent{static_cast<std::uint64_t>(i), event_number(i)});
  }
  ASSERT_TRUE(testing::wait_until(5s, [&] {
    publisher->publish_heartbeat(kept.latest());
    return received().size() >= 30;
  }));
  expect_exactly_in_order(30);
}

TEST_F(SupervisionChannelTest, SilenceIsReportedOncePerSilence) {
  auto publisher = SupervisionPublisher::bind(runtime_.context(), proc_, "inproc://quiet", config_).value();
  EventLog log(publisher.get());
  auto subscriber = subscribe(log);
  subscriber->connect(proc_, publisher->address());
  // Each round: the proc stays silent until it is reported, then speaks (this test plays
  // it) until the subscriber hears an event. The count the subscriber had reached when it
  // heard that event is the number of silences so far: one report per silence, no more.
  for (int round = 1; round <= 2; ++round) {
    ASSERT_TRUE(testing::wait_until(5s, [&] { return silences_ >= round; })) << "round " << round;
    log.append(event_number(round));
    ASSERT_TRUE(testing::wait_until(5s, [&] {
      log.heartbeat();
      return received().size() >= static_cast<std::size_t>(round);
    }));
    EXPECT_EQ(silences_at_event().back(), round);
  }
  expect_exactly_in_order(2);
}

}  // namespace
}  // namespace zmesh
