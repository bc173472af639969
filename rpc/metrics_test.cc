// CallMetrics (rpc/metrics.h): the Prometheus exposition text exactly, and the A66 instruments
// recorded by the interceptor pair over loopback calls (OK and failed, unary and streaming).
#include "rpc/metrics.h"

#include <atomic>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "absl/strings/match.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/server_pool.h"
#include "transport/uv_loop_thread.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testing/echo_service.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

// The lines of `text` that start with `prefix`.
std::vector<std::string> Lines(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, prefix)) out.emplace_back(line);
  }
  return out;
}

TEST(CallMetricsTest, EmptyExpositionHasEveryInstrument) {
  CallMetrics metrics;
  EXPECT_EQ(metrics.PrometheusText(),
            "# HELP grpc_server_call_started_total The total number of RPCs started, including "
            "those that have not completed.\n"
            "# TYPE grpc_server_call_started_total counter\n"
            "# HELP grpc_server_call_duration_seconds End-to-end time taken to complete a call "
            "from server transport's perspective.\n"
            "# TYPE grpc_server_call_duration_seconds histogram\n"
            "# HELP grpc_server_call_sent_total_compressed_message_size_bytes Compressed message "
            "bytes sent per server call\n"
            "# TYPE grpc_server_call_sent_total_compressed_message_size_bytes histogram\n"
            "# HELP grpc_server_call_rcvd_total_compressed_message_size_bytes Compressed message "
            "bytes received per server call\n"
            "# TYPE grpc_server_call_rcvd_total_compressed_message_size_bytes histogram\n"
            "# HELP grpc_client_attempt_started_total Number of client call attempts started\n"
            "# TYPE grpc_client_attempt_started_total counter\n"
            "# HELP grpc_client_attempt_duration_seconds Time taken to complete a client call "
            "attempt\n"
            "# TYPE grpc_client_attempt_duration_seconds histogram\n"
            "# HELP grpc_client_attempt_sent_total_compressed_message_size_bytes Compressed "
            "message bytes sent per client call attempt\n"
            "# TYPE grpc_client_attempt_sent_total_compressed_message_size_bytes histogram\n"
            "# HELP grpc_client_attempt_rcvd_total_compressed_message_size_bytes Compressed "
            "message bytes received per call attempt\n"
            "# TYPE grpc_client_attempt_rcvd_total_compressed_message_size_bytes histogram\n"
            "# HELP grpc_client_call_duration_seconds Time taken by gRPC to complete an RPC from "
            "application's perspective\n"
            "# TYPE grpc_client_call_duration_seconds histogram\n");
}

