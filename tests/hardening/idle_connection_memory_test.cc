// What one idle connection costs an rpc::Server in heap bytes (issue 18: RSS per idle connection
// ≤ 8 KiB). N cleartext HTTP/2 connections on loopback, each through a full handshake (preface,
// SETTINGS both ways, a PING answered, so the server has processed everything), then silent; the
// heap in use before and after, divided by N. Heap bytes in use are deterministic (the same
// allocations every run, whatever the machine's load), so a budget can be asserted; time is not.
//
// The server's loop runs on the test's main thread; the clients are plain blocking sockets on a
// second thread, which allocates nothing while the heap is measured (its buffers are made first).
// Outside sanitizers the main arena's in-use bytes (mallinfo2) are counted, which the client
// thread's own arena does not touch; under ASan its allocator's total.
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

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
  IdleClients(transport::UvLoop* loop, uint16_t port, int n) : loop_(loop), n_(n) {
    fds_.reserve(static_cast<size_t>(n) + 1);
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr_.sin_addr);
  }
  ~IdleClients() {
    for (int fd : fds_) close(fd);
  }

  // One connection through the handshake, kept open.
  bool Open() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    fds_.push_back(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_)) != 0) return false;
    return raw_h2::Handshake(fd);
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
  sockaddr_in addr_{};
  std::vector<int> fds_;
};

// Heap bytes per idle connection of an rpc::Server with default options.
int64_t HeapPerIdleConnection(int n) {
  transport::UvLoop loop;
  rpc::Server server(&loop);
  EXPECT_TRUE(server.Listen("127.0.0.1", 0).ok());
  IdleClients clients(&loop, server.port(), n);
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

TEST(IdleConnectionMemoryTest, HeapPerIdleCleartextConnectionWithinBudget) {
  constexpr int kConnections = 200;
  const int64_t per_conn = HeapPerIdleConnection(kConnections);
  std::printf("heap bytes per idle connection: %lld\n", static_cast<long long>(per_conn));
  EXPECT_GE(per_conn, kAtLeastBytes);
  EXPECT_LE(per_conn, kBudgetBytes);
}

}  // namespace
}  // namespace h2rpc
