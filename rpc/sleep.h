// rpc/sleep.h — Sleep(): a coroutine pause on the event loop (co_await Sleep(loop, 10ms)).
//
// Threading: the loop's thread. Lifetime: the timer lives until it fires (the loop must outlive
// the pause).
#ifndef H2RPC_RPC_SLEEP_H_
#define H2RPC_RPC_SLEEP_H_

#include <memory>

#include "absl/time/time.h"
#include "rpc/task.h"
#include "transport/event_loop.h"

namespace h2rpc::rpc {

inline Awaitable<bool> Sleep(transport::EventLoop* loop, absl::Duration duration) {
  Awaitable<bool> done;
  std::shared_ptr<transport::Timer> timer = loop->createTimer();
  const int64_t ms = duration <= absl::ZeroDuration() ? 0 : absl::ToInt64Milliseconds(duration);
  timer->start(static_cast<uint64_t>(ms), [state = done.state(), timer]() mutable {
    timer.reset();  // (the lambda owns the timer until it has fired)
    state->Complete(true);
  });
  return done;
}

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SLEEP_H_
