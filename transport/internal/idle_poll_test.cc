// IdlePoll: how the idle-polling window follows the gaps between bursts of I/O (clocks made up).
#include "transport/internal/idle_poll.h"

#include "gtest/gtest.h"

namespace h2rpc::transport::internal {
namespace {

constexpr uint64_t kUs = 1000;

// An adaptive policy of max 100 µs growing from 25 µs (UvLoop's default), and a clock.
struct Adaptive {
  IdlePoll poll{{.max_ns = 100 * kUs, .grow_start_ns = 25 * kUs}};
  uint64_t now = 1'000'000'000;
  // I/O arrives `gap_us` after the previous I/O turn ended; the turn takes 1 µs.
  void ioAfter(uint64_t gap_us) {
    now += gap_us * kUs;
    const uint64_t first = now;
    now += 1 * kUs;
    poll.onIoTurn(first, now);
  }
};

TEST(IdlePollTest, StartsWithoutPollingAndTheFirstIoTeachesNothing) {
  Adaptive a;
  EXPECT_FALSE(a.poll.polling(a.now));
  a.ioAfter(0);
  EXPECT_EQ(a.poll.windowNs(), 0u);
  EXPECT_FALSE(a.poll.polling(a.now));
}

TEST(IdlePollTest, GapsPollingWouldHaveCaughtGrowTheWindowUpToTheMaximum) {
  Adaptive a;
  a.ioAfter(0);
  a.ioAfter(40);  // missed (window 0), within the maximum
  EXPECT_EQ(a.poll.windowNs(), 25 * kUs);
  a.ioAfter(40);  // still missed
  EXPECT_EQ(a.poll.windowNs(), 50 * kUs);
  a.ioAfter(90);
  EXPECT_EQ(a.poll.windowNs(), 100 * kUs);
  a.ioAfter(99);  // caught: no change, and never above the maximum
  EXPECT_EQ(a.poll.windowNs(), 100 * kUs);
}

TEST(IdlePollTest, AfterIoTheLoopPollsForTheWindowThenSleeps) {
  Adaptive a;
  a.ioAfter(0);
  a.ioAfter(10);
  ASSERT_EQ(a.poll.windowNs(), 25 * kUs);
  EXPECT_TRUE(a.poll.polling(a.now));
  EXPECT_TRUE(a.poll.polling(a.now + 24 * kUs));
  EXPECT_FALSE(a.poll.polling(a.now + 25 * kUs));
}

TEST(IdlePollTest, GapsTheWindowCoveredLeaveItAsItIs) {
  Adaptive a;
  a.ioAfter(0);
  a.ioAfter(30);
  a.ioAfter(30);
  ASSERT_EQ(a.poll.windowNs(), 50 * kUs);
  for (int i = 0; i < 100; ++i) a.ioAfter(20);
  EXPECT_EQ(a.poll.windowNs(), 50 * kUs);
}

TEST(IdlePollTest, SparseTrafficHalvesTheWindowThenTurnsPollingOff) {
  Adaptive a;
  a.ioAfter(0);
  for (int i = 0; i < 3; ++i) a.ioAfter(60);
  ASSERT_EQ(a.poll.windowNs(), 100 * kUs);
  a.ioAfter(1000);  // longer than the maximum: polling would only have burnt CPU
  EXPECT_EQ(a.poll.windowNs(), 50 * kUs);
  a.ioAfter(5000);
  EXPECT_EQ(a.poll.windowNs(), 25 * kUs);
  a.ioAfter(101);
  EXPECT_EQ(a.poll.windowNs(), 0u);
  EXPECT_FALSE(a.poll.polling(a.now));
  for (int i = 0; i < 10; ++i) a.ioAfter(1'000'000);  // an idle connection's keepalive, say
  EXPECT_EQ(a.poll.windowNs(), 0u);
}

// The CPU polling costs is bounded: after each burst the loop polls at most the window, which
// never exceeds the maximum, whatever the pattern of gaps.
TEST(IdlePollTest, TheWindowStaysWithinBoundsForAnyPatternOfGaps) {
  Adaptive a;
  uint64_t seed = 12345;
  for (int i = 0; i < 100000; ++i) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    a.ioAfter((seed >> 33) % 400);
    EXPECT_LE(a.poll.windowNs(), 100 * kUs);
    EXPECT_FALSE(a.poll.polling(a.now + a.poll.windowNs()));
  }
}

TEST(IdlePollTest, MaximumZeroNeverPolls) {
  IdlePoll poll({.max_ns = 0, .grow_start_ns = 25 * kUs});
  EXPECT_FALSE(poll.enabled());
  uint64_t now = 1000;
  for (int i = 0; i < 10; ++i) {
    poll.onIoTurn(now, now + 1);
    now += 2;
    EXPECT_FALSE(poll.polling(now));
  }
  EXPECT_EQ(poll.windowNs(), 0u);
}

TEST(IdlePollTest, FixedModeAlwaysPollsTheMaximumAfterIo) {
  IdlePoll poll({.max_ns = 100 * kUs, .fixed = true});
  EXPECT_FALSE(poll.polling(0));  // nothing received yet: sleeps
  poll.onIoTurn(1000, 2000);
  EXPECT_TRUE(poll.polling(2000 + 99 * kUs));
  EXPECT_FALSE(poll.polling(2000 + 100 * kUs));
  poll.onIoTurn(10'000'000'000, 10'000'000'001);  // a gap of 10 s changes nothing
  EXPECT_EQ(poll.windowNs(), 100 * kUs);
  EXPECT_TRUE(poll.polling(10'000'000'001 + 99 * kUs));
}

}  // namespace
}  // namespace h2rpc::transport::internal
