// Http1RequestParser: heads, chunked bodies and trailers, pipelining, and the limits.
#include "transport/http1/request_parser.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;

struct Recorder : Http1RequestParser::Sink {
  void onRequestHead(Http1RequestHead head) override { heads.push_back(std::move(head)); }
  void onRequestBody(std::string_view chunk) override { body += chunk; }
  void onRequestComplete(Headers t) override {
    ++complete;
    trailers = std::move(t);
  }
  std::vector<Http1RequestHead> heads;
  std::string body;
  Headers trailers;
  int complete = 0;
};

TEST(Http1RequestParserTest, HeadAndFixedBody) {
  Recorder r;
  Http1RequestParser p(&r);
  std::string req = "POST /up?x=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nx-a: 2\r\n"
                    "Content-Length: 5\r\n\r\nhello";
  auto used = p.feed(req);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(*used, req.size());
  ASSERT_EQ(r.heads.size(), 1u);
  EXPECT_EQ(r.heads[0].method, "POST");
  EXPECT_EQ(r.heads[0].url, "/up?x=1");
  EXPECT_EQ(r.heads[0].versionMinor, 1);
  EXPECT_TRUE(r.heads[0].keepAlive);
  EXPECT_EQ(r.heads[0].headers.get("host"), "example.com");
  EXPECT_THAT(r.heads[0].headers.getAll("x-a"), ElementsAre("1", "2"));
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.complete, 1);
  EXPECT_TRUE(p.messageComplete());
}

TEST(Http1RequestParserTest, ChunkedBodyWithTrailersByteByByte) {
  Recorder r;
  Http1RequestParser p(&r);
  std::string req = "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 9\r\n\r\n";
  for (char c : req) {
    auto used = p.feed(std::string_view(&c, 1));
    ASSERT_TRUE(used.ok()) << used.status();
    ASSERT_EQ(*used, 1u);
  }
  ASSERT_EQ(r.heads.size(), 1u);
  EXPECT_TRUE(r.heads[0].chunked);
  EXPECT_EQ(r.body, "abcde");
  EXPECT_EQ(r.trailers.get("x-sum"), "9");
  EXPECT_EQ(r.complete, 1);
}

TEST(Http1RequestParserTest, PipelinedRequestsWaitForReset) {
  Recorder r;
  Http1RequestParser p(&r);
  std::string a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string b = "GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  auto used = p.feed(a + b);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, a.size());  // stopped after the first request
  EXPECT_EQ(*p.feed(b), 0u);   // until reset()
  p.reset();
  EXPECT_EQ(*p.feed(b), b.size());
  ASSERT_EQ(r.heads.size(), 2u);
  EXPECT_EQ(r.heads[1].url, "/b");
  EXPECT_FALSE(r.heads[1].keepAlive);
}

TEST(Http1RequestParserTest, Http10DefaultsToClose) {
  Recorder r;
  Http1RequestParser p(&r);
  ASSERT_TRUE(p.feed("GET / HTTP/1.0\r\n\r\n").ok());
  ASSERT_EQ(r.heads.size(), 1u);
  EXPECT_EQ(r.heads[0].versionMinor, 0);
  EXPECT_FALSE(r.heads[0].keepAlive);
}

TEST(Http1RequestParserTest, MalformedIs400) {
  Recorder r;
  Http1RequestParser p(&r);
  auto used = p.feed("GET / HTTP/1.1\r\nBad Header\r\n\r\n");
  ASSERT_FALSE(used.ok());
  EXPECT_EQ(Http1RequestParser::httpStatusFor(used.status()), 400);
  Http1RequestParser q(&r);
  used = q.feed("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
  ASSERT_FALSE(used.ok());
  EXPECT_EQ(Http1RequestParser::httpStatusFor(used.status()), 400);
}

TEST(Http1RequestParserTest, HeadTooLargeIs431) {
  Recorder r;
  Http1RequestParser p(&r, {.maxHeaderSize = 100});
  auto used = p.feed("GET / HTTP/1.1\r\nX-Big: " + std::string(200, 'a') + "\r\n\r\n");
  ASSERT_FALSE(used.ok());
  EXPECT_EQ(Http1RequestParser::httpStatusFor(used.status()), 431);
  EXPECT_TRUE(r.heads.empty());
}

TEST(Http1RequestParserTest, TooManyHeadersIs431) {
  Recorder r;
  Http1RequestParser p(&r, {.maxHeadersCount = 3});
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 4; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
  auto used = p.feed(req + "\r\n");
  ASSERT_FALSE(used.ok());
  EXPECT_EQ(Http1RequestParser::httpStatusFor(used.status()), 431);
}

TEST(Http1RequestParserTest, BodyTooLargeIs413) {
  Recorder r;
  Http1RequestParser p(&r, {.maxBodySize = 4});
  auto used = p.feed("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
  ASSERT_FALSE(used.ok());
  EXPECT_EQ(Http1RequestParser::httpStatusFor(used.status()), 413);
  EXPECT_TRUE(r.heads.empty());  // refused before the request reaches the application
  Recorder r2;
  Http1RequestParser q(&r2, {.maxBodySize = 4});
  used = q.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n");
  ASSERT_FALSE(used.ok());
  EXPECT_EQ(Http1RequestParser::httpStatusFor(used.status()), 413);
  EXPECT_EQ(r2.body, "abc");
}

}  // namespace
}  // namespace h2rpc::transport
