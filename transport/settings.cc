#include "transport/settings.h"

#include <nghttp2/nghttp2.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "transport/constants.h"
#include "transport/errors.h"

// Node 20 behaviour reproduced here, read in lib/internal/http2/{core,util}.js and confirmed by
// running getPackedSettings/getUnpackedSettings (settings_node_oracle_test keeps checking it):
//   - validateSettings() only checks types and ranges; updateSettingsBuffer() then rejects a
//     customSettings id or value of 0 with the odd setting name "Range Error".
//   - updateSettingsBuffer() treats customSettings ids below 7 as indexes into its own settings
//     buffer, so {customSettings: {2: 100}} packs as INITIAL_WINDOW_SIZE (id 4) = 100.
//   - Packing goes through nghttp2_pack_settings_payload, which refuses values RFC 9113 forbids
//     (and, for id 9, SETTINGS_NO_RFC7540_PRIORITIES, anything above 1); Node then returns
//     undefined instead of a Buffer.
//   - maxHeaderSize, when set and different from maxHeaderListSize, is the one packed.

namespace h2rpc::transport {
namespace {

// Debian's Abseil is built with its own absl::string_view (not std::string_view): convert.
absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

constexpr size_t kMaxAdditionalSettings = 10;  // Node's MAX_ADDITIONAL_SETTINGS

// Node's settingsBuffer slots (IDX_SETTINGS_*), which customSettings ids below 7 also index.
enum Slot {
  kHeaderTableSize,
  kEnablePush,
  kInitialWindowSize,
  kMaxFrameSize,
  kMaxConcurrentStreams,
  kMaxHeaderListSize,
  kEnableConnectProtocol,
  kSlotCount
};

absl::Status invalidSettingValue(std::string_view name, uint64_t actual) {
  return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_INVALID_SETTING_VALUE",
                   absl::StrCat("Invalid value for setting \"", AbslView(name), "\": ", actual));
}

absl::Status checkRange(std::string_view name, const std::optional<uint32_t>& value, uint32_t min,
                        uint32_t max) {
  if (value && (*value < min || *value > max)) return invalidSettingValue(name, *value);
  return absl::OkStatus();
}

}  // namespace

std::string Settings::toString() const {
  std::vector<std::string> parts;
  auto number = [&](std::string_view name, const std::optional<uint32_t>& v) {
    if (v) parts.push_back(absl::StrCat(AbslView(name), ": ", *v));
  };
  auto boolean = [&](std::string_view name, const std::optional<bool>& v) {
    if (v) parts.push_back(absl::StrCat(AbslView(name), ": ", *v ? "true" : "false"));
  };
  number("headerTableSize", headerTableSize);
  boolean("enablePush", enablePush);
  number("initialWindowSize", initialWindowSize);
  number("maxFrameSize", maxFrameSize);
  number("maxConcurrentStreams", maxConcurrentStreams);
  number("maxHeaderListSize", maxHeaderListSize);
  number("maxHeaderSize", maxHeaderSize);
  boolean("enableConnectProtocol", enableConnectProtocol);
  if (!customSettings.empty()) {
    parts.push_back(absl::StrCat("customSettings: { ",
                                 absl::StrJoin(customSettings, ", ", absl::PairFormatter(": ")),
                                 " }"));
  }
  return parts.empty() ? "{}" : absl::StrCat("{ ", absl::StrJoin(parts, ", "), " }");
}

Settings getDefaultSettings() {
  namespace c = constants;
  Settings s;
  s.headerTableSize = c::DEFAULT_SETTINGS_HEADER_TABLE_SIZE;
  s.enablePush = c::DEFAULT_SETTINGS_ENABLE_PUSH == 1;
  s.initialWindowSize = c::DEFAULT_SETTINGS_INITIAL_WINDOW_SIZE;
  s.maxFrameSize = c::DEFAULT_SETTINGS_MAX_FRAME_SIZE;
  s.maxConcurrentStreams = c::DEFAULT_SETTINGS_MAX_CONCURRENT_STREAMS;
  s.maxHeaderListSize = c::DEFAULT_SETTINGS_MAX_HEADER_LIST_SIZE;
  s.maxHeaderSize = c::DEFAULT_SETTINGS_MAX_HEADER_LIST_SIZE;
  s.enableConnectProtocol = c::DEFAULT_SETTINGS_ENABLE_CONNECT_PROTOCOL == 1;
  return s;
}

absl::Status validateSettings(const Settings& s) {
  if (s.customSettings.size() > kMaxAdditionalSettings) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_TOO_MANY_CUSTOM_SETTINGS",
                     "Number of custom settings exceeds MAX_ADDITIONAL_SETTINGS");
  }
  if (absl::Status st = checkRange("initialWindowSize", s.initialWindowSize, 0,
                                   constants::MAX_INITIAL_WINDOW_SIZE);
      !st.ok()) {
    return st;
  }
  return checkRange("maxFrameSize", s.maxFrameSize, constants::MIN_MAX_FRAME_SIZE,
                    constants::MAX_MAX_FRAME_SIZE);
}

