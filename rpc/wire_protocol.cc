#include "rpc/wire_protocol.h"

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rpc/compression.h"

namespace h2rpc::rpc {

absl::string_view WireProtocolName(WireProtocol protocol) {
  switch (protocol) {
    case WireProtocol::kGrpc:
      return "grpc";
    case WireProtocol::kGrpcWeb:
      return "grpc-web";
    case WireProtocol::kGrpcWebText:
      return "grpc-web-text";
    case WireProtocol::kConnect:
      return "connect";
    case WireProtocol::kConnectStream:
      return "connect-stream";
  }
  return "grpc";
}

std::optional<RequestContentType> ParseRequestContentTypeSlow(absl::string_view content_type) {
  // The media type ends at the first ';' (parameters) or whitespace before it.
  absl::string_view media = content_type.substr(0, content_type.find(';'));
  media = absl::StripAsciiWhitespace(media);
  constexpr absl::string_view kApplication = "application/";
  if (!absl::StartsWithIgnoreCase(media, kApplication)) return std::nullopt;
  absl::string_view subtype = media.substr(kApplication.size());
  absl::string_view codec;
  if (size_t plus = subtype.find('+'); plus != absl::string_view::npos) {
    codec = subtype.substr(plus + 1);
    subtype = subtype.substr(0, plus);
    if (codec.empty()) return std::nullopt;  // "application/grpc+"
  }
  RequestContentType type;
  // Connect (connectrpc.com/docs/protocol): its two codecs only.
  auto connect_codec = [](absl::string_view c) -> std::optional<absl::string_view> {
    if (absl::EqualsIgnoreCase(c, "proto")) return absl::string_view("proto");
    if (absl::EqualsIgnoreCase(c, "json")) return absl::string_view("json");
    return std::nullopt;
  };
  if (codec.empty()) {
    if (auto unary = connect_codec(subtype)) {
      type.protocol = WireProtocol::kConnect;
      type.codec = *unary;
      return type;
    }
  }
  if (absl::EqualsIgnoreCase(subtype, "connect")) {
    std::optional<absl::string_view> c = connect_codec(codec);
    if (!c) return std::nullopt;
    type.protocol = WireProtocol::kConnectStream;
    type.codec = *c;
    return type;
  }
  if (absl::EqualsIgnoreCase(subtype, "grpc")) {
    type.protocol = WireProtocol::kGrpc;
  } else if (absl::EqualsIgnoreCase(subtype, "grpc-web")) {
    type.protocol = WireProtocol::kGrpcWeb;
  } else if (absl::EqualsIgnoreCase(subtype, "grpc-web-text")) {
    type.protocol = WireProtocol::kGrpcWebText;
  } else {
    return std::nullopt;
  }
  type.codec = codec;
  return type;
}

std::string ResponseContentType(const RequestContentType& type) {
  if (type.protocol == WireProtocol::kConnect) return absl::StrCat("application/", type.codec);
  if (type.protocol == WireProtocol::kConnectStream) {
    return absl::StrCat("application/connect+", type.codec);
  }
  std::string out = absl::StrCat("application/", WireProtocolName(type.protocol));
  if (!type.codec.empty()) absl::StrAppend(&out, "+", type.codec);
  return out;
}

std::string GrpcWebTrailerFrame(const transport::Headers& trailers) {
  std::string block;
  for (const transport::HeaderField& field : trailers) {
    absl::StrAppend(&block, absl::AsciiStrToLower(field.name), ": ", field.value, "\r\n");
  }
  std::string frame(5, '\0');
  frame[0] = static_cast<char>(0x80);
  const auto n = static_cast<uint32_t>(block.size());
  frame[1] = static_cast<char>(n >> 24);
  frame[2] = static_cast<char>(n >> 16);
  frame[3] = static_cast<char>(n >> 8);
  frame[4] = static_cast<char>(n);
  return frame + block;
}

namespace {

// -1 for a character outside the standard base64 alphabet ('=' is handled by the caller).
int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

absl::Status BadBase64(absl::string_view why) {
  return absl::InternalError(absl::StrCat("Malformed grpc-web-text request body: ", why));
}

}  // namespace

absl::Status Base64StreamDecoder::Feed(absl::string_view chunk, std::string& out) {
  for (char c : chunk) {
    pending_[pending_size_++] = c;
    if (pending_size_ < 4) continue;
    pending_size_ = 0;
    // One quantum: 2 to 4 significant characters, the rest '=' ("xx==", "xxx=", "xxxx").
    int significant = 4;
    while (significant > 0 && pending_[significant - 1] == '=') --significant;
    if (significant < 2) return BadBase64("misplaced '=' padding");
    uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) {
      int v = 0;
      if (i < significant) {
        v = Base64Value(pending_[i]);
        if (v < 0) return BadBase64("a character outside base64");
      }
      bits = (bits << 6) | static_cast<uint32_t>(v);
    }
    out.push_back(static_cast<char>(bits >> 16));
    if (significant >= 3) out.push_back(static_cast<char>(bits >> 8));
    if (significant == 4) out.push_back(static_cast<char>(bits));
  }
  return absl::OkStatus();
}

