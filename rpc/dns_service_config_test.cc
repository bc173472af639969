// gRFC A2 (rpc/dns_service_config.h): the grpc_config= TXT record, the choice of a service
// config, a table of malformed inputs (no config and an error, never a crash), and the parsing
// of DNS answer messages.
#include "rpc/dns_service_config.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace h2rpc::rpc {
namespace {

ServiceConfigChoiceContext Context(int random_percent = 0, std::string hostname = "host-a") {
  ServiceConfigChoiceContext c;
  c.hostname = std::move(hostname);
  c.random_percent = random_percent;
  return c;
}

TEST(GrpcConfigFromTxt, JoinsTheStringsOfTheFirstRecordWithThePrefix) {
  TxtRecords records = {
      {"v=spf1 -all"},
      {"grpc_con", "fig=[{\"serviceConfig\":", "{}}]"},
      {"grpc_config=[]"},  // a second one: ignored, as gRPC C-core does
  };
  EXPECT_EQ(GrpcConfigFromTxt(records), "[{\"serviceConfig\":{}}]");
  EXPECT_EQ(GrpcConfigFromTxt({{"other"}, {"grpc_config=[1]"}}), "[1]");
  EXPECT_EQ(GrpcConfigFromTxt({{"v=spf1"}, {"xgrpc_config=[]"}}), std::nullopt);
  EXPECT_EQ(GrpcConfigFromTxt({}), std::nullopt);
  EXPECT_EQ(GrpcConfigTxtName("api.example.com"), "_grpc_config.api.example.com");
}

TEST(ChooseServiceConfig, TakesTheFirstChoiceThatMatchesLanguagePercentageAndHostname) {
  const std::string json = R"([
    {"clientLanguage":["go","java"], "serviceConfig":{"loadBalancingPolicy":"go"}},
    {"clientLanguage":["C++"], "clientHostname":["host-b"], "serviceConfig":{"n":"b"}},
    {"percentage":50, "serviceConfig":{"n":"half"}},
    {"clientLanguage":["c++"], "serviceConfig":{"n":"cpp"}}
  ])";
  // Random 49 < 50: the 50 % choice applies.
  auto chosen = ChooseServiceConfig(json, Context(49));
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(*chosen, R"({"n":"half"})");
  // Random 50: it does not; the next c++ one does.
  chosen = ChooseServiceConfig(json, Context(50));
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen, R"({"n":"cpp"})");
  // On host-b (language matched case-insensitively), the hostname choice comes first.
  chosen = ChooseServiceConfig(json, Context(0, "host-b"));
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen, R"({"n":"b"})");
}

TEST(ChooseServiceConfig, NoChoiceAppliesGivesNoConfigAndNoError) {
  for (const char* json : {
           "[]",
           R"([{"clientLanguage":["go"],"serviceConfig":{}}])",
           R"([{"percentage":0,"serviceConfig":{}}])",
           R"([{"clientHostname":["elsewhere"],"serviceConfig":{}}])",
       }) {
    auto chosen = ChooseServiceConfig(json, Context(0));
    ASSERT_TRUE(chosen.ok()) << json << ": " << chosen.status();
    EXPECT_EQ(*chosen, std::nullopt) << json;
  }
  // 100 % applies whatever the draw.
  auto all = ChooseServiceConfig(R"([{"percentage":100,"serviceConfig":{"a":1}}])", Context(99));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, R"({"a":1})");
}

TEST(ChooseServiceConfig, KeepsTheServiceConfigAsJsonAndIgnoresUnknownFields) {
  auto chosen = ChooseServiceConfig(
      R"([{"futureField":{"x":[1]},"serviceConfig":{"methodConfig":[{"name":[{"service":"s"}],)"
      R"("timeout":"1.5s","retryPolicy":{"maxAttempts":3}}]}}])",
      Context());
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  ASSERT_TRUE(chosen->has_value());
  EXPECT_NE((*chosen)->find("\"timeout\":\"1.5s\""), std::string::npos) << **chosen;
  EXPECT_NE((*chosen)->find("\"maxAttempts\":3"), std::string::npos) << **chosen;
}

