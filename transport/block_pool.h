// transport/block_pool.h — BlockPool: the thread's one cache of free blocks, by size class, for
// what is made and dropped again and again on a loop thread. Small classes (64-byte granules up
// to kMaxSmallSize): event listeners (event.h), small SharedBuffers (buffer.h), streams and
// rpc::ServerCall (MakePooledShared below) and, in rpc/, coroutine frames and Awaitable states
// (rpc/task.h); with hundreds of calls in flight glibc's per-thread cache (7 blocks per size) is
// soon empty and every malloc takes its slow path. Large classes (powers of two, kMinLargeSize
// .. kMaxLargeSize): SharedBuffers of socket reads and serialized messages; a stream of 64 KiB
// messages would otherwise make glibc hand the top of its heap back to the kernel and fault it
// in again for about every message (bench/README.md, "Known issues").
//
// Bounds: at most kMaxBlocksPerSmallClass / kMaxBlocksPerLargeClass free blocks per class, and
// kMaxCachedBytesPerThread of free blocks in all, small and large together. Sizes between the two
// ranges, above kMaxLargeSize, and blocks beyond a bound, use the heap.
//
// Threading: each thread has its own pool; a block may be freed on another thread than the one
// that allocated it (it then joins that thread's pool). Lifetime: blocks cached when the thread
// exits go back to the heap; blocks freed after that go to the heap directly. Under
// AddressSanitizer (g++ or clang: H2RPC_ASAN) the heap is used throughout, so that use after
// free stays detectable.
#ifndef H2RPC_TRANSPORT_BLOCK_POOL_H_
#define H2RPC_TRANSPORT_BLOCK_POOL_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include "transport/sanitizers.h"

namespace h2rpc::transport {

class BlockPool {
 public:
  static constexpr size_t kGranule = 64;
  static constexpr size_t kMaxSmallSize = 2048;
  static constexpr size_t kMinLargeSize = size_t{16} << 10;
  static constexpr size_t kMaxLargeSize = size_t{2} << 20;
  // A server with 256 calls in flight has ~1,000 listeners (64-byte blocks) and 256 of each
  // per-call object (stream, call, coroutine frames) alive at once, and frees them in bursts:
  // 128 of a class kept missed half the allocations (stop 29: 9,744 of 20,000 streams).
  static constexpr size_t kMaxBlocksPerSmallClass = 1024;
  // A client reading 64 KiB messages holds a stream window (1 MiB) of socket reads and drops
  // them in a burst: 17 blocks of 64 KiB.
  static constexpr size_t kMaxBlocksPerLargeClass = 32;
  static constexpr size_t kMaxCachedBytesPerThread = size_t{4} << 20;

  static void* Allocate(size_t size) {
#ifndef H2RPC_ASAN
    if (size <= kMaxSmallSize) {
      Bucket& b = Local().buckets[SmallClassOf(size)];
      if (b.head != nullptr) return Pop(b, SmallBlockSize(size));
      return ::operator new(SmallBlockSize(size));
    }
    if (IsLarge(size)) return AllocateLarge(size);
#endif
    return ::operator new(BlockSize(size));
  }
  // `size` must be the size given to Allocate.
  static void Free(void* p, size_t size) noexcept {
#ifndef H2RPC_ASAN
    if (size <= kMaxSmallSize) {
      const size_t block = SmallBlockSize(size);
      Pool& pool = Local();
      Bucket& b = pool.buckets[SmallClassOf(size)];
      // Also false while the pool is unarmed or gone (see Pool::bytes): FreeSlow sorts it out.
      if (b.count < kMaxBlocksPerSmallClass && pool.bytes + block <= kMaxCachedBytesPerThread) {
        Push(pool, b, p, block);
        return;
      }
      FreeSlow(p, SmallClassOf(size));
      return;
    }
    if (IsLarge(size)) {
      FreeSlow(p, LargeClassOf(size));
      return;
    }
#endif
    ::operator delete(p, BlockSize(size));
  }

