// Service config per method and retries end to end (rpc/service_config.h; gRFC A6): a
// method's timeout, waitForReady and request size limit applied to calls; retry policies
// against servers that fail on purpose (an rpc::Server whose handlers fail N times, and a
// scripted HTTP/2 server for what a handler cannot send: grpc-retry-pushback-ms, and to see
// grpc-previous-rpc-attempts); commit rules, the deadline across attempts, credentials per
// attempt and retry throttling. Loopback only.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/client_interceptor.h"
#include "rpc/framing.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/timeout.h"
#include "transport/constants.h"
#include "transport/server.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

constexpr char kUnary[] = "/h2rpc.rpc_test.Echo/Unary";
constexpr char kCollect[] = "/h2rpc.rpc_test.Echo/Collect";

// A retry policy for the Echo service (short backoffs: tests wait for them).
std::string RetryConfig(int max_attempts, const std::string& codes = R"("UNAVAILABLE")",
                        const std::string& extra = "") {
  return absl::StrCat(R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo"}],)",
                      R"("retryPolicy":{"maxAttempts":)", max_attempts,
                      R"(,"initialBackoff":"0.01s","maxBackoff":"0.05s","backoffMultiplier":2,)",
                      R"("retryableStatusCodes":[)", codes, "]}}]", extra, "}");
}

// Fails the first `failures` calls of each method with `code` (Trailers-Only: before any
// response headers), unless `headers_first` (initial metadata sent first: the call commits).
class FlakyService : public Service {
 public:
  FlakyService() : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        kUnary, [this](ServerContext& ctx, const EchoRequest& req)
                    -> Task<absl::StatusOr<EchoReply>> {
          ++calls;
          if (calls <= failures) {
            if (headers_first) ctx.SendInitialMetadata();
            co_return absl::Status(code, absl::StrCat("failure ", calls));
          }
          EchoReply reply;
          reply.set_text(req.text());
          reply.set_index(calls);
          co_return reply;
        });
    AddClientStreamingMethod<EchoRequest, EchoReply>(
        kCollect, [this](ServerContext&, ServerReader<EchoRequest>& in)
                      -> Task<absl::StatusOr<EchoReply>> {
          ++calls;
          std::string all;
          while (std::optional<EchoRequest> r = co_await in.Read()) all += r->text();
          received.push_back(all);
          if (calls <= failures) co_return absl::UnavailableError("not now");
          EchoReply reply;
          reply.set_text(all);
          co_return reply;
        });
  }
  int calls = 0;
  int failures = 0;
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  bool headers_first = false;
  std::vector<std::string> received;  // each Collect attempt's messages
};

// An HTTP/2 server answering stream i by script[i] (the last entry repeats): a Trailers-Only
// grpc-status (with grpc-retry-pushback-ms if set), or a reply "ok" when status is 0. Keeps
// each request's grpc-previous-rpc-attempts ("" when absent).
struct Step {
  int status = 0;
  std::optional<std::string> pushback{};
  std::string http_status = "200";  // another one: a proxy's answer, text/plain
  uint32_t reset = 0;                // an HTTP/2 error code: RST_STREAM instead of an answer
  std::string accept_encoding{};     // grpc-accept-encoding of a failure, if set
};
class ScriptedServer {
 public:
  ScriptedServer(transport::UvLoop* loop, std::vector<Step> script)
      : script_(std::move(script)) {
    server_ = *transport::Http2Server::createServer(loop);
    server_->onStream([this](std::shared_ptr<transport::ServerHttp2Stream> s,
                             const transport::Headers& headers, uint8_t) {
      previous_attempts.push_back(headers.get("grpc-previous-rpc-attempts").value_or(""));
      timeouts.push_back(headers.get("grpc-timeout").value_or(""));
      encodings.push_back(headers.get("grpc-encoding").value_or(""));
      const Step& step = script_[std::min(previous_attempts.size() - 1, script_.size() - 1)];
      s->onData([](std::string_view) {});
      if (step.reset != 0) {
        s->close(step.reset);
        return;
      }
      if (step.http_status != "200") {
        (void)s->respond({{":status", step.http_status}, {"content-type", "text/plain"}},
                         {.endStream = true});
        return;
      }
      if (step.status != 0) {
        transport::Headers h{{":status", "200"},
                             {"content-type", "application/grpc"},
                             {"grpc-status", std::to_string(step.status)}};
        if (step.pushback) h.add("grpc-retry-pushback-ms", *step.pushback);
        if (!step.accept_encoding.empty()) h.add("grpc-accept-encoding", step.accept_encoding);
        (void)s->respond(h, {.endStream = true});
        return;
      }
      (void)s->respond({{":status", "200"}, {"content-type", "application/grpc"}},
                       {.waitForTrailers = true});
      s->onWantTrailers([s] { (void)s->sendTrailers({{"grpc-status", "0"}}); });
      EchoReply reply;
      reply.set_text("ok");
      s->end(FrameMessage(reply.SerializeAsString(), false));
    });
    EXPECT_TRUE(server_->listen(0, "127.0.0.1").ok());
  }
  ~ScriptedServer() { server_->close(); }
  std::string target() const { return absl::StrCat("127.0.0.1:", server_->port()); }
  std::vector<std::string> previous_attempts;
  std::vector<std::string> timeouts;  // each request's grpc-timeout
  std::vector<std::string> encodings;  // each request's grpc-encoding

