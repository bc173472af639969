// transport/uv_loop.h — the EventLoop programs use: a libuv loop (as in Node).
//
// Threading: one thread runs the loop (run()) and makes every call; post() too.
// Lifetime: owns its uv_loop_t; everything created with it must be destroyed before it, and
// run() must have returned. The destructor lets libuv finish closing what was closed; handles
// still open then (a timer nobody stopped) keep the loop's memory allocated, never freed under
// them.
// Creating one sets SIGPIPE to ignored if it is at its default (as Node does): writes to a
// closed peer then fail with EPIPE instead of killing the process.
#ifndef H2RPC_TRANSPORT_UV_LOOP_H_
#define H2RPC_TRANSPORT_UV_LOOP_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "transport/event_loop.h"

namespace h2rpc::transport {

struct UvLoopOptions {
  // Busy polling, off by default (as in Node). When not 0: after the loop has received data or
  // a connection, it keeps polling without sleeping (epoll_wait with a zero timeout) for this
  // many microseconds before it blocks again. A round trip then no longer waits for the kernel
  // to wake a sleeping thread (tens of microseconds on a virtual machine, bench/README.md),
  // at the price of a CPU kept busy for that long after each burst of traffic. For latency-bound
  // programs on a core of their own; a loop with no traffic still sleeps.
  uint32_t busyPollMicros = 0;
};

class UvLoop : public EventLoop {
 public:
  UvLoop() : UvLoop(UvLoopOptions{}) {}
  explicit UvLoop(UvLoopOptions options);
  UvLoop(const UvLoop&) = delete;
  UvLoop& operator=(const UvLoop&) = delete;
  ~UvLoop() override;

  uint64_t now() const override { return uv_now(loop_); }
  std::unique_ptr<Timer> createTimer() override;
  void post(LoopCallback fn) override;
  void postLast(LoopCallback fn) override;
  // Runs `fn` in libuv's prepare phase: after this turn's posted callbacks (and postLast ones)
  // have run, right before the loop polls for I/O. Sockets send their writes here, so what all
  // sessions produced in a turn leaves in one write per connection.
  void beforePoll(LoopCallback fn);

  // Runs until nothing referenced is left (or stop()). Returns like uv_run.
  int run();
  // One turn: polls for I/O once, blocking unless callbacks are pending or the loop is busy
  // polling (UvLoopOptions::busyPollMicros). Returns like uv_run(UV_RUN_ONCE). For code that
  // drives the loop itself until something happened (rpc::BlockOn).
  int runOnce();
  void stop() {
    stop_requested_ = true;
    uv_stop(loop_);
  }
  // Sockets and servers call this when data or a connection arrived: it keeps a busy-polling
  // loop spinning. Cheap; a no-op in effect when busy polling is off.
  void noteIo() { ++io_events_; }
  uv_loop_t* uv() const { return loop_; }

 private:
  static void onIdle(uv_idle_t* idle);
  static void onPrepare(uv_prepare_t* prepare);

  const uint64_t busy_poll_ns_;
  uint64_t io_events_ = 0;
  uint64_t spin_until_ns_ = 0;  // busy polling: poll without blocking until then
  bool stop_requested_ = false;
  uv_loop_t* loop_;
  uv_idle_t* idle_;
  uv_prepare_t* prepare_;
  // What post() and postLast() queued, and the batch being run. Vectors swapped each batch keep
  // their capacity: no allocation per post for the queues themselves (a deque allocated a block
  // every few posts and freed it as it drained).
  std::vector<LoopCallback> posted_;
  std::vector<LoopCallback> posted_last_;
  std::vector<LoopCallback> running_;
  std::vector<LoopCallback> before_poll_;
  std::vector<LoopCallback> running_before_poll_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_UV_LOOP_H_
