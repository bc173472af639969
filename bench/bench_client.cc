// bench_client: closed-loop load on h2rpc's client against any grpc.testing.BenchmarkService
// server (bench_server, grpcpp_bench_server, or another). One thread, one event loop:
// `--channels` channels (one HTTP/2 connection each) × `--outstanding` calls in flight on each,
// each call started again as soon as the previous one finished. After `--warmup_s` the counters
// are reset; after `--duration_s` more it prints one JSON line (bench/stats.h) and exits.
//
//   bench_client --target=127.0.0.1:PORT --mode=unary --channels=1 --outstanding=1
//                --duration_s=5 --warmup_s=1 --req_size=0 --resp_size=0
//
// Modes and what one op is: see bench/stats.h and bench/README.md. Exit code 0 when at least one
// op completed and no call failed, 1 otherwise.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "bench/loop_flags.h"
#include "bench/stats.h"
#include "grpc/testing/benchmark_service.h2rpc.h"
#include "rpc/client.h"
#include "rpc/sleep.h"
#include "transport/uv_loop.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server host:port");
ABSL_FLAG(std::string, mode, "unary",
          "unary | pingpong | server_streaming | client_streaming | both_streaming");
ABSL_FLAG(int, channels, 1, "channels (one HTTP/2 connection each)");
ABSL_FLAG(int, outstanding, 1, "calls (streams) in flight per channel");
ABSL_FLAG(double, duration_s, 5, "measured seconds (after the warm-up)");
ABSL_FLAG(double, warmup_s, 1, "seconds of load before measuring");
ABSL_FLAG(int, req_size, 0, "request payload bytes");
ABSL_FLAG(int, resp_size, 0, "response payload bytes (SimpleRequest.response_size)");
ABSL_FLAG(int, think_ms, 0,
          "unary mode: each worker pauses this many milliseconds after a call before the next "
          "(sparse traffic: what idle polling costs when it does not pay off)");
ABSL_FLAG(int, window, 0,
          "HTTP/2 initial window (stream and connection) the client advertises; 0 keeps the "
          "library's default (rpc::ChannelOptions: 1 MiB)");
ABSL_FLAG(int, max_frame_size, 0,
          "SETTINGS_MAX_FRAME_SIZE the client advertises: the largest DATA frame the server may "
          "send; 0 keeps the library's default (rpc::ChannelOptions: 1 MiB)");

namespace {

using grpc::testing::BenchmarkService;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using h2rpc::bench::Histogram;
using h2rpc::bench::Mode;
using h2rpc::bench::NowNs;
using h2rpc::rpc::Awaitable;
using h2rpc::rpc::Task;

struct Run {
  h2rpc::transport::UvLoop* loop = nullptr;
  Mode mode = Mode::kUnary;
  int req_size = 0;
  int resp_size = 0;
  int think_ms = 0;
  bool measuring = false;
  bool stopping = false;
  Histogram latency;
  uint64_t ops = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  int active_workers = 0;

