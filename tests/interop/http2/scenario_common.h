// scenario_common.h — what scenario_server.cc and scenario_client.cc share, written to produce
// byte for byte the strings node_scenario_server.js / node_scenario_client.js produce: the event
// log (consecutive 'data' chunks merged into "data N bytes fnv=X"), FNV-1a, settings and headers
// as strings, JSON string quoting.
#ifndef H2RPC_TESTS_INTEROP_HTTP2_SCENARIO_COMMON_H_
#define H2RPC_TESTS_INTEROP_HTTP2_SCENARIO_COMMON_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "transport/errors.h"
#include "transport/headers.h"
#include "transport/settings.h"

namespace h2rpc::interop {

inline constexpr uint32_t kFnvInit = 0x811c9dc5u;
inline uint32_t fnvUpdate(uint32_t h, std::string_view bytes) {
  for (unsigned char b : bytes) h = (h ^ b) * 0x01000193u;
  return h;
}
inline std::string hex8(uint32_t h) { return absl::StrFormat("%08x", h); }

class Log {
 public:
  void add(std::string event) {
    in_data_ = false;
    entries_.push_back({std::move(event), false, 0, 0});
  }
  void addData(std::string_view chunk) {
    if (!in_data_) {
      entries_.push_back({"", true, 0, kFnvInit});
      in_data_ = true;
    }
    entries_.back().bytes += chunk.size();
    entries_.back().fnv = fnvUpdate(entries_.back().fnv, chunk);
  }
  std::vector<std::string> events() const {
    std::vector<std::string> out;
    for (const Entry& e : entries_) {
      out.push_back(e.data ? absl::StrCat("data ", e.bytes, " bytes fnv=", hex8(e.fnv)) : e.text);
    }
    return out;
  }

 private:
  struct Entry {
    std::string text;
    bool data;
    size_t bytes;
    uint32_t fnv;
  };
  std::vector<Entry> entries_;
  bool in_data_ = false;
};

inline std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

inline std::string jsonArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) absl::StrAppend(&out, i ? "," : "", jsonString(items[i]));
  return out + "]";
}

// Node's settings object as "key=value ..." in a fixed key order ("undefined" for an absent key).
inline std::string settingsString(const transport::Settings& s) {
  auto num = [](const std::optional<uint32_t>& v) {
    return v ? std::to_string(*v) : std::string("undefined");
  };
  auto flag = [](const std::optional<bool>& v) {
    return v ? std::string(*v ? "true" : "false") : std::string("undefined");
  };
  return absl::StrCat("headerTableSize=", num(s.headerTableSize), " enablePush=", flag(s.enablePush),
                      " initialWindowSize=", num(s.initialWindowSize),
                      " maxFrameSize=", num(s.maxFrameSize),
                      " maxConcurrentStreams=", num(s.maxConcurrentStreams),
                      " maxHeaderListSize=", num(s.maxHeaderListSize),
                      " enableConnectProtocol=", flag(s.enableConnectProtocol));
}

// Node's Object.entries(headers): one entry per name in order of first appearance with the value
// Node's object holds (Headers::get), `date` dropped; with portless_authority, the port of
// :authority becomes PORT (a fresh port every run).
inline std::string headersString(const transport::Headers& headers, bool portless_authority) {
  std::string out;
  std::set<std::string> seen;
  for (const auto& field : headers.raw()) {
    if (field.name == "date" || !seen.insert(field.name).second) continue;
    std::string value = headers.get(field.name).value_or("");
    if (portless_authority && field.name == ":authority") {
      auto colon = value.rfind(':');
      if (colon != std::string::npos && colon + 1 < value.size() &&
          value.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
        value = value.substr(0, colon) + ":PORT";
      }
    }
    absl::StrAppend(&out, out.empty() ? "" : " ", field.name, "=", value);
  }
  return out;
}

// "ERR_HTTP2_STREAM_ERROR Stream closed with error code ..." (Node's `${err.code} ${err.message}`).
inline std::string errorString(const absl::Status& status) {
  return absl::StrCat("error ", transport::nodeErrorCode(status), " ",
                      std::string(transport::nodeErrorMessage(status)));
}

inline std::string rstString(const std::optional<uint32_t>& code) {
  return absl::StrCat("close rst=", code ? std::to_string(*code) : std::string("undefined"));
}

}  // namespace h2rpc::interop

#endif  // H2RPC_TESTS_INTEROP_HTTP2_SCENARIO_COMMON_H_
