// Settings: defaults, validation, packing order and quirks, unpacking. Expected bytes come from
// RFC 9113 section 6.5.1 (id: 16 bits, value: 32 bits, big-endian), the Node docs' example and
// Node 20's behaviour (settings_node_oracle_test checks the same rules against Node itself).
#include "transport/settings.h"

#include <string>

#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/errors.h"

namespace h2rpc::transport {
namespace {

// One 6-byte SETTINGS entry.
std::string entry(uint16_t id, uint32_t value) {
  return {static_cast<char>(id >> 8),
          static_cast<char>(id & 0xff),
          static_cast<char>(value >> 24),
          static_cast<char>((value >> 16) & 0xff),
          static_cast<char>((value >> 8) & 0xff),
          static_cast<char>(value & 0xff)};
}

void expectNodeError(const absl::Status& status, std::string_view code, std::string_view message) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(nodeErrorCode(status), code) << status;
  EXPECT_EQ(nodeErrorMessage(status), message) << status;
}

TEST(SettingsTest, DefaultsAreNodes) {
  Settings d = getDefaultSettings();
  EXPECT_EQ(d.headerTableSize, 4096u);
  EXPECT_EQ(d.enablePush, true);
  EXPECT_EQ(d.initialWindowSize, 65535u);
  EXPECT_EQ(d.maxFrameSize, 16384u);
  EXPECT_EQ(d.maxConcurrentStreams, 4294967295u);
  EXPECT_EQ(d.maxHeaderListSize, 65535u);
  EXPECT_EQ(d.maxHeaderSize, 65535u);
  EXPECT_EQ(d.enableConnectProtocol, false);
  EXPECT_TRUE(d.customSettings.empty());
}

TEST(SettingsTest, PacksNothingForEmptySettings) {
  EXPECT_EQ(getPackedSettings().value(), "");
  EXPECT_EQ(getPackedSettings(Settings{}).value(), "");
}

TEST(SettingsTest, PacksTheDocsExample) {
  // Node docs: getPackedSettings({ enablePush: false }).toString('base64') === 'AAIAAAAA'.
  EXPECT_EQ(getPackedSettings({.enablePush = false}).value(), std::string("\0\2\0\0\0\0", 6));
}

TEST(SettingsTest, PacksInNodesOrderWhateverTheFieldOrder) {
  Settings s{.headerTableSize = 1,
             .enablePush = true,
             .initialWindowSize = 3,
             .maxFrameSize = 16385,
             .maxConcurrentStreams = 5,
             .maxHeaderListSize = 6,
             .enableConnectProtocol = true,
             .customSettings = {{20, 2}, {10, 1}}};
  EXPECT_EQ(getPackedSettings(s).value(), entry(1, 1) + entry(2, 1) + entry(3, 5) + entry(4, 3) +
                                              entry(5, 16385) + entry(6, 6) + entry(8, 1) +
                                              entry(10, 1) + entry(20, 2));
}

TEST(SettingsTest, MaxHeaderSizeIsAnAliasThatWins) {
  EXPECT_EQ(getPackedSettings({.maxHeaderSize = 7}).value(), entry(6, 7));
  EXPECT_EQ(getPackedSettings({.maxHeaderListSize = 8, .maxHeaderSize = 7}).value(), entry(6, 7));
  EXPECT_EQ(getPackedSettings({.maxHeaderListSize = 8, .maxHeaderSize = 8}).value(), entry(6, 8));
  EXPECT_EQ(getPackedSettings({.maxHeaderListSize = 9}).value(), entry(6, 9));
}

TEST(SettingsTest, RangesAtTheirLimits) {
  EXPECT_TRUE(getPackedSettings({.maxFrameSize = 16384}).ok());
  EXPECT_TRUE(getPackedSettings({.maxFrameSize = 16777215}).ok());
  expectNodeError(getPackedSettings({.maxFrameSize = 16383}).status(),
                  "ERR_HTTP2_INVALID_SETTING_VALUE",
                  "Invalid value for setting \"maxFrameSize\": 16383");
  expectNodeError(validateSettings({.maxFrameSize = 16777216}), "ERR_HTTP2_INVALID_SETTING_VALUE",
                  "Invalid value for setting \"maxFrameSize\": 16777216");
  EXPECT_EQ(getPackedSettings({.initialWindowSize = 2147483647}).value(), entry(4, 2147483647));
  expectNodeError(validateSettings({.initialWindowSize = 2147483648u}),
                  "ERR_HTTP2_INVALID_SETTING_VALUE",
                  "Invalid value for setting \"initialWindowSize\": 2147483648");
  // No limit below 2^32 for the others.
  EXPECT_EQ(getPackedSettings({.headerTableSize = 0xffffffff}).value(), entry(1, 0xffffffff));
  EXPECT_EQ(getPackedSettings({.maxConcurrentStreams = 0}).value(), entry(3, 0));
  EXPECT_TRUE(validateSettings(getDefaultSettings()).ok());
}

TEST(SettingsTest, CustomSettingsLimits) {
  Settings ten, eleven;
  for (uint16_t id = 10; id < 20; ++id) ten.customSettings[id] = id;
  eleven = ten;
  eleven.customSettings[30] = 1;
  EXPECT_EQ(getPackedSettings(ten).value().size(), 60u);
  expectNodeError(validateSettings(eleven), "ERR_HTTP2_TOO_MANY_CUSTOM_SETTINGS",
                  "Number of custom settings exceeds MAX_ADDITIONAL_SETTINGS");
  // Checked before the ranges, as Node does.
  eleven.maxFrameSize = 1;
  EXPECT_EQ(nodeErrorCode(validateSettings(eleven)), "ERR_HTTP2_TOO_MANY_CUSTOM_SETTINGS");

  EXPECT_EQ(getPackedSettings({.customSettings = {{65535, 1}}}).value(), entry(65535, 1));
  EXPECT_EQ(getPackedSettings({.customSettings = {{7, 0xffffffff}}}).value(), entry(7, 0xffffffff));
  // Zero ids and values pass validateSettings but not packing, with Node's wording.
  EXPECT_TRUE(validateSettings({.customSettings = {{0, 1}}}).ok());
  expectNodeError(getPackedSettings({.customSettings = {{0, 1}}}).status(),
                  "ERR_HTTP2_INVALID_SETTING_VALUE",
                  "Invalid value for setting \"Range Error\": 0");
  expectNodeError(getPackedSettings({.customSettings = {{10, 0}}}).status(),
                  "ERR_HTTP2_INVALID_SETTING_VALUE",
                  "Invalid value for setting \"Range Error\": 0");
  // Range errors of named fields come first.
  EXPECT_EQ(nodeErrorMessage(
                getPackedSettings({.maxFrameSize = 1, .customSettings = {{10, 0}}}).status()),
            "Invalid value for setting \"maxFrameSize\": 1");
}

TEST(SettingsTest, CustomIdsBelowSevenAreNodesSlots) {
  EXPECT_EQ(getPackedSettings({.customSettings = {{2, 100}}}).value(), entry(4, 100));
  EXPECT_EQ(getPackedSettings({.customSettings = {{4, 100}}}).value(), entry(3, 100));
  EXPECT_EQ(getPackedSettings({.customSettings = {{5, 100}}}).value(), entry(6, 100));
  EXPECT_EQ(getPackedSettings({.customSettings = {{6, 1}}}).value(), entry(8, 1));
  EXPECT_EQ(getPackedSettings({.customSettings = {{1, 1}}}).value(), entry(2, 1));
  // A named field overwrites the slot.
  EXPECT_EQ(getPackedSettings({.maxConcurrentStreams = 7, .customSettings = {{4, 100}}}).value(),
            entry(3, 7));
  // Values RFC 9113 forbids are refused by nghttp2 (Node returns undefined).
  for (Settings bad :
       {Settings{.customSettings = {{1, 100}}}, Settings{.customSettings = {{3, 100}}},
        Settings{.customSettings = {{8, 7}}}, Settings{.customSettings = {{9, 5}}}}) {
    absl::Status status = getPackedSettings(bad).status();
    EXPECT_EQ(nodeErrorCode(status), "ERR_HTTP2_ERROR") << bad.toString();
    EXPECT_EQ(nodeErrorMessage(status), "Invalid argument") << bad.toString();
  }
}

TEST(SettingsTest, EntriesAreWhatIsPacked) {
  Settings s{.enablePush = false, .maxFrameSize = 20000, .customSettings = {{9, 1}}};
  std::vector<SettingsEntry> expected = {{2, 0}, {5, 20000}, {9, 1}};
  EXPECT_EQ(settingsEntries(s).value(), expected);
}

TEST(SettingsTest, UnpackLengthMustBeAMultipleOfSix) {
  for (size_t length : {1, 5, 7, 11}) {
    expectNodeError(getUnpackedSettings(std::string(length, '\0')).status(),
                    "ERR_HTTP2_INVALID_PACKED_SETTINGS_LENGTH",
                    "Packed settings length must be a multiple of six");
  }
  EXPECT_EQ(getUnpackedSettings("").value(), Settings{});
}

TEST(SettingsTest, UnpacksEveryIdLikeNode) {
  std::string buf = entry(1, 1) + entry(2, 2) + entry(3, 3) + entry(4, 4) + entry(5, 5) +
                    entry(6, 6) + entry(8, 9) + entry(0, 10) + entry(7, 11) + entry(9, 12) +
                    entry(9, 13);
  Settings expected{.headerTableSize = 1,
                    .enablePush = true,
                    .initialWindowSize = 4,
                    .maxFrameSize = 5,
                    .maxConcurrentStreams = 3,
                    .maxHeaderListSize = 6,
                    .maxHeaderSize = 6,
                    .enableConnectProtocol = true,
                    .customSettings = {{0, 10}, {7, 11}, {9, 13}}};
  EXPECT_EQ(getUnpackedSettings(buf).value(), expected);
  EXPECT_EQ(getUnpackedSettings(entry(2, 0) + entry(8, 0)).value(),
            (Settings{.enablePush = false, .enableConnectProtocol = false}));
}

TEST(SettingsTest, UnpackValidatesOnlyWhenAsked) {
  std::string small = entry(5, 1);
  EXPECT_EQ(getUnpackedSettings(small).value().maxFrameSize, 1u);
  expectNodeError(getUnpackedSettings(small, {.validate = true}).status(),
                  "ERR_HTTP2_INVALID_SETTING_VALUE",
                  "Invalid value for setting \"maxFrameSize\": 1");
  std::string many;
  for (uint16_t id = 10; id < 21; ++id) many += entry(id, 1);
  EXPECT_EQ(getUnpackedSettings(many).value().customSettings.size(), 11u);
  EXPECT_EQ(nodeErrorCode(getUnpackedSettings(many, {.validate = true}).status()),
            "ERR_HTTP2_TOO_MANY_CUSTOM_SETTINGS");
}

TEST(SettingsTest, RoundTrips) {
  Settings s{.headerTableSize = 0,
             .enablePush = false,
             .initialWindowSize = 1,
             .maxFrameSize = 16777215,
             .maxConcurrentStreams = 100,
             .maxHeaderListSize = 8192,
             .enableConnectProtocol = true,
             .customSettings = {{42, 7}}};
  Settings back = getUnpackedSettings(getPackedSettings(s).value()).value();
  s.maxHeaderSize = s.maxHeaderListSize;  // unpacking reports both names
  EXPECT_EQ(back, s);
}

TEST(SettingsTest, ToStringLooksLikeNodesInspect) {
  EXPECT_EQ(Settings{}.toString(), "{}");
  EXPECT_EQ(
      (Settings{.enablePush = false, .maxFrameSize = 16384, .customSettings = {{9, 1}, {10, 2}}})
          .toString(),
      "{ enablePush: false, maxFrameSize: 16384, customSettings: { 9: 1, 10: 2 } }");
}

}  // namespace
}  // namespace h2rpc::transport
