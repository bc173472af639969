#include "transport/abort.h"

#include <utility>

#include "transport/errors.h"

namespace h2rpc::transport {

namespace {
constexpr char kCausePayloadUrl[] = "h2rpc/abort-cause";
}  // namespace

absl::Status abortError(const absl::Status& cause) {
  absl::Status error =
      nodeError(absl::StatusCode::kCancelled, "ABORT_ERR", "The operation was aborted");
  if (!cause.ok()) error.SetPayload(kCausePayloadUrl, absl::Cord(cause.ToString()));
  return error;
}

std::string abortCause(const absl::Status& status) {
  auto cause = status.GetPayload(kCausePayloadUrl);
  return cause ? std::string(*cause) : std::string();
}

bool isAbortError(const absl::Status& status) { return nodeErrorCode(status) == "ABORT_ERR"; }

std::shared_ptr<AbortSignal> AbortSignal::abort(absl::Status reason) {
  auto signal = std::make_shared<AbortSignal>();
  signal->doAbort(std::move(reason));
  return signal;
}

void AbortSignal::doAbort(absl::Status reason) {
  if (aborted_) return;
  aborted_ = true;
  // Node's default reason: new DOMException('This operation was aborted', 'AbortError').
  reason_ = reason.ok() ? absl::CancelledError("This operation was aborted") : std::move(reason);
  abort_event_.emit();
  abort_event_.removeAllListeners();
}

}  // namespace h2rpc::transport
