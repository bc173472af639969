// Allocations on the per-message path of an open stream: a ping-pong of small DATA payloads
// between a client and a server session (ManualLoop, MemorySocket pair). Counts what this
// binary allocates (global operator new, as the standard allows replacing it), so that the
// allocations bench/PROFILE.md ("Streams, stop 27") removed stay removed.
#include <cstdio>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "transport/buffer.h"
#include "transport/sanitizers.h"
#include "transport/testing/allocation_counter.h"
#include "transport/testing/session_pair.h"

namespace h2rpc::transport {
namespace {

using testing::AllocationCount;

TEST(StreamAllocationTest, SmallDataRoundTripsAllocateLittle) {
  SessionPair p;
  ServerHttp2Stream* server_stream = nullptr;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    server_stream = s.get();  // (p.streams keeps it)
    ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
    s->onDataBuffer([raw = s.get()](const SharedBuffer& b) { raw->write(b); });  // echo
  };
  auto req = p.client->request({{":method", "POST"}, {":path", "/echo"}});
  ASSERT_TRUE(req.ok()) << req.status();
  std::shared_ptr<ClientHttp2Stream> stream = *req;
  size_t echoed = 0;
  stream->onDataBuffer([&](const SharedBuffer& b) { echoed += b.size(); });
  const SharedBuffer message(std::string("\0\0\0\0\0", 5));  // a gRPC prefix, empty message
  auto roundTrip = [&] {
    const size_t before = echoed;
    stream->write(message);
    p.run();
    ASSERT_EQ(echoed, before + message.size());
  };
  for (int i = 0; i < 50; ++i) roundTrip();  // warm-up: windows, vectors, loop queues
  ASSERT_NE(server_stream, nullptr);
  constexpr int kRounds = 200;
  const size_t before = AllocationCount();
  for (int i = 0; i < kRounds; ++i) roundTrip();
  const double per_round_trip = static_cast<double>(AllocationCount() - before) / kRounds;
  // 3.21 (g++ 12, libstdc++, fastbuild): the session's output batch, the memory socket and the
  // loop's queues allocate. Small SharedBuffers (the copy of each received payload out of the
  // socket buffer, onDataChunk; the memory socket's bytes) come from the thread's BlockPool
  // since stop 29: 9.2 before (bench/PROFILE.md, "Streams, stop 29"). Before stop 27, each
  // direction also allocated a new parsed-events vector, framed-pieces vector and
  // output-segments vector, and a copy of the lone small piece: 4 more per direction.
#ifdef H2RPC_ASAN
  // The pool is off under ASan (plain heap, so that use-after-free stays detectable).
  EXPECT_LE(per_round_trip, 11.0) << per_round_trip;
#else
  EXPECT_LE(per_round_trip, 4.0) << per_round_trip;
#endif
  RecordProperty("allocations_per_round_trip", std::to_string(per_round_trip));
  std::printf("allocations per round trip: %.2f\n", per_round_trip);
}

}  // namespace
}  // namespace h2rpc::transport
