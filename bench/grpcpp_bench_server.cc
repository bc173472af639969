// grpcpp_bench_server: grpc.testing.BenchmarkService on gRPC C++ 1.51 (Debian's libgrpc++), the
// reference our bench_server is compared with. gRPC C++'s async API with ONE completion-queue
// thread — the configuration issue 6 names ("gRPC C++ async with 1 thread") — and the same
// handlers as gRPC's own benchmark server (test/cpp/qps/server_async.cc, v1.51):
//
//   UnaryCall            responds with a payload of `response_size` zero bytes
//   StreamingCall        ping-pong: one such response per request
//   StreamingFromServer  writes that response over and over until the client cancels
//   StreamingFromClient  reads every request, then responds once (to the last one)
//   StreamingBothWays    reads the first request, then writes responses while reading the rest
//
//   grpcpp_bench_server --port=0 [--loops=1] [--host=127.0.0.1] [--preposted=100]
//
// Prints "listening PORT"; SIGINT/SIGTERM stop it. --loops=N runs N completion queues, each
// polled by its own thread (gRPC C++'s way of using N cores); the comparison uses 1.
//
// Stopping: gRPC aborts (`grpc_cq_begin_op`) if an operation starts on a queue already shut down,
// and a handler starts one (the next RequestX, a Finish after a cancelled Read) on most events.
// So a queue is shut down by its own polling thread, woken by an Alarm once server->Shutdown()
// returned, and only when it has no call left: from then on no handler requests a new call, and
// the calls still alive end (cancelled) and delete themselves first.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/stats.h"
#include "grpc/testing/benchmark_service.grpc.pb.h"

ABSL_FLAG(int, port, 0, "port to listen on (0 picks a free one; printed as 'listening PORT')");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, loops, 1, "completion queues, each with one polling thread");
ABSL_FLAG(int, preposted, 100,
          "calls requested in advance per method and queue (each accepted call requests the "
          "next one, so this many always wait)");
ABSL_FLAG(int, busy_poll_us, 0,
          "busy polling (as bench_server's): after an event, AsyncNext with a zero deadline, for this many "
          "microseconds before blocking in Next again (0: off, the default; bench/README.md, 'Latency')");

namespace {

using grpc::ServerAsyncReader;
using grpc::ServerAsyncReaderWriter;
using grpc::ServerAsyncResponseWriter;
using grpc::ServerAsyncWriter;
using grpc::ServerCompletionQueue;
using grpc::ServerContext;
using grpc::Status;
using grpc::testing::BenchmarkService;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;

void SetResponse(const SimpleRequest& request, SimpleResponse* response) {
  if (request.response_size() > 0) {
    response->mutable_payload()->set_type(request.response_type());
    response->mutable_payload()->set_body(
        std::string(static_cast<size_t>(request.response_size()), '\0'));
  }
}

class Call;

// A completion-queue tag: which operation of which call completed; call == nullptr is the stop
// Alarm.
struct Tag {
  Call* call;
  int op;
};

// Per polling thread, i.e. per queue: each queue's calls are made, proceeded and deleted only by
// the thread that polls it.
thread_local int t_live_calls = 0;   // Call objects of this thread's queue
thread_local bool t_stopping = false;  // the stop Alarm fired: request no new call

// Requests the next call of a method, unless the queue is stopping.
template <typename C>
void RequestNext(BenchmarkService::AsyncService* service, ServerCompletionQueue* cq) {
  if (!t_stopping) new C(service, cq);
}

class Call {
 public:
  Call(BenchmarkService::AsyncService* service, ServerCompletionQueue* cq)
      : service_(service), cq_(cq) {
    ++t_live_calls;
  }
  virtual ~Call() { --t_live_calls; }
  virtual void Proceed(int op, bool ok) = 0;

 protected:
  enum Op { kRequest, kRead, kWrite, kFinish };
  void* tag(int op) {
    tags_[op] = {this, op};
    return &tags_[op];
  }
  BenchmarkService::AsyncService* service_;
  ServerCompletionQueue* cq_;
  ServerContext ctx_;
  Tag tags_[4];
};

class UnaryCall final : public Call {
 public:
  UnaryCall(BenchmarkService::AsyncService* s, ServerCompletionQueue* cq) : Call(s, cq) {
    service_->RequestUnaryCall(&ctx_, &request_, &responder_, cq_, cq_, tag(kRequest));
  }
  void Proceed(int op, bool ok) override {
    if (op == kRequest && ok) {
      RequestNext<UnaryCall>(service_, cq_);
      SetResponse(request_, &response_);
      responder_.Finish(response_, Status::OK, tag(kFinish));
      return;
    }
    delete this;  // finished, or the server is shutting down
  }

