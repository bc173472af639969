#include "rpc/client_protocol.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/status.pb.h"
#include "rpc/connect_protocol.h"
#include "rpc/framing.h"
#include "rpc/internal/base64.h"
#include "rpc/status_util.h"
#include "rpc/timeout.h"
#include "rpc/wire_protocol.h"

namespace h2rpc::rpc {

namespace {

using transport::Headers;

constexpr uint8_t kGrpcWebTrailerFlag = 0x80;
// Room for an error body or an end-stream message beyond the message limit (their details and
// metadata are not messages).
constexpr size_t kStatusBodySlack = 64 * 1024;

// Response fields that are the protocol's, not the application's metadata.
bool IsProtocolField(absl::string_view name) {
  return name.empty() || name[0] == ':' || name == "content-type" || name == "content-length" ||
         name == "content-encoding" || name == "accept-encoding" || absl::StartsWith(name, "connect-") ||
         absl::StartsWith(name, "grpc-");
}

// gRPC-Web's trailer frame payload: "name: value\r\n" lines (names case-insensitive).
absl::StatusOr<Headers> ParseGrpcWebTrailers(absl::string_view payload) {
  Headers out;
  for (absl::string_view line : absl::StrSplit(payload, "\r\n", absl::SkipEmpty())) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InternalError("Malformed gRPC-Web trailer frame");
    }
    out.add(absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon))),
            std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return out;
}

const google::protobuf::Struct* StructField(const google::protobuf::Struct& s, const char* name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end() || !it->second.has_struct_value()) return nullptr;
  return &it->second.struct_value();
}

std::optional<std::string> StringField(const google::protobuf::Struct& s, const char* name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end() || it->second.kind_case() != google::protobuf::Value::kStringValue) {
    return std::nullopt;
  }
  return it->second.string_value();
}

std::optional<Headers> ErrorObjectToStatusFields(const google::protobuf::Struct& error) {
  std::optional<std::string> code_name = StringField(error, "code");
  if (!code_name) return std::nullopt;
  const absl::StatusCode code =
      ConnectCodeFromName(*code_name).value_or(absl::StatusCode::kUnknown);
  const std::string message = StringField(error, "message").value_or("");
  Headers out;
  out.add("grpc-status", absl::StrCat(static_cast<int>(code)));
  if (!message.empty()) out.add("grpc-message", PercentEncodeGrpcMessage(message));
  auto details = error.fields().find("details");
  if (details != error.fields().end() && details->second.has_list_value()) {
    google::rpc::Status status;
    status.set_code(static_cast<int>(code));
    status.set_message(message);
    for (const google::protobuf::Value& d : details->second.list_value().values()) {
      if (!d.has_struct_value()) continue;
      std::optional<std::string> type = StringField(d.struct_value(), "type");
      std::optional<std::string> value = StringField(d.struct_value(), "value");
      std::string raw;
      // The spec's value is base64 without padding; absl takes both forms.
      if (!type || !value || !absl::Base64Unescape(*value, &raw)) continue;
      google::protobuf::Any* any = status.add_details();
      any->set_type_url(absl::StrCat("type.googleapis.com/", *type));
      any->set_value(std::move(raw));
    }
    if (status.details_size() > 0) {
      out.add("grpc-status-details-bin", internal::Base64EncodeUnpadded(status.SerializeAsString()));
    }
  }
  return out;
}

absl::Status ParseJsonObject(absl::string_view json, google::protobuf::Struct& out) {
  auto st = google::protobuf::util::JsonStringToMessage(std::string(json), &out);
  if (!st.ok()) return absl::InternalError(std::string(st.message()));
  return absl::OkStatus();
}

// A status synthesized by the client (no status from the server).
Headers StatusFields(absl::StatusCode code, absl::string_view message) {
  Headers out;
  out.add("grpc-status", absl::StrCat(static_cast<int>(code)));
  out.add("grpc-message", PercentEncodeGrpcMessage(message));
  return out;
}

