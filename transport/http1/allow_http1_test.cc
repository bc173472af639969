// allowHTTP1 on a real cleartext Http2Server (loopback TCP, libuv): one port serves HTTP/2
// (prior knowledge, told by its client preface) and HTTP/1.1 through the same 'request'
// listener; a connection that sends nothing is dropped after handshakeTimeout.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/compat/compat_server.h"
#include "transport/connect.h"
#include "transport/http1/http1_server.h"
#include "transport/server.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {
namespace {

using ::testing::HasSubstr;

template <typename F>
bool RunUntil(UvLoop& loop, F done, int max_iterations = 20000) {
  for (int i = 0; i < max_iterations && !done(); ++i) uv_run(loop.uv(), UV_RUN_ONCE);
  return done();
}

struct Raw : Socket::Handler {
  void onSocketConnect() override { connected = true; }
  void onSocketData(std::string_view d) override { received += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { closed = true; }
  std::string received;
  bool connected = false, closed = false;
};

struct AllowHttp1 {
  explicit AllowHttp1(ServerOptions options = {}) {
    options.allowHTTP1 = true;
    server = *Http2Server::createServer(&loop, options);
    events = RequestEvents::attach(*server);
    events->onRequest([this](std::shared_ptr<Http2ServerRequest> req,
                             std::shared_ptr<Http2ServerResponse> res) {
      versions.push_back(req->httpVersion());
      res->end("v" + req->httpVersion() + " " + req->url());
    });
    http1 = Http1Server::attach(*server, events);
    EXPECT_TRUE(server->listen(0, "127.0.0.1").ok());
  }
  ~AllowHttp1() {
    server->close();
    server->closeAllSessions();
    http1->closeAll();
    RunUntil(loop, [&] { return server->sessionCount() == 0 && http1->connectionCount() == 0; });
  }
  UvLoop loop;
  std::unique_ptr<Http2Server> server;
  std::shared_ptr<RequestEvents> events;
  std::shared_ptr<Http1Server> http1;
  std::vector<std::string> versions;
};

TEST(AllowHttp1Test, Http2AndHttp1OnOnePort) {
  AllowHttp1 s;
  // HTTP/2 with prior knowledge: the preface sends it to an HTTP/2 session.
  auto client = *connect(&s.loop, "http://127.0.0.1:" + std::to_string(s.server->port()));
  auto req = *client->request({{":path", "/two"}});
  std::string body;
  bool ended = false;
  req->onData([&](std::string_view d) { body += d; });
  req->onEnd([&] { ended = true; });
  ASSERT_TRUE(RunUntil(s.loop, [&] { return ended; }));
  EXPECT_EQ(body, "v2.0 /two");
  client->close();

  // HTTP/1.1: anything else goes to the HTTP/1 hook.
  Raw raw;
  auto socket = UvSocket::connect(&s.loop, "127.0.0.1", s.server->port());
  socket->setHandler(&raw);
  socket->write("GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(RunUntil(s.loop, [&] { return raw.received.ends_with("v1.1 /one\r\n0\r\n\r\n"); }))
      << raw.received;
  EXPECT_THAT(raw.received, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(s.http1->connectionCount(), 1u);
  EXPECT_THAT(s.versions, ::testing::ElementsAre("2.0", "1.1"));
  socket->setHandler(nullptr);
}

TEST(AllowHttp1Test, WithoutAllowHttp1TheHookIsNotUsed) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);  // allowHTTP1 false
  auto events = RequestEvents::attach(*server);
  int requests = 0;
  events->onRequest([&](std::shared_ptr<Http2ServerRequest>,
                        std::shared_ptr<Http2ServerResponse> res) {
    ++requests;
    res->end();
  });
  auto http1 = Http1Server::attach(*server, events);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  Raw raw;
  auto socket = UvSocket::connect(&loop, "127.0.0.1", server->port());
  socket->setHandler(&raw);
  socket->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(RunUntil(loop, [&] { return raw.closed; }));  // a bad HTTP/2 preface, as before
  EXPECT_THAT(raw.received, ::testing::Not(HasSubstr("HTTP/1.1")));
  EXPECT_EQ(requests, 0);
  EXPECT_EQ(http1->connectionCount(), 0u);
  socket->setHandler(nullptr);
  server->close();
}

TEST(AllowHttp1Test, SilentConnectionIsDroppedAfterHandshakeTimeout) {
  ServerOptions options;
  options.handshakeTimeout = 50;
  AllowHttp1 s(options);
  Raw raw;
  auto socket = UvSocket::connect(&s.loop, "127.0.0.1", s.server->port());
  socket->setHandler(&raw);
  ASSERT_TRUE(RunUntil(s.loop, [&] { return raw.connected; }));
  socket->write("PRI * HTTP/2.0\r\n");  // a preface that never completes
  EXPECT_TRUE(RunUntil(s.loop, [&] { return raw.closed; }));
  EXPECT_TRUE(s.versions.empty());
  socket->setHandler(nullptr);
}

}  // namespace
}  // namespace h2rpc::transport
