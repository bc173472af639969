// Compares getDefaultSettings/getPackedSettings/getUnpackedSettings with real Node at test time:
// every case is run through Node's own functions (testdata/settings_oracle.js) and through ours,
// and the bytes, the decoded settings or the error code and message must be identical.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "transport/errors.h"
#include "transport/node_oracle.h"
#include "transport/settings.h"

namespace h2rpc::transport {
namespace {

using testing::fromHex;
using testing::splitLines;
using testing::splitTabs;
using testing::toHex;

std::string json(const Settings& s) {
  std::vector<std::string> parts;
  auto add = [&](const char* name, const auto& v) {
    if (v) parts.push_back(absl::StrCat("\"", name, "\":", *v));
  };
  auto addBool = [&](const char* name, const std::optional<bool>& v) {
    if (v) parts.push_back(absl::StrCat("\"", name, "\":", *v ? "true" : "false"));
  };
  add("headerTableSize", s.headerTableSize);
  addBool("enablePush", s.enablePush);
  add("initialWindowSize", s.initialWindowSize);
  add("maxFrameSize", s.maxFrameSize);
  add("maxConcurrentStreams", s.maxConcurrentStreams);
  add("maxHeaderListSize", s.maxHeaderListSize);
  add("maxHeaderSize", s.maxHeaderSize);
  addBool("enableConnectProtocol", s.enableConnectProtocol);
  if (!s.customSettings.empty()) {
    std::vector<std::string> custom;
    for (const auto& [id, value] : s.customSettings)
      custom.push_back(absl::StrCat("\"", id, "\":", value));
    parts.push_back(absl::StrCat("\"customSettings\":{", absl::StrJoin(custom, ","), "}"));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

// The same text settings_oracle.js prints for a Node settings object.
std::string canonical(const Settings& s) {
  std::vector<std::string> parts;
  auto add = [&](const char* name, const auto& v) {
    if (v) parts.push_back(absl::StrCat(name, "=", *v));
  };
  auto addBool = [&](const char* name, const std::optional<bool>& v) {
    if (v) parts.push_back(absl::StrCat(name, "=", *v ? "true" : "false"));
  };
  add("headerTableSize", s.headerTableSize);
  addBool("enablePush", s.enablePush);
  add("initialWindowSize", s.initialWindowSize);
  add("maxFrameSize", s.maxFrameSize);
  add("maxConcurrentStreams", s.maxConcurrentStreams);
  add("maxHeaderListSize", s.maxHeaderListSize);
  add("maxHeaderSize", s.maxHeaderSize);
  addBool("enableConnectProtocol", s.enableConnectProtocol);
  for (const auto& [id, value] : s.customSettings)
    parts.push_back(absl::StrCat("custom.", id, "=", value));
  return absl::StrJoin(parts, ",");
}

// Our answer in the oracle's format. Node's `undefined` (nghttp2 refused to pack) is our
// ERR_HTTP2_ERROR.
template <typename T, typename Format>
std::string answer(const absl::StatusOr<T>& result, Format format) {
  if (result.ok()) return absl::StrCat("OK\t", format(*result));
  if (nodeErrorCode(result.status()) == "ERR_HTTP2_ERROR") return "UNDEF";
  return absl::StrCat("ERR\t", nodeErrorCode(result.status()), "\t",
                      nodeErrorMessage(result.status()));
}

std::vector<Settings> packCases() {
  std::vector<Settings> cases = {
      {},
      {.enablePush = false},
      {.enablePush = true},
      {.headerTableSize = 1,
       .enablePush = true,
       .initialWindowSize = 3,
       .maxFrameSize = 16385,
       .maxConcurrentStreams = 5,
       .maxHeaderListSize = 6,
       .enableConnectProtocol = true},
      {.maxHeaderSize = 7},
      {.maxHeaderListSize = 8, .maxHeaderSize = 7},
      {.maxHeaderListSize = 8, .maxHeaderSize = 8},
      {.maxFrameSize = 16383},
      {.maxFrameSize = 16384},
      {.maxFrameSize = 16777215},
      {.maxFrameSize = 16777216},
      {.initialWindowSize = 2147483647},
      {.initialWindowSize = 2147483648u},
      {.headerTableSize = 0},
      {.headerTableSize = 4294967295u},
      {.maxConcurrentStreams = 0},
      {.enableConnectProtocol = false},
      {.customSettings = {{9, 1}}},
      {.customSettings = {{9, 0}}},
      {.customSettings = {{9, 5}}},
      {.customSettings = {{0, 1}}},
      {.customSettings = {{7, 5}}},
      {.customSettings = {{8, 1}}},
      {.customSettings = {{8, 7}}},
      {.customSettings = {{65535, 4294967295u}}},
      {.customSettings = {{1, 1}}},
      {.customSettings = {{1, 100}}},
      {.customSettings = {{2, 100}}},
      {.customSettings = {{3, 100}}},
      {.customSettings = {{3, 20000}}},
      {.customSettings = {{4, 100}}},
      {.customSettings = {{5, 100}}},
      {.customSettings = {{6, 1}}},
      {.maxConcurrentStreams = 7, .customSettings = {{4, 100}}},
      {.enablePush = false, .customSettings = {{1, 1}, {20, 3}}},
      {.maxFrameSize = 1, .customSettings = {{10, 0}}},
  };
  Settings ten, elevenOneSlot, eleven;
  for (uint16_t id = 10; id < 20; ++id) ten.customSettings[id] = 100 + id;
  elevenOneSlot = eleven = ten;
  elevenOneSlot.customSettings[2] = 1;
  eleven.customSettings[40] = 1;
  eleven.maxFrameSize = 1;
  cases.insert(cases.end(), {ten, elevenOneSlot, eleven});
  return cases;
}

std::string entry(uint16_t id, uint32_t value) {
  return fromHex(absl::StrCat(absl::Hex(id, absl::kZeroPad4), absl::Hex(value, absl::kZeroPad8)));
}

std::vector<std::string> unpackCases() {
  std::vector<std::string> cases = {
      "",
      entry(1, 1),
      entry(2, 0) + entry(2, 2) + entry(8, 5),
      entry(2, 0) + entry(8, 0),
      entry(6, 100),
      entry(0, 1) + entry(7, 2) + entry(9, 3) + entry(65535, 4294967295u),
      entry(9, 1) + entry(9, 2),
      entry(5, 1),
      entry(5, 16777216),
      entry(4, 2147483648u),
      entry(3, 0) + entry(1, 0) + entry(4, 0),
      std::string(5, '\0'),
      std::string(7, '\1'),
  };
  std::string many;
  for (uint16_t id = 10; id < 21; ++id) many += entry(id, id);
  cases.push_back(many);
  return cases;
}

TEST(SettingsNodeOracleTest, MatchesNodeByteForByte) {
  std::vector<std::string> input, ours;
  input.push_back("defaults\t-");
  ours.push_back(absl::StrCat("OK\t", canonical(getDefaultSettings())));
  for (const Settings& s : packCases()) {
    input.push_back(absl::StrCat("pack\t", json(s)));
    ours.push_back(answer(getPackedSettings(s), [](const std::string& b) { return toHex(b); }));
    // What we pack must unpack in Node as in our code, too.
    if (absl::StatusOr<std::string> packed = getPackedSettings(s); packed.ok()) {
      input.push_back(absl::StrCat("unpack\t", toHex(*packed)));
      ours.push_back(answer(getUnpackedSettings(*packed), canonical));
    }
  }
  for (const std::string& buf : unpackCases()) {
    input.push_back(absl::StrCat("unpack\t", toHex(buf)));
    ours.push_back(answer(getUnpackedSettings(buf), canonical));
    input.push_back(absl::StrCat("unpackv\t", toHex(buf)));
    ours.push_back(answer(getUnpackedSettings(buf, {.validate = true}), canonical));
  }

  std::string casesFile =
      testing::writeTempFile("settings_cases.txt", absl::StrJoin(input, "\n") + "\n");
  absl::StatusOr<std::string> output =
      testing::runNodeScript("transport/testdata/settings_oracle.js", {casesFile});
  ASSERT_TRUE(output.ok()) << output.status();
  std::vector<std::string> node = splitLines(*output);
  ASSERT_EQ(node.size(), input.size()) << *output;
  for (size_t i = 0; i < input.size(); ++i) {
    EXPECT_EQ(ours[i], node[i]) << "case: " << input[i];
  }
  // The cases must keep covering Node's three kinds of answer.
  auto count = [&](std::string_view prefix) {
    return std::count_if(node.begin(), node.end(),
                         [&](const std::string& line) { return line.rfind(prefix, 0) == 0; });
  };
  EXPECT_GT(count("OK\t"), 20);
  EXPECT_GT(count("ERR\t"), 10);
  EXPECT_GT(count("UNDEF"), 3);
}

}  // namespace
}  // namespace h2rpc::transport