TEST(CallMetricsTest, CountersAndHistogramsExactly) {
  CallMetrics metrics;
  metrics.Add("grpc.server.call.started", {"pkg.S/B"});
  metrics.Add("grpc.server.call.started", {"pkg.S/A"}, 2);
  metrics.Add("grpc.server.call.started", {"too", "many"});  // ignored
  metrics.Add("no.such.instrument", {"x"});                   // ignored
  metrics.Record("grpc.server.call.sent_total_compressed_message_size", {"pkg.S/A", "OK"}, 0);
  metrics.Record("grpc.server.call.sent_total_compressed_message_size", {"pkg.S/A", "OK"}, 1024);
  metrics.Record("grpc.server.call.sent_total_compressed_message_size", {"pkg.S/A", "OK"}, 1025);
  metrics.Record("grpc.server.call.sent_total_compressed_message_size", {"pkg.S/A", "OK"}, 5e9);
  const std::string text = metrics.PrometheusText();
  EXPECT_EQ(Lines(text, "grpc_server_call_started_total"),
            (std::vector<std::string>{"grpc_server_call_started_total{grpc_method=\"pkg.S/A\"} 2",
                                      "grpc_server_call_started_total{grpc_method=\"pkg.S/B\"} 1"}));
  const std::string p = "grpc_server_call_sent_total_compressed_message_size_bytes";
  const std::string l = "grpc_method=\"pkg.S/A\",grpc_status=\"OK\"";
  EXPECT_EQ(Lines(text, p), (std::vector<std::string>{
                                p + "_bucket{" + l + ",le=\"0\"} 1",
                                p + "_bucket{" + l + ",le=\"1024\"} 2",
                                p + "_bucket{" + l + ",le=\"2048\"} 3",
                                p + "_bucket{" + l + ",le=\"4096\"} 3",
                                p + "_bucket{" + l + ",le=\"16384\"} 3",
                                p + "_bucket{" + l + ",le=\"65536\"} 3",
                                p + "_bucket{" + l + ",le=\"262144\"} 3",
                                p + "_bucket{" + l + ",le=\"1048576\"} 3",
                                p + "_bucket{" + l + ",le=\"4194304\"} 3",
                                p + "_bucket{" + l + ",le=\"16777216\"} 3",
                                p + "_bucket{" + l + ",le=\"67108864\"} 3",
                                p + "_bucket{" + l + ",le=\"268435456\"} 3",
                                p + "_bucket{" + l + ",le=\"1073741824\"} 3",
                                p + "_bucket{" + l + ",le=\"4294967296\"} 3",
                                p + "_bucket{" + l + ",le=\"+Inf\"} 4",
                                p + "_sum{" + l + "} 5000002049",
                                p + "_count{" + l + "} 4",
                            }));
}

TEST(CallMetricsTest, LatencyBucketsAndEscaping) {
  CallMetrics metrics;
  const std::vector<std::string> labels = {"a\"b\\c\nd", "dns:///x:1", "OK"};
  metrics.Record("grpc.client.call.duration", labels, 0.000030517578125);  // 2^-15: exact sums
  metrics.Record("grpc.client.call.duration", labels, 0.25);
  const std::string text = metrics.PrometheusText();
  const std::string l = "grpc_method=\"a\\\"b\\\\c\\nd\",grpc_target=\"dns:///x:1\",grpc_status=\"OK\"";
  std::vector<std::string> lines = Lines(text, "grpc_client_call_duration_seconds");
  ASSERT_EQ(lines.size(), 41u + 1 + 2);  // A66's 41 bounds, +Inf, sum, count
  EXPECT_EQ(lines[0], "grpc_client_call_duration_seconds_bucket{" + l + ",le=\"0\"} 0");
  EXPECT_EQ(lines[1], "grpc_client_call_duration_seconds_bucket{" + l + ",le=\"1e-05\"} 0");
  EXPECT_EQ(lines[2], "grpc_client_call_duration_seconds_bucket{" + l + ",le=\"5e-05\"} 1");
  EXPECT_EQ(lines[27], "grpc_client_call_duration_seconds_bucket{" + l + ",le=\"0.2\"} 1");
  EXPECT_EQ(lines[28], "grpc_client_call_duration_seconds_bucket{" + l + ",le=\"0.25\"} 2");
  EXPECT_EQ(lines[40], "grpc_client_call_duration_seconds_bucket{" + l + ",le=\"100\"} 2");
  EXPECT_EQ(lines[41], "grpc_client_call_duration_seconds_bucket{" + l + ",le=\"+Inf\"} 2");
  EXPECT_EQ(lines[42], "grpc_client_call_duration_seconds_sum{" + l + "} 0.250030517578125");
  EXPECT_EQ(lines[43], "grpc_client_call_duration_seconds_count{" + l + "} 2");
}

