// gRPC-Web and gRPC-Web-text served by rpc::Server over HTTP/2 (a MemorySocket on a ManualLoop):
// the same handlers as gRPC, the status and trailing metadata in a last body frame (flag 0x80),
// base64 both ways in text mode, early errors in the request's protocol.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/compression.h"
#include "rpc/framing.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testing/echo_service.h"
#include "rpc/testing/memory_http1.h"
#include "rpc/wire_protocol.h"
#include "transport/compat/compat_server.h"
#include "transport/http1/http1_server.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;
using transport::Headers;

struct Answer {
  Headers headers;
  bool had_trailers = false;
  std::string body;
  bool closed = false;
};

// A response body cut into gRPC-Web frames: messages, then the trailer frame's fields.
struct WebBody {
  std::vector<std::string> messages;
  std::string trailer_block;
  bool has_trailer_frame = false;
  bool well_formed = true;
};

WebBody SplitWebBody(const std::string& body) {
  WebBody out;
  size_t at = 0;
  while (at < body.size()) {
    if (body.size() - at < 5) {
      out.well_formed = false;
      break;
    }
    const auto flag = static_cast<uint8_t>(body[at]);
    const uint32_t n = (static_cast<uint8_t>(body[at + 1]) << 24) |
                       (static_cast<uint8_t>(body[at + 2]) << 16) |
                       (static_cast<uint8_t>(body[at + 3]) << 8) | static_cast<uint8_t>(body[at + 4]);
    if (body.size() - at - 5 < n || out.has_trailer_frame) {
      out.well_formed = false;
      break;
    }
    std::string payload = body.substr(at + 5, n);
    if (flag & 0x80) {
      out.has_trailer_frame = true;
      out.trailer_block = payload;
    } else {
      out.messages.push_back(payload);
    }
    at += 5 + n;
  }
  return out;
}

// Each base64 string of a text-mode body decoded on its own (a write may carry padding).
std::string DecodeTextBody(const std::string& text) {
  std::string out;
  Base64StreamDecoder d;
  EXPECT_TRUE(d.Feed(text, out).ok());
  EXPECT_TRUE(d.Finish().ok());
  return out;
}

class GrpcWebTest : public testing::EchoServerTest {
 protected:
  // Sends the body in pieces of `chunk` bytes (0: at once).
  Answer Send(const std::string& path, const std::string& content_type, const std::string& body,
              Headers extra = {}, size_t chunk = 0, const std::string& method = "POST") {
    Answer a;
    Headers headers{{":method", method}, {":path", path}, {"content-type", content_type},
                    {"x-grpc-web", "1"}};
    for (const auto& f : extra) headers.add(f.name, f.value);
    auto req = client_->request(headers, {.endStream = false});
    EXPECT_TRUE(req.ok()) << req.status();
    if (!req.ok()) return a;
    (*req)->onResponse([&](const Headers& h, uint8_t) { a.headers = h; });
    (*req)->onTrailers([&](const Headers&, uint8_t) { a.had_trailers = true; });
    (*req)->onData([&](std::string_view d) { a.body += d; });
    (*req)->onClose([&] { a.closed = true; });
    if (chunk == 0) chunk = body.size() + 1;
    for (size_t at = 0; at < body.size(); at += chunk) {
      (*req)->write(body.substr(at, chunk));
      loop_.runUntilIdle();
    }
    (*req)->end();
    loop_.runUntilIdle();
    EXPECT_TRUE(a.closed);
    return a;
  }

  friend class GrpcWebHttp1Test;

 public:
  static std::string Request(const std::string& text, int count = 0, int code = 0) {
    EchoRequest req;
    req.set_text(text);
    req.set_count(count);
    req.set_status_code(code);
    return FrameMessage(req.SerializeAsString(), false);
  }
};

TEST_F(GrpcWebTest, UnaryStatusAndMetadataGoInTheBody) {
  Answer a = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web+proto", Request("hi"),
                  {{"x-in", "v"}});
  EXPECT_EQ(a.headers.get(":status").value_or(""), "200");
  EXPECT_EQ(a.headers.get("content-type").value_or(""), "application/grpc-web+proto");
  EXPECT_EQ(a.headers.get("x-head").value_or(""), "v");
  EXPECT_FALSE(a.headers.get("grpc-status").has_value());
  EXPECT_FALSE(a.had_trailers);  // no HTTP trailers: browsers cannot read them
  WebBody body = SplitWebBody(a.body);
  ASSERT_TRUE(body.well_formed);
  ASSERT_EQ(body.messages.size(), 1u);
  ASSERT_GE(body.messages[0].size(), 0u);
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(body.messages[0]));
  EXPECT_EQ(reply.text(), "hi");
  ASSERT_TRUE(body.has_trailer_frame);
  EXPECT_EQ(body.trailer_block, "grpc-status: 0\r\nx-tail: v!\r\n");
}

