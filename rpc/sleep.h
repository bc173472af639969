// rpc/sleep.h — Sleep(): a coroutine pause on the event loop, cancellable with a std::stop_token:
//
//   const bool elapsed = co_await Sleep(loop, absl::Seconds(1), ctx.stop_token());
//   if (!elapsed) co_return absl::CancelledError("stopped");
//
// Threading: the loop's thread, and the stop is requested there too (a stop requested on another
// thread races with the timer; hand it over with loop.postFromAnyThread). Lifetime: the pause is
// kept by the loop until it ends (the loop must outlive it); a cancelled pause lets go of its
// timer at once.
#ifndef H2RPC_RPC_SLEEP_H_
#define H2RPC_RPC_SLEEP_H_

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>

#include "absl/time/time.h"
#include "rpc/task.h"
#include "transport/event_loop.h"

namespace h2rpc::rpc {

namespace internal {

// One pause: its timer and its stop callback, adopted by the loop until it ends.
struct SleepOp {
  transport::EventLoop* loop;
  std::shared_ptr<Awaitable<bool>::State> state;
  std::unique_ptr<transport::Timer> timer;
  std::optional<std::stop_callback<std::function<void()>>> on_stop;
  bool ended = false;

  // Completes the pause; the op is dropped from a posted callback, outside the timer's and the
  // stop callback's own invocation.
  void End(bool elapsed) {
    if (ended) return;
    ended = true;
    timer->stop();
    state->Complete(elapsed);
    transport::EventLoop* l = loop;
    const void* key = this;
    l->post([l, key] { l->release(key); });
  }
};

}  // namespace internal

// Completes with true after `duration`, or with false as soon as `stop` is requested (at once if
// it already was). Without a token it cannot be cancelled.
inline Awaitable<bool> Sleep(transport::EventLoop* loop, absl::Duration duration,
                             std::stop_token stop = {}) {
  Awaitable<bool> done(loop);
  if (stop.stop_requested()) {
    done.state()->Complete(false);
    return done;
  }
  auto op = std::make_shared<internal::SleepOp>();
  op->loop = loop;
  op->state = done.state();
  op->timer = loop->createTimer();
  loop->adopt(op.get(), op);
  const int64_t ms = duration <= absl::ZeroDuration() ? 0 : absl::ToInt64Milliseconds(duration);
  internal::SleepOp* raw = op.get();  // the loop holds it until End() released it
  op->timer->start(static_cast<uint64_t>(ms), [raw] { raw->End(true); });
  if (stop.stop_possible()) {
    op->on_stop.emplace(std::move(stop), std::function<void()>([raw] { raw->End(false); }));
  }
  return done;
}

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SLEEP_H_
