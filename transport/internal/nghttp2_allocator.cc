#include "transport/internal/nghttp2_allocator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "transport/block_pool.h"
#include "transport/sanitizers.h"

namespace h2rpc::transport::internal {

namespace {

// NGHTTP2_FRAMEBUF_CHUNKLEN (lib/nghttp2_frame.h, not in the public header): a frame header,
// a Pad Length byte and 16 KiB. No frame buffer chunk is smaller; the only other allocation
// nghttp2 makes by realloc(NULL, n) is a priority queue's first array of 4 pointers.
constexpr size_t kFrameBufferChunk = 9 + 1 + 16384;

// Our own blocks carry a header: their size, so that free() and realloc() keep the count
// exact, and whether the block is BlockPool's (ShortLived).
struct BlockHeader {
  size_t size;
  size_t pooled;
};
constexpr size_t kHeader = alignof(std::max_align_t);
static_assert(sizeof(BlockHeader) <= kHeader);

BlockHeader* HeaderOf(void* ptr) {
  return reinterpret_cast<BlockHeader*>(static_cast<char*>(ptr) - kHeader);
}

Nghttp2Allocator* A(void* ud) { return static_cast<Nghttp2Allocator*>(ud); }

}  // namespace

SharedFrameBuffer::SharedFrameBuffer(size_t size)
    // Not zero-filled: pages nobody writes stay out of RSS. Without it (no memory), size 0:
    // nothing fits, sessions use their own.
    : data_(std::malloc(size)), size_(data_ != nullptr ? size : 0) {}

SharedFrameBuffer::~SharedFrameBuffer() { std::free(data_); }

bool SharedFrameBuffer::supported() {
  // 1.52.x: the version whose lib/ the conditions in the header were checked against.
  return (nghttp2_version(0)->version_num >> 8) == 0x0134;
}

nghttp2_mem Nghttp2Allocator::mem() { return {this, alloc, release, zalloc, resize}; }

void* Nghttp2Allocator::own(size_t size, bool pooled) {
#ifdef H2RPC_ASAN
  pooled = false;  // BlockPool is the heap under ASan: malloc, as without a scope
#endif
  pooled = pooled && size <= BlockPool::kMaxSmallSize - kHeader;
  char* p = nullptr;
  if (pooled) {
    try {  // nghttp2 is C: out of memory is a null pointer, never an exception through it
      p = static_cast<char*>(BlockPool::Allocate(size + kHeader));
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
  } else {
    p = static_cast<char*>(std::malloc(size + kHeader));
    if (p == nullptr) return nullptr;
  }
  ::new (p) BlockHeader{size, pooled ? size_t{1} : size_t{0}};
  bytes_ += size;
  return p + kHeader;
}

void Nghttp2Allocator::releaseOwn(void* ptr) {
  BlockHeader* h = HeaderOf(ptr);
  bytes_ -= h->size;
  if (h->pooled != 0) {
    BlockPool::Free(h, h->size + kHeader);
  } else {
    std::free(h);
  }
}

void* Nghttp2Allocator::chunk(size_t size) {
  // A chunk of the head's size is an extra one, for a HEADERS block longer than a chunk: its
  // bytes outlive the mem_send call that wrote them, so it is always our own.
  if (head_ != Head::kNone && size <= head_size_) return own(size);
  // The first chunk, or a larger one that replaces the head (nghttp2_bufs_realloc: the old
  // head is freed right after, with nothing written in between).
  const bool share = shared_ && size <= shared_->size() && head_ != Head::kOwn;
  void* p = share ? shared_->data() : own(size);
  if (p == nullptr) return nullptr;  // nghttp2 keeps its old buffer
  head_size_ = size;
  // Once our own, the head stays so: the shared block is never an extra chunk.
  head_ = share ? Head::kShared : Head::kOwn;
  return p;
}

void* Nghttp2Allocator::alloc(size_t size, void* ud) {
  Nghttp2Allocator* a = A(ud);
  return a->own(size, a->short_lived_);
}

void Nghttp2Allocator::release(void* ptr, void* ud) {
  if (ptr == nullptr) return;
  Nghttp2Allocator* a = A(ud);
  if (a->shared_ && ptr == a->shared_->data()) return;  // the loop's, not ours to free
  a->releaseOwn(ptr);
}

void* Nghttp2Allocator::zalloc(size_t n, size_t size, void* ud) {
  Nghttp2Allocator* a = A(ud);
  void* p = a->own(n * size, a->short_lived_);
  if (p) std::memset(p, 0, n * size);
  return p;
}

void* Nghttp2Allocator::resize(void* ptr, size_t size, void* ud) {
  Nghttp2Allocator* a = A(ud);
  if (ptr == nullptr) return size >= kFrameBufferChunk ? a->chunk(size) : a->own(size);
  if (a->shared_ && ptr == a->shared_->data()) {
    // nghttp2 1.52 never grows a chunk in place; if a version did, the head becomes ours.
    void* p = a->own(size);
    if (p == nullptr) return nullptr;
    std::memcpy(p, ptr, std::min(size, a->shared_->size()));
    a->head_ = Head::kOwn;
    a->head_size_ = size;
    return p;
  }
  BlockHeader* h = HeaderOf(ptr);
  const size_t old = h->size;
  if (h->pooled != 0) {
    // nghttp2 grows only its queues' arrays and buffers, never an item or a header copy; if it
    // did, the block moves to the heap.
    void* p = a->own(size);
    if (p == nullptr) return nullptr;
    std::memcpy(p, ptr, std::min(size, old));
    a->releaseOwn(ptr);
    return p;
  }
  auto* q = static_cast<char*>(std::realloc(h, size + kHeader));
  if (q == nullptr) return nullptr;
  reinterpret_cast<BlockHeader*>(q)->size = size;
  a->bytes_ = a->bytes_ - old + size;
  return q + kHeader;
}

}  // namespace h2rpc::transport::internal
