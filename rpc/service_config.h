// rpc/service_config.h — ServiceConfig: the per-method part of gRPC's service config
// (doc/service_config.md, gRFC A6) as a channel uses it: for each method its timeout,
// waitForReady, message size limits and retry (or hedging) policy, and the channel's
// retryThrottling. ChannelOptions::service_config holds the JSON; Channel parses it once and
// an invalid one makes the channel invalid (INVALID_ARGUMENT naming the problem, as bad JSON).
// Its loadBalancingConfig gives lb_policy() (the channel's policy, rpc/lb_policy.h).
//
//   auto config = ServiceConfig::Parse(R"({"methodConfig":[{"name":[{"service":"pkg.Svc"}],
//                                           "timeout":"1.5s","waitForReady":true}]})");
//   const MethodConfig* m = config->ForMethod("/pkg.Svc/Get");  // that entry
//
// Threading: immutable once parsed; any thread. Lifetime: a plain value (the channel holds one).
#ifndef H2RPC_RPC_SERVICE_CONFIG_H_
#define H2RPC_RPC_SERVICE_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace h2rpc::rpc {

// gRFC A6's retryPolicy, checked (maxAttempts > 1, backoffs and multiplier > 0, at least one
// retryable code) and maxAttempts capped at 5.
struct RetryPolicy {
  int max_attempts = 0;
  absl::Duration initial_backoff;
  absl::Duration max_backoff;
  double backoff_multiplier = 0;
  std::vector<absl::StatusCode> retryable_status_codes;
  bool Retryable(absl::StatusCode code) const;
};

// gRFC A6's hedgingPolicy: up to max_attempts attempts of a call, one every hedging_delay
// until one commits (rpc/client_call.h; rpc/README.md, "Retries and service config").
struct HedgingPolicy {
  int max_attempts = 0;
  absl::Duration hedging_delay;
  std::vector<absl::StatusCode> non_fatal_status_codes;
  bool NonFatal(absl::StatusCode code) const;
};

struct MethodConfig {
  // Unset: the application's CallOptions decide alone.
  std::optional<bool> wait_for_ready;
  std::optional<absl::Duration> timeout;
  std::optional<uint32_t> max_request_message_bytes;
  std::optional<uint32_t> max_response_message_bytes;
  std::optional<RetryPolicy> retry_policy;  // at most one of these two
  std::optional<HedgingPolicy> hedging_policy;
};

// gRFC A6's retryThrottling: max_tokens in (0, 1000], token_ratio > 0 (three decimals kept).
struct RetryThrottlingConfig {
  int max_tokens = 0;
  double token_ratio = 0;
};

class ServiceConfig {
 public:
  // The JSON of a service config; unknown fields are ignored, bad values are INVALID_ARGUMENT.
  static absl::StatusOr<ServiceConfig> Parse(absl::string_view json);
  // The config of `path` ("/package.Service/Method"): the entry naming that method, else the
  // one naming its service, else the default one (a name with neither); null if none.
  const MethodConfig* ForMethod(absl::string_view path) const;
  const std::optional<RetryThrottlingConfig>& retry_throttling() const {
    return retry_throttling_;
  }
  // The policy loadBalancingConfig names first among those we have ("pick_first",
  // "round_robin"); empty without loadBalancingConfig. (A list naming none we have, or not a
  // list, makes the config invalid.)
  const std::string& lb_policy() const { return lb_policy_; }

 private:
  std::string lb_policy_;
  std::vector<MethodConfig> methods_;
  // (service, method) -> index in methods_; ("", "") is the default, (service, "") a service.
  std::map<std::pair<std::string, std::string>, size_t> by_name_;
  std::optional<RetryThrottlingConfig> retry_throttling_;
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SERVICE_CONFIG_H_
