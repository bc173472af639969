// rpc/on_loop.h — running work on a loop's thread from any thread and waiting for it: what
// BlockOn(), the blocking stubs (client_blocking.h) and rpc::Channel use to hop onto their loop.
//
// A thread that calls into a loop is in one of three situations (LoopAccess):
// - kPost: another thread runs the loop (a transport::UvLoopThread, or a thread in loop.run()):
//   the work is posted to it (LoopExecutor) and the caller sleeps until it is done;
// - kDrive: nobody runs the loop: the caller runs it itself until the work is done (the
//   single-threaded program of the examples: `stub.SayHelloBlocking(req)` from main());
// - kLoopThread: the caller is the loop's own thread (a callback or coroutine on the loop):
//   blocking there would deadlock, so the blocking functions refuse (FAILED_PRECONDITION) —
//   `co_await` instead.
//
// Threading: any thread, as above. Lifetime: the loop must outlive the call; if it is destroyed
// while a caller waits (kPost), the caller wakes and gets nothing (nullopt), and the work is
// dropped with the loop (transport/uv_loop.h, LoopExecutor).
#ifndef H2RPC_RPC_ON_LOOP_H_
#define H2RPC_RPC_ON_LOOP_H_

#include <condition_variable>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "rpc/task.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {

enum class LoopAccess { kPost, kDrive, kLoopThread };

inline LoopAccess AccessFromThisThread(transport::UvLoop* loop) {
  const transport::LoopExecutor& executor = *loop->executor();
  if (executor.inLoopThread()) return LoopAccess::kLoopThread;
  if (executor.runningElsewhere()) return LoopAccess::kPost;
  return LoopAccess::kDrive;
}

// The status a blocking call returns when it was made on its loop's own thread.
inline absl::Status BlockingOnLoopThreadError() {
  return absl::FailedPreconditionError(
      "A blocking call was made on its channel's loop thread (it would deadlock); co_await the "
      "asynchronous call instead");
}

// The status of a blocking call whose loop was destroyed before the call ended.
inline absl::Status LoopGoneError() {
  return absl::UnavailableError("The channel's event loop was stopped before the call ended");
}

namespace internal {

// BlockOn() where it cannot block: prints why and aborts (a programming error).
[[noreturn]] void BlockOnFailed();

// Waits for work this thread posted to `loop`. When the loop was being driven by another
// thread's blocking call (UvLoop::driveUntil) which then let it go, nobody would run what we
// posted: this thread drives it then. False if the loop was destroyed first.
inline bool WaitOrDrive(transport::UvLoop* loop,
                        const std::shared_ptr<transport::LoopExecutor>& executor,
                        std::condition_variable& cv, const std::function<bool()>& done) {
  while (!executor->waitWhileDriven(cv, done)) {
    if (!executor->open()) return false;
    // Our own turn: runs what we posted; false if another thread claimed the loop first.
    if (loop->driveUntil([] {}, [&] { return done(); })) return true;
  }
  return true;
}

template <typename T>
struct BlockState {
  std::optional<T> value;  // guarded by the executor's lock until `done`
  std::exception_ptr error;
  bool done = false;
  std::condition_variable cv;  // the waiting thread's own (LoopExecutor::wait)
};

}  // namespace internal

// Runs `task` on `loop` to completion and returns its result: posted to the loop's thread
// (kPost) or by running the loop here (kDrive). nullopt on the loop's own thread (kLoopThread;
// the task is not run) or when the loop is destroyed first. What the task threw is rethrown here.
template <typename T>
std::optional<T> TryBlockOn(transport::UvLoop* loop, Task<T> task) {
  auto state = std::make_shared<internal::BlockState<T>>();
  switch (AccessFromThisThread(loop)) {
    case LoopAccess::kLoopThread:
      return std::nullopt;
    case LoopAccess::kDrive: {
      // The loop stays claimed by this thread until the task ends: other threads post to it.
      const bool drove = loop->driveUntil(
          [&] {
            std::move(task).Start(
                [state](T value) {
                  state->value.emplace(std::move(value));
                  state->done = true;
                },
                [state](std::exception_ptr e) {
                  state->error = e;
                  state->done = true;
                });
          },
          [&] { return state->done; });
      if (drove) break;
      [[fallthrough]];  // another thread started running the loop first: post to it
    }
    case LoopAccess::kPost: {
      std::shared_ptr<transport::LoopExecutor> executor = loop->executor();
      const bool posted =
          executor->post([task = std::make_shared<Task<T>>(std::move(task)), state, executor] {
            // On the loop thread. The task resumes there; its end wakes the caller.
            std::move(*task).Start(
                [state, executor](T value) {
                  executor->notify(state->cv, [&] {
                    state->value.emplace(std::move(value));
                    state->done = true;
                  });
                },
                [state, executor](std::exception_ptr e) {
                  executor->notify(state->cv, [&] {
                    state->error = e;
                    state->done = true;
                  });
                });
          });
      if (!posted) return std::nullopt;
      if (!internal::WaitOrDrive(loop, executor, state->cv, [&] { return state->done; })) {
        return std::nullopt;
      }
      break;
    }
  }
  if (state->error) std::rethrow_exception(state->error);
  return std::move(state->value);
}

