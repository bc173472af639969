// transport/block_pool.h — BlockPool: a per-thread free list of small blocks by size class, for
// objects made and dropped several times per call on a loop thread: event listeners (event.h)
// and, in rpc/, coroutine frames and Awaitable states (rpc/task.h). A recently freed block of the
// same class is handed out again instead of a malloc and a free each; with hundreds of calls in
// flight glibc's per-thread cache (7 blocks per size) is soon empty and every malloc takes its
// slow path.
//
// Threading: each thread has its own pool; a block may be freed on another thread than the one
// that allocated it (it then joins that thread's pool). Lifetime: blocks cached when the thread
// exits go back to the heap; blocks freed after that go to the heap directly. Blocks larger than
// kMaxSize, and any beyond MaxCachedIn() per class, use the heap. Under AddressSanitizer the heap is
// used throughout, so that use-after-free stays detectable.
#ifndef H2RPC_TRANSPORT_BLOCK_POOL_H_
#define H2RPC_TRANSPORT_BLOCK_POOL_H_

#include <cstddef>
#include <new>

namespace h2rpc::transport {

class BlockPool {
 public:
  static constexpr size_t kGranule = 64;
  static constexpr size_t kMaxSize = 2048;
  // Blocks kept per class: kMaxCached, or as many as fit in kMaxCachedBytes for the small
  // classes. A server with 256 calls in flight has ~1,000 listeners (64-byte blocks) alive at
  // once, and frees them in bursts; 128 of them kept missed half the allocations. Worst case a
  // thread keeps ~4.5 MB after a burst (kMaxCached of each of the 32 classes, ~4.3 MB, plus
  // ~230 KB for the small classes' extra blocks).
  static constexpr size_t kMaxCached = 128;
  static constexpr size_t kMaxCachedBytes = 64 * 1024;
  static constexpr size_t MaxCachedIn(size_t size_class) {
    const size_t by_bytes = kMaxCachedBytes / ((size_class + 1) * kGranule);
    return by_bytes > kMaxCached ? by_bytes : kMaxCached;
  }

  static void* Allocate(size_t size) {
#if !defined(__SANITIZE_ADDRESS__)
    if (size <= kMaxSize) {
      Bucket& b = Local().buckets[ClassOf(size)];
      if (b.head != nullptr) {
        Node* n = b.head;
        b.head = n->next;
        --b.count;
        return n;
      }
      return ::operator new(RoundUp(size));
    }
#endif
    return ::operator new(size);
  }
  // `size` must be the size given to Allocate.
  static void Free(void* p, size_t size) noexcept {
#if !defined(__SANITIZE_ADDRESS__)
    if (size <= kMaxSize) {
      Pool& pool = Local();
      const size_t size_class = ClassOf(size);
      Bucket& b = pool.buckets[size_class];
      if (!pool.exiting && b.count < MaxCachedIn(size_class)) {
        b.head = ::new (p) Node{b.head};
        ++b.count;
        return;
      }
      ::operator delete(p, RoundUp(size));
      return;
    }
#endif
    ::operator delete(p, size);
  }

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

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_BLOCK_POOL_H_
