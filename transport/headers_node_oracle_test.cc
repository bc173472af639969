// Runs each header case through real Node http2 at test time (testdata/headers_oracle.js: a Node
// server and client on 127.0.0.1 calling request/respond/sendTrailers/additionalHeaders) and
// compares with prepareOutgoingHeaders:
//   - where we accept, Node sends exactly our fields, in our order, never-indexed as we say;
//   - where we refuse, Node throws the same code and message;
//   - our two documented extra refusals (non-token names, control characters in values) are cases
//     where Node's peer drops the field or Node destroys the session, checked as such;
//   - headerBlockBound / headerBlockLength are exactly the limits Node enforces for
//     maxSendHeaderBlockLength and maxHeaderListSize;
//   - Headers::get/getAll give what Node's headers object holds when the same fields arrive
//     (testdata/incoming_headers_oracle.js sends them with a raw HPACK client).
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "transport/errors.h"
#include "transport/headers.h"
#include "transport/node_oracle.h"

namespace h2rpc::transport {
namespace {

using testing::fromHex;
using testing::splitLines;
using testing::splitTabs;
using testing::toHex;

enum class Expect {
  kSame,            // same outcome in Node: same fields sent, or same error thrown
  kNodeLosesField,  // we refuse; Node sends and the peer drops `lost`, or Node fails the session
  kPeerRejects,     // we accept, Node sends too, and the peer resets the stream
};

struct Case {
  std::string kind;  // request, respond, trailers, info, bound, listsize
  Headers headers;
  Expect expect = Expect::kSame;
  std::string lost = "";
  size_t limit = 0;
};

HeadersKind headersKind(const std::string& kind) {
  if (kind == "respond") return HeadersKind::kResponse;
  if (kind == "trailers") return HeadersKind::kTrailers;
  if (kind == "info") return HeadersKind::kInfo;
  return HeadersKind::kRequest;
}

std::string encode(const Case& c) {
  std::vector<std::string> fields, sensitive;
  for (const HeaderField& f : c.headers) fields.push_back(toHex(f.name) + ":" + toHex(f.value));
  for (const std::string& name : c.headers.sensitiveHeaders()) sensitive.push_back(toHex(name));
  return absl::StrCat(c.kind, "\t", c.limit, "\t", absl::StrJoin(sensitive, ","), "\t",
                      absl::StrJoin(fields, ","));
}

struct Sent {
  std::vector<std::pair<std::string, std::string>> fields;
  std::set<std::string> sensitive;
};

std::vector<std::string> splitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipEmpty());
}

Sent parseSent(const std::vector<std::string>& f) {
  Sent sent;
  for (const std::string& pair : splitList(f[1])) {
    std::vector<std::string> nv = absl::StrSplit(pair, ':');
    sent.fields.emplace_back(fromHex(nv[0]), fromHex(nv[1]));
  }
  for (const std::string& name : splitList(f[2])) sent.sensitive.insert(name);
  return sent;
}

// Never-indexed names the peer should see: ours, plus the two nghttp2's encoder adds on its own
// (authorization, and cookie values shorter than 20 bytes).
std::set<std::string> expectedSensitive(const std::vector<OutgoingField>& fields) {
  std::set<std::string> names;
  for (const OutgoingField& f : fields) {
    if (f.neverIndex || f.name == "authorization" || (f.name == "cookie" && f.value.size() < 20)) {
      names.insert(f.name);
    }
  }
  return names;
}

void check(const Case& c, const std::string& nodeLine) {
  SCOPED_TRACE(absl::StrCat(c.kind, " ", c.headers.toString(), " -> node: ", nodeLine));
  std::vector<std::string> node = splitTabs(nodeLine);
  absl::StatusOr<std::vector<OutgoingField>> ours =
      prepareOutgoingHeaders(c.headers, headersKind(c.kind));
  const std::string ourError =
      ours.ok() ? ""
                : absl::StrCat(nodeErrorCode(ours.status()), "\t", nodeErrorMessage(ours.status()));
  switch (c.expect) {
    case Expect::kSame:
      if (!ours.ok()) {
        EXPECT_EQ(nodeLine, "THROW\t" + ourError);
        return;
      }
      ASSERT_EQ(node[0], "SENT");
      {
        Sent sent = parseSent(node);
        std::vector<std::pair<std::string, std::string>> expected;
        for (const OutgoingField& f : *ours) expected.emplace_back(f.name, f.value);
        EXPECT_EQ(sent.fields, expected);
        EXPECT_EQ(sent.sensitive, expectedSensitive(*ours));
      }
      return;
    case Expect::kNodeLosesField:
      ASSERT_FALSE(ours.ok()) << "we should refuse this";
      if (node[0] == "ASYNC") {
        EXPECT_EQ(nodeLine, "ASYNC\t" + ourError);
      } else {
        ASSERT_EQ(node[0], "SENT");
        for (const auto& [name, value] : parseSent(node).fields) EXPECT_NE(name, c.lost);
      }
      return;
    case Expect::kPeerRejects:
      EXPECT_TRUE(ours.ok()) << ours.status();
      EXPECT_EQ(
          nodeLine,
          "ASYNC\tERR_HTTP2_STREAM_ERROR\tStream closed with error code NGHTTP2_PROTOCOL_ERROR");
      return;
  }
}

