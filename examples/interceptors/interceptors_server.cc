// interceptors_server: gRPC's helloworld Greeter behind three server interceptors
// (rpc/server_interceptor.h), in this order (the first is the outermost):
//   1. logging: one structured line per call on stderr (rpc/call_log.h): method, peer, status,
//      duration, messages;
//   2. metrics: gRFC A66's instruments (rpc/metrics.h), served in Prometheus's text format on
//      GET http://127.0.0.1:<--metrics_port>/metrics (a plain HTTP/2 server of the transport);
//      the same admin endpoint serves GET /channelz, the server's connections, calls and
//      flow-control windows (rpc/channelz.h) as JSON, and GET /channelz.txt as text;
//   3. auth: calls need "authorization: Bearer <--bearer_token>", checked after an
//      asynchronous lookup (a co_await), or they end with UNAUTHENTICATED before the handler.
//
//   bazel run //examples/interceptors:interceptors_server -- --port=50051 --bearer_token=s3cret
//   bazel run //examples/interceptors:interceptors_client -- --target=127.0.0.1:50051
//       --bearer_token=s3cret --metrics_url=http://127.0.0.1:<metrics port>/metrics
//
// SIGINT/SIGTERM: GOAWAY, running calls get 5 s, then exit.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/listen_flags.h"
#include "examples/common/shutdown_signal.h"
#include "examples/helloworld/helloworld.h2rpc.h"
#include "rpc/call_log.h"
#include "rpc/channelz.h"
#include "rpc/metrics.h"
#include "rpc/server.h"
#include "rpc/sleep.h"
#include "transport/server.h"

ABSL_FLAG(int, port, 50051, "port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, metrics_port, 9464, "port of the /metrics endpoint (0 picks a free one)");
ABSL_FLAG(std::string, bearer_token, "s3cret", "the token calls must carry");

namespace {

using h2rpc::rpc::ServerCall;
using h2rpc::rpc::ServerContext;
using h2rpc::rpc::Task;

class GreeterImpl final : public helloworld::Greeter::Service {
  Task<absl::StatusOr<helloworld::HelloReply>> SayHello(
      ServerContext& context, const helloworld::HelloRequest& request) override {
    helloworld::HelloReply reply;
    // The auth interceptor told us who the caller is.
    reply.set_message("Hello " + request.name() + ", " +
                      context.client_metadata().GetFirst("x-authenticated-user").value_or("?"));
    co_return reply;
  }
};

// Checks the bearer token. The lookup is asynchronous, as a call to a token service would be:
// here a short pause on the loop, abandoned if the call ends meanwhile (its stop token).
class BearerAuth : public h2rpc::rpc::ServerInterceptor {
 public:
  // No message hooks: the calls' messages cost what they cost without an interceptor.
  explicit BearerAuth(std::string token)
      : ServerInterceptor(kNoMessageHooks), token_(std::move(token)) {}
  Task<absl::Status> OnStart(ServerCall& call) override {
    std::optional<std::string> header = call.client_metadata().GetFirst("authorization");
    const bool looked_up =
        co_await h2rpc::rpc::Sleep(call.loop(), absl::Milliseconds(1), call.stop_token());
    if (!looked_up) co_return absl::CancelledError("the call ended during the token lookup");
    if (header != "Bearer " + token_) {
      co_return absl::UnauthenticatedError("missing or wrong bearer token");
    }
    // What the handler sees; a client cannot set it itself: the interceptor replaces it.
    call.mutable_client_metadata().Remove("x-authenticated-user");
    co_return call.mutable_client_metadata().Add("x-authenticated-user", "token-holder");
  }

 private:
  std::string token_;
};

// The admin endpoint: /metrics, /channelz (JSON) and /channelz.txt. On the loop thread, where
// Server::Snapshot() reads directly.
void ServeAdmin(std::shared_ptr<h2rpc::transport::ServerHttp2Stream> stream,
                const h2rpc::transport::Headers& headers, const h2rpc::rpc::CallMetrics& metrics,
                h2rpc::rpc::Server& server) {
  const std::string path = headers.get(":path").value_or("");
  if (headers.get(":method").value_or("") != "GET" ||
      (path != "/metrics" && path != "/channelz" && path != "/channelz.txt")) {
    (void)stream->respond({{":status", "404"}});
    stream->end();
    return;
  }
  if (path == "/channelz") {
    (void)stream->respond({{":status", "200"}, {"content-type", "application/json"}});
    stream->end(h2rpc::rpc::ToJson(server.Snapshot()));
  } else if (path == "/channelz.txt") {
    (void)stream->respond({{":status", "200"}, {"content-type", "text/plain; charset=utf-8"}});
    stream->end(h2rpc::rpc::ToText(server.Snapshot()));
  } else {
    (void)stream->respond(
        {{":status", "200"}, {"content-type", "text/plain; version=0.0.4; charset=utf-8"}});
    stream->end(metrics.PrometheusText());
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  h2rpc::transport::UvLoop loop;
  h2rpc::rpc::CallMetrics metrics;  // outlives the server (declared first)
  GreeterImpl greeter;
  h2rpc::rpc::ServerOptions options;
  options.interceptors.push_back(h2rpc::rpc::ServerCallLogger());
  options.interceptors.push_back(metrics.ServerInterceptor());
  const std::string token = absl::GetFlag(FLAGS_bearer_token);
  options.interceptors.push_back([token](ServerCall&) { return std::make_unique<BearerAuth>(token); });
  h2rpc::rpc::Server server(&loop, options);
  server.RegisterService(&greeter);
  auto where = h2rpc::examples::ListenFromFlags(
      server, {"", absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port), "", "", ""});
  if (!where.ok()) {
    std::fprintf(stderr, "interceptors_server: %s\n", where.status().ToString().c_str());
    return 1;
  }
  auto metrics_server = h2rpc::transport::Http2Server::createServer(&loop);
  if (!metrics_server.ok()) {
    std::fprintf(stderr, "interceptors_server: %s\n", metrics_server.status().ToString().c_str());
    return 1;
  }
  (*metrics_server)->onStream([&metrics, &server](
                                  std::shared_ptr<h2rpc::transport::ServerHttp2Stream> stream,
                                  const h2rpc::transport::Headers& headers, uint8_t) {
    ServeAdmin(std::move(stream), headers, metrics, server);
  });
  if (absl::Status st = (*metrics_server)->listen(absl::GetFlag(FLAGS_metrics_port), absl::GetFlag(FLAGS_host));
      !st.ok()) {
    std::fprintf(stderr, "interceptors_server: metrics: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("interceptors_server: metrics on http://%s:%d/metrics\n",
              absl::GetFlag(FLAGS_host).c_str(), (*metrics_server)->port());
  std::printf("interceptors_server: listening on %s\n", where->c_str());
  std::fflush(stdout);
  h2rpc::examples::OnShutdownSignal(&loop, [&](int signum) {
    std::printf("interceptors_server: signal %d, shutting down gracefully\n", signum);
    std::fflush(stdout);
    (*metrics_server)->close();
    (*metrics_server)->closeAllSessions();
    server.Shutdown(absl::Seconds(5));
  });
  loop.run();
  std::printf("interceptors_server: stopped\n");
  return 0;
}