TEST_F(GrpcWebTest, ErrorsBeforeAnyMessageAreTrailersOnlyHeaders) {
  Answer a = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web", Request("bad thing", 0, 5));
  EXPECT_EQ(a.headers.get("content-type").value_or(""), "application/grpc-web");
  EXPECT_EQ(a.headers.get("grpc-status").value_or(""), "5");
  EXPECT_EQ(a.headers.get("grpc-message").value_or(""), "bad thing");
  EXPECT_TRUE(a.body.empty());
  EXPECT_FALSE(a.had_trailers);
}

TEST_F(GrpcWebTest, ServerStreamingEndsWithTheTrailerFrame) {
  Answer a = Send("/h2rpc.rpc_test.Echo/Stream", "application/grpc-web+proto",
                  Request("s", 3, 9));
  WebBody body = SplitWebBody(a.body);
  ASSERT_TRUE(body.well_formed);
  ASSERT_EQ(body.messages.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EchoReply reply;
    ASSERT_TRUE(reply.ParseFromString(body.messages[i]));
    EXPECT_EQ(reply.index(), i);
  }
  ASSERT_TRUE(body.has_trailer_frame);
  EXPECT_EQ(body.trailer_block, "grpc-status: 9\r\ngrpc-message: s\r\n");
  EXPECT_FALSE(a.had_trailers);
}

TEST_F(GrpcWebTest, TextModeBase64BothWaysRequestSplitMidQuantum) {
  const std::string text = absl::Base64Escape(Request("in text"));
  ASSERT_NE(text.size() % 4, 1u);
  Answer a = Send("/h2rpc.rpc_test.Echo/Stream", "application/grpc-web-text+proto",
                  absl::Base64Escape(Request("in text", 2)), {}, /*chunk=*/3);
  EXPECT_EQ(a.headers.get("content-type").value_or(""), "application/grpc-web-text+proto");
  WebBody body = SplitWebBody(DecodeTextBody(a.body));
  ASSERT_TRUE(body.well_formed);
  ASSERT_EQ(body.messages.size(), 2u);
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(body.messages[1]));
  EXPECT_EQ(reply.text(), "in text");
  EXPECT_EQ(body.trailer_block, "grpc-status: 0\r\n");
}

TEST_F(GrpcWebTest, TextModeRefusesBadBase64) {
  Answer a = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web-text", "AAAA*AAA");
  EXPECT_EQ(a.headers.get("grpc-status").value_or(""), "13");  // INTERNAL, in headers
  EXPECT_NE(a.headers.get("grpc-message").value_or("").find("base64"), std::string::npos);
  Answer cut = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web-text", "AAA");
  EXPECT_EQ(cut.headers.get("grpc-status").value_or(""), "13");
}

TEST_F(GrpcWebTest, EarlyErrorsAnswerInTheRequestsProtocol) {
  Answer missing = Send("/h2rpc.rpc_test.Echo/Nope", "application/grpc-web-text", "");
  EXPECT_EQ(missing.headers.get("content-type").value_or(""), "application/grpc-web-text");
  EXPECT_EQ(missing.headers.get("grpc-status").value_or(""), "12");
  Answer lookalike = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc-webby", Request("x"));
  EXPECT_EQ(lookalike.headers.get(":status").value_or(""), "415");
}

