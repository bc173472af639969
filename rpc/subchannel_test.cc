// Subchannel on a ManualLoop with a fake connector: the connectivity states, gRPC's backoff
// schedule (attempts at the exact times the spec gives), the minimum connect timeout, and
// stale events of abandoned attempts.
#include "rpc/subchannel.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "transport/manual_loop.h"

namespace h2rpc::rpc {
namespace {

using S = ConnectivityState;

class SubchannelTest : public ::testing::Test {
 protected:
  std::shared_ptr<Subchannel> Make(BackoffOptions backoff = {}) {
    SubchannelOptions options;
    options.backoff = backoff;
    auto s = Subchannel::Create(
        &loop_, *transport::SocketAddress::fromIp("127.0.0.1", 1),
        [this](const transport::SocketAddress&, ConnectionEvents events) {
          attempt_times_.push_back(loop_.now());
          attempts_.push_back(std::move(events));
          SubchannelConnection c;
          c.close = [this] { ++closes_; };
          return c;
        },
        options);
    s->set_watcher([this, raw = s.get()] { states_.push_back(raw->state()); });
    return s;
  }
  transport::ManualLoop loop_;
  std::vector<uint64_t> attempt_times_;
  std::vector<ConnectionEvents> attempts_;
  std::vector<S> states_;
  int closes_ = 0;
};

TEST_F(SubchannelTest, ConnectsWhenAskedAndReportsStates) {
  auto s = Make();
  EXPECT_EQ(s->state(), S::kIdle);
  loop_.advance(5000);
  EXPECT_TRUE(attempts_.empty());  // IDLE until asked
  s->RequestConnection();
  ASSERT_EQ(attempts_.size(), 1u);
  EXPECT_EQ(s->state(), S::kConnecting);
  EXPECT_EQ(s->connection(), nullptr);
  attempts_[0].on_ready();
  EXPECT_EQ(s->state(), S::kReady);
  EXPECT_NE(s->connection(), nullptr);
  attempts_[0].on_goaway();  // draining: no new calls
  EXPECT_EQ(s->state(), S::kIdle);
  EXPECT_EQ(s->connection(), nullptr);
  attempts_[0].on_closed(absl::OkStatus());  // the drained connection's end is not news
  s->Shutdown();
  EXPECT_EQ(states_, (std::vector<S>{S::kConnecting, S::kReady, S::kIdle, S::kShutdown}));
}

// gRPC's connection-backoff: 1 s, ×1.6, jitter ±20 %, at most 120 s. With jitter off the
// attempts start at 0, 1, 2.6, 5.16, 9.256 ... s; each waits for the previous one's start
// plus the backoff, however fast it failed.
TEST_F(SubchannelTest, BackoffScheduleOfRefusedAttempts) {
  auto s = Make({.jitter = 0});
  s->RequestConnection();
  std::vector<uint64_t> expected = {0};
  double backoff = 1000;
  for (int i = 0; i < 14; ++i) {
    loop_.advance(3);  // refused quickly
    attempts_.back().on_closed(absl::UnavailableError("Connection refused"));
    EXPECT_EQ(s->state(), S::kTransientFailure);
    EXPECT_EQ(s->last_error().message(), "Connection refused");
    // From the previous attempt's actual start; the loop's clock counts whole milliseconds,
    // the timer fires at the first one not before.
    const double start = static_cast<double>(expected.back()) + backoff;
    const uint64_t us = static_cast<uint64_t>(std::llround(start * 1000));
    expected.push_back((us + 999) / 1000);
    backoff = std::min(backoff * 1.6, 120000.0);
    // Nothing before the scheduled start; the attempt exactly at it.
    loop_.advance(expected.back() - loop_.now() - 1);
    EXPECT_EQ(attempts_.size(), expected.size() - 1);
    loop_.advance(1);
    ASSERT_EQ(attempts_.size(), expected.size());
    EXPECT_EQ(s->state(), S::kConnecting);
  }
  EXPECT_EQ(attempt_times_, expected);
  // The cap: the last gaps are 120 s.
  EXPECT_EQ(expected[14] - expected[13], 120000u);
  // A success resets the backoff: after losing that connection, the next attempt is at once.
  attempts_.back().on_ready();
  attempts_.back().on_closed(absl::UnavailableError("reset by peer"));
  EXPECT_EQ(s->state(), S::kIdle);
  s->RequestConnection();
  EXPECT_EQ(attempt_times_.back(), loop_.now());
  loop_.advance(2);
  attempts_.back().on_closed(absl::UnavailableError("refused"));
  loop_.advance(997);
  const size_t n = attempts_.size();
  loop_.advance(1);  // 1 s after the attempt's start, not 1.6 or 120
  EXPECT_EQ(attempts_.size(), n + 1);
}

TEST_F(SubchannelTest, JitterStaysWithinTwentyPercent) {
  auto s = Make();
  s->RequestConnection();
  double backoff = 1000;
  for (int i = 0; i < 20; ++i) {
    attempts_.back().on_closed(absl::UnavailableError("refused"));
    const uint64_t last = attempt_times_.back();
    const size_t n = attempts_.size();
    while (attempts_.size() == n) loop_.advance(1);
    const double gap = static_cast<double>(attempt_times_.back() - last);
    if (i > 0) {  // the first backoff has no jitter
      EXPECT_GE(gap, backoff * 0.8 - 1) << i;
      EXPECT_LE(gap, backoff * 1.2 + 1) << i;
    } else {
      EXPECT_EQ(gap, 1000);
    }
    backoff = std::min(backoff * 1.6, 120000.0);
  }
}

// An attempt that hangs is given up after max(min_connect_timeout, backoff): 20 s by default.
TEST_F(SubchannelTest, ConnectTimeout) {
  auto s = Make();
  s->RequestConnection();
  loop_.advance(19999);
  EXPECT_EQ(s->state(), S::kConnecting);
  EXPECT_EQ(closes_, 0);
  loop_.advance(1);
  EXPECT_EQ(closes_, 1);  // the hanging connection was closed
  EXPECT_EQ(states_, (std::vector<S>{S::kConnecting, S::kTransientFailure, S::kConnecting}));
  EXPECT_EQ(s->last_error().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(s->last_error().message().find("127.0.0.1:1"), std::string::npos);
  // The next attempt started at once: its backoff (1 s) had long passed.
  ASSERT_EQ(attempts_.size(), 2u);
  EXPECT_EQ(attempt_times_[1], 20000u);
  // The late outcome of the abandoned attempt changes nothing.
  attempts_[0].on_ready();
  EXPECT_EQ(s->state(), S::kConnecting);
  attempts_[1].on_ready();
  EXPECT_EQ(s->state(), S::kReady);
}

TEST_F(SubchannelTest, ConfiguredShortBackoffAndTimeout) {
  auto s = Make({.initial_backoff = absl::Milliseconds(10),
                 .multiplier = 2,
                 .jitter = 0,
                 .max_backoff = absl::Milliseconds(40),
                 .min_connect_timeout = absl::Milliseconds(50)});
  s->RequestConnection();
  for (int i = 0; i < 4; ++i) {
    attempts_.back().on_closed(absl::UnavailableError("refused"));
    const size_t n = attempts_.size();
    while (attempts_.size() == n) loop_.advance(1);
  }
  EXPECT_EQ(attempt_times_, (std::vector<uint64_t>{0, 10, 30, 70, 110}));
  // The last attempt may take max(min_connect_timeout, its backoff) = 50 ms, then the next
  // starts at once (its 40 ms backoff has passed).
  states_.clear();
  loop_.advance(49);
  EXPECT_TRUE(states_.empty());
  loop_.advance(1);
  EXPECT_EQ(states_, (std::vector<S>{S::kTransientFailure, S::kConnecting}));
  EXPECT_EQ(attempt_times_.back(), 160u);
}

TEST_F(SubchannelTest, ShutdownStopsReconnecting) {
  auto s = Make();
  s->RequestConnection();
  attempts_.back().on_closed(absl::UnavailableError("refused"));
  s->Shutdown();
  EXPECT_EQ(closes_, 0);  // the failed attempt had nothing left to close
  loop_.advance(600000);
  EXPECT_EQ(attempts_.size(), 1u);
  EXPECT_EQ(s->state(), S::kShutdown);
  s->RequestConnection();
  EXPECT_EQ(attempts_.size(), 1u);
}

}  // namespace
}  // namespace h2rpc::rpc
