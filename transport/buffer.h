// transport/buffer.h — SharedBuffer: bytes with shared, reference-counted ownership. It carries a
// payload from the writer (rpc/'s serialized message, a write() chunk) through the stream's
// queue, nghttp2's DATA frames (NGHTTP2_DATA_FLAG_NO_COPY) and the session's output to the
// socket's writev() without copying it: every hop holds a reference, or a slice of one.
//
// Threading: a SharedBuffer is a value; copies may live on different threads, but the bytes are
// only written through mutable_data() before the buffer is first copied or sliced (then they
// are read-only, so concurrent reads are safe). The reference count is atomic (shared_ptr).
// Lifetime: the bytes live as long as any SharedBuffer (or slice) refers to them.
//
// Large buffers (ForOverwrite of 16 KiB and more: socket reads, serialized messages) come from a
// small per-thread cache of blocks and go back to it (internal::BlockCache): a stream of 64 KiB
// messages would otherwise make glibc hand the top of its heap back to the kernel and fault it
// in again for about every message (bench/README.md, "Known issues"). Smaller ones, control block
// and bytes in one block, come from the thread's BlockPool (block_pool.h): a ping-pong message
// makes two (its outgoing buffer, the copy of the received payload) per side, and a malloc and
// a free each took ~2 of the ~2.5 allocations per message (bench/PROFILE.md, "Streams, stop 29").
#ifndef H2RPC_TRANSPORT_BUFFER_H_
#define H2RPC_TRANSPORT_BUFFER_H_

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "transport/block_pool.h"

namespace h2rpc::transport {

namespace internal {

// Blocks of 16 KiB .. 2 MiB in power-of-two size classes, kept per thread for reuse: up to
// kPerClass free blocks per class and kMaxCachedBytes in all; beyond that, or on a thread that
// is exiting, a block goes back to malloc. A block freed on another thread than the one that
// allocated it joins that other thread's cache (it is plain malloc memory either way).
class BlockCache {
 public:
  static constexpr size_t kMinBlock = size_t{16} << 10;
  static constexpr size_t kMaxBlock = size_t{2} << 20;
  static constexpr int kPerClass = 32;
  static constexpr size_t kMaxCachedBytes = size_t{4} << 20;

  // At least `size` bytes (kMinBlock <= size <= kMaxBlock), uninitialised; freed to the cache
  // of the thread that drops the last reference.
  static std::shared_ptr<void> Allocate(size_t size);
  // The size of the block Allocate(size) hands out (its size class).
  static size_t BlockSize(size_t size);
  // Free blocks cached on this thread, and their bytes (tests, diagnostics).
  static int CachedBlocks();
  static size_t CachedBytes();
};

}  // namespace internal

class SharedBuffer {
 public:
  SharedBuffer() = default;
  // Takes the string's bytes (moved, never copied), except that up to kCopyStringBelow bytes
  // are copied into a pooled block (ForOverwrite): cheaper than a control block from the heap
  // (a framed ping-pong message is 5 bytes, in the string's inline buffer).
  static constexpr size_t kCopyStringBelow = 256;
  explicit SharedBuffer(std::string bytes) {
    if (bytes.empty()) return;
    if (bytes.size() < kCopyStringBelow) {
      *this = ForOverwrite(bytes.size());
      std::memcpy(data_, bytes.data(), bytes.size());
      return;
    }
    auto owner = std::make_shared<std::string>(std::move(bytes));
    data_ = owner->data();
    size_ = owner->size();
    block_size_ = owner->capacity();
    owner_ = std::move(owner);
  }
  // `size` bytes left uninitialised (no zero fill): fill them through mutable_data() before the
  // buffer is handed on. For serializing a message straight into its final buffer.
  static SharedBuffer ForOverwrite(size_t size) {
    SharedBuffer b;
    if (size == 0) return b;
    if (size >= internal::BlockCache::kMinBlock && size <= internal::BlockCache::kMaxBlock) {
      auto owner = internal::BlockCache::Allocate(size);
      b.data_ = static_cast<char*>(owner.get());
      b.size_ = size;
      b.block_size_ = internal::BlockCache::BlockSize(size);
      b.owner_ = std::move(owner);
      return b;
    }
    // From the thread's BlockPool (the heap above BlockPool::kMaxSize, and under ASan).
    std::shared_ptr<char[]> owner =
        std::allocate_shared_for_overwrite<char[]>(BlockPoolAllocator<char>(), size);
    b.data_ = owner.get();
    b.size_ = size;
    b.block_size_ = size;
    b.owner_ = std::move(owner);
    return b;
  }

  const char* data() const { return data_; }
  // Only while this is the one reference (before copies or slices are handed on).
  char* mutable_data() { return data_; }
  size_t size() const { return size_; }
  // The size of the allocation these bytes are in, which they keep alive: more than size() for
  // a slice (or a buffer of a larger size class). What keeping a slice really holds.
  size_t block_size() const { return block_size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_, size_}; }
  // No other SharedBuffer (or slice) shares these bytes: they may be overwritten.
  bool unique() const { return owner_ && owner_.use_count() == 1; }

  // [offset, offset + length) of these bytes, sharing their ownership. Precondition:
  // offset + length <= size().
  // Byte-wise equality of the contents (for tests and value types holding buffers).
  friend bool operator==(const SharedBuffer& a, const SharedBuffer& b) {
    return a.view() == b.view();
  }

  SharedBuffer slice(size_t offset, size_t length) const {
    SharedBuffer b;
    if (length == 0) return b;
    b.owner_ = owner_;
    b.data_ = data_ + offset;
    b.size_ = length;
    b.block_size_ = block_size_;
    return b;
  }

 private:
  std::shared_ptr<void> owner_;
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t block_size_ = 0;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_BUFFER_H_
