// bench_server: grpc.testing.BenchmarkService on h2rpc (rpc/ on transport/), the server side of
// the benchmarks (bench/README.md). The handlers do what gRPC C++'s benchmark server does
// (test/cpp/qps/server_async.cc, v1.51), so both servers do the same work per call:
//
//   UnaryCall            responds with a payload of `response_size` zero bytes
//   StreamingCall        ping-pong: one such response per request
//   StreamingFromServer  writes that response over and over until the client cancels
//   StreamingFromClient  reads every request, then responds once (to the last one)
//   StreamingBothWays    reads the first request, then writes responses while reading the rest
//
//   bench_server --port=0 [--loops=1] [--host=127.0.0.1] [--stats]
//                [--tls_cert=server.pem --tls_key=server.key]
//
// Prints "listening PORT" once it accepts connections; SIGINT/SIGTERM stop it gracefully (so
// that valgrind --tool=callgrind writes its profile). With --stats, a server interceptor counts
// how each call ended and the server prints "stats: ok=N not_ok=M cancelled=C" (C: cancelled by the client) before stopping: `make bench`
// compares it with h2load's count (h2load itself sees only :status, not grpc-status).
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/loop_flags.h"
#include "examples/common/shutdown_signal.h"
#include "grpc/testing/benchmark_service.h2rpc.h"
#include "rpc/server.h"
#include "rpc/server_interceptor.h"
#include "transport/tls.h"
#include "transport/uv_loop.h"

ABSL_FLAG(int, port, 0, "port to listen on (0 picks a free one; printed as 'listening PORT')");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, max_concurrent_streams, 0,
          "SETTINGS_MAX_CONCURRENT_STREAMS the server advertises; 0 keeps the library's default "
          "(Node's: unlimited)");
ABSL_FLAG(bool, allow_http1, false,
          "also serve HTTP/1.1 on the port (gRPC-Web and Connect; bench/protocols.sh)");
ABSL_FLAG(int, loops, 1,
          "event loops (threads), each with its own listening socket on the same port "
          "(SO_REUSEPORT); see bench/README.md, 'N cores'");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate file: serve TLS (ALPN h2) with it and --tls_key instead of cleartext "
          "(for bench/idle_conns --tls; e.g. tests/testdata/tls/server.pem)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key file of --tls_cert");
ABSL_FLAG(bool, stats, false,
          "count calls by their final status (a server interceptor) and print "
          "'stats: ok=N not_ok=M cancelled=C' at exit");

namespace {

using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using h2rpc::rpc::ServerContext;
using h2rpc::rpc::ServerReader;
using h2rpc::rpc::ServerReaderWriter;
using h2rpc::rpc::ServerWriter;
using h2rpc::rpc::Task;

// gRPC C++'s benchmark server: a payload of response_size zero bytes when it is > 0.
void SetResponse(const SimpleRequest& request, SimpleResponse* response) {
  if (request.response_size() > 0) {
    response->mutable_payload()->set_type(request.response_type());
    response->mutable_payload()->set_body(
        std::string(static_cast<size_t>(request.response_size()), '\0'));
  }
}

class BenchmarkServiceImpl final : public grpc::testing::BenchmarkService::Service {
 public:
  Task<absl::StatusOr<SimpleResponse>> UnaryCall(ServerContext&,
                                                 const SimpleRequest& request) override {
    SimpleResponse response;
    SetResponse(request, &response);
    co_return response;
  }

  Task<absl::Status> StreamingCall(
      ServerContext&, ServerReaderWriter<SimpleResponse, SimpleRequest>& stream) override {
    while (std::optional<SimpleRequest> request = co_await stream.Read()) {
      SimpleResponse response;
      SetResponse(*request, &response);
      if (!co_await stream.Write(response)) break;
    }
    co_return absl::OkStatus();
  }

  Task<absl::Status> StreamingFromServer(ServerContext& context, const SimpleRequest& request,
                                         ServerWriter<SimpleResponse>& writer) override {
    SimpleResponse response;
    SetResponse(request, &response);
    // Write completes at once while the transport buffers little, and waits for 'drain' under
    // backpressure, so this loop yields to the event loop whenever the socket is full.
    while (!context.IsCancelled()) {
      if (!co_await writer.Write(response)) break;
    }
    co_return absl::OkStatus();
  }

  Task<absl::StatusOr<SimpleResponse>> StreamingFromClient(
      ServerContext&, ServerReader<SimpleRequest>& reader) override {
    SimpleRequest last;
    while (std::optional<SimpleRequest> request = co_await reader.Read()) last = std::move(*request);
    SimpleResponse response;
    SetResponse(last, &response);
    co_return response;
  }

  Task<absl::Status> StreamingBothWays(
      ServerContext& context, ServerReaderWriter<SimpleResponse, SimpleRequest>& stream) override {
    std::optional<SimpleRequest> first = co_await stream.Read();
    if (!first) co_return absl::OkStatus();
    SimpleResponse response;
    SetResponse(*first, &response);
    // The reads run in their own task; this one writes until they end (the client half-closed
    // or cancelled). `reads_done` outlives both: the reader holds it too.
    auto reads_done = std::make_shared<h2rpc::rpc::Awaitable<bool>::State>();
    DrainReads(stream).Start([reads_done] { reads_done->Complete(true); },
                             [reads_done](std::exception_ptr) { reads_done->Complete(true); });
    while (!reads_done->value && !context.IsCancelled()) {
      if (!co_await stream.Write(response)) break;
    }
    // `stream` lives in our caller's frame: wait for the reader before returning.
    co_await h2rpc::rpc::Awaitable<bool>(reads_done);
    co_return absl::OkStatus();
  }