absl::Status Base64StreamDecoder::Finish() const {
  if (pending_size_ != 0) return BadBase64("it ends inside a base64 quantum");
  return absl::OkStatus();
}

void CallProtocol::FinishUnsent(Compression response_compression,
                                const transport::Headers& initial_metadata,
                                const absl::Status& status, const transport::Headers& status_fields,
                                transport::Headers& headers, std::string& body) {
  (void)status;  // in status_fields
  ResponseHeaders(response_compression, headers);
  for (const transport::HeaderField& f : initial_metadata) headers.add(f.name, f.value);
  for (const transport::HeaderField& f : status_fields) headers.add(f.name, f.value);
  body.clear();
}

namespace {

// gRPC-Web and its text mode: gRPC's envelopes both ways, the status in a last frame.
class GrpcWebProtocol : public CallProtocol {
 public:
  GrpcWebProtocol(WireProtocol protocol, std::string content_type)
      : protocol_(protocol), content_type_(std::move(content_type)) {}

  WireProtocol protocol() const override { return protocol_; }

  absl::Status DecodeRequest(const transport::SharedBuffer& chunk,
                             transport::SharedBuffer& framed) override {
    if (protocol_ != WireProtocol::kGrpcWebText) {
      framed = chunk;
      return absl::OkStatus();
    }
    std::string bytes;
    bytes.reserve(chunk.size() / 4 * 3 + 3);
    if (absl::Status st = decoder_.Feed(absl::string_view(chunk.data(), chunk.size()), bytes); !st.ok()) return st;
    framed = transport::SharedBuffer(std::move(bytes));
    return absl::OkStatus();
  }

  absl::Status EndRequest(transport::SharedBuffer& framed) override {
    framed = transport::SharedBuffer();
    return protocol_ == WireProtocol::kGrpcWebText ? decoder_.Finish() : absl::OkStatus();
  }

  void ResponseHeaders(Compression response_compression,
                       transport::Headers& headers) const override {
    headers.add(":status", "200");
    headers.add("content-type", content_type_);
    if (response_compression != Compression::kIdentity) {
      headers.add("grpc-encoding", std::string(CompressionName(response_compression)));
    }
    headers.add("grpc-accept-encoding", AcceptEncodingHeader(CompressionSet::All()));
  }

  transport::SharedBuffer EncodeMessage(transport::SharedBuffer framed) override {
    if (protocol_ != WireProtocol::kGrpcWebText) return framed;
    return transport::SharedBuffer(absl::Base64Escape(absl::string_view(framed.data(), framed.size())));
  }

  bool StatusInBody() const override { return true; }

  std::string EndOfBody(const transport::Headers& status_fields) override {
    std::string frame = GrpcWebTrailerFrame(status_fields);
    if (protocol_ == WireProtocol::kGrpcWebText) return absl::Base64Escape(frame);
    return frame;
  }

 private:
  WireProtocol protocol_;
  std::string content_type_;
  Base64StreamDecoder decoder_;
};

}  // namespace

std::unique_ptr<CallProtocol> MakeCallProtocol(const RequestContentType& type) {
  switch (type.protocol) {
    case WireProtocol::kGrpc:
      return nullptr;
    case WireProtocol::kGrpcWeb:
    case WireProtocol::kGrpcWebText:
      return std::make_unique<GrpcWebProtocol>(type.protocol, ResponseContentType(type));
    case WireProtocol::kConnect:
    case WireProtocol::kConnectStream:
      return nullptr;  // MakeConnectProtocol (rpc/connect_protocol.h): it needs the method
  }
  return nullptr;
}

}  // namespace h2rpc::rpc