// Envelopes (gRPC's 5-byte prefix) of a response body, each collected whole (bounded), handed
// to `on_envelope`.
class Envelopes {
 public:
  explicit Envelopes(size_t max_size) : max_size_(max_size) {}
  template <typename F>
  absl::Status Feed(absl::string_view bytes, F&& on_envelope) {
    buffer_.append(bytes.data(), bytes.size());
    size_t at = 0;
    while (buffer_.size() - at >= kMessagePrefixSize) {
      const auto* p = reinterpret_cast<const uint8_t*>(buffer_.data() + at);
      const uint32_t length = uint32_t{p[1]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 8 | p[4];
      if (length > max_size_) {
        return absl::ResourceExhaustedError(
            absl::StrCat("Received message larger than max (", length, " vs. ", max_size_, ")"));
      }
      if (buffer_.size() - at - kMessagePrefixSize < length) break;
      absl::Status st =
          on_envelope(p[0], absl::string_view(buffer_.data() + at + kMessagePrefixSize, length));
      if (!st.ok()) return st;
      at += kMessagePrefixSize + length;
    }
    buffer_.erase(0, at);
    return absl::OkStatus();
  }
  bool partial() const { return !buffer_.empty(); }
  void Reset() { buffer_.clear(); }

 private:
  size_t max_size_;
  std::string buffer_;
};

// --- gRPC-Web ---------------------------------------------------------------------------------

class GrpcWebProtocol : public ClientProtocol {
 public:
  GrpcWebProtocol(bool text, size_t max_receive)
      : text_(text), max_receive_(max_receive), envelopes_(max_receive + kStatusBodySlack) {}

  void RequestHeaders(std::optional<absl::Duration> timeout, Compression compression,
                      Headers& headers) const override {
    if (timeout) headers.add("grpc-timeout", EncodeGrpcTimeout(*timeout));
    headers.add("content-type",
                text_ ? "application/grpc-web-text+proto" : "application/grpc-web+proto");
    headers.add("x-grpc-web", "1");
    if (text_) headers.add("accept", "application/grpc-web-text");
    if (compression != Compression::kIdentity) {
      headers.add("grpc-encoding", std::string(CompressionName(compression)));
    }
    headers.add("grpc-accept-encoding", AcceptEncodingHeader(CompressionSet::All()));
  }
  absl::StatusOr<std::string> EncodeRequest(std::string message, Compression compression,
                                            size_t* payload_bytes) const override {
    bool compressed = false;
    if (compression != Compression::kIdentity) {
      auto packed = Compress(compression, message);
      if (packed.ok()) {
        message = std::move(*packed);
        compressed = true;
      }
    }
    *payload_bytes = message.size();
    std::string frame = FrameMessage(message, compressed);
    // Text mode: each write its own base64 string (padding included), as grpc-web's clients.
    return text_ ? absl::Base64Escape(frame) : frame;
  }
  size_t PayloadBytes(const std::string& encoded) const override {
    const size_t framed = text_ ? encoded.size() / 4 * 3 : encoded.size();
    return framed >= kMessagePrefixSize ? framed - kMessagePrefixSize : 0;
  }

