// Status on the gRPC wire: the `grpc-message` percent-encoding, `grpc-status` parsing, the
// statuses a client synthesizes when `grpc-status` is missing (HTTP status, RST_STREAM code), and
// the `google.rpc.Status` carried by `grpc-status-details-bin` (doc/PROTOCOL-HTTP2.md,
// doc/http-grpc-status-mapping.md; /work/shared/notes/grpc-protocol.md §4, §6, §7).
//
// absl::StatusCode values are exactly gRPC's status codes, so a StatusCode is a gRPC code.
//
// Threading: pure functions on values, callable from any thread.
// Lifetime: results own their bytes; arguments are only read during the call.
#ifndef H2RPC_RPC_STATUS_UTIL_H_
#define H2RPC_RPC_STATUS_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/rpc/status.pb.h"

namespace h2rpc::rpc {

// `grpc-message` encoding: every byte outside %x20-%x7E, and '%' itself, becomes "%XX" (upper-case
// hex); other bytes are copied. The input is the message's UTF-8 bytes (not validated: any bytes
// round-trip).
std::string PercentEncodeGrpcMessage(absl::string_view message);

// Inverse of PercentEncodeGrpcMessage. Never fails (the spec forbids failing on bad escapes):
// "%" followed by two hex digits (either case) becomes that byte; any other '%' is kept as is.
std::string PercentDecodeGrpcMessage(absl::string_view encoded);

// The code in a `grpc-status` value: 1+ ASCII decimal digits and nothing else (no sign, no
// spaces). Unparsable or outside 0..16 -> kUnknown (grpc-go, C-core grpc_status_code_from_int).
absl::StatusCode StatusCodeFromGrpcStatus(absl::string_view value);

// The status a client reports for a response without `grpc-status` (notes §6): 400, 431 ->
// INTERNAL; 401 -> UNAUTHENTICATED; 403 -> PERMISSION_DENIED; 404 -> UNIMPLEMENTED; 429, 502, 503,
// 504 -> UNAVAILABLE; anything else (200 included) -> UNKNOWN. Message: "Received HTTP status code
// 404" (grpc-js's wording). Client only: a server never uses this table.
absl::Status StatusFromHttpStatus(int http_status);

// The status of a stream reset by the peer with this HTTP/2 error code (notes §7): REFUSED_STREAM
// -> UNAVAILABLE (nothing was processed: safe to retry), CANCEL -> CANCELLED, ENHANCE_YOUR_CALM ->
// RESOURCE_EXHAUSTED, INADEQUATE_SECURITY -> PERMISSION_DENIED, everything else (NO_ERROR,
// FLOW_CONTROL_ERROR and unknown codes included) -> INTERNAL. The message names the code:
// "Stream closed with RST_STREAM NGHTTP2_REFUSED_STREAM (7)"; codes without a name read
// "... RST_STREAM unknown error code (153)". The caller decides whether the RST matters at all
// (an RST after a complete OK status is ignored, §7).
absl::Status StatusFromRstCode(uint32_t h2_code);

// `grpc-status-details-bin` carries a serialized google.rpc.Status (before base64, which Metadata
// does for every `-bin` key), the generated message of proto/google/rpc/status.proto:
//   message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
//
// Each absl::Status payload maps to one Any (type URL = payload key, value = payload bytes), so
// details a handler attaches with SetPayload reach the peer's Status (rpc/status_details.h
// attaches and reads typed ones: ErrorInfo, BadRequest, RetryInfo, ...). The caller strips
// payloads that must not leave the process before encoding. The message should be UTF-8: proto3
// strings are, and a details blob whose message (or a type URL) is not does not parse, here as in
// grpc-go.
google::rpc::Status ToRpcStatus(const absl::Status& status);
// Code (outside 0..16 -> kUnknown), message and one payload per Any (a later Any with the same
// type URL replaces an earlier one: a Status holds one payload per URL). An OK code yields
// absl::OkStatus() (which has no message or payloads).
absl::Status FromRpcStatus(const google::rpc::Status& status);

// ToRpcStatus, serialized.
std::string EncodeStatusDetails(const absl::Status& status);

// Parses a google.rpc.Status into *decoded (FromRpcStatus). Unknown fields are skipped (groups
// included, as by every protobuf parser). Returns INTERNAL, leaving *decoded alone, for malformed
// bytes (truncated, bad wire type, field number 0, strings that are not UTF-8). (Not
// StatusOr<Status>: constructing one from an error Status makes a *value*, an easy way to lose
// the error.)
absl::Status DecodeStatusDetails(absl::string_view bytes, absl::Status* decoded);

// Only the raw `code` field (0 when absent, as proto3 defaults), for the client's check that it
// equals `grpc-status` (grpc-go: else INTERNAL "grpc-status-details-bin mismatch").
// Malformed bytes -> INTERNAL.
absl::StatusOr<int> StatusDetailsCode(absl::string_view bytes);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_STATUS_UTIL_H_
