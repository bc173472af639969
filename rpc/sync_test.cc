// The coroutine toolkit on a ManualLoop: where waiters resume (Awaitable), cancellable Sleep,
// Event, Queue, TaskScope, WhenAll/WhenAny, and exceptions of detached tasks.
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rpc/sleep.h"
#include "rpc/sync.h"
#include "rpc/task.h"
#include "rpc/task_scope.h"
#include "transport/manual_loop.h"

namespace h2rpc::rpc {
namespace {

using transport::ManualLoop;

Task<void> AwaitInto(Awaitable<int> a, std::vector<std::string>* log) {
  int v = co_await a;
  log->push_back("resumed " + std::to_string(v));
}

TEST(AwaitableTest, CompletionFromACallbackResumesTheWaiterAfterTheCallbackReturns) {
  ManualLoop loop;
  std::vector<std::string> log;
  Awaitable<int> op(&loop);
  AwaitInto(op, &log).Start();
  // A transport callback completing the operation, then going on with its own work.
  loop.post([&] {
    op.state()->Complete(7);
    log.push_back("callback returns");
  });
  loop.runUntilIdle();
  EXPECT_EQ(log, (std::vector<std::string>{"callback returns", "resumed 7"}));
}

TEST(AwaitableTest, ACompletionBeforeTheAwaitCostsNoPost) {
  ManualLoop loop;
  std::vector<std::string> log;
  Awaitable<int> op(&loop);
  op.state()->Complete(3);
  AwaitInto(op, &log).Start();
  EXPECT_EQ(log, (std::vector<std::string>{"resumed 3"}));  // no loop turn needed
  EXPECT_TRUE(loop.idle());
}

TEST(AwaitableTest, AWaiterDestroyedBeforeItsPostedResumptionIsNotResumed) {
  ManualLoop loop;
  std::vector<std::string> log;
  Awaitable<int> op(&loop);
  {
    // A task owned by this scope, stepped by hand to its co_await, then destroyed there.
    Task<void> owned = AwaitInto(op, &log);
    owned.await_suspend(std::noop_coroutine()).resume();
    EXPECT_TRUE(log.empty());
    op.state()->Complete(1);  // the resumption is posted...
  }                           // ...and the waiter is destroyed before it runs
  loop.runUntilIdle();
  EXPECT_TRUE(log.empty());
}

TEST(SleepTest, ElapsesOrIsCancelledByItsStopToken) {
  ManualLoop loop;
  std::optional<bool> first, second;
  std::stop_source stop;
  auto sleeper = [](ManualLoop* loop, absl::Duration d, std::stop_token t,
                    std::optional<bool>* out) -> Task<void> {
    *out = co_await Sleep(loop, d, t);
  };
  sleeper(&loop, absl::Milliseconds(100), {}, &first).Start();
  sleeper(&loop, absl::Hours(1), stop.get_token(), &second).Start();
  loop.advance(99);
  EXPECT_FALSE(first);
  loop.advance(1);
  EXPECT_EQ(first, true);
  EXPECT_FALSE(second);
  stop.request_stop();
  EXPECT_FALSE(second);  // resumed from the loop, not inside request_stop()
  loop.runUntilIdle();
  EXPECT_EQ(second, false);
  EXPECT_EQ(loop.pendingTimers(), 0u);  // the cancelled hour let go of its timer
  EXPECT_EQ(loop.adoptedCount(), 0u);

  std::optional<bool> third;
  sleeper(&loop, absl::Hours(1), stop.get_token(), &third).Start();  // already stopped
  loop.runUntilIdle();
  EXPECT_EQ(third, false);
}

TEST(EventTest, SetWakesEveryWaiterFromTheLoopAndStopEndsOneWait) {
  ManualLoop loop;
  Event event(&loop);
  std::vector<std::optional<bool>> got(3);
  std::stop_source stop;
  auto waiter = [](Event* e, std::stop_token t, std::optional<bool>* out) -> Task<void> {
    *out = co_await e->Wait(t);
  };
  waiter(&event, {}, &got[0]).Start();
  waiter(&event, {}, &got[1]).Start();
  waiter(&event, stop.get_token(), &got[2]).Start();
  EXPECT_EQ(event.waiters(), 3u);
  stop.request_stop();
  loop.runUntilIdle();
  EXPECT_EQ(got[2], false);
  EXPECT_EQ(event.waiters(), 2u);
  event.Set();
  EXPECT_FALSE(got[0]);  // not inside Set()
  loop.runUntilIdle();
  EXPECT_EQ(got[0], true);
  EXPECT_EQ(got[1], true);
  // Set stays set until Reset.
  std::optional<bool> late;
  waiter(&event, {}, &late).Start();
  EXPECT_EQ(late, true);
  event.Reset();
  std::optional<bool> orphan;
  {
    Event gone(&loop);
    waiter(&gone, {}, &orphan).Start();
  }
  loop.runUntilIdle();
  EXPECT_EQ(orphan, false);  // destroying an Event wakes its waiters
}

TEST(QueueTest, BoundedPushWaitsForRoomAndPopsComeInOrder) {
  ManualLoop loop;
  Queue<std::unique_ptr<int>> q(&loop, 2);
  std::vector<int> pushed_ok;
  auto producer = [](Queue<std::unique_ptr<int>>* q, int n, std::vector<int>* ok) -> Task<void> {
    for (int i = 0; i < n; ++i) {
      if (co_await q->Push(std::make_unique<int>(i))) ok->push_back(i);
    }
  };
  producer(&q, 5, &pushed_ok).Start();
  loop.runUntilIdle();
  EXPECT_EQ(q.size(), 2u);  // backpressure: the third push waits
  EXPECT_EQ(pushed_ok, (std::vector<int>{0, 1}));
  std::vector<int> popped;
  auto consumer = [](Queue<std::unique_ptr<int>>* q, std::vector<int>* out) -> Task<void> {
    while (std::optional<std::unique_ptr<int>> v = co_await q->Pop()) out->push_back(**v);
  };
  consumer(&q, &popped).Start();
  loop.runUntilIdle();
  EXPECT_EQ(popped, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(pushed_ok, (std::vector<int>{0, 1, 2, 3, 4}));
  q.Close();
  loop.runUntilIdle();
  std::unique_ptr<int> late = std::make_unique<int>(9);
  EXPECT_FALSE(q.TryPush(late));
  EXPECT_NE(late, nullptr);  // untouched
}

TEST(QueueTest, RendezvousPopAndStoppedWaits) {
  ManualLoop loop;
  Queue<int> q(&loop, 0);
  std::optional<bool> pushed;
  auto push = [](Queue<int>* q, int v, std::stop_token t, std::optional<bool>* out) -> Task<void> {
    *out = co_await q->Push(v, t);
  };
  push(&q, 5, {}, &pushed).Start();
  loop.runUntilIdle();
  EXPECT_FALSE(pushed);  // capacity 0: waits for a reader
  EXPECT_EQ(q.TryPop(), 5);
  loop.runUntilIdle();
  EXPECT_EQ(pushed, true);

  std::stop_source stop;
  std::optional<bool> stopped_push;
  push(&q, 6, stop.get_token(), &stopped_push).Start();
  stop.request_stop();
  loop.runUntilIdle();
  EXPECT_EQ(stopped_push, false);
  EXPECT_EQ(q.TryPop(), std::nullopt);  // the stopped value was dropped

  std::stop_source stop_pop;
  std::optional<std::optional<int>> popped;
  auto pop = [](Queue<int>* q, std::stop_token t, std::optional<std::optional<int>>* out) -> Task<void> {
    *out = co_await q->Pop(t);
  };
  pop(&q, stop_pop.get_token(), &popped).Start();
  stop_pop.request_stop();
  loop.runUntilIdle();
  ASSERT_TRUE(popped);
  EXPECT_EQ(*popped, std::nullopt);
}

Task<absl::Status> SleepThen(ManualLoop* loop, absl::Duration d, std::stop_token t,
                             absl::Status result, std::vector<std::string>* log,
                             std::string name) {
  const bool elapsed = co_await Sleep(loop, d, t);
  if (!elapsed) {
    log->push_back(name + " cancelled");
    co_return absl::CancelledError(name);
  }
  log->push_back(name + " done");
  co_return result;
}

TEST(TaskScopeTest, JoinWaitsForEveryChildAndTheFirstErrorCancelsTheOthers) {
  ManualLoop loop;
  std::vector<std::string> log;
  std::optional<absl::Status> joined;
  TaskScope scope(&loop);
  scope.Spawn(SleepThen(&loop, absl::Milliseconds(10), scope.stop_token(), absl::OkStatus(), &log, "a"));
  scope.Spawn(SleepThen(&loop, absl::Milliseconds(20), scope.stop_token(),
                        absl::InternalError("b failed"), &log, "b"));
  scope.Spawn(SleepThen(&loop, absl::Hours(1), scope.stop_token(), absl::OkStatus(), &log, "c"));
  EXPECT_EQ(scope.running(), 3u);
  auto join = [](TaskScope* s, std::optional<absl::Status>* out) -> Task<void> {
    *out = co_await s->Join();
  };
  join(&scope, &joined).Start();
  loop.advance(10);
  EXPECT_FALSE(joined);
  loop.advance(10);  // b fails: c is cancelled, Join completes
  loop.runUntilIdle();
  EXPECT_EQ(log, (std::vector<std::string>{"a done", "b done", "c cancelled"}));
  EXPECT_EQ(scope.running(), 0u);
  ASSERT_TRUE(joined);
  EXPECT_EQ(*joined, absl::InternalError("b failed"));
  EXPECT_EQ(scope.running(), 0u);
  EXPECT_EQ(loop.pendingTimers(), 0u);
}

TEST(TaskScopeTest, AnExceptionInAChildIsJoinedAsUnknownAndCancelIsCooperative) {
  ManualLoop loop;
  std::vector<std::string> log;
  TaskScope scope(&loop);
  scope.Spawn([]() -> Task<void> {
    throw std::runtime_error("boom");
    co_return;
  }());
  scope.Spawn(SleepThen(&loop, absl::Hours(1), scope.stop_token(), absl::OkStatus(), &log, "x"));
  std::optional<absl::Status> joined;
  [](TaskScope* s, std::optional<absl::Status>* out) -> Task<void> {
    *out = co_await s->Join();
  }(&scope, &joined).Start();
  loop.runUntilIdle();
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->code(), absl::StatusCode::kUnknown);
  EXPECT_NE(joined->message().find("boom"), std::string::npos);
  EXPECT_EQ(log, (std::vector<std::string>{"x cancelled"}));
}

std::vector<std::string>* reported = nullptr;
void Record(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    reported->push_back(ex.what());
  }
}

TEST(DetachedTaskTest, AnExceptionWithNoFailedCallbackIsReportedNotLost) {
  ManualLoop loop;
  std::vector<std::string> got;
  reported = &got;
  SetUnhandledExceptionHandler(&Record);
  []() -> Task<void> {
    throw std::runtime_error("lost?");
    co_return;
  }().Start();
  // A child of a scope destroyed before it ended: its error is reported too.
  std::stop_source never;
  {
    TaskScope scope(&loop);
    scope.Spawn([](ManualLoop* loop) -> Task<absl::Status> {
      co_await Sleep(loop, absl::Milliseconds(5));
      co_return absl::DataLossError("late error");
    }(&loop));
  }
  loop.advance(5);
  SetUnhandledExceptionHandler(nullptr);
  reported = nullptr;
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "lost?");
  EXPECT_NE(got[1].find("late error"), std::string::npos);
}