 private:
  static Task<void> DrainReads(ServerReaderWriter<SimpleResponse, SimpleRequest>& stream) {
    // Not `while (co_await stream.Read()) {}`: GCC 12.2 miscompiles a co_await in a condition
    // when its temporary is the coroutine's first frame variable (bench/README.md).
    for (;;) {
      std::optional<SimpleRequest> request = co_await stream.Read();
      if (!request) break;
    }
  }
};

// Calls by final status, over every loop (--stats).
// Cancelled by the client (RST_STREAM, closed connection) is apart: it is how the benchmark
// client ends its streams.
std::atomic<uint64_t> g_ok{0}, g_not_ok{0}, g_cancelled{0};

// OnFinish only (kNoAsyncHooks): with the message hooks on each 64 KiB streamed message cost
// 7 µs more server CPU (33 vs 26), and the h2rpc server of `make bench`'s main rows runs with
// --stats; with OnStart on each unary call ~0.4 µs more (bench/PROFILE.md, "Interceptors").
class CountStatus final : public h2rpc::rpc::ServerInterceptor {
 public:
  CountStatus() : ServerInterceptor(kNoAsyncHooks) {}
  void OnFinish(h2rpc::rpc::ServerCall& call, absl::Status& status) override {
    auto& counter = call.IsCancelled() ? g_cancelled : status.ok() ? g_ok : g_not_ok;
    counter.fetch_add(1, std::memory_order_relaxed);
    // Which call and why: what a failed `--stats` check needs to be understood.
    if (&counter == &g_not_ok) {
      std::fprintf(stderr, "not ok: %s %s\n", call.method().c_str(), status.ToString().c_str());
    }
  }
};

}  // namespace

// One event loop, its own service and rpc::Server, on its own thread (bench/README.md, "N cores").
// Everything is created on the main thread before the worker thread starts, then only touched on
// the worker thread, except `stop`, the one thread-safe handle (uv_async_send).
struct Worker {
  explicit Worker(h2rpc::transport::UvLoopOptions loop_options) : loop(loop_options) {}
  h2rpc::transport::UvLoop loop;
  BenchmarkServiceImpl service;
  std::unique_ptr<h2rpc::rpc::Server> server;
  uv_async_t stop;
  std::thread thread;
};

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int loops = absl::GetFlag(FLAGS_loops);
  if (loops < 1 || loops > 256) {
    std::fprintf(stderr, "bench_server: --loops must be 1..256, got %d\n", loops);
    return 2;
  }
  h2rpc::rpc::ServerOptions options;
  if (const int n = absl::GetFlag(FLAGS_max_concurrent_streams); n > 0) {
    options.http2.settings.maxConcurrentStreams = static_cast<uint32_t>(n);
  }
  options.reuse_port = loops > 1;
  options.allow_http1 = absl::GetFlag(FLAGS_allow_http1);
  const bool stats = absl::GetFlag(FLAGS_stats);
  if (stats) {
    options.interceptors.push_back(
        [](h2rpc::rpc::ServerCall&) { return std::make_unique<CountStatus>(); });
  }
  std::optional<h2rpc::transport::TlsOptions> tls;
  if (!absl::GetFlag(FLAGS_tls_cert).empty() || !absl::GetFlag(FLAGS_tls_key).empty()) {
    tls.emplace();
    tls->certFile = absl::GetFlag(FLAGS_tls_cert);
    tls->keyFile = absl::GetFlag(FLAGS_tls_key);
  }
  const std::string host = absl::GetFlag(FLAGS_host);
  uint16_t port = static_cast<uint16_t>(absl::GetFlag(FLAGS_port));
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < loops; ++i) {
    auto w = std::make_unique<Worker>(h2rpc::bench::LoopOptionsFromFlags());
    w->server = std::make_unique<h2rpc::rpc::Server>(&w->loop, options);
    w->server->RegisterService(&w->service);
    // Port 0: the first loop picks one, the others join it.
    if (absl::Status st = tls ? w->server->ListenTls(host, port, *tls) : w->server->Listen(host, port);
        !st.ok()) {
      std::fprintf(stderr, "bench_server: loop %d: %s\n", i, st.ToString().c_str());
      return 1;
    }
    port = w->server->port();
    workers.push_back(std::move(w));
  }
  std::printf("listening %u\n", port);
  std::fflush(stdout);
  // Loop 0 runs here and owns the signals; a signal stops every loop.
  for (int i = 1; i < loops; ++i) {
    Worker* w = workers[i].get();
    w->stop.data = w;
    uv_async_init(w->loop.uv(), &w->stop, [](uv_async_t* a) {
      auto* self = static_cast<Worker*>(a->data);
      self->server->Shutdown(absl::Milliseconds(500));
      uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
    });
  }
  h2rpc::examples::OnShutdownSignal(&workers[0]->loop, [&](int) {
    for (int i = 1; i < loops; ++i) uv_async_send(&workers[i]->stop);
    workers[0]->server->Shutdown(absl::Milliseconds(500));
  });
  for (int i = 1; i < loops; ++i) {
    Worker* w = workers[i].get();
    w->thread = std::thread([w] { w->loop.run(); });
  }
  workers[0]->loop.run();
  for (int i = 1; i < loops; ++i) workers[i]->thread.join();
  if (stats) {
    std::printf("stats: ok=%llu not_ok=%llu cancelled=%llu\n",
                static_cast<unsigned long long>(g_ok.load()),
                static_cast<unsigned long long>(g_not_ok.load()),
                static_cast<unsigned long long>(g_cancelled.load()));
  }
  std::printf("bench_server: stopped\n");
  return 0;
}
