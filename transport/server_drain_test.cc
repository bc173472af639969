// Http2Server::close() and the connections that are not sessions yet: those the kernel has
// queued on the listener, and those in their TLS handshake. Their clients may have sent a
// request already (TLS 1.3 sends it with the client's Finished), so close() must serve them
// rather than reset them. Raw loopback clients drive each step, so the server's loop runs only
// when the test says: nothing depends on timing.
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/server.h"
#include "transport/testing/run_until.h"
#include "transport/tls.h"

namespace h2rpc::transport {
namespace {

// The client preface, an empty SETTINGS and HEADERS GET / on stream 1 (HPACK static indices
// :method GET, :scheme http, :path /; :authority localhost, literal), END_STREAM | END_HEADERS.
std::string Request() {
  std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  bytes += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
  bytes += std::string("\x00\x00\x0e\x01\x05\x00\x00\x00\x01\x82\x86\x84\x41\x09", 14);
  bytes += "localhost";
  return bytes;
}

// True once `bytes` (what the server sent) holds a HEADERS frame on stream 1.
bool HasResponseHeaders(const std::string& bytes) {
  size_t at = 0;
  while (bytes.size() - at >= 9) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const size_t length = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
    const uint32_t stream = ((p[5] & 0x7fu) << 24) | (p[6] << 16) | (p[7] << 8) | p[8];
    if (p[3] == 0x01 && stream == 1) return true;
    at += 9 + length;
  }
  return false;
}

// A blocking connect to 127.0.0.1:port: it completes in the kernel (the listener's queue),
// whether or not the server's loop has accepted it. Non-blocking afterwards.
int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Runs the loop until `done`, waiting (poll) for the loop or the raw clients' sockets `fds` —
// which the loop does not watch, so uv_run(UV_RUN_ONCE) could block with their data unread.
// Bounded: 300 waits of at most 100 ms.
template <typename F>
bool RunWithClients(UvLoop& loop, const std::vector<int>& fds, F done) {
  for (int i = 0; i < 300 && !done(); ++i) {
    std::vector<pollfd> polled = {{uv_backend_fd(loop.uv()), POLLIN, 0}};
    for (int fd : fds) polled.push_back({fd, POLLIN, 0});
    const int loop_timeout = uv_backend_timeout(loop.uv());
    const int timeout = loop_timeout < 0 || loop_timeout > 100 ? 100 : loop_timeout;
    ::poll(polled.data(), polled.size(), timeout);
    uv_run(loop.uv(), UV_RUN_NOWAIT);
  }
  return done();
}

void RespondOk(Http2Server& server) {
  server.onStream([](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    (void)s->respond({{":status", "200"}});
    (void)s->end("ok");
  });
}

// What a raw client read: its bytes, and whether the connection failed (reset) or ended.
struct Read {
  std::string bytes;
  bool reset = false;
  bool eof = false;
  void from(int fd) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n > 0) {
        bytes.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        eof = true;
        return;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) reset = true;
        return;
      }
    }
  }
  bool done() const { return reset || eof || HasResponseHeaders(bytes); }
};

TEST(ServerDrainTest, ConnectionsQueuedForAcceptWhenTheServerClosesAreServed) {
  UvLoop loop;
  ServerOptions options;
  options.sessionIdleTimeout = 0;
  auto server = *Http2Server::createServer(&loop, options);
  RespondOk(*server);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  int sessions = 0;
  server->onSession([&](std::shared_ptr<ServerHttp2Session>) { ++sessions; });
  // The loop has not run since listen(): both connections wait in the kernel's accept queue,
  // each with its request sent.
  int fds[2];
  for (int& fd : fds) {
    fd = Connect(server->port());
    ASSERT_GE(fd, 0);
    const std::string request = Request();
    ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  }
  bool closed = false;
  server->close([&] { closed = true; });
  EXPECT_EQ(sessions, 2);  // accepted by close(), before the listener went
  Read reads[2];
  ASSERT_TRUE(RunWithClients(loop, {fds[0], fds[1]}, [&] {
    for (int i = 0; i < 2; ++i) reads[i].from(fds[i]);
    return reads[0].done() && reads[1].done();
  }));
  for (const Read& r : reads) {
    EXPECT_FALSE(r.reset);
    EXPECT_TRUE(HasResponseHeaders(r.bytes));
  }
  EXPECT_FALSE(closed);  // Node: close() calls back once the sessions have closed
  server->closeAllSessions();
  for (int fd : fds) ::close(fd);
  EXPECT_TRUE(RunWithClients(loop, {}, [&] { return closed; }));
}

