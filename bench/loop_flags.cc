#include "bench/loop_flags.h"

#include <algorithm>

#include "absl/flags/flag.h"

ABSL_FLAG(int, busy_poll_us, 0,
          "fixed busy polling: after traffic, poll without sleeping for this many microseconds "
          "before blocking again (0: off, the default; bench/README.md, 'Latency')");
ABSL_FLAG(int, adaptive_poll_max_us, -1,
          "adaptive idle polling's maximum window in microseconds; 0: off (always sleep, as "
          "Node's loop); -1: the library's default (transport::UvLoopOptions)");

namespace h2rpc::bench {

transport::UvLoopOptions LoopOptionsFromFlags() {
  transport::UvLoopOptions options;
  options.busyPollMicros = static_cast<uint32_t>(std::max(0, absl::GetFlag(FLAGS_busy_poll_us)));
  if (const int max = absl::GetFlag(FLAGS_adaptive_poll_max_us); max >= 0) {
    options.adaptivePollMaxMicros = static_cast<uint32_t>(max);
  }
  return options;
}

}  // namespace h2rpc::bench