  void Reset() override {
    envelopes_.Reset();
    decoder_ = Base64StreamDecoder();
    status_seen_ = false;
  }
  absl::Status OnHeaders(const Headers& headers, bool end_stream, Translated& out) override {
    Headers translated;
    for (const transport::HeaderField& f : headers) {
      if (f.name == "content-type" && absl::StartsWith(absl::AsciiStrToLower(f.value),
                                                       "application/grpc-web")) {
        translated.add("content-type", "application/grpc");  // ours: the gRPC path takes it
      } else {
        translated.add(f.name, f.value);
      }
    }
    status_seen_ = end_stream || headers.has("grpc-status");
    out.headers = std::move(translated);
    out.trailers_only = end_stream;
    return absl::OkStatus();
  }
  absl::Status OnBody(const transport::SharedBuffer& chunk, Translated& out) override {
    absl::string_view bytes(chunk.data(), chunk.size());
    std::string decoded;
    if (text_) {
      if (absl::Status st = decoder_.Feed(bytes, decoded); !st.ok()) {
        return absl::InternalError(absl::StrCat("Bad gRPC-Web-text body: ", st.message()));
      }
      bytes = decoded;
    }
    return envelopes_.Feed(bytes, [&](uint8_t flags, absl::string_view payload) -> absl::Status {
      if (status_seen_) return absl::InternalError("gRPC-Web response goes on after its trailers");
      if (flags & kGrpcWebTrailerFlag) {
        absl::StatusOr<Headers> trailers = ParseGrpcWebTrailers(payload);
        if (!trailers.ok()) return trailers.status();
        status_seen_ = true;
        out.trailers = std::move(*trailers);
        return absl::OkStatus();
      }
      if (payload.size() > max_receive_) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "Received message larger than max (", payload.size(), " vs. ", max_receive_, ")"));
      }
      out.framed += MessagePrefix(static_cast<uint32_t>(payload.size()), flags & 1);
      out.framed.append(payload.data(), payload.size());
      return absl::OkStatus();
    });
  }
  absl::Status OnEnd(Translated& out) override {
    if (status_seen_) return absl::OkStatus();
    if (envelopes_.partial() || (text_ && !decoder_.Finish().ok())) {
      out.trailers = StatusFields(absl::StatusCode::kInternal,
                                  "gRPC-Web response ended in the middle of a frame");
    } else {
      out.trailers = StatusFields(absl::StatusCode::kInternal,
                                  "gRPC-Web response ended without its trailer frame");
    }
    return absl::OkStatus();
  }

 private:
  bool text_;
  size_t max_receive_;
  Envelopes envelopes_;
  Base64StreamDecoder decoder_;
  bool status_seen_ = false;
};

// --- Connect ----------------------------------------------------------------------------------

class ConnectProtocol : public ClientProtocol {
 public:
  ConnectProtocol(bool unary, ConnectCodec codec, const google::protobuf::MethodDescriptor* method,
                  size_t max_receive)
      : unary_(unary),
        json_(codec == ConnectCodec::kJson),
        method_(method),
        max_receive_(max_receive),
        envelopes_(max_receive + kStatusBodySlack) {}