TEST_F(GrpcWebTest, CompressedBothWays) {
  // gzip and deflate (the zlib format), gRPC-Web and gRPC itself.
  for (const Compression c : {Compression::kGzip, Compression::kDeflate}) {
    for (const char* type : {"application/grpc-web+proto", "application/grpc"}) {
      const std::string name(CompressionName(c));
      SCOPED_TRACE(name + " " + type);
      EchoRequest req;
      req.set_text(std::string(200, 'z'));
      auto packed = Compress(c, req.SerializeAsString());
      ASSERT_TRUE(packed.ok());
      Answer a = Send("/h2rpc.rpc_test.Echo/Unary", type,
                      FrameMessage(*packed, /*compressed=*/true),
                      {{"grpc-encoding", name}, {"grpc-accept-encoding", name}, {"te", "trailers"}});
      EXPECT_EQ(a.headers.get("grpc-encoding").value_or(""), name);
      ASSERT_GE(a.body.size(), 1u);
      EXPECT_EQ(a.body[0], 1);  // the response message's compressed flag
      WebBody body = SplitWebBody(a.body);
      ASSERT_TRUE(body.well_formed);
      ASSERT_EQ(body.messages.size(), 1u);
      auto plain = Decompress(c, body.messages[0], 1 << 20);
      ASSERT_TRUE(plain.ok()) << plain.status();
      EchoReply reply;
      ASSERT_TRUE(reply.ParseFromString(*plain));
      EXPECT_EQ(reply.text(), req.text());
      if (type == std::string("application/grpc")) {
        EXPECT_TRUE(a.had_trailers);  // the status in HTTP trailers
      } else {
        // The trailer frame is never compressed.
        EXPECT_EQ(body.trailer_block, "grpc-status: 0\r\n");
      }
    }
  }
}

TEST_F(GrpcWebTest, PlainGrpcIsUnchanged) {
  Answer a = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc+proto", Request("g"),
                  {{"te", "trailers"}});
  EXPECT_EQ(a.headers.get("content-type").value_or(""), "application/grpc");
  EXPECT_TRUE(a.had_trailers);
  ASSERT_GE(a.body.size(), kMessagePrefixSize);
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(a.body.substr(kMessagePrefixSize)));
  EXPECT_EQ(reply.text(), "g");
}


// --- CORS (ServerOptions::cors) ------------------------------------------------------------------

TEST_F(GrpcWebTest, WithoutCorsOptionsIsNotAllowedAndNoCorsFields) {
  Answer pre = Send("/h2rpc.rpc_test.Echo/Unary", "", "",
                    {{"origin", "https://app.example"}, {"access-control-request-method", "POST"}},
                    0, "OPTIONS");
  EXPECT_EQ(pre.headers.get(":status").value_or(""), "405");
  Answer a = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web+proto", Request("x"),
                  {{"origin", "https://app.example"}});
  EXPECT_EQ(a.headers.get("content-type").value_or(""), "application/grpc-web+proto");
  EXPECT_FALSE(a.headers.get("access-control-allow-origin").has_value());
}

class GrpcWebCorsTest : public GrpcWebTest {
 protected:
  ServerOptions Options() override {
    ServerOptions o;
    o.cors.allowed_origins = {"https://app.example"};
    o.cors.max_age = absl::Minutes(10);
    o.cors.allowed_headers = {"x-extra"};
    o.cors.exposed_headers = {"x-head", "x-tail"};
    return o;
  }
};

TEST_F(GrpcWebCorsTest, PreflightFromAnAllowedOrigin) {
  Answer a = Send("/h2rpc.rpc_test.Echo/Unary", "", "",
                  {{"origin", "https://app.example"},
                   {"access-control-request-method", "POST"},
                   {"access-control-request-headers", "content-type,x-grpc-web,x-in"}},
                  0, "OPTIONS");
  EXPECT_EQ(a.headers.get(":status").value_or(""), "204");
  EXPECT_EQ(a.headers.get("access-control-allow-origin").value_or(""), "https://app.example");
  EXPECT_EQ(a.headers.get("access-control-allow-methods").value_or(""), "POST, GET");
  EXPECT_EQ(a.headers.get("access-control-allow-headers").value_or(""),
            "content-type,x-grpc-web,x-in, x-extra");
  EXPECT_EQ(a.headers.get("access-control-max-age").value_or(""), "600");
  EXPECT_EQ(a.headers.get("vary").value_or(""), "origin");
  EXPECT_TRUE(a.body.empty());
}

TEST_F(GrpcWebCorsTest, PreflightFromAnotherOriginIsForbidden) {
  Answer a = Send("/h2rpc.rpc_test.Echo/Unary", "", "",
                  {{"origin", "https://evil.example"}, {"access-control-request-method", "POST"}},
                  0, "OPTIONS");
  EXPECT_EQ(a.headers.get(":status").value_or(""), "403");
  EXPECT_FALSE(a.headers.get("access-control-allow-origin").has_value());
  Answer not_preflight = Send("/h2rpc.rpc_test.Echo/Unary", "", "",
                              {{"origin", "https://app.example"}}, 0, "OPTIONS");
  EXPECT_EQ(not_preflight.headers.get(":status").value_or(""), "403");
}

