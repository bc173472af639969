// BlockPool: what the thread's one cache keeps (small and large classes under one byte bound),
// thread exit, and MakePooledShared. Under ASan the pool is off (every block is a heap block, so
// that use after free stays detectable): the reuse checks are skipped there, the bounds hold
// trivially. Tests that count the pool's bytes run on a thread of their own, whose pool starts
// empty.
#include "transport/block_pool.h"

#include <array>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "transport/sanitizers.h"
#include "transport/testing/allocation_counter.h"

namespace h2rpc::transport {
namespace {

using testing::DeallocationCount;

#ifdef H2RPC_ASAN
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

template <typename Fn>
void OnNewThread(Fn fn) {
  std::thread t(std::move(fn));
  t.join();
}

// Allocates `count` blocks of `size` and frees them all (a burst).
void FreeBurst(size_t size, size_t count) {
  std::vector<void*> blocks;
  for (size_t i = 0; i < count; ++i) blocks.push_back(BlockPool::Allocate(size));
  for (void* p : blocks) BlockPool::Free(p, size);
}

// A server with 256 calls in flight frees 256 streams (and calls, and coroutine frames) in a
// burst, then makes 256 again: all of them must come back from the pool, not half.
TEST(BlockPoolTest, KeepsABurstOf256BlocksOfAClass) {
  constexpr size_t kSize = 1300;  // about a server stream
  constexpr int kBurst = 256;
  std::vector<void*> blocks;
  for (int i = 0; i < kBurst; ++i) blocks.push_back(BlockPool::Allocate(kSize));
  const std::set<void*> freed(blocks.begin(), blocks.end());
  for (void* p : blocks) BlockPool::Free(p, kSize);
  blocks.clear();
  int reused = 0;
  for (int i = 0; i < kBurst; ++i) {
    blocks.push_back(BlockPool::Allocate(kSize));
    reused += freed.count(blocks.back()) ? 1 : 0;
  }
  EXPECT_EQ(reused, kPooled ? kBurst : reused);
  for (void* p : blocks) BlockPool::Free(p, kSize);
}

// A large block (a 64 KiB socket read) freed and allocated again, in the same power-of-two
// class, is the same block; it is counted in CachedBytes as its whole class.
TEST(BlockPoolTest, ReusesALargeBlockOfTheSameClass) {
  OnNewThread([] {
    void* a = BlockPool::Allocate(65541);  // the 128 KiB class
    EXPECT_EQ(BlockPool::BlockSize(65541), size_t{128} << 10);
    BlockPool::Free(a, 65541);
    EXPECT_EQ(BlockPool::CachedBytes(), kPooled ? size_t{128} << 10 : 0);
    void* b = BlockPool::Allocate(70000);
    if (kPooled) {
      EXPECT_EQ(b, a);
    }
    EXPECT_EQ(BlockPool::CachedBytes(), 0u);
    BlockPool::Free(b, 70000);
  });
}

// Sizes between the small and the large classes, and above the large ones, use the heap.
TEST(BlockPoolTest, SizesOutsideTheClassesAreNotKept) {
  OnNewThread([] {
    for (size_t size : {BlockPool::kMaxSmallSize + 1, BlockPool::kMinLargeSize - 1,
                        BlockPool::kMaxLargeSize + 1}) {
      BlockPool::Free(BlockPool::Allocate(size), size);
      EXPECT_EQ(BlockPool::CachedBytes(), 0u) << size;
      EXPECT_EQ(BlockPool::BlockSize(size), size);
    }
  });
}

// Per class, at most kMaxBlocksPerSmallClass / kMaxBlocksPerLargeClass blocks are kept.
TEST(BlockPoolTest, KeepsAtMostMaxBlocksPerClass) {
  OnNewThread([] {
    FreeBurst(BlockPool::kGranule, BlockPool::kMaxBlocksPerSmallClass + 10);
    EXPECT_EQ(BlockPool::CachedBytes(),
              kPooled ? BlockPool::kMaxBlocksPerSmallClass * BlockPool::kGranule : 0);
    const size_t small = BlockPool::CachedBytes();
    FreeBurst(BlockPool::kMinLargeSize, BlockPool::kMaxBlocksPerLargeClass + 10);
    EXPECT_EQ(BlockPool::CachedBytes() - small,
              kPooled ? BlockPool::kMaxBlocksPerLargeClass * BlockPool::kMinLargeSize : 0);
  });
}

// ONE bound for the whole thread, small and large blocks together: with 3 MiB of small blocks
// kept, large blocks fill only what is left of the 4 MiB (a bound per kind would keep 6 MiB
// here), and large blocks kept first leave no room for small ones.
TEST(BlockPoolTest, SmallAndLargeBlocksShareOneByteBound) {
  OnNewThread([] {
    constexpr size_t kLarge = size_t{128} << 10;
    for (size_t size : {size_t{1024}, size_t{2048}}) {
      FreeBurst(size, BlockPool::kMaxBlocksPerSmallClass);  // 1 MiB + 2 MiB
    }
    EXPECT_EQ(BlockPool::CachedBytes(), kPooled ? size_t{3} << 20 : 0);
    FreeBurst(kLarge, 24);  // 3 MiB offered, 1 MiB left to keep them in
    const size_t all = BlockPool::CachedBytes();
    EXPECT_EQ(all, kPooled ? BlockPool::kMaxCachedBytesPerThread : 0);
    if (kPooled) {
      // What is handed out again leaves the count.
      void* p = BlockPool::Allocate(BlockPool::kMaxSmallSize);
      EXPECT_EQ(BlockPool::CachedBytes(), all - BlockPool::kMaxSmallSize);
      BlockPool::Free(p, BlockPool::kMaxSmallSize);
    }
  });
  OnNewThread([] {
    FreeBurst(size_t{2} << 20, 2);  // 4 MiB of large blocks
    const size_t large = BlockPool::CachedBytes();
    EXPECT_EQ(large, kPooled ? BlockPool::kMaxCachedBytesPerThread : 0);
    FreeBurst(BlockPool::kGranule, 100);
    EXPECT_EQ(BlockPool::CachedBytes(), large);
  });
}

// Records DeallocationCount() when destroyed at thread exit. thread_local objects are destroyed
// in the reverse order of their construction: one made before the thread's pool first keeps a
// block (and so registers its cleanup) is destroyed after that cleanup, one made after it before.
struct DeletesAtExit {
  size_t* out;
  ~DeletesAtExit() { *out = DeallocationCount(); }
};

// A block freed on another thread than the one that allocated it joins that thread's pool; a
// thread's pool goes back to the heap when the thread exits (every block kept is deleted then).
TEST(BlockPoolTest, BlocksMayBeFreedOnAnotherThreadAndExitEmptiesThePool) {
  constexpr size_t kSmall = 100;
  constexpr size_t kLarge = 20 << 10;
  void* small = BlockPool::Allocate(kSmall);
  void* large = BlockPool::Allocate(kLarge);
  size_t kept_in_thread = 0;
  size_t deletes_in_thread = 0;
  size_t before_cleanup = 0;
  size_t after_cleanup = 0;
  OnNewThread([&] {
    thread_local DeletesAtExit after{&after_cleanup};
    const size_t deletes_before = DeallocationCount();
    BlockPool::Free(small, kSmall);
    BlockPool::Free(large, kLarge);
    kept_in_thread = BlockPool::CachedBytes();
    void* again = BlockPool::Allocate(kLarge);
    if (kPooled) {
      EXPECT_EQ(again, large);
    }
    BlockPool::Free(again, kLarge);
    deletes_in_thread = DeallocationCount() - deletes_before;
    thread_local DeletesAtExit before{&before_cleanup};
  });
  EXPECT_EQ(kept_in_thread, kPooled ? BlockPool::BlockSize(kSmall) + size_t{32 << 10} : 0);
  EXPECT_EQ(deletes_in_thread, kPooled ? 0u : 3u);
  // At exit the thread's two blocks went back to the heap (under ASan they already had).
  EXPECT_EQ(after_cleanup - before_cleanup, kPooled ? 2u : 0u);
}

// A per-call object made with MakePooledShared: dropped, the next one takes its block.
TEST(BlockPoolTest, MakePooledSharedReusesTheBlock) {
  struct Stream {
    std::array<char, 1200> bytes{};
  };
  auto a = MakePooledShared<Stream>();
  const void* first = a.get();
  std::weak_ptr<Stream> weak = a;
  a.reset();
  EXPECT_TRUE(weak.expired());
  weak.reset();  // the block (object and control block) is freed with the last weak reference
  auto b = MakePooledShared<Stream>();
  if (kPooled) {
    EXPECT_EQ(b.get(), first);
  }
  EXPECT_EQ(b->bytes[0], 0);
}

}  // namespace
}  // namespace h2rpc::transport
