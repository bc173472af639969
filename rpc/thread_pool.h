// rpc/thread_pool.h — ThreadPool, a few threads for blocking work, and Offload(): how a handler
// (or any coroutine on a loop) runs blocking work — a file read, a database client, heavy CPU —
// without stopping its loop, and resumes on its own loop with the result.
//
//   rpc::ThreadPool pool(4);
//   Task<absl::StatusOr<Reply>> Lookup(ServerContext& ctx, const Request& req) override {
//     auto lookup = [key = req.key()] { return db.Get(key); };
//     std::string row = co_await rpc::Offload(&pool, std::move(lookup));
//     ...                                          // back on this handler's loop thread
//   }
//
// Name the callable as above: GCC 12 destroys a capturing lambda written inside the co_await
// expression twice (a compiler bug with temporaries in co_await operands; seen as "free():
// invalid pointer" in rpc/threads_test.cc).
//
// Threading: Submit() and Offload() from any thread. The coroutine awaiting Offload() resumes on
// the loop it was running on (transport::UvLoop::current()), never on the pool's thread; awaited
// outside any running loop, `fn` simply runs inline. Lifetime: the pool must outlive the work
// submitted to it; its destructor runs what is still queued, then joins its threads. If the
// awaiting coroutine's loop is destroyed before `fn` returns, the coroutine is never resumed.
#ifndef H2RPC_RPC_THREAD_POOL_H_
#define H2RPC_RPC_THREAD_POOL_H_

#include <condition_variable>
#include <coroutine>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "rpc/context.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs `fn` on one of the pool's threads, in the order submitted (as threads free up). Once
  // the pool is being destroyed, `fn` runs inline in the caller instead (never dropped).
  void Submit(std::function<void()> fn);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

namespace internal {

template <typename R>
using OffloadValue = std::conditional_t<std::is_void_v<R>, bool, R>;

template <typename F, typename R>
class OffloadAwaiter {
 public:
  OffloadAwaiter(ThreadPool* pool, F fn) : pool_(pool), fn_(std::move(fn)) {}

  // Outside a running loop there is nothing to keep free: run inline.
  bool await_ready() {
    if (transport::UvLoop::current() != nullptr) return false;
    RunFn();
    return true;
  }
  void await_suspend(std::coroutine_handle<> h) {
    std::shared_ptr<transport::LoopExecutor> home = transport::UvLoop::current()->executor();
    // The coroutine resumes with the CallContext it had (rpc/context.h).
    if (CallContext* ctx = CallContext::Current()) context_ = ctx->Share();
    // The awaiter lives in the suspended coroutine's frame: `this` stays valid until resumed.
    pool_->Submit([this, h, home] {
      RunFn();
      // The result is handed over through the executor's lock (post), then read on the loop.
      (void)home->post([this, h] {
        CallContextScope scope(context_.get());  // (only restores a pointer when it ends)
        h.resume();
      });
    });
  }
  R await_resume() {
    context_.reset();
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<R>) return std::move(*value_);
  }

 private:
  std::shared_ptr<CallContext> context_;
  void RunFn() {
    try {
      if constexpr (std::is_void_v<R>) {
        fn_();
        value_.emplace(true);
      } else {
        value_.emplace(fn_());
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  ThreadPool* pool_;
  F fn_;
  std::optional<OffloadValue<R>> value_;
  std::exception_ptr error_;
};

}  // namespace internal

// `co_await Offload(&pool, fn)`: runs fn() on the pool and resumes the awaiting coroutine on its
// own loop with fn's result (what fn threw is rethrown there).
template <typename F, typename R = std::invoke_result_t<F&>>
internal::OffloadAwaiter<F, R> Offload(ThreadPool* pool, F fn) {
  return internal::OffloadAwaiter<F, R>(pool, std::move(fn));
}

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_THREAD_POOL_H_