std::vector<std::string> runOracle(const std::vector<Case>& cases) {
  std::vector<std::string> input;
  for (const Case& c : cases) input.push_back(encode(c));
  std::string file = testing::writeTempFile("headers_cases.txt", absl::StrJoin(input, "\n") + "\n");
  absl::StatusOr<std::string> output =
      testing::runNodeScript("transport/testdata/headers_oracle.js", {file});
  EXPECT_TRUE(output.ok()) << output.status();
  if (!output.ok()) return {};
  std::vector<std::string> lines = splitLines(*output);
  EXPECT_EQ(lines.size(), cases.size()) << *output;
  return lines;
}

// A complete request, so that Node adds no default pseudo-header of its own.
Headers request(std::initializer_list<std::pair<std::string_view, std::string_view>> more = {}) {
  Headers h{{":method", "GET"}, {":scheme", "http"}, {":authority", "a.example"}, {":path", "/"}};
  for (const auto& [name, value] : more) h.add(name, value);
  return h;
}

Headers sensitive(Headers h, std::string_view name) {
  h.setSensitive(name);
  return h;
}

std::vector<Case> cases() {
  using E = Expect;
  return {
      // request()
      {"request", request({{"x-a", "1"}, {"x-a", "2"}, {"X-Up", "v"}, {"te", "trailers"}})},
      {"request", Headers{{"x-first", "1"},
                          {":path", "/p"},
                          {":method", "POST"},
                          {":scheme", "http"},
                          {":authority", "a"}}},
      {"request", request({{"cookie", "c1"},
                           {"cookie", "a-cookie-longer-than-20"},
                           {"authorization", "z"},
                           {"user-agent", "ua"}})},
      {"request", sensitive(request({{"X-S", "1"}, {"x-s", "2"}, {"x-t", "3"}}), "x-S")},
      {"request", request({{"", "skipped"}, {"x-b", "1"}})},
      {"request", Headers{{":method", "CONNECT"}, {":authority", "a.example:443"}}},
      {"request", request({{":foo", "1"}})},
      {"request", request({{"content-type", "a"}, {"content-type", "b"}, {":foo", "1"}})},
      {"request", request({{"x y", "1"}})},
      {"request", request({{"connection", "close"}})},
      {"request", request({{"upgrade", "h2c"}})},
      {"request", request({{"http2-settings", "x"}})},
      {"request", request({{"keep-alive", "1"}})},
      {"request", request({{"proxy-connection", "x"}})},
      {"request", request({{"transfer-encoding", "chunked"}})},
      {"request", request({{"te", "gzip"}})},
      {"request", request({{"te", "Trailers"}})},
      {"request", request({{"te", "trailers"}, {"te", "trailers"}})},
      {"request", Headers{{":method", "CONNECT"}}},
      {"request", Headers{{":method", "CONNECT"}, {":authority", "a:1"}, {":path", "/"}}},
      {"request",
       Headers{{":method", "CONNECT"}, {":authority", "a:1"}, {":scheme", "http"}, {":path", "/"}}},
      {"request", request({{"x@y", "1"}}), E::kNodeLosesField, "x@y"},
      {"request", request({{"x-a", "a\nb"}, {"x-ok", "1"}}), E::kNodeLosesField, "x-a"},
      {"request", request({{":status", "200"}}), E::kPeerRejects},
      // respond()
      {"respond", Headers{{"x-a", "1"}, {":status", "204"}}},
      {"respond", Headers{{"x-a", "1"}}},
      {"respond", Headers{{":status", "abc"}}},
      {"respond", Headers{{":status", " 204 "}}},
      {"respond", Headers{{":status", "0x1f4"}}},
      {"respond", Headers{{":status", "2e2"}}},
      {"respond", Headers{{":status", "404.9"}}},
      {"respond", Headers{{":status", "4294967496"}}},
      {"respond", Headers{{":status", "1e400"}}},
      {"respond", Headers{{":status", ".5e3"}}},
      {"respond", Headers{{":status", "0b111110100"}}},
      {"respond", Headers{{":status", "0o764"}}},
      {"respond", Headers{{":status", "\t404\n"}}},
      {"respond", Headers{{":status", "204"}, {":status", "205"}}},
      {"respond", Headers{{":status", "599"}}},
      {"respond", Headers{{":status", "101"}}},
      {"respond", Headers{{":status", "100"}}},
      {"respond", Headers{{":status", "199"}}},
      {"respond", Headers{{":status", "600"}}},
      {"respond", Headers{{":status", "-1"}}},
      {"respond", Headers{{":status", "1e3"}}},
      {"respond", Headers{{"x y", "1"}, {":status", "700"}}},
      {"respond", Headers{{":method", "GET"}}},
      {"respond", Headers{{"content-type", "a"}, {"Content-Type", "b"}}},
      {"respond", Headers{{"x y", "1"}}},
      {"respond", Headers{{"connection", "close"}}},
      {"respond",
       sensitive(Headers{{"x-s", "1"}, {"set-cookie", "a"}, {"set-cookie", "b"}}, "X-S")},
      {"respond", Headers{{"x@y", "1"}, {"x-ok", "1"}}, E::kNodeLosesField, "x@y"},
      {"respond", Headers{{"x-a", "a\x01z"}, {"x-ok", "1"}}, E::kNodeLosesField, "x-a"},
      {"respond", Headers{{"x-a", "a\x7f"}, {"x-ok", "1"}}, E::kNodeLosesField, "x-a"},
      // additionalHeaders()
      {"info", Headers{{":status", "103"}, {"link", "</a>"}}},
      {"info", Headers{{":status", "101"}}},
      {"info", Headers{{":status", "200"}}},
      {"info", Headers{{":status", "99"}}},
      {"info", Headers{{":status", "abc"}}},
      {"info", Headers{{":status", "103"}, {":path", "/"}}},
      {"info", Headers{{"x-a", "1"}}, E::kPeerRejects},
      // sendTrailers()
      {"trailers", Headers{{"x-t", "1"}, {"X-T", "2"}, {"grpc-status", "0"}}},
      {"trailers", Headers{{":status", "200"}}},
      {"trailers", Headers{{"content-length", "1"}, {"content-length", "2"}}},
      {"trailers", Headers{{"connection", "close"}}},
      {"trailers", Headers{{"x-t", "a\rb"}, {"x-ok", "1"}}, E::kNodeLosesField, "x-t"},
  };
}

