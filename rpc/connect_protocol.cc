#include "rpc/connect_protocol.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "google/rpc/status.pb.h"
#include "rpc/framing.h"
#include "rpc/internal/base64.h"
#include "rpc/status_util.h"

namespace h2rpc::rpc {

namespace {

using transport::Headers;

struct CodeRow {
  absl::StatusCode code;
  absl::string_view name;
  int http_status;
};
// connectrpc.com/docs/protocol, "Error Codes" (the HTTP statuses are google.rpc.Code's
// "HTTP Mapping" too).
constexpr CodeRow kCodes[] = {
    {absl::StatusCode::kCancelled, "canceled", 499},
    {absl::StatusCode::kUnknown, "unknown", 500},
    {absl::StatusCode::kInvalidArgument, "invalid_argument", 400},
    {absl::StatusCode::kDeadlineExceeded, "deadline_exceeded", 504},
    {absl::StatusCode::kNotFound, "not_found", 404},
    {absl::StatusCode::kAlreadyExists, "already_exists", 409},
    {absl::StatusCode::kPermissionDenied, "permission_denied", 403},
    {absl::StatusCode::kResourceExhausted, "resource_exhausted", 429},
    {absl::StatusCode::kFailedPrecondition, "failed_precondition", 400},
    {absl::StatusCode::kAborted, "aborted", 409},
    {absl::StatusCode::kOutOfRange, "out_of_range", 400},
    {absl::StatusCode::kUnimplemented, "unimplemented", 501},
    {absl::StatusCode::kInternal, "internal", 500},
    {absl::StatusCode::kUnavailable, "unavailable", 503},
    {absl::StatusCode::kDataLoss, "data_loss", 500},
    {absl::StatusCode::kUnauthenticated, "unauthenticated", 401},
};

const CodeRow* FindRow(absl::StatusCode code) {
  for (const CodeRow& row : kCodes) {
    if (row.code == code) return &row;
  }
  return nullptr;
}

// The length of the well-formed UTF-8 sequence (RFC 3629) at the start of `s`, or 0 if there is
// none there (a stray continuation byte, an overlong form, a surrogate, a code point above
// U+10FFFF, a truncated sequence).
size_t Utf8SequenceLength(absl::string_view s) {
  const auto c = static_cast<unsigned char>(s[0]);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    const auto d = static_cast<unsigned char>(s[i]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (d & 0x3f);
  }
  constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool IsUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped; UTF-8
// passes through. JSON text is UTF-8 (RFC 8259 §8.1), and a status message or metadata value
// may hold any bytes: each byte that is not part of a well-formed sequence becomes U+FFFD, as
// connect-go's encoding/json does (a JSON parser, protobuf's included, refuses the raw bytes).
void AppendJsonString(std::string& out, absl::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      const size_t n = Utf8SequenceLength(s.substr(i));
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// The error object, appended to `out`.
void AppendErrorObject(std::string& out, absl::StatusCode code, absl::string_view message,
                       absl::string_view details) {
  out += "{\"code\":";
  AppendJsonString(out, ConnectCodeName(code));
  if (!message.empty()) {
    out += ",\"message\":";
    AppendJsonString(out, message);
  }
  google::rpc::Status parsed;
  if (!details.empty() && parsed.ParseFromArray(details.data(), static_cast<int>(details.size())) &&
      parsed.details_size() > 0) {
    out += ",\"details\":[";
    for (int i = 0; i < parsed.details_size(); ++i) {
      const google::protobuf::Any& any = parsed.details(i);
      // "type" is the message's full name: the type URL without its prefix.
      absl::string_view url = any.type_url();
      const size_t slash = url.rfind('/');
      if (i > 0) out.push_back(',');
      out += "{\"type\":";
      AppendJsonString(out, slash == absl::string_view::npos ? url : url.substr(slash + 1));
      out += ",\"value\":";
      AppendJsonString(out, internal::Base64EncodeUnpadded(any.value()));  // unpadded, as the spec
      out.push_back('}');
    }
    out.push_back(']');
  }
  out.push_back('}');
}

google::protobuf::util::TypeResolver* GeneratedTypeResolver() {
  static google::protobuf::util::TypeResolver* resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com", google::protobuf::DescriptorPool::generated_pool());
  return resolver;
}

std::string TypeUrl(const google::protobuf::Descriptor* type) {
  return absl::StrCat("type.googleapis.com/", type->full_name());
}

// JSON <-> protobuf's binary form for one method's messages, the type URLs made once.
class JsonCodec {
 public:
  explicit JsonCodec(const google::protobuf::MethodDescriptor* method)
      : request_url_(TypeUrl(method->input_type())),
        response_url_(TypeUrl(method->output_type())) {}

  absl::Status ToBinary(std::string& message) const {
    return ConnectJsonToBinary(request_url_, message, ConnectJsonSide::kServer);
  }
  absl::Status ToJson(std::string& message) const {
    return ConnectBinaryToJson(response_url_, message, ConnectJsonSide::kServer);
  }

 private:
  std::string request_url_;
  std::string response_url_;
};

void AddTrailingAsHeaders(const Headers& metadata, Headers& headers) {
  for (const transport::HeaderField& f : metadata) {
    headers.add(absl::StrCat("trailer-", f.name), f.value);
  }
}

// Both Connect protocols: the JSON codec, if any.
class ConnectProtocolBase : public CallProtocol {
 public:
  explicit ConnectProtocolBase(const ConnectCallOptions& options)
      : type_(options.type), content_type_(ResponseContentType(options.type)) {
    if (options.type.codec == "json" && options.method != nullptr) {
      json_.emplace(options.method);
      set_transcodes(true);
    }
  }
  WireProtocol protocol() const override { return type_.protocol; }
  absl::Status TranscodeRequest(std::string& message) override {
    return json_ ? json_->ToBinary(message) : absl::OkStatus();
  }
  absl::Status TranscodeResponse(std::string& message) override {
    return json_ ? json_->ToJson(message) : absl::OkStatus();
  }

 protected:
  RequestContentType type_;
  std::string content_type_;
  std::optional<JsonCodec> json_;
};

// Unary: a raw request body, the response held until the status is known.
class ConnectUnaryProtocol : public ConnectProtocolBase {
 public:
  explicit ConnectUnaryProtocol(const ConnectCallOptions& options)
      : ConnectProtocolBase(options),
        max_request_bytes_(options.max_request_bytes),
        request_compressed_(options.request_compression != Compression::kIdentity),
        body_(options.get_message) {}

  absl::Status DecodeRequest(const transport::SharedBuffer& chunk,
                             transport::SharedBuffer& framed) override {
    framed = transport::SharedBuffer();
    if (body_.size() + chunk.size() > max_request_bytes_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Request body larger than max (more than ", max_request_bytes_, " bytes)"));
    }
    body_.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  }
  absl::Status EndRequest(transport::SharedBuffer& framed) override {
    // The whole body is the message: framed for ServerCall's deframer (which decompresses it).
    framed = transport::SharedBuffer(FrameMessage(body_, request_compressed_));
    body_.clear();
    body_.shrink_to_fit();
    return absl::OkStatus();
  }
  void ResponseHeaders(Compression response_compression, Headers& headers) const override {
    headers.add(":status", "200");
    headers.add("content-type", content_type_);
    if (response_compression != Compression::kIdentity) {
      headers.add("content-encoding", std::string(CompressionName(response_compression)));
    }
    headers.add("accept-encoding", AcceptEncodingHeader(CompressionSet::All()));
  }
  transport::SharedBuffer EncodeMessage(transport::SharedBuffer framed) override {
    held_ = std::move(framed);
    return transport::SharedBuffer();
  }
  bool HoldsResponse() const override { return true; }
  void FinishUnsent(Compression response_compression, const Headers& initial_metadata,
                    const absl::Status& status, const Headers& status_fields, Headers& headers,
                    std::string& body) override {
    ConnectStatusParts parts = SplitStatusFields(status_fields);
    if (status.ok() && held_.size() >= kMessagePrefixSize) {
      const bool compressed = (static_cast<uint8_t>(held_.data()[0]) & 1) != 0;
      ResponseHeaders(compressed ? response_compression : Compression::kIdentity, headers);
      body.assign(held_.data() + kMessagePrefixSize, held_.size() - kMessagePrefixSize);
    } else if (status.ok()) {
      // A unary handler that finished OK without a message: the empty message (as connect-go
      // never sends an empty body for JSON, "{}" there).
      ResponseHeaders(Compression::kIdentity, headers);
      body = json_ ? "{}" : "";
    } else {
      ConnectUnaryError(status, parts.details, headers, body);
      headers.add("accept-encoding", AcceptEncodingHeader(CompressionSet::All()));
    }
    for (const transport::HeaderField& f : initial_metadata) headers.add(f.name, f.value);
    AddTrailingAsHeaders(parts.metadata, headers);
    held_ = transport::SharedBuffer();
  }
  bool StatusInBody() const override { return false; }
  std::string EndOfBody(const Headers&) override { return ""; }

 private:
  size_t max_request_bytes_;
  bool request_compressed_;
  std::string body_;
  transport::SharedBuffer held_;
};

// Streaming: gRPC's envelopes both ways, the status in an end-stream envelope.
class ConnectStreamProtocol : public ConnectProtocolBase {
 public:
  explicit ConnectStreamProtocol(const ConnectCallOptions& options)
      : ConnectProtocolBase(options) {}

  absl::Status DecodeRequest(const transport::SharedBuffer& chunk,
                             transport::SharedBuffer& framed) override {
    framed = chunk;  // flag 0x01 = compressed, as gRPC's
    return absl::OkStatus();
  }
  absl::Status EndRequest(transport::SharedBuffer& framed) override {
    framed = transport::SharedBuffer();
    return absl::OkStatus();
  }
  void ResponseHeaders(Compression response_compression, Headers& headers) const override {
    headers.add(":status", "200");
    headers.add("content-type", content_type_);
    if (response_compression != Compression::kIdentity) {
      headers.add("connect-content-encoding", std::string(CompressionName(response_compression)));
    }
    headers.add("connect-accept-encoding", AcceptEncodingHeader(CompressionSet::All()));
  }
  transport::SharedBuffer EncodeMessage(transport::SharedBuffer framed) override {
    return framed;
  }
  void FinishUnsent(Compression response_compression, const Headers& initial_metadata,
                    const absl::Status& status, const Headers& status_fields, Headers& headers,
                    std::string& body) override {
    (void)status;
    // Always 200: the status travels in the end-stream message, even with no message before.
    ResponseHeaders(response_compression, headers);
    for (const transport::HeaderField& f : initial_metadata) headers.add(f.name, f.value);
    body = EndOfBody(status_fields);
  }
  bool StatusInBody() const override { return true; }
  std::string EndOfBody(const Headers& status_fields) override {
    return ConnectEnvelope(kConnectEndStreamFlag,
                           ConnectEndStreamJson(SplitStatusFields(status_fields)));
  }
};

}  // namespace

absl::string_view ConnectCodeName(absl::StatusCode code) {
  const CodeRow* row = FindRow(code);
  return row ? row->name : "unknown";
}

std::optional<absl::StatusCode> ConnectCodeFromName(absl::string_view name) {
  for (const CodeRow& row : kCodes) {
    if (row.name == name) return row.code;
  }
  return std::nullopt;
}

int ConnectHttpStatus(absl::StatusCode code) {
  if (code == absl::StatusCode::kOk) return 200;
  const CodeRow* row = FindRow(code);
  return row ? row->http_status : 500;
}

absl::StatusCode CodeFromConnectHttpStatus(int http_status) {
  switch (http_status) {
    case 400:
      return absl::StatusCode::kInternal;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kUnknown;
  }
}

ConnectStatusParts SplitStatusFields(const Headers& status_fields) {
  ConnectStatusParts parts;
  for (const transport::HeaderField& f : status_fields) {
    if (f.name == "grpc-status") {
      parts.code = StatusCodeFromGrpcStatus(f.value);
    } else if (f.name == "grpc-message") {
      parts.message = PercentDecodeGrpcMessage(f.value);
    } else if (f.name == "grpc-status-details-bin") {
      std::string raw;
      if (absl::Base64Unescape(f.value, &raw)) parts.details = std::move(raw);
    } else {
      parts.metadata.add(f.name, f.value);
    }
  }
  return parts;
}

std::string ConnectErrorJson(absl::StatusCode code, absl::string_view message,
                             absl::string_view details) {
  std::string out;
  AppendErrorObject(out, code, message, details);
  return out;
}

std::string ConnectEndStreamJson(const ConnectStatusParts& status) {
  std::string out = "{";
  bool first = true;
  if (status.code != absl::StatusCode::kOk) {
    out += "\"error\":";
    AppendErrorObject(out, status.code, status.message, status.details);
    first = false;
  }
  if (!status.metadata.empty()) {
    if (!first) out.push_back(',');
    out += "\"metadata\":{";
    // Each name once, with all its values in order.
    std::vector<std::string> names;
    for (const transport::HeaderField& f : status.metadata) {
      if (std::find(names.begin(), names.end(), f.name) == names.end()) names.push_back(f.name);
    }
    for (size_t i = 0; i < names.size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendJsonString(out, names[i]);
      out += ":[";
      bool first_value = true;
      for (const transport::HeaderField& f : status.metadata) {
        if (f.name != names[i]) continue;
        if (!first_value) out.push_back(',');
        AppendJsonString(out, f.value);
        first_value = false;
      }
      out.push_back(']');
    }
    out.push_back('}');
  }
  out.push_back('}');
  return out;
}

std::string ConnectEnvelope(uint8_t flags, absl::string_view payload) {
  std::string out(5, '\0');
  out[0] = static_cast<char>(flags);
  const auto n = static_cast<uint32_t>(payload.size());
  out[1] = static_cast<char>(n >> 24);
  out[2] = static_cast<char>(n >> 16);
  out[3] = static_cast<char>(n >> 8);
  out[4] = static_cast<char>(n);
  out.append(payload.data(), payload.size());
  return out;
}

void ConnectUnaryError(const absl::Status& status, absl::string_view details, Headers& headers,
                       std::string& body) {
  headers.add(":status", absl::StrCat(ConnectHttpStatus(status.code())));
  headers.add("content-type", "application/json");
  body = ConnectErrorJson(status.code(), status.message(), details);
}

const google::protobuf::MethodDescriptor* FindGeneratedMethod(absl::string_view path) {
  if (path.size() < 2 || path[0] != '/') return nullptr;
  std::string name(path.substr(1));
  const size_t slash = name.rfind('/');
  if (slash == std::string::npos) return nullptr;
  name[slash] = '.';
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A query component, as Go's url.ParseQuery decodes it: %XX and "+" for a space.
absl::StatusOr<std::string> QueryUnescape(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%') {
      const int hi = i + 2 < in.size() ? HexDigit(in[i + 1]) : -1;
      const int lo = hi >= 0 ? HexDigit(in[i + 2]) : -1;
      if (lo < 0) return absl::InvalidArgumentError("Bad percent-encoding in the query");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseConnectTimeout(absl::string_view value) {
  uint64_t ms = 0;
  if (value.empty() || value.size() > 10 ||
      !std::all_of(value.begin(), value.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(value, &ms)) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid connect-timeout-ms: '", value, "'"));
  }
  return absl::Milliseconds(ms);
}

absl::StatusOr<ConnectGetQuery> ParseConnectGetQuery(absl::string_view query) {
  ConnectGetQuery out;
  std::optional<std::string> encoding, connect;
  bool base64 = false;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const absl::string_view pair = query.substr(0, amp);
    query = amp == absl::string_view::npos ? absl::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    absl::StatusOr<std::string> key = QueryUnescape(pair.substr(0, eq));
    absl::StatusOr<std::string> value =
        QueryUnescape(eq == absl::string_view::npos ? absl::string_view() : pair.substr(eq + 1));
    if (!key.ok()) return key.status();
    if (!value.ok()) return value.status();
    // The first of a repeated key counts (Go's url.Values.Get).
    if (*key == "encoding" && !encoding) encoding = std::move(*value);
    if (*key == "connect" && !connect) connect = std::move(*value);
    if (*key == "message" && out.message.empty()) out.message = std::move(*value);
    if (*key == "base64") base64 = base64 || *value == "1";
    if (*key == "compression" && out.compression.empty()) out.compression = std::move(*value);
  }
  if (connect && *connect != "v1") {
    return absl::InvalidArgumentError(
        absl::StrCat("Unsupported connect query value: '", *connect, "' (want v1)"));
  }
  if (!encoding) return absl::InvalidArgumentError("Missing the encoding query parameter");
  if (*encoding == "proto") {
    out.codec = "proto";
  } else if (*encoding == "json") {
    out.codec = "json";
  } else {
    return absl::InvalidArgumentError(absl::StrCat("Unsupported encoding: '", *encoding, "'"));
  }
  if (base64) {
    std::string raw;
    // absl takes the padded and the unpadded forms.
    if (!absl::WebSafeBase64Unescape(out.message, &raw)) {
      return absl::InvalidArgumentError("The message query parameter is not URL-safe base64");
    }
    out.message = std::move(raw);
  }
  if (out.compression == "identity") out.compression.clear();
  return out;
}

bool ConnectGetAllowed(const google::protobuf::MethodDescriptor* method) {
  return method != nullptr && !method->client_streaming() && !method->server_streaming() &&
         method->options().idempotency_level() == google::protobuf::MethodOptions::NO_SIDE_EFFECTS;
}

absl::StatusOr<std::unique_ptr<CallProtocol>> MakeConnectProtocol(
    const ConnectCallOptions& options) {
  if (options.type.codec == "json" && options.method == nullptr) {
    return absl::InvalidArgumentError(
        "JSON needs the method's protobuf descriptor, and this server has none for it (a "
        "generic service's method): call it with application/proto");
  }
  if (options.type.protocol == WireProtocol::kConnect) {
    return std::unique_ptr<CallProtocol>(std::make_unique<ConnectUnaryProtocol>(options));
  }
  return std::unique_ptr<CallProtocol>(std::make_unique<ConnectStreamProtocol>(options));
}

std::string ConnectTypeUrl(const google::protobuf::Descriptor* type) { return TypeUrl(type); }

absl::Status ConnectJsonToBinary(absl::string_view type_url, std::string& message,
                                 ConnectJsonSide side) {
  std::string binary;
  // An empty body is the empty message (curl -d '' ...).
  absl::string_view json = message;
  if (absl::StripAsciiWhitespace(json).empty()) json = "{}";
  google::protobuf::util::JsonParseOptions options;  // unknown fields are an error
  auto status = google::protobuf::util::JsonToBinaryString(
      GeneratedTypeResolver(), std::string(type_url), std::string(json), &binary, options);
  if (!status.ok()) {
    // The server's JSON is its caller's request; the client's, a server's response.
    if (side == ConnectJsonSide::kServer) {
      return absl::InvalidArgumentError(
          absl::StrCat("Invalid JSON request message: ", std::string(status.message())));
    }
    return absl::InternalError(
        absl::StrCat("Invalid JSON message: ", std::string(status.message())));
  }
  message = std::move(binary);
  return absl::OkStatus();
}

absl::Status ConnectBinaryToJson(absl::string_view type_url, std::string& message,
                                 ConnectJsonSide side) {
  const absl::string_view what = side == ConnectJsonSide::kServer
                                     ? "Response message not convertible to JSON: "
                                     : "Message not convertible to JSON: ";
  std::string json;
  google::protobuf::util::JsonPrintOptions options;  // lowerCamel names
  auto status = google::protobuf::util::BinaryToJsonString(
      GeneratedTypeResolver(), std::string(type_url), message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat(what, std::string(status.message())));
  }
  // libprotobuf prints a string field's bytes as they are, and a handler may have put bytes
  // that are not UTF-8 in one (protobuf only logs that): such JSON is not JSON (RFC 8259 §8.1)
  // and the peer could not read it. An error, as connect-go's protojson gives.
  if (!IsUtf8(json)) {
    return absl::InternalError(absl::StrCat(what, "a string field is not UTF-8"));
  }
  message = std::move(json);
  return absl::OkStatus();
}

}  // namespace h2rpc::rpc
