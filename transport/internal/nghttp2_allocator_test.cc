// Nghttp2Allocator: the calls nghttp2 1.52 makes for its frame buffer, one by one, then real
// server sessions sharing their loop's block while their frames interleave.
#include "transport/internal/nghttp2_allocator.h"

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
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