TEST(HeadersNodeOracleTest, PrepareOutgoingHeadersMatchesNode) {
  const std::vector<Case> all = cases();
  std::vector<std::string> node = runOracle(all);
  ASSERT_EQ(node.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) check(all[i], node[i]);
}

TEST(HeadersNodeOracleTest, BlockLimitsAreNodes) {
  Headers h = request({{"x-a", std::string(100, 'b')}, {"x-c", "d"}});
  std::vector<OutgoingField> fields = prepareOutgoingHeaders(h, HeadersKind::kRequest).value();
  const size_t bound = headerBlockBound(fields), length = headerBlockLength(fields);
  std::vector<Case> limits = {{"bound", h, Expect::kSame, "", bound},
                              {"bound", h, Expect::kSame, "", bound - 1},
                              {"listsize", h, Expect::kSame, "", length},
                              {"listsize", h, Expect::kSame, "", length - 1}};
  std::vector<std::string> node = runOracle(limits);
  ASSERT_EQ(node.size(), 4u);
  EXPECT_EQ(splitTabs(node[0])[0], "SENT") << "maxSendHeaderBlockLength = headerBlockBound";
  EXPECT_EQ(node[1],
            "ASYNC\tERR_HTTP2_STREAM_ERROR\tStream closed with error code NGHTTP2_REFUSED_STREAM");
  EXPECT_EQ(splitTabs(node[2])[0], "SENT") << "maxHeaderListSize = headerBlockLength";
  EXPECT_EQ(
      node[3],
      "ASYNC\tERR_HTTP2_STREAM_ERROR\tStream closed with error code NGHTTP2_ENHANCE_YOUR_CALM");
}

// --- incoming: Headers::get against the object Node builds from received fields ---

Headers incomingRequest(std::vector<std::pair<std::string, std::string>> more) {
  Headers h{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "a"}};
  for (const auto& [name, value] : more) h.add(name, value);
  return h;
}

