// Heap allocations per unary call, counted: an rpc::Server serving one end of a MemorySocket
// on a ManualLoop (Server::ServeSession) and a transport client session on the other end, in
// this one process, so the count is the client's and the server's together. Deterministic
// (no threads, no clock in the path), so a budget can be exact: a change that adds an
// allocation to every call fails here, where bench/profile.sh would only show it as a few
// hundred instructions more. bench/PROFILE.md ("Unary 0 B, stop 27") has the server's share.
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "rpc/framing.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testing/echo_service.h"
#include "transport/sanitizers.h"
#include "transport/session.h"
#include "transport/testing/allocation_counter.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoRequest;
using transport::Headers;
using transport::testing::AllocationCount;

class UnaryAllocationsTest : public testing::EchoServerTest {
 protected:
  void SetUp() override {
    EchoServerTest::SetUp();
    // Empty: the echo is 0 B each way, as bench/profile.sh's default.
    request_ = FrameMessage(EchoRequest().SerializeAsString(), false);
  }

  // One call, to its end; true if it answered grpc-status 0.
  bool Call() {
    static const Headers headers{{":method", "POST"},
                                 {":path", "/h2rpc.rpc_test.Echo/Unary"},
                                 {"content-type", "application/grpc"},
                                 {"te", "trailers"}};
    bool ok = false, closed = false;
    auto req = client_->request(headers, {.endStream = false});
    if (!req.ok()) return false;
    (*req)->onTrailers([&ok](const Headers& h, uint8_t) { ok = h.get("grpc-status") == "0"; });
    (*req)->onData([](std::string_view) {});  // flowing, or the stream never ends (as Node)
    (*req)->onClose([&closed] { closed = true; });
    (*req)->end(request_);
    loop_.runUntilIdle();
    return ok && closed;
  }

  std::string request_;
};

TEST_F(UnaryAllocationsTest, StaysWithinBudget) {
  // Warm-up: the first calls grow what is kept for the connection's life (vectors that keep
  // their capacity, nghttp2's tables, the coroutine frame pool).
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Call());
  constexpr int kCalls = 100;
#ifdef H2RPC_ASAN
  // Under ASan the BlockPool hands out heap blocks (transport/block_pool.h), so listeners and
  // coroutine frames count here: 78.63 measured (make asan, fresh Debian, c8ac566); 73.63 on
  // s31-unary (see below).
  constexpr double kBudget = 74;
#else
  constexpr double kBudget = 40;
#endif
  const size_t before = AllocationCount();
  for (int i = 0; i < kCalls; ++i) ASSERT_TRUE(Call());
  const double per_call = static_cast<double>(AllocationCount() - before) / kCalls;
  RecordProperty("allocations_per_call", std::to_string(per_call));
  std::printf("allocations per unary call (client + server): %.2f\n", per_call);
  // Measured on branch s27-unary (fastbuild): 86.63; on s28-unary: 65.63 (listeners from the
  // thread's BlockPool, no stream map node, no copy of :path, no closure for the call's
  // 'close' listener); on s29-unary: 62.63 (the server stream, the call and the client stream
  // from the thread's BlockPool); stop 29 merged: 52.63 (small SharedBuffers from the pool too:
  // each message's outgoing buffer and received copy, both sides). On s30-unary: 49.63 (received header
  // blocks' field vectors recycled per thread; ASan: 78.63). On s31-fvc: 44.63 (every Headers'
  // field vector a BlockPool block, transport/headers.h: the client's request and the copies of
  // headers too, not only received blocks). On s31-unary: 44.63, ASan 73.63 (the pieces vector
  // of each stream's DATA frames and each output batch's byte string kept per thread, not made
  // per stream / per batch). Both merged: 39.63 (ASan 73.63). Lower it when you cut one; a change that
  // adds one to every call must say why here. (nghttp2's own blocks use malloc, not operator
  // new: not counted here; bench/profile.sh counts them.)
  EXPECT_LE(per_call, kBudget);
}

}  // namespace
}  // namespace h2rpc::rpc
