// Compares parseAuthority()/defaultAuthority() — what connect() makes of a URL — with Node 20's
// http2.connect() at test time (testdata/authority_oracle.js): the protocol and the session's
// default :authority, or the error code. Our deliberate deviations are listed below and checked
// to still differ from Node exactly as transport/README.md says.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "transport/connect.h"
#include "transport/errors.h"
#include "transport/node_oracle.h"

namespace h2rpc::transport {
namespace {

using testing::splitLines;
using testing::toHex;

std::string ours(const std::string& url) {
  auto parsed = parseAuthority(url);
  if (!parsed.ok()) return absl::StrCat("ERR\t", nodeErrorCode(parsed.status()));
  return absl::StrCat("OK\t", parsed->scheme, ":\t", defaultAuthority(*parsed));
}

// Node's :authority for an IPv6 host ("::1:8080"): ours without its brackets. We keep them.
std::string withoutBrackets(std::string answer) {
  std::erase(answer, '[');
  std::erase(answer, ']');
  return answer;
}

TEST(ConnectNodeOracleTest, UrlAndDefaultAuthorityMatchNode) {
  const std::vector<std::string> cases = {
      "http://localhost:80", "https://localhost:443", "http://localhost", "https://localhost",
      "http://localhost:443", "https://h.example:80", "http://LocalHost:8080/x?y",
      "http://127.1:8080", "http://0x7f.1:8080", "http://127.0.0.1", "http://0x7f000001:1",
      "http://017700000001:2", "http://127.0.1:3", "http://1.2.3.4.:5", "http://0x:6",
      "http://user:pw@h.example:8080/p", "http://@h.example", "http://h.example:08080",
      "HTTP://h.example:8080", "hTtPs://h.example", "http:h.example:8080", " http://h.example:8080 ",
      "http://h.ex\tample:8080", "http://h.example\n:8080", "\x01http://h.example:9\x1f",
      "http://h.example:8080#frag", "http://h.example?q", "http:\\\\h.example:8080",
      "http:///h.example:8080", "https:/\\/h.example", "http://h.example:", "http://%41.example:8080",
      "http://h.example.:8080", "http://xn--nxasmq6b.example", "http://a*b", "http://a_b",
      "http://a!b", "http://[::1]:8080", "http://[0:0:0:0:0:0:0:1]", "http://[1:0:0:2:0:0:0:3]",
      "http://[1:2:3:4:5:6:7:8]", "http://[::FFFF:127.0.0.1]", "http://[2001:DB8::]:443",
      // errors
      "ftp://h.example", "h.example:8080", "foo:", "http://", "https://", "http://h.example:99999",
      "http://h.example:65536", "http://h.example:-1", "http://h example", "http://a:b:80",
      "http://::1]:80", "http://a[b", "http://[::1", "http://[a[b]:80", "http://[::1]x",
      "http://[1:2:3:4:5:6:7:8:9]", "http://256.0.0.1", "http://1.2.3.4.5", "http://1.2.3.08",
      "http://09", "http://a.1", "http://foo.09", "http://4294967296", "http://a%20b",
      "http://%zz", "http://a%2Fb", "http://a^b", "http://a|b", "http://a<b", "http://u@",
      "http://h.example:1a", "://h", "1http://h", "",
  };
  // Where we differ from Node on purpose (README, "Deviations from Node 20"): url → Node's
  // answer; ours is checked separately.
  // (Every IPv6 host is one: Node leaves its brackets out of :authority; see withoutBrackets.)
  const std::map<std::string, std::string> deviations = {
      {"http://h.example:0", "OK\thttp:\th.example:0"},
      {"http://\xc3\xb1.example", "OK\thttp:\txn--ida.example:80"},
  };
  std::vector<std::string> all = cases;
  for (const auto& [url, node] : deviations) {
    if (std::find(all.begin(), all.end(), url) == all.end()) all.push_back(url);
  }
  std::vector<std::string> hex;
  for (const std::string& url : all) hex.push_back(toHex(url));
  // An empty URL has an empty hex line, which the oracle would skip: give it a case of its own.
  std::string file = testing::writeTempFile("authority_cases.txt", absl::StrJoin(hex, "\n") + "\n");
  absl::StatusOr<std::string> output =
      testing::runNodeScript("transport/testdata/authority_oracle.js", {file});
  ASSERT_TRUE(output.ok()) << output.status();
  std::vector<std::string> node = splitLines(*output);
  std::vector<std::string> expected_node;
  size_t line = 0;
  for (const std::string& url : all) {
    if (url.empty()) {
      EXPECT_EQ(ours(url), "ERR\tERR_INVALID_URL");  // new URL('') throws ERR_INVALID_URL
      continue;
    }
    ASSERT_LT(line, node.size()) << *output;
    const std::string& answer = node[line++];
    auto deviation = deviations.find(url);
    if (deviation != deviations.end()) {
      EXPECT_EQ(answer, deviation->second) << "Node changed on deviation " << url;
      continue;
    }
    EXPECT_EQ(withoutBrackets(ours(url)), answer) << "url: " << url;
  }
  EXPECT_EQ(line, node.size());
  // Our side of the deviations.
  EXPECT_EQ(ours("http://[::1]:8080"), "OK\thttp:\t[::1]:8080");
  EXPECT_EQ(ours("http://[0:0:0:0:0:0:0:1]"), "OK\thttp:\t[::1]:80");
  EXPECT_EQ(ours("http://h.example:0"), "ERR\tERR_INVALID_URL");
  EXPECT_EQ(ours("http://\xc3\xb1.example"), "ERR\tERR_INVALID_URL");
}

}  // namespace
}  // namespace h2rpc::transport
