// A received header block's field vector is recycled on the thread (field_vector_cache.h): a
// server stream gives its request headers' memory back when it is destroyed, a client stream
// its response headers' after their event, and the next block received takes one. Under ASan
// nothing is kept (heap throughout), and these counts say so.
#include <memory>

#include "gtest/gtest.h"
#include "transport/field_vector_cache.h"
#include "transport/sanitizers.h"
#include "transport/session.h"
#include "transport/testing/session_pair.h"

namespace h2rpc::transport {
namespace {

using internal::FieldVectorCache;

#ifdef H2RPC_ASAN
constexpr size_t kKept = 0;
#else
constexpr size_t kKept = 1;
#endif

TEST(SessionFieldVectorsTest, ADroppedStreamsHeadersMemoryGoesToTheNextBlock) {
  SessionPair p;
  auto req = p.client->request({{":method", "GET"}, {":path", "/a"}});
  ASSERT_TRUE(req.ok()) << req.status();
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  const size_t start = FieldVectorCache::Count();

  // The response's header block: the client gives its vector back after the 'response' event.
  bool responded = false;
  (*req)->onResponse([&](const Headers& h, uint8_t) { responded = h.get(":status") == "200"; });
  ASSERT_TRUE(p.streams[0]->respond({{":status", "200"}}, {.endStream = true}).ok());
  p.run();
  EXPECT_TRUE(responded);
  EXPECT_EQ(FieldVectorCache::Count(), start + kKept);

  // The server stream, dropped, gives its request headers' vector back.
  std::weak_ptr<ServerHttp2Stream> gone = p.streams[0];
  p.streams.clear();
  p.run();
  ASSERT_TRUE(gone.expired());
  EXPECT_EQ(FieldVectorCache::Count(), start + 2 * kKept);

  // The next request's block takes one instead of allocating.
  auto next = p.client->request({{":method", "GET"}, {":path", "/b"}});
  ASSERT_TRUE(next.ok()) << next.status();
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  EXPECT_EQ(p.streams[0]->requestHeaders().get(":path"), "/b");
  EXPECT_EQ(FieldVectorCache::Count(), start + kKept);
}

}  // namespace
}  // namespace h2rpc::transport
