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
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
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

constexpr uint8_t kSettings = 0x4, kPing = 0x6, kGoaway = 0x7, kAck = 0x1;
constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kEndStream = 0x1, kEndHeaders = 0x4;

void AppendFrame(std::string& out, uint8_t type, uint8_t flags, size_t payload) {
  out.push_back(static_cast<char>(payload >> 16));
  out.push_back(static_cast<char>(payload >> 8));
  out.push_back(static_cast<char>(payload));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  out.append(4, '\0');  // stream 0
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, char* buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = read(fd, buf + off, len - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Sets the stream id of the frame header at the start of `frame`.
void SetStream(std::string& frame, uint32_t stream) {
  for (int i = 0; i < 4; ++i) frame[5 + i] = static_cast<char>(stream >> (24 - 8 * i));
}

// A client request's HEADERS frame for a gRPC call to `path` on `stream`: every field a literal
// without indexing, new name (RFC 7541 §6.2.2), all lengths below 127.
std::string CallHeaders(uint32_t stream, const std::string& path) {
  std::string block;
  auto field = [&](const std::string& name, const std::string& value) {
    block.push_back('\0');
    block.push_back(static_cast<char>(name.size()));
    block += name;
    block.push_back(static_cast<char>(value.size()));
    block += value;
  };
  field(":method", "POST");
  field(":scheme", "http");
  field(":path", path);
  field(":authority", "localhost");
  field("content-type", "application/grpc");
  field("te", "trailers");
  std::string out;
  AppendFrame(out, kHeaders, kEndHeaders, block.size());
  SetStream(out, stream);
  return out + block;
}

// A DATA frame on `stream` carrying one empty gRPC message (its 5-byte prefix).
std::string EmptyMessage(uint32_t stream, bool end_stream) {
  std::string out;
  AppendFrame(out, kData, end_stream ? kEndStream : 0, 5);
  SetStream(out, stream);
  return out.append(5, '\0');
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
    hello_ = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    if (active) {
      constexpr uint32_t kMaxFrameSize = 1 << 20;
      AppendFrame(hello_, kSettings, 0, 6);
      const char entry[6] = {0, 0x5, static_cast<char>(kMaxFrameSize >> 24),
                             static_cast<char>(kMaxFrameSize >> 16),
                             static_cast<char>(kMaxFrameSize >> 8), static_cast<char>(kMaxFrameSize)};
      hello_.append(entry, sizeof(entry));
    } else {
      AppendFrame(hello_, kSettings, 0, 0);
    }
    AppendFrame(settings_ack_, kSettings, kAck, 0);
    AppendFrame(ping_, kPing, 0, 8);
    ping_.append(8, 'p');
    unary_ = CallHeaders(1, "/grpc.testing.BenchmarkService/UnaryCall") + EmptyMessage(1, true);
    streaming_ =
        CallHeaders(3, "/grpc.testing.BenchmarkService/StreamingCall") + EmptyMessage(3, false);
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
    if (!WriteAll(fd, hello_) || !ReadUntil(fd, kSettings, false)) return false;
    // The unary call's trailers, then the ping-pong call's first response.
    if (active_ && (!WriteAll(fd, unary_) || !ReadUntil(fd, kHeaders, kEndStream, 1) ||
                    !WriteAll(fd, streaming_) || !ReadUntil(fd, kData, 0, 3))) {
      return false;
    }
    return WriteAll(fd, ping_) && ReadUntil(fd, kPing, true);
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
  // Reads frames until one of `type` with (or without) ACK; acknowledges the server's SETTINGS.
  bool ReadUntil(int fd, uint8_t type, bool ack) { return ReadUntil(fd, type, kAck, 0, ack); }

  // Reads frames until one of `type` on `stream` with `flag` set (any flags if 0); a RST_STREAM
  // or GOAWAY fails.
  bool ReadUntil(int fd, uint8_t type, uint8_t flag, uint32_t stream) {
    return ReadUntil(fd, type, flag, stream, flag != 0);
  }

  bool ReadUntil(int fd, uint8_t type, uint8_t flag, uint32_t stream, bool flag_set) {
    for (;;) {
      char h[9];
      if (!ReadAll(fd, h, 9)) return false;
      const uint32_t len = (static_cast<uint32_t>(static_cast<uint8_t>(h[0])) << 16) |
                           (static_cast<uint32_t>(static_cast<uint8_t>(h[1])) << 8) |
                           static_cast<uint8_t>(h[2]);
      const uint8_t t = static_cast<uint8_t>(h[3]), flags = static_cast<uint8_t>(h[4]);
      for (uint32_t left = len; left > 0;) {
        const size_t chunk = left < buf_.size() ? left : buf_.size();
        if (!ReadAll(fd, buf_.data(), chunk)) return false;
        left -= static_cast<uint32_t>(chunk);
      }
      const uint32_t id = (static_cast<uint32_t>(static_cast<uint8_t>(h[5]) & 0x7f) << 24) |
                          (static_cast<uint32_t>(static_cast<uint8_t>(h[6])) << 16) |
                          (static_cast<uint32_t>(static_cast<uint8_t>(h[7])) << 8) |
                          static_cast<uint8_t>(h[8]);
      if (t == kGoaway || t == kRstStream) return false;
      if (t == kSettings && !(flags & kAck) && !WriteAll(fd, settings_ack_)) return false;
      if (t == type && id == stream && (flag == 0 || ((flags & flag) != 0) == flag_set)) {
        return true;
      }
    }
  }

  // The loop may be asleep in its poll: a posted no-op makes it check the phase again.
  void Wake() { loop_->postFromAnyThread([] {}); }

  transport::UvLoop* const loop_;
  const int n_;
  const bool active_;
  sockaddr_in addr_{};
  std::string hello_, settings_ack_, ping_, unary_, streaming_;
  std::array<char, 1024> buf_{};
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

// Measured 31,313 bytes on 2026-12-06 (Debian 12, nghttp2 1.52, fastbuild; bench/PROFILE.md,
// "RSS per connection, stop 28", has the breakdown): nghttp2's own allocations are 25.6 KiB of
// it, 16 KiB of which is its output frame buffer (one page of it written, so mostly not in RSS).
// Issue 18's target is 8 KiB of RSS: out of reach while every connection has its own nghttp2
// session. The budget is the measured figure plus ~110 bytes, below the 31,536 measured before
// the session's timer was made on first use: any new per-connection object (a listener, a timer)
// fails it, and so does a different C++ library or nghttp2 version — re-measure then, with the
// breakdown, rather than widen the budget blindly.
constexpr int64_t kBudgetBytes = 31'424;
// Every connection has at least nghttp2's 16 KiB frame buffer: less means the measurement does
// not see malloc (nghttp2 and libuv allocate with malloc, not operator new).
constexpr int64_t kAtLeastBytes = 16 * 1024;
// An active connection (IdleClients: one unary call made, one ping-pong call open, its peer
// allowing 1 MiB frames): 37,645 bytes measured on 2026-12-06 (fastbuild, branch s28-rss), the
// idle figure plus ~6.3 KB for the open call (its stream, ServerCall, handler coroutine and
// Awaitable states, nghttp2's stream). The budget is that plus ~115 bytes, below the 37,870
// measured before the session's timer was made on first use. nghttp2's frame buffer grown to
// the length our read-length callback allows (64 KiB: the peer's window) fails it: 86,510
// bytes before the callback was bounded by what the stream has queued (transport/session.cc,
// dataReadLength).
constexpr int64_t kActiveBudgetBytes = 37'760;

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

