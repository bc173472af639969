#include "rpc/service_config.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "rpc/service_config.pb.h"

namespace h2rpc::rpc {

namespace {

// gRFC A6: "maxAttempts ... values greater than 5 are treated as 5".
constexpr int kMaxAttemptsCap = 5;

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("service config: ", what));
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::StatusOr<absl::StatusCode> CodeFromName(const std::string& name, absl::string_view field) {
  static constexpr absl::string_view kNames[] = {
      "OK",          "CANCELLED",          "UNKNOWN",        "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",    "ALREADY_EXISTS", "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",    "DATA_LOSS",
      "UNAUTHENTICATED"};
  const std::string upper = absl::AsciiStrToUpper(name);
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (upper == kNames[i]) return static_cast<absl::StatusCode>(i);
  }
  return Invalid(absl::StrCat(field, ": unknown status code '", name, "'"));
}

absl::StatusOr<std::vector<absl::StatusCode>> Codes(
    const google::protobuf::RepeatedPtrField<std::string>& names, absl::string_view field) {
  std::vector<absl::StatusCode> codes;
  for (const std::string& name : names) {
    auto code = CodeFromName(name, field);
    if (!code.ok()) return code.status();
    codes.push_back(*code);
  }
  return codes;
}

absl::StatusOr<RetryPolicy> ToRetryPolicy(const internal::MethodConfig::RetryPolicy& p) {
  RetryPolicy out;
  if (p.max_attempts() <= 1) return Invalid("retryPolicy.maxAttempts must be greater than 1");
  out.max_attempts = static_cast<int>(std::min<uint32_t>(p.max_attempts(), kMaxAttemptsCap));
  out.initial_backoff = FromProto(p.initial_backoff());
  out.max_backoff = FromProto(p.max_backoff());
  if (out.initial_backoff <= absl::ZeroDuration()) {
    return Invalid("retryPolicy.initialBackoff must be greater than 0");
  }
  if (out.max_backoff <= absl::ZeroDuration()) {
    return Invalid("retryPolicy.maxBackoff must be greater than 0");
  }
  if (!(p.backoff_multiplier() > 0) || !std::isfinite(p.backoff_multiplier())) {
    return Invalid("retryPolicy.backoffMultiplier must be greater than 0");
  }
  out.backoff_multiplier = p.backoff_multiplier();
  auto codes = Codes(p.retryable_status_codes(), "retryPolicy.retryableStatusCodes");
  if (!codes.ok()) return codes.status();
  if (codes->empty()) return Invalid("retryPolicy.retryableStatusCodes must not be empty");
  out.retryable_status_codes = std::move(*codes);
  return out;
}

absl::StatusOr<HedgingPolicy> ToHedgingPolicy(const internal::MethodConfig::HedgingPolicy& p) {
  HedgingPolicy out;
  if (p.max_attempts() <= 1) return Invalid("hedgingPolicy.maxAttempts must be greater than 1");
  out.max_attempts = static_cast<int>(std::min<uint32_t>(p.max_attempts(), kMaxAttemptsCap));
  out.hedging_delay = FromProto(p.hedging_delay());
  if (out.hedging_delay < absl::ZeroDuration()) {
    return Invalid("hedgingPolicy.hedgingDelay must not be negative");
  }
  auto codes = Codes(p.non_fatal_status_codes(), "hedgingPolicy.nonFatalStatusCodes");
  if (!codes.ok()) return codes.status();
  out.non_fatal_status_codes = std::move(*codes);
  return out;
}

// The first policy of loadBalancingConfig we know ("" without the field), as gRPC picks the
// first one it supports.
absl::StatusOr<std::string> LbPolicyName(const internal::ServiceConfig& config,
                                         absl::string_view json) {
  // protobuf's JSON parser also takes a single object for a repeated field; gRPC wants a list.
  if (const size_t key = json.find("\"loadBalancingConfig\""); key != absl::string_view::npos) {
    size_t i = key + std::string_view("\"loadBalancingConfig\"").size();
    while (i < json.size() && (json[i] == ' ' || json[i] == ':' || json[i] == '\n' ||
                               json[i] == '\t' || json[i] == '\r')) {
      ++i;
    }
    if (i >= json.size() || json[i] != '[' || config.load_balancing_config_size() == 0) {
      return Invalid("loadBalancingConfig must be a non-empty list");
    }
  }
  if (config.load_balancing_config_size() == 0) return std::string();
  for (const auto& entry : config.load_balancing_config()) {
    if (entry.has_pick_first() && entry.has_round_robin()) {
      return Invalid("each loadBalancingConfig entry must be an object with one policy");
    }
    if (entry.has_pick_first()) return std::string("pick_first");
    if (entry.has_round_robin()) return std::string("round_robin");
  }
  return Invalid("loadBalancingConfig names no supported policy (pick_first, round_robin)");
}