 private:
  std::vector<Step> script_;
  std::unique_ptr<transport::Http2Server> server_;
};

class RetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(&loop_);
    server_->RegisterService(&service_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
  }
  void TearDown() override {
    for (auto& c : channels_) c->Close();
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) loop_.runOnce();
  }
  std::shared_ptr<Channel> MakeChannel(std::string service_config, ChannelOptions o = {},
                                       std::string target = "") {
    o.service_config = std::move(service_config);
    if (target.empty()) target = absl::StrCat("127.0.0.1:", server_->port());
    auto c = Channel::Create(&loop_, target, std::move(o));
    channels_.push_back(c);
    return c;
  }
  absl::StatusOr<EchoReply> Call(const std::shared_ptr<Channel>& channel, CallOptions o = {},
                                 std::string text = "hi") {
    if (!o.timeout && !o.deadline) o.timeout = absl::Seconds(20);
    EchoRequest req;
    req.set_text(std::move(text));
    return BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(channel, kUnary, req, o));
  }

  transport::UvLoop loop_;
  FlakyService service_;
  std::unique_ptr<Server> server_;
  std::vector<std::shared_ptr<Channel>> channels_;
};

// --- the method config applied to calls ---

TEST_F(RetryTest, MethodTimeoutShortensTheCallsDeadlineOnly) {
  auto channel = MakeChannel(
      R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo"}],"timeout":"2s"}]})");
  const absl::Time before = absl::Now();
  auto by_config = ClientCall::Start(channel, kUnary, {});
  ASSERT_TRUE(by_config->deadline().has_value());
  EXPECT_GE(*by_config->deadline(), before + absl::Seconds(2));
  EXPECT_LE(*by_config->deadline(), absl::Now() + absl::Seconds(2));
  CallOptions longer;
  longer.timeout = absl::Seconds(60);  // the config's 2 s wins
  auto shortened = ClientCall::Start(channel, kUnary, longer);
  EXPECT_LE(*shortened->deadline(), absl::Now() + absl::Seconds(2));
  CallOptions shorter;
  shorter.timeout = absl::Milliseconds(500);  // the call's own earlier deadline stays
  auto own = ClientCall::Start(channel, kUnary, shorter);
  EXPECT_LE(*own->deadline(), absl::Now() + absl::Milliseconds(500));
  auto other = ClientCall::Start(channel, "/other.Svc/M", {});
  EXPECT_FALSE(other->deadline().has_value());  // the config names another service
  for (auto* c : {&by_config, &shortened, &own, &other}) (*c)->Cancel(absl::CancelledError(""));
}

