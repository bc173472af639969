// Settings: Node's HTTP/2 settings object, and http2.getDefaultSettings(), getPackedSettings() and
// getUnpackedSettings() with Node 20's exact behaviour (order of entries, errors, quirks), checked
// byte for byte against Node by settings_node_oracle_test.
//
// Threading: plain values and pure functions, usable from any thread. Lifetime: values own their
// data; nothing keeps references.
#ifndef H2RPC_TRANSPORT_SETTINGS_H_
#define H2RPC_TRANSPORT_SETTINGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace h2rpc::transport {

// An unset field is a property Node's object does not have. (The `{}` initializers let callers
// write designated initializers such as {.enablePush = false} without
// -Wmissing-field-initializers.)
struct Settings {
  std::optional<uint32_t> headerTableSize{};
  std::optional<bool> enablePush{};
  std::optional<uint32_t> initialWindowSize{};  // 0 .. 2^31-1
  std::optional<uint32_t> maxFrameSize{};       // 16384 .. 2^24-1
  std::optional<uint32_t> maxConcurrentStreams{};
  std::optional<uint32_t> maxHeaderListSize{};
  // Alias of maxHeaderListSize, as in Node: when both are set and differ, maxHeaderSize wins (Node
  // also prints a process warning). Settings read back (defaults, unpacked) have both set.
  std::optional<uint32_t> maxHeaderSize{};
  std::optional<bool> enableConnectProtocol{};
  // SETTINGS ids Node does not know, id -> value. At most 10 entries; ids and values must not be 0.
  // Node quirk, kept for byte equality: ids 1..6 here do not mean the standard SETTINGS ids but
  // Node's internal slots (1 enablePush, 2 initialWindowSize, 3 maxFrameSize,
  // 4 maxConcurrentStreams, 5 maxHeaderListSize, 6 enableConnectProtocol). Use ids above 8.
  std::map<uint16_t, uint32_t> customSettings{};

  // Like Node's util.inspect of the object: "{ headerTableSize: 4096, enablePush: true }".
  std::string toString() const;
  bool operator==(const Settings&) const = default;
};

// One entry of a SETTINGS frame.
struct SettingsEntry {
  uint16_t id = 0;
  uint32_t value = 0;
  bool operator==(const SettingsEntry&) const = default;
};

// Node's defaults: every standard field set (maxHeaderListSize and maxHeaderSize both 65535,
// maxConcurrentStreams 2^32-1, enablePush true, enableConnectProtocol false), no customSettings.
Settings getDefaultSettings();

// Node's validateSettings(): more than 10 customSettings -> ERR_HTTP2_TOO_MANY_CUSTOM_SETTINGS
// ("Number of custom settings exceeds MAX_ADDITIONAL_SETTINGS"); initialWindowSize or maxFrameSize
// out of range -> ERR_HTTP2_INVALID_SETTING_VALUE ('Invalid value for setting "maxFrameSize":
// 16383'). Both kInvalidArgument. (Node's other range checks cannot fail for uint32_t fields.)
absl::Status validateSettings(const Settings& settings);

// The entries Node submits for `settings`, in Node's order: ids 1, 2, 3, 4, 5, 6, 8 for the fields
// that are set, then customSettings by increasing id. After validateSettings(), a customSettings
// id or value of 0 is ERR_HTTP2_INVALID_SETTING_VALUE 'Invalid value for setting "Range Error": 0'
// (Node's wording). Values are not checked against RFC 9113 here; see getPackedSettings.
absl::StatusOr<std::vector<SettingsEntry>> settingsEntries(const Settings& settings);

// The SETTINGS payload (6 bytes per entry, big-endian), as for the HTTP2-Settings header.
// Besides settingsEntries' errors: entries nghttp2 refuses (e.g. enablePush above 1 or maxFrameSize
// too small coming in through customSettings, or custom id 9 with a value above 1) make Node return
// undefined; here they are ERR_HTTP2_ERROR with nghttp2's message ("Invalid argument").
absl::StatusOr<std::string> getPackedSettings(const Settings& settings = {});

struct UnpackOptions {
  bool validate = false;  // Node's getUnpackedSettings(buf, { validate: true })
};

// Parses a SETTINGS payload. Length not a multiple of 6 -> ERR_HTTP2_INVALID_PACKED_SETTINGS_LENGTH
// ("Packed settings length must be a multiple of six"). As in Node: values are not range-checked
// unless options.validate; enablePush and enableConnectProtocol are `value != 0`; id 6 sets both
// maxHeaderListSize and maxHeaderSize; any other id (0, 7, 9...) goes to customSettings; a repeated
// id keeps the last value.
absl::StatusOr<Settings> getUnpackedSettings(std::string_view buf, UnpackOptions options = {});

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_SETTINGS_H_