absl::StatusOr<MethodConfig> ToMethodConfig(const internal::MethodConfig& m) {
  MethodConfig out;
  if (m.has_wait_for_ready()) out.wait_for_ready = m.wait_for_ready();
  if (m.has_timeout()) {
    out.timeout = FromProto(m.timeout());
    if (*out.timeout < absl::ZeroDuration()) return Invalid("methodConfig.timeout is negative");
  }
  if (m.has_max_request_message_bytes()) {
    out.max_request_message_bytes = m.max_request_message_bytes();
  }
  if (m.has_max_response_message_bytes()) {
    out.max_response_message_bytes = m.max_response_message_bytes();
  }
  if (m.has_retry_policy() && m.has_hedging_policy()) {
    return Invalid("a methodConfig has both retryPolicy and hedgingPolicy (one at most)");
  }
  if (m.has_retry_policy()) {
    auto policy = ToRetryPolicy(m.retry_policy());
    if (!policy.ok()) return policy.status();
    out.retry_policy = std::move(*policy);
  }
  if (m.has_hedging_policy()) {
    auto policy = ToHedgingPolicy(m.hedging_policy());
    if (!policy.ok()) return policy.status();
    out.hedging_policy = std::move(*policy);
  }
  return out;
}

}  // namespace

bool RetryPolicy::Retryable(absl::StatusCode code) const {
  return std::find(retryable_status_codes.begin(), retryable_status_codes.end(), code) !=
         retryable_status_codes.end();
}

bool HedgingPolicy::NonFatal(absl::StatusCode code) const {
  return std::find(non_fatal_status_codes.begin(), non_fatal_status_codes.end(), code) !=
         non_fatal_status_codes.end();
}

absl::StatusOr<ServiceConfig> ServiceConfig::Parse(absl::string_view json) {
  internal::ServiceConfig proto;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // fields gRPC has and we do not read
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      std::string(json.data(), json.size()), &proto, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("service config is not valid JSON: ", parsed.ToString()));
  }
  ServiceConfig config;
  auto lb_policy = LbPolicyName(proto, json);
  if (!lb_policy.ok()) return lb_policy.status();
  config.lb_policy_ = std::move(*lb_policy);
  for (const internal::MethodConfig& m : proto.method_config()) {
    auto method = ToMethodConfig(m);
    if (!method.ok()) return method.status();
    const size_t index = config.methods_.size();
    config.methods_.push_back(std::move(*method));
    for (const auto& name : m.name()) {
      if (name.service().empty() && !name.method().empty()) {
        return Invalid(absl::StrCat("methodConfig name with method '", name.method(),
                                    "' but no service"));
      }
      if (!config.by_name_.emplace(std::make_pair(name.service(), name.method()), index).second) {
        return Invalid(absl::StrCat("methodConfig names '", name.service(), "/", name.method(),
                                    "' twice"));
      }
    }
  }
  if (proto.has_retry_throttling()) {
    const auto& t = proto.retry_throttling();
    if (t.max_tokens() == 0 || t.max_tokens() > 1000) {
      return Invalid("retryThrottling.maxTokens must be in (0, 1000]");
    }
    // A6: a ratio with more than three decimal places is rounded down to three.
    const double ratio = std::floor(static_cast<double>(t.token_ratio()) * 1000 + 1e-6) / 1000;
    if (!(ratio > 0) || !std::isfinite(ratio)) {
      return Invalid("retryThrottling.tokenRatio must be greater than 0");
    }
    config.retry_throttling_ = RetryThrottlingConfig{static_cast<int>(t.max_tokens()), ratio};
  }
  return config;
}

const MethodConfig* ServiceConfig::ForMethod(absl::string_view path) const {
  if (by_name_.empty()) return nullptr;
  absl::string_view rest = path;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  const size_t slash = rest.find('/');
  const std::string service(slash == absl::string_view::npos ? rest : rest.substr(0, slash));
  const std::string method(slash == absl::string_view::npos ? "" : rest.substr(slash + 1));
  for (const auto& key : {std::make_pair(service, method), std::make_pair(service, std::string()),
                          std::make_pair(std::string(), std::string())}) {
    if (auto it = by_name_.find(key); it != by_name_.end()) return &methods_[it->second];
  }
  return nullptr;
}

}  // namespace h2rpc::rpc
