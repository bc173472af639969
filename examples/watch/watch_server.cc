// watch_server: a counter that clients watch (examples/watch/watch.proto), the Watch method
// written with the coroutine toolkit (rpc/README.md, "Coroutine toolkit").
//
//   bazel run //examples/watch:watch_server -- --port=50051
//
// SIGINT/SIGTERM: GOAWAY, running calls get 1 s, then exit (watchers are cancelled).
#include <cstdint>
#include <cstdio>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/listen_flags.h"
#include "examples/common/shutdown_signal.h"
#include "examples/watch/watch.h2rpc.h"
#include "rpc/server.h"
#include "rpc/sleep.h"
#include "rpc/sync.h"
#include "rpc/task_scope.h"

ABSL_FLAG(int, port, 50051, "port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (with --port)");
ABSL_FLAG(std::string, listen, "", "where to listen, instead of --host/--port");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate file: serve TLS (ALPN h2) instead of h2c");
ABSL_FLAG(std::string, tls_key, "", "PEM private key file for --tls_cert");

namespace {

using h2rpc::rpc::Event;
using h2rpc::rpc::ServerContext;
using h2rpc::rpc::ServerWriter;
using h2rpc::rpc::Sleep;
using h2rpc::rpc::Task;
using watch::CounterValue;

class CounterImpl final : public watch::Counter::Service {
 public:
  explicit CounterImpl(h2rpc::transport::EventLoop* loop) : loop_(loop), changed_(loop) {}

  Task<absl::StatusOr<CounterValue>> Increment(ServerContext&,
                                               const watch::IncrementRequest& req) override {
    value_ += req.by();
    // A pulse: wakes every watcher waiting now (they resume from the loop, after this returns).
    changed_.Set();
    changed_.Reset();
    CounterValue reply;
    reply.set_value(value_);
    co_return reply;
  }

  Task<absl::Status> Watch(ServerContext& ctx, const watch::WatchRequest& req,
                           ServerWriter<CounterValue>& out) override {
    const absl::Duration heartbeat =
        absl::Milliseconds(req.heartbeat_ms() > 0 ? req.heartbeat_ms() : 1000);
    bool is_heartbeat = false;
    for (;;) {
      CounterValue update;
      update.set_value(value_);
      update.set_heartbeat(is_heartbeat);
      const bool sent = co_await out.Write(update);
      if (!sent) break;  // the client went away
      // A change or the heartbeat, whichever comes first; both waits also end with the call
      // (ctx.stop_token() is stopped when the client cancels or the server shuts down).
      std::stop_source race;
      std::stop_callback call_ended(ctx.stop_token(), [&race] { race.request_stop(); });
      std::vector<Task<bool>> waits;
      waits.push_back(WaitForChange(race.get_token()));
      waits.push_back(WaitForHeartbeat(heartbeat, race.get_token()));
      const std::pair<size_t, bool> first =
          co_await h2rpc::rpc::WhenAny(loop_, std::move(waits), &race);
      if (ctx.IsCancelled()) break;
      is_heartbeat = first.first == 1;
    }
    std::printf("watch_server: a watcher left\n");
    std::fflush(stdout);
    co_return absl::CancelledError("the client went away");
  }

 private:
  Task<bool> WaitForChange(std::stop_token stop) { co_return co_await changed_.Wait(stop); }
  Task<bool> WaitForHeartbeat(absl::Duration d, std::stop_token stop) {
    co_return co_await Sleep(loop_, d, stop);
  }

  h2rpc::transport::EventLoop* loop_;
  int64_t value_ = 0;
  Event changed_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  h2rpc::transport::UvLoop loop;
  CounterImpl counter(&loop);
  h2rpc::rpc::Server server(&loop);
  server.RegisterService(&counter);
  auto where = h2rpc::examples::ListenFromFlags(
      server, {absl::GetFlag(FLAGS_listen), absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
               absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key)});
  if (!where.ok()) {
    std::fprintf(stderr, "watch_server: %s\n", where.status().ToString().c_str());
    return 1;
  }
  std::printf("watch_server: listening on %s\n", where->c_str());
  std::fflush(stdout);
  h2rpc::examples::OnShutdownSignal(&loop, [&](int signum) {
    std::printf("watch_server: signal %d, shutting down gracefully\n", signum);
    std::fflush(stdout);
    server.Shutdown(absl::Seconds(1));
  });
  loop.run();
  std::printf("watch_server: stopped\n");
  return 0;
}
