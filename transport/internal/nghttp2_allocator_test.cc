// Nghttp2Allocator: the calls nghttp2 1.52 makes for its frame buffer, one by one, then real
// server sessions sharing their loop's block while their frames interleave.
#include "transport/internal/nghttp2_allocator.h"

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "transport/block_pool.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/sanitizers.h"
#include "transport/session.h"

namespace h2rpc::transport::internal {
namespace {

constexpr size_t kChunk = 9 + 1 + 16384;  // NGHTTP2_FRAMEBUF_CHUNKLEN: a session's first chunk

// nghttp2's side of the allocator: what nghttp2_mem_* call.
struct Mem {
  explicit Mem(std::shared_ptr<SharedFrameBuffer> shared = nullptr) {
    if (shared) a.shareFrameBuffer(std::move(shared));
    m = a.mem();
  }
  void* chunk(size_t n) { return m.realloc(nullptr, n, m.mem_user_data); }  // buf_reserve
  void* malloc(size_t n) { return m.malloc(n, m.mem_user_data); }
  void free(void* p) { m.free(p, m.mem_user_data); }
  Nghttp2Allocator a;
  nghttp2_mem m;
};

TEST(Nghttp2AllocatorTest, HeadChunksOfTwoSessionsAreTheLoopsBlockAndNotCounted) {
  auto shared = std::make_shared<SharedFrameBuffer>(kChunk + 131072);
  Mem one(shared), two(shared);
  void* a = one.chunk(kChunk);
  void* b = two.chunk(kChunk);
  EXPECT_EQ(a, shared->data());
  EXPECT_EQ(b, shared->data());
  EXPECT_EQ(one.a.bytes(), 0u);
  EXPECT_EQ(one.a.shared(), shared.get());
  void* chain = one.malloc(40);  // the chain struct and the rest: counted
  EXPECT_EQ(one.a.bytes(), 40u);
  one.free(chain);
  one.free(a);  // nghttp2_session_del: the block stays for the others
  EXPECT_EQ(one.a.bytes(), 0u);
  std::memset(b, 'x', kChunk);  // still writable: not freed
}

TEST(Nghttp2AllocatorTest, AGrownHeadStaysInTheBlock) {
  auto shared = std::make_shared<SharedFrameBuffer>(kChunk + 131072);
  Mem s(shared);
  void* head = s.chunk(kChunk);
  // nghttp2_bufs_realloc for a 60,000-byte DATA frame: the new head, then the old one freed.
  void* grown = s.chunk(10 + 60000);
  s.free(head);
  EXPECT_EQ(grown, shared->data());
  EXPECT_EQ(s.a.shared(), shared.get());
  EXPECT_EQ(s.a.bytes(), 0u);
}

TEST(Nghttp2AllocatorTest, AnExtraChunkIsTheSessionsOwn) {
  auto shared = std::make_shared<SharedFrameBuffer>(kChunk + 131072);
  Mem s(shared);
  void* head = s.chunk(kChunk);
  // A HEADERS block longer than a chunk: a second chunk of the head's size, freed after the
  // frame (nghttp2_bufs_reset). Its bytes go out in a later mem_send call: never shared.
  void* extra = s.chunk(kChunk);
  EXPECT_NE(extra, shared->data());
  EXPECT_EQ(s.a.bytes(), kChunk);
  s.free(extra);
  EXPECT_EQ(s.a.bytes(), 0u);
  EXPECT_EQ(s.a.shared(), shared.get());
  s.free(head);
}

TEST(Nghttp2AllocatorTest, AHeadLargerThanTheBlockIsOwnAndSharingEnds) {
  auto shared = std::make_shared<SharedFrameBuffer>(kChunk + 1000);
  Mem s(shared);
  void* head = s.chunk(kChunk);
  void* grown = s.chunk(kChunk + 5000);
  s.free(head);
  EXPECT_NE(grown, shared->data());
  EXPECT_EQ(s.a.shared(), nullptr);
  EXPECT_EQ(s.a.bytes(), kChunk + 5000);
  // A later, smaller head would fit the block, but this session no longer shares.
  void* extra = s.chunk(kChunk + 5000);
  EXPECT_NE(extra, shared->data());
  s.free(extra);
  s.free(grown);
  EXPECT_EQ(s.a.bytes(), 0u);
}

TEST(Nghttp2AllocatorTest, WithoutABlockEverythingIsCounted) {
  Mem s;
  void* q = s.chunk(32);  // a priority queue's first array
  void* head = s.chunk(kChunk);
  EXPECT_EQ(s.a.bytes(), 32 + kChunk);
  EXPECT_EQ(s.a.shared(), nullptr);
  s.free(q);
  s.free(head);
  EXPECT_EQ(s.a.bytes(), 0u);
}

TEST(Nghttp2AllocatorTest, ASmallRequestIsNeverTheBlock) {
  auto shared = std::make_shared<SharedFrameBuffer>(kChunk + 131072);
  Mem s(shared);
  void* q = s.chunk(32);  // before any frame buffer chunk
  EXPECT_NE(q, shared->data());
  EXPECT_EQ(s.a.shared(), nullptr);  // no head yet
  void* head = s.chunk(kChunk);
  EXPECT_EQ(head, shared->data());
  s.free(q);
  s.free(head);
}

// Server sessions of one loop, their frames interleaved: large header blocks (an extra chunk),
// DATA frames up to 1 MiB allowed (the head grown in the block), each client receiving exactly
// what its server sent.
// What nghttp2 allocates inside a ShortLived scope (a frame's item and header copy) comes from
// the thread's BlockPool and goes back to it when freed, in the scope or not; outside a scope
// blocks are exact-sized heap blocks that never enter the pool. The count stays exact.
TEST(Nghttp2AllocatorTest, ShortLivedBlocksComeFromTheThreadsPool) {
  Mem s;
  void* item = nullptr;
  void* zeroed = nullptr;
  void* heap = s.malloc(200);
  {
    Nghttp2Allocator::ShortLived scope(s.a);
    item = s.malloc(150);
    zeroed = s.m.calloc(3, 50, s.m.mem_user_data);
  }
  void* after = s.malloc(150);  // the scope is closed: heap again
  EXPECT_EQ(s.a.bytes(), 200u + 150 + 150 + 150);
  EXPECT_EQ(static_cast<const char*>(zeroed)[149], 0);
  std::memset(item, 'i', 150);
  const size_t cached = BlockPool::CachedBytes();
  s.free(item);  // after its scope: back to the pool all the same
  s.free(zeroed);
#ifdef H2RPC_ASAN
  // Nothing pooled (malloc, as BlockPool would be the heap), so that ASan sees misuse.
  EXPECT_EQ(BlockPool::CachedBytes(), cached);
#else
  EXPECT_EQ(BlockPool::CachedBytes(), cached + 2 * BlockPool::BlockSize(150 + 16));
#endif
  const size_t cached_now = BlockPool::CachedBytes();
  s.free(heap);
  s.free(after);
  EXPECT_EQ(BlockPool::CachedBytes(), cached_now);  // heap blocks went to the heap
  EXPECT_EQ(s.a.bytes(), 0u);
}

// nghttp2 1.52 never reallocates an item, but a pooled block that is grown or shrunk moves to
// the heap with its bytes, and the count follows.
TEST(Nghttp2AllocatorTest, AResizedPooledBlockKeepsItsBytes) {
  Mem s;
  void* p = nullptr;
  {
    Nghttp2Allocator::ShortLived scope(s.a);
    p = s.malloc(100);
    std::memset(p, 'x', 100);
    p = s.m.realloc(p, 300, s.m.mem_user_data);
  }
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(s.a.bytes(), 300u);
  EXPECT_EQ(std::string(static_cast<const char*>(p), 100), std::string(100, 'x'));
  p = s.m.realloc(p, 50, s.m.mem_user_data);
  EXPECT_EQ(s.a.bytes(), 50u);
  EXPECT_EQ(std::string(static_cast<const char*>(p), 50), std::string(50, 'x'));
  s.free(p);
  EXPECT_EQ(s.a.bytes(), 0u);
}

// Scopes nest: closing the inner one leaves the outer one open.
TEST(Nghttp2AllocatorTest, ShortLivedScopesNest) {
  Mem s;
  Nghttp2Allocator::ShortLived outer(s.a);
  { Nghttp2Allocator::ShortLived inner(s.a); }
  void* p = s.malloc(100);
  const size_t cached = BlockPool::CachedBytes();
  s.free(p);
#ifdef H2RPC_ASAN
  EXPECT_EQ(BlockPool::CachedBytes(), cached);
#else
  EXPECT_EQ(BlockPool::CachedBytes(), cached + BlockPool::BlockSize(100 + 16));
#endif
}

TEST(Nghttp2AllocatorTest, ServerSessionsSharingTheBlockSendTheirOwnFrames) {
  // Another nghttp2: re-check the conditions in nghttp2_allocator.h against its sources.
  ASSERT_TRUE(SharedFrameBuffer::supported()) << nghttp2_version(0)->version_str;
  ManualLoop loop;
  SessionOptions large_frames;
  large_frames.settings.maxFrameSize = 1 << 20;
  struct Pair {
    std::shared_ptr<ServerHttp2Session> server;
    std::shared_ptr<ClientHttp2Session> client;
    std::shared_ptr<ServerHttp2Stream> stream;
    std::string header, body, got_header, got_body;
    bool ended = false;
  };
  constexpr int kPairs = 4;
  std::vector<std::unique_ptr<Pair>> pairs;
  for (int i = 0; i < kPairs; ++i) {
    auto p = std::make_unique<Pair>();
    auto [a, b] = MemorySocket::pair(&loop);
    p->server = *ServerHttp2Session::create(&loop, std::move(a), {});
    p->client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost",
                                            large_frames);
    Pair* raw = p.get();
    p->server->onStream([raw](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
      raw->stream = s;
    });
    // Distinct per session, so a frame of one in another's output would show.
    p->header = std::string(40000, static_cast<char>('a' + i));
    for (int j = 0; j < 3000; ++j) p->body += std::to_string(i * 100000 + j) + ",";
    auto req = *p->client->request({{":method", "GET"}, {":path", "/"}});
    req->onResponse([raw](const Headers& h, uint8_t) {
      raw->got_header = h.get("x-big").value_or("");
    });
    req->onData([raw](std::string_view d) { raw->got_body += d; });
    req->onEnd([raw] { raw->ended = true; });
    pairs.push_back(std::move(p));
  }
  loop.runUntilIdle();
  for (auto& p : pairs) {
    ASSERT_NE(p->stream, nullptr);
    ASSERT_TRUE(p->stream->respond({{":status", "200"}, {"x-big", p->header}}).ok());
    p->stream->write(p->body.substr(0, 1000));
  }
  for (auto& p : pairs) p->stream->end(p->body.substr(1000));
  loop.runUntilIdle();
  for (auto& p : pairs) {
    EXPECT_TRUE(p->ended);
    EXPECT_EQ(p->got_header, p->header);
    EXPECT_EQ(p->got_body, p->body);
    // The frame buffer, grown for the large DATA frames, is not this session's memory.
    EXPECT_LT(p->server->memoryInUse(), 20000u);
  }
}

}  // namespace
}  // namespace h2rpc::transport::internal
