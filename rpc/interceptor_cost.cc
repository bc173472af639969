// An informal measurement of what an installed no-op interceptor costs (rpc/README.md,
// "Interceptors"): sequential unary calls over loopback on one loop, without interceptors and
// with a ServerInterceptor and/or a ClientInterceptor that override nothing (every hook runs:
// its default coroutine). Configurations alternate in rounds, and each one's best round is
// reported, so that the noise of a shared machine weighs less. Not a benchmark (bench/ is).
//
//   bazel run -c opt //rpc:interceptor_cost -- 5000
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"

namespace {

using h2rpc::rpc::Task;
using h2rpc::rpc_test::EchoReply;
using h2rpc::rpc_test::EchoRequest;

class EchoService : public h2rpc::rpc::Service {
 public:
  EchoService() : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [](h2rpc::rpc::ServerContext&, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          EchoReply reply;
          reply.set_text(req.text());
          co_return reply;
        });
  }
};

struct NoOpServer : h2rpc::rpc::ServerInterceptor {};
struct NoOpClient : h2rpc::rpc::ClientInterceptor {};

Task<int> Calls(std::shared_ptr<h2rpc::rpc::Channel> channel, int n) {
  EchoRequest req;
  req.set_text("ping");
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    auto reply = co_await h2rpc::rpc::UnaryCall<EchoRequest, EchoReply>(
        channel, "/h2rpc.rpc_test.Echo/Unary", req, {});
    ok += reply.ok();
  }
  co_return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  h2rpc::transport::UvLoop loop;
  EchoService service;
  struct Config {
    const char* name;
    bool server, client;
    std::unique_ptr<h2rpc::rpc::Server> srv = nullptr;  // (initialized: the brace lists
    std::shared_ptr<h2rpc::rpc::Channel> channel = nullptr;  // below name three fields)
    double best_us = 1e18;
  };
  std::vector<Config> configs;
  configs.push_back({"none", false, false});
  configs.push_back({"server no-op", true, false});
  configs.push_back({"client no-op", false, true});
  configs.push_back({"both no-op", true, true});
  for (Config& c : configs) {
    h2rpc::rpc::ServerOptions so;
    if (c.server) so.interceptors.push_back([](auto&) { return std::make_unique<NoOpServer>(); });
    c.srv = std::make_unique<h2rpc::rpc::Server>(&loop, so);
    c.srv->RegisterService(&service);
    if (!c.srv->Listen("127.0.0.1", 0).ok()) return 1;
    h2rpc::rpc::ChannelOptions co;
    if (c.client) co.interceptors.push_back([](auto&) { return std::make_unique<NoOpClient>(); });
    c.channel = h2rpc::rpc::Channel::Create(
        &loop, "127.0.0.1:" + std::to_string(c.srv->port()), co);
    if (h2rpc::rpc::BlockOn(&loop, Calls(c.channel, 100)) != 100) return 1;  // warm up
  }
  for (int round = 0; round < 5; ++round) {
    for (Config& c : configs) {
      const absl::Time start = absl::Now();
      if (h2rpc::rpc::BlockOn(&loop, Calls(c.channel, n)) != n) return 1;
      c.best_us = std::min(c.best_us, absl::ToDoubleMicroseconds(absl::Now() - start) / n);
    }
  }
  std::printf("informal: %d sequential unary calls per round, best of 5 rounds\n", n);
  for (const Config& c : configs) {
    std::printf("%-14s %7.2f us/call  (%+.2f us)\n", c.name, c.best_us,
                c.best_us - configs[0].best_us);
  }
  for (Config& c : configs) {
    c.channel->Close();
    bool closed = false;
    c.srv->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
  }
  return 0;
}
