// test_service_impl.h — grpc.testing.TestService as gRPC's interop test server implements it
// (doc/interop-test-descriptions.md, "Server"; grpc/grpc test/cpp/interop/interop_server.cc), on
// h2rpc's rpc layer. interop_server serves it; tests use it in-process.
//
// expect_compressed is checked as the official server does: a request that says it was sent
// compressed (or not) and was not gets INVALID_ARGUMENT (ServerContext::last_message_compressed()).
#ifndef H2RPC_TESTS_INTEROP_GRPC_TEST_SERVICE_IMPL_H_
#define H2RPC_TESTS_INTEROP_GRPC_TEST_SERVICE_IMPL_H_

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/testing/test.h2rpc.h"
#include "rpc/service.h"
#include "rpc/sleep.h"
#include "transport/event_loop.h"

namespace h2rpc::interop {

using ::h2rpc::rpc::Sleep;

using grpc::testing::Empty;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using grpc::testing::StreamingInputCallRequest;
using grpc::testing::StreamingInputCallResponse;
using grpc::testing::StreamingOutputCallRequest;
using grpc::testing::StreamingOutputCallResponse;

using rpc::Compression;
using rpc::ServerContext;
using rpc::ServerReader;
using rpc::ServerReaderWriter;
using rpc::ServerWriter;
using rpc::Task;

namespace internal {

inline constexpr char kEchoInitialKey[] = "x-grpc-test-echo-initial";
inline constexpr char kEchoTrailingBinKey[] = "x-grpc-test-echo-trailing-bin";
inline constexpr char kEchoUserAgentKey[] = "x-grpc-test-echo-useragent";

// Echoes the interop metadata keys back: initial into the response headers, -bin into trailers.
inline void MaybeEchoMetadata(ServerContext& ctx) {
  const rpc::Metadata& md = ctx.client_metadata();
  if (auto v = md.GetFirst(kEchoInitialKey)) {
    ctx.initial_metadata().Add(kEchoInitialKey, *v).IgnoreError();
  }
  if (auto v = md.GetFirst(kEchoTrailingBinKey)) {
    ctx.trailing_metadata().Add(kEchoTrailingBinKey, *v).IgnoreError();
  }
  if (md.Contains(kEchoUserAgentKey)) {
    if (auto ua = md.GetFirst("user-agent")) {
      ctx.initial_metadata().Add(kEchoUserAgentKey, *ua).IgnoreError();
    }
  }
}

inline absl::Status EchoStatus(const grpc::testing::EchoStatus& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.code()), s.message());
}

}  // namespace internal

class TestServiceImpl final : public grpc::testing::TestService::Service {
 public:
  explicit TestServiceImpl(transport::EventLoop* loop) : loop_(loop) {}

  // naming_interop_test.sh: EmptyCall prints "authority <:authority>" on stdout.
  void set_print_authority(bool print) { print_authority_ = print; }

  Task<absl::StatusOr<Empty>> EmptyCall(ServerContext& ctx, const Empty&) override {
    internal::MaybeEchoMetadata(ctx);
    if (print_authority_) {
      std::printf("authority %s\n", ctx.authority().c_str());
      std::fflush(stdout);
    }
    co_return Empty();
  }

  Task<absl::StatusOr<SimpleResponse>> UnaryCall(ServerContext& ctx,
                                                 const SimpleRequest& req) override {
    internal::MaybeEchoMetadata(ctx);
    if (req.has_response_compressed()) {
      ctx.SetCompression(req.response_compressed().value() ? Compression::kGzip
                                                            : Compression::kIdentity);
    }
    if (req.has_expect_compressed() &&
        req.expect_compressed().value() != ctx.last_message_compressed()) {
      co_return absl::InvalidArgumentError(
          req.expect_compressed().value() ? "Expected a compressed request"
                                          : "Expected an uncompressed request");
    }
    SimpleResponse resp;
    if (req.response_size() > 0) {
      resp.mutable_payload()->set_body(std::string(static_cast<size_t>(req.response_size()), '\0'));
    }
    if (req.has_response_status() && req.response_status().code() != 0) {
      co_return internal::EchoStatus(req.response_status());
    }
    co_return resp;
  }

  Task<absl::StatusOr<SimpleResponse>> CacheableUnaryCall(ServerContext& ctx,
                                                          const SimpleRequest&) override {
    SimpleResponse resp;
    resp.mutable_payload()->set_body(absl::StrCat(absl::ToUnixNanos(absl::Now())));
    ctx.initial_metadata().Add("cache-control", "max-age=60, public").IgnoreError();
    co_return resp;
  }

