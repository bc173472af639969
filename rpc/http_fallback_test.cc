// ServerOptions::http_fallback: what is no call (a GET of a page, a POST of a form) goes to a
// compat 'request' listener, over HTTP/2 and HTTP/1.1, while calls, Connect GETs and CORS
// preflights on the same server keep their answers. Without it, the RPC answers (405, 415).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/framing.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testing/echo_service.h"
#include "rpc/testing/memory_http1.h"
#include "transport/compat/compat_server.h"
#include "transport/http1/http1_server.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoRequest;
using transport::Headers;

// The fallback: a page per path, and what it saw.
struct Pages {
  std::vector<std::string> seen;  // "METHOD URL"
  void Serve(std::shared_ptr<transport::Http2ServerRequest> req,
             std::shared_ptr<transport::Http2ServerResponse> res) {
    seen.push_back(absl::StrCat(req->method(), " ", req->url()));
    EXPECT_TRUE(res->setHeader("content-type", "text/plain").ok());
    if (req->url() == "/index.html") {
      res->end("the page");
    } else {
      (void)res->setStatusCode(404);
      res->end("no page");
    }
  }
};

ServerOptions WithFallback(Pages* pages) {
  ServerOptions o;
  o.cors.allowed_origins = {"https://app.example"};
  o.http_fallback = [pages](std::shared_ptr<transport::Http2ServerRequest> req,
                            std::shared_ptr<transport::Http2ServerResponse> res) {
    pages->Serve(std::move(req), std::move(res));
  };
  return o;
}

std::string Request(const std::string& text) {
  EchoRequest req;
  req.set_text(text);
  return FrameMessage(req.SerializeAsString(), false);
}

struct Answer {
  Headers headers;
  std::string body;
  bool closed = false;
};

// Each test serves with its own options (Serve).
class HttpFallbackTest : public testing::EchoServerTest {
 protected:
  void SetUp() override {}
  Answer Send(const std::string& method, const std::string& path, const std::string& body = "",
              Headers extra = {}) {
    Answer a;
    Headers headers{{":method", method}, {":path", path}};
    for (const auto& f : extra) headers.add(f.name, f.value);
    auto req = client_->request(headers, {.endStream = body.empty()});
    EXPECT_TRUE(req.ok()) << req.status();
    if (!req.ok()) return a;
    (*req)->onResponse([&](const Headers& h, uint8_t) { a.headers = h; });
    (*req)->onData([&](std::string_view d) { a.body += d; });
    (*req)->onClose([&] { a.closed = true; });
    if (!body.empty()) {
      (*req)->write(body);
      (*req)->end();
    }
    loop_.runUntilIdle();
    EXPECT_TRUE(a.closed);
    return a;
  }
  Pages pages_;
};

TEST_F(HttpFallbackTest, PagesAreServedBesideCallsOverHttp2) {
  Serve(WithFallback(&pages_));
  Answer page = Send("GET", "/index.html");
  EXPECT_EQ(page.headers.get(":status").value_or(""), "200");
  EXPECT_EQ(page.headers.get("content-type").value_or(""), "text/plain");
  EXPECT_EQ(page.body, "the page");
  Answer missing = Send("GET", "/nope?x=1");  // a query, but no method of that name
  EXPECT_EQ(missing.headers.get(":status").value_or(""), "404");
  Answer form = Send("POST", "/index.html", "a=b",
                     {{"content-type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.body, "the page");
  EXPECT_EQ(pages_.seen, (std::vector<std::string>{"GET /index.html", "GET /nope?x=1",
                                                   "POST /index.html"}));
  // Calls on the same connection are untouched: gRPC-Web ...
  Answer call = Send("POST", "/h2rpc.rpc_test.Echo/Unary", Request("hi"),
                     {{"content-type", "application/grpc-web+proto"}});
  EXPECT_EQ(call.headers.get("content-type").value_or(""), "application/grpc-web+proto");
  EXPECT_NE(call.body.find("hi"), std::string::npos);
  EXPECT_NE(call.body.find("grpc-status: 0"), std::string::npos);
  // ... Connect's GET of a served method (not NO_SIDE_EFFECTS here: its 405, not the page) ...
  Answer get = Send("GET", "/h2rpc.rpc_test.Echo/Unary?connect=v1&encoding=json&message=%7B%7D");
  EXPECT_EQ(get.headers.get(":status").value_or(""), "405");
  // ... and CORS preflights.
  Answer preflight = Send("OPTIONS", "/h2rpc.rpc_test.Echo/Unary", "",
                          {{"origin", "https://app.example"},
                           {"access-control-request-method", "POST"}});
  EXPECT_EQ(preflight.headers.get(":status").value_or(""), "204");
  EXPECT_EQ(pages_.seen.size(), 3u);
}

TEST_F(HttpFallbackTest, WithoutOneNoCallGetsTheRpcAnswers) {
  Serve({});
  EXPECT_EQ(Send("GET", "/index.html").headers.get(":status").value_or(""), "405");
  Answer form = Send("POST", "/index.html", "a=b",
                     {{"content-type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.headers.get(":status").value_or(""), "415");
  EXPECT_TRUE(pages_.seen.empty());
}

// --- HTTP/1.1 (allow_http1's path, sans I/O) ---------------------------------------------------

TEST(HttpFallbackHttp1Test, PagesAndCallsOnOneKeptAliveConnection) {
  transport::ManualLoop loop;
  testing::EchoService service;
  Pages pages;
  Server server(nullptr, WithFallback(&pages));
  server.RegisterService(&service);
  auto http1 = testing::ServeHttp1(loop, server);
  testing::RawSocketClient client;
  auto client_end = testing::ConnectRaw(loop, *http1, client);

  client_end->write("GET /index.html HTTP/1.1\r\nhost: a.test\r\n\r\n");
  loop.runUntilIdle();
  EXPECT_EQ(client.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << client.received;
  EXPECT_NE(client.received.find("the page"), std::string::npos) << client.received;
  client.received.clear();

  client_end->write("GET /missing.js HTTP/1.1\r\nhost: a.test\r\n\r\n");
  loop.runUntilIdle();
  EXPECT_EQ(client.received.rfind("HTTP/1.1 404", 0), 0u) << client.received;
  client.received.clear();

  const std::string body = Request("x");
  client_end->write(absl::StrCat("POST /h2rpc.rpc_test.Echo/Unary HTTP/1.1\r\nhost: a.test\r\n",
                                 "content-type: application/grpc-web+proto\r\n",
                                 "content-length: ", body.size(), "\r\n\r\n", body));
  loop.runUntilIdle();
  EXPECT_EQ(client.received.rfind("HTTP/1.1 200", 0), 0u) << client.received;
  EXPECT_NE(client.received.find("application/grpc-web+proto"), std::string::npos);
  EXPECT_NE(client.received.find("grpc-status: 0"), std::string::npos) << client.received;
  EXPECT_EQ(pages.seen, (std::vector<std::string>{"GET /index.html", "GET /missing.js"}));

  client_end->setHandler(nullptr);
  http1.reset();
  loop.runUntilIdle();
}

}  // namespace
}  // namespace h2rpc::rpc
