#include "rpc/backoff.h"

#include <algorithm>

namespace h2rpc::rpc {

ConnectionBackoff::ConnectionBackoff(BackoffOptions options, uint64_t seed)
    : options_(options), random_(seed), current_backoff_(options.initial_backoff) {}

absl::Duration ConnectionBackoff::Jittered(absl::Duration d) {
  if (options_.jitter <= 0) return d;
  std::uniform_real_distribution<double> spread(-options_.jitter, options_.jitter);
  return d + d * spread(random_);
}

ConnectionBackoff::Attempt ConnectionBackoff::Begin(absl::Time now) {
  // The spec: current_backoff = INITIAL_BACKOFF, current_deadline = now() + INITIAL_BACKOFF
  // (no jitter on the first), and the attempt may take MIN_CONNECT_TIMEOUT if that is longer.
  started_ = true;
  current_backoff_ = options_.initial_backoff;
  next_start_ = now + current_backoff_;
  return {now, std::max(next_start_, now + options_.min_connect_timeout)};
}

ConnectionBackoff::Attempt ConnectionBackoff::Next(absl::Time now) {
  if (!started_) return Begin(now);
  // SleepUntil(current_deadline), then grow the backoff and jitter the next deadline from the
  // moment this attempt starts.
  const absl::Time start = std::max(now, next_start_);
  current_backoff_ = std::min(current_backoff_ * options_.multiplier, options_.max_backoff);
  next_start_ = start + Jittered(current_backoff_);
  return {start, std::max(next_start_, start + options_.min_connect_timeout)};
}

void ConnectionBackoff::Reset() {
  started_ = false;
  current_backoff_ = options_.initial_backoff;
}

}  // namespace h2rpc::rpc