  SimpleRequest Request() const {
    SimpleRequest request;
    request.set_response_size(resp_size);
    if (req_size > 0) {
      request.mutable_payload()->set_body(std::string(static_cast<size_t>(req_size), '\0'));
    }
    return request;
  }
  void Op(int64_t latency_ns, uint64_t payload_bytes) {
    if (!measuring) return;
    latency.Record(latency_ns);
    ++ops;
    bytes += payload_bytes;
  }
  // A failed call (not one we cancelled at the end). Reported once per kind on stderr.
  void Error(const absl::Status& status) {
    if (stopping) return;
    if (errors++ < 3) std::fprintf(stderr, "bench_client: call failed: %s\n", status.ToString().c_str());
  }
};

uint64_t BodySize(const SimpleResponse& r) { return r.payload().body().size(); }

// After a failure, wait a little before the next call (a server that is down must not make the
// loop spin without ever reaching its timers).
Task<void> Backoff(Run& run) { co_await h2rpc::rpc::Sleep(run.loop, absl::Milliseconds(10)); }

Task<void> UnaryWorker(Run& run, BenchmarkService::Stub& stub) {
  const SimpleRequest request = run.Request();
  while (!run.stopping) {
    const int64_t start = NowNs();
    absl::StatusOr<SimpleResponse> response = co_await stub.UnaryCall(request);
    if (!response.ok()) {
      run.Error(response.status());
      co_await Backoff(run);
      continue;
    }
    run.Op(NowNs() - start, static_cast<uint64_t>(run.req_size) + BodySize(*response));
    if (run.think_ms > 0) co_await h2rpc::rpc::Sleep(run.loop, absl::Milliseconds(run.think_ms));
  }
}

Task<void> PingPongWorker(Run& run, BenchmarkService::Stub& stub) {
  const SimpleRequest request = run.Request();
  while (!run.stopping) {
    auto stream = stub.StreamingCall();
    bool broken = false;
    while (!run.stopping) {
      const int64_t start = NowNs();
      if (!co_await stream->Write(request)) {
        broken = true;
        break;
      }
      std::optional<SimpleResponse> response = co_await stream->Read();
      if (!response) {
        broken = true;
        break;
      }
      run.Op(NowNs() - start, static_cast<uint64_t>(run.req_size) + BodySize(*response));
    }
    stream->WritesDone();
    absl::Status status = co_await stream->Finish();
    if (broken || !status.ok()) {
      run.Error(status.ok() ? absl::InternalError("the stream ended early") : status);
      co_await Backoff(run);
    }
  }
}

Task<void> ServerStreamingWorker(Run& run, BenchmarkService::Stub& stub) {
  const SimpleRequest request = run.Request();
  while (!run.stopping) {
    auto reader = stub.StreamingFromServer(request);
    int64_t last = NowNs();
    // One message reused for every read, as grpcpp_bench_client does (Read(&response_)).
    SimpleResponse response;
    while (!run.stopping) {
      const bool got = co_await reader->Read(&response);
      if (!got) {
        absl::Status status = co_await reader->Finish();
        run.Error(status.ok() ? absl::InternalError("the stream ended early") : status);
        co_await Backoff(run);
        break;
      }
      const int64_t now = NowNs();
      run.Op(now - last, BodySize(response));
      last = now;
    }
    reader->Cancel();  // the server writes until we cancel
  }
}

Task<void> ClientStreamingWorker(Run& run, BenchmarkService::Stub& stub) {
  const SimpleRequest request = run.Request();
  while (!run.stopping) {
    auto writer = stub.StreamingFromClient();
    for (int i = 0; i < h2rpc::bench::kClientStreamBatch && !run.stopping; ++i) {
      const int64_t start = NowNs();
      if (!co_await writer->Write(request)) break;
      run.Op(NowNs() - start, static_cast<uint64_t>(run.req_size));
    }
    absl::StatusOr<SimpleResponse> response = co_await writer->Finish();
    if (!response.ok()) {
      run.Error(response.status());
      co_await Backoff(run);
    }
  }
}

Task<void> WriteUntilStopped(Run& run, h2rpc::rpc::ClientReaderWriter<SimpleRequest, SimpleResponse>& stream,
                             const SimpleRequest& request) {
  // Not `while (...) if (!co_await stream.Write(request)) break;`: as the first frame variable
  // of a coroutine, that condition's temporary is miscompiled by GCC 12.2 (bench/README.md,
  // "GCC 12.2 coroutine bug").
  bool ok = true;
  while (ok && !run.stopping) ok = co_await stream.Write(request);
}

Task<void> BothStreamingWorker(Run& run, BenchmarkService::Stub& stub) {
  const SimpleRequest request = run.Request();
  while (!run.stopping) {
    auto stream = stub.StreamingBothWays();
    auto writes_done = std::make_shared<Awaitable<bool>::State>();
    WriteUntilStopped(run, *stream, request)
        .Start([writes_done] { writes_done->Complete(true); },
               [writes_done](std::exception_ptr) { writes_done->Complete(true); });
    int64_t last = NowNs();
    while (!run.stopping) {
      std::optional<SimpleResponse> response = co_await stream->Read();
      if (!response) {
        absl::Status status = co_await stream->Finish();
        run.Error(status.ok() ? absl::InternalError("the stream ended early") : status);
        break;
      }
      const int64_t now = NowNs();
      run.Op(now - last, BodySize(*response));
      last = now;
    }
    stream->Cancel();  // ends the writer too: its pending Write completes with false
    co_await Awaitable<bool>(writes_done);
    if (!run.stopping) co_await Backoff(run);
  }
}

Task<void> Worker(Run& run, BenchmarkService::Stub& stub) {
  switch (run.mode) {
    case Mode::kUnary: return UnaryWorker(run, stub);
    case Mode::kPingPong: return PingPongWorker(run, stub);
    case Mode::kServerStreaming: return ServerStreamingWorker(run, stub);
    case Mode::kClientStreaming: return ClientStreamingWorker(run, stub);
    case Mode::kBothStreaming: return BothStreamingWorker(run, stub);
  }
  return UnaryWorker(run, stub);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Run run;
  const std::string mode_name = absl::GetFlag(FLAGS_mode);
  if (!h2rpc::bench::ParseMode(mode_name, &run.mode)) {
    std::fprintf(stderr, "bench_client: unknown --mode=%s\n", mode_name.c_str());
    return 2;
  }
  const int channels = absl::GetFlag(FLAGS_channels);
  const int outstanding = absl::GetFlag(FLAGS_outstanding);
  const double warmup_s = absl::GetFlag(FLAGS_warmup_s);
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  run.req_size = absl::GetFlag(FLAGS_req_size);
  run.resp_size = absl::GetFlag(FLAGS_resp_size);
  run.think_ms = std::max(0, absl::GetFlag(FLAGS_think_ms));
  if (channels < 1 || outstanding < 1 || duration_s <= 0 || warmup_s < 0) {
    std::fprintf(stderr, "bench_client: need --channels, --outstanding >= 1, --duration_s > 0\n");
    return 2;
  }

  h2rpc::transport::UvLoop loop(h2rpc::bench::LoopOptionsFromFlags());
  run.loop = &loop;
  std::vector<std::unique_ptr<BenchmarkService::Stub>> stubs;
  std::vector<std::shared_ptr<h2rpc::rpc::Channel>> channel_list;
  h2rpc::rpc::ChannelOptions channel_options;
  if (const int window = absl::GetFlag(FLAGS_window); window > 0) {
    channel_options.http2.settings.initialWindowSize = static_cast<uint32_t>(window);
    channel_options.connection_window_size = static_cast<uint32_t>(window);
  }
  if (const int size = absl::GetFlag(FLAGS_max_frame_size); size > 0) {
    channel_options.max_frame_size = static_cast<uint32_t>(size);
  }
  for (int c = 0; c < channels; ++c) {
    channel_list.push_back(
        h2rpc::rpc::Channel::Create(&loop, absl::GetFlag(FLAGS_target), channel_options));
    stubs.push_back(std::make_unique<BenchmarkService::Stub>(channel_list.back()));
  }

  double cpu_start = 0, cpu_end = 0;
  int64_t measure_start = 0, measure_end = 0;
  auto warmup_timer = loop.createTimer();
  auto end_timer = loop.createTimer();
  auto give_up_timer = loop.createTimer();
  auto all_done = [&] {
    give_up_timer->stop();
    for (auto& channel : channel_list) channel->Close();
  };
  // The end timer starts when measuring does: started with the warm-up one, it fired right
  // after it whenever a loop turn outlasted the measured time (a busy machine, tiny messages by
  // the ten thousand per turn), and the window shrank to nothing ("duration_s":0.010, 0 ops in
  // bench_smoke_test).
  std::function<void()> on_end = [&] {
    // The loop's clock is read once per turn: a timer armed late in a long turn fires early by
    // as much. Measure the whole --duration_s: wait for what is left, if anything.
    const int64_t left_ms =
        static_cast<int64_t>(duration_s * 1000) - (NowNs() - measure_start) / 1'000'000;
    if (left_ms > 0) {
      end_timer->start(static_cast<uint64_t>(left_ms), on_end);
      return;
    }
    measure_end = NowNs();
    cpu_end = h2rpc::bench::ProcessCpuSeconds();
    run.measuring = false;
    run.stopping = true;
    // Workers end at their next step; one stuck on a call that never completes must not keep
    // us here.
    give_up_timer->start(5000, [&] {
      std::fprintf(stderr, "bench_client: %d calls did not end; stopping\n", run.active_workers);
      loop.stop();
    });
    give_up_timer->unref();
  };
  warmup_timer->start(static_cast<uint64_t>(warmup_s * 1000), [&] {
    run.latency.Reset();
    run.ops = run.bytes = 0;
    run.measuring = true;
    measure_start = NowNs();
    cpu_start = h2rpc::bench::ProcessCpuSeconds();
    end_timer->start(static_cast<uint64_t>(duration_s * 1000), on_end);
  });

  for (auto& stub : stubs) {
    for (int i = 0; i < outstanding; ++i) {
      ++run.active_workers;
      Worker(run, *stub).Start(
          [&] {
            if (--run.active_workers == 0) all_done();
          },
          [&](std::exception_ptr e) {
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              std::fprintf(stderr, "bench_client: worker threw: %s\n", ex.what());
            }
            ++run.errors;
            if (--run.active_workers == 0) all_done();
          });
    }
  }
  loop.run();

  h2rpc::bench::Report report;
  report.impl = "h2rpc";
  report.mode = mode_name;
  report.channels = channels;
  report.outstanding = outstanding;
  report.req_size = run.req_size;
  report.resp_size = run.resp_size;
  report.duration_s = static_cast<double>(measure_end - measure_start) / 1e9;
  report.ops = run.ops;
  report.bytes = run.bytes;
  report.errors = run.errors;
  report.cpu_s = cpu_end - cpu_start;
  report.latency = &run.latency;
  std::printf("%s\n", report.Json().c_str());
  std::fflush(stdout);
  // Leave the calls that did not end (only after the give-up timer) to the OS.
  if (run.active_workers > 0) std::_Exit(1);
  return run.ops > 0 && run.errors == 0 ? 0 : 1;
}