absl::StatusOr<std::vector<SettingsEntry>> settingsEntries(const Settings& s) {
  if (absl::Status st = validateSettings(s); !st.ok()) return st;

  // updateSettingsBuffer(): customSettings first, then the named fields overwrite their slots.
  std::array<std::optional<uint32_t>, kSlotCount> slots;
  std::vector<SettingsEntry> custom;
  for (const auto& [id, value] : s.customSettings) {
    if (id == 0) return invalidSettingValue("Range Error", id);
    if (value == 0) return invalidSettingValue("Range Error", value);
    if (id < kSlotCount) {
      slots[id] = value;  // Node's quirk: the id is used as a slot index (see header)
    } else {
      custom.push_back({id, value});
    }
  }
  if (s.headerTableSize) slots[kHeaderTableSize] = s.headerTableSize;
  if (s.maxConcurrentStreams) slots[kMaxConcurrentStreams] = s.maxConcurrentStreams;
  if (s.initialWindowSize) slots[kInitialWindowSize] = s.initialWindowSize;
  if (s.maxFrameSize) slots[kMaxFrameSize] = s.maxFrameSize;
  if (s.maxHeaderSize || s.maxHeaderListSize) {
    slots[kMaxHeaderListSize] = s.maxHeaderSize ? s.maxHeaderSize : s.maxHeaderListSize;
  }
  if (s.enablePush) slots[kEnablePush] = *s.enablePush ? 1 : 0;
  if (s.enableConnectProtocol) slots[kEnableConnectProtocol] = *s.enableConnectProtocol ? 1 : 0;

  namespace c = constants;
  const std::pair<Slot, uint32_t> order[] = {
      {kHeaderTableSize, c::NGHTTP2_SETTINGS_HEADER_TABLE_SIZE},
      {kEnablePush, c::NGHTTP2_SETTINGS_ENABLE_PUSH},
      {kMaxConcurrentStreams, c::NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS},
      {kInitialWindowSize, c::NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE},
      {kMaxFrameSize, c::NGHTTP2_SETTINGS_MAX_FRAME_SIZE},
      {kMaxHeaderListSize, c::NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE},
      {kEnableConnectProtocol, c::NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL}};
  std::vector<SettingsEntry> entries;
  for (const auto& [slot, id] : order) {
    if (slots[slot]) entries.push_back({static_cast<uint16_t>(id), *slots[slot]});
  }
  entries.insert(entries.end(), custom.begin(), custom.end());
  return entries;
}

absl::StatusOr<std::string> getPackedSettings(const Settings& settings) {
  absl::StatusOr<std::vector<SettingsEntry>> entries = settingsEntries(settings);
  if (!entries.ok()) return entries.status();
  std::vector<nghttp2_settings_entry> iv;
  for (const SettingsEntry& e : *entries) iv.push_back({e.id, e.value});
  std::string out(iv.size() * 6, '\0');
  ssize_t n = nghttp2_pack_settings_payload(reinterpret_cast<uint8_t*>(out.data()), out.size(),
                                            iv.data(), iv.size());
  if (n < 0) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_ERROR",
                     nghttp2_strerror(static_cast<int>(n)));
  }
  out.resize(static_cast<size_t>(n));
  return out;
}

absl::StatusOr<Settings> getUnpackedSettings(std::string_view buf, UnpackOptions options) {
  if (buf.size() % 6 != 0) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_INVALID_PACKED_SETTINGS_LENGTH",
                     "Packed settings length must be a multiple of six");
  }
  namespace c = constants;
  Settings s;
  for (size_t offset = 0; offset < buf.size(); offset += 6) {
    auto byte = [&](size_t i) {
      return static_cast<uint32_t>(static_cast<uint8_t>(buf[offset + i]));
    };
    const uint16_t id = static_cast<uint16_t>(byte(0) << 8 | byte(1));
    const uint32_t value = byte(2) << 24 | byte(3) << 16 | byte(4) << 8 | byte(5);
    switch (id) {
      case c::NGHTTP2_SETTINGS_HEADER_TABLE_SIZE:
        s.headerTableSize = value;
        break;
      case c::NGHTTP2_SETTINGS_ENABLE_PUSH:
        s.enablePush = value != 0;
        break;
      case c::NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS:
        s.maxConcurrentStreams = value;
        break;
      case c::NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE:
        s.initialWindowSize = value;
        break;
      case c::NGHTTP2_SETTINGS_MAX_FRAME_SIZE:
        s.maxFrameSize = value;
        break;
      case c::NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE:
        s.maxHeaderListSize = s.maxHeaderSize = value;
        break;
      case c::NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL:
        s.enableConnectProtocol = value != 0;
        break;
      default:
        s.customSettings[id] = value;
        break;
    }
  }
  if (options.validate) {
    if (absl::Status st = validateSettings(s); !st.ok()) return st;
  }
  return s;
}

}  // namespace h2rpc::transport