  void RequestHeaders(std::optional<absl::Duration> timeout, Compression compression,
                      Headers& headers) const override {
    const char* type = unary_ ? (json_ ? "application/json" : "application/proto")
                              : (json_ ? "application/connect+json" : "application/connect+proto");
    headers.add("content-type", type);
    headers.add("connect-protocol-version", "1");
    if (timeout) {
      // Milliseconds, at most 10 digits (the spec); rounded up so a short deadline stays > 0.
      const int64_t ms = std::clamp<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(*timeout, absl::Milliseconds(1))), 1, 9999999999);
      headers.add("connect-timeout-ms", absl::StrCat(ms));
    }
    const std::string accept = AcceptEncodingHeader(CompressionSet::All());
    if (unary_) {
      if (compression != Compression::kIdentity) {
        headers.add("content-encoding", std::string(CompressionName(compression)));
      }
      headers.add("accept-encoding", accept);
    } else {
      if (compression != Compression::kIdentity) {
        headers.add("connect-content-encoding", std::string(CompressionName(compression)));
      }
      headers.add("connect-accept-encoding", accept);
    }
  }
  absl::StatusOr<std::string> EncodeRequest(std::string message, Compression compression,
                                            size_t* payload_bytes) const override {
    if (json_) {
      if (absl::Status st = ConnectBinaryToJson(ConnectTypeUrl(method_->input_type()), message,
                                                ConnectJsonSide::kClient);
          !st.ok()) {
        return st;
      }
    }
    bool compressed = false;
    if (compression != Compression::kIdentity) {
      auto packed = Compress(compression, message);
      if (!packed.ok()) return packed.status();
      message = std::move(*packed);
      compressed = true;
    }
    *payload_bytes = message.size();
    if (unary_) return message;  // the body is the message
    return ConnectEnvelope(compressed ? kConnectCompressedFlag : 0, message);
  }
  size_t PayloadBytes(const std::string& encoded) const override {
    if (unary_) return encoded.size();
    return encoded.size() >= kMessagePrefixSize ? encoded.size() - kMessagePrefixSize : 0;
  }

  void Reset() override {
    envelopes_.Reset();
    http_status_ = 0;
    headers_ = Headers();
    body_.clear();
    held_ = false;
    status_seen_ = false;
    compression_ = Compression::kIdentity;
  }

  absl::Status OnHeaders(const Headers& headers, bool end_stream, Translated& out) override {
    (void)absl::SimpleAtoi(headers.get(":status").value_or(""), &http_status_);
    headers_ = headers;
    const std::string content_type =
        absl::AsciiStrToLower(headers.get("content-type").value_or(""));
    const std::string encoding =
        headers.get(unary_ ? "content-encoding" : "connect-content-encoding").value_or("identity");
    if (encoding != "identity") {
      std::optional<Compression> c = CompressionFromName(encoding);
      if (!c) {
        return absl::InternalError(absl::StrCat("Unsupported content-encoding: ", encoding));
      }
      compression_ = *c;
    }
    // A unary response, and any error response, is taken whole and translated at its end.
    held_ = unary_ || http_status_ != 200;
    if (held_) return absl::OkStatus();
    const char* want = json_ ? "application/connect+json" : "application/connect+proto";
    if (!absl::StartsWith(content_type, want)) {
      out.headers = StatusFields(absl::StatusCode::kInternal,
                                 absl::StrCat("Unexpected content-type: '", content_type, "'"));
      out.headers->add(":status", "200");
      out.headers->add("content-type", "application/grpc");
      out.trailers_only = true;
      status_seen_ = true;
      return absl::OkStatus();
    }
    out.headers = GrpcHeaders();
    if (end_stream) {
      // No end-stream message at all: the stream is broken.
      for (const auto& f : StatusFields(absl::StatusCode::kInternal,
                                        "Connect stream ended without its end-stream message")) {
        out.headers->add(f.name, f.value);
      }
      out.trailers_only = true;
      status_seen_ = true;
    }
    return absl::OkStatus();
  }

  absl::Status OnBody(const transport::SharedBuffer& chunk, Translated& out) override {
    if (held_) {
      const size_t limit = (http_status_ == 200 ? max_receive_ : 0) + kStatusBodySlack;
      if (body_.size() + chunk.size() > limit) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "Received message larger than max (more than ", max_receive_, " bytes)"));
      }
      body_.append(chunk.data(), chunk.size());
      return absl::OkStatus();
    }
    return envelopes_.Feed(absl::string_view(chunk.data(), chunk.size()), [&](uint8_t flags, absl::string_view payload) {
      return OnEnvelope(flags, payload, out);
    });
  }

  absl::Status OnEnd(Translated& out) override {
    if (!held_) {
      if (!status_seen_) {
        out.trailers = StatusFields(
            absl::StatusCode::kInternal,
            envelopes_.partial() ? "Connect stream ended in the middle of a message"
                                 : "Connect stream ended without its end-stream message");
      }
      return absl::OkStatus();
    }
    if (http_status_ != 200) return EndError(out);
    std::string message = std::move(body_);
    if (compression_ != Compression::kIdentity) {
      auto inflated = Decompress(compression_, message, max_receive_);
      if (!inflated.ok()) return inflated.status();
      message = std::move(*inflated);
    }
    const std::string content_type =
        absl::AsciiStrToLower(headers_.get("content-type").value_or(""));
    const char* want = json_ ? "application/json" : "application/proto";
    if (!absl::StartsWith(content_type, want)) {
      return absl::InternalError(absl::StrCat("Unexpected content-type: '", content_type, "'"));
    }
    if (json_) {
      if (absl::Status st = ConnectJsonToBinary(ConnectTypeUrl(method_->output_type()), message,
                                                ConnectJsonSide::kClient);
          !st.ok()) {
        return st;
      }
    }
    if (message.size() > max_receive_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Received message larger than max (", message.size(), " vs. ", max_receive_, ")"));
    }
    out.headers = GrpcHeaders();
    out.framed = FrameMessage(message, false);
    out.trailers = Headers();
    out.trailers->add("grpc-status", "0");
    AddTrailerFields(*out.trailers);
    return absl::OkStatus();
  }

 private:
  // The response headers in gRPC's shape: the compression fields renamed, the metadata.
  Headers GrpcHeaders() const {
    Headers h;
    h.add(":status", "200");
    h.add("content-type", "application/grpc");
    if (compression_ != Compression::kIdentity) {
      h.add("grpc-encoding", std::string(CompressionName(compression_)));
    }
    if (auto accept = headers_.get(unary_ ? "accept-encoding" : "connect-accept-encoding")) {
      h.add("grpc-accept-encoding", *accept);
    }
    for (const transport::HeaderField& f : headers_) {
      if (IsProtocolField(f.name) || absl::StartsWith(f.name, "trailer-")) continue;
      h.add(f.name, f.value);
    }
    return h;
  }
  // Unary trailing metadata: the "trailer-" headers, without the prefix.
  void AddTrailerFields(Headers& out) const {
    for (const transport::HeaderField& f : headers_) {
      if (absl::StartsWith(f.name, "trailer-") && f.name.size() > 8) {
        out.add(f.name.substr(8), f.value);
      }
    }
  }

  absl::Status OnEnvelope(uint8_t flags, absl::string_view payload, Translated& out) {
    if (status_seen_) return absl::InternalError("Connect stream goes on after its end-stream message");
    std::string bytes(payload);
    if (flags & kConnectCompressedFlag) {
      if (compression_ == Compression::kIdentity) {
        return absl::InternalError(
            "Compressed flag set on a message but the response has no connect-content-encoding");
      }
      auto inflated = Decompress(compression_, bytes, max_receive_ + kStatusBodySlack);
      if (!inflated.ok()) return inflated.status();
      bytes = std::move(*inflated);
    }
    if (flags & kConnectEndStreamFlag) {
      status_seen_ = true;
      return EndStream(bytes, out);
    }
    if (bytes.size() > max_receive_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Received message larger than max (", bytes.size(), " vs. ", max_receive_, ")"));
    }
    if (json_) {
      if (absl::Status st = ConnectJsonToBinary(ConnectTypeUrl(method_->output_type()), bytes,
                                                ConnectJsonSide::kClient);
          !st.ok()) {
        return st;
      }
    }
    out.framed += FrameMessage(bytes, false);
    return absl::OkStatus();
  }

  // The end-stream message: {"error":{…},"metadata":{"k":["v",…]}}.
  absl::Status EndStream(absl::string_view json, Translated& out) {
    google::protobuf::Struct end;
    if (absl::Status st = ParseJsonObject(json, end); !st.ok()) {
      return absl::InternalError(absl::StrCat("Bad Connect end-stream message: ", st.message()));
    }
    Headers trailers;
    if (const google::protobuf::Struct* error = StructField(end, "error")) {
      std::optional<Headers> fields = ErrorObjectToStatusFields(*error);
      trailers = fields ? std::move(*fields)
                        : StatusFields(absl::StatusCode::kUnknown,
                                       "Connect end-stream error without a code");
    } else {
      trailers.add("grpc-status", "0");
    }
    if (const google::protobuf::Struct* metadata = StructField(end, "metadata")) {
      for (const auto& [name, values] : metadata->fields()) {
        if (!values.has_list_value()) continue;
        for (const google::protobuf::Value& v : values.list_value().values()) {
          if (v.kind_case() == google::protobuf::Value::kStringValue) {
            trailers.add(absl::AsciiStrToLower(name), v.string_value());
          }
        }
      }
    }
    out.trailers = std::move(trailers);
    return absl::OkStatus();
  }

  // A non-200 response: the error JSON's status, or the HTTP status's code (connect-go's table).
  absl::Status EndError(Translated& out) {
    std::string body = std::move(body_);
    if (compression_ != Compression::kIdentity) {
      auto inflated = Decompress(compression_, body, kStatusBodySlack);
      body = inflated.ok() ? std::move(*inflated) : std::string();
    }
    std::optional<Headers> fields;
    const std::string content_type =
        absl::AsciiStrToLower(headers_.get("content-type").value_or(""));
    if (absl::StartsWith(content_type, "application/json")) {
      fields = ConnectErrorToStatusFields(body);
    }
    if (!fields) {
      fields = StatusFields(CodeFromConnectHttpStatus(http_status_),
                            absl::StrCat("HTTP status ", http_status_));
    }
    // Trailers-Only: the status with all the metadata (Connect's error metadata is both).
    Headers h;
    h.add(":status", "200");
    h.add("content-type", "application/grpc");
    for (const auto& f : *fields) h.add(f.name, f.value);
    for (const transport::HeaderField& f : headers_) {
      if (!IsProtocolField(f.name) && !absl::StartsWith(f.name, "trailer-")) h.add(f.name, f.value);
    }
    AddTrailerFields(h);
    out.headers = std::move(h);
    out.trailers_only = true;
    return absl::OkStatus();
  }

  bool unary_;
  bool json_;
  const google::protobuf::MethodDescriptor* method_;
  size_t max_receive_;
  Envelopes envelopes_;
  int http_status_ = 0;
  Headers headers_;
  std::string body_;
  bool held_ = false;
  bool status_seen_ = false;
  Compression compression_ = Compression::kIdentity;
};

}  // namespace

