// transport/uv_loop.h — the EventLoop programs use: a libuv loop (as in Node), and
// LoopExecutor, the one way into it from other threads.
//
// Threading: one thread runs the loop (run()) and makes every call, post() included — except
// postFromAnyThread() and executor(), which any thread may call. A loop is run by one thread at a
// time (run()/runOnce() from a second thread while one runs it aborts with a message).
// Lifetime: owns its uv_loop_t; everything created with it must be destroyed before it, and
// run() must have returned. The destructor lets libuv finish closing what was closed; handles
// still open then (a timer nobody stopped) keep the loop's memory allocated, never freed under
// them.
// Creating one sets SIGPIPE to ignored if it is at its default (as Node does): writes to a
// closed peer then fail with EPIPE instead of killing the process.
#ifndef H2RPC_TRANSPORT_UV_LOOP_H_
#define H2RPC_TRANSPORT_UV_LOOP_H_

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "transport/event_loop.h"
#include "transport/internal/idle_poll.h"

namespace h2rpc::transport {

struct UvLoopOptions {
  // Idle polling: after the loop has received data or a connection, it may poll for more I/O
  // (epoll_wait with a zero timeout) for a while before it sleeps, so that an answer coming back
  // within microseconds does not wait for the kernel to wake a sleeping thread (tens of
  // microseconds on a virtual machine, and about as much CPU; bench/README.md, "Latency").
  //
  // Adaptive, the default: the loop learns how long to poll from the gaps between its bursts of
  // I/O, as Linux's cpuidle-haltpoll governor does for an idle guest CPU
  // (transport/internal/idle_poll.h). A gap of at most `adaptivePollMaxMicros` that polling
  // missed doubles the window (from 25 µs, up to that maximum); a longer gap halves it, then
  // turns it off. Quick request/response traffic gets polling; sparse traffic and an idle loop
  // get none, and after a burst the loop polls at most the window. A loaded loop gets none: it
  // polls only after it wrote since its last I/O, not after a read that filled the read buffer,
  // and not while a socket waits to be writable. 0: off, the loop always sleeps when it has
  // nothing to do (as Node's does).
  uint32_t adaptivePollMaxMicros = 100;
  // Fixed busy polling, for latency-bound programs on a core of their own: after I/O the loop
  // always polls this many microseconds before it sleeps (instead of the adaptive window).
  // 0: not fixed.
  uint32_t busyPollMicros = 0;
  // Lingering close of the loop's TCP sockets (UvSocket::end()): after the queued bytes, our FIN
  // (shutdown of the write side) and then input is read and thrown away until the peer's FIN, for
  // at most `lingerMillis` from end() and `lingerMaxBytes`, and only then is the socket closed.
  // Closing with unread input makes the kernel answer with a TCP RST, and a peer that gets an RST
  // may drop what it had not read yet: our last frames (GOAWAY, even SETTINGS, TLS close_notify).
  // 0 ms: close as soon as the queued bytes are written (still after the FIN).
  uint32_t lingerMillis = 2000;
  size_t lingerMaxBytes = 1 << 20;
};

class UvLoop;

// Posts work to a UvLoop from any thread (libuv's uv_async_t and a mutex-protected queue): the
// callback runs on the loop's thread, in the order posted, and the loop wakes up for it.
// Shared: it may outlive its loop, so a thread holding it can post at any time. Work posted once
// the loop is being destroyed (or after) is refused: post() returns false and `fn` is destroyed,
// not run. Work still queued when the loop is destroyed is destroyed, not run, by the thread
// destroying the loop. Waiters (wait()) wake when the loop is destroyed.
//
// Threading: every method, from any thread. Lifetime: shared_ptr, from UvLoop::executor().
class LoopExecutor {
 public:
  // Queues `fn` and wakes the loop. False (fn destroyed unrun) once the loop is gone or going.
  bool post(LoopCallback fn);
  // True on the thread running the loop right now (inside run() or runOnce()).
  bool inLoopThread() const { return runner_.load() == std::this_thread::get_id(); }
  // True if another thread is running the loop (then work must be posted to it).
  bool runningElsewhere() const {
    const std::thread::id r = runner_.load();
    return r != std::thread::id() && r != std::this_thread::get_id();
  }
  // False once the loop is being destroyed.
  bool open() const;

  // For threads that wait for work they posted, each on a condition variable of its own (no
  // thundering herd when many threads wait on one loop): wait(cv, done) sleeps on `cv` until
  // `done()` holds (checked under the executor's lock) or the loop is destroyed, and returns
  // done(). Whatever makes done() true must change it inside notify(cv, fn), which runs fn under
  // the same lock and wakes `cv` (under the lock too, so the waiter may destroy `cv` as soon as
  // it returns).
  bool wait(std::condition_variable& cv, const std::function<bool()>& done);
  // wait(), which also returns (done() false) once the thread driving the loop with
  // UvLoop::driveUntil() lets it go and nobody runs it: what the caller posted would never run
  // unless the caller now drives the loop itself.
  bool waitWhileDriven(std::condition_variable& cv, const std::function<bool()>& done);
  void notify(std::condition_variable& cv, const std::function<void()>& fn);

 private:
  friend class UvLoop;
  explicit LoopExecutor(uv_loop_t* loop);
  void runQueued();   // on the loop thread (the async callback)
  void wakeWaiters();  // a driver let the loop go: waitWhileDriven() callers re-check
  void close();       // on the destroying thread: refuses posts, destroys the queue

