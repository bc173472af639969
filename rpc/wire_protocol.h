// rpc/wire_protocol.h — the wire protocols one rpc::Server answers on the same handlers, picked
// per call by the request's content-type, and CallProtocol: what a ServerCall asks of a protocol
// that is not gRPC itself (gRPC-Web, its text mode; Connect plugs in here too).
//
//   gRPC           application/grpc[+codec]           messages enveloped, status in HTTP trailers
//   gRPC-Web       application/grpc-web[+codec]       envelopes; status in a last frame (flag 0x80)
//   gRPC-Web-text  application/grpc-web-text[+codec]  the same bytes, base64 (each write its own)
//   Connect unary  application/proto, application/json  one raw message; the status picks the
//                                                       HTTP status (rpc/connect_protocol.h)
//   Connect stream application/connect+proto|+json      envelopes; an end-stream message (0x02)
//
// gRPC keeps ServerCall's own code path (no CallProtocol: its hot path pays nothing for the
// others). A CallProtocol sees the call's bytes at four points — request body in, request end,
// response headers, each response message, the end of the response — and turns them into what
// its wire wants. ServerCall keeps everything else (deframing, limits, flow control, deadlines,
// interceptors, counters), so a protocol is a translation, never a second call implementation.
//
// Threading: a CallProtocol belongs to one call (its loop thread). Pure functions: any thread.
// Lifetime: owned by the ServerCall.
#ifndef H2RPC_RPC_WIRE_PROTOCOL_H_
#define H2RPC_RPC_WIRE_PROTOCOL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rpc/compression.h"
#include "transport/buffer.h"
#include "transport/headers.h"

namespace h2rpc::rpc {

enum class WireProtocol : uint8_t { kGrpc, kGrpcWeb, kGrpcWebText, kConnect, kConnectStream };

inline bool IsConnect(WireProtocol p) {
  return p == WireProtocol::kConnect || p == WireProtocol::kConnectStream;
}

// "grpc", "grpc-web", "grpc-web-text", "connect", "connect-stream" (for logs and errors).
absl::string_view WireProtocolName(WireProtocol protocol);

// A request's content-type, parsed exactly: "application/grpc", "application/grpc+proto",
// "application/grpc-web+proto; charset=utf-8", ... The type is case-insensitive (RFC 9110);
// the codec after '+' is kept as sent ("" when absent, which means proto), a view of the parsed
// string (valid as long as it is).
struct RequestContentType {
  WireProtocol protocol = WireProtocol::kGrpc;
  absl::string_view codec;
};
// Connect's codec is "proto" or "json" (the unary types application/proto|json carry it as
// their subtype); another codec is not ours.
// nullopt: not one of ours ("application/grpcx", "application/xml", "text/plain", "").
std::optional<RequestContentType> ParseRequestContentTypeSlow(absl::string_view content_type);
inline std::optional<RequestContentType> ParseRequestContentType(absl::string_view content_type) {
  if (content_type == "application/grpc") return RequestContentType{};  // nearly every call
  return ParseRequestContentTypeSlow(content_type);
}

// gRPC-Web's trailer frame: flag 0x80, a 4-byte big-endian length, then each field as
// "name: value\r\n" with the name lower-case (the gRPC-Web spec: PROTOCOL-WEB.md).
std::string GrpcWebTrailerFrame(const transport::Headers& trailers);

// Streaming base64 decoding of a gRPC-Web-text request body: chunks split anywhere, and
// padding in the middle of the stream (each client write may be its own base64 string).
class Base64StreamDecoder {
 public:
  // Appends the bytes of the whole 4-character quanta received so far to `out`; an error for
  // a character outside the alphabet or misplaced padding.
  absl::Status Feed(absl::string_view chunk, std::string& out);
  // At the end of the body: an error if a partial quantum is left.
  absl::Status Finish() const;