TEST(CallMetricsTest, InterceptorsRecordA66Instruments) {
  transport::UvLoop loop;
  CallMetrics metrics;
  testing::EchoService service;
  ServerOptions server_options;
  server_options.interceptors.push_back(metrics.ServerInterceptor());
  Server server(&loop, server_options);
  server.RegisterService(&service);
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  ChannelOptions channel_options;
  channel_options.interceptors.push_back(metrics.ClientInterceptor());
  const std::string target = "127.0.0.1:" + std::to_string(server.port());
  auto channel = Channel::Create(&loop, target, channel_options);
  EchoRequest ok;
  ok.set_text(std::string(2000, 'x'));
  EchoRequest bad;
  bad.set_status_code(static_cast<int>(absl::StatusCode::kNotFound));
  for (const EchoRequest* req : {&ok, &ok, &bad}) {
    (void)BlockOn(&loop, UnaryCall<EchoRequest, EchoReply>(channel, "/h2rpc.rpc_test.Echo/Unary",
                                                         *req, {}));
  }
  const std::string method = "h2rpc.rpc_test.Echo/Unary";
  const std::string t = "dns:///" + target;
  EXPECT_EQ(metrics.CounterValue("grpc.client.attempt.started", {method, t}), 3u);
  EXPECT_EQ(metrics.HistogramValue("grpc.client.call.duration", {method, t, "OK"}).count, 2u);
  EXPECT_EQ(metrics.HistogramValue("grpc.client.attempt.duration", {method, t, "NOT_FOUND"}).count,
            1u);
  const auto sent = metrics.HistogramValue(
      "grpc.client.attempt.sent_total_compressed_message_size", {method, t, "OK"});
  EXPECT_EQ(sent.sum, 2.0 * ok.ByteSizeLong());
  EXPECT_EQ(sent.counts[2], 2u);  // 2003 bytes: in (1024, 2048]
  EchoReply reply;
  reply.set_text(ok.text());
  EXPECT_EQ(metrics
                .HistogramValue("grpc.client.attempt.rcvd_total_compressed_message_size",
                                {method, t, "OK"})
                .sum,
            2.0 * reply.ByteSizeLong());
  // The server's side of the same calls (its OnFinish may run after the client has its status).
  auto server_done = [&] {
    return metrics.HistogramValue("grpc.server.call.duration", {method, "NOT_FOUND"}).count == 1 &&
           metrics.HistogramValue("grpc.server.call.duration", {method, "OK"}).count == 2;
  };
  for (int i = 0; i < 1000 && !server_done(); ++i) uv_run(loop.uv(), UV_RUN_NOWAIT);
  EXPECT_TRUE(server_done());
  EXPECT_EQ(metrics.CounterValue("grpc.server.call.started", {method}), 3u);
  EXPECT_EQ(metrics.HistogramValue("grpc.server.call.rcvd_total_compressed_message_size",
                                   {method, "OK"})
                .sum,
            2.0 * ok.ByteSizeLong());
  EXPECT_EQ(metrics.HistogramValue("grpc.server.call.sent_total_compressed_message_size",
                                   {method, "NOT_FOUND"})
                .sum,
            0.0);
  EXPECT_NE(metrics.PrometheusText().find(
                "grpc_server_call_started_total{grpc_method=\"h2rpc.rpc_test.Echo/Unary\"} 3\n"),
            std::string::npos);
  // Compressed messages count as sent: the request's 2003 bytes of 'x' gzip to a few dozen.
  CallOptions gzip;
  gzip.compression = Compression::kGzip;
  ASSERT_TRUE(BlockOn(&loop, UnaryCall<EchoRequest, EchoReply>(
                                 channel, "/h2rpc.rpc_test.Echo/Unary", ok, std::move(gzip)))
                  .ok());
  const auto sent3 = metrics.HistogramValue(
      "grpc.client.attempt.sent_total_compressed_message_size", {method, t, "OK"});
  ASSERT_EQ(sent3.count, 3u);
  const double compressed = sent3.sum - sent.sum;
  EXPECT_GT(compressed, 0);
  EXPECT_LT(compressed, 200);
  auto server_has_third = [&] {
    return metrics.HistogramValue("grpc.server.call.rcvd_total_compressed_message_size",
                                  {method, "OK"}).count == 3;
  };
  for (int i = 0; i < 1000 && !server_has_third(); ++i) uv_run(loop.uv(), UV_RUN_NOWAIT);
  ASSERT_TRUE(server_has_third());
  EXPECT_EQ(metrics.HistogramValue("grpc.server.call.rcvd_total_compressed_message_size",
                                   {method, "OK"}).sum,
            2.0 * ok.ByteSizeLong() + compressed);
  channel->Close();
  bool closed = false;
  server.Shutdown(absl::Seconds(1), [&] { closed = true; });
  for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
}

