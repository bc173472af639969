// Node's server 'connection' event, http2.performServerHandshake(), and connect()'s
// createConnection option and listener argument: the ways a connection enters or leaves the
// server and client machinery around a session.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/connect.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/server.h"
#include "transport/testing/run_until.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {
namespace {

std::string Url(const Http2Server& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

TEST(ServerConnectionTest, ConnectionEventComesBeforeTheSessionWithTheTcpSocket) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  std::vector<std::string> order;
  std::string remote;
  uint16_t remote_port = 0;
  server->onConnection([&](Socket& socket) {
    order.push_back("connection");
    remote = socket.remoteAddress();
    remote_port = socket.remotePort();
  });
  server->onSession([&](std::shared_ptr<ServerHttp2Session>) { order.push_back("session"); });
  auto client = *connect(&loop, Url(*server));
  ASSERT_TRUE(RunUntil(loop, [&] { return order.size() >= 2; }));
  EXPECT_EQ(order, (std::vector<std::string>{"connection", "session"}));
  EXPECT_EQ(remote, "127.0.0.1");
  EXPECT_NE(remote_port, 0);
  client->destroy();
  server->close();
  RunUntil(loop, [&] { return server->sessionCount() == 0; });
}

TEST(ServerConnectionTest, ConnectionListenerThatDestroysTheSocketDropsTheConnection) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  int connections = 0, sessions = 0;
  server->onConnection([&](Socket& socket) {
    ++connections;
    socket.destroy();
  });
  server->onSession([&](std::shared_ptr<ServerHttp2Session>) { ++sessions; });
  auto client = *connect(&loop, Url(*server));
  bool closed = false;
  client->onError([](const absl::Status&) {});
  client->onClose([&] { closed = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return closed; }));
  EXPECT_EQ(connections, 1);
  EXPECT_EQ(sessions, 0);
  EXPECT_EQ(server->sessionCount(), 0u);
  server->close();
}

TEST(ServerConnectionTest, OffRemovesAConnectionListener) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  int connections = 0, sessions = 0;
  ListenerId id = server->onConnection([&](Socket&) { ++connections; });
  server->onSession([&](std::shared_ptr<ServerHttp2Session>) { ++sessions; });
  server->off(id);
  auto client = *connect(&loop, Url(*server));
  ASSERT_TRUE(RunUntil(loop, [&] { return sessions == 1; }));
  EXPECT_EQ(connections, 0);
  client->destroy();
  server->close();
  RunUntil(loop, [&] { return server->sessionCount() == 0; });
}

// A request answered by a session made with performServerHandshake() over `socket`.
void ServeHello(const std::shared_ptr<ServerHttp2Session>& session, std::string* authority) {
  session->onStream([authority](std::shared_ptr<ServerHttp2Stream> stream, const Headers& h,
                                uint8_t) {
    if (authority) *authority = std::string(h.get(":authority").value_or(""));
    (void)stream->respond({{":status", "200"}}, {});
    (void)stream->end("hello");
  });
}

TEST(PerformServerHandshakeTest, ServesAConnectionWithoutAServer) {
  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  auto server = performServerHandshake(&loop, std::move(a));
  ASSERT_TRUE(server.ok()) << server.status();
  ServeHello(*server, nullptr);
  auto client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost:80");
  auto req = *client->request({{":path", "/"}});
  std::string status, body;
  bool ended = false;
  req->onResponse([&](const Headers& h, uint8_t) { status = h.get(":status").value_or(""); });
  req->onData([&](std::string_view d) { body += d; });
  req->onEnd([&] { ended = true; });
  loop.runUntilIdle();
  EXPECT_TRUE(ended);
  EXPECT_EQ(status, "200");
  EXPECT_EQ(body, "hello");
  EXPECT_EQ((*server)->type(), Http2Session::Type::kServer);
}

TEST(PerformServerHandshakeTest, AppliesTheSessionOptions) {
  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  SessionOptions options;
  options.settings.maxConcurrentStreams = 3;
  auto server = *performServerHandshake(&loop, std::move(a), options);
  auto client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost:80");
  loop.runUntilIdle();
  ASSERT_TRUE(client->remoteSettings().maxConcurrentStreams.has_value());
  EXPECT_EQ(*client->remoteSettings().maxConcurrentStreams, 3u);
}

