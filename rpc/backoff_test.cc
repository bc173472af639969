// ConnectionBackoff against gRPC's connection-backoff algorithm, with the time passed in.
#include "rpc/backoff.h"

#include <vector>

#include "gtest/gtest.h"

namespace h2rpc::rpc {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

// Every attempt fails at once: starts are 1, 1.6, 2.56, ... apart, up to 120 s; every attempt
// may take 20 s (MIN_CONNECT_TIMEOUT) since its backoff is shorter, then its backoff.
TEST(ConnectionBackoffTest, WithoutJitterTheScheduleIsTheSpecs) {
  BackoffOptions options;
  options.jitter = 0;
  ConnectionBackoff backoff(options);
  ConnectionBackoff::Attempt a = backoff.Begin(kT0);
  EXPECT_EQ(a.start, kT0);
  EXPECT_EQ(a.deadline, kT0 + absl::Seconds(20));
  std::vector<double> gaps;
  absl::Time previous = a.start;
  for (int i = 0; i < 14; ++i) {
    a = backoff.Next(previous);  // failed at once
    gaps.push_back(absl::ToDoubleSeconds(a.start - previous));
    const absl::Duration next_gap = backoff.current_backoff();
    EXPECT_EQ(a.deadline, a.start + std::max(next_gap, absl::Seconds(20))) << i;
    previous = a.start;
  }
  const std::vector<double> want = {1,        1.6,       2.56,      4.096,     6.5536,
                                    10.48576, 16.777216, 26.8435456, 42.94967296, 68.719476736,
                                    109.9511627776, 120, 120, 120};
  ASSERT_EQ(gaps.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(gaps[i], want[i], 1e-6) << i;
}

// An attempt that took long (a connect timeout) starts the next one at once if its backoff has
// passed, and the backoff keeps growing from there.
TEST(ConnectionBackoffTest, ASlowFailureDoesNotWaitAgain) {
  BackoffOptions options;
  options.jitter = 0;
  ConnectionBackoff backoff(options);
  backoff.Begin(kT0);
  ConnectionBackoff::Attempt a = backoff.Next(kT0 + absl::Seconds(20));  // timed out
  EXPECT_EQ(a.start, kT0 + absl::Seconds(20));
  a = backoff.Next(a.start + absl::Milliseconds(1));  // refused at once
  EXPECT_EQ(a.start, kT0 + absl::Seconds(20) + absl::Seconds(1.6));
}

// Jitter keeps each gap within ±20 % of the backoff, differs between seeds (two clients do not
// retry in step), and is reproducible for one seed.
TEST(ConnectionBackoffTest, JitterStaysWithinTwentyPercentAndSpreadsClients) {
  auto gaps = [](uint64_t seed) {
    ConnectionBackoff backoff({}, seed);
    absl::Time t = backoff.Begin(kT0).start;
    std::vector<absl::Duration> out;
    for (int i = 0; i < 12; ++i) {
      const absl::Duration base = backoff.current_backoff();  // what this gap was jittered from
      ConnectionBackoff::Attempt a = backoff.Next(t);
      if (i > 0) {  // the first retry waits the initial backoff exactly
        EXPECT_GE(a.start - t, base * 0.8 - absl::Nanoseconds(1));
        EXPECT_LE(a.start - t, base * 1.2 + absl::Nanoseconds(1));
      }
      out.push_back(a.start - t);
      t = a.start;
    }
    return out;
  };
  EXPECT_EQ(gaps(7), gaps(7));
  EXPECT_NE(gaps(7), gaps(8));
}

TEST(ConnectionBackoffTest, ResetStartsOverAfterAConnection) {
  BackoffOptions options;
  options.jitter = 0;
  ConnectionBackoff backoff(options);
  absl::Time t = backoff.Begin(kT0).start;
  for (int i = 0; i < 5; ++i) t = backoff.Next(t).start;
  EXPECT_GT(backoff.current_backoff(), absl::Seconds(5));
  backoff.Reset();  // connected; later the connection drops
  ConnectionBackoff::Attempt a = backoff.Next(t + absl::Hours(1));
  EXPECT_EQ(a.start, t + absl::Hours(1));  // at once
  a = backoff.Next(a.start);
  EXPECT_EQ(a.start - (t + absl::Hours(1)), absl::Seconds(1));
}

TEST(ConnectionBackoffTest, OptionsAreHonoured) {
  BackoffOptions options;
  options.initial_backoff = absl::Milliseconds(100);
  options.multiplier = 2;
  options.jitter = 0;
  options.max_backoff = absl::Milliseconds(500);
  options.min_connect_timeout = absl::Milliseconds(50);
  ConnectionBackoff backoff(options);
  absl::Time t = backoff.Begin(kT0).start;
  std::vector<absl::Duration> gaps;
  for (int i = 0; i < 5; ++i) {
    ConnectionBackoff::Attempt a = backoff.Next(t);
    gaps.push_back(a.start - t);
    EXPECT_EQ(a.deadline - a.start, backoff.current_backoff());  // longer than 50 ms
    t = a.start;
  }
  EXPECT_EQ(gaps, (std::vector<absl::Duration>{absl::Milliseconds(100), absl::Milliseconds(200),
                                               absl::Milliseconds(400), absl::Milliseconds(500),
                                               absl::Milliseconds(500)}));
}

}  // namespace
}  // namespace h2rpc::rpc
