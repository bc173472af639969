// Headers and prepareOutgoingHeaders: every rule, valid and invalid. Expected values are Node 20's
// documented or observed behaviour (headers_node_oracle_test re-checks them against Node itself);
// headerBlockBound is compared with nghttp2's own nghttp2_hd_deflate_bound.
#include "transport/headers.h"

#include <nghttp2/nghttp2.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "transport/errors.h"

namespace h2rpc::transport {
namespace {

using Fields = std::vector<OutgoingField>;

void expectError(const absl::StatusOr<Fields>& result, std::string_view code,
                 std::string_view message) {
  ASSERT_FALSE(result.ok()) << "expected " << code;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(nodeErrorCode(result.status()), code) << result.status();
  EXPECT_EQ(nodeErrorMessage(result.status()), message) << result.status();
}

std::string errorCode(const absl::StatusOr<Fields>& result) {
  return nodeErrorCode(result.status());
}

// --- Headers, the container ---

TEST(HeadersTest, KeepsOrderAndLowerCasesNames) {
  Headers h{{"Content-Type", "text/plain"}, {":Path", "/"}, {"X-Multi", "1"}};
  h.add("x-MULTI", "2");
  HeaderFields expected = {
      {"content-type", "text/plain"}, {":path", "/"}, {"x-multi", "1"}, {"x-multi", "2"}};
  EXPECT_EQ(h.raw(), expected);
  EXPECT_EQ(h.size(), 4u);
  EXPECT_FALSE(h.empty());
  EXPECT_TRUE(Headers{}.empty());
  HeaderFields iterated(h.begin(), h.end());
  EXPECT_EQ(iterated, expected);
}

TEST(HeadersTest, SetReplacesAllInPlaceOfTheFirst) {
  Headers h{{"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}};
  h.set("A", "9");
  EXPECT_EQ(h.raw(), (HeaderFields{{"a", "9"}, {"b", "2"}, {"c", "4"}}));
  h.set("d", "5");
  EXPECT_EQ(h.raw().back(), (HeaderField{"d", "5"}));
}

TEST(HeadersTest, RemoveAndHasIgnoreCase) {
  Headers h{{"a", "1"}, {"b", "2"}, {"a", "3"}};
  EXPECT_TRUE(h.has("A"));
  EXPECT_EQ(h.remove("A"), 2u);
  EXPECT_FALSE(h.has("a"));
  EXPECT_EQ(h.remove("a"), 0u);
  EXPECT_EQ(h.raw(), (HeaderFields{{"b", "2"}}));
}

TEST(HeadersTest, GetJoinsLikeNodesIncomingHeaders) {
  Headers h{{"cookie", "a=1"}, {"cookie", "b=2"}, {"set-cookie", "x"}, {"set-cookie", "y"},
            {"x-multi", "1"},  {"x-multi", "2"},  {"user-agent", "A"}, {"user-agent", "B"},
            {"age", "1"},      {"age", "2"},      {"x-e", ""},         {"x-e", ""},
            {"x-e", "z"},      {"x-one", "only"}, {":status", "204"}};
  EXPECT_EQ(h.get("cookie"), "a=1; b=2");
  EXPECT_EQ(h.get("set-cookie"), "x, y");
  EXPECT_EQ(h.getAll("set-cookie"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(h.get("x-multi"), "1, 2");
  EXPECT_EQ(h.get("User-Agent"), "A");  // single-value headers keep the first
  EXPECT_EQ(h.get("age"), "1");
  EXPECT_EQ(h.get("x-e"), ", , z");
  EXPECT_EQ(h.get("x-one"), "only");
  EXPECT_EQ(h.get(":status"), "204");
  EXPECT_EQ(h.get("absent"), std::nullopt);
  EXPECT_TRUE(h.getAll("absent").empty());
  EXPECT_EQ((Headers{{"cookie", ""}, {"cookie", "c"}}).get("cookie"), "; c");
}

// get(name, storage): the same values as get(), as views; one field is not copied.
TEST(HeadersTest, GetWithStorageViewsTheFieldAndJoinsOnlyWhenNeeded) {
  Headers h{{"cookie", "a=1"}, {"cookie", "b=2"}, {"x-multi", "1"}, {"x-multi", "2"},
            {"user-agent", "A"}, {"user-agent", "B"}, {"x-one", "only"}, {":path", "/p"}};
  std::string storage;
  auto one = h.get("X-One", storage);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(*one, "only");
  EXPECT_EQ(one->data(), h.raw()[6].value.data());  // a view of the field itself
  EXPECT_TRUE(storage.empty());
  auto first = h.get("user-agent", storage);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->data(), h.raw()[4].value.data());  // single-value: the first field
  EXPECT_EQ(h.get(":path", storage), "/p");
  EXPECT_EQ(h.get("x-multi", storage), "1, 2");
  EXPECT_EQ(storage, "1, 2");
  EXPECT_EQ(h.get("cookie", storage), "a=1; b=2");
  EXPECT_EQ(h.get("absent", storage), std::nullopt);
  for (const char* name : {"cookie", "x-multi", "user-agent", "x-one", ":path", "absent"}) {
    std::optional<std::string_view> view = h.get(name, storage);
    std::optional<std::string> copy = h.get(name);
    EXPECT_EQ(view.has_value(), copy.has_value()) << name;
    if (view && copy) {
      EXPECT_EQ(*view, *copy) << name;
    }
  }
}

TEST(HeadersTest, SensitiveNamesAreCaseInsensitiveAndUnique) {
  Headers h{{"authorization", "x"}};
  h.setSensitive("Authorization").setSensitive("AUTHORIZATION").setSensitive("X-Secret");
  EXPECT_TRUE(h.isSensitive("authorization"));
  EXPECT_TRUE(h.isSensitive("x-secret"));
  EXPECT_FALSE(h.isSensitive("cookie"));
  EXPECT_EQ(h.sensitiveHeaders(), (std::vector<std::string>{"authorization", "x-secret"}));
}

TEST(HeadersTest, EqualityIsOrderedFieldsAndSensitiveSet) {
  Headers a{{"a", "1"}, {"b", "2"}};
  EXPECT_EQ(a, (Headers{{"A", "1"}, {"b", "2"}}));
  EXPECT_NE(a, (Headers{{"b", "2"}, {"a", "1"}}));
  Headers s1 = a, s2 = a;
  s1.setSensitive("a").setSensitive("b");
  s2.setSensitive("b").setSensitive("a");
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, a);
}

TEST(HeadersTest, ToStringShowsFieldsEscapedAndSensitiveNames) {
  Headers h{{":status", "200"}, {"x-a", "a\"b\n"}};
  EXPECT_EQ(h.toString(), "{\":status\": \"200\", \"x-a\": \"a\\\"b\\n\"}");
  h.setSensitive("x-a");
  EXPECT_EQ(h.toString(), "{\":status\": \"200\", \"x-a\": \"a\\\"b\\n\"} sensitive=[x-a]");
  EXPECT_EQ(Headers{}.toString(), "{}");
}

// --- character rules ---

TEST(HeadersTest, SingleValueHeadersAreNodes) {
  for (const char* name : {":status", ":method", ":authority", ":scheme", ":path", ":protocol",
                           "age", "authorization", "content-length", "content-type", "host",
                           "user-agent", "x-content-type-options", "if-none-match", "tk"}) {
    EXPECT_TRUE(isSingleValueHeader(name)) << name;
  }
  for (const char* name : {"cookie", "set-cookie", "accept", "x-custom", "vary", "link"}) {
    EXPECT_FALSE(isSingleValueHeader(name)) << name;
  }
}

TEST(HeadersTest, NamesMustBeTokens) {
  EXPECT_TRUE(isValidHeaderName("x-Az09!#$%&'*+-.^_`|~"));
  EXPECT_FALSE(isValidHeaderName(""));
  for (const std::string& bad : std::vector<std::string>{
           "x y", "x@y", "x:y", "(",  ")",  ",",           "/",
           ";",   "<",   "=",   ">",  "?",  "[",           "\\",
           "]",   "{",   "}",   "\"", "\t", "caf\xc3\xa9", std::string(1, '\0')}) {
    EXPECT_FALSE(isValidHeaderName(bad)) << bad;
  }
}

TEST(HeadersTest, ValuesFollowNodesHttp1Rule) {
  EXPECT_TRUE(isValidHeaderValue(""));
  EXPECT_TRUE(isValidHeaderValue("a\tb c ~"));
  EXPECT_TRUE(isValidHeaderValue("caf\xc3\xa9 \x80\xff"));
  for (const std::string& bad :
       std::vector<std::string>{"a\nb", "a\rb", std::string("a\0b", 3), "\x7f", "\x01", "\x1f"}) {
    EXPECT_FALSE(isValidHeaderValue(bad));
  }
}

// --- prepareOutgoingHeaders ---

TEST(PrepareOutgoingHeadersTest, PseudoHeadersFirstInGivenOrder) {
  Headers h{{"X-A", "1"}, {":path", "/p"}, {"x-b", "2"}, {":method", "GET"}, {"x-a", "3"}};
  h.setSensitive("X-B");
  Fields expected = {{":path", "/p", false},
                     {":method", "GET", false},
                     {"x-a", "1", false},
                     {"x-a", "3", false},
                     {"x-b", "2", true}};
  EXPECT_EQ(prepareOutgoingHeaders(h, HeadersKind::kRequest).value(), expected);
}

TEST(PrepareOutgoingHeadersTest, EmptyNamesAreSkipped) {
  Headers h{{"", "x"}, {"x-e", ""}};
  EXPECT_EQ(prepareOutgoingHeaders(h, HeadersKind::kTrailers).value(),
            (Fields{{"x-e", "", false}}));
}

TEST(PrepareOutgoingHeadersTest, ResponseStatusDefaultsAndCoercion) {
  auto status = [](Headers h) {
    return prepareOutgoingHeaders(h, HeadersKind::kResponse).value().front().value;
  };
  EXPECT_EQ(status({{"x-a", "1"}}), "200");
  EXPECT_EQ(status({{"x-a", "1"}, {":status", "204"}}), "204");
  EXPECT_EQ(status({{":status", "abc"}}), "200");  // NaN | 0 is 0, then || 200
  EXPECT_EQ(status({{":status", ""}}), "200");
  EXPECT_EQ(status({{":status", "0"}}), "200");
  EXPECT_EQ(status({{":status", " 204 "}}), "204");
  EXPECT_EQ(status({{":status", "\t404\n"}}), "404");
  EXPECT_EQ(status({{":status", "0x1f4"}}), "500");
  EXPECT_EQ(status({{":status", "2e2"}}), "200");
  EXPECT_EQ(status({{":status", "404.9"}}), "404");
  EXPECT_EQ(status({{":status", "+301"}}), "301");
  EXPECT_EQ(status({{":status", "4294967496"}}), "200");               // ToInt32 wraps modulo 2^32
  EXPECT_EQ(status({{":status", "204"}, {":status", "205"}}), "200");  // "204,205" is NaN
  EXPECT_EQ(status({{":status", "Infinity"}}), "200");
  EXPECT_EQ(status({{":status", "0x"}}), "200");
  EXPECT_EQ(status({{":status", "1e"}}), "200");
  EXPECT_EQ(status({{":status", "1e400"}}), "200");  // Infinity | 0 is 0
  EXPECT_EQ(status({{":status", ".5e3"}}), "500");
  EXPECT_EQ(status({{":status", "0b111110100"}}), "500");
  EXPECT_EQ(status({{":status", "0o764"}}), "500");
  EXPECT_EQ(status({{":status", "0x1g"}}), "200");
  EXPECT_EQ(status({{":status", "- 404"}}), "200");
  EXPECT_EQ(prepareOutgoingHeaders({{"x-a", "1"}}, HeadersKind::kResponse).value(),
            (Fields{{":status", "200", false}, {"x-a", "1", false}}));
}

TEST(PrepareOutgoingHeadersTest, ResponseStatusRange) {
  for (const char* ok : {"200", "599"}) {
    EXPECT_TRUE(prepareOutgoingHeaders({{":status", ok}}, HeadersKind::kResponse).ok()) << ok;
  }
  for (auto [given, shown] : std::vector<std::pair<const char*, const char*>>{{"100", "100"},
                                                                              {"101", "101"},
                                                                              {"199", "199"},
                                                                              {"600", "600"},
                                                                              {"-1", "-1"},
                                                                              {"1e3", "1000"},
                                                                              {"0x64", "100"}}) {
    expectError(prepareOutgoingHeaders({{":status", given}}, HeadersKind::kResponse),
                "ERR_HTTP2_STATUS_INVALID", std::string("Invalid status code: ") + shown);
  }
}

TEST(PrepareOutgoingHeadersTest, InfoStatus) {
  EXPECT_EQ(
      prepareOutgoingHeaders({{":status", "103"}, {"link", "</a>"}}, HeadersKind::kInfo).value(),
      (Fields{{":status", "103", false}, {"link", "</a>", false}}));
  EXPECT_EQ(prepareOutgoingHeaders({{":status", " 100"}}, HeadersKind::kInfo).value(),
            (Fields{{":status", "100", false}}));
  expectError(prepareOutgoingHeaders({{":status", "101"}}, HeadersKind::kInfo),
              "ERR_HTTP2_STATUS_101",
              "HTTP status code 101 (Switching Protocols) is forbidden in HTTP/2");
  for (auto [given, shown] : std::vector<std::pair<const char*, const char*>>{
           {"200", "200"}, {"99", "99"}, {"abc", "0"}}) {
    expectError(prepareOutgoingHeaders({{":status", given}}, HeadersKind::kInfo),
                "ERR_HTTP2_INVALID_INFO_STATUS",
                std::string("Invalid informational status code: ") + shown);
  }
  // Node sends an informational block without :status (the peer then resets the stream).
  EXPECT_EQ(prepareOutgoingHeaders({{"x-a", "1"}}, HeadersKind::kInfo).value(),
            (Fields{{"x-a", "1", false}}));
}

TEST(PrepareOutgoingHeadersTest, PseudoHeadersAllowedPerKind) {
  const std::string msg = " is an invalid pseudoheader or is used incorrectly";
  expectError(prepareOutgoingHeaders({{":foo", "1"}}, HeadersKind::kRequest),
              "ERR_HTTP2_INVALID_PSEUDOHEADER", "\":foo\"" + msg);
  expectError(prepareOutgoingHeaders({{":method", "GET"}}, HeadersKind::kResponse),
              "ERR_HTTP2_INVALID_PSEUDOHEADER", "\":method\"" + msg);
  expectError(prepareOutgoingHeaders({{":status", "103"}, {":path", "/"}}, HeadersKind::kInfo),
              "ERR_HTTP2_INVALID_PSEUDOHEADER", "\":path\"" + msg);
  expectError(prepareOutgoingHeaders({{":status", "200"}}, HeadersKind::kTrailers),
              "ERR_HTTP2_INVALID_PSEUDOHEADER", "\":status\"" + msg);
  // Node's request() accepts all six, :status included.
  Headers all{{":method", "CONNECT"}, {":authority", "a"},        {":scheme", "https"},
              {":path", "/"},         {":protocol", "websocket"}, {":status", "200"}};
  EXPECT_EQ(prepareOutgoingHeaders(all, HeadersKind::kRequest).value().size(), 6u);
}

TEST(PrepareOutgoingHeadersTest, FirstFailureInNodesOrder) {
  Headers h{{"content-type", "a"}, {"content-type", "b"}, {":foo", "1"}};
  // request() checks every pseudo-header before anything else...
  EXPECT_EQ(errorCode(prepareOutgoingHeaders(h, HeadersKind::kRequest)),
            "ERR_HTTP2_INVALID_PSEUDOHEADER");
  // ...elsewhere the names are checked in order.
  EXPECT_EQ(errorCode(prepareOutgoingHeaders(h, HeadersKind::kTrailers)),
            "ERR_HTTP2_HEADER_SINGLE_VALUE");
  // Status problems come before everything else in respond() and additionalHeaders().
  Headers bad{{"x y", "1"}, {":status", "700"}};
  EXPECT_EQ(errorCode(prepareOutgoingHeaders(bad, HeadersKind::kResponse)),
            "ERR_HTTP2_STATUS_INVALID");
}

TEST(PrepareOutgoingHeadersTest, SingleValueHeaders) {
  expectError(prepareOutgoingHeaders({{"content-type", "a"}, {"Content-Type", "b"}},
                                     HeadersKind::kResponse),
              "ERR_HTTP2_HEADER_SINGLE_VALUE",
              "Header field \"content-type\" must only have a single value");
  expectError(prepareOutgoingHeaders({{":path", "/a"}, {":path", "/b"}}, HeadersKind::kRequest),
              "ERR_HTTP2_HEADER_SINGLE_VALUE",
              "Header field \":path\" must only have a single value");
  EXPECT_TRUE(prepareOutgoingHeaders({{"cookie", "a"},
                                      {"cookie", "b"},
                                      {"set-cookie", "c"},
                                      {"set-cookie", "d"},
                                      {"x-a", "1"},
                                      {"x-a", "2"}},
                                     HeadersKind::kResponse)
                  .ok());
}

TEST(PrepareOutgoingHeadersTest, NamesMustBeTokens) {
  for (const char* name : {"x y", "x@y", "caf\xc3\xa9", "x\ny"}) {
    expectError(prepareOutgoingHeaders({{name, "1"}}, HeadersKind::kTrailers),
                "ERR_INVALID_HTTP_TOKEN",
                std::string("Header name must be a valid HTTP token [\"") + name + "\"]");
  }
}

TEST(PrepareOutgoingHeadersTest, ConnectionSpecificHeaders) {
  for (const char* name : {"connection", "upgrade", "http2-settings", "keep-alive",
                           "proxy-connection", "transfer-encoding", "Connection"}) {
    std::string lower = absl::AsciiStrToLower(name);
    expectError(prepareOutgoingHeaders({{name, "x"}}, HeadersKind::kRequest),
                "ERR_HTTP2_INVALID_CONNECTION_HEADERS",
                "HTTP/1 Connection specific headers are forbidden: \"" + lower + "\"");
  }
  EXPECT_TRUE(prepareOutgoingHeaders({{"te", "trailers"}}, HeadersKind::kRequest).ok());
  for (Headers te : {Headers{{"te", "gzip"}}, Headers{{"te", "Trailers"}},
                     Headers{{"te", "trailers"}, {"te", "trailers"}}}) {
    EXPECT_EQ(errorCode(prepareOutgoingHeaders(te, HeadersKind::kRequest)),
              "ERR_HTTP2_INVALID_CONNECTION_HEADERS")
        << te.toString();
  }
}

TEST(PrepareOutgoingHeadersTest, ValuesMustNotHaveControlCharacters) {
  for (const std::string& value :
       std::vector<std::string>{"a\nb", "a\rb", std::string("a\0b", 3), "a\x7f"}) {
    expectError(prepareOutgoingHeaders({{"x-a", "ok"}, {"x-a", value}}, HeadersKind::kResponse),
                "ERR_INVALID_CHAR", "Invalid character in header content [\"x-a\"]");
  }
  expectError(prepareOutgoingHeaders({{":path", "/a\nb"}}, HeadersKind::kRequest),
              "ERR_INVALID_CHAR", "Invalid character in header content [\":path\"]");
  EXPECT_TRUE(prepareOutgoingHeaders({{"x-a", "\tcaf\xc3\xa9 "}}, HeadersKind::kResponse).ok());
}

TEST(PrepareOutgoingHeadersTest, ConnectRequests) {
  expectError(prepareOutgoingHeaders({{":method", "CONNECT"}}, HeadersKind::kRequest),
              "ERR_HTTP2_CONNECT_AUTHORITY", ":authority header is required for CONNECT requests");
  expectError(
      prepareOutgoingHeaders(
          {{":method", "CONNECT"}, {":authority", "a:1"}, {":path", "/"}, {":scheme", "http"}},
          HeadersKind::kRequest),
      "ERR_HTTP2_CONNECT_SCHEME", "The :scheme header is forbidden for CONNECT requests");
  expectError(
      prepareOutgoingHeaders({{":method", "CONNECT"}, {":authority", "a:1"}, {":path", "/"}},
                             HeadersKind::kRequest),
      "ERR_HTTP2_CONNECT_PATH", "The :path header is forbidden for CONNECT requests");
  EXPECT_TRUE(
      prepareOutgoingHeaders({{":method", "CONNECT"}, {":authority", "a:1"}}, HeadersKind::kRequest)
          .ok());
  // With :protocol (RFC 8441) the ordinary rules apply; "connect" is not the CONNECT method.
  EXPECT_TRUE(prepareOutgoingHeaders({{":method", "CONNECT"}, {":protocol", "websocket"}},
                                     HeadersKind::kRequest)
                  .ok());
  EXPECT_TRUE(prepareOutgoingHeaders({{":method", "connect"}}, HeadersKind::kRequest).ok());
}

TEST(PrepareOutgoingHeadersTest, SensitiveFieldsAreNeverIndexed) {
  Headers h{{":status", "200"}, {"Cookie", "a"}, {"cookie", "b"}, {"x-b", "c"}};
  h.setSensitive("COOKIE").setSensitive(":status");
  EXPECT_EQ(prepareOutgoingHeaders(h, HeadersKind::kResponse).value(),
            (Fields{{":status", "200", true},
                    {"cookie", "a", true},
                    {"cookie", "b", true},
                    {"x-b", "c", false}}));
}

TEST(HeaderBlockTest, LengthIsNamePlusValuePlus32) {
  EXPECT_EQ(headerBlockLength({}), 0u);
  EXPECT_EQ(headerBlockLength({{"a", "bc", false}, {":path", "/", true}}),
            (1 + 2 + 32) + (5 + 1 + 32));
}

TEST(HeaderBlockTest, BoundIsNghttp2sHeadersEstimate) {
  nghttp2_hd_deflater* deflater = nullptr;
  ASSERT_EQ(nghttp2_hd_deflate_new(&deflater, 4096), 0);
  const std::vector<Fields> cases = {
      {},
      {{"a", "", false}},
      {{":method", "GET", false}, {"x-long", std::string(70000, 'v'), true}},
      {{std::string(300, 'n'), std::string(127, 'v'), false}, {"b", "c", false}, {"d", "", false}}};
  for (const Fields& fields : cases) {
    std::vector<nghttp2_nv> nva;
    for (const OutgoingField& f : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                     f.value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    // Plus NGHTTP2_PRIORITY_SPECLEN (not in nghttp2's public header), as nghttp2's session adds.
    EXPECT_EQ(headerBlockBound(fields),
              nghttp2_hd_deflate_bound(deflater, nva.data(), nva.size()) + 5);
  }
  nghttp2_hd_deflate_del(deflater);
}

}  // namespace
}  // namespace h2rpc::transport
