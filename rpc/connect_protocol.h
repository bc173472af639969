// rpc/connect_protocol.h — the Connect protocol (connectrpc.com/docs/protocol) as a CallProtocol
// (rpc/wire_protocol.h): the same handlers as gRPC answer Connect clients (connect-web,
// connect-go, buf curl --protocol connect, plain curl with JSON).
//
//   unary      POST application/proto|json, the body one raw message (content-encoding for
//              compression). Nothing goes out before the handler ends: an OK call answers 200
//              with the message, an error the HTTP status of its code and the error JSON
//              {"code","message","details":[{"type","value"}]}. Initial metadata in headers,
//              trailing metadata in headers prefixed "trailer-". GET (the message in the
//              query) for methods declared idempotency_level = NO_SIDE_EFFECTS.
//   streaming  POST application/connect+proto|+json, messages in 5-byte envelopes as gRPC's
//              (flag 0x01 compressed, connect-content-encoding); the response always 200, its
//              last envelope flagged 0x02 holding {"error":{…},"metadata":{k:[v…]}}.
//
// JSON is protobuf's JSON mapping (libprotobuf's util/json_util) of the method's request and
// response types, looked up in the generated descriptor pool: lowerCamel field names out, both
// forms accepted in, unknown fields an error (as connect-go).
//
// Threading: a protocol object belongs to one call (its loop thread); the free functions are
// pure (any thread). Lifetime: owned by the ServerCall.
#ifndef H2RPC_RPC_CONNECT_PROTOCOL_H_
#define H2RPC_RPC_CONNECT_PROTOCOL_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rpc/compression.h"
#include "rpc/wire_protocol.h"
#include "transport/headers.h"

namespace google::protobuf {
class Descriptor;
class MethodDescriptor;
}

namespace h2rpc::rpc {

// Connect's name of a code ("not_found", "canceled", ...); "unknown" for codes outside 0..16.
absl::string_view ConnectCodeName(absl::StatusCode code);
// The reverse; nullopt for a name Connect does not define ("ok" included: not an error code).
std::optional<absl::StatusCode> ConnectCodeFromName(absl::string_view name);
// The HTTP status of a unary error with `code` (the spec's table: not_found 404, unimplemented
// 501, unavailable 503, deadline_exceeded 504, ...).
int ConnectHttpStatus(absl::StatusCode code);
// What a client makes of a non-200 unary response without a Connect error body (the spec's
// "HTTP to error code" table: 400 internal, 401 unauthenticated, 403 permission_denied, 404
// unimplemented, 429/502/503/504 unavailable, anything else unknown).
absl::StatusCode CodeFromConnectHttpStatus(int http_status);

// The status fields ServerCall builds (grpc-status, grpc-message percent-encoded,
// grpc-status-details-bin base64) and the trailing metadata after them, read back.
struct ConnectStatusParts {
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string message;
  std::string details;  // a serialized google.rpc.Status, "" without details
  transport::Headers metadata;
};
ConnectStatusParts SplitStatusFields(const transport::Headers& status_fields);

// The error JSON: {"code":…,"message":…,"details":[{"type":"pkg.Msg","value":base64 unpadded}]}
// ("message" left out when empty, "details" when none).
std::string ConnectErrorJson(absl::StatusCode code, absl::string_view message,
                             absl::string_view details);
// A streaming response's end-stream message body: {"error":{…}} unless OK, and "metadata"
// ({"name":["v",…]}) unless there is none.
std::string ConnectEndStreamJson(const ConnectStatusParts& status);
// A 5-byte envelope (flags, big-endian length) and its payload.
std::string ConnectEnvelope(uint8_t flags, absl::string_view payload);
inline constexpr uint8_t kConnectCompressedFlag = 0x01;
inline constexpr uint8_t kConnectEndStreamFlag = 0x02;

// A whole unary error response (what FinishUnsent makes, and the server's early errors):
// :status, content-type application/json, the metadata, the error JSON body.
void ConnectUnaryError(const absl::Status& status, absl::string_view details,
                       transport::Headers& headers, std::string& body);

struct ConnectCallOptions {
  RequestContentType type;  // kConnect or kConnectStream, codec "proto" or "json"
  // The method's descriptor; needed for JSON (MakeConnectProtocol fails without one).
  const google::protobuf::MethodDescriptor* method = nullptr;
  // Unary: the largest request body taken (the call's max_receive_message_size).
  size_t max_request_bytes = 4 * 1024 * 1024;
  // Unary: the body's content-encoding (the message is framed compressed for ServerCall).
  Compression request_compression = Compression::kIdentity;
  // Unary GET: the message from the query (the request has no body).
  std::string get_message;
};

// connect-timeout-ms: 1 to 10 ASCII digits, milliseconds (the spec); INVALID_ARGUMENT otherwise.
absl::StatusOr<absl::Duration> ParseConnectTimeout(absl::string_view value);

// A unary GET's query: ?connect=v1&encoding=proto|json&message=…[&base64=1][&compression=…]
// (percent-decoded, "+" a space; base64 is URL-safe, padded or not).
struct ConnectGetQuery {
  absl::string_view codec;  // "proto" or "json"
  std::string message;      // the request message (compressed when `compression` is set)
  std::string compression;  // "" for none
};
// INVALID_ARGUMENT for a malformed query, a missing or unknown encoding, connect other than v1.
absl::StatusOr<ConnectGetQuery> ParseConnectGetQuery(absl::string_view query);
// GET is for methods declared `option idempotency_level = NO_SIDE_EFFECTS` (unary only).
bool ConnectGetAllowed(const google::protobuf::MethodDescriptor* method);

// The method of a path ("/pkg.Service/Method") in the generated descriptor pool, or null.
const google::protobuf::MethodDescriptor* FindGeneratedMethod(absl::string_view path);

// The protocol object of a Connect call. INVALID_ARGUMENT for JSON without a method descriptor
// (a generic service's method the binary does not know).
absl::StatusOr<std::unique_ptr<CallProtocol>> MakeConnectProtocol(const ConnectCallOptions& options);

// Protobuf's JSON mapping of one message of a type in the generated pool, named by its type URL
// (ConnectTypeUrl), both ways: the server's JSON codec and the client's (rpc/client_protocol.h).
// JSON → binary: an empty body is the empty message, unknown fields are an error; binary → JSON:
// lowerCamel names, output that is not UTF-8 an error. `side` picks only the failure's status:
// on the server, JSON that does not parse is the caller's request (INVALID_ARGUMENT, "Invalid
// JSON request message: ..."), a response that does not print is INTERNAL ("Response message not
// convertible to JSON: ..."); on the client both are INTERNAL ("Invalid JSON message: ...",
// "Message not convertible to JSON: ...").
enum class ConnectJsonSide { kServer, kClient };
std::string ConnectTypeUrl(const google::protobuf::Descriptor* type);
absl::Status ConnectJsonToBinary(absl::string_view type_url, std::string& message,
                                 ConnectJsonSide side);
absl::Status ConnectBinaryToJson(absl::string_view type_url, std::string& message,
                                 ConnectJsonSide side);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CONNECT_PROTOCOL_H_