// Runs `fn()` on the loop's thread and returns what it returns: inline when the caller is the
// loop thread or nobody runs the loop, else posted and waited for. nullopt if the loop was
// destroyed first.
template <typename F, typename R = std::invoke_result_t<F&>>
std::optional<R> CallOnLoop(transport::UvLoop* loop, F fn) {
  const LoopAccess access = AccessFromThisThread(loop);
  if (access == LoopAccess::kLoopThread) return fn();
  if (access == LoopAccess::kDrive) {
    // Claimed while fn runs, so no other thread drives the loop meanwhile.
    std::optional<R> result;
    if (loop->driveUntil([&] { result.emplace(fn()); }, [] { return true; })) return result;
  }
  auto state = std::make_shared<internal::BlockState<R>>();
  std::shared_ptr<transport::LoopExecutor> executor = loop->executor();
  const bool posted = executor->post([fn = std::make_shared<F>(std::move(fn)), state, executor] {
    R result = (*fn)();
    executor->notify(state->cv, [&] {
      state->value.emplace(std::move(result));
      state->done = true;
    });
  });
  if (!posted) return std::nullopt;
  if (!internal::WaitOrDrive(loop, executor, state->cv, [&] { return state->done; })) return std::nullopt;
  return std::move(state->value);
}

// Gives `object` to the loop's thread, runs `last(object)` there and drops it there (the last
// reference to loop objects must go on their loop): inline when that is the calling thread or
// nobody runs the loop, else posted without waiting. A loop already gone: done here.
template <typename T, typename F>
void ReleaseOnLoop(transport::UvLoop* loop, std::shared_ptr<T> object, F last) {
  if (!object) return;
  const LoopAccess access = AccessFromThisThread(loop);
  if (access == LoopAccess::kDrive && loop->executor()->open() &&
      loop->driveUntil(
          [&] {
            last(*object);
            object.reset();
          },
          [] { return true; })) {
    return;
  }
  if (access != LoopAccess::kLoopThread && object) {
    auto release = std::make_shared<std::pair<std::shared_ptr<T>, F>>(std::move(object),
                                                                      std::move(last));
    if (loop->postFromAnyThread([release] {
          release->second(*release->first);
          release->first.reset();
        })) {
      return;
    }
    object = std::move(release->first);
    last = std::move(release->second);
  }
  last(*object);
  object.reset();
}

namespace internal {

// Resumes a coroutine on its home loop exactly once: when told (Resume), or when the last
// holder lets it go without having told it (a target loop destroyed with the work unrun).
class ResumeGuard {
 public:
  ResumeGuard(std::shared_ptr<transport::LoopExecutor> home, std::function<void()> resume)
      : home_(std::move(home)), resume_(std::move(resume)) {}
  ResumeGuard(const ResumeGuard&) = delete;
  ResumeGuard& operator=(const ResumeGuard&) = delete;
  ~ResumeGuard() {
    if (armed_) (void)home_->post(std::move(resume_));
  }
  void Resume() {
    if (!armed_) return;
    armed_ = false;
    (void)home_->post(std::move(resume_));
  }
  void Disarm() { armed_ = false; }

 private:
  std::shared_ptr<transport::LoopExecutor> home_;
  std::function<void()> resume_;
  bool armed_ = true;
};

template <typename T>
class RunOnAwaiter {
 public:
  RunOnAwaiter(transport::UvLoop* target, Task<T> task)
      : target_(target), task_(std::move(task)) {}

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    transport::UvLoop* here = transport::UvLoop::current();
    if (here == target_) {
      same_loop_ = true;
      return task_.await_suspend(h);  // an ordinary co_await of the task
    }
    if (here == nullptr) return h;  // no loop to come back to: nullopt
    // The coroutine resumes with the CallContext it had (rpc/context.h); the task on `target`
    // runs without one (a context belongs to its loop).
    if (CallContext* ctx = CallContext::Current()) context_ = ctx->Share();
    // The awaiter lives in the suspended coroutine's frame until it is resumed. The guard
    // resumes it (with nullopt) if the target loop is destroyed first: the queued closure, or
    // the task's frame with its callbacks, is then destroyed unrun and the guard with it.
    auto guard = std::make_shared<ResumeGuard>(here->executor(), [this, h] { Resume(h); });
    const bool posted = target_->postFromAnyThread(
        [this, guard, task = std::make_shared<Task<T>>(std::move(task_))] {
          std::move(*task).Start(
              [this, guard](T value) {
                result_.emplace(std::move(value));
                guard->Resume();
              },
              [this, guard](std::exception_ptr e) {
                error_ = e;
                guard->Resume();
              });
        });
    if (!posted) {
      guard->Disarm();
      return h;
    }
    return std::noop_coroutine();
  }
  std::optional<T> await_resume() {
    if (same_loop_) return task_.await_resume();
    if (error_) std::rethrow_exception(error_);
    return std::move(result_);
  }

 private:
  void Resume(std::coroutine_handle<> h) {
    CallContextScope scope(context_.get());  // (only restores a pointer when it ends)
    h.resume();
  }
  std::shared_ptr<CallContext> context_;
  transport::UvLoop* target_;
  Task<T> task_;
  bool same_loop_ = false;
  std::optional<T> result_;  // written on the target loop, read after the hop back (post)
  std::exception_ptr error_;
};

}  // namespace internal

// `co_await RunOn(loop, task)` from a coroutine on another loop: runs `task` on `loop` (a
// channel's, say) and resumes the awaiting coroutine on its own loop with the result — the
// cross-loop form of `co_await task`. nullopt if `loop` was already being destroyed (or if the
// awaiting coroutine runs on no loop), or if `loop` is destroyed before the task ends. On `loop`
// itself it is a plain `co_await task`. If the awaiting coroutine's loop is destroyed first,
// that coroutine is never resumed.
template <typename T>
internal::RunOnAwaiter<T> RunOn(transport::UvLoop* loop, Task<T> task) {
  return internal::RunOnAwaiter<T>(loop, std::move(task));
}

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_ON_LOOP_H_
