#include "rpc/status_details.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"

namespace h2rpc::rpc {

std::string DetailTypeUrl(const google::protobuf::Message& detail) {
  return absl::StrCat("type.googleapis.com/", detail.GetDescriptor()->full_name());
}

void AddStatusDetail(absl::Status& status, const google::protobuf::Message& detail) {
  status.SetPayload(DetailTypeUrl(detail), absl::Cord(detail.SerializeAsString()));
}

bool ReadStatusDetail(const absl::Status& status, google::protobuf::Message* detail) {
  const std::string suffix = absl::StrCat("/", detail->GetDescriptor()->full_name());
  // The usual URL first (a lookup), then any other prefix.
  absl::optional<absl::Cord> found = status.GetPayload(DetailTypeUrl(*detail));
  if (!found) {
    status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
      if (!found && absl::EndsWith(url, suffix)) found = value;
    });
  }
  if (!found) return false;
  detail->Clear();
  return detail->ParseFromString(std::string(*found));
}

google::rpc::ErrorInfo MakeErrorInfo(std::string reason, std::string domain) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::move(reason));
  info.set_domain(std::move(domain));
  return info;
}

google::rpc::RetryInfo MakeRetryInfo(absl::Duration retry_delay) {
  google::rpc::RetryInfo info;
  const int64_t seconds = absl::IDivDuration(retry_delay, absl::Seconds(1), &retry_delay);
  info.mutable_retry_delay()->set_seconds(seconds);
  info.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(retry_delay)));
  return info;
}

std::optional<absl::Duration> RetryDelay(const absl::Status& status) {
  std::optional<google::rpc::RetryInfo> info = GetStatusDetail<google::rpc::RetryInfo>(status);
  if (!info || !info->has_retry_delay()) return std::nullopt;
  return absl::Seconds(info->retry_delay().seconds()) +
         absl::Nanoseconds(info->retry_delay().nanos());
}

}  // namespace h2rpc::rpc