// Fails its first `failures` calls with UNAVAILABLE; with `stall_first`, its first call waits
// until the client cancels it instead.
class FlakyEchoService : public Service {
 public:
  FlakyEchoService() : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [this](ServerContext& context, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          const int call = ++calls;
          if (stall_first && call == 1) {
            Awaitable<bool> cancelled;
            context.OnCancel([state = cancelled.state()] { state->Complete(true); });
            if (!context.IsCancelled()) co_await cancelled;
            co_return absl::CancelledError("cancelled");
          }
          if (call <= failures) co_return absl::UnavailableError("not now");
          EchoReply reply;
          reply.set_text(req.text());
          co_return reply;
        });
  }
  int calls = 0;
  int failures = 0;
  bool stall_first = false;
};

// A66's attempt instruments count each attempt of a call, call.duration the call once.
class PerAttemptMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(&loop_);
    server_->RegisterService(&service_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    target_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (channel_) channel_->Close();
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  absl::StatusOr<EchoReply> Call(const std::string& service_config) {
    ChannelOptions o;
    o.interceptors.push_back(metrics_.ClientInterceptor());
    o.service_config = service_config;
    channel_ = Channel::Create(&loop_, target_, o);
    request_.set_text(std::string(100, 'x'));
    CallOptions call;
    call.timeout = absl::Seconds(20);
    return BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(channel_, kMethodPath, request_, call));
  }
  std::vector<std::string> Labels(const std::string& status) const {
    return {"h2rpc.rpc_test.Echo/Unary", "dns:///" + target_, status};
  }

  static constexpr char kMethodPath[] = "/h2rpc.rpc_test.Echo/Unary";
  transport::UvLoop loop_;
  CallMetrics metrics_;
  FlakyEchoService service_;
  std::unique_ptr<Server> server_;
  std::string target_;
  std::shared_ptr<Channel> channel_;
  EchoRequest request_;
};

TEST_F(PerAttemptMetricsTest, ACallRetriedTwiceIsThreeAttemptsAndOneCall) {
  service_.failures = 2;
  auto reply = Call(
      R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo"}],"retryPolicy":{)"
      R"("maxAttempts":3,"initialBackoff":"0.01s","maxBackoff":"0.01s","backoffMultiplier":1,)"
      R"("retryableStatusCodes":["UNAVAILABLE"]}}]})");
  ASSERT_TRUE(reply.ok()) << reply.status();
  const std::vector<std::string> started = {"h2rpc.rpc_test.Echo/Unary", "dns:///" + target_};
  EXPECT_EQ(metrics_.CounterValue("grpc.client.attempt.started", started), 3u);
  EXPECT_EQ(metrics_.HistogramValue("grpc.client.attempt.duration", Labels("UNAVAILABLE")).count,
            2u);
  EXPECT_EQ(metrics_.HistogramValue("grpc.client.attempt.duration", Labels("OK")).count, 1u);
  EXPECT_EQ(metrics_.HistogramValue("grpc.client.call.duration", Labels("OK")).count, 1u);
  EXPECT_EQ(metrics_.HistogramValue("grpc.client.call.duration", Labels("UNAVAILABLE")).count, 0u);
  // Each attempt sent the request (the retries replayed it); only the last one got a reply.
  const double size = static_cast<double>(request_.ByteSizeLong());
  EXPECT_EQ(metrics_
                .HistogramValue("grpc.client.attempt.sent_total_compressed_message_size",
                                Labels("UNAVAILABLE"))
                .sum,
            2 * size);
  EXPECT_EQ(metrics_
                .HistogramValue("grpc.client.attempt.sent_total_compressed_message_size",
                                Labels("OK"))
                .sum,
            size);
  EXPECT_EQ(metrics_
                .HistogramValue("grpc.client.attempt.rcvd_total_compressed_message_size",
                                Labels("UNAVAILABLE"))
                .sum,
            0.0);
  EXPECT_EQ(metrics_
                .HistogramValue("grpc.client.attempt.rcvd_total_compressed_message_size",
                                Labels("OK"))
                .sum,
            static_cast<double>(reply->ByteSizeLong()));
}

