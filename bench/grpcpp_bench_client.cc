// grpcpp_bench_client: the same closed-loop load as bench_client, on gRPC C++ 1.51's async API
// with one completion queue polled by one thread (bench_client runs one event-loop thread).
// `--channels` channels, each forced onto its own connection (a distinct channel argument, as
// gRPC's qps client does, stops gRPC from sharing one subchannel), × `--outstanding` calls in
// flight on each. Prints the same JSON line as bench_client (bench/stats.h).
//
//   grpcpp_bench_client --target=127.0.0.1:PORT --mode=unary --channels=1 --outstanding=1
//                --duration_s=5 --warmup_s=1 --req_size=0 --resp_size=0
//
// Modes: unary, pingpong, server_streaming (client_streaming and both_streaming are bench_client
// only). Exit code 0 when at least one op completed and no call failed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/stats.h"
#include "grpc/testing/benchmark_service.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server host:port");
ABSL_FLAG(std::string, mode, "unary", "unary | pingpong | server_streaming");
ABSL_FLAG(int, channels, 1, "channels (one HTTP/2 connection each)");
ABSL_FLAG(int, outstanding, 1, "calls (streams) in flight per channel");
ABSL_FLAG(double, duration_s, 5, "measured seconds (after the warm-up)");
ABSL_FLAG(double, warmup_s, 1, "seconds of load before measuring");
ABSL_FLAG(int, req_size, 0, "request payload bytes");
ABSL_FLAG(int, resp_size, 0, "response payload bytes (SimpleRequest.response_size)");
ABSL_FLAG(int, busy_poll_us, 0,
          "busy polling (as bench_client's): after an event, AsyncNext with a zero deadline, for this many "
          "microseconds before blocking again (0: off, the default; bench/README.md, 'Latency')");

namespace {

using grpc::ClientContext;
using grpc::CompletionQueue;
using grpc::Status;
using grpc::testing::BenchmarkService;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using h2rpc::bench::Histogram;
using h2rpc::bench::Mode;
using h2rpc::bench::NowNs;

struct Run {
  Mode mode = Mode::kUnary;
  CompletionQueue cq;
  SimpleRequest request;
  int req_size = 0;
  bool measuring = false;
  bool stopping = false;
  Histogram latency;
  uint64_t ops = 0, bytes = 0, errors = 0;
  int active_workers = 0;

  void Op(int64_t latency_ns, uint64_t payload_bytes) {
    if (!measuring) return;
    latency.Record(latency_ns);
    ++ops;
    bytes += payload_bytes;
  }
  void Error(const Status& status) {
    if (stopping) return;
    if (errors++ < 3) {
      std::fprintf(stderr, "grpcpp_bench_client: call failed: %d %s\n",
                   static_cast<int>(status.error_code()), status.error_message().c_str());
    }
  }
};

class Worker;

struct Tag {
  Worker* worker;
  int op;
};

// One closed-loop slot: runs calls of its mode one after the other until the run stops.
class Worker {
 public:
  Worker(Run* run, BenchmarkService::Stub* stub) : run_(run), stub_(stub) {}
  void Start() { NewCall(); }
  void Proceed(int op, bool ok) {
    switch (run_->mode) {
      case Mode::kUnary: return ProceedUnary(op, ok);
      case Mode::kPingPong: return ProceedPingPong(op, ok);
      default: return ProceedServerStreaming(op, ok);
    }
  }

 private:
  enum Op { kStart, kRead, kWrite, kWritesDone, kFinish, kBackoff };
  void* tag(int op) {
    tags_[op] = {this, op};
    return &tags_[op];
  }

  void NewCall() {
    if (run_->stopping) {
      --run_->active_workers;
      return;
    }
    // The call objects live in their call's arena: drop them before the context that owns it.
    unary_.reset();
    bidi_.reset();
    reader_.reset();
    ctx_ = std::make_unique<ClientContext>();
    status_ = Status();
    cancelled_ = false;
    response_.Clear();
    start_ = NowNs();
    switch (run_->mode) {
      case Mode::kUnary:
        unary_ = stub_->PrepareAsyncUnaryCall(ctx_.get(), run_->request, &run_->cq);
        unary_->StartCall();
        unary_->Finish(&response_, &status_, tag(kFinish));
        break;
      case Mode::kPingPong:
        bidi_ = stub_->PrepareAsyncStreamingCall(ctx_.get(), &run_->cq);
        bidi_->StartCall(tag(kStart));
        break;
      default:
        reader_ = stub_->PrepareAsyncStreamingFromServer(ctx_.get(), run_->request, &run_->cq);
        reader_->StartCall(tag(kStart));
        break;
    }
  }

