// What one idle connection costs an rpc::Server in heap bytes (issue 18: RSS per idle connection
// ≤ 8 KiB). N cleartext HTTP/2 connections on loopback, each through a full handshake (preface,
// SETTINGS both ways, a PING answered, so the server has processed everything), then silent; the
// heap in use before and after, divided by N. Heap bytes in use are deterministic (the same
// allocations every run, whatever the machine's load), so a budget can be asserted; time is not.
// The same for an active connection (≤ 12 KiB of RSS in issue 18): one that has made one unary
// call and holds a ping-pong call open.
//
// The server's loop runs on the test's main thread; the clients are plain blocking sockets on a
// second thread, which allocates nothing while the heap is measured (its buffers are made first).
// Outside sanitizers the main arena's in-use bytes (mallinfo2) are counted, which the client
// thread's own arena does not touch; under ASan its allocator's total.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "grpc/testing/benchmark_service.h2rpc.h"
#include "gtest/gtest.h"
#include "rpc/server.h"
#include "tests/testing/raw_h2.h"
#include "transport/testing/heap_in_use.h"
#include "transport/uv_loop.h"


namespace h2rpc {
namespace {

using raw_h2::kData;
using raw_h2::kEndStream;
using raw_h2::kHeaders;
using raw_h2::kPing;
using raw_h2::kSettings;
using raw_h2::ReadUntil;
using raw_h2::WriteAll;
using transport::testing::HeapInUse;

// The client side, on its own thread: no allocation once constructed.
class IdleClients {
 public:
  // active: each connection also makes one unary call, then opens a ping-pong call, exchanges
  // one message and leaves the call open (the server's handler waits in Read). Its SETTINGS
  // allow 1 MiB frames, as h2rpc's and gRPC C++'s clients do. response_size: what the unary
  // call asks for (0: an empty response).
  IdleClients(transport::UvLoop* loop, uint16_t port, int n, bool active = false,
              uint32_t response_size = 0)
      : loop_(loop), n_(n), active_(active) {
    fds_.reserve(static_cast<size_t>(n) + 1);
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr_.sin_addr);
    hello_ = raw_h2::Hello(active ? 1 << 20 : 0);
    ping_ = raw_h2::Ping();
    unary_ = raw_h2::CallHeaders(1, "/grpc.testing.BenchmarkService/UnaryCall") +
             (response_size > 0 ? raw_h2::SizedRequest(1, response_size)
                                : raw_h2::EmptyMessage(1, true));
    streaming_ = raw_h2::CallHeaders(3, "/grpc.testing.BenchmarkService/StreamingCall") +
                 raw_h2::EmptyMessage(3, false);
  }
  ~IdleClients() {
    for (int fd : fds_) close(fd);
  }

  // One connection through the handshake, kept open.
  bool Open() {
    const raw_h2::Conn c{raw_h2::Connect(addr_)};
    if (c.fd < 0) return false;
    fds_.push_back(c.fd);
    if (!WriteAll(c, hello_) || !ReadUntil(c, kSettings, false)) return false;
    // The unary call's trailers, then the ping-pong call's first response.
    if (active_ && (!WriteAll(c, unary_) || !ReadUntil(c, kHeaders, kEndStream, true, 1) ||
                    !WriteAll(c, streaming_) || !ReadUntil(c, kData, 0, true, 3))) {
      return false;
    }
    return WriteAll(c, ping_) && ReadUntil(c, kPing, true);
  }

  // The test's script: one warm-up connection (the server's one-time allocations), wait for the
  // baseline, then n idle ones.
  void Run() {
    ok_ = Open();
    phase_.store(1);
    Wake();
    go_.wait(false);
    for (int i = 0; ok_ && i < n_; ++i) ok_ = Open();
    phase_.store(2);
    Wake();
  }

  std::atomic<int> phase_{0};  // 1: warmed up; 2: all connections idle (or failed)
  std::atomic<bool> go_{false};
  bool ok_ = false;

 private:
  // The loop may be asleep in its poll: a posted no-op makes it check the phase again.
  void Wake() { loop_->postFromAnyThread([] {}); }

