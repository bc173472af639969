// interceptors_client: calls the Greeter of interceptors_server through three client
// interceptors (rpc/client_interceptor.h), the first outermost:
//   1. logging: one structured line per call on stdout (rpc/call_log.h, with a sink);
//   2. metrics: gRFC A66's client instruments (rpc/metrics.h), printed at the end in
//      Prometheus's text format;
//   3. token: adds "authorization: Bearer <--bearer_token>" to every call. (Over TLS, the
//      per-call credentials of rpc/credentials.h do this and refuse cleartext; this example runs
//      over h2c on loopback, which an interceptor does not check.)
// Then it fetches the server's metrics from --metrics_url and prints its call counter, and the
// server's channelz-like snapshot from the same endpoint's /channelz (rpc/channelz.h).
//
//   bazel run //examples/interceptors:interceptors_client -- --target=127.0.0.1:50051
//       --bearer_token=s3cret --metrics_url=http://127.0.0.1:9464/metrics
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "examples/helloworld/helloworld.h2rpc.h"
#include "rpc/call_log.h"
#include "rpc/client.h"
#include "rpc/metrics.h"
#include "transport/connect.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server target");
ABSL_FLAG(std::string, bearer_token, "s3cret", "the token the token interceptor adds");
ABSL_FLAG(std::string, metrics_url, "", "the server's /metrics URL (empty: not fetched)");

namespace {

using h2rpc::rpc::ClientCall;
using h2rpc::rpc::Task;

class AddBearerToken : public h2rpc::rpc::ClientInterceptor {
 public:
  explicit AddBearerToken(std::string token) : token_(std::move(token)) {}
  Task<absl::Status> OnStart(ClientCall& call) override {
    if (token_.empty()) co_return absl::OkStatus();  // let the server refuse it
    co_return call.outgoing_metadata().Add("authorization", "Bearer " + token_);
  }

 private:
  std::string token_;
};

class DropToken : public h2rpc::rpc::ClientInterceptor {
 public:
  Task<absl::Status> OnStart(ClientCall& call) override {
    call.outgoing_metadata().Remove("authorization");
    co_return absl::OkStatus();
  }
};

// GET `url` over HTTP/2 (h2c): the body, or the error.
Task<absl::StatusOr<std::string>> Fetch(h2rpc::transport::UvLoop* loop, std::string url) {
  using namespace h2rpc::transport;
  auto client = connect(loop, url);
  if (!client.ok()) co_return client.status();
  const size_t slash = url.find('/', url.find("//") + 2);
  auto stream = (*client)->request({{":path", slash == std::string::npos ? "/" : url.substr(slash)}});
  if (!stream.ok()) co_return stream.status();
  auto body = std::make_shared<std::string>();
  h2rpc::rpc::Awaitable<bool> ended(loop);
  (*stream)->onData([body](std::string_view chunk) { body->append(chunk); });
  (*stream)->onEnd([state = ended.state()] { state->Complete(true); });
  (*stream)->onClose([state = ended.state()] { state->Complete(false); });
  const bool ok = co_await ended;
  (*client)->close();
  if (!ok) co_return absl::UnavailableError("the /metrics stream closed before its end");
  co_return *body;
}

Task<int> Run(h2rpc::transport::UvLoop* loop, helloworld::Greeter::Stub& stub,
              h2rpc::rpc::CallMetrics& metrics) {
  helloworld::HelloRequest request;
  request.set_name("world");
  absl::StatusOr<helloworld::HelloReply> reply = co_await stub.SayHello(request);
  if (!reply.ok()) {
    std::printf("SayHello failed: %s\n", reply.status().ToString().c_str());
    co_return 1;
  }
  std::printf("Greeter received: %s\n", reply->message().c_str());
  // The same call without the token interceptor's header (a call's interceptors run inside the
  // channel's: DropToken's OnStart comes after AddBearerToken's): the server's auth interceptor
  // refuses it before the handler runs.
  h2rpc::rpc::CallOptions anonymous;
  anonymous.interceptors.push_back([](ClientCall&) { return std::make_unique<DropToken>(); });
  absl::StatusOr<helloworld::HelloReply> refused = co_await stub.SayHello(request, anonymous);
  std::printf("without a token: %s\n", refused.status().ToString().c_str());
  // What our own interceptors recorded.
  for (absl::string_view line : absl::StrSplit(metrics.PrometheusText(), '\n')) {
    if (absl::StartsWith(line, "grpc_client_attempt_started_total") ||
        absl::StartsWith(line, "grpc_client_call_duration_seconds_count")) {
      std::printf("client metric: %s\n", std::string(line).c_str());
    }
  }
  const std::string url = absl::GetFlag(FLAGS_metrics_url);
  if (url.empty()) co_return 0;
  absl::StatusOr<std::string> text = co_await Fetch(loop, url);
  if (!text.ok()) {
    std::printf("fetching %s failed: %s\n", url.c_str(), text.status().ToString().c_str());
    co_return 1;
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::StartsWith(line, "grpc_server_call_started_total") ||
        absl::StartsWith(line, "grpc_server_call_duration_seconds_count")) {
      std::printf("server metric: %s\n", std::string(line).c_str());
    }
  }
  // The same endpoint's /channelz: the server's connections, calls and windows (JSON).
  if (absl::EndsWith(url, "/metrics")) {
    const std::string channelz_url = url.substr(0, url.size() - 8) + "/channelz";
    absl::StatusOr<std::string> json = co_await Fetch(loop, channelz_url);
    if (!json.ok()) {
      std::printf("fetching %s failed: %s\n", channelz_url.c_str(),
                  json.status().ToString().c_str());
      co_return 1;
    }
    std::printf("server channelz: %s\n", json->c_str());
  }
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  h2rpc::transport::UvLoop loop;
  h2rpc::rpc::CallMetrics metrics;  // outlives the channel (declared first)
  h2rpc::rpc::ChannelOptions options;
  options.interceptors.push_back(h2rpc::rpc::ClientCallLogger([](const h2rpc::rpc::CallLogRecord& r) {
    std::printf("call log: %s\n", h2rpc::rpc::FormatCallLog(r).c_str());
  }));
  options.interceptors.push_back(metrics.ClientInterceptor());
  const std::string token = absl::GetFlag(FLAGS_bearer_token);
  options.interceptors.push_back([token](ClientCall&) { return std::make_unique<AddBearerToken>(token); });
  auto made = h2rpc::rpc::Channel::New(&loop, absl::GetFlag(FLAGS_target), options);
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
    return 2;
  }
  std::shared_ptr<h2rpc::rpc::Channel> channel = *made;
  helloworld::Greeter::Stub stub(channel);
  const int rc = h2rpc::rpc::BlockOn(&loop, Run(&loop, stub, metrics));
  channel->Close();
  loop.run();  // lets the connections close
  return rc;
}
