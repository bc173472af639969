// transport/event_loop.h — what a session needs from an event loop: a clock, timers and "run this
// soon" (Node's setImmediate). Injected, so tests drive time and ordering by hand (ManualLoop)
// while programs use libuv (UvLoop).
//
// Threading: every method is called on the loop's thread. Nothing here is thread-safe.
// Lifetime: the loop must outlive every object created with it (timers, sessions, servers).
#ifndef H2RPC_TRANSPORT_EVENT_LOOP_H_
#define H2RPC_TRANSPORT_EVENT_LOOP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>

namespace h2rpc::transport {

// A one-shot timer. Destroying it stops it.
class Timer {
 public:
  virtual ~Timer() = default;
  // (Re)arms the timer: `fn` runs once, `ms` milliseconds from now. Restarting replaces fn.
  virtual void start(uint64_t ms, std::function<void()> fn) = 0;
  virtual void stop() = 0;
  virtual bool active() const = 0;
  // A timer that is unref'd does not keep UvLoop::run() going (Node's timeout.unref()).
  virtual void unref() {}
  virtual void ref() {}
};

class EventLoop {
 public:
  virtual ~EventLoop() = default;

  // Keeps `object` alive until release(key), or until the loop is destroyed: what keeps a
  // session alive while its connection is open, whether or not the application holds it (as
  // open handles keep Node's objects). Loops release everything first in their destructor.
  void adopt(const void* key, std::shared_ptr<void> object) { adopted_[key] = std::move(object); }
  void release(const void* key) { adopted_.erase(key); }
  size_t adoptedCount() const { return adopted_.size(); }
  // Milliseconds on a monotonic clock.
  virtual uint64_t now() const = 0;
  virtual std::unique_ptr<Timer> createTimer() = 0;
  // Runs `fn` on this loop after the current callback returns (Node's setImmediate).
  virtual void post(std::function<void()> fn) = 0;
  // Runs `fn` once everything posted so far, and what that posts, has run, before the loop
  // waits for I/O again. A session flushes this way: every frame its streams produced in one
  // loop turn goes out in one write. Loops without the distinction just post().
  virtual void postLast(std::function<void()> fn) { post(std::move(fn)); }

 protected:
  // Destroys what the loop still keeps (called first thing by each loop's destructor).
  void releaseAll() {
    auto adopted = std::move(adopted_);
    adopted_.clear();
    adopted.clear();
  }

 private:
  std::unordered_map<const void*, std::shared_ptr<void>> adopted_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_EVENT_LOOP_H_