TEST_F(GrpcWebCorsTest, CallsFromAnAllowedOriginExposeTheStatusFields) {
  Answer a = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web+proto", Request("c"),
                  {{"origin", "https://app.example"}, {"x-in", "m"}});
  EXPECT_EQ(a.headers.get("access-control-allow-origin").value_or(""), "https://app.example");
  EXPECT_EQ(a.headers.get("access-control-expose-headers").value_or(""),
            "grpc-status, grpc-message, grpc-status-details-bin, content-encoding, "
            "connect-content-encoding, x-head, x-tail");
  EXPECT_EQ(a.headers.get("x-head").value_or(""), "m");  // metadata still after them
  EXPECT_EQ(SplitWebBody(a.body).trailer_block, "grpc-status: 0\r\nx-tail: m!\r\n");
  // Early errors (Trailers-Only) too: the page must be able to read their grpc-status.
  Answer missing = Send("/h2rpc.rpc_test.Echo/Nope", "application/grpc-web+proto", "",
                        {{"origin", "https://app.example"}});
  EXPECT_EQ(missing.headers.get("grpc-status").value_or(""), "12");
  EXPECT_EQ(missing.headers.get("access-control-allow-origin").value_or(""), "https://app.example");
  // Another origin's page gets no CORS fields (the browser hides the response from it).
  Answer other = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web+proto", Request("c"),
                      {{"origin", "https://evil.example"}});
  EXPECT_FALSE(other.headers.get("access-control-allow-origin").has_value());
  // gRPC itself never carries them.
  Answer grpc = Send("/h2rpc.rpc_test.Echo/Unary", "application/grpc", Request("c"),
                     {{"origin", "https://app.example"}, {"te", "trailers"}});
  EXPECT_FALSE(grpc.headers.get("access-control-allow-origin").has_value());
}
TEST_F(GrpcWebCorsTest, EarlyErrorsCarryTheCorsFieldsForAnAllowedOrigin) {
  // Refused before any handler runs: the page must still read why (no CORS fields: the browser
  // hides the response and the page sees a bare network error).
  struct Case {
    const char* what;
    const char* path;
    const char* content_type;
    const char* method;
    Headers extra;
    const char* status;
  };
  const std::vector<Case> cases = {
      {"unknown content-type", "/h2rpc.rpc_test.Echo/Unary", "text/plain", "POST", {}, "415"},
      {"PUT, gRPC-Web", "/h2rpc.rpc_test.Echo/Unary", "application/grpc-web+proto", "PUT", {},
       "405"},
      {"PUT, Connect", "/h2rpc.rpc_test.Echo/Unary", "application/json", "PUT", {}, "405"},
      {"Connect, unknown path", "/h2rpc.rpc_test.Echo/Nope", "application/json", "POST", {},
       "404"},
      {"Connect, bad version", "/h2rpc.rpc_test.Echo/Unary", "application/proto", "POST",
       {{"connect-protocol-version", "7"}}, "400"},
      {"Connect GET, unknown path", "/h2rpc.rpc_test.Echo/Nope?encoding=json", "", "GET", {},
       "404"},
  };
  for (const Case& c : cases) {
    Headers extra{{"origin", "https://app.example"}};
    for (const auto& f : c.extra) extra.add(f.name, f.value);
    Answer a = Send(c.path, c.content_type, "", extra, 0, c.method);
    EXPECT_EQ(a.headers.get(":status").value_or(""), c.status) << c.what;
    EXPECT_EQ(a.headers.get("access-control-allow-origin").value_or(""), "https://app.example")
        << c.what;
    EXPECT_NE(a.headers.get("access-control-expose-headers").value_or("").find("grpc-status"),
              std::string::npos)
        << c.what;
    if (c.what == std::string("PUT, Connect")) {
      EXPECT_EQ(a.headers.get("allow").value_or(""), "POST");  // kept beside the CORS fields
    }
    // Another origin: none.
    Headers other{{"origin", "https://evil.example"}};
    for (const auto& f : c.extra) other.add(f.name, f.value);
    Answer o = Send(c.path, c.content_type, "", other, 0, c.method);
    EXPECT_EQ(o.headers.get(":status").value_or(""), c.status) << c.what;
    EXPECT_FALSE(o.headers.get("access-control-allow-origin").has_value()) << c.what;
  }
}

class GrpcWebCorsProtocolsOffTest : public GrpcWebTest {
 protected:
  ServerOptions Options() override {
    ServerOptions o;
    o.cors.allowed_origins = {"https://app.example"};
    o.protocols.connect = false;
    o.protocols.grpc_web = false;
    return o;
  }
};

