#include "rpc/status_util.h"

#include <array>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"

namespace h2rpc::rpc {
namespace {

constexpr int kMaxGrpcCode = 16;  // UNAUTHENTICATED, the last code gRPC defines.

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

absl::StatusCode CodeFromInt(int64_t code) {
  if (code < 0 || code > kMaxGrpcCode) return absl::StatusCode::kUnknown;
  return static_cast<absl::StatusCode>(code);
}

absl::Status Malformed() { return absl::InternalError("malformed grpc-status-details-bin"); }

// The generated google.rpc.Status, or nullopt for bytes that do not parse. (proto3 strings must
// be UTF-8: a message or type URL that is not makes the bytes malformed, as in grpc-go.)
std::optional<google::rpc::Status> Parse(absl::string_view bytes) {
  google::rpc::Status parsed;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return std::nullopt;
  }
  return parsed;
}

}  // namespace

std::string PercentEncodeGrpcMessage(absl::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (const char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7E || byte == '%') {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PercentDecodeGrpcMessage(absl::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size() && HexValue(encoded[i + 1]) >= 0 &&
        HexValue(encoded[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(encoded[i + 1]) * 16 + HexValue(encoded[i + 2])));
      i += 2;
    } else {
      out.push_back(encoded[i]);
    }
  }
  return out;
}

absl::StatusCode StatusCodeFromGrpcStatus(absl::string_view value) {
  if (value.empty() || value.size() > 9) return absl::StatusCode::kUnknown;  // 9 digits: no overflow
  int64_t code = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return absl::StatusCode::kUnknown;
    code = code * 10 + (c - '0');
  }
  return CodeFromInt(code);
}

absl::Status StatusFromHttpStatus(int http_status) {
  absl::StatusCode code;
  switch (http_status) {
    case 400:
    case 431:
      code = absl::StatusCode::kInternal;
      break;
    case 401:
      code = absl::StatusCode::kUnauthenticated;
      break;
    case 403:
      code = absl::StatusCode::kPermissionDenied;
      break;
    case 404:
      code = absl::StatusCode::kUnimplemented;
      break;
    case 429:
    case 502:
    case 503:
    case 504:
      code = absl::StatusCode::kUnavailable;
      break;
    default:
      code = absl::StatusCode::kUnknown;
      break;
  }
  return absl::Status(code, absl::StrCat("Received HTTP status code ", http_status));
}

absl::Status StatusFromRstCode(uint32_t h2_code) {
  // RFC 9113 §7, with nghttp2's names (what Node and grpc-js print).
  static constexpr std::array<absl::string_view, 14> kNames = {
      "NGHTTP2_NO_ERROR",          "NGHTTP2_PROTOCOL_ERROR",   "NGHTTP2_INTERNAL_ERROR",
      "NGHTTP2_FLOW_CONTROL_ERROR", "NGHTTP2_SETTINGS_TIMEOUT", "NGHTTP2_STREAM_CLOSED",
      "NGHTTP2_FRAME_SIZE_ERROR",  "NGHTTP2_REFUSED_STREAM",   "NGHTTP2_CANCEL",
      "NGHTTP2_COMPRESSION_ERROR", "NGHTTP2_CONNECT_ERROR",    "NGHTTP2_ENHANCE_YOUR_CALM",
      "NGHTTP2_INADEQUATE_SECURITY", "NGHTTP2_HTTP_1_1_REQUIRED"};
  absl::StatusCode code;
  switch (h2_code) {
    case 0x7:  // REFUSED_STREAM
      code = absl::StatusCode::kUnavailable;
      break;
    case 0x8:  // CANCEL
      code = absl::StatusCode::kCancelled;
      break;
    case 0xb:  // ENHANCE_YOUR_CALM
      code = absl::StatusCode::kResourceExhausted;
      break;
    case 0xc:  // INADEQUATE_SECURITY
      code = absl::StatusCode::kPermissionDenied;
      break;
    default:
      code = absl::StatusCode::kInternal;
      break;
  }
  const absl::string_view name =
      h2_code < kNames.size() ? kNames[h2_code] : absl::string_view("unknown error code");
  return absl::Status(code,
                      absl::StrCat("Stream closed with RST_STREAM ", name, " (", h2_code, ")"));
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status out;
  out.set_code(static_cast<int32_t>(status.code()));
  out.set_message(std::string(status.message()));
  status.ForEachPayload([&out](absl::string_view type_url, const absl::Cord& value) {
    google::protobuf::Any* any = out.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(value));
  });
  return out;
}

absl::Status FromRpcStatus(const google::rpc::Status& status) {
  absl::Status out(CodeFromInt(status.code()), status.message());
  for (const google::protobuf::Any& any : status.details()) {
    out.SetPayload(any.type_url(), absl::Cord(any.value()));  // no-op on an OK status
  }
  return out;
}

std::string EncodeStatusDetails(const absl::Status& status) {
  return ToRpcStatus(status).SerializeAsString();
}

absl::Status DecodeStatusDetails(absl::string_view bytes, absl::Status* decoded) {
  std::optional<google::rpc::Status> parsed = Parse(bytes);
  if (!parsed) return Malformed();
  *decoded = FromRpcStatus(*parsed);
  return absl::OkStatus();
}

absl::StatusOr<int> StatusDetailsCode(absl::string_view bytes) {
  std::optional<google::rpc::Status> parsed = Parse(bytes);
  if (!parsed) return Malformed();
  return parsed->code();
}

}  // namespace h2rpc::rpc
