// SharedBuffer: ownership, slices, and ForOverwrite's blocks from the thread's BlockPool (what
// the pool keeps and its bounds: block_pool_test.cc). Under ASan the pool is off (plain heap): the
// reuse checks are skipped there.
#include "transport/buffer.h"

#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "transport/sanitizers.h"
#include "transport/testing/allocation_counter.h"

namespace h2rpc::transport {
namespace {

using testing::AllocationCount;

#ifdef H2RPC_ASAN
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

// Small buffers (a ping-pong message's outgoing buffer and the copy of its received payload,
// made and dropped once per message) come from the thread's BlockPool: after the first, a
// buffer made and dropped again allocates nothing. So does a short string handed over (copied
// into such a block, not wrapped in a control block from the heap).
TEST(SharedBufferTest, SmallBuffersAreRecycledOnTheThread) {
  {  // the two blocks the loop below has alive at once
    SharedBuffer warm = SharedBuffer::ForOverwrite(5);
    SharedBuffer warm_too(std::string("\0\0\0\0\0", 5));
  }
  const size_t before = AllocationCount();
  constexpr int kRounds = 100;
  for (int i = 0; i < kRounds; ++i) {
    SharedBuffer b = SharedBuffer::ForOverwrite(5);
    std::memset(b.mutable_data(), i, 5);
    SharedBuffer s(std::string("\0\0\0\0\0", 5));
    ASSERT_EQ(s.view(), std::string_view("\0\0\0\0\0", 5));
    ASSERT_EQ(s.block_size(), 5u);
  }
#ifdef H2RPC_ASAN
  EXPECT_EQ(AllocationCount() - before, size_t{2 * kRounds});  // the pool is off: plain heap
#else
  EXPECT_EQ(AllocationCount() - before, 0u);
#endif
}

TEST(SharedBufferTest, SlicesShareTheBytesAndKeepThemAlive) {
  SharedBuffer slice;
  {
    SharedBuffer whole(std::string("hello world"));
    EXPECT_TRUE(whole.unique());
    slice = whole.slice(6, 5);
    EXPECT_FALSE(whole.unique());
    EXPECT_EQ(slice.data(), whole.data() + 6);
  }
  EXPECT_EQ(slice.view(), "world");
}

// A 64 KiB message buffer freed and allocated again (one per streamed message) gets the same
// block back instead of new memory from malloc.
TEST(SharedBufferTest, LargeBlocksAreReusedOnTheSameThread) {
  const size_t cached_before = BlockPool::CachedBytes();
  const void* first;
  {
    SharedBuffer a = SharedBuffer::ForOverwrite(65541);
    ASSERT_EQ(a.size(), 65541u);
    std::memset(a.mutable_data(), 'x', a.size());  // all of it is usable (ASan checks)
    first = a.data();
  }
  // (Its control block, from a small class, may be counted too.)
  EXPECT_GE(BlockPool::CachedBytes(), cached_before + (kPooled ? 128 << 10 : 0));
  SharedBuffer b = SharedBuffer::ForOverwrite(70000);  // same size class (128 KiB)
  if (kPooled) {
    EXPECT_EQ(b.data(), first);
  }
  EXPECT_LT(BlockPool::CachedBytes(), cached_before + (128 << 10));
}

// A client reading a stream of 64 KiB messages holds up to a stream window of socket reads
// (64 KiB each) in unread messages, and drops them in bursts as it parses them: all of them
// must come back from the cache, or each burst is new heap memory faulted in again (~10k page
// faults/s measured with 4 blocks per class).
TEST(SharedBufferTest, AWindowOfReadBuffersIsReused) {
  constexpr int kReads = (1 << 20) / (64 << 10) + 1;  // rpc's 1 MiB window, messages spanning reads
  std::vector<SharedBuffer> held;
  for (int i = 0; i < kReads; ++i) held.push_back(SharedBuffer::ForOverwrite(64 << 10));
  std::set<const char*> blocks;
  for (const SharedBuffer& b : held) blocks.insert(b.data());
  const size_t cached_before = BlockPool::CachedBytes();
  held.clear();
  EXPECT_GE(BlockPool::CachedBytes(), cached_before + (kPooled ? kReads * (64 << 10) : 0));
  for (int i = 0; i < kReads; ++i) {
    held.push_back(SharedBuffer::ForOverwrite(64 << 10));
    if (kPooled) {
      EXPECT_EQ(blocks.count(held.back().data()), 1u);
    }
  }
}

// The block goes back only when the last slice is gone.
TEST(SharedBufferTest, BlockReturnsWhenTheLastSliceIsDropped) {
  const size_t cached_before = BlockPool::CachedBytes();
  SharedBuffer slice;
  {
    SharedBuffer a = SharedBuffer::ForOverwrite(32 << 10);
    slice = a.slice(100, 10);
  }
  EXPECT_LT(BlockPool::CachedBytes(), cached_before + (32 << 10));
  slice = SharedBuffer();
  EXPECT_GE(BlockPool::CachedBytes(), cached_before + (kPooled ? 32 << 10 : 0));
}

// Between BlockPool's small and large classes, and above the large ones, the heap: nothing kept.
TEST(SharedBufferTest, BuffersBetweenAndAboveTheClassesAreNotKept) {
  const size_t cached_before = BlockPool::CachedBytes();
  { SharedBuffer between = SharedBuffer::ForOverwrite(8 << 10); }
  { SharedBuffer huge = SharedBuffer::ForOverwrite(BlockPool::kMaxLargeSize + 1); }
  EXPECT_EQ(BlockPool::CachedBytes(), cached_before);
}

}  // namespace
// Last: it leaves a block in this thread's cache, which the tests above count.
// What a slice really keeps alive: the whole block, which the session weighs before it keeps
// a received payload as a slice of a read (Http2Session::keepAsSlice).
TEST(SharedBufferTest, BlockSizeIsTheWholeAllocationAndSlicesKeepIt) {
  SharedBuffer small = SharedBuffer::ForOverwrite(100);
  EXPECT_EQ(small.block_size(), 100u);
  SharedBuffer large = SharedBuffer::ForOverwrite(20000);  // a 32 KiB size class
  EXPECT_EQ(large.block_size(), size_t{32} << 10);
  EXPECT_EQ(large.slice(10, 30).block_size(), size_t{32} << 10);
  EXPECT_EQ(large.slice(10, 30).size(), 30u);
  std::string s(SharedBuffer::kCopyStringBelow, 'x');
  s.reserve(1000);
  EXPECT_GE(SharedBuffer(std::move(s)).block_size(), 1000u);  // taken, with its capacity
  std::string short_one(5, 'x');
  short_one.reserve(1000);
  EXPECT_EQ(SharedBuffer(std::move(short_one)).block_size(), 5u);  // copied: holds only its bytes
  EXPECT_EQ(SharedBuffer().block_size(), 0u);
}

}  // namespace h2rpc::transport