absl::string_view ChannelProtocolName(ChannelProtocol protocol) {
  switch (protocol) {
    case ChannelProtocol::kGrpc:
      return "grpc";
    case ChannelProtocol::kGrpcWeb:
      return "grpc-web";
    case ChannelProtocol::kGrpcWebText:
      return "grpc-web-text";
    case ChannelProtocol::kConnect:
      return "connect";
  }
  return "grpc";
}

std::optional<ChannelProtocol> ChannelProtocolFromName(absl::string_view name) {
  for (ChannelProtocol p : {ChannelProtocol::kGrpc, ChannelProtocol::kGrpcWeb,
                            ChannelProtocol::kGrpcWebText, ChannelProtocol::kConnect}) {
    if (ChannelProtocolName(p) == name) return p;
  }
  return std::nullopt;
}

std::optional<Headers> ConnectErrorToStatusFields(absl::string_view json) {
  google::protobuf::Struct error;
  if (!ParseJsonObject(json, error).ok()) return std::nullopt;
  return ErrorObjectToStatusFields(error);
}

absl::StatusOr<std::unique_ptr<ClientProtocol>> ClientProtocol::Make(
    ChannelProtocol protocol, ConnectCodec codec, absl::string_view path,
    size_t max_receive_message_size) {
  switch (protocol) {
    case ChannelProtocol::kGrpc:
      return nullptr;
    case ChannelProtocol::kGrpcWeb:
    case ChannelProtocol::kGrpcWebText:
      return std::unique_ptr<ClientProtocol>(std::make_unique<GrpcWebProtocol>(
          protocol == ChannelProtocol::kGrpcWebText, max_receive_message_size));
    case ChannelProtocol::kConnect:
      break;
  }
  const google::protobuf::MethodDescriptor* method = FindGeneratedMethod(path);
  if (codec == ConnectCodec::kJson && method == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Connect JSON needs the method's protobuf descriptor, and this program has none for '",
        path, "': use ConnectCodec::kProto"));
  }
  const bool unary = method != nullptr && !method->client_streaming() && !method->server_streaming();
  return std::unique_ptr<ClientProtocol>(
      std::make_unique<ConnectProtocol>(unary, codec, method, max_receive_message_size));
}

}  // namespace h2rpc::rpc
