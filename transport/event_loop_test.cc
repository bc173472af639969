// LoopCallback (what EventLoop::post takes): calls, moves and destroys what it holds exactly
// once, takes move-only and large callables, and keeps the usual posted lambda (two shared_ptrs
// and a few values) without allocating.
#include "transport/event_loop.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/manual_loop.h"
#include "transport/testing/allocation_counter.h"

namespace h2rpc::transport {
namespace {

using testing::AllocationCount;

TEST(LoopCallbackTest, SmallCapturesAreKeptInPlace) {
  auto a = std::make_shared<int>(1);
  auto b = std::make_shared<int>(2);
  int calls = 0;
  const size_t before = AllocationCount();
  {
    LoopCallback cb([a, b, &calls, flag = true, code = 7u] {
      calls += flag && code == 7 ? *a + *b : 0;
    });
    LoopCallback moved = std::move(cb);
    EXPECT_FALSE(cb);  // NOLINT(bugprone-use-after-move): specified as empty
    ASSERT_TRUE(moved);
    moved();
    EXPECT_EQ(a.use_count(), 2);
  }
  EXPECT_EQ(AllocationCount(), before);  // std::function would have allocated here
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(a.use_count(), 1);  // destroyed once, with the callback
  EXPECT_EQ(b.use_count(), 1);
}

TEST(LoopCallbackTest, LargeAndMoveOnlyCallables) {
  auto owned = std::make_unique<std::string>("moved in");
  std::string seen;
  std::vector<int> big(100, 1);
  char padding[LoopCallback::kInline] = {};
  LoopCallback large([big, padding, &seen] { seen += std::to_string(big.size() + padding[0]); });
  LoopCallback move_only([owned = std::move(owned), &seen] { seen += " " + *owned; });
  LoopCallback a = std::move(large), b = std::move(move_only);
  a();
  b();
  EXPECT_EQ(seen, "100 moved in");
  LoopCallback c;
  EXPECT_FALSE(c);
  c = std::move(a);  // assignment releases nothing held (c was empty) and takes a's
  c();
  EXPECT_EQ(seen, "100 moved in100");
}

TEST(LoopCallbackTest, PostedCallbacksRunInOrder) {
  ManualLoop loop;
  std::vector<int> order;
  std::function<void()> as_function = [&] { order.push_back(2); };
  loop.post([&] { order.push_back(1); });
  loop.post(as_function);  // a std::function is a callable like any other
  loop.post([&] { loop.post([&] { order.push_back(4); }); order.push_back(3); });
  EXPECT_EQ(loop.runUntilIdle(), 4u);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace h2rpc::transport
