// LoopExecutor and UvLoopThread: posting to a loop from other threads, waking it, and what
// happens to work posted while or after the loop goes away. Run under TSan (--config=tsan).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "transport/uv_loop.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::transport {
namespace {

constexpr auto kPatience = std::chrono::seconds(30);  // only a failing test waits this long

// Work posted from many threads at once all runs, on the loop's thread, each thread's in the
// order it posted.
TEST(LoopExecutorTest, PostsFromManyThreadsRunOnTheLoopThreadInOrder) {
  UvLoopThread io;
  constexpr int kThreads = 8;
  constexpr int kPosts = 500;
  // Touched only on the loop thread (TSan checks that no other thread does).
  std::vector<int> last(kThreads, -1);
  int out_of_order = 0;
  int off_thread = 0;
  std::atomic<int> ran{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPosts; ++i) {
        ASSERT_TRUE(io.loop()->postFromAnyThread([&, t, i] {
          if (std::this_thread::get_id() != io.threadId()) ++off_thread;
          if (last[t] != i - 1) ++out_of_order;
          last[t] = i;
          ++ran;
        }));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::promise<void> drained;
  io.loop()->postFromAnyThread([&] { drained.set_value(); });
  ASSERT_EQ(drained.get_future().wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(ran.load(), kThreads * kPosts);
  io.stop();  // joined: the loop thread's writes are visible here
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(off_thread, 0);
}

// A loop asleep in epoll_wait with nothing to do wakes up for a post.
TEST(LoopExecutorTest, PostWakesASleepingLoop) {
  UvLoopThread io;
  for (int i = 0; i < 20; ++i) {
    std::promise<std::thread::id> ran;
    ASSERT_TRUE(io.loop()->postFromAnyThread(
        [&] { ran.set_value(std::this_thread::get_id()); }));
    auto f = ran.get_future();
    ASSERT_EQ(f.wait_for(kPatience), std::future_status::ready);
    EXPECT_EQ(f.get(), io.threadId());
  }
}

// Who is running the loop, as seen from each thread; UvLoop::current() on the loop thread.
TEST(LoopExecutorTest, KnowsWhichThreadRunsTheLoop) {
  UvLoopThread io;
  auto executor = io.loop()->executor();
  EXPECT_TRUE(executor->runningElsewhere());
  EXPECT_FALSE(executor->inLoopThread());
  EXPECT_EQ(UvLoop::current(), nullptr);
  std::promise<bool> checks;
  io.loop()->postFromAnyThread([&] {
    checks.set_value(executor->inLoopThread() && !executor->runningElsewhere() &&
                     UvLoop::current() == io.loop());
  });
  EXPECT_TRUE(checks.get_future().get());

  UvLoop idle;  // nobody runs it: a caller may drive it itself
  EXPECT_FALSE(idle.executor()->runningElsewhere());
  EXPECT_FALSE(idle.executor()->inLoopThread());
}

// Without keepAlive, the executor's handle does not keep run() going (a program's loop.run()
// still returns when its work is done); with it, a turn waits for and runs other threads' work.
TEST(LoopExecutorTest, RunReturnsWhenIdleUnlessKeptAlive) {
  UvLoop loop;
  EXPECT_EQ(loop.run(), 0);
  bool ran = false;
  loop.keepAlive(true);
  std::thread poster([&] { ASSERT_TRUE(loop.postFromAnyThread([&] { ran = true; })); });
  for (int i = 0; i < 1000 && !ran; ++i) loop.runOnce();  // blocks until the wake-up
  poster.join();
  EXPECT_TRUE(ran);
  loop.keepAlive(false);
  EXPECT_EQ(loop.run(), 0);
}

// A callback's captures, to see where and whether it was destroyed.
struct Witness {
  Witness(std::atomic<int>* d, std::thread::id* on) : destroyed(d), destroyed_on(on) {}
  Witness(const Witness&) = delete;
  std::atomic<int>* destroyed;
  std::thread::id* destroyed_on;
  ~Witness() {
    *destroyed_on = std::this_thread::get_id();
    ++*destroyed;
  }
};

// Work still queued when the loop is destroyed is destroyed there, never run; posts after that
// (the executor outlives the loop) are refused and their callback is destroyed by the poster.
TEST(LoopExecutorTest, TeardownDestroysQueuedWorkAndRefusesLaterPosts) {
  std::atomic<int> destroyed{0};
  std::thread::id destroyed_on;
  bool ran = false;
  auto loop = std::make_unique<UvLoop>();
  std::shared_ptr<LoopExecutor> executor = loop->executor();
  std::thread poster([&] {
    auto w = std::make_shared<Witness>(&destroyed, &destroyed_on);
    ASSERT_TRUE(executor->post([w = std::move(w), &ran] { ran = true; }));
  });
  poster.join();
  EXPECT_EQ(destroyed.load(), 0);
  loop.reset();
  EXPECT_FALSE(ran);
  EXPECT_EQ(destroyed.load(), 1);
  EXPECT_EQ(destroyed_on, std::this_thread::get_id());
  EXPECT_FALSE(executor->open());

  std::thread late([&] {
    auto w = std::make_shared<Witness>(&destroyed, &destroyed_on);
    EXPECT_FALSE(executor->post([w = std::move(w), &ran] { ran = true; }));
    EXPECT_EQ(destroyed.load(), 2);
    EXPECT_EQ(destroyed_on, std::this_thread::get_id());
  });
  late.join();
  EXPECT_FALSE(ran);
}

// A thread waiting for work it posted wakes when that work signals it, or with false when the
// loop is destroyed first (never stays blocked).
TEST(LoopExecutorTest, WaitersWakeOnNotifyOrWhenTheLoopIsDestroyed) {
  auto io = std::make_unique<UvLoopThread>();
  auto executor = io->loop()->executor();
  bool done = false;  // guarded by the executor's lock
  std::condition_variable cv;
  ASSERT_TRUE(executor->post([&] { executor->notify(cv, [&] { done = true; }); }));
  EXPECT_TRUE(executor->wait(cv, [&] { return done; }));

  std::promise<void> waiting;
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    waiting.set_value();
    std::condition_variable own;
    result = executor->wait(own, [] { return false; }) ? 1 : 0;
  });
  waiting.get_future().wait();
  io.reset();  // stops, joins and destroys the loop
  waiter.join();
  EXPECT_EQ(result.load(), 0);
}

// stop() runs what was posted before it, then the thread ends.
TEST(LoopExecutorTest, StopRunsWhatWasPostedBefore) {
  UvLoopThread io;
  int ran = 0;
  for (int i = 0; i < 100; ++i) io.loop()->postFromAnyThread([&] { ++ran; });
  io.stop();
  EXPECT_EQ(ran, 100);
  io.stop();  // idempotent
}

}  // namespace
}  // namespace h2rpc::transport
