// transport/internal/nghttp2_allocator.h — nghttp2's memory for one session: counted (Node's
// maxSessionMemory, the server's MemoryQuota), and for server sessions the output frame buffer
// served from one block per loop (SharedFrameBuffer) instead of one per session.
//
// Why: nghttp2 1.52 gives each session a frame buffer (`aob.framebufs`) of 16,394 bytes made
// at creation, and the first time a DATA frame larger than its free space goes out it replaces
// that buffer by one of the frame's size + 10 bytes (`nghttp2_bufs_realloc`, in
// `nghttp2_session_pack_data`, before our data callback says NO_COPY) and keeps it for the
// session's life. Counted as the session's memory, ~60 KB per connection that once received a
// ~60 KB message filled the server's quota with connections holding nothing (session_memory_test
// ConnectionsThatReceivedALargeResponseLeaveTheQuotaRoom); and it is heap we hold.
//
// What makes one block per loop safe (checked in nghttp2 v1.52.0's lib/, to re-check for any
// other version: sharing is off unless the linked nghttp2 is 1.52):
// - Which allocations are the frame buffer's, exactly: nghttp2 calls realloc with a null
//   pointer only from nghttp2_buf_reserve (whose one caller, buf_chain_new, makes the frame
//   buffer's chunks) and nghttp2_pq_push (a queue's first array: 4 pointers). Chunks are at
//   least NGHTTP2_FRAMEBUF_CHUNKLEN (16,394) bytes. Header values never come this way (malloc).
// - Which chunk is the head: the first chunk of a session is its head (nghttp2_bufs_init3 in
//   nghttp2_session_new). A later chunk larger than the head is a new head
//   (nghttp2_bufs_realloc: allocated, then the old chain freed, nothing written in between);
//   one of the head's size is an extra chunk (bufs_alloc_chain: a HEADERS block larger than a
//   chunk), which is always private: its bytes are returned by a later mem_send call than the
//   one that wrote them. Only the head is shared.
// - The head's bytes are dead between two nghttp2_session_mem_send calls of a session:
//   mem_send packs a frame into it and returns it in the same call; the caller copies what it
//   returns at once (Http2Session::writeOut), and our send_data callback copies the frame
//   header and never answers WOULDBLOCK (which would have nghttp2 re-read it on the next
//   call). Nothing else writes it: mem_recv, submit_*, session_del do not.
// - No session's mem_send runs inside another's (the block is in use from the start of a
//   mem_send to the copy): nghttp2's callbacks only post (README, "Events never run ... on
//   nghttp2's stack"); SharedFrameBuffer::user marks it, and writeOut checks it.
// - Client sessions are left out: nghttp2 writes the client magic into the buffer at creation
//   and sends it later.
// - One block per loop, not per thread: a loop may be driven by different threads in turn.
//   Sessions hold it (shared_ptr), so it outlives them, and it never moves: it is made at its
//   largest (our largest DATA frame + 10), and the grown head nghttp2 asks for fits in it.
#ifndef H2RPC_TRANSPORT_INTERNAL_NGHTTP2_ALLOCATOR_H_
#define H2RPC_TRANSPORT_INTERNAL_NGHTTP2_ALLOCATOR_H_

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <memory>
#include <utility>

namespace h2rpc::transport::internal {

// One loop's frame buffer block. Only its first pages are ever written while the frames are
// small (our DATA payloads are NO_COPY: only their 9-byte headers go in).
class SharedFrameBuffer {
 public:
  explicit SharedFrameBuffer(size_t size);
  ~SharedFrameBuffer();
  SharedFrameBuffer(const SharedFrameBuffer&) = delete;
  SharedFrameBuffer& operator=(const SharedFrameBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }
  // Whether this nghttp2 is one whose frame buffer handling was checked (1.52).
  static bool supported();

  // The session whose frame is in the block (from the start of its mem_send to the copy of
  // what it returned), or null.
  const void* user = nullptr;

 private:
  void* data_;
  size_t size_;
};

// nghttp2_mem's user data for one session.
//
// Short-lived blocks: while a ShortLived scope is open (around the session's nghttp2_submit_*
// calls for a stream's HEADERS, DATA end and trailers), nghttp2's blocks up to
// BlockPool::kMaxSmallSize come from the thread's BlockPool instead of malloc. Those calls
// allocate the frame's outbound item and its copy of the header fields, freed once the frame
// is sent: four mallocs per unary response (bench/PROFILE.md, "Unary 0 B, stop 31"); a
// client's request also opens nghttp2's stream object there, which lives as long as the
// stream. Nothing else is pooled: the blocks nghttp2 keeps for the connection's life (its HPACK
// tables and their entries) stay exact-sized heap blocks, as the heap budgets per connection
// assume (tests/hardening/idle_connection_memory_test.cc). A block records where it came from,
// so it may be freed or resized outside any scope. Under ASan nothing is pooled (malloc).
class Nghttp2Allocator {
 public:
  class ShortLived {
   public:
    explicit ShortLived(Nghttp2Allocator& a) : a_(a), was_(a.short_lived_) {
      a.short_lived_ = true;
    }
    ~ShortLived() { a_.short_lived_ = was_; }
    ShortLived(const ShortLived&) = delete;
    ShortLived& operator=(const ShortLived&) = delete;

   private:
    Nghttp2Allocator& a_;
    bool was_;
  };

  Nghttp2Allocator() = default;
  Nghttp2Allocator(const Nghttp2Allocator&) = delete;
  Nghttp2Allocator& operator=(const Nghttp2Allocator&) = delete;

  // Before the session is made: its frame buffer goes in `shared` (server sessions on a
  // supported nghttp2). Without it every allocation is the session's own.
  void shareFrameBuffer(std::shared_ptr<SharedFrameBuffer> shared) { shared_ = std::move(shared); }

  // What to pass to nghttp2_session_*_new3. `this` must outlive the session.
  nghttp2_mem mem();
  // Bytes nghttp2 holds for this session, the shared block not included.
  size_t bytes() const { return bytes_; }
  // The shared block, if this session's frame buffer is in it.
  SharedFrameBuffer* shared() const { return head_ == Head::kShared ? shared_.get() : nullptr; }

 private:
  static void* alloc(size_t size, void* ud);
  static void release(void* ptr, void* ud);
  static void* zalloc(size_t n, size_t size, void* ud);
  static void* resize(void* ptr, size_t size, void* ud);

  // A block of `size` bytes after our header; from the thread's BlockPool if `pooled`.
  void* own(size_t size, bool pooled = false);
  void* chunk(size_t size);
  void releaseOwn(void* ptr);

  enum class Head { kNone, kShared, kOwn };
  std::shared_ptr<SharedFrameBuffer> shared_;
  size_t bytes_ = 0;
  Head head_ = Head::kNone;
  size_t head_size_ = 0;  // what nghttp2 asked for its current head chunk
  bool short_lived_ = false;  // a ShortLived scope is open
};

}  // namespace h2rpc::transport::internal

#endif  // H2RPC_TRANSPORT_INTERNAL_NGHTTP2_ALLOCATOR_H_
