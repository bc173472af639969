#include "rpc/status_util.h"

#include <array>
#include <climits>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace h2rpc::rpc {
namespace {

namespace pbio = google::protobuf::io;

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

// google.rpc.Status field tags (field number << 3 | wire type).
constexpr uint32_t kVarint = 0;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kCodeTag = (1 << 3) | kVarint;
constexpr uint32_t kMessageTag = (2 << 3) | kLengthDelimited;
constexpr uint32_t kDetailsTag = (3 << 3) | kLengthDelimited;
// google.protobuf.Any.
constexpr uint32_t kTypeUrlTag = (1 << 3) | kLengthDelimited;
constexpr uint32_t kValueTag = (2 << 3) | kLengthDelimited;

struct ParsedStatus {
  int code = 0;
  std::string message;
  std::vector<std::pair<std::string, std::string>> details;  // (type_url, value)
};

absl::Status Malformed() { return absl::InternalError("malformed grpc-status-details-bin"); }

// Skips a field we do not know. Groups (wire types 3/4) are deprecated and never appear in
// google.rpc.Status, so they count as malformed rather than being skipped.
bool SkipField(pbio::CodedInputStream& in, uint32_t tag) {
  switch (tag & 7) {
    case 0: {
      uint64_t v;
      return in.ReadVarint64(&v);
    }
    case 1: {
      uint64_t v;
      return in.ReadLittleEndian64(&v);
    }
    case 2: {
      int length;
      return in.ReadVarintSizeAsInt(&length) && in.Skip(length);
    }
    case 5: {
      uint32_t v;
      return in.ReadLittleEndian32(&v);
    }
    default:
      return false;
  }
}

// Reads a length-delimited field's bytes into *out.
bool ReadBytes(pbio::CodedInputStream& in, std::string* out) {
  int length;
  return in.ReadVarintSizeAsInt(&length) && in.ReadString(out, length);
}

// `input_size` is the whole input's: PushLimit cannot extend past the end of an array input, so a
// length beyond it must be caught here or it would read as a shorter, valid Any.
bool ReadAny(pbio::CodedInputStream& in, int input_size,
             std::pair<std::string, std::string>* any) {
  int length;
  if (!in.ReadVarintSizeAsInt(&length) || length > input_size - in.CurrentPosition()) return false;
  const pbio::CodedInputStream::Limit limit = in.PushLimit(length);
  while (!in.ExpectAtEnd()) {
    const uint32_t tag = in.ReadTag();
    if ((tag >> 3) == 0) return false;  // 0 = read error; field number 0 is invalid
    bool ok;
    if (tag == kTypeUrlTag) {
      ok = ReadBytes(in, &any->first);
    } else if (tag == kValueTag) {
      ok = ReadBytes(in, &any->second);
    } else {
      ok = SkipField(in, tag);
    }
    if (!ok) return false;
  }
  in.PopLimit(limit);
  return true;
}

absl::StatusOr<ParsedStatus> Parse(absl::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return Malformed();
  const int size = static_cast<int>(bytes.size());
  pbio::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), size);
  ParsedStatus parsed;
  while (!in.ExpectAtEnd()) {
    const uint32_t tag = in.ReadTag();
    if ((tag >> 3) == 0) return Malformed();
    bool ok;
    if (tag == kCodeTag) {
      uint64_t v;
      ok = in.ReadVarint64(&v);
      parsed.code = static_cast<int32_t>(static_cast<uint32_t>(v));  // int32 keeps the low 32 bits
    } else if (tag == kMessageTag) {
      ok = ReadBytes(in, &parsed.message);
    } else if (tag == kDetailsTag) {
      ok = ReadAny(in, size, &parsed.details.emplace_back());
    } else {
      ok = SkipField(in, tag);
    }
    if (!ok) return Malformed();
  }
  return parsed;
}

void WriteBytesField(pbio::CodedOutputStream& out, uint32_t tag, absl::string_view bytes) {
  out.WriteTag(tag);
  out.WriteVarint64(bytes.size());
  out.WriteRaw(bytes.data(), static_cast<int>(bytes.size()));
}

size_t BytesFieldSize(size_t length) {
  return 1 + pbio::CodedOutputStream::VarintSize64(length) + length;  // 1-byte tags only here
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

std::string EncodeStatusDetails(const absl::Status& status) {
  std::string out;
  {
    pbio::StringOutputStream stream(&out);
    pbio::CodedOutputStream coded(&stream);
    const int code = static_cast<int>(status.code());
    if (code != 0) {  // proto3 omits default values
      coded.WriteTag(kCodeTag);
      coded.WriteVarint32SignExtended(code);
    }
    if (!status.message().empty()) {
      WriteBytesField(coded, kMessageTag, absl::string_view(status.message()));
    }
    status.ForEachPayload([&coded](absl::string_view type_url, const absl::Cord& value) {
      coded.WriteTag(kDetailsTag);
      coded.WriteVarint64(BytesFieldSize(type_url.size()) + BytesFieldSize(value.size()));
      WriteBytesField(coded, kTypeUrlTag, type_url);
      coded.WriteTag(kValueTag);
      coded.WriteVarint64(value.size());
      for (const absl::string_view chunk : value.Chunks()) {
        coded.WriteRaw(chunk.data(), static_cast<int>(chunk.size()));
      }
    });
  }  // the CodedOutputStream flushes into `out` when destroyed
  return out;
}

absl::Status DecodeStatusDetails(absl::string_view bytes, absl::Status* decoded) {
  absl::StatusOr<ParsedStatus> parsed = Parse(bytes);
  if (!parsed.ok()) return parsed.status();
  absl::Status status(CodeFromInt(parsed->code), parsed->message);
  for (auto& [type_url, value] : parsed->details) {
    status.SetPayload(type_url, absl::Cord(std::move(value)));  // no-op on an OK status
  }
  *decoded = std::move(status);
  return absl::OkStatus();
}

absl::StatusOr<int> StatusDetailsCode(absl::string_view bytes) {
  absl::StatusOr<ParsedStatus> parsed = Parse(bytes);
  if (!parsed.ok()) return parsed.status();
  return parsed->code;
}

}  // namespace h2rpc::rpc
