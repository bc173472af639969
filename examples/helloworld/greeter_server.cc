// greeter_server: gRPC's helloworld server on h2rpc.
//
//   bazel run //examples/helloworld:greeter_server -- --port=50051
//
// SayHello answers "Hello <name>". SIGINT/SIGTERM: GOAWAY, running calls get 5 s, then exit.
//
// Credentials (rpc/README.md, "Credentials"): --tls_client_ca=ca.pem asks clients for a
// certificate signed by that CA (mTLS) and greets them by their verified identity;
// --bearer_token=T refuses calls without "authorization: Bearer T" (UNAUTHENTICATED).
// One port, every client: gRPC (HTTP/2), gRPC-Web and Connect (HTTP/2 and HTTP/1.1) on the same
// handlers; --web_root=DIR serves a web app's files there too (examples/README.md).
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/listen_flags.h"
#include "examples/common/shutdown_signal.h"
#include "examples/common/web_root.h"
#include "examples/helloworld/helloworld.h2rpc.h"
#include "rpc/health/health_service.h"
#include "rpc/reflection/reflection_service.h"
#include "rpc/server.h"

ABSL_FLAG(int, port, 50051, "port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (with --port)");
ABSL_FLAG(std::string, listen, "",
          "where to listen, instead of --host/--port: host:port, [::]:port (every interface), "
          "unix:/path/to.sock or unix-abstract:name");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate file: serve TLS (ALPN h2) instead of h2c");
ABSL_FLAG(std::string, tls_key, "", "PEM private key file for --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA file: require client certificates signed by it (mTLS; needs --tls_cert)");
ABSL_FLAG(bool, allow_http1, true,
          "also serve HTTP/1.1 on the port (browsers over cleartext, curl; gRPC-Web and Connect "
          "only: gRPC needs HTTP/2); --noallow_http1: HTTP/2 only");
ABSL_FLAG(std::string, web_root, "",
          "serve this directory's files (GET /, /app.js, ...) on the port beside the calls: a web "
          "app's page and its gRPC-Web/Connect calls on one origin");
ABSL_FLAG(std::vector<std::string>, cors_allowed_origins, {},
          "origins whose web pages may call (CORS for gRPC-Web), e.g. https://app.example; * for any");
ABSL_FLAG(std::string, bearer_token, "",
          "refuse calls without the metadata 'authorization: Bearer <this>'");

namespace {

using h2rpc::rpc::ServerContext;
using h2rpc::rpc::Task;

class GreeterImpl final : public helloworld::Greeter::Service {
 public:
  explicit GreeterImpl(std::string bearer_token) : bearer_token_(std::move(bearer_token)) {}

 private:
  Task<absl::StatusOr<helloworld::HelloReply>> SayHello(
      ServerContext& context, const helloworld::HelloRequest& request) override {
    if (!bearer_token_.empty() &&
        context.client_metadata().GetFirst("authorization") != "Bearer " + bearer_token_) {
      co_return absl::UnauthenticatedError("missing or wrong bearer token");
    }
    helloworld::HelloReply reply;
    reply.set_message("Hello " + request.name());
    // With mTLS, the client's verified certificate says who it is.
    const std::vector<std::string> identity = context.auth_context()->PeerIdentity();
    if (!identity.empty()) reply.set_message(reply.message() + " (from " + identity[0] + ")");
    co_return reply;
  }
  const std::string bearer_token_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  h2rpc::transport::UvLoop loop;
  GreeterImpl greeter(absl::GetFlag(FLAGS_bearer_token));
  h2rpc::rpc::ServerOptions options;
  options.allow_http1 = absl::GetFlag(FLAGS_allow_http1);
  options.cors.allowed_origins = absl::GetFlag(FLAGS_cors_allowed_origins);
  // gRPC, gRPC-Web and Connect are all served (options.protocols' default); what is no call
  // (a page) gets the web root's files, or 404.
  options.http_fallback = h2rpc::examples::ServeWebRoot(absl::GetFlag(FLAGS_web_root));
  h2rpc::rpc::Server server(&loop, options);
  server.RegisterService(&greeter);
  // Health checking (grpc.health.v1: Kubernetes probes, load balancers) and server reflection
  // (grpcurl, `buf curl`), served by default; they cost nothing until asked.
  h2rpc::rpc::HealthService health;
  server.RegisterService(&health);
  health.SetServingStatus(helloworld::Greeter::kServiceName, h2rpc::rpc::HealthService::kServing);
  h2rpc::rpc::ReflectionService reflection;
  reflection.AddTo(server);
  auto where = h2rpc::examples::ListenFromFlags(
      server, {absl::GetFlag(FLAGS_listen), absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
               absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
               absl::GetFlag(FLAGS_tls_client_ca)});
  if (!where.ok()) {
    std::fprintf(stderr, "greeter_server: %s\n", where.status().ToString().c_str());
    return 1;
  }
  std::printf("greeter_server: listening on %s\n", where->c_str());
  std::fflush(stdout);
  h2rpc::examples::OnShutdownSignal(&loop, [&](int signum) {
    std::printf("greeter_server: signal %d, shutting down gracefully\n", signum);
    std::fflush(stdout);
    server.Shutdown(absl::Seconds(5));
  });
  loop.run();
  std::printf("greeter_server: stopped\n");
  return 0;
}
