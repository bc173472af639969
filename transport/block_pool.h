// transport/block_pool.h — BlockPool: a per-thread free list of small blocks by size class, for
// objects made and dropped several times per call on a loop thread: event listeners (event.h),
// small SharedBuffers (buffer.h), streams and rpc::ServerCall (MakePooledShared below) and, in
// rpc/, coroutine frames and Awaitable states (rpc/task.h). A recently freed block of the
// same class is handed out again instead of a malloc and a free each; with hundreds of calls in
// flight glibc's per-thread cache (7 blocks per size) is soon empty and every malloc takes its
// slow path.
//
// Threading: each thread has its own pool; a block may be freed on another thread than the one
// that allocated it (it then joins that thread's pool). Lifetime: blocks cached when the thread
// exits go back to the heap; blocks freed after that go to the heap directly. Blocks larger than
// kMaxSize, any beyond MaxCachedIn() per class, and any beyond kMaxCachedTotalBytes per thread,
// use the heap. Under AddressSanitizer (g++ or clang: H2RPC_ASAN) the heap is
// used throughout, so that use-after-free stays detectable.
#ifndef H2RPC_TRANSPORT_BLOCK_POOL_H_
#define H2RPC_TRANSPORT_BLOCK_POOL_H_

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

#include "transport/sanitizers.h"

namespace h2rpc::transport {

class BlockPool {
 public:
  static constexpr size_t kGranule = 64;
  static constexpr size_t kMaxSize = 2048;
  // Blocks kept per class: kMaxCached, or as many as fit in kMaxCachedBytes for the small
  // classes; and kMaxCachedTotalBytes in all. A server with 256 calls in flight has ~1,000
  // listeners (64-byte blocks) and 256 of each per-call object (stream, call, coroutine frames)
  // alive at once, and frees them in bursts: 128 of a class kept missed half the allocations
  // (stop 29: 9,744 of 20,000 streams). So a thread keeps at most 4 MiB after a burst, about
  // what 128 of each of the 32 classes could already reach before.
  static constexpr size_t kMaxCached = 512;
  static constexpr size_t kMaxCachedBytes = 64 * 1024;
  static constexpr size_t kMaxCachedTotalBytes = size_t{4} << 20;
  static constexpr size_t MaxCachedIn(size_t size_class) {
    const size_t by_bytes = kMaxCachedBytes / ((size_class + 1) * kGranule);
    return by_bytes > kMaxCached ? by_bytes : kMaxCached;
  }

  static void* Allocate(size_t size) {
#ifndef H2RPC_ASAN
    if (size <= kMaxSize) {
      Pool& pool = Local();
      Bucket& b = pool.buckets[ClassOf(size)];
      if (b.head != nullptr) {
        Node* n = b.head;
        b.head = n->next;
        --b.count;
        pool.bytes -= RoundUp(size);
        return n;
      }
      return ::operator new(RoundUp(size));
    }
#endif
    return ::operator new(size);
  }
  // `size` must be the size given to Allocate.
  static void Free(void* p, size_t size) noexcept {
#ifndef H2RPC_ASAN
    if (size <= kMaxSize) {
      Pool& pool = Local();
      const size_t size_class = ClassOf(size);
      Bucket& b = pool.buckets[size_class];
      if (!pool.exiting && b.count < MaxCachedIn(size_class) &&
          pool.bytes + RoundUp(size) <= kMaxCachedTotalBytes) {
        b.head = ::new (p) Node{b.head};
        ++b.count;
        pool.bytes += RoundUp(size);
        return;
      }
      ::operator delete(p, RoundUp(size));
      return;
    }
#endif
    ::operator delete(p, size);
  }

  // Bytes of free blocks kept by this thread's pool (tests, diagnostics); 0 under ASan.
  static size_t CachedBytes() { return Local().bytes; }

 private:
  struct Node {
    Node* next;
  };
  struct Bucket {
    Node* head = nullptr;
    size_t count = 0;
  };
  // Trivially destructible, so that it stays usable while other thread_local and static
  // objects are destroyed; Drain empties it when the thread exits.
  struct Pool {
    Bucket buckets[kMaxSize / kGranule];
    size_t bytes;  // in all buckets
    bool exiting;
  };
  struct Drain {
    Pool* pool;
    ~Drain() {
      pool->exiting = true;  // blocks freed from here on go back to the heap
      for (Bucket& b : pool->buckets) {
        while (Node* n = b.head) {
          b.head = n->next;
          ::operator delete(static_cast<void*>(n));
        }
        b.count = 0;
      }
      pool->bytes = 0;
    }
  };
  static size_t ClassOf(size_t size) { return size == 0 ? 0 : (size - 1) / kGranule; }
  static size_t RoundUp(size_t size) { return (ClassOf(size) + 1) * kGranule; }
  static Pool& Local() {
    thread_local Pool pool{};
    thread_local Drain drain{&pool};
    (void)drain;
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
// rpc::ServerCall (~0.9 KB). Blocks are recycled only up to kMaxSize; larger objects use the heap.
template <typename T, typename... Args>
std::shared_ptr<T> MakePooledShared(Args&&... args) {
  return std::allocate_shared<T>(BlockPoolAllocator<T>(), std::forward<Args>(args)...);
}

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_BLOCK_POOL_H_
