// greeter_server: gRPC's helloworld server on h2rpc.
//
//   bazel run //examples/helloworld:greeter_server -- --port=50051
//
// SayHello answers "Hello <name>". SIGINT/SIGTERM: GOAWAY, running calls get 5 s, then exit.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/listen_flags.h"
#include "examples/common/shutdown_signal.h"
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

namespace {

using h2rpc::rpc::ServerContext;
using h2rpc::rpc::Task;

class GreeterImpl final : public helloworld::Greeter::Service {
  Task<absl::StatusOr<helloworld::HelloReply>> SayHello(
      ServerContext& context, const helloworld::HelloRequest& request) override {
    helloworld::HelloReply reply;
    reply.set_message("Hello " + request.name());
    co_return reply;
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  h2rpc::transport::UvLoop loop;
  GreeterImpl greeter;
  h2rpc::rpc::Server server(&loop);
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
               absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key)});
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