// A TLS 1.3 client driven by hand over a non-blocking socket.
struct TlsClient {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  explicit TlsClient(uint16_t port) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    static const unsigned char kAlpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));
    fd = Connect(port);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
  }
  ~TlsClient() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }
  // One step of the handshake: true once it is done on the client's side.
  bool stepHandshake() { return SSL_connect(ssl) == 1; }
  // Reads what is there (decrypted) into `r`.
  void readInto(Read& r) {
    char buf[4096];
    for (;;) {
      const int n = SSL_read(ssl, buf, sizeof(buf));
      if (n > 0) {
        r.bytes.append(buf, static_cast<size_t>(n));
        continue;
      }
      const int err = SSL_get_error(ssl, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
      if (err == SSL_ERROR_ZERO_RETURN) {
        r.eof = true;
      } else {
        r.reset = true;
      }
      ERR_clear_error();
      return;
    }
  }
};

std::unique_ptr<Http2Server> SecureServer(UvLoop& loop, uint64_t handshake_timeout) {
  TlsOptions tls;
  tls.certFile = "tests/testdata/tls/server.pem";
  tls.keyFile = "tests/testdata/tls/server.key";
  ServerOptions options;
  options.handshakeTimeout = handshake_timeout;
  options.sessionIdleTimeout = 0;
  auto server = Http2Server::createSecureServer(&loop, tls, options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(ServerDrainTest, TlsHandshakeInProgressWhenTheServerClosesFinishesAndIsServed) {
  UvLoop loop;
  auto server = SecureServer(loop, /*handshake_timeout=*/0);
  ASSERT_NE(server, nullptr);
  RespondOk(*server);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  int sessions = 0;
  server->onSession([&](std::shared_ptr<ServerHttp2Session>) { ++sessions; });
  TlsClient client(server->port());
  ASSERT_GE(client.fd, 0);
  // Until the client is done: its Finished, and then its request, are sent but the server has
  // not read them (its loop does not run between the client's last step and close()).
  ASSERT_TRUE(RunWithClients(loop, {client.fd}, [&] { return client.stepHandshake(); }));
  const std::string request = Request();
  ASSERT_EQ(SSL_write(client.ssl, request.data(), static_cast<int>(request.size())),
            static_cast<int>(request.size()));
  ASSERT_EQ(sessions, 0);
  bool closed = false;
  server->close([&] { closed = true; });
  Read read;
  ASSERT_TRUE(RunWithClients(loop, {client.fd}, [&] {
    client.readInto(read);
    return read.done();
  }));
  EXPECT_FALSE(read.reset);
  EXPECT_TRUE(HasResponseHeaders(read.bytes));
  EXPECT_EQ(sessions, 1);
  EXPECT_FALSE(closed);
  server->closeAllSessions();
  EXPECT_TRUE(RunWithClients(loop, {}, [&] { return closed; }));
}

TEST(ServerDrainTest, ClosePendingConnectionsDropsAHandshakeAndCloseCallsBack) {
  UvLoop loop;
  auto server = SecureServer(loop, /*handshake_timeout=*/0);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  bool connected = false;
  server->onConnection([&](Socket&) { connected = true; });
  const int fd = Connect(server->port());  // sends nothing: its handshake never ends
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(RunWithClients(loop, {}, [&] { return connected; }));
  bool closed = false;
  server->close([&] { closed = true; });
  // close() waits for the handshake (there is no handshakeTimeout here)...
  for (int i = 0; i < 20; ++i) uv_run(loop.uv(), UV_RUN_NOWAIT);
  EXPECT_FALSE(closed);
  // ...until the end of a shutdown's grace drops it.
  server->closePendingConnections();
  EXPECT_TRUE(RunWithClients(loop, {}, [&] { return closed; }));
  Read read;
  EXPECT_TRUE(RunWithClients(loop, {fd}, [&] {
    read.from(fd);
    return read.eof || read.reset;
  }));
  ::close(fd);
}

}  // namespace
}  // namespace h2rpc::transport
