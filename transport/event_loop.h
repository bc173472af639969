// transport/event_loop.h — what a session needs from an event loop: a clock, timers and "run this
// soon" (Node's setImmediate). Injected, so tests drive time and ordering by hand (ManualLoop)
// while programs use libuv (UvLoop).
//
// Threading: every method is called on the loop's thread. Nothing here is thread-safe.
// Lifetime: the loop must outlive every object created with it (timers, sessions, servers).
#ifndef H2RPC_TRANSPORT_EVENT_LOOP_H_
#define H2RPC_TRANSPORT_EVENT_LOOP_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace h2rpc::transport {

namespace internal {
class PerformanceRegistry;  // transport/performance.h
class SharedFrameBuffer;    // transport/internal/nghttp2_allocator.h
}  // namespace internal

// What post() takes: any callable of no arguments, moved in. Unlike std::function it keeps
// callables of up to kInline bytes in place even when they are not trivially copyable (a lambda
// capturing two shared_ptrs and a few values, what the transport posts several times per
// request), so posting does not allocate; larger ones go to the heap. Move-only.
class LoopCallback {
 public:
  static constexpr size_t kInline = 64;

  LoopCallback() = default;
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, LoopCallback> &&
                                        std::is_invocable_r_v<void, D&>>>
  LoopCallback(F&& fn) {  // NOLINT(google-explicit-constructor): post([...] {...})
    if constexpr (sizeof(D) <= kInline && alignof(D) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<D>) {
      ::new (static_cast<void*>(storage_)) D(std::forward<F>(fn));
      ops_ = &kInlineOps<D>;
    } else {
      *reinterpret_cast<D**>(storage_) = new D(std::forward<F>(fn));
      ops_ = &kHeapOps<D>;
    }
  }
  LoopCallback(LoopCallback&& other) noexcept : ops_(std::exchange(other.ops_, nullptr)) {
    if (ops_) ops_->relocate(other.storage_, storage_);
  }
  LoopCallback& operator=(LoopCallback&& other) noexcept {
    if (this != &other) {
      reset();
      ops_ = std::exchange(other.ops_, nullptr);
      if (ops_) ops_->relocate(other.storage_, storage_);
    }
    return *this;
  }
  LoopCallback(const LoopCallback&) = delete;
  LoopCallback& operator=(const LoopCallback&) = delete;
  ~LoopCallback() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  void operator()() { ops_->call(storage_); }

 private:
  struct Ops {
    void (*call)(void* storage);
    void (*relocate)(void* from, void* to);  // move-constructs at `to`, destroys `from`
    void (*destroy)(void* storage);
  };
  template <typename D>
  static constexpr Ops kInlineOps = {
      [](void* p) { (*static_cast<D*>(p))(); },
      [](void* from, void* to) {
        ::new (to) D(std::move(*static_cast<D*>(from)));
        static_cast<D*>(from)->~D();
      },
      [](void* p) { static_cast<D*>(p)->~D(); }};
  template <typename D>
  static constexpr Ops kHeapOps = {
      [](void* p) { (**static_cast<D**>(p))(); },
      [](void* from, void* to) { *static_cast<D**>(to) = *static_cast<D**>(from); },
      [](void* p) { delete *static_cast<D**>(p); }};

  void reset() {
    if (ops_) std::exchange(ops_, nullptr)->destroy(storage_);
  }

  alignas(std::max_align_t) unsigned char storage_[kInline];
  const Ops* ops_ = nullptr;
};

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
  virtual void post(LoopCallback fn) = 0;
  // Runs `fn` once everything posted so far, and what that posts, has run, before the loop
  // waits for I/O again. A session flushes this way: every frame its streams produced in one
  // loop turn goes out in one write. Loops without the distinction just post().
  virtual void postLast(LoopCallback fn) { post(std::move(fn)); }

  // The 'http2' performance observers of this loop (transport/performance.h); null until the
  // first PerformanceObserver is created on it. Sessions check it before timing anything.
  internal::PerformanceRegistry* performanceRegistry() const { return performance_.get(); }
  std::shared_ptr<internal::PerformanceRegistry>& performanceRegistrySlot() { return performance_; }
  // The output frame buffer this loop's server sessions share (made by the first one; each
  // holds it, so it outlives them).
  std::shared_ptr<internal::SharedFrameBuffer>& frameBufferSlot() { return frame_buffer_; }

 protected:
  // Destroys what the loop still keeps (called first thing by each loop's destructor).
  void releaseAll() {
    auto adopted = std::move(adopted_);
    adopted_.clear();
    adopted.clear();
  }

 private:
  std::unordered_map<const void*, std::shared_ptr<void>> adopted_;
  // Destroyed after the derived loop's destructor has released the sessions.
  std::shared_ptr<internal::PerformanceRegistry> performance_;
  std::shared_ptr<internal::SharedFrameBuffer> frame_buffer_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_EVENT_LOOP_H_