  transport::UvLoop* const loop_;
  const int n_;
  const bool active_;
  sockaddr_in addr_{};
  std::string hello_, ping_, unary_, streaming_;
  std::vector<int> fds_;
};

// What the active connections call: bench_server's handlers (a unary response of
// response_size zero bytes, empty ping-pong responses).
class Benchmark final : public grpc::testing::BenchmarkService::Service {
 public:
  rpc::Task<absl::StatusOr<grpc::testing::SimpleResponse>> UnaryCall(
      rpc::ServerContext&, const grpc::testing::SimpleRequest& request) override {
    grpc::testing::SimpleResponse response;
    if (request.response_size() > 0) {
      response.mutable_payload()->set_body(
          std::string(static_cast<size_t>(request.response_size()), '\0'));
    }
    co_return response;
  }
  rpc::Task<absl::Status> StreamingCall(
      rpc::ServerContext&,
      rpc::ServerReaderWriter<grpc::testing::SimpleResponse, grpc::testing::SimpleRequest>& stream)
      override {
    for (;;) {
      std::optional<grpc::testing::SimpleRequest> request = co_await stream.Read();
      if (!request || !co_await stream.Write(grpc::testing::SimpleResponse())) break;
    }
    co_return absl::OkStatus();
  }
};

// Heap bytes per connection of an rpc::Server with default options: idle, or active (IdleClients).
int64_t HeapPerConnection(int n, bool active, uint32_t response_size = 0) {
  transport::UvLoop loop;
  rpc::Server server(&loop);
  Benchmark service;
  server.RegisterService(&service);
  EXPECT_TRUE(server.Listen("127.0.0.1", 0).ok());
  IdleClients clients(&loop, server.port(), n, active, response_size);
  int64_t before = 0, after = 0;
  std::thread thread([&] { clients.Run(); });
  bool baseline = false;
  loop.driveUntil([] {}, [&] {
    if (!baseline && clients.phase_.load() >= 1) {
      baseline = true;
      before = HeapInUse();
      clients.go_.store(true);
      clients.go_.notify_all();
    }
    if (clients.phase_.load() == 2) {
      after = HeapInUse();
      return true;
    }
    return false;
  });
  thread.join();
  EXPECT_TRUE(clients.ok_) << "a client's handshake failed";
  bool closed = false;
  server.Shutdown(absl::ZeroDuration(), [&] { closed = true; });
  loop.driveUntil([] {}, [&] { return closed; });
  return (after - before) / n;
}

// History (fastbuild, Debian 12, nghttp2 1.52; bench/PROFILE.md has the breakdowns): 31,539
// bytes on 2026-12-05, 16 KiB of it nghttp2's output frame buffer; 15,136 once that buffer is
// one per loop (s28-framebuf, "The frame buffer, stop 28"); ~220 fewer with the session's timer
// made on first use (s28-rss, "RSS per connection, stop 28"); 15,088 on the merged tree
// (stop 28); 14,374 with UvSocket's linger timer made on a lingering close and the session's
// segment and parsed-event vectors kept per thread instead of per session (s29-rss, "RSS per
// connection, stop 29"); 13,788 (was 14,374 on this tree) with the session's 'close' listeners
// 4 -> 2, the handshake's SETTINGS listener dropped after it, rpc::Server's one entry per
// connection (was a set and a map) and its counters made at the first call (s30-rss, "RSS per
// connection, stop 30"). The budget is that plus ~2 %: a per-connection read or frame buffer
// fails it, and so does a different C++ library or nghttp2 version — re-measure then, with the
// breakdown, rather than widen the budget blindly.
constexpr int64_t kBudgetBytes = 13 * 1024 + 768;
// nghttp2's session, stream map and header tables alone are ~9.2 KiB: less means the
// measurement does not see malloc (nghttp2 and libuv allocate with malloc, not operator new).
constexpr int64_t kAtLeastBytes = 8 * 1024;
// An active connection (IdleClients: one unary call made, one ping-pong call open, its peer
// allowing 1 MiB frames): 37,361 bytes on 2026-12-05 (s27-mem), 21,470 with the frame buffer
// one per loop, 20,906 on the merged tree of stop 28, 20,240 with s29-rss's cuts, 19,734 with
// s30-rss's (20,160 on that tree before them): the idle figure plus ~5.9 KB for the open call
// (its stream, ServerCall, handler coroutine and Awaitable states, nghttp2's stream, the
// connection's counters). The budget is that plus ~0.5 % (the tree before s30-rss fails it).
// A frame buffer of the connection's own, grown to a large DATA frame's size, fails it (the
// case after a 60,000-byte response below); so does nghttp2's frame buffer grown to the length
// our read-length callback allows (86,510 bytes before that callback was bounded by what the
// stream has queued: transport/session.cc, dataReadLength).
constexpr int64_t kActiveBudgetBytes = 19 * 1024 + 384;

TEST(IdleConnectionMemoryTest, HeapPerIdleCleartextConnectionWithinBudget) {
  constexpr int kConnections = 200;
  const int64_t per_conn = HeapPerConnection(kConnections, /*active=*/false);
  std::printf("heap bytes per idle connection: %lld\n", static_cast<long long>(per_conn));
  EXPECT_GE(per_conn, kAtLeastBytes);
  EXPECT_LE(per_conn, kBudgetBytes);
}

TEST(IdleConnectionMemoryTest, HeapPerActiveCleartextConnectionWithinBudget) {
  constexpr int kConnections = 200;
  const int64_t per_conn = HeapPerConnection(kConnections, /*active=*/true);
  std::printf("heap bytes per active connection: %lld\n", static_cast<long long>(per_conn));
  EXPECT_GE(per_conn, kAtLeastBytes);
  EXPECT_LE(per_conn, kActiveBudgetBytes);
}

// An active connection whose unary call received a ~60 KB response, in one DATA frame (its peer
// allows 1 MiB frames): nghttp2 1.52 grows its frame buffer to that frame's size + 10 bytes
// and keeps it; the buffer is the loop's block (transport/internal/nghttp2_allocator.h), so
// such a connection costs what any active one does.
TEST(IdleConnectionMemoryTest, HeapPerConnectionThatReceivedALargeResponseWithinBudget) {
  constexpr int kConnections = 200;
  const int64_t per_conn = HeapPerConnection(kConnections, /*active=*/true, 60000);
  std::printf("heap bytes per connection after a 60,000-byte response: %lld\n",
              static_cast<long long>(per_conn));
  EXPECT_GE(per_conn, kAtLeastBytes);
  EXPECT_LE(per_conn, kActiveBudgetBytes);
}

}  // namespace
}  // namespace h2rpc

