// rpc/client_protocol.h — the client side of gRPC-Web and Connect (ChannelOptions::protocol): a
// ClientProtocol turns a ClientCall's request into its wire's form and translates the response
// back into gRPC's shape — response headers, gRPC-framed messages, a trailers block with
// grpc-status — so that ClientCall keeps one code path for deframing, limits, retries, hedging,
// deadlines, interceptors and cancellation (as rpc/wire_protocol.h's CallProtocol does on the
// server side). gRPC itself has no ClientProtocol (its fast path pays nothing for the others).
//
//   gRPC-Web        application/grpc-web+proto, x-grpc-web: 1, gRPC's envelopes; the status and
//                   trailing metadata in the body's last frame (flag 0x80) or Trailers-Only.
//   gRPC-Web-text   application/grpc-web-text+proto: the same bytes in base64 both ways.
//   Connect unary   POST application/proto|json, the raw message, connect-timeout-ms,
//                   content-encoding; 200 → the message (headers: initial metadata, trailer-*:
//                   trailing), else the error JSON (or the HTTP status's code without one).
//   Connect stream  application/connect+proto|json, envelopes, the end-stream message (0x02).
//
// Which Connect form a call takes comes from the method's descriptor in the generated pool
// (unary methods: the unary form); a path the program has no descriptor for (GenericStub) uses
// the streaming form, which serves every call kind, and cannot use JSON.
//
// Threading: a ClientProtocol belongs to one call (its loop thread). Lifetime: owned by the
// ClientCall; its response state is reset for each attempt.
#ifndef H2RPC_RPC_CLIENT_PROTOCOL_H_
#define H2RPC_RPC_CLIENT_PROTOCOL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rpc/compression.h"
#include "transport/buffer.h"
#include "transport/headers.h"

namespace h2rpc::rpc {

// The wire protocol of a channel's calls (ChannelOptions::protocol).
enum class ChannelProtocol : uint8_t { kGrpc, kGrpcWeb, kGrpcWebText, kConnect };
// Connect's message codec (ChannelOptions::connect_codec): protobuf's binary form, or its JSON
// mapping (libprotobuf's, on the generated descriptor pool).
enum class ConnectCodec : uint8_t { kProto, kJson };

// "grpc", "grpc-web", "grpc-web-text", "connect"; and back (nullopt for another name).
absl::string_view ChannelProtocolName(ChannelProtocol protocol);
std::optional<ChannelProtocol> ChannelProtocolFromName(absl::string_view name);

class ClientProtocol {
 public:
  // The translation of a response, in gRPC's terms, for ClientCall to handle as a gRPC response.
  struct Translated {
    std::optional<transport::Headers> headers;  // response headers (":status" 200 ...)
    bool trailers_only = false;                 // `headers` carry the status (END_STREAM)
    std::string framed;                         // gRPC-framed messages
    std::optional<transport::Headers> trailers; // grpc-status, grpc-message, ... + metadata
  };

  // Null for kGrpc. INVALID_ARGUMENT for Connect JSON on a method without a descriptor.
  static absl::StatusOr<std::unique_ptr<ClientProtocol>> Make(ChannelProtocol protocol,
                                                              ConnectCodec codec,
                                                              absl::string_view path,
                                                              size_t max_receive_message_size);
  virtual ~ClientProtocol() = default;

  // --- request ---
  // The protocol's request fields after the pseudo-headers: content-type, the timeout, the
  // compression fields (the caller adds user-agent and the metadata).
  virtual void RequestHeaders(std::optional<absl::Duration> timeout, Compression compression,
                              transport::Headers& headers) const = 0;
  // One request message (protobuf's binary form) as written on the stream, compressed with
  // `compression` unless it is kIdentity; `*payload_bytes` is the message's size as sent.
  virtual absl::StatusOr<std::string> EncodeRequest(std::string message, Compression compression,
                                                    size_t* payload_bytes) const = 0;
  // The message bytes in one encoded request (a replayed one's count).
  virtual size_t PayloadBytes(const std::string& encoded) const = 0;

  // --- response (each attempt anew) ---
  virtual void Reset() = 0;
  // The response headers (END_STREAM on them: `end_stream`). Nothing in `out` yet: held until
  // the body ends (Connect unary, errors with a body).
  virtual absl::Status OnHeaders(const transport::Headers& headers, bool end_stream,
                                 Translated& out) = 0;
  // A chunk of the body. An error cancels the call with it.
  virtual absl::Status OnBody(const transport::SharedBuffer& chunk, Translated& out) = 0;
  // The body ended.
  virtual absl::Status OnEnd(Translated& out) = 0;
};

// Parses Connect's error JSON ({"code","message","details":[{"type","value"}]}) into gRPC's
// status fields (grpc-status, grpc-message percent-encoded, grpc-status-details-bin base64 of a
// google.rpc.Status holding the details). nullopt: not an error JSON (a proxy's page).
std::optional<transport::Headers> ConnectErrorToStatusFields(absl::string_view json);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CLIENT_PROTOCOL_H_
