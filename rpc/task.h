// rpc/task.h — Task<T>, the coroutine type of h2rpc's API, and Awaitable<T>, what asynchronous
// operations return (reading a message, writing one, finishing a call).
//
//   Task<absl::StatusOr<HelloReply>> SayHello(ServerContext& ctx, const HelloRequest& req) {
//     HelloReply reply;
//     reply.set_message("Hello " + req.name());
//     co_return reply;
//   }
//
// A Task is lazy: it starts when awaited (`co_await task`) or when started with Start(), and it
// resumes its awaiter when it finishes. Awaitables complete from the event loop.
//
// Threading: a task runs on the loop thread of the calls it awaits; do not await operations of
// another loop. Awaitables complete, and so resume their awaiter, on the loop thread; other
// threads hand results over through the loop's executor (rpc::Offload, rpc/on_loop.h). Lifetime: a Task owns its coroutine frame until started; Start() hands the frame
// to itself (it is freed when it finishes). Destroying an unstarted Task destroys the frame.
#ifndef H2RPC_RPC_TASK_H_
#define H2RPC_RPC_TASK_H_

#include <atomic>
#include <coroutine>
#include <cstdio>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <utility>

#include "rpc/context.h"
#include "transport/block_pool.h"
#include "transport/event_loop.h"

namespace h2rpc::rpc {

template <typename T>
class Task;

namespace internal {

// What a started task threw when nobody gave Start() a `failed` callback: never lost; passed to
// the handler set with SetUnhandledExceptionHandler(), by default printed to stderr.
using UnhandledExceptionHandler = void (*)(std::exception_ptr);
inline std::atomic<UnhandledExceptionHandler>& UnhandledHandler() {
  static std::atomic<UnhandledExceptionHandler> handler{nullptr};
  return handler;
}
inline void ReportUnhandledException(std::exception_ptr e) {
  if (UnhandledExceptionHandler h = UnhandledHandler().load()) {
    h(e);
    return;
  }
  const char* what = "(not a std::exception)";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
    std::fprintf(stderr, "h2rpc: a detached task ended with an exception: %s\n", what);
    return;
  } catch (...) {
  }
  std::fprintf(stderr, "h2rpc: a detached task ended with an exception: %s\n", what);
}

// What a finished task does next: resume its awaiter, or call the Start() callback and free
// itself.
struct FinalAwaiter {
  bool await_ready() noexcept { return false; }
  template <typename Promise>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
    auto& p = h.promise();
    if (p.continuation) return p.continuation;
    if (p.detached) {
      p.RunDone();  // the Start() callbacks, while the frame (and what it holds) is alive
      h.destroy();
    }
    return std::noop_coroutine();
  }
  void await_resume() noexcept {}
};

// Coroutine frames come and go several per call (the method's task, the handler, reads), and an
// Awaitable's shared state per Read and per Write: they come from transport's per-thread
// BlockPool (transport/block_pool.h), recycled instead of a malloc and a free each.
using FramePool = transport::BlockPool;
template <typename T>
using PoolAllocator = transport::BlockPoolAllocator<T>;

template <typename Derived>
struct PromiseBase {
  // Frames from FramePool (the compiler passes the frame's size to both).
  static void* operator new(size_t size) { return FramePool::Allocate(size); }
  static void operator delete(void* p, size_t size) noexcept { FramePool::Free(p, size); }

  std::coroutine_handle<> continuation;
  std::exception_ptr exception;
  bool detached = false;
  // Start()'s callbacks, kept as given (a wrapper around both cost an allocation per task).
  std::function<void(std::exception_ptr)> failed;

  std::suspend_always initial_suspend() noexcept { return {}; }
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

}  // namespace internal

// Where exceptions of started tasks without a `failed` callback go (null: stderr). Any thread.
inline void SetUnhandledExceptionHandler(void (*handler)(std::exception_ptr)) {
  internal::UnhandledHandler().store(handler);
}

template <typename T>
class [[nodiscard]] Task {
 public:
  struct promise_type : internal::PromiseBase<promise_type> {
    std::optional<T> value;
    std::function<void(T)> done;
    void RunDone() {
      if (this->exception) {
        if (this->failed) {
          this->failed(this->exception);
        } else {
          internal::ReportUnhandledException(this->exception);
        }
      } else if (done) {
        done(std::move(*value));
      }
    }
    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    template <typename U>
    void return_value(U&& v) {
      value.emplace(std::forward<U>(v));
    }
  };

  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Task() {
    if (handle_) handle_.destroy();
  }

  // Awaiting a task runs it; the result (or the exception it threw) comes back here.
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle_.promise().continuation = awaiter;
    return handle_;
  }
  T await_resume() {
    auto& p = handle_.promise();
    if (p.exception) std::rethrow_exception(p.exception);
    return std::move(*p.value);
  }

  // Runs the task to completion without an awaiter: `done` gets its value, `failed` what it
  // threw. The task frees itself when it finishes.
  void Start(std::function<void(T)> done, std::function<void(std::exception_ptr)> failed) {
    auto h = std::exchange(handle_, nullptr);
    h.promise().detached = true;
    h.promise().done = std::move(done);
    h.promise().failed = std::move(failed);
    h.resume();
  }

 private:
  explicit Task(std::coroutine_handle<promise_type> h) : handle_(h) {}
  std::coroutine_handle<promise_type> handle_;
};

