// A TLS server's 'unknownProtocol' (Node's Http2SecureServer): a client that negotiates no
// application protocol (no ALPN offered, no allowHTTP1) is reported to the listener with what it
// offered and destroyed after unknownProtocolTimeout; without a listener it gets Node's plain-text
// 403 first. Loopback TCP and TLS with the test certificates. A client ignores the option, as
// Node's (sans-I/O).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "transport/server.h"
#include "transport/session.h"
#include "transport/testing/session_pair.h"
#include "transport/testing/run_until.h"
#include "transport/tls.h"
#include "transport/tls_socket.h"
#include "transport/uv_loop.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {
namespace {

struct Client : Socket::Handler {
  void onSocketConnect() override { connected = true; }
  void onSocketData(std::string_view data) override { received.append(data); }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { closed = true; }
  bool connected = false, closed = false;
  std::string received;
};

std::unique_ptr<Http2Server> TlsServer(UvLoop& loop, uint64_t unknown_protocol_timeout) {
  TlsOptions tls;
  tls.certFile = "tests/testdata/tls/server.pem";
  tls.keyFile = "tests/testdata/tls/server.key";
  ServerOptions options;
  options.handshakeTimeout = 0;  // only unknownProtocolTimeout ends the connection
  options.sessionIdleTimeout = 0;
  options.unknownProtocolTimeout = unknown_protocol_timeout;
  auto server = Http2Server::createSecureServer(&loop, tls, options);
  EXPECT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE((*server)->listen(0, "127.0.0.1").ok());
  return std::move(*server);
}

// A TLS client offering no ALPN at all (an HTTP/1 client without allowHTTP1 on the server).
std::unique_ptr<TlsSocket> NoAlpnClient(UvLoop& loop, const Http2Server& server, Client* handler) {
  TlsOptions client_tls;
  client_tls.caFile = "tests/testdata/tls/ca.pem";
  client_tls.servername = "localhost";
  client_tls.ALPNProtocols = {};
  auto ctx = TlsContext::createClient(client_tls);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  auto client = TlsSocket::create(&loop, UvSocket::connect(&loop, "127.0.0.1", server.port()),
                                  *ctx, /*isServer=*/false);
  EXPECT_TRUE(client.ok()) << client.status();
  (*client)->setHandler(handler);
  return std::move(*client);
}

TEST(UnknownProtocolTest, ListenerGetsTheOfferAndTheSocketGoesAfterTheTimeout) {
  UvLoop loop;
  auto server = TlsServer(loop, 150);
  int events = 0;
  std::vector<std::string> offered = {"not called"};
  server->onUnknownProtocol([&](const std::vector<std::string>& protocols) {
    ++events;
    offered = protocols;
  });
  Client handler;
  auto client = NoAlpnClient(loop, *server, &handler);
  ASSERT_TRUE(RunUntil(loop, [&] { return handler.connected; }));
  EXPECT_EQ(client->alpnProtocol(), "");
  ASSERT_TRUE(RunUntil(loop, [&] { return events == 1; }));
  const uint64_t reported_at = loop.now();
  EXPECT_TRUE(offered.empty());
  EXPECT_EQ(server->sessionCount(), 0u);  // no HTTP/2 session for it
  ASSERT_TRUE(RunUntil(loop, [&] { return handler.closed; }));
  EXPECT_GE(loop.now() - reported_at, 100u);  // held until unknownProtocolTimeout
  EXPECT_EQ(handler.received, "");  // a listener answers for itself: no 403
  EXPECT_EQ(events, 1);
  client->setHandler(nullptr);
  server->close();
}

TEST(UnknownProtocolTest, WithoutAListenerNodes403ThenClose) {
  UvLoop loop;
  auto server = TlsServer(loop, 10000);
  Client handler;
  auto client = NoAlpnClient(loop, *server, &handler);
  ASSERT_TRUE(RunUntil(loop, [&] { return handler.closed; }));
  EXPECT_NE(handler.received.find("403"), std::string::npos) << handler.received;
  EXPECT_NE(handler.received.find("Missing ALPN Protocol, expected `h2` to be available"),
            std::string::npos)
      << handler.received;
  client->setHandler(nullptr);
  server->close();
}

}  // namespace
}  // namespace h2rpc::transport

namespace h2rpc::transport {
namespace {

// Node 20's http2.connect() neither checks nor reads options.unknownProtocolTimeout (only a
// server's connectionListener arms that timer, lib/internal/http2/core.js): a client session
// whose socket negotiated no h2 (a MemorySocket has no ALPN at all) outlives the timeout and
// still serves requests.
TEST(UnknownProtocolTest, AClientIgnoresTheOptionAsNode) {
  SessionOptions client_options;
  client_options.unknownProtocolTimeout = 1;
  SessionPair p({}, client_options);
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    (void)s->respond({{":status", "200"}}, {.endStream = true});
  };
  p.run();
  ASSERT_NE(p.client->alpnProtocol(), "h2");
  p.loop.advance(1000);
  p.run();
  EXPECT_FALSE(p.client->closed());
  EXPECT_FALSE(p.client->destroyed());
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  std::string status;
  (*req)->onResponse([&](const Headers& h, uint8_t) { status = h.get(":status").value_or(""); });
  p.run();
  EXPECT_EQ(status, "200");
}

}  // namespace
}  // namespace h2rpc::transport