TEST(PerformServerHandshakeTest, RejectsNoSocketAndBadOptions) {
  ManualLoop loop;
  EXPECT_EQ(nodeErrorCode(performServerHandshake(&loop, nullptr).status()),
            "ERR_INVALID_ARG_TYPE");
  auto [a, b] = MemorySocket::pair(&loop);
  SessionOptions bad;
  bad.settings.maxFrameSize = 1;
  EXPECT_FALSE(performServerHandshake(&loop, std::move(a), bad).ok());
}

TEST(ConnectOptionsTest, CreateConnectionSuppliesTheSocket) {
  UvLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  auto server = *performServerHandshake(&loop, std::move(a));
  std::string authority_seen;
  ServeHello(server, &authority_seen);
  auto client_end = std::make_shared<std::unique_ptr<MemorySocket>>(std::move(b));
  std::string host_given;
  uint16_t port_given = 0;
  int calls = 0;
  ConnectOptions options;
  options.createConnection = [&, client_end](const Authority& authority, const ConnectOptions&)
      -> absl::StatusOr<std::unique_ptr<Socket>> {
    ++calls;
    host_given = authority.host;
    port_given = authority.port;
    return std::unique_ptr<Socket>(std::move(*client_end));
  };
  // Nothing listens there: only createConnection's socket can carry the request.
  auto client = connect(&loop, "http://example.test:8080", options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto req = *(*client)->request({{":path", "/"}});
  std::string body;
  bool ended = false;
  req->onData([&](std::string_view d) { body += d; });
  req->onEnd([&] { ended = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return ended; }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(host_given, "example.test");
  EXPECT_EQ(port_given, 8080);
  EXPECT_EQ(authority_seen, "example.test:8080");
  EXPECT_EQ(body, "hello");
  (*client)->destroy();
  server->destroy();
  RunUntil(loop, [] { return false; }, 10);
}

TEST(ConnectOptionsTest, CreateConnectionErrorIsConnectsError) {
  UvLoop loop;
  ConnectOptions options;
  options.createConnection = [](const Authority&, const ConnectOptions&)
      -> absl::StatusOr<std::unique_ptr<Socket>> {
    return absl::UnavailableError("no route");
  };
  auto client = connect(&loop, "http://example.test", options);
  EXPECT_EQ(client.status(), absl::UnavailableError("no route"));
  options.createConnection = [](const Authority&, const ConnectOptions&)
      -> absl::StatusOr<std::unique_ptr<Socket>> { return std::unique_ptr<Socket>(); };
  EXPECT_EQ(nodeErrorCode(connect(&loop, "http://example.test", options).status()),
            "ERR_INVALID_RETURN_VALUE");
}

TEST(ConnectOptionsTest, ListenerRunsOnceAtConnect) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  int calls = 0;
  bool connected_when_called = false;
  std::shared_ptr<ClientHttp2Session> given;
  auto client = *connect(&loop, Url(*server), {}, [&](std::shared_ptr<ClientHttp2Session> s) {
    ++calls;
    connected_when_called = !s->connecting();
    given = s;
  });
  EXPECT_EQ(calls, 0);  // never inside the call
  ASSERT_TRUE(RunUntil(loop, [&] { return calls > 0; }));
  // A full exchange afterwards does not call it again.
  auto req = *client->request({{":path", "/"}});
  bool closed = false;
  req->onClose([&] { closed = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return closed; }));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(connected_when_called);
  EXPECT_EQ(given, client);
  given.reset();
  client->destroy();
  server->close();
  RunUntil(loop, [&] { return server->sessionCount() == 0; });
}

// The address the server saw the client connect from, or the client's error.
struct Outcome {
  std::string remote;
  absl::Status error;
};
Outcome ConnectAndSee(UvLoop& loop, Http2Server& server, std::string_view url,
                      ConnectOptions options) {
  Outcome out;
  ListenerId id = server.onConnection([&](Socket& s) { out.remote = s.remoteAddress(); });
  auto client = connect(&loop, url, std::move(options));
  if (!client.ok()) {
    server.off(id);
    out.error = client.status();
    return out;
  }
  bool done = false;
  (*client)->onConnect([&] { done = true; });
  (*client)->onError([&](const absl::Status& e) {
    out.error = e;
    done = true;
  });
  RunUntil(loop, [&] { return done; });
  (*client)->destroy();
  server.off(id);
  return out;
}

