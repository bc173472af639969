// Http1Connection over a MemorySocket pair and a ManualLoop: raw HTTP/1.1 bytes in, the compat
// API's (req, res) in the handler, raw bytes out.
#include "transport/http1/connection.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/compat/compat_server.h"
#include "transport/errors.h"
#include "transport/http1/http1_server.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"

namespace h2rpc::transport {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ReqPtr = std::shared_ptr<Http2ServerRequest>;
using ResPtr = std::shared_ptr<Http2ServerResponse>;

// The client end: raw bytes.
struct Client : Socket::Handler {
  void onSocketConnect() override {}
  void onSocketData(std::string_view d) override { received += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { closed = true; }
  std::string received;
  bool closed = false;
};

struct Fixture {
  explicit Fixture(Http1Options options = {}) {
    auto [a, b] = MemorySocket::pair(&loop);
    client_socket = std::move(b);
    client_socket->setHandler(&client);
    events = RequestEvents::create();
    events->onRequest([this](ReqPtr req, ResPtr res) {
      reqs.push_back(req);
      if (handler) handler(req, res);
    });
    server = Http1Server::create(&loop, events, options);
    connection = server->serve(std::move(a));
  }
  ~Fixture() { client_socket->setHandler(nullptr); }
  void send(std::string bytes) {
    client_socket->write(std::move(bytes));
    loop.runUntilIdle();
  }

