// ServiceConfig (rpc/service_config.h): the per-method configs and retryThrottling parsed and
// checked as doc/service_config.md and gRFC A6 say; bad values are INVALID_ARGUMENT.
#include "rpc/service_config.h"

#include "gtest/gtest.h"

namespace h2rpc::rpc {
namespace {

TEST(ServiceConfig, MethodMatchingExactThenServiceThenDefault) {
  auto config = ServiceConfig::Parse(R"({"methodConfig":[
      {"name":[{"service":"pkg.Svc","method":"Get"}],"timeout":"1s"},
      {"name":[{"service":"pkg.Svc"}],"timeout":"2s"},
      {"name":[{}],"timeout":"3s"}]})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config->ForMethod("/pkg.Svc/Get")->timeout, absl::Seconds(1));
  EXPECT_EQ(*config->ForMethod("/pkg.Svc/Put")->timeout, absl::Seconds(2));
  EXPECT_EQ(*config->ForMethod("/other.Svc/Get")->timeout, absl::Seconds(3));
  auto no_default = ServiceConfig::Parse(R"({"methodConfig":[{"name":[{"service":"a.B"}]}]})");
  ASSERT_TRUE(no_default.ok());
  EXPECT_EQ(no_default->ForMethod("/c.D/E"), nullptr);
  EXPECT_EQ(ServiceConfig::Parse("{}")->ForMethod("/a.B/C"), nullptr);
}

TEST(ServiceConfig, MethodFields) {
  auto config = ServiceConfig::Parse(R"({"methodConfig":[{"name":[{"service":"s.S"}],
      "timeout":"1.5s","waitForReady":false,"maxRequestMessageBytes":100,
      "maxResponseMessageBytes":200}]})");
  ASSERT_TRUE(config.ok()) << config.status();
  const MethodConfig* m = config->ForMethod("/s.S/M");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(*m->timeout, absl::Milliseconds(1500));
  ASSERT_TRUE(m->wait_for_ready.has_value());  // false, but set
  EXPECT_FALSE(*m->wait_for_ready);
  EXPECT_EQ(*m->max_request_message_bytes, 100u);
  EXPECT_EQ(*m->max_response_message_bytes, 200u);
  EXPECT_FALSE(m->retry_policy.has_value());
  auto unset = ServiceConfig::Parse(R"({"methodConfig":[{"name":[{"service":"s.S"}]}]})");
  EXPECT_FALSE(unset->ForMethod("/s.S/M")->wait_for_ready.has_value());
  EXPECT_FALSE(unset->ForMethod("/s.S/M")->timeout.has_value());
}

TEST(ServiceConfig, RetryPolicyAndThrottling) {
  auto config = ServiceConfig::Parse(R"({"methodConfig":[{"name":[{"service":"s.S"}],
      "retryPolicy":{"maxAttempts":9,"initialBackoff":"0.1s","maxBackoff":"1s",
      "backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE","resource_exhausted"]}}],
      "retryThrottling":{"maxTokens":10,"tokenRatio":0.1239}})");
  ASSERT_TRUE(config.ok()) << config.status();
  const RetryPolicy& p = *config->ForMethod("/s.S/M")->retry_policy;
  EXPECT_EQ(p.max_attempts, 5);  // capped
  EXPECT_EQ(p.initial_backoff, absl::Milliseconds(100));
  EXPECT_EQ(p.max_backoff, absl::Seconds(1));
  EXPECT_EQ(p.backoff_multiplier, 2);
  EXPECT_TRUE(p.Retryable(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(p.Retryable(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(p.Retryable(absl::StatusCode::kInternal));
  ASSERT_TRUE(config->retry_throttling().has_value());
  EXPECT_EQ(config->retry_throttling()->max_tokens, 10);
  EXPECT_DOUBLE_EQ(config->retry_throttling()->token_ratio, 0.123);  // three decimals kept
  auto hedging = ServiceConfig::Parse(R"({"methodConfig":[{"name":[{"service":"s.S"}],
      "hedgingPolicy":{"maxAttempts":3,"hedgingDelay":"0.5s",
      "nonFatalStatusCodes":["UNAVAILABLE"]}}]})");
  ASSERT_TRUE(hedging.ok()) << hedging.status();
  EXPECT_EQ(hedging->ForMethod("/s.S/M")->hedging_policy->max_attempts, 3);
  EXPECT_EQ(hedging->ForMethod("/s.S/M")->hedging_policy->hedging_delay, absl::Milliseconds(500));
}

// Each bad config fails with INVALID_ARGUMENT whose message names the problem.
TEST(ServiceConfig, InvalidConfigsNameTheProblem) {
  const std::string kRetry =
      R"("initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,)";
  const std::pair<std::string, std::string> cases[] = {
      {"{not json", "not valid JSON"},
      {R"({"methodConfig":[{"timeout":"soon"}]})", "not valid JSON"},
      {R"({"methodConfig":[{"timeout":"-1s"}]})", "timeout is negative"},
      {R"({"methodConfig":[{"name":[{"method":"M"}]}]})", "no service"},
      {R"({"methodConfig":[{"name":[{"service":"s.S"}]},{"name":[{"service":"s.S"}]}]})",
       "twice"},
      {R"({"methodConfig":[{"retryPolicy":{"maxAttempts":1,)" + kRetry +
           R"("retryableStatusCodes":["UNAVAILABLE"]}}]})",
       "maxAttempts must be greater than 1"},
      {R"({"methodConfig":[{"retryPolicy":{"maxAttempts":2,)" + kRetry +
           R"("retryableStatusCodes":[]}}]})",
       "retryableStatusCodes must not be empty"},
      {R"({"methodConfig":[{"retryPolicy":{"maxAttempts":2,)" + kRetry +
           R"("retryableStatusCodes":["NOPE"]}}]})",
       "unknown status code 'NOPE'"},
      {R"({"methodConfig":[{"retryPolicy":{"maxAttempts":2,"maxBackoff":"1s",)"
       R"("backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]})",
       "initialBackoff must be greater than 0"},
      {R"({"methodConfig":[{"retryPolicy":{"maxAttempts":2,"initialBackoff":"1s",)"
       R"("maxBackoff":"1s","retryableStatusCodes":["UNAVAILABLE"]}}]})",
       "backoffMultiplier must be greater than 0"},
      {R"({"methodConfig":[{"retryPolicy":{"maxAttempts":2,)" + kRetry +
           R"("retryableStatusCodes":["UNAVAILABLE"]},"hedgingPolicy":{"maxAttempts":2}}]})",
       "both retryPolicy and hedgingPolicy"},
      {R"({"retryThrottling":{"maxTokens":1001,"tokenRatio":1}})", "maxTokens"},
      {R"({"retryThrottling":{"maxTokens":10,"tokenRatio":0.0001}})", "tokenRatio"},
  };
  for (const auto& [json, problem] : cases) {
    auto config = ServiceConfig::Parse(json);
    ASSERT_FALSE(config.ok()) << json;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_NE(config.status().message().find(problem), std::string::npos)
        << json << " -> " << config.status();
  }
}

}  // namespace
}  // namespace h2rpc::rpc