template <>
class [[nodiscard]] Task<void> {
 public:
  struct promise_type : internal::PromiseBase<promise_type> {
    std::function<void()> done;
    void RunDone() {
      if (this->exception) {
        if (this->failed) {
          this->failed(this->exception);
        } else {
          internal::ReportUnhandledException(this->exception);
        }
      } else if (done) {
        done();
      }
    }
    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    void return_void() {}
  };

  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Task() {
    if (handle_) handle_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle_.promise().continuation = awaiter;
    return handle_;
  }
  void await_resume() {
    if (handle_.promise().exception) std::rethrow_exception(handle_.promise().exception);
  }

  void Start(std::function<void()> done = nullptr,
             std::function<void(std::exception_ptr)> failed = nullptr) {
    auto h = std::exchange(handle_, nullptr);
    h.promise().detached = true;
    h.promise().done = std::move(done);
    h.promise().failed = std::move(failed);
    h.resume();
  }

 private:
  explicit Task(std::coroutine_handle<promise_type> h) : handle_(h) {}
  std::coroutine_handle<promise_type> handle_;
};

// The result of an asynchronous operation: `co_await` it once. The operation completes it with
// State::Complete(); the awaiting coroutine then resumes with the value.
//
// Where the waiter resumes. An Awaitable made with a loop (every one rpc/ makes) never resumes
// its waiter inside Complete(): Complete() stores the value and posts the resumption to the
// loop (EventLoop::post, Node's setImmediate), so the waiter runs after the completing code —
// a transport callback, a timer, Event::Set() — has returned, with that code's objects in a
// consistent state, and never inside another coroutine's stack. Only a completion that finds a
// coroutine already suspended pays for the post; one that comes before the co_await (a message
// already buffered, a write the transport took at once) makes await_ready() true and costs
// nothing. An Awaitable made without a loop resumes its waiter inline in Complete(): only for
// code that is itself a loop callback posted for this completion, doing nothing after it
// (CompleteInline says so at the call site), and for tests of Task alone.
//
// The waiter also gets back the ambient CallContext it had when it suspended (rpc/context.h).
template <typename T>
class [[nodiscard]] Awaitable {
 public:
  struct State : std::enable_shared_from_this<State> {
    std::optional<T> value;
    std::coroutine_handle<> waiter;
    transport::EventLoop* loop = nullptr;
    std::shared_ptr<CallContext> context;  // the waiter's, while it is suspended

    // The first completion wins. The waiter resumes from the loop (see above).
    void Complete(T v) {
      if (value) return;
      value.emplace(std::move(v));
      if (!waiter) return;
      if (loop == nullptr) {
        Resume();
        return;
      }
      loop->post([self = this->shared_from_this()] { self->Resume(); });
    }
    // Complete() resuming the waiter here and now: only from a loop callback posted for this
    // completion that does nothing after it (the waiter then runs at the top of the loop's
    // stack, exactly as if Complete() had posted it) — saves one post on hot paths.
    void CompleteInline(T v) {
      if (value) return;
      value.emplace(std::move(v));
      Resume();
    }
    // Resumes the waiter, if it is still waiting (its frame was not destroyed meanwhile).
    void Resume() {
      std::coroutine_handle<> h = std::exchange(waiter, nullptr);
      if (!h) return;
      std::shared_ptr<CallContext> ctx = std::move(context);
      CallContextScope scope(ctx.get());
      h.resume();
    }
  };

  // An operation of `loop` (see "Where the waiter resumes" above).
  explicit Awaitable(transport::EventLoop* loop) : state_(NewState()) { state_->loop = loop; }
  // Without a loop: the waiter resumes inside Complete() (see above).
  Awaitable() : state_(NewState()) {}
  explicit Awaitable(std::shared_ptr<State> state) : state_(std::move(state)) {}
  Awaitable(Awaitable&& other) noexcept : state_(std::move(other.state_)) {}
  Awaitable(const Awaitable& other) : state_(other.state_) {}
  Awaitable& operator=(Awaitable other) noexcept {
    state_ = std::move(other.state_);
    return *this;
  }
  // A coroutine destroyed while suspended here must not be resumed by a completion posted
  // before (or after) it went.
  ~Awaitable() {
    if (suspended_ && state_) state_->waiter = nullptr;
  }
  // An already completed operation.
  static Awaitable Ready(T value) {
    Awaitable a;
    a.state_->value.emplace(std::move(value));
    return a;
  }
  const std::shared_ptr<State>& state() const { return state_; }

  bool await_ready() const noexcept { return state_->value.has_value(); }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    state_->waiter = h;
    if (CallContext* ctx = CallContext::Current()) state_->context = ctx->Share();
    suspended_ = true;
  }
  T await_resume() {
    suspended_ = false;
    return std::move(*state_->value);
  }

 private:
  static std::shared_ptr<State> NewState() {
    return std::allocate_shared<State>(internal::PoolAllocator<State>());
  }
  std::shared_ptr<State> state_;
  bool suspended_ = false;  // this object is what a coroutine waits on
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_TASK_H_
