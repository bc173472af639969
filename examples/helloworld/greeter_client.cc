// greeter_client: gRPC's helloworld client on h2rpc.
//
//   bazel run //examples/helloworld:greeter_client -- --target=127.0.0.1:50051 --name=world
//
// Calls SayHello twice: with the blocking convenience, then from a coroutine.
// --tls_client_cert/--tls_client_key present a client certificate (mTLS); --bearer_token sends
// "authorization: Bearer <token>" on every call (per-call credentials; TLS only).
// --protocol=grpc-web|grpc-web-text|connect|connect-json calls in that protocol instead of gRPC
// (ChannelOptions::protocol; rpc/README.md, "Client protocols"), e.g. a connect-go server.
#include <cstdio>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/listen_flags.h"
#include "examples/helloworld/helloworld.h2rpc.h"
#include "rpc/client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "server target: host:port, dns:///host:port, unix:/path, unix-abstract:name, "
          "ipv4:addr:port[,addr:port...], ipv6:[addr]:port[,...]");
ABSL_FLAG(std::string, ca_file, "", "PEM CA file: use TLS and verify the server with it");
ABSL_FLAG(std::string, name, "world", "who to greet");
ABSL_FLAG(std::string, tls_client_cert, "", "PEM client certificate (with --ca_file): mTLS");
ABSL_FLAG(std::string, tls_client_key, "", "PEM private key for --tls_client_cert");
ABSL_FLAG(std::string, bearer_token, "", "send 'authorization: Bearer <this>' (TLS only)");
ABSL_FLAG(std::string, protocol, "grpc",
          "wire protocol: grpc, grpc-web, grpc-web-text, connect (proto) or connect-json");

namespace {

using h2rpc::rpc::Task;

// The asynchronous style: a coroutine awaiting the call.
Task<absl::Status> GreetTwice(helloworld::Greeter::Stub& stub, std::string name) {
  helloworld::HelloRequest request;
  request.set_name(name + " (again, from a coroutine)");
  absl::StatusOr<helloworld::HelloReply> reply = co_await stub.SayHello(request);
  if (!reply.ok()) co_return reply.status();
  std::printf("Greeter received: %s\n", reply->message().c_str());
  co_return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  h2rpc::transport::UvLoop loop;
  h2rpc::rpc::ChannelOptions options = h2rpc::examples::ChannelOptionsFromFlags(
      absl::GetFlag(FLAGS_ca_file), absl::GetFlag(FLAGS_tls_client_cert),
      absl::GetFlag(FLAGS_tls_client_key));
  if (!absl::GetFlag(FLAGS_bearer_token).empty()) {
    options.call_credentials = h2rpc::rpc::BearerTokenCredentials(absl::GetFlag(FLAGS_bearer_token));
  }
  std::string protocol = absl::GetFlag(FLAGS_protocol);
  if (protocol == "connect-json") {
    protocol = "connect";
    options.connect_codec = h2rpc::rpc::ConnectCodec::kJson;
  }
  std::optional<h2rpc::rpc::ChannelProtocol> wire = h2rpc::rpc::ChannelProtocolFromName(protocol);
  if (!wire) {
    std::fprintf(stderr, "greeter_client: unknown --protocol '%s'\n", protocol.c_str());
    return 2;
  }
  options.protocol = *wire;
  auto made = h2rpc::rpc::Channel::New(&loop, absl::GetFlag(FLAGS_target), options);
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
    return 2;
  }
  std::shared_ptr<h2rpc::rpc::Channel> channel = *made;
  helloworld::Greeter::Stub stub(channel);

  // The blocking style: one call, its result.
  helloworld::HelloRequest request;
  request.set_name(absl::GetFlag(FLAGS_name));
  absl::StatusOr<helloworld::HelloReply> reply = stub.SayHelloBlocking(request);
  if (!reply.ok()) {
    std::fprintf(stderr, "greeter_client: SayHello failed: %s\n", reply.status().ToString().c_str());
    return 1;
  }
  std::printf("Greeter received: %s\n", reply->message().c_str());

  absl::Status st = h2rpc::rpc::BlockOn(&loop, GreetTwice(stub, absl::GetFlag(FLAGS_name)));
  if (!st.ok()) {
    std::fprintf(stderr, "greeter_client: %s\n", st.ToString().c_str());
    return 1;
  }
  channel->Close();
  loop.run();  // lets the connection close
  return 0;
}