TEST_F(RetryTest, MethodWaitForReadyAppliesUnlessTheCallSays) {
  // Nothing listens there: the channel goes to TRANSIENT_FAILURE.
  auto probe = *transport::Http2Server::createServer(&loop_);
  ASSERT_TRUE(probe->listen(0, "127.0.0.1").ok());
  const std::string target = absl::StrCat("127.0.0.1:", probe->port());
  probe->close();
  ChannelOptions o;
  o.backoff.initial_backoff = absl::Milliseconds(50);
  auto channel = MakeChannel(
      R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo"}],"waitForReady":true}]})",
      o, target);
  CallOptions fail_fast;
  fail_fast.wait_for_ready = false;  // the application's value wins
  EXPECT_EQ(Call(channel, fail_fast).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(channel->GetState(false), ConnectivityState::kTransientFailure);
  CallOptions by_config;
  by_config.timeout = absl::Milliseconds(300);
  // Waits for a connection until its deadline instead of failing at once.
  EXPECT_EQ(Call(channel, by_config).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(RetryTest, MethodMaxRequestMessageBytes) {
  auto channel = MakeChannel(
      R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo","method":"Unary"}],)"
      R"("maxRequestMessageBytes":50}]})");
  auto big = Call(channel, {}, std::string(100, 'x'));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted) << big.status();
  EXPECT_TRUE(Call(channel, {}, std::string(10, 'x')).ok());
}

TEST_F(RetryTest, MethodMaxResponseMessageBytes) {
  auto channel = MakeChannel(
      R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo"}],)"
      R"("maxResponseMessageBytes":50}]})");
  auto big = Call(channel, {}, std::string(100, 'x'));  // echoed back: over the limit
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted) << big.status();
  EXPECT_TRUE(Call(channel, {}, std::string(10, 'x')).ok());
}

TEST_F(RetryTest, InvalidServiceConfigMakesTheChannelInvalid) {
  ChannelOptions options;
  options.service_config = RetryConfig(1);
  auto channel = Channel::New(&loop_, absl::StrCat("127.0.0.1:", server_->port()), options);
  ASSERT_FALSE(channel.ok());
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(channel.status().message().find("maxAttempts"), std::string::npos)
      << channel.status();
}

// --- retries ---

TEST_F(RetryTest, RetriesUnavailableUntilTheServerSucceeds) {
  service_.failures = 2;
  auto channel = MakeChannel(RetryConfig(3));
  auto reply = Call(channel);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->index(), 3);
  EXPECT_EQ(service_.calls, 3);
  EXPECT_EQ(channel->policy_retries(), 2);
  EXPECT_EQ(channel->retry_buffered_bytes(), 0u);  // released when the call committed
}

TEST_F(RetryTest, WithoutAPolicyNothingIsRetried) {
  service_.failures = 1;
  auto channel = MakeChannel("");
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_.calls, 1);
}

TEST_F(RetryTest, MaxAttemptsBoundTheAttempts) {
  service_.failures = 100;
  auto channel = MakeChannel(RetryConfig(3));
  auto reply = Call(channel);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(reply.status().message(), "failure 3");  // the last attempt's status
  EXPECT_EQ(service_.calls, 3);
}

TEST_F(RetryTest, NonRetryableCodeIsNotRetried) {
  service_.failures = 1;
  service_.code = absl::StatusCode::kInternal;
  auto channel = MakeChannel(RetryConfig(5));
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(service_.calls, 1);
}

TEST_F(RetryTest, ResponseHeadersCommitTheCall) {
  service_.failures = 1;
  service_.headers_first = true;
  auto channel = MakeChannel(RetryConfig(5));
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_.calls, 1);
}

TEST_F(RetryTest, ClientStreamingReplaysTheBufferedMessages) {
  service_.failures = 1;
  auto channel = MakeChannel(RetryConfig(2));
  auto body = [&]() -> Task<absl::StatusOr<EchoReply>> {
    ClientWriter<EchoRequest, EchoReply> writer(ClientCall::Start(channel, kCollect, {}));
    for (const char* part : {"a", "b", "c"}) {
      EchoRequest r;
      r.set_text(part);
      co_await writer.Write(r);
    }
    co_return co_await writer.Finish();
  };
  auto reply = BlockOn(&loop_, body());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "abc");
  EXPECT_EQ(service_.received, (std::vector<std::string>{"abc", "abc"}));
}