  Task<absl::Status> StreamingOutputCall(ServerContext& ctx, const StreamingOutputCallRequest& req,
                                         ServerWriter<StreamingOutputCallResponse>& out) override {
    internal::MaybeEchoMetadata(ctx);
    for (const auto& params : req.response_parameters()) {
      rpc::WriteOptions options;
      if (params.has_compressed()) {
        // Compress by default, disabled per message (as the official server does).
        ctx.SetCompression(Compression::kGzip);
        options.no_compression = !params.compressed().value();
      }
      if (params.interval_us() > 0) {
        co_await Sleep(loop_, absl::Microseconds(params.interval_us()));
      }
      StreamingOutputCallResponse resp;
      resp.mutable_payload()->set_body(std::string(static_cast<size_t>(params.size()), '\0'));
      if (!co_await out.Write(resp, options)) {
        co_return absl::InternalError("Error writing response.");
      }
    }
    if (req.has_response_status() && req.response_status().code() != 0) {
      co_return internal::EchoStatus(req.response_status());
    }
    co_return absl::OkStatus();
  }

  Task<absl::StatusOr<StreamingInputCallResponse>> StreamingInputCall(
      ServerContext& ctx, ServerReader<StreamingInputCallRequest>& in) override {
    int aggregated = 0;
    while (std::optional<StreamingInputCallRequest> req = co_await in.Read()) {
      if (req->has_expect_compressed() &&
          req->expect_compressed().value() != ctx.last_message_compressed()) {
        co_return absl::InvalidArgumentError(
            req->expect_compressed().value() ? "Expected a compressed request"
                                             : "Expected an uncompressed request");
      }
      aggregated += static_cast<int>(req->payload().body().size());
    }
    if (ctx.IsCancelled()) co_return absl::CancelledError("Cancelled by the client");
    StreamingInputCallResponse resp;
    resp.set_aggregated_payload_size(aggregated);
    co_return resp;
  }

  Task<absl::Status> FullDuplexCall(
      ServerContext& ctx,
      ServerReaderWriter<StreamingOutputCallResponse, StreamingOutputCallRequest>& stream) override {
    internal::MaybeEchoMetadata(ctx);
    while (std::optional<StreamingOutputCallRequest> req = co_await stream.Read()) {
      if (req->has_response_status() && req->response_status().code() != 0) {
        co_return internal::EchoStatus(req->response_status());
      }
      for (const auto& params : req->response_parameters()) {
        if (params.interval_us() > 0) {
          co_await Sleep(loop_, absl::Microseconds(params.interval_us()));
        }
        StreamingOutputCallResponse resp;
        resp.mutable_payload()->set_body(std::string(static_cast<size_t>(params.size()), '\0'));
        if (!co_await stream.Write(resp)) co_return absl::InternalError("Error writing response.");
      }
    }
    if (ctx.IsCancelled()) co_return absl::CancelledError("Cancelled by the client");
    co_return absl::OkStatus();
  }

  Task<absl::Status> HalfDuplexCall(
      ServerContext& ctx,
      ServerReaderWriter<StreamingOutputCallResponse, StreamingOutputCallRequest>& stream) override {
    std::vector<StreamingOutputCallRequest> requests;
    while (std::optional<StreamingOutputCallRequest> req = co_await stream.Read()) {
      requests.push_back(std::move(*req));
    }
    if (ctx.IsCancelled()) co_return absl::CancelledError("Cancelled by the client");
    for (const auto& req : requests) {
      if (req.response_parameters_size() == 0) {
        co_return absl::InternalError("Request does not have response parameters.");
      }
      for (const auto& params : req.response_parameters()) {
        StreamingOutputCallResponse resp;
        resp.mutable_payload()->set_body(std::string(static_cast<size_t>(params.size()), '\0'));
        if (!co_await stream.Write(resp)) co_return absl::InternalError("Error writing response.");
      }
    }
    co_return absl::OkStatus();
  }

  // UnimplementedCall: the generated default answers UNIMPLEMENTED, as the spec asks.

 private:
  transport::EventLoop* loop_;
  bool print_authority_ = false;
};

}  // namespace h2rpc::interop

#endif  // H2RPC_TESTS_INTEROP_GRPC_TEST_SERVICE_IMPL_H_
