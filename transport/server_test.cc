// Http2Server and connect() over loopback TCP on a libuv loop: the server-level API (timeouts,
// updateSettings, sessionError, close), ref/unref, and authority parsing.
#include "transport/server.h"

#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "transport/connect.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/testing/run_until.h"
#include "transport/tls.h"
#include "transport/tls_socket.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {
namespace {

std::string Url(const Http2Server& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

TEST(ServerTest, SessionTimeoutWithListenerEmitsTimeout) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  int timeouts = 0;
  server->setTimeout(30, [&](std::shared_ptr<ServerHttp2Session> s) {
    ++timeouts;
    s->close();
  });
  auto client = *connect(&loop, Url(*server));
  bool closed = false;
  client->onClose([&] { closed = true; });
  EXPECT_TRUE(RunUntil(loop, [&] { return closed; }));  // idle: timeout → close → GOAWAY
  EXPECT_EQ(timeouts, 1);
  server->close();
}

TEST(ServerTest, SessionTimeoutWithoutListenerDestroysTheSession) {
  UvLoop loop;
  ServerOptions options;
  options.timeout = 30;
  auto server = *Http2Server::createServer(&loop, options);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  auto client = *connect(&loop, Url(*server));
  bool closed = false;
  client->onClose([&] { closed = true; });
  EXPECT_TRUE(RunUntil(loop, [&] { return closed; }));
  EXPECT_EQ(server->sessionCount(), 0u);
  server->close();
}

TEST(ServerTest, UpdateSettingsAppliesToNewSessions) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  Settings update;
  update.maxConcurrentStreams = 7;
  ASSERT_TRUE(server->updateSettings(update).ok());
  Settings bad;
  bad.maxFrameSize = 1;
  EXPECT_EQ(nodeErrorCode(server->updateSettings(bad)), "ERR_HTTP2_INVALID_SETTING_VALUE");
  auto client = *connect(&loop, Url(*server));
  std::optional<Settings> remote;
  client->onRemoteSettings([&](const Settings& s) { remote = s; });
  ASSERT_TRUE(RunUntil(loop, [&] { return remote.has_value(); }));
  EXPECT_EQ(remote->maxConcurrentStreams, 7u);
  client->close();
  server->close();
  RunUntil(loop, [&] { return server->sessionCount() == 0; });
}

TEST(ServerTest, SessionErrorIsReported) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  std::string error;
  server->onSessionError([&](const absl::Status& e, std::shared_ptr<ServerHttp2Session>) {
    error = nodeErrorCode(e);
  });
  // Not HTTP/2: a bad client preface.
  auto raw = UvSocket::connect(&loop, "127.0.0.1", server->port());
  struct Quiet : Socket::Handler {
    void onSocketConnect() override { connected = true; }
    void onSocketData(std::string_view) override {}
    void onSocketDrain() override {}
    void onSocketClose(absl::Status) override { closed = true; }
    bool connected = false, closed = false;
  } handler;
  raw->setHandler(&handler);
  ASSERT_TRUE(RunUntil(loop, [&] { return handler.connected; }));
  raw->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(RunUntil(loop, [&] { return !error.empty() && handler.closed; }));
  EXPECT_EQ(error, "ERR_HTTP2_ERROR");
  raw->setHandler(nullptr);
  server->close();
}

TEST(ServerTest, CloseCallsBackOnceSessionsHaveClosed) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  auto client = *connect(&loop, Url(*server));
  ASSERT_TRUE(RunUntil(loop, [&] { return server->sessionCount() == 1; }));
  bool closed = false;
  server->close([&] { closed = true; });
  EXPECT_FALSE(server->listening());
  for (int i = 0; i < 20; ++i) uv_run(loop.uv(), UV_RUN_NOWAIT);
  EXPECT_FALSE(closed);  // a session is still open (Node: close() does not end sessions)
  server->closeAllSessions();
  EXPECT_TRUE(RunUntil(loop, [&] { return closed; }));
}

TEST(ServerTest, ListenOnABusyPortFails) {
  UvLoop loop;
  auto a = *Http2Server::createServer(&loop);
  ASSERT_TRUE(a->listen(0, "127.0.0.1").ok());
  auto b = *Http2Server::createServer(&loop);
  absl::Status st = b->listen(a->port(), "127.0.0.1");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find("EADDRINUSE"), std::string::npos) << st;
  a->close();
}