TEST_F(RetryTest, RetryBufferOverflowCommitsTheCall) {
  service_.failures = 1;
  ChannelOptions o;
  o.per_rpc_retry_buffer_size = 1000;
  auto channel = MakeChannel(RetryConfig(3), o);
  // Within the buffer: retried.
  ASSERT_TRUE(Call(channel, {}, std::string(500, 'x')).ok());
  EXPECT_EQ(service_.calls, 2);
  // Over it: committed at once, the failure is final.
  service_.calls = 0;
  EXPECT_EQ(Call(channel, {}, std::string(2000, 'x')).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_.calls, 1);
  // The channel-wide limit commits the same way.
  service_.calls = 0;
  ChannelOptions small;
  small.retry_buffer_size = 100;
  auto channel2 = MakeChannel(RetryConfig(3), small);
  EXPECT_EQ(Call(channel2, {}, std::string(500, 'x')).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_.calls, 1);
}

TEST_F(RetryTest, PreviousAttemptsHeaderAndServerPushback) {
  ScriptedServer scripted(&loop_, {{14, "300"}, {14, std::nullopt}, {0, std::nullopt}});
  auto channel = MakeChannel(RetryConfig(5), {}, scripted.target());
  const absl::Time start = absl::Now();
  auto reply = Call(channel);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "ok");
  EXPECT_EQ(scripted.previous_attempts, (std::vector<std::string>{"", "1", "2"}));
  // The pushback (300 ms) replaced the backoff (at most 10 ms for the first retry). (The loop's
  // timers count from its cached millisecond clock: a little slack.)
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(290));
}

TEST_F(RetryTest, AProxys503BeforeAnyResponseIsRetried) {
  ScriptedServer scripted(&loop_, {{0, std::nullopt, "503"}, {0, std::nullopt}});
  auto channel = MakeChannel(RetryConfig(2), {}, scripted.target());
  auto reply = Call(channel);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(scripted.previous_attempts, (std::vector<std::string>{"", "1"}));
}

TEST_F(RetryTest, AStreamResetBeforeAnyResponseIsRetried) {
  // RST_STREAM(CANCEL) from the server: UNAVAILABLE, retryable.
  ScriptedServer scripted(
      &loop_, {{0, std::nullopt, "200", transport::constants::NGHTTP2_CANCEL}, {0, std::nullopt}});
  auto channel = MakeChannel(RetryConfig(2), {}, scripted.target());
  auto reply = Call(channel);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(scripted.previous_attempts, (std::vector<std::string>{"", "1"}));
}

TEST_F(RetryTest, TransparentRetriesDoNotCountAgainstMaxAttempts) {
  // Refused (the server never processed it): replayed transparently; then UNAVAILABLE, which
  // the policy's one retry (maxAttempts 2) still covers.
  ScriptedServer scripted(
      &loop_, {{0, std::nullopt, "200", transport::constants::NGHTTP2_REFUSED_STREAM},
               {14, std::nullopt},
               {0, std::nullopt}});
  auto channel = MakeChannel(RetryConfig(2), {}, scripted.target());
  auto reply = Call(channel);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(scripted.previous_attempts, (std::vector<std::string>{"", "", "1"}));
  EXPECT_EQ(channel->transparent_retries(), 1);
  EXPECT_EQ(channel->policy_retries(), 1);
}

// Records OnAttemptStarted / OnAttemptFinished as "<number><t if transparent>:start" and
// "<number>:<status code>".
class AttemptRecorder : public ClientInterceptor {
 public:
  explicit AttemptRecorder(std::vector<std::string>* log) : log_(log) {}
  void OnAttemptStarted(ClientCall&, const CallAttempt& a) override {
    log_->push_back(absl::StrCat(a.number, a.transparent_retry ? "t" : "", ":start"));
  }
  void OnAttemptFinished(ClientCall&, const CallAttempt& a, const absl::Status& s) override {
    log_->push_back(absl::StrCat(a.number, ":", absl::StatusCodeToString(s.code())));
  }
  void OnFinish(ClientCall&, absl::Status& s) override {
    log_->push_back(absl::StrCat("call:", absl::StatusCodeToString(s.code())));
  }