 private:
  SimpleRequest request_;
  SimpleResponse response_;
  ServerAsyncResponseWriter<SimpleResponse> responder_{&ctx_};
};

class PingPongCall final : public Call {
 public:
  PingPongCall(BenchmarkService::AsyncService* s, ServerCompletionQueue* cq) : Call(s, cq) {
    service_->RequestStreamingCall(&ctx_, &stream_, cq_, cq_, tag(kRequest));
  }
  void Proceed(int op, bool ok) override {
    switch (op) {
      case kRequest:
        if (!ok) break;
        RequestNext<PingPongCall>(service_, cq_);
        stream_.Read(&request_, tag(kRead));
        return;
      case kRead:
        if (!ok) {  // the client half-closed (or went away)
          stream_.Finish(Status::OK, tag(kFinish));
          return;
        }
        response_.Clear();
        SetResponse(request_, &response_);
        stream_.Write(response_, tag(kWrite));
        return;
      case kWrite:
        if (!ok) {
          stream_.Finish(Status::OK, tag(kFinish));
          return;
        }
        stream_.Read(&request_, tag(kRead));
        return;
    }
    delete this;
  }

 private:
  SimpleRequest request_;
  SimpleResponse response_;
  ServerAsyncReaderWriter<SimpleResponse, SimpleRequest> stream_{&ctx_};
};

class FromServerCall final : public Call {
 public:
  FromServerCall(BenchmarkService::AsyncService* s, ServerCompletionQueue* cq) : Call(s, cq) {
    service_->RequestStreamingFromServer(&ctx_, &request_, &writer_, cq_, cq_, tag(kRequest));
  }
  void Proceed(int op, bool ok) override {
    switch (op) {
      case kRequest:
        if (!ok) break;
        RequestNext<FromServerCall>(service_, cq_);
        SetResponse(request_, &response_);
        writer_.Write(response_, tag(kWrite));
        return;
      case kWrite:
        if (ok) {
          writer_.Write(response_, tag(kWrite));
        } else {  // the client cancelled
          writer_.Finish(Status::OK, tag(kFinish));
        }
        return;
    }
    delete this;
  }

 private:
  SimpleRequest request_;
  SimpleResponse response_;
  ServerAsyncWriter<SimpleResponse> writer_{&ctx_};
};

class FromClientCall final : public Call {
 public:
  FromClientCall(BenchmarkService::AsyncService* s, ServerCompletionQueue* cq) : Call(s, cq) {
    service_->RequestStreamingFromClient(&ctx_, &reader_, cq_, cq_, tag(kRequest));
  }
  void Proceed(int op, bool ok) override {
    switch (op) {
      case kRequest:
        if (!ok) break;
        RequestNext<FromClientCall>(service_, cq_);
        reader_.Read(&request_, tag(kRead));
        return;
      case kRead:
        if (ok) {
          last_ = request_;
          reader_.Read(&request_, tag(kRead));
        } else {
          SetResponse(last_, &response_);
          reader_.Finish(response_, Status::OK, tag(kFinish));
        }
        return;
    }
    delete this;
  }

 private:
  SimpleRequest request_, last_;
  SimpleResponse response_;
  ServerAsyncReader<SimpleResponse, SimpleRequest> reader_{&ctx_};
};

// Reads and writes at the same time: one read and one write in flight; Finish once the reads
// ended and no write is in flight.
class BothWaysCall final : public Call {
 public:
  BothWaysCall(BenchmarkService::AsyncService* s, ServerCompletionQueue* cq) : Call(s, cq) {
    service_->RequestStreamingBothWays(&ctx_, &stream_, cq_, cq_, tag(kRequest));
  }
  void Proceed(int op, bool ok) override {
    switch (op) {
      case kRequest:
        if (!ok) {
          delete this;
          return;
        }
        RequestNext<BothWaysCall>(service_, cq_);
        first_ = true;
        reading_ = true;
        stream_.Read(&request_, tag(kRead));
        return;
      case kRead:
        reading_ = false;
        if (!ok) {
          reads_done_ = true;
          break;
        }
        if (first_) {
          first_ = false;
          SetResponse(request_, &response_);
          writing_ = true;
          stream_.Write(response_, tag(kWrite));
        }
        reading_ = true;
        stream_.Read(&request_, tag(kRead));
        return;
      case kWrite:
        writing_ = false;
        if (!ok) {
          write_failed_ = true;
          break;
        }
        if (!reads_done_) {
          writing_ = true;
          stream_.Write(response_, tag(kWrite));
          return;
        }
        break;
      case kFinish:
        delete this;
        return;
    }
    if (!reading_ && !writing_ && !finishing_) {
      finishing_ = true;
      stream_.Finish(Status::OK, tag(kFinish));
    }
  }