// ListenOptions.reusePort: N servers (one per loop and thread in a real program) share a port and
// the kernel spreads the connections over them.
TEST(ServerTest, ReusePortLetsServersShareAPortAndSpreadsConnections) {
  UvLoop loop;
  auto a = *Http2Server::createServer(&loop);
  ASSERT_TRUE(a->listen(0, "127.0.0.1", {.reusePort = true}).ok());
  auto b = *Http2Server::createServer(&loop);
  ASSERT_TRUE(b->listen(a->port(), "127.0.0.1", {.reusePort = true}).ok());
  // Every socket on the port must ask for it.
  auto c = *Http2Server::createServer(&loop);
  EXPECT_NE(std::string(c->listen(a->port(), "127.0.0.1").message()).find("EADDRINUSE"), std::string::npos);
  // 64 connections from 64 source ports: the kernel's 4-tuple hash gives both servers some
  // (all on one would happen with probability 2^-63).
  int served_a = 0, served_b = 0, answered = 0;
  auto respond = [](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    (void)s->respond({{":status", "200"}}, {.endStream = true});
  };
  a->onStream([&](auto s, const Headers& h, uint8_t f) { ++served_a; respond(s, h, f); });
  b->onStream([&](auto s, const Headers& h, uint8_t f) { ++served_b; respond(s, h, f); });
  std::vector<std::shared_ptr<ClientHttp2Session>> clients;
  for (int i = 0; i < 64; ++i) {
    clients.push_back(*connect(&loop, Url(*a)));
    auto req = clients.back()->request({{":path", "/"}}, {.endStream = true});
    ASSERT_TRUE(req.ok()) << req.status();
    (*req)->onResponse([&](const Headers&, uint8_t) { ++answered; });
  }
  ASSERT_TRUE(RunUntil(loop, [&] { return answered == 64; }));
  EXPECT_EQ(served_a + served_b, 64);
  EXPECT_GT(served_a, 0);
  EXPECT_GT(served_b, 0);
  for (auto& client : clients) client->close();
  a->close();
  b->close();
  RunUntil(loop, [&] { return a->sessionCount() == 0 && b->sessionCount() == 0; });
}

TEST(ServerTest, UnrefLetsTheLoopEndWithTheConnectionOpen) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  std::shared_ptr<ServerHttp2Session> server_session;
  server->onSession([&](std::shared_ptr<ServerHttp2Session> s) { server_session = s; });
  auto client = *connect(&loop, Url(*server));
  bool connected = false;
  client->onConnect([&] { connected = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return connected && server_session != nullptr; }));
  server->close();  // no listener any more; the connection stays open
  client->unref();
  server_session->unref();
  // If unref() did not work, this unreferenced guard would be what ends the loop.
  bool guard_fired = false;
  auto guard = loop.createTimer();
  guard->start(5000, [&] {
    guard_fired = true;
    loop.stop();
  });
  guard->unref();
  loop.run();  // returns at once: nothing referenced is left
  EXPECT_FALSE(guard_fired);
  EXPECT_FALSE(client->destroyed());  // the connection is still there
  EXPECT_FALSE(server_session->destroyed());
  client->ref();
  client->close();
  server_session->close();
  RunUntil(loop, [&] { return client->destroyed() && server_session->destroyed(); });
}

TEST(ServerTest, ConnectRefusedReportsTheError) {
  UvLoop loop;
  auto client = *connect(&loop, "http://127.0.0.1:1");
  std::string error;
  client->onError([&](const absl::Status& e) { error = std::string(e.message()); });
  bool closed = false;
  client->onClose([&] { closed = true; });
  EXPECT_TRUE(RunUntil(loop, [&] { return closed; }));
  EXPECT_NE(error.find("ECONNREFUSED"), std::string::npos) << error;
}

// A TCP client that sends what it is told and records when the server hangs up.
struct RawClient : Socket::Handler {
  RawClient(UvLoop* loop, uint16_t port) : socket(UvSocket::connect(loop, "127.0.0.1", port)) {
    socket->setHandler(this);
  }
  ~RawClient() override {
    if (socket) socket->setHandler(nullptr);
  }
  void onSocketConnect() override { connected = true; }
  void onSocketData(std::string_view) override {}
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { closed = true; }
  std::unique_ptr<UvSocket> socket;
  bool connected = false;
  bool closed = false;
};