  ManualLoop loop;
  Client client;
  std::unique_ptr<MemorySocket> client_socket;
  std::shared_ptr<RequestEvents> events;
  std::shared_ptr<Http1Server> server;
  std::shared_ptr<Http1Connection> connection;
  std::vector<ReqPtr> reqs;
  std::function<void(ReqPtr, ResPtr)> handler;
};

TEST(Http1ConnectionTest, KeepAliveChunkedAndContentLength) {
  Fixture f;
  f.handler = [](ReqPtr req, ResPtr res) {
    if (req->url() == "/fixed") {
      (void)res->setHeader("content-length", "5");
      res->end("fixed");
    } else {
      res->write("hel");
      res->end("lo");
    }
  };
  f.send("GET /chunked HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n"
         "GET /fixed HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_EQ(f.reqs.size(), 2u);  // pipelined: the second after the first response
  const ReqPtr& req = f.reqs[0];
  EXPECT_EQ(req->method(), "GET");
  EXPECT_EQ(req->url(), "/chunked");
  EXPECT_EQ(req->authority(), "example.com");
  EXPECT_EQ(req->scheme(), "http");
  EXPECT_EQ(req->httpVersion(), "1.1");
  EXPECT_EQ(req->httpVersionMajor(), 1);
  EXPECT_EQ(req->headers().get("user-agent"), "t");
  EXPECT_FALSE(req->headers().has(":method"));  // HTTP/1 headers, as Node's IncomingMessage
  EXPECT_EQ(req->stream(), nullptr);
  const std::string& out = f.client.received;
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(out, HasSubstr("transfer-encoding: chunked\r\n"));
  EXPECT_THAT(out, HasSubstr("\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"));
  EXPECT_THAT(out, HasSubstr("content-length: 5\r\n"));
  EXPECT_THAT(out, HasSubstr("date: "));
  EXPECT_TRUE(out.ends_with("\r\n\r\nfixed")) << out;
  EXPECT_FALSE(f.client.closed);  // keep-alive
  EXPECT_EQ(f.connection->requestsServed(), 2u);
}

TEST(Http1ConnectionTest, ChunkedRequestBodyAndResponseTrailers) {
  Fixture f;
  std::string body;
  f.handler = [&](ReqPtr req, ResPtr res) {
    req->onData([&](std::string_view d) { body += d; });
    req->onEnd([req, res, &body] {
      EXPECT_EQ(req->trailers().get("x-req"), "1");
      (void)res->addTrailers({{"x-sum", "42"}});
      res->end("got " + body);
    });
  };
  f.send("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
         "4\r\nping\r\n0\r\nX-Req: 1\r\n\r\n");
  EXPECT_EQ(body, "ping");
  EXPECT_THAT(f.client.received, HasSubstr("8\r\ngot ping\r\n0\r\nx-sum: 42\r\n\r\n"));
}

TEST(Http1ConnectionTest, ExpectContinue) {
  Fixture f;
  f.handler = [](ReqPtr req, ResPtr res) {
    req->onData([](std::string_view) {});
    req->onEnd([res] { res->end("ok"); });
  };
  f.send("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(f.client.received, "HTTP/1.1 100 Continue\r\n\r\n");
  f.send("hi");
  EXPECT_THAT(f.client.received, HasSubstr("HTTP/1.1 200 OK\r\n"));
}

TEST(Http1ConnectionTest, HeadAnd204HaveNoBody) {
  Fixture f;
  f.handler = [](ReqPtr req, ResPtr res) {
    if (req->url() == "/204") (void)res->setStatusCode(204);
    res->end("body");
  };
  f.send("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_THAT(f.client.received, Not(HasSubstr("body")));
  f.client.received.clear();
  f.send("GET /204 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_THAT(f.client.received, HasSubstr("HTTP/1.1 204 No Content\r\n"));
  EXPECT_THAT(f.client.received, Not(HasSubstr("body")));
  EXPECT_THAT(f.client.received, Not(HasSubstr("transfer-encoding")));
}

TEST(Http1ConnectionTest, ConnectionCloseAndHttp10) {
  Fixture f;
  f.handler = [](ReqPtr, ResPtr res) { res->end("bye"); };
  f.send("GET / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(f.client.received.starts_with("HTTP/1.0 200 OK\r\n")) << f.client.received;
  EXPECT_THAT(f.client.received, HasSubstr("connection: close\r\n"));
  EXPECT_TRUE(f.client.received.ends_with("\r\n\r\nbye"));
  EXPECT_TRUE(f.client.closed);
  Fixture g;
  g.handler = [](ReqPtr, ResPtr res) { res->end(); };
  g.send("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(g.client.received, HasSubstr("content-length: 0\r\nconnection: close\r\n"));
  EXPECT_TRUE(g.client.closed);
}

TEST(Http1ConnectionTest, BadInputGets400431413AndCloses) {
  struct Case {
    std::string bytes;
    std::string status;
  };
  Http1Options options;
  options.parser.maxHeaderSize = 1024;
  options.parser.maxBodySize = 10;
  for (const Case& c : std::vector<Case>{
           {"GARBAGE\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
           {"GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n",
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
           {"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", "HTTP/1.1 413 Payload Too Large\r\n"},
       }) {
    Fixture f(options);
    f.send(c.bytes);
    EXPECT_TRUE(f.client.received.starts_with(c.status)) << f.client.received;
    EXPECT_TRUE(f.client.closed);
    EXPECT_TRUE(f.reqs.empty());
  }
}

TEST(Http1ConnectionTest, IdleTimeoutCloses408OnPartialHead) {
  Fixture f;
  f.loop.advance(4999);
  EXPECT_FALSE(f.client.closed);
  f.loop.advance(1);
  EXPECT_TRUE(f.client.closed);
  EXPECT_EQ(f.client.received, "");
  Fixture g;
  g.send("GET / HTTP/1.1\r\nHo");
  g.loop.advance(5000);
  EXPECT_TRUE(g.client.received.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
  EXPECT_TRUE(g.client.closed);
}

TEST(Http1ConnectionTest, PeerCloseAbortsTheRequest) {
  Fixture f;
  std::vector<std::string> order;
  f.handler = [&](ReqPtr req, ResPtr res) {
    req->onAborted([&] { order.push_back("aborted"); });
    req->onClose([&] { order.push_back("close"); });
    res->onClose([&] { order.push_back("res close"); });
  };
  f.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\npartial");
  f.client_socket->destroy();
  f.loop.runUntilIdle();
  EXPECT_THAT(order, ::testing::ElementsAre("aborted", "close", "res close"));
  EXPECT_EQ(f.server->connectionCount(), 0u);
}

TEST(Http1ConnectionTest, UnreadBodyStopsReading) {
  Http1Options options;
  options.maxBufferedBody = 1000;
  Fixture f(options);
  f.handler = [](ReqPtr, ResPtr) {};  // never reads
  f.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n");
  for (int i = 0; i < 50; ++i) f.send(std::string(1000, 'x'));
  // The server end stopped reading: what it holds stays near the bound; the rest waits in the
  // client's queue (TCP would hold it back).
  EXPECT_GT(f.client_socket->writeQueueSize(), 40000u);
}

// The compat API's HTTP/2-only calls on an HTTP/1.1 exchange.
TEST(Http1ConnectionTest, EarlyHintsAreAnInterimResponse) {
  Fixture f;
  f.handler = [](ReqPtr, ResPtr res) {
    absl::StatusOr<bool> sent = res->writeEarlyHints(
        {{"link", "</a.css>; rel=preload; as=style"}, {"link", "</b.js>; rel=preload"},
         {"x-trace-id", "id-1"}});
    ASSERT_TRUE(sent.ok()) << sent.status();
    EXPECT_TRUE(*sent);
    // Node's HTTP/1 response ignores hints without a link; still checks the format.
    sent = res->writeEarlyHints({{"x-trace-id", "id-2"}});
    ASSERT_TRUE(sent.ok());
    EXPECT_FALSE(*sent);
    EXPECT_EQ(nodeErrorCode(res->writeEarlyHints({{"link", "/a.css"}}).status()),
              "ERR_INVALID_ARG_VALUE");
    (void)res->setHeader("content-length", "2");
    res->end("ok");
  };
  f.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(f.client.received.substr(0, f.client.received.find("HTTP/1.1 200")),
            "HTTP/1.1 103 Early Hints\r\nx-trace-id: id-1\r\n"
            "link: </a.css>; rel=preload; as=style, </b.js>; rel=preload\r\n\r\n");
  EXPECT_THAT(f.client.received, HasSubstr("HTTP/1.1 200 OK\r\n"));
}

TEST(Http1ConnectionTest, NoEarlyHintsForAnHttp10Client) {
  Fixture f;
  f.handler = [](ReqPtr, ResPtr res) {
    absl::StatusOr<bool> sent = res->writeEarlyHints({{"link", "</a.css>; rel=preload"}});
    ASSERT_TRUE(sent.ok());
    EXPECT_FALSE(*sent);  // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client
    res->end("ok");
  };
  f.send("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(f.client.received.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << f.client.received;
}

TEST(Http1ConnectionTest, NoPushOverHttp1AndTheSocketView) {
  Fixture f;
  absl::Status push;
  f.handler = [&](ReqPtr req, ResPtr res) {
    push = res->createPushResponse({{":path", "/a.css"}}, [](const absl::Status&, ResPtr) {
      ADD_FAILURE() << "pushed over HTTP/1";
    });
    EXPECT_EQ(req->socket().remoteAddress(), "memory");
    EXPECT_EQ(res->socket()->alpnProtocol(), "");  // cleartext HTTP/1: Node's false
    EXPECT_FALSE(req->connection().encrypted());
    req->destroy();  // HTTP/1: the connection goes
  };
  f.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(nodeErrorCode(push), "ERR_HTTP2_PUSH_DISABLED");
  EXPECT_TRUE(f.client.closed);
  EXPECT_EQ(f.client.received, "");
}

}  // namespace
}  // namespace h2rpc::transport