TEST_F(GrpcWebCorsProtocolsOffTest, TheProtocolOff415CarriesTheCorsFields) {
  for (const char* type : {"application/grpc-web+proto", "application/json"}) {
    Answer a = Send("/h2rpc.rpc_test.Echo/Unary", type, "", {{"origin", "https://app.example"}});
    EXPECT_EQ(a.headers.get(":status").value_or(""), "415") << type;
    EXPECT_EQ(a.headers.get("access-control-allow-origin").value_or(""), "https://app.example")
        << type;
  }
}

// --- HTTP/1.1 (ServerOptions::allow_http1's path, sans I/O) --------------------------------------

struct Http1Response {
  std::string head;  // status line and fields, lower-cased names as sent
  std::string body;  // de-chunked
  bool complete = false;
};

// One HTTP/1.1 response from `raw` (chunked or with content-length); complete=false if cut.
Http1Response ParseHttp1(const std::string& raw) {
  Http1Response r;
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  r.head = raw.substr(0, end + 2);
  size_t at = end + 4;
  if (r.head.find("transfer-encoding: chunked") == std::string::npos) {
    const size_t cl = r.head.find("content-length: ");
    if (cl == std::string::npos) return r;
    const size_t n = std::stoul(r.head.substr(cl + 16));
    if (raw.size() - at < n) return r;
    r.body = raw.substr(at, n);
    r.complete = true;
    return r;
  }
  for (;;) {
    const size_t line = raw.find("\r\n", at);
    if (line == std::string::npos) return r;
    const size_t n = std::stoul(raw.substr(at, line - at), nullptr, 16);
    at = line + 2;
    if (n == 0) {
      r.complete = raw.compare(at, 2, "\r\n") == 0;
      return r;
    }
    if (raw.size() - at < n + 2) return r;
    r.body += raw.substr(at, n);
    at += n + 2;
  }
}

class GrpcWebHttp1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.RegisterService(&service_);
    http1_ = testing::ServeHttp1(loop_, server_);
    client_socket_ = testing::ConnectRaw(loop_, *http1_, client_);
  }
  void TearDown() override {
    client_socket_->setHandler(nullptr);
    http1_.reset();
    loop_.runUntilIdle();
  }

  // Sends a POST with `body` (content-length, or chunked in pieces of `chunk` bytes) and waits
  // for the whole response.
  Http1Response Post(const std::string& path, const std::string& content_type,
                     const std::string& body, size_t chunk = 0,
                     const std::string& more_fields = "") {
    client_.received.clear();
    std::string head = absl::StrCat("POST ", path, " HTTP/1.1\r\nhost: example.test\r\n",
                                    "content-type: ", content_type, "\r\nx-grpc-web: 1\r\n",
                                    more_fields);
    if (chunk == 0) {
      client_socket_->write(absl::StrCat(head, "content-length: ", body.size(), "\r\n\r\n", body));
    } else {
      client_socket_->write(absl::StrCat(head, "transfer-encoding: chunked\r\n\r\n"));
      loop_.runUntilIdle();
      for (size_t at = 0; at < body.size(); at += chunk) {
        const std::string piece = body.substr(at, chunk);
        client_socket_->write(absl::StrCat(absl::Hex(piece.size()), "\r\n", piece, "\r\n"));
        loop_.runUntilIdle();
      }
      client_socket_->write("0\r\n\r\n");
    }
    loop_.runUntilIdle();
    Http1Response r = ParseHttp1(client_.received);
    EXPECT_TRUE(r.complete) << client_.received;
    return r;
  }

  static ServerOptions CorsEverywhere() {
    ServerOptions o;
    o.cors.allowed_origins = {"*"};
    return o;
  }

  transport::ManualLoop loop_;
  testing::EchoService service_;
  Server server_{nullptr, CorsEverywhere()};
  testing::RawSocketClient client_;
  std::unique_ptr<transport::MemorySocket> client_socket_;
  std::shared_ptr<transport::Http1Server> http1_;
};