TEST(ServerTest, ConnectionWithoutPrefaceIsDroppedAfterHandshakeTimeout) {
  UvLoop loop;
  ServerOptions options;
  options.handshakeTimeout = 150;
  options.sessionIdleTimeout = 0;
  auto server = *Http2Server::createServer(&loop, options);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  std::string error;
  server->onSessionError([&](const absl::Status& e, std::shared_ptr<ServerHttp2Session>) {
    error = std::string(nodeErrorCode(e));
  });
  RawClient silent(&loop, server->port());
  ASSERT_TRUE(RunUntil(loop, [&] { return silent.connected && server->sessionCount() == 1; }));
  const uint64_t start = loop.now();
  ASSERT_TRUE(RunUntil(loop, [&] { return silent.closed; }));
  EXPECT_GE(loop.now() - start, 100u);  // not before the deadline (less what accepting took)
  EXPECT_EQ(error, "ERR_HTTP2_HANDSHAKE_TIMEOUT");
  EXPECT_TRUE(RunUntil(loop, [&] { return server->sessionCount() == 0; }));
  server->close();
}

TEST(ServerTest, TrickledPrefaceIsCutAtTheHandshakeDeadline) {
  UvLoop loop;
  ServerOptions options;
  options.handshakeTimeout = 200;
  options.sessionIdleTimeout = 0;
  auto server = *Http2Server::createServer(&loop, options);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  RawClient slow(&loop, server->port());
  ASSERT_TRUE(RunUntil(loop, [&] { return slow.connected; }));
  const uint64_t start = loop.now();
  // One byte of the preface (and SETTINGS) every 20 ms: 33 bytes would take 660 ms.
  const std::string hello = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                            std::string("\0\0\0\x04\0\0\0\0\0", 9);
  size_t sent = 0;
  auto timer = loop.createTimer();
  std::function<void()> drip = [&] {
    if (slow.closed || sent == hello.size()) return;
    slow.socket->write(hello.substr(sent++, 1));
    timer->start(20, drip);
  };
  drip();
  ASSERT_TRUE(RunUntil(loop, [&] { return slow.closed; }));
  EXPECT_GE(loop.now() - start, 150u);
  EXPECT_LT(sent, hello.size());  // cut while still trickling
  timer->stop();
  server->close();
}

TEST(ServerTest, TlsHandshakeCountsAgainstHandshakeTimeout) {
  UvLoop loop;
  TlsOptions tls;
  tls.certFile = "tests/testdata/tls/server.pem";
  tls.keyFile = "tests/testdata/tls/server.key";
  ServerOptions options;
  options.handshakeTimeout = 150;
  auto server = *Http2Server::createSecureServer(&loop, tls, options);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  RawClient silent(&loop, server->port());  // never sends a ClientHello
  ASSERT_TRUE(RunUntil(loop, [&] { return silent.connected; }));
  const uint64_t start = loop.now();
  ASSERT_TRUE(RunUntil(loop, [&] { return silent.closed; }));
  EXPECT_GE(loop.now() - start, 100u);
  EXPECT_EQ(server->sessionCount(), 0u);  // it never became a session
  server->close();
}

TEST(ServerTest, TlsClientThatSendsNoPrefaceIsCutAtTheSameDeadline) {
  UvLoop loop;
  TlsOptions tls;
  tls.certFile = "tests/testdata/tls/server.pem";
  tls.keyFile = "tests/testdata/tls/server.key";
  ServerOptions options;
  options.handshakeTimeout = 200;
  options.sessionIdleTimeout = 0;
  auto server = *Http2Server::createSecureServer(&loop, tls, options);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  std::string error;
  server->onSessionError([&](const absl::Status& e, std::shared_ptr<ServerHttp2Session>) {
    error = std::string(nodeErrorCode(e));
  });
  // A TLS client that negotiates h2, then says nothing: it becomes a session, and the deadline
  // (from accept, the TLS handshake included) still holds.
  TlsOptions client_tls;
  client_tls.caFile = "tests/testdata/tls/ca.pem";
  client_tls.servername = "localhost";
  auto ctx = TlsContext::createClient(client_tls);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  struct Handler : Socket::Handler {
    void onSocketConnect() override { connected = true; }
    void onSocketData(std::string_view) override {}
    void onSocketDrain() override {}
    void onSocketClose(absl::Status) override { closed = true; }
    bool connected = false, closed = false;
  } handler;
  const uint64_t start = loop.now();
  auto client = TlsSocket::create(&loop, UvSocket::connect(&loop, "127.0.0.1", server->port()),
                                  *ctx, /*isServer=*/false);
  ASSERT_TRUE(client.ok()) << client.status();
  (*client)->setHandler(&handler);
  ASSERT_TRUE(RunUntil(loop, [&] { return handler.connected; }));
  EXPECT_EQ((*client)->alpnProtocol(), "h2");
  ASSERT_TRUE(RunUntil(loop, [&] { return server->sessionCount() == 1 || handler.closed; }));
  ASSERT_TRUE(RunUntil(loop, [&] { return handler.closed; }));
  EXPECT_GE(loop.now() - start, 150u);
  EXPECT_EQ(error, "ERR_HTTP2_HANDSHAKE_TIMEOUT");
  (*client)->setHandler(nullptr);
  server->close();
}

