// BlockPool: what it keeps, and MakePooledShared. Under ASan the pool is off (every block is a
// heap block, so that use-after-free stays detectable): the reuse checks are skipped there, the
// bounds hold trivially.
#include "transport/block_pool.h"

#include <array>
#include <memory>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "transport/sanitizers.h"

namespace h2rpc::transport {
namespace {

#ifdef H2RPC_ASAN
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

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

// However many blocks are freed, a thread keeps at most kMaxCachedTotalBytes of them.
TEST(BlockPoolTest, KeepsAtMostMaxCachedTotalBytes) {
  std::vector<std::pair<void*, size_t>> blocks;
  for (size_t size = BlockPool::kGranule; size <= BlockPool::kMaxSize;
       size += BlockPool::kGranule) {
    for (size_t i = 0; i < BlockPool::kMaxCached; ++i) {
      blocks.emplace_back(BlockPool::Allocate(size), size);
    }
  }
  for (auto [p, size] : blocks) BlockPool::Free(p, size);
  EXPECT_LE(BlockPool::CachedBytes(), BlockPool::kMaxCachedTotalBytes);
  if (kPooled) {
    EXPECT_GT(BlockPool::CachedBytes(), BlockPool::kMaxCachedTotalBytes / 2);
  }
  // What is handed out again leaves the count (the smallest class was freed first: it is kept).
  const size_t cached = BlockPool::CachedBytes();
  void* p = BlockPool::Allocate(BlockPool::kGranule);
  EXPECT_EQ(BlockPool::CachedBytes(), kPooled ? cached - BlockPool::kGranule : 0);
  BlockPool::Free(p, BlockPool::kGranule);
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
