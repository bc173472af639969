// A Headers' field vector is a BlockPool block (headers.h): what a dropped Headers frees is the
// next one's memory, counted in the thread's one pool bound; through the session, a dropped
// server stream's request headers are the next request's, with no malloc. Under ASan the pool is
// off (heap throughout, so that a view into destroyed headers stays a reported error): a block
// is then a new heap block each time, and these tests say so.
#include <cstddef>
#include <memory>
#include <thread>
#include <utility>

#include "gtest/gtest.h"
#include "transport/block_pool.h"
#include "transport/headers.h"
#include "transport/sanitizers.h"
#include "transport/session.h"
#include "transport/testing/allocation_counter.h"
#include "transport/testing/session_pair.h"

namespace h2rpc::transport {
namespace {

using testing::AllocationCount;

#ifdef H2RPC_ASAN
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

// On a thread of its own, whose pool starts empty.
template <typename Fn>
void OnNewThread(Fn fn) {
  std::thread t(std::move(fn));
  t.join();
}

// The session reserves 8 fields for a received block: one 512-byte block.
constexpr size_t kBlockBytes = 8 * sizeof(HeaderField);

TEST(HeadersMemoryTest, ADroppedHeadersBlockIsTheNextOnesWithoutAMalloc) {
  OnNewThread([] {
    const HeaderField* memory = nullptr;
    {
      Headers first;
      first.reserve(8);
      first.addLowerCase("content-type", "application/grpc+a-value-past-the-short-string-buffer");
      memory = first.raw().data();
    }
    // Kept by the thread's BlockPool, under its one bound (nothing kept under ASan).
    EXPECT_EQ(BlockPool::CachedBytes(), kPooled ? BlockPool::BlockSize(kBlockBytes) : 0u);
    Headers next;
    const size_t before = AllocationCount();
    next.reserve(8);
    EXPECT_EQ(AllocationCount() - before, kPooled ? 0u : 1u);
    if (kPooled) {
      EXPECT_EQ(next.raw().data(), memory);
    }
    EXPECT_EQ(BlockPool::CachedBytes(), 0u);
  });
}

// Copies and moves keep their fields; the allocator is stateless, so a move takes the block.
TEST(HeadersMemoryTest, CopiesAndMovesAreUnchangedByThePool) {
  Headers h{{"a", "1"}, {"b", "2"}};
  h.setSensitive("a");
  Headers copy = h;
  EXPECT_EQ(copy, h);
  const HeaderField* memory = h.raw().data();
  Headers moved = std::move(h);
  EXPECT_EQ(moved.raw().data(), memory);
  EXPECT_EQ(moved, copy);
  EXPECT_TRUE(moved.isSensitive("a"));
}

TEST(HeadersMemoryTest, ADroppedStreamsRequestHeadersAreTheNextRequests) {
  SessionPair p;
  auto req = p.client->request({{":method", "GET"}, {":path", "/a"}});
  ASSERT_TRUE(req.ok()) << req.status();
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  const HeaderField* memory = p.streams[0]->requestHeaders().raw().data();
  EXPECT_EQ(p.streams[0]->requestHeaders().raw().capacity(), 8u);  // the session's reserve

  bool responded = false;
  (*req)->onResponse([&](const Headers& h, uint8_t) { responded = h.get(":status") == "200"; });
  ASSERT_TRUE(p.streams[0]->respond({{":status", "200"}}, {.endStream = true}).ok());
  p.run();
  EXPECT_TRUE(responded);

  // The server stream, dropped, frees its request headers' block into the thread's pool ...
  std::weak_ptr<ServerHttp2Stream> gone = p.streams[0];
  p.streams.clear();
  p.run();
  ASSERT_TRUE(gone.expired());

  // ... and the next request's block is that one.
  auto next = p.client->request({{":method", "GET"}, {":path", "/b"}});
  ASSERT_TRUE(next.ok()) << next.status();
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  EXPECT_EQ(p.streams[0]->requestHeaders().get(":path"), "/b");
  if (kPooled) {
    EXPECT_EQ(p.streams[0]->requestHeaders().raw().data(), memory);
  }
}

}  // namespace
}  // namespace h2rpc::transport