  // A failed call: count it, wait 10 ms (a server that is down fails calls at once), go on.
  void Failed(const Status& status) {
    run_->Error(status);
    alarm_ = std::make_unique<grpc::Alarm>();
    alarm_->Set(&run_->cq, std::chrono::system_clock::now() + std::chrono::milliseconds(10),
                tag(kBackoff));
  }

  void ProceedUnary(int op, bool ok) {
    if (op == kFinish) {
      if (status_.ok()) {
        run_->Op(NowNs() - start_,
                 static_cast<uint64_t>(run_->req_size) + response_.payload().body().size());
      } else {
        Failed(status_);
        return;
      }
    }
    NewCall();  // after kFinish or kBackoff
  }

  void ProceedPingPong(int op, bool ok) {
    switch (op) {
      case kStart:
        if (!ok) return Finish();
        start_ = NowNs();
        bidi_->Write(run_->request, tag(kWrite));
        return;
      case kWrite:
        if (!ok) return Finish();
        bidi_->Read(&response_, tag(kRead));
        return;
      case kRead:
        if (!ok) return Finish();
        run_->Op(NowNs() - start_,
                 static_cast<uint64_t>(run_->req_size) + response_.payload().body().size());
        if (run_->stopping) {
          bidi_->WritesDone(tag(kWritesDone));
          return;
        }
        start_ = NowNs();
        bidi_->Write(run_->request, tag(kWrite));
        return;
      case kWritesDone:
        return Finish();
      case kFinish:
        if (!status_.ok() || !run_->stopping) {
          Failed(status_.ok() ? Status(grpc::StatusCode::INTERNAL, "the stream ended early")
                              : status_);
          return;
        }
        return NewCall();
      case kBackoff:
        return NewCall();
    }
  }

  void ProceedServerStreaming(int op, bool ok) {
    switch (op) {
      case kStart:
        if (!ok) return Finish();
        last_ = NowNs();
        reader_->Read(&response_, tag(kRead));
        return;
      case kRead: {
        if (!ok) return Finish();
        const int64_t now = NowNs();
        run_->Op(now - last_, response_.payload().body().size());
        last_ = now;
        if (run_->stopping) {
          ctx_->TryCancel();  // the server writes until we cancel
          cancelled_ = true;
          return Finish();
        }
        reader_->Read(&response_, tag(kRead));
        return;
      }
      case kFinish:
        if (!cancelled_) {
          Failed(status_.ok() ? Status(grpc::StatusCode::INTERNAL, "the stream ended early")
                              : status_);
          return;
        }
        return NewCall();
      case kBackoff:
        return NewCall();
    }
  }

  void Finish() {
    if (bidi_) {
      bidi_->Finish(&status_, tag(kFinish));
    } else {
      reader_->Finish(&status_, tag(kFinish));
    }
  }

  Run* run_;
  BenchmarkService::Stub* stub_;
  std::unique_ptr<ClientContext> ctx_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<SimpleResponse>> unary_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<SimpleRequest, SimpleResponse>> bidi_;
  std::unique_ptr<grpc::ClientAsyncReader<SimpleResponse>> reader_;
  std::unique_ptr<grpc::Alarm> alarm_;
  SimpleResponse response_;
  Status status_;
  int64_t start_ = 0, last_ = 0;
  bool cancelled_ = false;
  Tag tags_[6];
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Run run;
  const std::string mode_name = absl::GetFlag(FLAGS_mode);
  if (!h2rpc::bench::ParseMode(mode_name, &run.mode) ||
      (run.mode != Mode::kUnary && run.mode != Mode::kPingPong &&
       run.mode != Mode::kServerStreaming)) {
    std::fprintf(stderr, "grpcpp_bench_client: unsupported --mode=%s\n", mode_name.c_str());
    return 2;
  }
  const int channels = absl::GetFlag(FLAGS_channels);
  const int outstanding = absl::GetFlag(FLAGS_outstanding);
  const double warmup_s = absl::GetFlag(FLAGS_warmup_s);
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  run.req_size = absl::GetFlag(FLAGS_req_size);
  const int resp_size = absl::GetFlag(FLAGS_resp_size);
  if (channels < 1 || outstanding < 1 || duration_s <= 0 || warmup_s < 0) {
    std::fprintf(stderr,
                 "grpcpp_bench_client: need --channels, --outstanding >= 1, --duration_s > 0\n");
    return 2;
  }
  run.request.set_response_size(resp_size);
  if (run.req_size > 0) {
    run.request.mutable_payload()->set_body(std::string(static_cast<size_t>(run.req_size), '\0'));
  }

