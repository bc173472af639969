#include "transport/buffer.h"

#include <array>
#include <bit>
#include <cstdlib>
#include <new>

namespace h2rpc::transport::internal {

namespace {

constexpr int kMinShift = std::countr_zero(BlockCache::kMinBlock);  // 16 KiB = 2^14
constexpr int kClasses = std::countr_zero(BlockCache::kMaxBlock) - kMinShift + 1;

int ClassOf(size_t size) {
  return std::bit_width(size - 1) - kMinShift;  // the smallest power of two >= size
}
size_t ClassSize(int cls) { return size_t{1} << (cls + kMinShift); }

struct Cache {
  std::array<std::array<void*, BlockCache::kPerClass>, kClasses> free_blocks{};
  std::array<int, kClasses> count{};
  size_t bytes = 0;
  ~Cache();
};

// Set once this thread's Cache is destroyed (thread exit): blocks released after that, by
// objects destroyed later in the thread's teardown, go straight to free(). A trivially
// destructible thread_local stays readable for the whole teardown.
thread_local bool cache_gone = false;
thread_local Cache cache;

Cache::~Cache() {
  cache_gone = true;
  for (int c = 0; c < kClasses; ++c) {
    for (int i = 0; i < count[c]; ++i) std::free(free_blocks[c][i]);
    count[c] = 0;
  }
  bytes = 0;
}

void Release(void* block, int cls) {
  if (!cache_gone) {
    Cache& c = cache;
    const size_t size = ClassSize(cls);
    if (c.count[cls] < BlockCache::kPerClass && c.bytes + size <= BlockCache::kMaxCachedBytes) {
      c.free_blocks[cls][c.count[cls]++] = block;
      c.bytes += size;
      return;
    }
  }
  std::free(block);
}

}  // namespace

std::shared_ptr<void> BlockCache::Allocate(size_t size) {
  const int cls = ClassOf(size);
  void* block = nullptr;
  if (!cache_gone && cache.count[cls] > 0) {
    block = cache.free_blocks[cls][--cache.count[cls]];
    cache.bytes -= ClassSize(cls);
  } else {
    block = std::malloc(ClassSize(cls));
    if (block == nullptr) throw std::bad_alloc();
  }
  return std::shared_ptr<void>(block, [cls](void* p) { Release(p, cls); });
}

size_t BlockCache::BlockSize(size_t size) { return ClassSize(ClassOf(size)); }

int BlockCache::CachedBlocks() {
  if (cache_gone) return 0;
  int n = 0;
  for (int c : cache.count) n += c;
  return n;
}

size_t BlockCache::CachedBytes() { return cache_gone ? 0 : cache.bytes; }

}  // namespace h2rpc::transport::internal
