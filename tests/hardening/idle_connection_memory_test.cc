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
#include <malloc.h>
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
#include "transport/uv_loop.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H2RPC_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define H2RPC_ASAN 1
#endif
#ifdef H2RPC_ASAN
// From the ASan runtime (<sanitizer/allocator_interface.h>, which Debian's gcc does not ship).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace h2rpc {
namespace {

using raw_h2::kData;
using raw_h2::kEndStream;
using raw_h2::kHeaders;
using raw_h2::kPing;
using raw_h2::kSettings;
using raw_h2::ReadUntil;
using raw_h2::WriteAll;

int64_t HeapInUse() {
#ifdef H2RPC_ASAN
  return static_cast<int64_t>(__sanitizer_get_current_allocated_bytes());
#else
  struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
#endif
}

// The client side, on its own thread: no allocation once constructed.
class IdleClients {
 public:
  // active: each connection also makes one unary call, then opens a ping-pong call, exchanges
  // one message and leaves the call open (the server's handler waits in Read). Its SETTINGS
  // allow 1 MiB frames, as h2rpc's and gRPC C++'s clients do.
  IdleClients(transport::UvLoop* loop, uint16_t port, int n, bool active = false)
      : loop_(loop), n_(n), active_(active) {
    fds_.reserve(static_cast<size_t>(n) + 1);
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr_.sin_addr);
    hello_ = raw_h2::Hello(active ? 1 << 20 : 0);
    ping_ = raw_h2::Ping();
    unary_ = raw_h2::CallHeaders(1, "/grpc.testing.BenchmarkService/UnaryCall") +
             raw_h2::EmptyMessage(1, true);
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

// What the active connections call: an empty response per request (bench_server's handlers
// with response_size 0).
class Benchmark final : public grpc::testing::BenchmarkService::Service {
 public:
  rpc::Task<absl::StatusOr<grpc::testing::SimpleResponse>> UnaryCall(
      rpc::ServerContext&, const grpc::testing::SimpleRequest&) override {
    co_return grpc::testing::SimpleResponse();
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
int64_t HeapPerConnection(int n, bool active) {
  transport::UvLoop loop;
  rpc::Server server(&loop);
  Benchmark service;
  server.RegisterService(&service);
  EXPECT_TRUE(server.Listen("127.0.0.1", 0).ok());
  IdleClients clients(&loop, server.port(), n, active);
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

// Measured 31,539 bytes on 2026-12-05 (Debian 12, nghttp2 1.52, -c opt and fastbuild alike;
// bench/PROFILE.md, "Memory per connection", has the breakdown): nghttp2's own allocations are
// 25.6 KiB of it, 16 KiB of which is its output frame buffer (mostly never touched, so not in
// RSS). Issue 18's target is 8 KiB of RSS: out of reach while every connection has its own
// nghttp2 session. The budget is the measured figure plus ~5 % (for figures that move with the
// C++ library or nghttp2's version): a per-connection read or frame buffer fails it.
constexpr int64_t kBudgetBytes = 33 * 1024;
// Every connection has at least nghttp2's 16 KiB frame buffer: less means the measurement does
// not see malloc (nghttp2 and libuv allocate with malloc, not operator new).
constexpr int64_t kAtLeastBytes = 16 * 1024;
// An active connection (IdleClients: one unary call made, one ping-pong call open, its peer
// allowing 1 MiB frames): 37,361 bytes measured on 2026-12-05 (fastbuild, branch s27-mem), the
// idle figure plus ~6.4 KB for the open call (its stream, ServerCall, handler coroutine). The
// budget is that plus ~5 %. nghttp2's frame buffer grown to the length our read-length
// callback allows (64 KiB: the peer's window) fails it: 86,510 bytes before the callback was
// bounded by what the stream has queued (transport/session.cc, dataReadLength).
constexpr int64_t kActiveBudgetBytes = 39 * 1024;

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

}  // namespace
}  // namespace h2rpc