 private:
  char pending_[4] = {};
  int pending_size_ = 0;
};

// What ServerCall asks of a protocol other than gRPC. All methods run on the call's loop.
//
// How Connect (connectrpc.com/docs/protocol) fits, for whoever adds it: unary — DecodeRequest
// collects the raw body (bounded by the call's max_receive_message_size), EndRequest frames it as
// one message; HoldsResponse() true, EncodeMessage keeps the message, FinishUnsent picks the HTTP
// status and writes the message or the error JSON. Streaming — envelopes as gRPC-Web's (flag
// 0x02 instead of 0x80 for the end), StatusInBody() true, EndOfBody the end-stream JSON.
// The request fields a protocol renames (connect-timeout-ms, content-encoding) are read in
// Server::StartCall, which makes the CallProtocol.
class CallProtocol {
 public:
  virtual ~CallProtocol() = default;
  virtual WireProtocol protocol() const = 0;

  // --- request ---
  // A chunk of the request body, turned into gRPC-framed bytes for the call's MessageDeframer
  // (appended to `framed`; gRPC-Web: as is). An error fails the call with it.
  virtual absl::Status DecodeRequest(const transport::SharedBuffer& chunk,
                                     transport::SharedBuffer& framed) = 0;
  // The request body ended; may add last bytes (a protocol whose request is one raw message
  // frames it here). An error fails the call.
  virtual absl::Status EndRequest(transport::SharedBuffer& framed) = 0;

  // A protocol whose messages are not protobuf's binary form (Connect's JSON) converts each
  // one: a request message after deframing and decompression, a response message before
  // compression and framing. Only called when transcodes() (set by the protocol).
  virtual absl::Status TranscodeRequest(std::string& message) {
    (void)message;
    return absl::OkStatus();
  }
  virtual absl::Status TranscodeResponse(std::string& message) {
    (void)message;
    return absl::OkStatus();
  }
  bool transcodes() const { return transcodes_; }

  // --- response ---
  // The response headers' fixed fields: :status, content-type, the compression fields.
  // ServerCall adds the initial metadata after them.
  virtual void ResponseHeaders(Compression response_compression,
                               transport::Headers& headers) const = 0;
  // One gRPC-framed response message (5-byte prefix + payload), as it goes on the wire (or,
  // with HoldsResponse(), kept by the protocol for FinishUnsent; the return value is then
  // dropped).
  virtual transport::SharedBuffer EncodeMessage(transport::SharedBuffer framed) = 0;
  // True: nothing goes out before the call ends — no headers on SendInitialMetadata() or on the
  // first message — and FinishUnsent() makes the whole response (a protocol whose HTTP status
  // depends on the call's status: Connect's unary calls).
  virtual bool HoldsResponse() const { return false; }
  // The call ends with `status` and no header has gone out: the whole response into `headers`
  // (with :status) and `body` (empty: none). `initial_metadata` is the handler's, in wire form;
  // `status_fields` as for EndOfBody. By default Trailers-Only: ResponseHeaders(), the initial
  // metadata and the status fields in the headers, no body (gRPC-Web's early errors).
  virtual void FinishUnsent(Compression response_compression,
                            const transport::Headers& initial_metadata, const absl::Status& status,
                            const transport::Headers& status_fields, transport::Headers& headers,
                            std::string& body);
  // True: the status (and trailing metadata) goes at the end of the body (EndOfBody), never in
  // HTTP trailers.
  virtual bool StatusInBody() const = 0;
  // The last bytes of the body, from the status fields ServerCall built (grpc-status,
  // grpc-message, grpc-status-details-bin, then the trailing metadata).
  virtual std::string EndOfBody(const transport::Headers& status_fields) = 0;

  // Fields the server adds to every response of the call, after the protocol's own and before
  // the metadata (CORS: access-control-allow-origin, -expose-headers).
  void set_extra_headers(transport::Headers headers) { extra_headers_ = std::move(headers); }
  const transport::Headers& extra_headers() const { return extra_headers_; }

 protected:
  void set_transcodes(bool on) { transcodes_ = on; }

 private:
  transport::Headers extra_headers_;
  bool transcodes_ = false;
};

// The protocol object for `type`; null for gRPC (ServerCall's own path) and for Connect
// (rpc/connect_protocol.h's MakeConnectProtocol, which needs the method).
std::unique_ptr<CallProtocol> MakeCallProtocol(const RequestContentType& type);

// The content-type of a response to a request of `type` (the request's protocol and codec).
std::string ResponseContentType(const RequestContentType& type);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_WIRE_PROTOCOL_H_