TEST(ServerTest, HandshakeTimeoutSparesARealClient) {
  UvLoop loop;
  ServerOptions options;
  options.handshakeTimeout = 50;
  options.sessionIdleTimeout = 0;
  auto server = *Http2Server::createServer(&loop, options);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  auto client = *connect(&loop, Url(*server));
  bool connected = false;
  client->onConnect([&] { connected = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return connected && server->sessionCount() == 1; }));
  // Well past the deadline: the connection is still there and serves a request.
  bool waited = false;
  auto timer = loop.createTimer();
  timer->start(200, [&] { waited = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return waited; }));
  EXPECT_FALSE(client->closed());
  server->onStream([](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    (void)s->respond({{":status", "204"}}, {.endStream = true});
  });
  auto req = client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  bool answered = false;
  (*req)->onResponse([&](const Headers&, uint8_t) { answered = true; });
  EXPECT_TRUE(RunUntil(loop, [&] { return answered; }));
  client->close();
  server->close();
  RunUntil(loop, [&] { return server->sessionCount() == 0; });
}

TEST(ServerTest, IdleSessionGetsGoawayAndCloses) {
  UvLoop loop;
  ServerOptions options;
  options.sessionIdleTimeout = 100;
  auto server = *Http2Server::createServer(&loop, options);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  auto client = *connect(&loop, Url(*server));
  std::vector<uint32_t> goaways;
  client->onGoaway([&](uint32_t code, int32_t, std::string_view) { goaways.push_back(code); });
  bool closed = false;
  client->onClose([&] { closed = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return closed; }));
  ASSERT_FALSE(goaways.empty());
  EXPECT_EQ(goaways[0], constants::NGHTTP2_NO_ERROR);
  EXPECT_TRUE(RunUntil(loop, [&] { return server->sessionCount() == 0; }));
  server->close();
}

TEST(ServerTest, ParseAuthority) {
  auto a = parseAuthority("http://example.com:8080/path");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->scheme, "http");
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 8080);
  auto b = parseAuthority("https://[::1]");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 443);
  EXPECT_EQ(b->hostPort(), "[::1]:443");
  EXPECT_EQ(parseAuthority("http://h")->port, 80);
  for (const char* bad : {"http://", "http://x:0", "http://x:70000", "http://[::1",
                          "http://::1]:50051", "http://a:b:80", "http://a[b", "http://[a[b]:80"}) {
    EXPECT_EQ(nodeErrorCode(parseAuthority(bad).status()), "ERR_INVALID_URL") << bad;
  }
  // As Node's connect(): a scheme other than http/https ("x:80" has the scheme "x").
  for (const char* other : {"ftp://x", "x:80"}) {
    EXPECT_EQ(nodeErrorCode(parseAuthority(other).status()), "ERR_HTTP2_UNSUPPORTED_PROTOCOL")
        << other;
  }
  // WHATWG host parsing, as Node's `new URL()` (connect_node_oracle_test compares many more).
  EXPECT_EQ(parseAuthority("HTTP://User@LocalHost:08080/p")->hostPort(), "localhost:8080");
  EXPECT_EQ(parseAuthority("http://127.1")->host, "127.0.0.1");
  EXPECT_EQ(parseAuthority("http:\\\\[0:0::1]")->hostPort(), "[::1]:80");
  // The default :authority keeps the port, even the scheme's default (Node: host:port).
  EXPECT_EQ(defaultAuthority(*parseAuthority("http://h")), "h:80");
  EXPECT_EQ(defaultAuthority(*parseAuthority("https://h")), "h:443");
  EXPECT_EQ(defaultAuthority(*parseAuthority("https://h:8443"), "name.example"), "name.example:8443");
}

}  // namespace
}  // namespace h2rpc::transport