Task<int> After(ManualLoop* loop, int ms, int value, std::stop_token t, std::vector<int>* ended) {
  co_await Sleep(loop, absl::Milliseconds(ms), t);
  ended->push_back(value);
  co_return value;
}

TEST(WhenTest, WhenAllKeepsOrderAndWhenAnyStopsTheOthersBeforeReturning) {
  ManualLoop loop;
  std::vector<int> ended;
  std::optional<std::vector<int>> all;
  std::vector<Task<int>> tasks;
  tasks.push_back(After(&loop, 30, 1, {}, &ended));
  tasks.push_back(After(&loop, 10, 2, {}, &ended));
  tasks.push_back(After(&loop, 20, 3, {}, &ended));
  [](ManualLoop* loop, std::vector<Task<int>> t, std::optional<std::vector<int>>* out) -> Task<void> {
    *out = co_await WhenAll(loop, std::move(t));
  }(&loop, std::move(tasks), &all).Start();
  loop.advance(20);
  EXPECT_FALSE(all);
  loop.advance(10);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, (std::vector<int>{1, 2, 3}));

  ended.clear();
  std::stop_source stop;
  std::vector<Task<int>> racers;
  racers.push_back(After(&loop, 1000, 1, stop.get_token(), &ended));
  racers.push_back(After(&loop, 10, 2, stop.get_token(), &ended));
  std::optional<std::pair<size_t, int>> any;
  [](ManualLoop* loop, std::vector<Task<int>> t, std::stop_source* s,
     std::optional<std::pair<size_t, int>>* out) -> Task<void> {
    *out = co_await WhenAny(loop, std::move(t), s);
  }(&loop, std::move(racers), &stop, &any).Start();
  loop.advance(10);
  loop.runUntilIdle();
  ASSERT_TRUE(any);
  EXPECT_EQ(any->first, 1u);
  EXPECT_EQ(any->second, 2);
  EXPECT_EQ(ended, (std::vector<int>{2, 1}));  // the loser ended (stopped) before WhenAny returned
  EXPECT_EQ(loop.pendingTimers(), 0u);
}

}  // namespace
}  // namespace h2rpc::rpc
