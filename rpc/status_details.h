// rpc/status_details.h — rich error details (google.rpc.Status's `details`, gRPC's
// grpc-status-details-bin trailer) on an absl::Status, typed: attach google.rpc.ErrorInfo,
// BadRequest, RetryInfo, ... (proto/google/rpc/error_details.proto) or any message of your own
// in a handler, read them from the Status a call returned.
//
//   // server: a handler returns
//   google::rpc::BadRequest bad;
//   auto* v = bad.add_field_violations();
//   v->set_field("name");
//   v->set_description("must not be empty");
//   co_return rpc::ErrorWithDetails(absl::StatusCode::kInvalidArgument, "bad name", bad);
//
//   // client
//   absl::StatusOr<Reply> reply = co_await stub.Call(request);
//   if (auto bad = rpc::GetStatusDetail<google::rpc::BadRequest>(reply.status())) ...
//   if (auto delay = rpc::RetryDelay(reply.status())) ...     // RetryInfo's retry_delay
//
// A detail is an absl::Status payload under its type URL ("type.googleapis.com/" + the message's
// full name), which the server sends as one google.protobuf.Any and the client turns back into
// a payload (rpc/status_util.h). An absl::Status holds one payload per URL: one detail per
// message type (adding another of the same type replaces it), which the standard details, all
// repeated inside, never need. Details are dropped from an OK status (absl::Status has no
// payloads when OK).
//
// Threading: functions on values, any thread. Lifetime: nothing kept.
#ifndef H2RPC_RPC_STATUS_DETAILS_H_
#define H2RPC_RPC_STATUS_DETAILS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace h2rpc::rpc {

// "type.googleapis.com/<full name>", as google.protobuf.Any packs it.
std::string DetailTypeUrl(const google::protobuf::Message& detail);

// Attaches `detail` (replacing an earlier detail of the same type). No-op on an OK status.
void AddStatusDetail(absl::Status& status, const google::protobuf::Message& detail);

// Reads the detail of `detail`'s type into it: true if the status has one that parses. The type
// URL's prefix is not checked (any "<prefix>/<full name>" matches, as Any::UnpackTo does).
bool ReadStatusDetail(const absl::Status& status, google::protobuf::Message* detail);

// The detail of type Detail, or nullopt if absent (or unparsable).
template <typename Detail>
std::optional<Detail> GetStatusDetail(const absl::Status& status) {
  Detail detail;
  if (!ReadStatusDetail(status, &detail)) return std::nullopt;
  return detail;
}

// absl::Status(code, message) with the given details attached.
template <typename... Details>
absl::Status ErrorWithDetails(absl::StatusCode code, absl::string_view message,
                              const Details&... details) {
  absl::Status status(code, message);
  (AddStatusDetail(status, details), ...);
  return status;
}

// Shorthands for the common standard details.
google::rpc::ErrorInfo MakeErrorInfo(std::string reason, std::string domain);
google::rpc::RetryInfo MakeRetryInfo(absl::Duration retry_delay);
// RetryInfo's retry_delay, if the status carries one.
std::optional<absl::Duration> RetryDelay(const absl::Status& status);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_STATUS_DETAILS_H_
