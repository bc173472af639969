// Lingering close over real TLS: a server session that ends (here, answering the client's GOAWAY)
// while the client keeps sending must not close with unread input. If it did, the kernel would
// answer with a TCP RST and the client could lose our last frames (h2spec generic/3.8/1 failed
// that way: "connection reset by peer" instead of our GOAWAY, sometimes without our SETTINGS).
//
// The server runs on its own thread and loop (examples' Http2Server over UvSocket + TlsSocket);
// the client is OpenSSL on a blocking socket with receive/send timeouts, so that every wait is
// bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "transport/server.h"
#include "transport/uv_loop.h"

namespace h2rpc::transport {
namespace {

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  const size_t n = payload.size();
  f += static_cast<char>(n >> 16);
  f += static_cast<char>(n >> 8);
  f += static_cast<char>(n);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) f += static_cast<char>(stream >> shift);
  return f + payload;
}

std::string U32(uint32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>(v >> shift);
  return s;
}

struct Frames {
  std::vector<std::pair<uint8_t, uint8_t>> list;  // type, flags
  bool has(uint8_t type, uint8_t flags) const {
    for (const auto& [t, f] : list) {
      if (t == type && f == flags) return true;
    }
    return false;
  }
};

Frames Parse(const std::string& bytes) {
  Frames out;
  size_t pos = 0;
  while (pos + 9 <= bytes.size()) {
    const size_t len = (static_cast<uint8_t>(bytes[pos]) << 16) |
                       (static_cast<uint8_t>(bytes[pos + 1]) << 8) |
                       static_cast<uint8_t>(bytes[pos + 2]);
    out.list.push_back({static_cast<uint8_t>(bytes[pos + 3]), static_cast<uint8_t>(bytes[pos + 4])});
    pos += 9 + len;
  }
  return out;
}

// A TLS server on its own thread; it stops once its first session has closed.
class ServerThread {
 public:
  ServerThread() {
    std::promise<uint16_t> port;
    std::future<uint16_t> got = port.get_future();
    thread_ = std::thread([this, &port] { run(port); });
    port_ = got.wait_for(std::chrono::seconds(30)) == std::future_status::ready ? got.get() : 0;
  }
  ~ServerThread() { thread_.join(); }
  uint16_t port() const { return port_; }

 private:
  void run(std::promise<uint16_t>& port) {
    UvLoop loop;  // default lingering close: 2 s, 1 MiB
    TlsOptions tls;
    tls.certFile = "tests/testdata/tls/server.pem";
    tls.keyFile = "tests/testdata/tls/server.key";
    auto server = Http2Server::createSecureServer(&loop, tls);
    if (!server.ok() || !(*server)->listen(0, "127.0.0.1").ok()) {
      ADD_FAILURE() << "server: " << server.status();
      port.set_value(0);
      return;
    }
    Http2Server* s = server->get();
    s->onSession([s](std::shared_ptr<ServerHttp2Session> session) {
      session->onClose([s] { s->close(); });
    });
    port.set_value(s->port());
    loop.run();  // ends when the server and the lingering socket have closed
  }

  std::thread thread_;
  uint16_t port_ = 0;
};

TEST(LingeringClose, TlsPeerThatKeepsSendingAfterOurGoawayStillReadsIt) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));
  ASSERT_EQ(SSL_CTX_load_verify_locations(ctx, "tests/testdata/tls/ca.pem", nullptr), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);

  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ServerThread server;
    ASSERT_NE(server.port(), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(server.port());
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ASSERT_EQ(SSL_connect(ssl), 1) << ERR_error_string(ERR_get_error(), nullptr);
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    ASSERT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "h2");

    // Preface, SETTINGS, GOAWAY(NO_ERROR), then frames of an unknown type (ignored, §5.5: no
    // answer, no flood limit) that the server will not all read: it ends on the GOAWAY.
    std::string hello = std::string(kPreface) + Frame(0x4, 0, 0, "") +
                        Frame(0x7, 0, 0, U32(0) + U32(0) + "h2rpc");
    ASSERT_EQ(SSL_write(ssl, hello.data(), static_cast<int>(hello.size())),
              static_cast<int>(hello.size()));
    const std::string filler = Frame(0xfa, 0, 0, std::string(4096, 'f'));
    for (int i = 0; i < 64; ++i) {  // 256 KiB; stops at the first write the server refuses
      if (SSL_write(ssl, filler.data(), static_cast<int>(filler.size())) <= 0) break;
    }

    std::string received;
    char buf[16384];
    int last_error = SSL_ERROR_NONE;
    for (;;) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) {
        last_error = SSL_get_error(ssl, n);
        break;
      }
      received.append(buf, static_cast<size_t>(n));
    }
    Frames frames = Parse(received);
    const std::string seen = std::to_string(received.size()) + " bytes, " +
                             std::to_string(frames.list.size()) + " frames, SSL error " +
                             std::to_string(last_error);
    EXPECT_TRUE(frames.has(0x4, 0)) << "no SETTINGS from the server: " << seen;
    EXPECT_TRUE(frames.has(0x7, 0)) << "no GOAWAY from the server: " << seen;
    // The server's close_notify, not a reset (SSL_ERROR_SYSCALL with ECONNRESET).
    EXPECT_EQ(last_error, SSL_ERROR_ZERO_RETURN) << "errno " << errno;
    // Then the TCP connection ends with the server's FIN: our FIN ends its lingering, and it
    // closes with nothing unread. A server that had closed with our bytes unread would have
    // sent a RST instead (ECONNRESET here).
    ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
    char byte;
    errno = 0;
    EXPECT_EQ(recv(fd, &byte, 1, 0), 0) << "TCP RST instead of FIN: " << strerror(errno);
    SSL_free(ssl);
    close(fd);
  }
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace h2rpc::transport
