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
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr uint8_t kSettings = 0x4, kPing = 0x6, kAck = 0x1;
constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kGoaway = 0x7;
constexpr uint8_t kEndStream = 0x1, kEndHeaders = 0x4;

std::string Frame(uint8_t type, uint8_t flags, const std::string& payload, uint32_t stream = 0) {
  std::string f;
  const uint32_t n = static_cast<uint32_t>(payload.size());
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) f.push_back(static_cast<char>(stream >> shift));
  return f + payload;
}

// A request's HEADERS frame for a gRPC call to `path`: literals without indexing, new names
// (RFC 7541 §6.2.2), every length below 127.
std::string CallHeaders(uint32_t stream, const std::string& path) {
  std::string block;
  for (const auto& [name, value] : {std::pair<std::string, std::string>{":method", "POST"},
                                    {":scheme", "http"},
                                    {":path", path},
                                    {":authority", "localhost"},
                                    {"content-type", "application/grpc"},
                                    {"te", "trailers"}}) {
    block.push_back('\0');
    block.push_back(static_cast<char>(name.size()));
    block += name;
    block.push_back(static_cast<char>(value.size()));
    block += value;
  }
  return Frame(kHeaders, kEndHeaders, block, stream);
}

// A DATA frame carrying one empty gRPC message (its 5-byte prefix).
std::string EmptyMessage(uint32_t stream, bool end_stream) {
  return Frame(kData, end_stream ? kEndStream : 0, std::string(5, '\0'), stream);
}

// A DATA frame ending `stream`: a SimpleRequest asking for `response_size` bytes (field 2).
std::string SizedRequest(uint32_t stream, uint32_t response_size) {
  std::string message(1, '\x10');
  for (uint32_t v = response_size;; v >>= 7) {
    message.push_back(static_cast<char>(v < 0x80 ? v : (v & 0x7f) | 0x80));
    if (v < 0x80) break;
  }
  std::string prefix(4, '\0');
  prefix.push_back(static_cast<char>(message.size()));
  return Frame(kData, kEndStream, prefix + message, stream);
}

// A connection: a blocking socket, with TLS on it or not.
struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
};

bool WriteAll(const Conn& c, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = c.ssl ? SSL_write(c.ssl, s.data() + off, static_cast<int>(s.size() - off))
                            : write(c.fd, s.data() + off, s.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(const Conn& c, char* buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    const ssize_t n = c.ssl ? SSL_read(c.ssl, buf + off, static_cast<int>(len - off))
                            : read(c.fd, buf + off, len - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads frames until one of `type` on `stream` whose `flag` is set (set_ == true) or clear;
// any flags if `flag` is 0. Answers the server's SETTINGS; a GOAWAY or RST_STREAM fails.
bool ReadUntil(const Conn& c, uint8_t type, uint8_t flag, bool set, uint32_t stream) {
  for (;;) {
    char h[9];
    if (!ReadAll(c, h, 9)) return false;
    const uint32_t len = (static_cast<uint8_t>(h[0]) << 16) | (static_cast<uint8_t>(h[1]) << 8) |
                         static_cast<uint8_t>(h[2]);
    const uint8_t t = static_cast<uint8_t>(h[3]), flags = static_cast<uint8_t>(h[4]);
    std::vector<char> payload(len);
    if (len > 0 && !ReadAll(c, payload.data(), len)) return false;
    const uint32_t id = (static_cast<uint32_t>(static_cast<uint8_t>(h[5]) & 0x7f) << 24) |
                        (static_cast<uint8_t>(h[6]) << 16) | (static_cast<uint8_t>(h[7]) << 8) |
                        static_cast<uint8_t>(h[8]);
    if (t == kGoaway || t == kRstStream) return false;
    if (t == kSettings && !(flags & kAck)) {
      if (!WriteAll(c, Frame(kSettings, kAck, ""))) return false;
    }
    if (t == type && id == stream && (flag == 0 || ((flags & flag) != 0) == set)) return true;
  }
}

// The same for frames on stream 0 with (or without) ACK: SETTINGS, PING.
bool ReadUntil(const Conn& c, uint8_t type, bool ack) { return ReadUntil(c, type, kAck, ack, 0); }

}  // namespace

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
  // SETTINGS_MAX_FRAME_SIZE (0x5) = 1 MiB when active.
  const std::string hello = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24) +
                            Frame(kSettings, 0, active ? std::string("\0\x05\0\x10\0\0", 6) : "");
  const std::string unary =
      CallHeaders(1, "/grpc.testing.BenchmarkService/UnaryCall") +
      (response_size > 0 ? SizedRequest(1, response_size) : EmptyMessage(1, true));
  const std::string streaming =
      CallHeaders(3, "/grpc.testing.BenchmarkService/StreamingCall") + EmptyMessage(3, false);
  std::vector<Conn> conns;
  for (int i = 0; i < n; ++i) {
    Conn conn;
    conn.fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(conn.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (conn.fd < 0 || connect(conn.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
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
        !WriteAll(conn, Frame(kPing, 0, std::string(8, 'p'))) || !ReadUntil(conn, kPing, true)) {
      std::fprintf(stderr, "idle_conns: handshake %d failed\n", i);
      return 1;
    }
    conns.push_back(conn);
  }
  std::printf("ready %d\n", n);
  std::fflush(stdout);
  for (;;) pause();
}
