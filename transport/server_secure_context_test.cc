// Http2Server::setSecureContext() (Node's server.setSecureContext()): certificate rotation
// without a restart, over loopback TLS. New connections get the new certificate; one made before
// keeps its own and goes on working.
#include <memory>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "transport/server.h"
#include "transport/testing/run_until.h"
#include "transport/tls_socket.h"
#include "transport/uv_loop.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {
namespace {

TlsOptions ServerTls(const std::string& name) {
  TlsOptions tls;
  tls.certFile = "tests/testdata/tls/" + name + ".pem";
  tls.keyFile = "tests/testdata/tls/" + name + ".key";
  return tls;
}

// A TLS client connection to the server, with what its handler saw.
struct Client : Socket::Handler {
  Client(UvLoop* loop, uint16_t port, const TlsOptions& options = {}) {
    TlsOptions o = options;
    o.caFile = "tests/testdata/tls/ca.pem";
    o.servername = "localhost";
    auto ctx = TlsContext::createClient(o);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    auto s = TlsSocket::create(loop, UvSocket::connect(loop, "127.0.0.1", port), *ctx, false);
    EXPECT_TRUE(s.ok()) << s.status();
    socket = std::move(*s);
    socket->setHandler(this);
  }
  ~Client() override {
    if (socket) socket->destroy();
  }
  void onSocketConnect() override { connected = true; }
  void onSocketData(std::string_view data) override { received.append(data); }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status s) override {
    closed = true;
    status = s;
  }
  std::string serial() const {
    auto cert = socket->getPeerCertificate();
    return cert ? cert->serialNumber : "";
  }
  std::unique_ptr<TlsSocket> socket;
  bool connected = false, closed = false;
  absl::Status status;
  std::string received;
};

// The HTTP/2 connection preface and an empty SETTINGS: the server answers with its SETTINGS.
const std::string kPreface = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                             std::string("\0\0\0\x04\0\0\0\0\0", 9);

TEST(SecureContextTest, NewConnectionsGetTheNewCertificateOldOnesKeepTheirs) {
  UvLoop loop;
  ServerOptions options;
  options.handshakeTimeout = 0;
  options.sessionIdleTimeout = 0;
  auto server = *Http2Server::createSecureServer(&loop, ServerTls("server"), options);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  Client before(&loop, server->port());
  ASSERT_TRUE(RunUntil(loop, [&] { return before.connected || before.closed; }));
  ASSERT_TRUE(before.connected) << before.status;
  EXPECT_EQ(before.serial(), "02");  // server.pem

  ASSERT_TRUE(server->setSecureContext(ServerTls("server2")).ok());
  Client after(&loop, server->port());
  ASSERT_TRUE(RunUntil(loop, [&] { return after.connected || after.closed; }));
  ASSERT_TRUE(after.connected) << after.status;
  EXPECT_EQ(after.serial(), "05");  // server2.pem
  EXPECT_EQ(after.socket->getPeerCertificate()->subjectField("O"), "h2rpc tests rotated");

  // The old connection still talks HTTP/2 over its TLS session: the server's SETTINGS come back.
  before.socket->write(kPreface);
  ASSERT_TRUE(RunUntil(loop, [&] { return before.received.size() >= 9 || before.closed; }));
  ASSERT_GE(before.received.size(), 9u) << before.status;
  EXPECT_EQ(before.received[3], '\x04');  // a SETTINGS frame
  EXPECT_FALSE(before.closed);
  before.socket->destroy();
  after.socket->destroy();
  server->close();
  server->closeAllSessions();
  RunUntil(loop, [&] { return server->sessionCount() == 0; });
}

TEST(SecureContextTest, BadOptionsKeepTheCurrentContext) {
  UvLoop loop;
  auto server = *Http2Server::createSecureServer(&loop, ServerTls("server"));
  auto current = server->secureContext();
  TlsOptions bad = ServerTls("server");
  bad.keyFile = "tests/testdata/tls/server2.key";  // not this certificate's key
  absl::Status st = server->setSecureContext(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_EQ(server->secureContext(), current);
  EXPECT_EQ(server->setSecureContext(std::shared_ptr<TlsContext>()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server->secureContext(), current);
  auto cleartext = *Http2Server::createServer(&loop);
  EXPECT_EQ(cleartext->setSecureContext(ServerTls("server")).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SecureContextTest, RequestCertAndAlpnStayTheServers) {
  UvLoop loop;
  TlsOptions tls = ServerTls("server");
  tls.requestCert = true;
  tls.caFile = "tests/testdata/tls/ca.pem";
  auto server = *Http2Server::createSecureServer(&loop, tls);
  TlsOptions rotated = ServerTls("server2");
  rotated.caFile = "tests/testdata/tls/ca.pem";
  rotated.ALPNProtocols = {"http/1.1"};
  ASSERT_TRUE(server->setSecureContext(rotated).ok());
  EXPECT_TRUE(server->secureContext()->options().requestCert);
  EXPECT_TRUE(server->secureContext()->options().rejectUnauthorized);
  EXPECT_EQ(server->secureContext()->options().ALPNProtocols, std::vector<std::string>{"h2"});
  EXPECT_EQ(server->secureContext()->options().certFile, rotated.certFile);
}

}  // namespace
}  // namespace h2rpc::transport