TEST(HeadersNodeOracleTest, GetIsNodesIncomingHeadersObject) {
  std::vector<Headers> cases = {
      incomingRequest({{"cookie", "a=1"},
                       {"cookie", "b=2"},
                       {"cookie", ""},
                       {"set-cookie", "x"},
                       {"set-cookie", "y"},
                       {"x-multi", "1"},
                       {"x-multi", "2"},
                       {"x-e", ""},
                       {"x-e", ""},
                       {"x-e", "z"},
                       {"x-long", std::string(300, 'v')}}),
      incomingRequest({{"set-cookie", "only"}, {"cookie", ""}, {"cookie", "c"}}),
  };
  // Node's single-value headers other than the pseudo-headers, host and content-length (whose
  // duplicates nghttp2 refuses, see below), each twice; and ordinary headers, each twice.
  std::vector<std::pair<std::string, std::string>> singles, lists;
  for (const char* name : {"access-control-allow-credentials",
                           "access-control-max-age",
                           "access-control-request-method",
                           "age",
                           "authorization",
                           "content-encoding",
                           "content-language",
                           "content-location",
                           "content-md5",
                           "content-range",
                           "content-type",
                           "date",
                           "dnt",
                           "etag",
                           "expires",
                           "from",
                           "if-match",
                           "if-modified-since",
                           "if-none-match",
                           "if-range",
                           "if-unmodified-since",
                           "last-modified",
                           "location",
                           "max-forwards",
                           "proxy-authorization",
                           "range",
                           "referer",
                           "retry-after",
                           "tk",
                           "upgrade-insecure-requests",
                           "user-agent",
                           "x-content-type-options"}) {
    singles.insert(singles.end(), {{name, "first"}, {name, "second"}});
  }
  for (const char* name : {"accept", "accept-encoding", "cache-control", "link", "vary", "via",
                           "x-forwarded-for", "www-authenticate", "forwarded"}) {
    lists.insert(lists.end(), {{name, "first"}, {name, "second"}});
  }
  cases.push_back(incomingRequest(singles));
  cases.push_back(incomingRequest(lists));

  std::vector<std::string> input;
  for (const Headers& h : cases) {
    std::vector<std::string> fields;
    for (const HeaderField& f : h) fields.push_back(toHex(f.name) + ":" + toHex(f.value));
    input.push_back(absl::StrJoin(fields, ","));
  }
  std::string file =
      testing::writeTempFile("incoming_cases.txt", absl::StrJoin(input, "\n") + "\n");
  absl::StatusOr<std::string> output =
      testing::runNodeScript("transport/testdata/incoming_headers_oracle.js", {file});
  ASSERT_TRUE(output.ok()) << output.status();
  std::vector<std::string> lines = splitLines(*output);
  ASSERT_EQ(lines.size(), cases.size()) << *output;

  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(absl::StrCat(cases[i].toString(), " -> node: ", lines[i]));
    std::vector<std::string> f = splitTabs(lines[i]);
    ASSERT_EQ(f[0], "OK");
    std::set<std::string> nodeNames, ourNames;
    for (const HeaderField& field : cases[i]) ourNames.insert(field.name);
    for (const std::string& entry : splitList(f[1])) {
      std::vector<std::string> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
      const std::string name = fromHex(kv[0]);
      nodeNames.insert(name);
      if (kv[1][0] == 'A') {  // Node keeps an array (set-cookie): getAll is that array
        std::vector<std::string> values;
        std::vector<std::string> hexValues = absl::StrSplit(kv[1].substr(1), '|');
        for (const std::string& v : hexValues) values.push_back(fromHex(v));
        EXPECT_EQ(cases[i].getAll(name), values) << name;
        EXPECT_EQ(cases[i].get(name), absl::StrJoin(values, ", ")) << name;
      } else {
        EXPECT_EQ(cases[i].get(name), fromHex(kv[1].substr(1))) << name;
      }
    }
    EXPECT_EQ(nodeNames, ourNames);
  }
}

TEST(HeadersNodeOracleTest, SomeBlocksNeverReachNode) {
  // nghttp2 resets the stream (PROTOCOL_ERROR) for these, so a received Headers never holds
  // duplicate host, content-length or pseudo-headers, upper-case names, or te other than trailers.
  std::vector<Headers> cases = {incomingRequest({{"host", "a"}, {"host", "b"}}),
                                incomingRequest({{"content-length", "0"}, {"content-length", "0"}}),
                                incomingRequest({{":path", "/again"}}),
                                incomingRequest({{"te", "gzip"}}),
                                incomingRequest({{"X-Upper", "1"}})};
  std::vector<std::string> input;
  for (const Headers& h : cases) {
    std::vector<std::string> fields;
    for (const HeaderField& f : h) fields.push_back(toHex(f.name) + ":" + toHex(f.value));
    input.push_back(absl::StrJoin(fields, ","));
  }
  // The raw client sends names as given; put back the upper-case one Headers lower-cased.
  input.back() = absl::StrReplaceAll(input.back(), {{toHex("x-upper"), toHex("X-Upper")}});
  std::string file =
      testing::writeTempFile("incoming_resets.txt", absl::StrJoin(input, "\n") + "\n");
  absl::StatusOr<std::string> output =
      testing::runNodeScript("transport/testdata/incoming_headers_oracle.js", {file});
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_EQ(splitLines(*output), std::vector<std::string>(cases.size(), "RESET\t1"));
}

}  // namespace
}  // namespace h2rpc::transport
