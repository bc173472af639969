// Task::Start's callbacks and the coroutine frame pool.
#include "rpc/task.h"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "gtest/gtest.h"
#include "transport/sanitizers.h"

namespace h2rpc::rpc {
namespace {

Task<int> Add(Awaitable<int>& a, int b) {
  int x = co_await a;
  co_return x + b;
}

Task<void> Throw() {
  throw std::runtime_error("boom");
  co_return;
}

TEST(TaskTest, StartRunsDoneWithTheValueOrFailedWithTheException) {
  Awaitable<int> pending;
  std::optional<int> got;
  bool failed = false;
  Add(pending, 2).Start([&](int v) { got = v; }, [&](std::exception_ptr) { failed = true; });
  EXPECT_FALSE(got);  // suspended on `pending`
  pending.state()->Complete(40);
  EXPECT_EQ(got, 42);
  EXPECT_FALSE(failed);

  std::string what;
  Throw().Start([] { FAIL() << "done must not run"; }, [&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::runtime_error& ex) {
      what = ex.what();
    }
  });
  EXPECT_EQ(what, "boom");
}

TEST(TaskTest, CallbacksRunWhileTheFrameStillHoldsItsArguments) {
  // What the server's method handlers rely on to hold a plain pointer to the call.
  auto held = std::make_shared<int>(7);
  std::weak_ptr<int> weak = held;
  int seen = 0;
  auto run = [](std::shared_ptr<int> p) -> Task<int> { co_return *p; };
  run(std::move(held)).Start([&](int v) { seen = weak.expired() ? -1 : v; }, nullptr);
  EXPECT_EQ(seen, 7);
  EXPECT_TRUE(weak.expired());  // the frame is gone after
}

TEST(FramePoolTest, ReusesFreedFramesOfTheSameSizeClass) {
  void* a = internal::FramePool::Allocate(100);
  internal::FramePool::Free(a, 100);
  void* b = internal::FramePool::Allocate(120);  // same 64-byte class (65..128)
#ifdef H2RPC_ASAN
  (void)a;  // the pool is off under ASan: plain heap
#else
  EXPECT_EQ(a, b);
#endif
  void* big = internal::FramePool::Allocate(internal::FramePool::kMaxSmallSize + 1);
  internal::FramePool::Free(big, internal::FramePool::kMaxSmallSize + 1);
  internal::FramePool::Free(b, 120);
}

TEST(FramePoolTest, AwaitableStatesAreRecycled) {
  // A streaming call makes an Awaitable per Read and per Write: their states come from the
  // pool, so the next operation reuses the block the last one freed.
  const void* first;
  {
    Awaitable<int> a;
    first = a.state().get();
    a.state()->Complete(1);
  }
  Awaitable<int> b;
#ifdef H2RPC_ASAN
  (void)first;  // the pool is off under ASan: plain heap
#else
  EXPECT_EQ(b.state().get(), first);
#endif
  b.state()->Complete(2);
  EXPECT_EQ(*b.state()->value, 2);
}

}  // namespace
}  // namespace h2rpc::rpc
