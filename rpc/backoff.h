// rpc/backoff.h — ConnectionBackoff: when a channel may try to connect again after a failed
// attempt, and how long an attempt may take, per gRPC's connection backoff
// (doc/connection-backoff.md): 1 s initial backoff, ×1.6 per failure, ±20 % jitter, 120 s at
// most, and every attempt allowed at least 20 s to connect (MIN_CONNECT_TIMEOUT).
//
//   ConnectionBackoff backoff(options, seed);
//   Attempt a = backoff.Begin(now);        // first attempt: at once
//   ... the attempt fails ...
//   Attempt b = backoff.Next(now);         // wait until b.start, connect by b.deadline
//   ... a connection is up ...
//   backoff.Reset();                        // the next failure starts from 1 s again
//
// Sans-I/O: the caller passes the time (a loop's clock in programs, any value in tests) and
// the jitter comes from a seeded generator, so tests see exact schedules.
//
// Threading: one thread at a time. Lifetime: a plain value.
#ifndef H2RPC_RPC_BACKOFF_H_
#define H2RPC_RPC_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace h2rpc::rpc {

struct BackoffOptions {
  absl::Duration initial_backoff = absl::Seconds(1);
  double multiplier = 1.6;
  double jitter = 0.2;  // the backoff varies uniformly within ±jitter of itself
  absl::Duration max_backoff = absl::Seconds(120);
  absl::Duration min_connect_timeout = absl::Seconds(20);
};

class ConnectionBackoff {
 public:
  struct Attempt {
    absl::Time start;     // do not start connecting before this
    absl::Time deadline;  // give the attempt up at this time
  };

  explicit ConnectionBackoff(BackoffOptions options = {}, uint64_t seed = 1);

  // The first attempt after a Reset() (or construction): starts at `now`.
  Attempt Begin(absl::Time now);
  // The attempt after one that failed at `now`: starts when the current backoff (with jitter)
  // has passed since the previous one started, and the backoff grows.
  Attempt Next(absl::Time now);
  // A connection succeeded: the next failure starts over from initial_backoff.
  void Reset();

  // When the next attempt may start (after Begin()): a caller that sleeps until then and calls
  // Next() on waking follows the spec to the letter (the backoff counts from the actual start).
  absl::Time next_start() const { return next_start_; }
  // The backoff the next Next() will wait from (before jitter), for tests and diagnostics.
  absl::Duration current_backoff() const { return current_backoff_; }
  const BackoffOptions& options() const { return options_; }

 private:
  absl::Duration Jittered(absl::Duration d);

  BackoffOptions options_;
  std::mt19937_64 random_;
  absl::Duration current_backoff_;
  absl::Time next_start_;  // when the next attempt may start (the current deadline of the spec)
  bool started_ = false;
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_BACKOFF_H_