 private:
  std::vector<std::string>* log_;
};

TEST_F(RetryTest, InterceptorsSeeEveryAttemptTransparentRetriesToo) {
  // Refused (replayed transparently), then UNAVAILABLE (retried by the policy), then OK.
  ScriptedServer scripted(
      &loop_, {{0, std::nullopt, "200", transport::constants::NGHTTP2_REFUSED_STREAM},
               {14, std::nullopt},
               {0, std::nullopt}});
  std::vector<std::string> log;
  ChannelOptions o;
  o.interceptors.push_back(
      [&log](ClientCall&) { return std::make_unique<AttemptRecorder>(&log); });
  auto channel = MakeChannel(RetryConfig(2), o, scripted.target());
  ASSERT_TRUE(Call(channel).ok());
  EXPECT_EQ(log, (std::vector<std::string>{"1:start", "1:UNAVAILABLE", "2t:start",
                                           "2:UNAVAILABLE", "3:start", "3:OK", "call:OK"}));
}

TEST_F(RetryTest, ARetryKeepsTheEncodingOfTheMessagesItReplays) {
  // The failure says the server accepts only identity; the replayed messages are gzip'd
  // already, so the next attempt still says gzip (a new call would not compress).
  Step failure{14, std::nullopt};
  failure.accept_encoding = "identity";
  ScriptedServer scripted(&loop_, {failure, {0, std::nullopt}});
  auto channel = MakeChannel(RetryConfig(2), {}, scripted.target());
  CallOptions o;
  o.compression = Compression::kGzip;
  ASSERT_TRUE(Call(channel, o, std::string(1000, 'x')).ok());
  EXPECT_EQ(scripted.encodings, (std::vector<std::string>{"gzip", "gzip"}));
  ASSERT_TRUE(Call(channel, o).ok());
  EXPECT_EQ(scripted.encodings.back(), "");
}

TEST_F(RetryTest, NegativeOrInvalidPushbackStopsRetrying) {
  for (const char* pushback : {"-1", "soon"}) {
    ScriptedServer scripted(&loop_, {{14, pushback}, {0, std::nullopt}});
    auto channel = MakeChannel(RetryConfig(5), {}, scripted.target());
    EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kUnavailable) << pushback;
    EXPECT_EQ(scripted.previous_attempts.size(), 1u) << pushback;
  }
}

TEST_F(RetryTest, LaterAttemptsSendTheTimeLeft) {
  ScriptedServer scripted(&loop_, {{14, "200"}, {0, std::nullopt}});
  auto channel = MakeChannel(RetryConfig(2), {}, scripted.target());
  CallOptions o;
  o.timeout = absl::Seconds(20);
  ASSERT_TRUE(Call(channel, o).ok());
  ASSERT_EQ(scripted.timeouts.size(), 2u);
  auto first = DecodeGrpcTimeout(scripted.timeouts[0]);
  auto second = DecodeGrpcTimeout(scripted.timeouts[1]);
  ASSERT_TRUE(first.ok() && second.ok()) << scripted.timeouts[0] << " " << scripted.timeouts[1];
  // The second attempt started after the 200 ms pushback: its grpc-timeout is about that much
  // less (the loop's timers count from its cached millisecond clock: some slack).
  EXPECT_LE(*second, *first - absl::Milliseconds(150));
}