TEST_F(PerAttemptMetricsTest, AHedgedCallIsTwoAttemptsTheLoserCancelled) {
  service_.stall_first = true;
  auto reply = Call(
      R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo"}],"hedgingPolicy":{)"
      R"("maxAttempts":2,"hedgingDelay":"0.02s","nonFatalStatusCodes":["UNAVAILABLE"]}}]})");
  ASSERT_TRUE(reply.ok()) << reply.status();
  const std::vector<std::string> started = {"h2rpc.rpc_test.Echo/Unary", "dns:///" + target_};
  EXPECT_EQ(metrics_.CounterValue("grpc.client.attempt.started", started), 2u);
  EXPECT_EQ(metrics_.HistogramValue("grpc.client.attempt.duration", Labels("CANCELLED")).count,
            1u);
  EXPECT_EQ(metrics_.HistogramValue("grpc.client.attempt.duration", Labels("OK")).count, 1u);
  EXPECT_EQ(metrics_.HistogramValue("grpc.client.call.duration", Labels("OK")).count, 1u);
  EXPECT_EQ(metrics_
                .HistogramValue("grpc.client.attempt.sent_total_compressed_message_size",
                                Labels("CANCELLED"))
                .sum,
            static_cast<double>(request_.ByteSizeLong()));
}

// One CallMetrics for a two-loop ServerPool and a channel whose calls come from several
// threads: every call counted once on each side (the series are shared across threads; run
// under --config=tsan too).
TEST(CallMetricsTest, SharedAcrossThreads) {
  CallMetrics metrics;
  testing::EchoService service;
  ServerPoolOptions options;
  options.num_threads = 2;
  options.server.interceptors.push_back(metrics.ServerInterceptor());
  ServerPool servers(options);
  servers.RegisterService(&service);
  ASSERT_TRUE(servers.Listen("127.0.0.1", 0).ok());
  {
    transport::UvLoopThread io;
    ChannelOptions channel_options;
    channel_options.interceptors.push_back(metrics.ClientInterceptor());
    auto channel = Channel::Create(io.loop(), "127.0.0.1:" + std::to_string(servers.port()),
                                   channel_options);
    constexpr int kThreads = 4, kCalls = 10;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        EchoRequest req;
        req.set_text("x");
        for (int i = 0; i < kCalls; ++i) {
          ok += BlockOn(io.loop(), UnaryCall<EchoRequest, EchoReply>(
                                       channel, "/h2rpc.rpc_test.Echo/Unary", req, {}))
                    .ok();
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), kThreads * kCalls);
    (void)CallOnLoop(io.loop(), [&] {
      channel->Close();
      channel.reset();
      return true;
    });
  }
  servers.Shutdown(absl::Seconds(1));  // every call's OnFinish has run once it returns
  const std::string method = "h2rpc.rpc_test.Echo/Unary";
  EXPECT_EQ(metrics.CounterValue("grpc.server.call.started", {method}), 40u);
  EXPECT_EQ(metrics.HistogramValue("grpc.server.call.duration", {method, "OK"}).count, 40u);
  EXPECT_EQ(metrics.HistogramValue("grpc.client.call.duration",
                                   {method, "dns:///127.0.0.1:" + std::to_string(servers.port()),
                                    "OK"})
                .count,
            40u);
}

}  // namespace
}  // namespace h2rpc::rpc