TEST(ConnectOptionsTest, LocalAddressIsBoundBeforeConnecting) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  ConnectOptions options;
  options.localAddress = "127.0.0.2";  // loopback too on Linux, but not the default source
  Outcome out = ConnectAndSee(loop, *server, Url(*server), options);
  EXPECT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(out.remote, "127.0.0.2");
  options.localAddress = "not-an-ip";
  EXPECT_EQ(nodeErrorCode(ConnectAndSee(loop, *server, Url(*server), options).error),
            "ERR_INVALID_IP_ADDRESS");
  // An IPv6 source for an IPv4 destination cannot be bound: the attempt fails at bind.
  options.localAddress = "::1";
  out = ConnectAndSee(loop, *server, Url(*server), options);
  EXPECT_FALSE(out.error.ok());
  EXPECT_EQ(out.error.message(), "bind EINVAL ::1") << out.error;
  server->close();
  RunUntil(loop, [&] { return server->sessionCount() == 0; });
}

TEST(ConnectOptionsTest, FamilyKeepsOnlyThatFamilysAddresses) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  const std::string url = "http://localhost:" + std::to_string(server->port());
  // localhost is ::1 then 127.0.0.1; nothing listens on ::1.
  ConnectOptions options;
  options.lookup = [&loop](const std::string&, uint16_t port, LookupCallback cb) {
    std::vector<SocketAddress> all = {*SocketAddress::fromIp("::1", port),
                                      *SocketAddress::fromIp("127.0.0.1", port)};
    loop.post([cb = std::move(cb), all] { cb(all); });
  };
  EXPECT_TRUE(ConnectAndSee(loop, *server, url, options).error.ok());  // falls to 127.0.0.1
  options.family = 6;
  absl::Status v6 = ConnectAndSee(loop, *server, url, options).error;
  EXPECT_EQ(nodeErrorCode(v6), "ECONNREFUSED") << v6;  // ::1 only
  options.family = 4;
  EXPECT_TRUE(ConnectAndSee(loop, *server, url, options).error.ok());
  options.lookup = [&loop](const std::string&, uint16_t port, LookupCallback cb) {
    std::vector<SocketAddress> v6only = {*SocketAddress::fromIp("::1", port)};
    loop.post([cb = std::move(cb), v6only] { cb(v6only); });
  };
  EXPECT_EQ(nodeErrorCode(ConnectAndSee(loop, *server, url, options).error), "ENOTFOUND");
  options.family = 5;
  EXPECT_EQ(nodeErrorCode(ConnectAndSee(loop, *server, url, options).error),
            "ERR_INVALID_ARG_VALUE");
  server->close();
  RunUntil(loop, [&] { return server->sessionCount() == 0; });
}

TEST(ConnectOptionsTest, ProtocolOptionGivesTheSchemeOfAnAuthorityWithoutOne) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  std::string scheme_seen;
  server->onStream([&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h, uint8_t) {
    scheme_seen = std::string(h.get(":scheme").value_or(""));
    (void)s->respond({{":status", "204"}}, {});
  });
  ConnectOptions options;
  options.protocol = "http:";
  auto client = connect(&loop, Authority{.scheme = "", .host = "127.0.0.1", .port = server->port()}, options);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_FALSE((*client)->encrypted());
  auto req = *(*client)->request({});
  bool closed = false;
  req->onClose([&] { closed = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return closed; }));
  EXPECT_EQ(scheme_seen, "http");
  (*client)->destroy();
  options.protocol = "ftp:";
  EXPECT_EQ(nodeErrorMessage(connect(&loop, Authority{.scheme = "", .host = "h", .port = 1}, options).status()),
            "protocol \"ftp:\" is unsupported.");
  // No protocol anywhere: https (Node's default), so the session is a TLS one.
  auto tls = connect(&loop, Authority{.scheme = "", .host = "127.0.0.1", .port = server->port()});
  ASSERT_TRUE(tls.ok());
  EXPECT_TRUE((*tls)->encrypted());
  (*tls)->destroy();
  server->close();
  RunUntil(loop, [&] { return server->sessionCount() == 0; });
}

}  // namespace
}  // namespace h2rpc::transport
