// Node-style errors as absl::Status: every error the transport reports carries the code Node would
// use ("ERR_HTTP2_HEADERS_SENT") both as a Status payload (type URL "h2rpc/node-code") and as the
// message prefix, so callers can branch on Node's code and logs read like Node's.
//
// Threading: free functions on plain values, callable from any thread. Lifetime: the returned
// Status owns its message and payload.
//
// absl::StatusCode mapping (Node has JS error classes, absl has codes):
//   TypeError / RangeError from argument or value validation  -> kInvalidArgument
//   state errors (headers already sent, stream destroyed...)   -> kFailedPrecondition
//   ERR_HTTP2_STREAM_ERROR / ERR_HTTP2_SESSION_ERROR           -> by the HTTP/2 error code, as gRPC
//     maps RST_STREAM codes (doc/PROTOCOL-HTTP2.md): REFUSED_STREAM -> kUnavailable (safe to
//     retry), CANCEL -> kCancelled, ENHANCE_YOUR_CALM -> kResourceExhausted, INADEQUATE_SECURITY ->
//     kPermissionDenied, anything else -> kInternal.
#ifndef H2RPC_TRANSPORT_ERRORS_H_
#define H2RPC_TRANSPORT_ERRORS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace h2rpc::transport {

// Type URL of the payload holding Node's error code.
inline constexpr std::string_view kNodeCodePayloadUrl = "h2rpc/node-code";

// A Status with message "<nodeCode>: <message>" and the payload kNodeCodePayloadUrl = nodeCode.
// `code` must not be kOk (an OK Status cannot carry a message or payload).
absl::Status nodeError(absl::StatusCode code, std::string_view nodeCode, std::string_view message);

// Node's error code carried by `status` ("ERR_HTTP2_HEADERS_SENT"), or "" if it has none.
std::string nodeErrorCode(const absl::Status& status);

// The message as Node would print it: status.message() without the "<nodeCode>: " prefix.
std::string nodeErrorMessage(const absl::Status& status);

// The absl code the transport uses for an HTTP/2 RST_STREAM/GOAWAY error code (see above).
absl::StatusCode statusCodeForHttp2Error(uint32_t code);

// ERR_HTTP2_STREAM_ERROR: "Stream closed with error code NGHTTP2_PROTOCOL_ERROR". As in Node, codes
// without a name (above 0xd) are printed in decimal: "Stream closed with error code 153".
absl::Status http2StreamError(uint32_t code);

// ERR_HTTP2_SESSION_ERROR: "Session closed with error code 1" (Node prints the number, not the
// name).
absl::Status http2SessionError(uint32_t code);

// ERR_HTTP2_STREAM_CANCEL: "The pending stream has been canceled (caused by: <cause's message>)",
// what a request still waiting for its session's connection fails with when the session is
// destroyed (Node's Http2Session destroy). Keeps the cause's absl code (kCancelled without one)
// and the cause itself as the payload errorCause() reads (Node's err.cause).
absl::Status http2StreamCancelError(const absl::Status& cause);

// The cause http2StreamCancelError() kept (its ToString()), empty if none.
std::string errorCause(const absl::Status& status);

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_ERRORS_H_