 private:
  SimpleRequest request_;
  SimpleResponse response_;
  ServerAsyncReaderWriter<SimpleResponse, SimpleRequest> stream_{&ctx_};
  bool first_ = false, reading_ = false, writing_ = false, reads_done_ = false,
       write_failed_ = false, finishing_ = false;
};

void Poll(BenchmarkService::AsyncService* service, ServerCompletionQueue* cq, int preposted,
          int64_t busy_poll_ns) {
  for (int i = 0; i < preposted; ++i) {
    new UnaryCall(service, cq);
    new PingPongCall(service, cq);
    new FromServerCall(service, cq);
    new FromClientCall(service, cq);
    new BothWaysCall(service, cq);
  }
  bool shut_down = false;
  auto handle = [&](void* tag, bool ok) {
    Tag* t = static_cast<Tag*>(tag);
    if (t->call == nullptr) {
      t_stopping = true;
    } else {
      t->call->Proceed(t->op, ok);
    }
    if (t_stopping && t_live_calls == 0 && !shut_down) {
      shut_down = true;
      cq->Shutdown();  // no call left to start an operation on it
    }
  };
  void* tag;
  bool ok;
  if (busy_poll_ns == 0) {
    while (cq->Next(&tag, &ok)) handle(tag, ok);
    return;
  }
  // gRPC's non-blocking poll: a deadline already passed makes AsyncNext poll the fds once
  // (epoll_wait with a zero timeout) and return TIMEOUT if nothing completed.
  int64_t spin_until = 0;
  for (;;) {
    const gpr_timespec deadline = h2rpc::bench::NowNs() < spin_until
                                      ? gpr_time_0(GPR_CLOCK_MONOTONIC)
                                      : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    const auto status = cq->AsyncNext(&tag, &ok, deadline);
    if (status == grpc::CompletionQueue::SHUTDOWN) break;
    if (status == grpc::CompletionQueue::GOT_EVENT) {
      handle(tag, ok);
      spin_until = h2rpc::bench::NowNs() + busy_poll_ns;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // SIGINT/SIGTERM go to a thread of their own (blocked here, before any thread exists).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const int loops = std::max(1, absl::GetFlag(FLAGS_loops));
  const std::string address =
      absl::GetFlag(FLAGS_host) + ":" + std::to_string(absl::GetFlag(FLAGS_port));
  BenchmarkService::AsyncService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<ServerCompletionQueue>> cqs;
  for (int i = 0; i < loops; ++i) cqs.push_back(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "grpcpp_bench_server: cannot listen on %s\n", address.c_str());
    return 1;
  }
  std::printf("listening %d\n", port);
  std::fflush(stdout);

  // One stop Alarm per queue (see the top of the file); they outlive the pollers.
  std::vector<grpc::Alarm> alarms(cqs.size());
  Tag stop_tag{nullptr, 0};
  std::thread stopper([&] {
    int signum = 0;
    sigwait(&signals, &signum);
    // Calls still running after 500 ms are cancelled; requested calls complete with ok=false.
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    for (size_t i = 0; i < cqs.size(); ++i) {
      alarms[i].Set(cqs[i].get(), std::chrono::system_clock::now(), &stop_tag);
    }
  });
  const int preposted = std::max(1, absl::GetFlag(FLAGS_preposted));
  const int64_t busy_poll_ns = int64_t{std::max(0, absl::GetFlag(FLAGS_busy_poll_us))} * 1000;
  std::vector<std::thread> pollers;
  for (int i = 1; i < loops; ++i) {
    pollers.emplace_back(Poll, &service, cqs[static_cast<size_t>(i)].get(), preposted,
                         busy_poll_ns);
  }
  Poll(&service, cqs[0].get(), preposted, busy_poll_ns);
  for (auto& t : pollers) t.join();
  stopper.join();
  std::printf("grpcpp_bench_server: stopped\n");
  return 0;
}