// Malformed records: no config, an INVALID_ARGUMENT error naming the problem, never a crash.
TEST(ChooseServiceConfig, BadInputTable) {
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  const std::string long_string = "[{\"serviceConfig\":{\"x\":\"" + std::string(100000, 'a') + "\"}}";
  const std::vector<std::string> bad = {
      "",
      "   ",
      "[",
      "{",
      "{}",                                         // an object, not an array
      "null",
      "42",
      "\"[]\"",
      "[] trailing",
      "[1]",                                        // a choice that is not an object
      "[[]]",
      "[{}]",                                       // no serviceConfig
      R"([{"serviceConfig":1}])",
      R"([{"serviceConfig":[]}])",
      R"([{"serviceConfig":"{}"}])",
      R"([{"clientLanguage":"c++","serviceConfig":{}}])",
      R"([{"clientLanguage":[1],"serviceConfig":{}}])",
      R"([{"clientHostname":{"a":1},"serviceConfig":{}}])",
      R"([{"percentage":"50","serviceConfig":{}}])",
      R"([{"percentage":-1,"serviceConfig":{}}])",
      R"([{"percentage":101,"serviceConfig":{}}])",
      R"([{"percentage":50.5,"serviceConfig":{}}])",
      R"([{"percentage":1e400,"serviceConfig":{}}])",
      R"([{"serviceConfig":{}}, 7])",               // a bad choice after a good one
      R"([{"serviceConfig":{"a":}}])",
      "[{\"serviceConfig\":{\"a\":\"\xff\xfe\"}}]",  // not UTF-8
      deep,
      long_string,                                  // unterminated array
  };
  for (const std::string& json : bad) {
    auto chosen = ChooseServiceConfig(json, Context());
    EXPECT_FALSE(chosen.ok()) << "accepted: " << json.substr(0, 80);
    if (!chosen.ok()) {
      EXPECT_EQ(chosen.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(chosen.status().message().find("grpc_config"), std::string::npos);
    }
    DnsServiceConfig from_dns =
        ServiceConfigFromTxtAnswer(TxtRecords{{"grpc_config=" + json}}, Context());
    EXPECT_EQ(from_dns.service_config, std::nullopt);
    EXPECT_FALSE(from_dns.error.ok());
  }
}

// What protobuf's JSON parser (ours) tolerates that strict JSON does not: a trailing comma and
// a raw control character in a string. Kept as they are (the config is then well-formed JSON
// again when re-serialized), as gRPC C-core's own parser is strict: a difference, documented.
TEST(ChooseServiceConfig, ToleratesWhatProtobufsJsonParserTolerates) {
  auto comma = ChooseServiceConfig(R"([{"serviceConfig":{"a":1,}}])", Context());
  ASSERT_TRUE(comma.ok()) << comma.status();
  EXPECT_EQ(*comma, R"({"a":1})");
  auto nul = ChooseServiceConfig(
      std::string("[{\"serviceConfig\":{\"a\":\"") + '\0' + "\"}}]", Context());
  ASSERT_TRUE(nul.ok()) << nul.status();
  EXPECT_EQ(*nul, R"({"a":"\u0000"})");
}

TEST(ServiceConfigFromTxtAnswer, NoRecordIsNoErrorAndFailedLookupsAreKept) {
  DnsServiceConfig none = ServiceConfigFromTxtAnswer(absl::NotFoundError("none"), Context());
  EXPECT_EQ(none.service_config, std::nullopt);
  EXPECT_TRUE(none.error.ok());
  DnsServiceConfig failed =
      ServiceConfigFromTxtAnswer(absl::UnavailableError("timed out"), Context());
  EXPECT_EQ(failed.service_config, std::nullopt);
  EXPECT_EQ(failed.error.code(), absl::StatusCode::kUnavailable);
  DnsServiceConfig other = ServiceConfigFromTxtAnswer(TxtRecords{{"v=spf1"}}, Context());
  EXPECT_EQ(other.service_config, std::nullopt);
  EXPECT_TRUE(other.error.ok());
  DnsServiceConfig good = ServiceConfigFromTxtAnswer(
      TxtRecords{{"grpc_config=[{\"serviceConfig\":{\"loadBalancingPolicy\":\"round_robin\"}}]"}},
      Context());
  EXPECT_EQ(good.service_config, R"({"loadBalancingPolicy":"round_robin"})");
  EXPECT_TRUE(good.error.ok());
}

// A DNS answer message: header, the question, then one TXT record per entry of `records`.
std::vector<unsigned char> Answer(const std::vector<std::vector<std::string>>& records,
                                  uint16_t type = 16) {
  std::vector<unsigned char> m = {0x12, 0x34, 0x81, 0x80, 0, 1, 0,
                                  static_cast<unsigned char>(records.size()), 0, 0, 0, 0};
  for (const char* label : {"_grpc_config", "example", "com"}) {
    m.push_back(static_cast<unsigned char>(std::string(label).size()));
    for (const char* c = label; *c; ++c) m.push_back(static_cast<unsigned char>(*c));
  }
  m.insert(m.end(), {0, 0, 16, 0, 1});
  for (const auto& strings : records) {
    std::vector<unsigned char> rdata;
    for (const std::string& s : strings) {
      rdata.push_back(static_cast<unsigned char>(s.size()));
      rdata.insert(rdata.end(), s.begin(), s.end());
    }
    m.insert(m.end(), {0xc0, 0x0c, static_cast<unsigned char>(type >> 8),
                       static_cast<unsigned char>(type), 0, 1, 0, 0, 0, 60,
                       static_cast<unsigned char>(rdata.size() >> 8),
                       static_cast<unsigned char>(rdata.size())});
    m.insert(m.end(), rdata.begin(), rdata.end());
  }
  return m;
}

TEST(ParseTxtAnswer, ReadsEveryRecordWithItsStrings) {
  std::vector<unsigned char> m = Answer({{"v=spf1"}, {"grpc_config=[", "]"}});
  auto records = ParseTxtAnswer(m.data(), static_cast<int>(m.size()));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0], std::vector<std::string>({"v=spf1"}));
  EXPECT_EQ((*records)[1], std::vector<std::string>({"grpc_config=[", "]"}));
  EXPECT_EQ(GrpcConfigFromTxt(*records), "[]");
}

TEST(ParseTxtAnswer, BadMessagesAreErrors) {
  std::vector<unsigned char> good = Answer({{"grpc_config=[]"}});
  // Truncated anywhere: an error, never a read past the end.
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<unsigned char> cut(good.begin(), good.begin() + static_cast<long>(n));
    auto r = ParseTxtAnswer(cut.empty() ? nullptr : cut.data(), static_cast<int>(n));
    EXPECT_FALSE(r.ok()) << n;
  }
  // A string length past the record's end.
  std::vector<unsigned char> overlong = good;
  overlong[overlong.size() - 15] = 200;  // the TXT string's length byte
  auto r = ParseTxtAnswer(overlong.data(), static_cast<int>(overlong.size()));
  EXPECT_FALSE(r.ok());
  // Only records of other types: NOT_FOUND.
  std::vector<unsigned char> cname = Answer({{"x"}}, /*type=*/5);
  r = ParseTxtAnswer(cname.data(), static_cast<int>(cname.size()));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace h2rpc::rpc