TEST_F(GrpcWebHttp1Test, UnaryWithTheStatusFrameInTheChunkedBody) {
  Http1Response r = Post("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web+proto",
                         GrpcWebTest::Request("one dot one"));
  EXPECT_EQ(r.head.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(r.head.find("content-type: application/grpc-web+proto\r\n"), std::string::npos);
  EXPECT_EQ(r.head.find("grpc-status"), std::string::npos);
  EXPECT_NE(r.head.find("transfer-encoding: chunked"), std::string::npos);
  WebBody body = SplitWebBody(r.body);
  ASSERT_TRUE(body.well_formed);
  ASSERT_EQ(body.messages.size(), 1u);
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(body.messages[0]));
  EXPECT_EQ(reply.text(), "one dot one");
  EXPECT_EQ(body.trailer_block, "grpc-status: 0\r\n");
  // Keep-alive: a second call on the same connection.
  Http1Response again = Post("/h2rpc.rpc_test.Echo/Stream", "application/grpc-web+proto",
                             GrpcWebTest::Request("x", 2, 3));
  WebBody second = SplitWebBody(again.body);
  EXPECT_EQ(second.messages.size(), 2u);
  EXPECT_EQ(second.trailer_block, "grpc-status: 3\r\ngrpc-message: x\r\n");
}

TEST_F(GrpcWebHttp1Test, TextModeWithAChunkedRequestBody) {
  Http1Response r = Post("/h2rpc.rpc_test.Echo/Stream", "application/grpc-web-text",
                         absl::Base64Escape(GrpcWebTest::Request("t", 3)), /*chunk=*/5);
  WebBody body = SplitWebBody(DecodeTextBody(r.body));
  ASSERT_TRUE(body.well_formed);
  EXPECT_EQ(body.messages.size(), 3u);
  EXPECT_EQ(body.trailer_block, "grpc-status: 0\r\n");
}

TEST_F(GrpcWebHttp1Test, GrpcOverHttp1IsRefusedClearly) {
  Http1Response r = Post("/h2rpc.rpc_test.Echo/Unary", "application/grpc",
                         GrpcWebTest::Request("no"));
  EXPECT_EQ(r.head.substr(0, 12), "HTTP/1.1 505");
  EXPECT_NE(r.head.find("grpc-message: gRPC requires HTTP/2"), std::string::npos) << r.head;
  EXPECT_EQ(r.head.find("access-control-allow-origin"), std::string::npos) << r.head;
  // From a page (a fetch() that tried gRPC): the page can read the 505 and its grpc-message.
  Http1Response page = Post("/h2rpc.rpc_test.Echo/Unary", "application/grpc",
                            GrpcWebTest::Request("no"), 0, "origin: http://page.test\r\n");
  EXPECT_EQ(page.head.substr(0, 12), "HTTP/1.1 505");
  EXPECT_NE(page.head.find("access-control-allow-origin: http://page.test\r\n"),
            std::string::npos)
      << page.head;
}

TEST_F(GrpcWebHttp1Test, EarlyErrorsInHeaders) {
  Http1Response r = Post("/h2rpc.rpc_test.Echo/Nope", "application/grpc-web+proto",
                         GrpcWebTest::Request("no"));
  EXPECT_EQ(r.head.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(r.head.find("grpc-status: 12"), std::string::npos) << r.head;
  // The unread request body does not spill into the next request on the connection.
  Http1Response next = Post("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web+proto",
                            GrpcWebTest::Request("next"));
  EXPECT_EQ(SplitWebBody(next.body).messages.size(), 1u);
}

TEST_F(GrpcWebHttp1Test, PreflightOverHttp1) {
  client_socket_->write(
      "OPTIONS /h2rpc.rpc_test.Echo/Unary HTTP/1.1\r\nhost: example.test\r\n"
      "origin: http://page.test\r\naccess-control-request-method: POST\r\n"
      "access-control-request-headers: content-type,x-grpc-web\r\n\r\n");
  loop_.runUntilIdle();
  const std::string& raw = client_.received;
  EXPECT_EQ(raw.substr(0, 12), "HTTP/1.1 204") << raw;
  EXPECT_NE(raw.find("access-control-allow-origin: http://page.test\r\n"), std::string::npos);
  EXPECT_NE(raw.find("access-control-allow-headers: content-type,x-grpc-web\r\n"),
            std::string::npos);
  EXPECT_NE(raw.find("access-control-max-age: 7200\r\n"), std::string::npos);
  // The connection goes on: a call after it.
  Http1Response r = Post("/h2rpc.rpc_test.Echo/Unary", "application/grpc-web+proto",
                         GrpcWebTest::Request("after"));
  EXPECT_EQ(SplitWebBody(r.body).messages.size(), 1u);
}

}  // namespace
}  // namespace h2rpc::rpc
