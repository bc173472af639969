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
// ForOverwrite's blocks come from the thread's BlockPool (block_pool.h) and go back to it: large
// ones (16 KiB .. 2 MiB: socket reads, serialized messages) in a block of their own, a stream of
// 64 KiB messages would otherwise make glibc hand the top of its heap back to the kernel and
// fault it in again for about every message (bench/README.md, "Known issues"); small ones
// (<= 2 KiB) with their control block in one block, a ping-pong message makes two (its outgoing
// buffer, the copy of the received payload) per side, and a malloc and a free each took ~2 of the
// ~2.5 allocations per message (bench/PROFILE.md, "Streams, stop 29").
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
    if (BlockPool::IsLarge(size)) {
      // The bytes alone in a block (a power of two), the control block from a small class.
      void* block = BlockPool::Allocate(size);
      b.owner_ = std::shared_ptr<void>(block, FreeBlock{size}, BlockPoolAllocator<char>());
      b.data_ = static_cast<char*>(block);
      b.size_ = size;
      b.block_size_ = BlockPool::BlockSize(size);
      return b;
    }
    // Bytes and control block in one block (from the heap between BlockPool's small and large
    // classes, and under ASan).
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
  // A large block's deleter: back to the pool of the thread that drops the last reference.
  struct FreeBlock {
    size_t size;  // as given to BlockPool::Allocate
    void operator()(void* p) const noexcept { BlockPool::Free(p, size); }
  };

  std::shared_ptr<void> owner_;
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t block_size_ = 0;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_BUFFER_H_
