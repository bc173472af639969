// BlockPool's slow paths: the large classes, the heap beyond the bounds, and the thread-exit
// cleanup. The small classes' hot path is inline in block_pool.h.
#include "transport/block_pool.h"

namespace h2rpc::transport {

// Empties the thread's pool when the thread exits. Constructed (registered) the first time the
// thread keeps a block, not on every access: Pool itself has no destructor, so it needs no guard.
struct BlockPool::Drain {
  Pool* pool;
  ~Drain() {
    pool->bytes = kGone;  // blocks freed from here on go back to the heap
    for (size_t cls = 0; cls < kSmallClasses + kLargeClasses; ++cls) {
      Bucket& b = pool->buckets[cls];
      while (Node* n = b.head) {
        b.head = n->next;
        ::operator delete(static_cast<void*>(n), ClassBlockSize(cls));
      }
      b.count = 0;
    }
  }
};

void* BlockPool::AllocateLarge(size_t size) {
  const size_t cls = LargeClassOf(size);
  Bucket& b = Local().buckets[cls];
  if (b.head != nullptr) return Pop(b, ClassBlockSize(cls));
  return ::operator new(ClassBlockSize(cls));
}

void BlockPool::FreeSlow(void* p, size_t cls) noexcept {
  Pool& pool = Local();
  if (pool.bytes == kUnarmed) Arm(pool);
  const size_t block = ClassBlockSize(cls);
  const size_t max_blocks =
      cls < kSmallClasses ? kMaxBlocksPerSmallClass : kMaxBlocksPerLargeClass;
  Bucket& b = pool.buckets[cls];
  if (b.count < max_blocks && pool.bytes + block <= kMaxCachedBytesPerThread) {
    Push(pool, b, p, block);
    return;
  }
  ::operator delete(p, block);
}

void BlockPool::Arm(Pool& pool) {
  thread_local Drain drain{&pool};
  (void)drain;
  pool.bytes = 0;
}

}  // namespace h2rpc::transport
