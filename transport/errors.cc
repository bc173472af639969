#include "transport/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "transport/constants.h"

namespace h2rpc::transport {

namespace {
constexpr char kCausePayloadUrl[] = "h2rpc/cause";
// Debian's Abseil is built with its own absl::string_view (not std::string_view): convert.
absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }
}  // namespace

absl::Status nodeError(absl::StatusCode code, std::string_view nodeCode, std::string_view message) {
  absl::Status status(code, absl::StrCat(AbslView(nodeCode), ": ", AbslView(message)));
  status.SetPayload(AbslView(kNodeCodePayloadUrl), absl::Cord(AbslView(nodeCode)));
  return status;
}

std::string nodeErrorCode(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(AbslView(kNodeCodePayloadUrl));
  return payload ? std::string(*payload) : std::string();
}

std::string nodeErrorMessage(const absl::Status& status) {
  std::string_view message(status.message().data(), status.message().size());
  std::string prefix = nodeErrorCode(status);
  if (!prefix.empty() && message.substr(0, prefix.size()) == prefix &&
      message.substr(prefix.size(), 2) == ": ") {
    message.remove_prefix(prefix.size() + 2);
  }
  return std::string(message);
}

absl::StatusCode statusCodeForHttp2Error(uint32_t code) {
  switch (code) {
    case constants::NGHTTP2_REFUSED_STREAM:
      return absl::StatusCode::kUnavailable;
    case constants::NGHTTP2_CANCEL:
      return absl::StatusCode::kCancelled;
    case constants::NGHTTP2_ENHANCE_YOUR_CALM:
      return absl::StatusCode::kResourceExhausted;
    case constants::NGHTTP2_INADEQUATE_SECURITY:
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status http2StreamError(uint32_t code) {
  // Node: new ERR_HTTP2_STREAM_ERROR(nameForErrorCode[code] || code).
  std::string_view name = errorCodeName(code);
  std::string shown = name == "UNKNOWN" ? absl::StrCat(code) : std::string(name);
  return nodeError(statusCodeForHttp2Error(code), "ERR_HTTP2_STREAM_ERROR",
                   "Stream closed with error code " + shown);
}

absl::Status http2SessionError(uint32_t code) {
  return nodeError(statusCodeForHttp2Error(code), "ERR_HTTP2_SESSION_ERROR",
                   absl::StrCat("Session closed with error code ", code));
}

absl::Status http2StreamCancelError(const absl::Status& cause) {
  if (cause.ok()) {
    return nodeError(absl::StatusCode::kCancelled, "ERR_HTTP2_STREAM_CANCEL",
                     "The pending stream has been canceled");
  }
  absl::Status error = nodeError(
      cause.code(), "ERR_HTTP2_STREAM_CANCEL",
      absl::StrCat("The pending stream has been canceled (caused by: ", nodeErrorMessage(cause),
                   ")"));
  error.SetPayload(kCausePayloadUrl, absl::Cord(cause.ToString()));
  return error;
}

std::string errorCause(const absl::Status& status) {
  auto cause = status.GetPayload(kCausePayloadUrl);
  return cause ? std::string(*cause) : std::string();
}

}  // namespace h2rpc::transport
