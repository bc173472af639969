// Fuzz target: the exact content-type parser that picks a request's wire protocol
// (rpc/wire_protocol.h ParseRequestContentType): gRPC, gRPC-Web, gRPC-Web-text, Connect unary
// and streaming. The input is a content-type value.
//
// Checks: the fast path agrees with the slow one; a parsed type's codec is Connect's "proto" or
// "json" (Connect) or a non-empty piece of the input (gRPC family); the response content-type of
// a parsed type parses back to the same protocol and codec; parameters and the case of the media
// type never change the verdict.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "rpc/wire_protocol.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using h2rpc::rpc::IsConnect;
using h2rpc::rpc::ParseRequestContentType;
using h2rpc::rpc::ParseRequestContentTypeSlow;
using h2rpc::rpc::RequestContentType;

// Debian's Abseil has its own string_view (not std's): the bridge.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool Same(const std::optional<RequestContentType>& a, const std::optional<RequestContentType>& b,
          bool codec_case_matters) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  if (a->protocol != b->protocol) return false;
  return codec_case_matters ? a->codec == b->codec : absl::EqualsIgnoreCase(a->codec, b->codec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const std::optional<RequestContentType> type = ParseRequestContentType(A(value));
  H2RPC_FUZZ_CHECK(Same(type, ParseRequestContentTypeSlow(A(value)), true));
  if (type) {
    // Only "application/..." types are ours.
    H2RPC_FUZZ_CHECK(
        absl::StartsWithIgnoreCase(absl::StripLeadingAsciiWhitespace(A(value)), "application/"));
    if (IsConnect(type->protocol)) {
      H2RPC_FUZZ_CHECK(type->codec == "proto" || type->codec == "json");
    } else if (!type->codec.empty()) {
      // A view into the input (RequestContentType's contract), never across a parameter.
      H2RPC_FUZZ_CHECK(type->codec.data() >= value.data() &&
                       type->codec.data() + type->codec.size() <= value.data() + value.size());
      H2RPC_FUZZ_CHECK(type->codec.find(';') == std::string_view::npos);
    }
    // What we answer with parses back to the same protocol and codec.
    const std::string response = h2rpc::rpc::ResponseContentType(*type);
    H2RPC_FUZZ_CHECK(Same(ParseRequestContentType(response), type, true));
  }
  // The media type is case-insensitive (RFC 9110 §8.3.1): upper-casing it keeps the protocol.
  const std::string upper = absl::AsciiStrToUpper(A(value));
  H2RPC_FUZZ_CHECK(Same(ParseRequestContentType(upper), type, false));
  // A parameter after the media type changes nothing.
  if (value.find(';') == std::string_view::npos) {
    const std::string with_charset = std::string(value) + "; charset=utf-8";
    H2RPC_FUZZ_CHECK(Same(ParseRequestContentType(with_charset), type, true));
  }
  return 0;
}
