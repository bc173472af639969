// Fifo<T>: order, destruction on pop, moves, and bounded memory when it never empties.
#include "transport/fifo.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace h2rpc::transport {
namespace {

TEST(FifoTest, FirstInFirstOut) {
  Fifo<std::string> q;
  EXPECT_TRUE(q.empty());
  q.push_back("a");
  q.emplace_back(3, 'b');
  q.push_back("c");
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.front(), "a");
  EXPECT_EQ(q.back(), "c");
  q.pop_front();
  EXPECT_EQ(std::vector<std::string>(q.begin(), q.end()), (std::vector<std::string>{"bbb", "c"}));
  q.pop_front();
  q.pop_front();
  EXPECT_TRUE(q.empty());
  q.push_back("d");  // reusable after emptying
  EXPECT_EQ(q.front(), "d");
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
}

TEST(FifoTest, PopDestroysTheElementAtOnce) {
  auto held = std::make_shared<int>(1);
  Fifo<std::shared_ptr<int>> q;
  q.push_back(held);
  q.push_back(nullptr);
  EXPECT_EQ(held.use_count(), 2);
  q.pop_front();  // not emptied: the slot stays, its value must not
  EXPECT_EQ(held.use_count(), 1);
}

TEST(FifoTest, OneElementInPlaceAndCapacityKept) {
  Fifo<std::string> q;
  EXPECT_EQ(q.capacity(), 1u);  // in place: nothing allocated for the usual 0-1 entries
  q.push_back("a");
  q.pop_front();
  q.push_back("b");
  q.push_back("c");
  const size_t grown = q.capacity();
  EXPECT_GE(grown, 2u);
  q.pop_front();
  q.pop_front();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.capacity(), grown);  // emptying keeps what was allocated
}

TEST(FifoTest, MovedFromIsEmpty) {
  Fifo<int> a;
  a.push_back(1);
  a.push_back(2);
  a.pop_front();
  Fifo<int> b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): specified as empty
  EXPECT_EQ(a.size(), 0u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.front(), 2);
  a.push_back(7);
  EXPECT_EQ(a.front(), 7);
  a = std::move(b);
  EXPECT_EQ(a.front(), 2);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(FifoTest, NeverEmptyQueueKeepsOrderAndStaysSmall) {
  Fifo<int> q;
  q.push_back(0);
  int next_in = 1, next_out = 0;
  for (int i = 0; i < 100000; ++i) {
    q.push_back(next_in++);
    ASSERT_EQ(q.front(), next_out++);
    q.pop_front();
  }
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.front(), next_out);
  // Consumed slots are dropped: iteration sees only what is queued.
  EXPECT_EQ(std::distance(q.begin(), q.end()), 1);
  EXPECT_LT(q.capacity(), 64u);
}

}  // namespace
}  // namespace h2rpc::transport
