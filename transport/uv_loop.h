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

#include <functional>
#include <memory>
#include <vector>

#include "transport/event_loop.h"

namespace h2rpc::transport {

class UvLoop : public EventLoop {
 public:
  UvLoop();
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
  void stop() { uv_stop(loop_); }
  uv_loop_t* uv() const { return loop_; }

 private:
  static void onIdle(uv_idle_t* idle);
  static void onPrepare(uv_prepare_t* prepare);

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
