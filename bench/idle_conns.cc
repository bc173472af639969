// idle_conns: opens N idle HTTP/2 (h2c, prior knowledge) connections to a server and holds them,
// for measuring the server's memory per idle connection. Each connection does a full handshake
// — client preface + SETTINGS, the server's SETTINGS acknowledged, then a PING whose ACK shows
// the server has processed everything — and then stays silent. Prints "ready N" when all are up,
// then waits until killed (SIGTERM/SIGINT).
//
// With --active, each connection is an active one instead: its SETTINGS allow 1 MiB frames (as
// h2rpc's and gRPC C++'s clients do), it makes one unary call (BenchmarkService/UnaryCall, an
// empty request) and reads its trailers, then opens a ping-pong call (StreamingCall), exchanges
// one message and leaves the call open, the server's handler waiting for the next one; then the
// PING. bench_server serves both methods.
//
// With --tls, over TLS (ALPN h2, the server's certificate not checked): bench_server --tls_cert.
// With --response_size=N (and --active), the unary call asks for N bytes (SimpleRequest's
// response_size): the server sends them in one DATA frame, the peer allowing 1 MiB frames.
//
//   idle_conns 127.0.0.1 PORT 1000 [--active [--response_size=N]] [--tls]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/testing/raw_h2.h"

using h2rpc::raw_h2::CallHeaders;
using h2rpc::raw_h2::Conn;
using h2rpc::raw_h2::EmptyMessage;
using h2rpc::raw_h2::Hello;
using h2rpc::raw_h2::kData;
using h2rpc::raw_h2::kEndStream;
using h2rpc::raw_h2::kHeaders;
using h2rpc::raw_h2::kPing;
using h2rpc::raw_h2::kSettings;
using h2rpc::raw_h2::Ping;
using h2rpc::raw_h2::SizedRequest;
using h2rpc::raw_h2::ReadUntil;
using h2rpc::raw_h2::WriteAll;

int main(int argc, char** argv) {
  bool active = false, tls = false, usage = argc < 4;
  uint32_t response_size = 0;
  for (int i = 4; i < argc; ++i) {
    if (std::strcmp(argv[i], "--active") == 0) {
      active = true;
    } else if (std::strncmp(argv[i], "--response_size=", 16) == 0) {
      const long v = std::atol(argv[i] + 16);
      if (v <= 0 || v > (1 << 20)) usage = true;
      response_size = static_cast<uint32_t>(v);
    } else if (std::strcmp(argv[i], "--tls") == 0) {
      tls = true;
    } else {
      usage = true;
    }
  }
  if (response_size > 0 && !active) usage = true;
  if (usage) {
    std::fprintf(stderr,
                 "usage: idle_conns HOST PORT N [--active [--response_size=1..1048576]] [--tls]\n");
    return 2;
  }
  SSL_CTX* ctx = nullptr;
  if (tls) {
    ctx = SSL_CTX_new(TLS_client_method());
    static const unsigned char kAlpn[] = {2, 'h', '2'};
    if (ctx == nullptr || SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn)) != 0) {
      std::fprintf(stderr, "idle_conns: SSL_CTX_new failed\n");
      return 1;
    }
  }
  const int n = std::atoi(argv[3]);
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < static_cast<rlim_t>(n) + 64) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(n) + 64);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    std::fprintf(stderr, "idle_conns: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  // SETTINGS_MAX_FRAME_SIZE = 1 MiB when active.
  const std::string hello = Hello(active ? 1 << 20 : 0);
  const std::string unary =
      CallHeaders(1, "/grpc.testing.BenchmarkService/UnaryCall") +
      (response_size > 0 ? SizedRequest(1, response_size) : EmptyMessage(1, true));
  const std::string streaming =
      CallHeaders(3, "/grpc.testing.BenchmarkService/StreamingCall") + EmptyMessage(3, false);
  std::vector<Conn> conns;
  for (int i = 0; i < n; ++i) {
    Conn conn;
    conn.fd = h2rpc::raw_h2::Connect(addr);
    if (conn.fd < 0) {
      std::perror("idle_conns: connect");
      return 1;
    }
    if (tls) {
      conn.ssl = SSL_new(ctx);
      if (conn.ssl == nullptr || SSL_set_fd(conn.ssl, conn.fd) != 1 || SSL_connect(conn.ssl) != 1) {
        std::fprintf(stderr, "idle_conns: TLS handshake %d failed\n", i);
        return 1;
      }
    }
    // Active: the unary call's trailers, then the ping-pong call's first response.
    if (!WriteAll(conn, hello) || !ReadUntil(conn, kSettings, false) ||
        (active && (!WriteAll(conn, unary) || !ReadUntil(conn, kHeaders, kEndStream, true, 1) ||
                    !WriteAll(conn, streaming) || !ReadUntil(conn, kData, 0, false, 3))) ||
        !WriteAll(conn, Ping()) || !ReadUntil(conn, kPing, true)) {
      std::fprintf(stderr, "idle_conns: handshake %d failed\n", i);
      return 1;
    }
    conns.push_back(conn);
  }
  std::printf("ready %d\n", n);
  std::fflush(stdout);
  for (;;) pause();
}