  std::vector<std::unique_ptr<BenchmarkService::Stub>> stubs;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("shard_to_ensure_no_subchannel_merges", c);  // one connection per channel
    stubs.push_back(BenchmarkService::NewStub(grpc::CreateCustomChannel(
        absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args)));
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (auto& stub : stubs) {
    for (int i = 0; i < outstanding; ++i) workers.push_back(std::make_unique<Worker>(&run, stub.get()));
  }
  run.active_workers = static_cast<int>(workers.size());
  for (auto& w : workers) w->Start();

  const int64_t t0 = NowNs();
  const int64_t warmup_end = t0 + static_cast<int64_t>(warmup_s * 1e9);
  const int64_t run_end = warmup_end + static_cast<int64_t>(duration_s * 1e9);
  double cpu_start = 0, cpu_end = 0;
  int64_t measure_start = 0, measure_end = 0, give_up = 0;
  bool shutdown = false;
  const int64_t busy_poll_ns = int64_t{std::max(0, absl::GetFlag(FLAGS_busy_poll_us))} * 1000;
  int64_t spin_until = 0;
  for (;;) {
    const int64_t now = NowNs();
    if (!run.measuring && !run.stopping && now >= warmup_end) {
      run.latency.Reset();
      run.ops = run.bytes = 0;
      run.measuring = true;
      measure_start = now;
      cpu_start = h2rpc::bench::ProcessCpuSeconds();
    }
    if (!run.stopping && now >= run_end) {
      run.measuring = false;
      run.stopping = true;
      measure_end = now;
      cpu_end = h2rpc::bench::ProcessCpuSeconds();
      give_up = now + 5'000'000'000;
    }
    if (run.stopping && run.active_workers == 0 && !shutdown) {
      shutdown = true;
      run.cq.Shutdown();
    }
    if (run.stopping && !shutdown && now > give_up) {
      std::fprintf(stderr, "grpcpp_bench_client: %d calls did not end; stopping\n",
                   run.active_workers);
      break;
    }
    const int64_t next = !run.measuring && !run.stopping ? warmup_end
                         : !run.stopping                  ? run_end
                                                          : now + 100'000'000;
    void* tag;
    bool ok;
    // Busy polling: a deadline already passed makes AsyncNext poll once without blocking.
    const auto deadline =
        std::chrono::system_clock::now() +
        std::chrono::nanoseconds(now < spin_until ? 0 : std::max<int64_t>(next - now, 0));
    const auto status = run.cq.AsyncNext(&tag, &ok, deadline);
    if (status == CompletionQueue::SHUTDOWN) break;
    if (status == CompletionQueue::GOT_EVENT) {
      Tag* t = static_cast<Tag*>(tag);
      t->worker->Proceed(t->op, ok);
      if (busy_poll_ns > 0) spin_until = NowNs() + busy_poll_ns;
    }
  }

  h2rpc::bench::Report report;
  report.impl = "grpcpp";
  report.mode = mode_name;
  report.channels = channels;
  report.outstanding = outstanding;
  report.req_size = run.req_size;
  report.resp_size = resp_size;
  report.duration_s = static_cast<double>(measure_end - measure_start) / 1e9;
  report.ops = run.ops;
  report.bytes = run.bytes;
  report.errors = run.errors;
  report.cpu_s = cpu_end - cpu_start;
  report.latency = &run.latency;
  std::printf("%s\n", report.Json().c_str());
  std::fflush(stdout);
  if (!shutdown) std::_Exit(1);
  return run.ops > 0 && run.errors == 0 ? 0 : 1;
}
