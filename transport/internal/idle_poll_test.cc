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
  // I/O arrives `gap_us` after the previous I/O turn ended; the turn takes 1 µs. `bulk`: a read
  // of the turn filled the read buffer. `answer`: the loop writes right after it (a response,
  // the next request), as request/response traffic does.
  void ioAfter(uint64_t gap_us, bool bulk = false, bool answer = true) {
    now += gap_us * kUs;
    const uint64_t first = now;
    now += 1 * kUs;
    poll.onIoTurn(first, now, bulk);
    if (answer) poll.onWrite();
  }
  // The window grown to 50 µs by quick answers.
  void learn() {
    ioAfter(0);
    ioAfter(30);
    ioAfter(30);
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

// A loop that only receives (a streaming client between its WINDOW_UPDATEs) waits for nothing
// it asked for: it sleeps, and the gaps still teach the window. Once it writes, it polls.
TEST(IdlePollTest, ALoopThatOnlyReceivesDoesNotPollUntilItWrites) {
  Adaptive a;
  a.learn();
  ASSERT_EQ(a.poll.windowNs(), 50 * kUs);
  a.ioAfter(60, /*bulk=*/false, /*answer=*/false);  // missed: grows the window all the same
  EXPECT_EQ(a.poll.windowNs(), 100 * kUs);
  EXPECT_TRUE(a.poll.polling(a.now));  // the turn that handles the data (and may answer)
  a.poll.onTurn();
  EXPECT_FALSE(a.poll.polling(a.now));  // it did not answer: sleep
  a.poll.onWrite();  // the answer went out a little later
  EXPECT_TRUE(a.poll.polling(a.now + 5 * kUs));
  EXPECT_FALSE(a.poll.polling(a.now + 100 * kUs));  // still within the window of the I/O
}

// A write before the I/O of the turn (a loop turn writes, then polls) answered the previous I/O,
// not this one.
TEST(IdlePollTest, AWriteBeforeTheIoDoesNotCount) {
  Adaptive a;
  a.learn();
  a.poll.onWrite();
  a.ioAfter(10, /*bulk=*/false, /*answer=*/false);
  a.poll.onTurn();
  EXPECT_FALSE(a.poll.polling(a.now));
}

// A streaming peer: every turn reads a full buffer, data arriving a few µs apart (gaps a
// polling loop would "catch"). The loop sleeps after each such turn, and the stream does not
// grow the window; an answer after it polls as before.
TEST(IdlePollTest, BulkTurnsDoNotPollAndTeachTheWindowNothing) {
  Adaptive a;
  a.learn();
  ASSERT_EQ(a.poll.windowNs(), 50 * kUs);
  for (int i = 0; i < 100; ++i) {
    a.ioAfter(i % 2 == 0 ? 20 : 80, /*bulk=*/true);  // caught and missed gaps alike
    EXPECT_FALSE(a.poll.polling(a.now));
    EXPECT_EQ(a.poll.windowNs(), 50 * kUs);
  }
  a.ioAfter(10);  // a small answer again
  EXPECT_TRUE(a.poll.polling(a.now));
  EXPECT_EQ(a.poll.windowNs(), 50 * kUs);
}

// The first I/O of a loop may be bulk: it does not poll, and the next gap is measured from it.
TEST(IdlePollTest, ABulkTurnEndsTheGapLikeAnyIoTurn) {
  Adaptive a;
  a.ioAfter(0, /*bulk=*/true);
  a.ioAfter(40);  // missed by a window of 0, within the maximum: grows
  EXPECT_EQ(a.poll.windowNs(), 25 * kUs);
  EXPECT_TRUE(a.poll.polling(a.now));
}

// Bytes waiting for the socket to become writable: the loop waits for the peer to read, and
// epoll wakes it when it did; polling within the window stops while they wait.
TEST(IdlePollTest, WritesWaitingForTheSocketStopPolling) {
  Adaptive a;
  a.learn();
  ASSERT_TRUE(a.poll.polling(a.now));
  EXPECT_FALSE(a.poll.polling(a.now, /*writes_waiting=*/true));
  EXPECT_TRUE(a.poll.polling(a.now + 10 * kUs, /*writes_waiting=*/false));  // written: polls on
  EXPECT_EQ(a.poll.windowNs(), 50 * kUs);
}

// Fixed busy polling is what the user asked for: load does not switch it off.
TEST(IdlePollTest, FixedModePollsUnderLoadToo) {
  IdlePoll poll({.max_ns = 100 * kUs, .fixed = true});
  poll.onIoTurn(1000, 2000, /*bulk=*/true);
  EXPECT_TRUE(poll.polling(2000 + 99 * kUs, /*writes_waiting=*/true));
  EXPECT_EQ(poll.windowNs(), 100 * kUs);
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