  mutable std::mutex mu_;
  std::vector<std::condition_variable*> waiters_;  // guarded by mu_; woken by close()
  std::vector<LoopCallback> queue_;  // guarded by mu_
  bool closed_ = false;               // guarded by mu_
  uv_async_t* async_;                 // sent under mu_ while !closed_; closed by close()
  std::atomic<std::thread::id> runner_{};
};

class UvLoop : public EventLoop {
 public:
  UvLoop() : UvLoop(UvLoopOptions{}) {}
  explicit UvLoop(UvLoopOptions options);
  const UvLoopOptions& options() const { return options_; }
  UvLoop(const UvLoop&) = delete;
  UvLoop& operator=(const UvLoop&) = delete;
  ~UvLoop() override;

  uint64_t now() const override { return uv_now(loop_); }
  std::unique_ptr<Timer> createTimer() override;
  void post(LoopCallback fn) override;
  void postLast(LoopCallback fn) override;
  // post() from any thread (see LoopExecutor): false if the loop is being destroyed.
  bool postFromAnyThread(LoopCallback fn) { return executor_->post(std::move(fn)); }
  // The loop's way in from other threads; it may be kept after the loop is gone. Any thread.
  const std::shared_ptr<LoopExecutor>& executor() const { return executor_; }
  // Whether the executor's wake-up handle keeps run() going when nothing else is left (off by
  // default: run() returns once the loop's own work is done, as Node's loop does). A loop on a
  // thread of its own (UvLoopThread) keeps it on, so that it waits for work from other threads
  // until stop(). Loop thread (or before the loop runs).
  void keepAlive(bool on);
  // The loop the calling thread is running (inside run()/runOnce()), or null.
  static UvLoop* current();
  // Runs `fn` in libuv's prepare phase: after this turn's posted callbacks (and postLast ones)
  // have run, right before the loop polls for I/O. Sockets send their writes here, so what all
  // sessions produced in a turn leaves in one write per connection. What these callbacks post
  // runs before the poll too (a 'drain' resuming a writer), and what that queues with
  // beforePoll() after it: up to 4 rounds per turn, then the rest next turn (uv_loop.cc).
  void beforePoll(LoopCallback fn);

  // Runs until nothing referenced is left (or stop()). Returns like uv_run.
  int run();
  // One turn: polls for I/O once, blocking unless callbacks are pending or the loop is within an
  // idle-polling window (UvLoopOptions). Returns like uv_run(UV_RUN_ONCE). For code that drives
  // the loop itself until something happened (rpc::BlockOn).
  int runOnce();
  // Claims the loop for the calling thread, runs `start()`, then turns the loop until `done()`
  // holds, keeping the claim the whole time: other threads see the loop run elsewhere and post
  // to it (between two runOnce() calls they would otherwise think nobody runs it and touch its
  // objects inline, concurrently). False, with nothing run, when another thread runs the loop.
  // For threads that use a loop nobody else runs (rpc::BlockOn, rpc::CallOnLoop).
  bool driveUntil(const std::function<void()>& start, const std::function<bool()>& done);
  void stop() {
    stop_requested_ = true;
    uv_stop(loop_);
  }
  // Sockets and servers call this when data or a connection arrived: what idle polling learns
  // from and starts its window after. Cheap (one clock read per turn at most). `bulk`: a read
  // filled the whole read buffer (data was waiting: a stream, not an answer), so the loop does
  // not poll after this turn (internal/idle_poll.h).
  void noteIo(bool bulk = false) {
    if (!idle_poll_.enabled()) return;
    bulk_this_turn_ = bulk_this_turn_ || bulk;
    if (io_this_turn_) return;
    io_this_turn_ = true;
    first_io_ns_ = uv_hrtime();  // a vDSO clock read, no system call
  }
  // Sockets call this when they hand bytes to the kernel: adaptive idle polling polls only
  // after the loop wrote (it then waits for an answer), not while it only receives.
  void noteWrite() {
    if (idle_poll_.enabled()) idle_poll_.onWrite();
  }
  // Sockets call this when bytes the kernel did not take start waiting for the socket to become
  // writable (true) and when the last of them went (false), once each: while any socket waits,
  // the loop does not idle-poll (waiting for the peer to read is not idle).
  void noteWriteWaiting(bool waiting) {
    if (waiting) {
      ++sockets_waiting_to_write_;
    } else {
      --sockets_waiting_to_write_;
    }
  }
  // How many sockets wait to write (for tests and diagnostics).
  size_t socketsWaitingToWrite() const { return sockets_waiting_to_write_; }
  // The current idle-polling window in nanoseconds (for tests and diagnostics).
  uint64_t idlePollWindowNs() const { return idle_poll_.windowNs(); }
  uv_loop_t* uv() const { return loop_; }

 private:
  // Marks the calling thread as the one running the loop for its scope (nested scopes on the
  // same thread are fine; another thread already running it is a programming error: abort).
  class RunScope;
  static void onIdle(uv_idle_t* idle);
  // UV_RUN_ONCE, or UV_RUN_NOWAIT when the turn must not block (a timer is due).
  uv_run_mode blockingMode();
  static void onPrepare(uv_prepare_t* prepare);

  UvLoopOptions options_;
  internal::IdlePoll idle_poll_;
  bool io_this_turn_ = false;
  bool bulk_this_turn_ = false;
  size_t sockets_waiting_to_write_ = 0;
  uint64_t first_io_ns_ = 0;
  bool stop_requested_ = false;
  uv_loop_t* loop_;
  uv_idle_t* idle_;
  uv_prepare_t* prepare_;
  std::shared_ptr<LoopExecutor> executor_;
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