  // The bytes Allocate(size) takes: `size` rounded up to its class (a power of two for the
  // large classes, in every build, so that SharedBuffer::block_size() does not depend on it).
  static constexpr size_t BlockSize(size_t size) {
    if (IsLarge(size)) return std::bit_ceil(size);
#ifndef H2RPC_ASAN
    if (size <= kMaxSmallSize) return SmallBlockSize(size);
#endif
    return size;
  }
  static constexpr bool IsLarge(size_t size) {
    return size >= kMinLargeSize && size <= kMaxLargeSize;
  }

  // Bytes of free blocks kept by this thread's pool, small and large (tests, diagnostics); 0
  // under ASan.
  static size_t CachedBytes() {
    const size_t bytes = Local().bytes;
    return bytes <= kMaxCachedBytesPerThread ? bytes : 0;
  }

 private:
  static constexpr size_t kSmallClasses = kMaxSmallSize / kGranule;
  static constexpr size_t kLargeClasses =
      std::countr_zero(kMaxLargeSize) - std::countr_zero(kMinLargeSize) + 1;
  static constexpr size_t kUnarmed = SIZE_MAX / 4;  // see Pool::bytes
  static constexpr size_t kGone = SIZE_MAX / 2;
  struct Node {
    Node* next;
  };
  struct Bucket {
    Node* head = nullptr;
    size_t count = 0;
  };
  // Trivially destructible and constant-initialised, so that it needs no guard on the hot path
  // and stays usable while other thread_local and static objects are destroyed.
  struct Pool {
    Bucket buckets[kSmallClasses + kLargeClasses];
    // Bytes of the free blocks in all buckets; kUnarmed until the thread first keeps a block
    // (Arm registers the thread-exit cleanup), kGone after that cleanup ran. Either is far above
    // kMaxCachedBytesPerThread, so Free's one bound check also keeps blocks out of a pool that
    // cannot free them at thread exit.
    size_t bytes = kUnarmed;
  };
  static constexpr size_t SmallClassOf(size_t size) {
    return size == 0 ? 0 : (size - 1) / kGranule;
  }
  static constexpr size_t SmallBlockSize(size_t size) {
    return (SmallClassOf(size) + 1) * kGranule;
  }
  static constexpr size_t LargeClassOf(size_t size) {
    return kSmallClasses + std::bit_width(size - 1) - std::countr_zero(kMinLargeSize);
  }
  // The block size of bucket `cls`, small or large.
  static constexpr size_t ClassBlockSize(size_t cls) {
    return cls < kSmallClasses ? (cls + 1) * kGranule
                               : kMinLargeSize << (cls - kSmallClasses);
  }

  static void* Pop(Bucket& b, size_t block) {
    Node* n = b.head;
    b.head = n->next;
    --b.count;
    Local().bytes -= block;
    return n;
  }
  static void Push(Pool& pool, Bucket& b, void* p, size_t block) {
    b.head = ::new (p) Node{b.head};
    ++b.count;
    pool.bytes += block;
  }

  // Out of line (block_pool.cc): the large classes, arming the thread-exit cleanup, and the
  // heap beyond the bounds.
  static void* AllocateLarge(size_t size);
  static void FreeSlow(void* p, size_t cls) noexcept;
  static void Arm(Pool& pool);
  struct Drain;

  static Pool& Local() {
    thread_local Pool pool;
    return pool;
  }
};

// An allocator on BlockPool, e.g. for std::allocate_shared (object and control block in one
// recycled block).
template <typename T>
struct BlockPoolAllocator {
  using value_type = T;
  BlockPoolAllocator() = default;
  template <typename U>
  BlockPoolAllocator(const BlockPoolAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit
  T* allocate(size_t n) { return static_cast<T*>(BlockPool::Allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { BlockPool::Free(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const BlockPoolAllocator<U>&) const noexcept {
    return true;
  }
};

// std::make_shared with the object and its control block in one BlockPool block: for objects
// made once per call and larger than glibc's per-thread cache serves (1,032 bytes), whose malloc
// and free would otherwise take the slow path each call: a server stream (~1.3 KB) and
// rpc::ServerCall (~0.9 KB). Objects between kMaxSmallSize and kMinLargeSize use the heap.
template <typename T, typename... Args>
std::shared_ptr<T> MakePooledShared(Args&&... args) {
  return std::allocate_shared<T>(BlockPoolAllocator<T>(), std::forward<Args>(args)...);
}

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_BLOCK_POOL_H_
