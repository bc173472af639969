// greeter_server: gRPC's helloworld server on h2rpc.
//
//   bazel run //examples/helloworld:greeter_server -- --port=50051
//
// SayHello answers "Hello <name>". SIGINT/SIGTERM: GOAWAY, running calls get 5 s, then exit.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/shutdown_signal.h"
#include "examples/helloworld/helloworld.h2rpc.h"
#include "rpc/server.h"

ABSL_FLAG(int, port, 50051, "port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");

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
  const std::string host = absl::GetFlag(FLAGS_host);
  if (absl::Status st = server.Listen(host, static_cast<uint16_t>(absl::GetFlag(FLAGS_port)));
      !st.ok()) {
    std::fprintf(stderr, "greeter_server: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("greeter_server: listening on %s:%u\n", host.c_str(), server.port());
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