TEST_F(RetryTest, BackoffIsCappedByMaxBackoff) {
  // Without maxBackoff's 20 ms the third retry would wait random(0, 100 s).
  service_.failures = 3;
  auto channel = MakeChannel(
      R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo"}],"retryPolicy":{)"
      R"("maxAttempts":4,"initialBackoff":"0.001s","maxBackoff":"0.02s",)"
      R"("backoffMultiplier":10000,"retryableStatusCodes":["UNAVAILABLE"]}}]})");
  const absl::Time start = absl::Now();
  ASSERT_TRUE(Call(channel).ok());
  EXPECT_EQ(service_.calls, 4);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(RetryTest, TheDeadlineSpansAllAttempts) {
  // The server asks for 10 s before the next attempt; the call's 300 ms deadline ends it.
  ScriptedServer scripted(&loop_, {{14, "10000"}, {0, std::nullopt}});
  auto channel = MakeChannel(RetryConfig(5), {}, scripted.target());
  CallOptions o;
  o.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  EXPECT_EQ(Call(channel, o).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(scripted.previous_attempts.size(), 1u);
}

// --- a service config from the resolver ---

// A resolver of the test's own: the server's address, with `config` (if any) as the name
// system's service config; counts its resolutions.
ResolveFunction ManualResolver(int port, std::optional<std::string>* config, int* resolutions) {
  return [port, config, resolutions](const Target&, ResolverResultCallback done) {
    ++*resolutions;
    ResolverResult result;
    result.addresses.push_back(*transport::SocketAddress::fromIp("127.0.0.1", port));
    result.service_config = *config;
    done(std::move(result));
  };
}

TEST_F(RetryTest, TheResolversServiceConfigApplies) {
  // No config on the channel: the resolver's retry policy retries the failure.
  service_.failures = 1;
  std::optional<std::string> config = RetryConfig(3);
  int resolutions = 0;
  ChannelOptions o;
  o.resolve = ManualResolver(server_->port(), &config, &resolutions);
  auto channel = MakeChannel("", o, "dns:///example.invalid:1");
  ASSERT_TRUE(Call(channel).ok());
  EXPECT_EQ(service_.calls, 2);
  EXPECT_EQ(channel->policy_retries(), 1);
  EXPECT_TRUE(channel->service_config_from_resolver());
  EXPECT_EQ(resolutions, 1);
}

TEST_F(RetryTest, TheResolversServiceConfigWinsOverTheChannelsDefault) {
  // The channel's config has no retry policy; the resolver's has one (and round_robin).
  service_.failures = 1;
  std::optional<std::string> config = absl::StrCat(
      RetryConfig(3).substr(0, RetryConfig(3).size() - 1),
      R"(,"loadBalancingConfig":[{"round_robin":{}}]})");
  int resolutions = 0;
  ChannelOptions o;
  o.resolve = ManualResolver(server_->port(), &config, &resolutions);
  auto channel =
      MakeChannel(R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo"}],)"
                  R"("timeout":"20s"}]})",
                  o, "dns:///example.invalid:1");
  EXPECT_EQ(channel->lb_policy_name(), "pick_first");
  ASSERT_TRUE(Call(channel).ok());
  EXPECT_EQ(service_.calls, 2);
  EXPECT_EQ(channel->lb_policy_name(), "round_robin");
}

TEST_F(RetryTest, WithoutAResolverConfigTheChannelsDefaultApplies) {
  service_.failures = 1;
  std::optional<std::string> config;  // the resolver gives none
  int resolutions = 0;
  ChannelOptions o;
  o.resolve = ManualResolver(server_->port(), &config, &resolutions);
  auto channel = MakeChannel(RetryConfig(3), o, "dns:///example.invalid:1");
  ASSERT_TRUE(Call(channel).ok());
  EXPECT_EQ(service_.calls, 2);
  EXPECT_FALSE(channel->service_config_from_resolver());
}

TEST_F(RetryTest, DisabledServiceConfigLookupKeepsTheDefault) {
  // The resolver's config would retry; lookup is disabled and the default has no policy.
  service_.failures = 1;
  std::optional<std::string> config = RetryConfig(3);
  int resolutions = 0;
  ChannelOptions o;
  o.resolve = ManualResolver(server_->port(), &config, &resolutions);
  o.disable_service_config_lookup = true;
  auto channel = MakeChannel("", o, "dns:///example.invalid:1");
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_.calls, 1);
  EXPECT_FALSE(channel->service_config_from_resolver());
}

TEST_F(RetryTest, AnInvalidResolverConfigIsIgnored) {
  service_.failures = 1;
  std::optional<std::string> config = RetryConfig(1);  // maxAttempts must be above 1
  int resolutions = 0;
  ChannelOptions o;
  o.resolve = ManualResolver(server_->port(), &config, &resolutions);
  auto channel = MakeChannel(RetryConfig(3), o, "dns:///example.invalid:1");
  ASSERT_TRUE(Call(channel).ok());  // the default's retry policy
  EXPECT_EQ(service_.calls, 2);
  EXPECT_FALSE(channel->service_config_from_resolver());
  EXPECT_EQ(channel->resolver_service_config_status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RetryTest, ALaterResolutionReplacesTheConfigForLaterCalls) {
  // First resolution: a retry policy. Then the resolver publishes none: the channel's default
  // (no policy) applies to the calls after the next resolution.
  service_.failures = 1;
  std::optional<std::string> config = RetryConfig(3);
  int resolutions = 0;
  ChannelOptions o;
  o.resolve = ManualResolver(server_->port(), &config, &resolutions);
  auto channel = MakeChannel("", o, "dns:///example.invalid:1");
  ASSERT_TRUE(Call(channel).ok());
  ASSERT_TRUE(channel->service_config_from_resolver());
  config.reset();
  channel->Close();  // IDLE: the next call resolves again
  service_.calls = 0;
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(resolutions, 2);
  EXPECT_FALSE(channel->service_config_from_resolver());
  EXPECT_EQ(service_.calls, 1);
}

// Counts its invocations; gives each attempt a different token.
class CountingCredentials : public CallCredentials {
 public:
  void GetRequestMetadata(const AuthMetadataContext&, MetadataCallback done) override {
    ++calls;
    Metadata md;
    (void)md.Add("token", absl::StrCat("t", calls));
    done(std::move(md));
  }
  bool RequireTransportSecurity() const override { return false; }
  int calls = 0;
};

class CountingInterceptor : public ClientInterceptor {
 public:
  explicit CountingInterceptor(int* starts) : starts_(starts) {}
  Task<absl::Status> OnStart(ClientCall&) override {
    ++*starts_;
    co_return absl::OkStatus();
  }

 private:
  int* starts_;
};

TEST_F(RetryTest, CredentialsPerAttemptInterceptorsPerCall) {
  service_.failures = 2;
  auto credentials = std::make_shared<CountingCredentials>();
  int starts = 0;
  ChannelOptions o;
  o.call_credentials = credentials;
  o.interceptors.push_back(
      [&starts](ClientCall&) { return std::make_unique<CountingInterceptor>(&starts); });
  auto channel = MakeChannel(RetryConfig(3), o);
  ASSERT_TRUE(Call(channel).ok());
  EXPECT_EQ(service_.calls, 3);
  EXPECT_EQ(credentials->calls, 3);  // fetched for each attempt
  EXPECT_EQ(starts, 1);              // the interceptor wraps the whole call
}

TEST_F(RetryTest, ThrottlingStopsRetriesWhenTokensRunLow) {
  service_.failures = 1000;
  auto channel =
      MakeChannel(RetryConfig(5, R"("UNAVAILABLE")",
                              R"(,"retryThrottling":{"maxTokens":10,"tokenRatio":0.5})"));
  ASSERT_EQ(channel->retry_tokens(), 10.0);
  // Each failed attempt takes a token; retries need more than 5 left: the first call makes
  // 5 attempts (10 -> 5), the second one attempt (5 -> 4) and is not retried.
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_.calls, 5);
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_.calls, 6);
  EXPECT_EQ(channel->retry_tokens(), 4.0);
  // Successes give tokenRatio back.
  service_.failures = 0;
  ASSERT_TRUE(Call(channel).ok());
  ASSERT_TRUE(Call(channel).ok());
  EXPECT_EQ(channel->retry_tokens(), 5.0);
}

}  // namespace
}  // namespace h2rpc::rpc
