// transport/internal/idle_poll.h — when an event loop with nothing to do should poll for I/O
// (epoll_wait with a zero timeout) instead of sleeping: the policy of UvLoop's idle polling
// (UvLoopOptions), kept apart from libuv so that tests drive it with made-up clocks.
//
// Why poll at all: a loop that sleeps in epoll_wait waits, when data arrives, for the kernel to
// wake its thread; on a virtual machine that costs tens of microseconds and about as much CPU
// (the idle vCPU halts, the waker's IPI goes through the hypervisor; bench/README.md,
// "Latency"). A request/response peer that answers within microseconds is then waited for
// mostly in that wake-up. Polling for a short window after I/O catches the answer without it.
//
// Adaptive mode learns the window from the gaps between bursts of I/O, as Linux's
// cpuidle-haltpoll governor does for an idle guest CPU (drivers/cpuidle/governors/haltpoll.c):
//   - a gap the window covered leaves it as it is;
//   - a gap longer than the window but at most `max_ns` grows it (doubles it, from
//     `grow_start_ns`, up to `max_ns`): polling that long would have caught it;
//   - a gap longer than `max_ns` halves it, and below `grow_start_ns` turns it off: traffic is
//     sparse, polling would only burn CPU.
// So the CPU spent polling after a burst is at most the window, an idle loop never polls, and a
// loop whose peers stop answering quickly stops polling after a few gaps.
//
// Polling only pays while the loop waits for an answer to what it wrote; a loaded loop must not
// poll (issue 18: 64 KiB server streaming ran at half the speed with polling on, bench/PROFILE.md
// "Idle polling under load"). So in adaptive mode the loop polls only
//   - after it wrote something since its last I/O turn (a request or a response went out: an
//     answer may come within microseconds). A loop that only receives — a streaming client
//     between its WINDOW_UPDATEs — sleeps: what keeps coming wakes it at no cost to the stream
//     (the kernel buffers it). Such a client otherwise spun ~30 empty epoll_waits per 64 KiB
//     message;
//   - not after a bulk turn: a read filled the whole read buffer, so data was waiting and the
//     peer is streaming to us. Its gap teaches the window nothing either;
//   - not while writes wait for the socket (bytes the kernel did not take): the loop waits for
//     the peer to read, which is not an answer polling could catch sooner; epoll wakes it.
// Fixed mode always polls `max_ns` after I/O (UvLoopOptions::busyPollMicros): the user asked for
// it, load or not.
//
// Threading: the loop's thread. Lifetime: a value, owned by the loop.
#ifndef H2RPC_TRANSPORT_INTERNAL_IDLE_POLL_H_
#define H2RPC_TRANSPORT_INTERNAL_IDLE_POLL_H_

#include <algorithm>
#include <cstdint>

namespace h2rpc::transport::internal {

class IdlePoll {
 public:
  struct Options {
    uint64_t max_ns = 0;  // 0: never poll
    uint64_t grow_start_ns = 0;
    bool fixed = false;  // always poll max_ns after I/O
  };

  explicit IdlePoll(Options options)
      : max_ns_(options.max_ns),
        grow_start_ns_(std::min(options.grow_start_ns, options.max_ns)),
        fixed_(options.fixed),
        window_ns_(options.fixed ? options.max_ns : 0) {}

  bool enabled() const { return max_ns_ > 0; }

  // A loop turn received I/O: the first of it at `first_io_ns`, the turn ended at `end_ns`
  // (both on one monotonic clock). Adapts the window to the gap since the previous such turn
  // ended, and polls for the window from `end_ns` on. A `bulk` turn (a read filled the read
  // buffer) does neither in adaptive mode: no polling after it, the window as it was.
  void onIoTurn(uint64_t first_io_ns, uint64_t end_ns, bool bulk = false) {
    if (!enabled()) return;
    wrote_since_io_ = false;  // what the loop writes from now on answers this I/O
    answering_turn_ = true;
    if (bulk && !fixed_) {
      seen_io_ = true;
      last_io_end_ns_ = end_ns;
      poll_until_ns_ = 0;
      return;
    }
    if (!fixed_ && seen_io_) {
      const uint64_t gap = first_io_ns > last_io_end_ns_ ? first_io_ns - last_io_end_ns_ : 0;
      if (gap > window_ns_ && gap <= max_ns_) {
        window_ns_ = std::min(max_ns_, std::max(window_ns_ * 2, grow_start_ns_));
      } else if (gap > max_ns_) {
        window_ns_ /= 2;
        if (window_ns_ < grow_start_ns_) window_ns_ = 0;
      }
    }
    seen_io_ = true;
    last_io_end_ns_ = end_ns;
    poll_until_ns_ = end_ns + window_ns_;
  }

  // The loop wrote to a socket (after its last I/O turn, or in the same turn before the I/O:
  // a loop turn writes before it polls).
  void onWrite() { wrote_since_io_ = true; }

  // Whether the loop's next turn should poll rather than sleep at `now_ns`; `writes_waiting`:
  // some socket has bytes the kernel did not take yet. Adaptive mode polls within the window
  // only after a write, or in the turn right after the I/O (it handles the I/O and writes the
  // answer before its own poll: a turn that slept there would sleep with the answer just sent),
  // and never while bytes wait to be written; fixed mode always does.
  bool polling(uint64_t now_ns, bool writes_waiting = false) const {
    if (!fixed_ && (writes_waiting || !(wrote_since_io_ || answering_turn_))) return false;
    return now_ns < poll_until_ns_;
  }
  // A loop turn starts (after polling() decided how it waits).
  void onTurn() { answering_turn_ = false; }
  uint64_t windowNs() const { return window_ns_; }

 private:
  const uint64_t max_ns_;
  const uint64_t grow_start_ns_;
  const bool fixed_;
  uint64_t window_ns_;
  bool seen_io_ = false;
  uint64_t last_io_end_ns_ = 0;
  uint64_t poll_until_ns_ = 0;
  bool wrote_since_io_ = false;
  bool answering_turn_ = false;
};

}  // namespace h2rpc::transport::internal

#endif  // H2RPC_TRANSPORT_INTERNAL_IDLE_POLL_H_
