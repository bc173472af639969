// interop_client: gRPC's interop test client (doc/interop-test-descriptions.md, "Client") on
// h2rpc's rpc layer, with the official client's flags:
//
//   interop_client --server_host=127.0.0.1 --server_port=PORT --test_case=large_unary
//                  [--use_tls --use_test_ca [--ca_file=ca.pem] [--server_host_override=localhost]]
//
// --test_case takes one case, a comma-separated list, or "all" (every case below except
// long_lived_channel). Each case prints "PASS <case>" or "FAIL <case>: <why>"; the exit status
// is 0 only if every case passed. Cases that need cloud credentials are not implemented.
//
// --skip_compression_probe (not an official flag): the client_compressed_* cases skip their
// first step, which expects the server to reject an uncompressed request that claims to be
// compressed (for servers that cannot see request compression, as h2rpc's).
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/testing/test.h2rpc.h"
#include "rpc/client.h"
#include "rpc/sleep.h"
#include "tests/interop/grpc/runfiles.h"
#include "transport/uv_loop.h"

ABSL_FLAG(std::string, server_host, "localhost", "Server host to connect to.");
ABSL_FLAG(std::string, server_host_override, "",
          "Override the server host: the :authority and the TLS name checked.");
ABSL_FLAG(int, server_port, 0, "Server port.");
ABSL_FLAG(std::string, target, "",
          "Instead of --server_host/--server_port, a gRPC target: dns:///host:port, unix:path, "
          "ipv4:addr:port, ... (rpc/target.h).");
ABSL_FLAG(std::string, test_case, "large_unary",
          "The test case: one name, a comma-separated list, or 'all'.");
ABSL_FLAG(bool, use_tls, false, "Whether to use TLS.");
ABSL_FLAG(bool, use_test_ca, false,
          "Verify the server with the test CA (--ca_file, else $INTEROP_CA_FILE, else "
          "tests/testdata/tls/ca.pem) instead of the system's CAs.");
ABSL_FLAG(std::string, ca_file, "", "The test CA file (with --use_test_ca).");
ABSL_FLAG(int, soak_iterations, 10, "rpc_soak/channel_soak: number of RPCs.");
ABSL_FLAG(int, soak_max_failures, 0, "rpc_soak/channel_soak: failures tolerated.");
ABSL_FLAG(int, soak_per_iteration_max_acceptable_latency_ms, 1000,
          "rpc_soak/channel_soak: an RPC slower than this counts as a failure.");
ABSL_FLAG(int, soak_overall_timeout_seconds, 0,
          "rpc_soak/channel_soak: stop after this long (0: iterations x per-iteration limit).");
ABSL_FLAG(int, soak_min_time_ms_between_rpcs, 0, "rpc_soak/channel_soak: pause between RPCs.");
ABSL_FLAG(int, iteration_interval, 10, "long_lived_channel: seconds between RPCs.");
ABSL_FLAG(bool, skip_compression_probe, false,
          "client_compressed_*: skip the probe that expects INVALID_ARGUMENT (non-official).");

namespace h2rpc::interop {

using ::h2rpc::rpc::Sleep;
namespace {

using grpc::testing::Empty;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using grpc::testing::StreamingInputCallRequest;
using grpc::testing::StreamingInputCallResponse;
using grpc::testing::StreamingOutputCallRequest;
using grpc::testing::StreamingOutputCallResponse;
using rpc::CallOptions;
using rpc::Channel;
using rpc::Compression;
using rpc::Metadata;
using rpc::Task;

constexpr char kTestService[] = "/grpc.testing.TestService/";
constexpr int kLargeRequestSize = 271828;
constexpr int kLargeResponseSize = 314159;
const std::vector<int> kRequestSizes = {27182, 8, 1828, 45904};
const std::vector<int> kResponseSizes = {31415, 9, 2653, 58979};

std::string Zeros(int n) { return std::string(static_cast<size_t>(n), '\0'); }

// The case fails with `why` (an INTERNAL status the runner prints) unless `cond` holds.
#define CHECK_OR_FAIL(cond, ...)                                             \
  if (!(cond)) {                                                             \
    co_return absl::InternalError(absl::StrCat(__VA_ARGS__));                \
  }

std::string Describe(const absl::Status& st) {
  return absl::StrCat(absl::StatusCodeToString(st.code()), " (", static_cast<int>(st.code()),
                      ") '", absl::CHexEscape(st.message()), "'");
}

bool IsZeros(const std::string& body, int size) {
  return body.size() == static_cast<size_t>(size) &&
         body.find_first_not_of('\0') == std::string::npos;
}

// A unary call's response and what the interop cases look at besides it (response metadata,
// whether the response message was compressed), from the stub's ClientContext overload.
struct UnaryResult {
  absl::Status status;
  SimpleResponse response;
  Metadata initial;
  Metadata trailing;
  bool compressed = false;
};

class InteropClient {
 public:
  explicit InteropClient(transport::UvLoop* loop, rpc::ChannelOptions options, std::string target)
      : loop_(loop), options_(std::move(options)), target_(std::move(target)) {
    channel_ = NewChannel();
  }
  ~InteropClient() { channel_->Close(); }

  std::shared_ptr<Channel> NewChannel() { return Channel::Create(loop_, target_, options_); }

  std::map<std::string, std::function<Task<absl::Status>()>> Cases() {
    return {
        {"empty_unary", [this] { return EmptyUnary(); }},
        {"large_unary", [this] { return LargeUnary(); }},
        {"client_compressed_unary", [this] { return ClientCompressedUnary(); }},
        {"server_compressed_unary", [this] { return ServerCompressedUnary(); }},
        {"client_streaming", [this] { return ClientStreaming(); }},
        {"client_compressed_streaming", [this] { return ClientCompressedStreaming(); }},
        {"server_streaming", [this] { return ServerStreaming(); }},
        {"server_compressed_streaming", [this] { return ServerCompressedStreaming(); }},
        {"ping_pong", [this] { return PingPong(); }},
        {"empty_stream", [this] { return EmptyStream(); }},
        {"custom_metadata", [this] { return CustomMetadata(); }},
        {"status_code_and_message", [this] { return StatusCodeAndMessage(); }},
        {"special_status_message", [this] { return SpecialStatusMessage(); }},
        {"unimplemented_method", [this] { return UnimplementedMethod(); }},
        {"unimplemented_service", [this] { return UnimplementedService(); }},
        {"cancel_after_begin", [this] { return CancelAfterBegin(); }},
        {"cancel_after_first_response", [this] { return CancelAfterFirstResponse(); }},
        {"timeout_on_sleeping_server", [this] { return TimeoutOnSleepingServer(); }},
        {"rpc_soak", [this] { return Soak(/*new_channel=*/false); }},
        {"channel_soak", [this] { return Soak(/*new_channel=*/true); }},
        {"long_lived_channel", [this] { return LongLivedChannel(); }},
        {"concurrent_large_unary", [this] { return ConcurrentLargeUnary(); }},
        {"slow_server_streaming", [this] { return SlowServerStreaming(); }},
    };
  }

 private:
  grpc::testing::TestService::Stub Stub() { return grpc::testing::TestService::Stub(channel_); }

  Task<UnaryResult> UnaryWithContext(std::shared_ptr<Channel> channel, SimpleRequest request,
                                      CallOptions options) {
    grpc::testing::TestService::Stub stub(std::move(channel));
    rpc::ClientContext context;
    absl::StatusOr<SimpleResponse> response =
        co_await stub.UnaryCall(&context, request, std::move(options));
    UnaryResult result;
    result.status = response.status();
    if (response.ok()) result.response = std::move(*response);
    result.initial = context.initial_metadata();
    result.trailing = context.trailing_metadata();
    result.compressed = context.response_compressed();
    co_return result;
  }

  static SimpleRequest LargeRequest() {
    SimpleRequest req;
    req.set_response_size(kLargeResponseSize);
    req.mutable_payload()->set_body(Zeros(kLargeRequestSize));
    return req;
  }

  // --- the cases ------------------------------------------------------------------------------

  Task<absl::Status> EmptyUnary() {
    auto stub = Stub();
    absl::StatusOr<Empty> resp = co_await stub.EmptyCall(Empty());
    CHECK_OR_FAIL(resp.ok(), "EmptyCall failed: ", Describe(resp.status()));
    CHECK_OR_FAIL(resp->ByteSizeLong() == 0, "EmptyCall: non-empty response");
    co_return absl::OkStatus();
  }

  Task<absl::Status> LargeUnaryOn(std::shared_ptr<Channel> channel) {
    grpc::testing::TestService::Stub stub(std::move(channel));
    absl::StatusOr<SimpleResponse> resp = co_await stub.UnaryCall(LargeRequest());
    CHECK_OR_FAIL(resp.ok(), "UnaryCall failed: ", Describe(resp.status()));
    CHECK_OR_FAIL(IsZeros(resp->payload().body(), kLargeResponseSize),
                  "UnaryCall: payload of ", resp->payload().body().size(), " bytes, expected ",
                  kLargeResponseSize, " zero bytes");
    co_return absl::OkStatus();
  }

  Task<absl::Status> LargeUnary() { co_return co_await LargeUnaryOn(channel_); }

  Task<absl::Status> ClientCompressedUnary() {
    if (!absl::GetFlag(FLAGS_skip_compression_probe)) {
      // The probe: an uncompressed request that claims to be compressed must be rejected.
      SimpleRequest probe = LargeRequest();
      probe.mutable_expect_compressed()->set_value(true);
      UnaryResult r = co_await UnaryWithContext(channel_, probe, {});
      CHECK_OR_FAIL(r.status.code() == absl::StatusCode::kInvalidArgument,
                    "probe (expect_compressed=true, sent uncompressed): expected INVALID_ARGUMENT, "
                    "got ", Describe(r.status));
    }
    for (bool compressed : {true, false}) {
      SimpleRequest req = LargeRequest();
      req.mutable_expect_compressed()->set_value(compressed);
      CallOptions options;
      if (compressed) options.compression = Compression::kGzip;
      UnaryResult r = co_await UnaryWithContext(channel_, req, std::move(options));
      CHECK_OR_FAIL(r.status.ok(), "UnaryCall (request compressed=", compressed,
                    ") failed: ", Describe(r.status));
      CHECK_OR_FAIL(IsZeros(r.response.payload().body(), kLargeResponseSize),
                    "UnaryCall (request compressed=", compressed, "): payload of ",
                    r.response.payload().body().size(), " bytes");
    }
    co_return absl::OkStatus();
  }

  Task<absl::Status> ServerCompressedUnary() {
    for (bool compressed : {true, false}) {
      SimpleRequest req = LargeRequest();
      req.mutable_response_compressed()->set_value(compressed);
      UnaryResult r = co_await UnaryWithContext(channel_, req, {});
      CHECK_OR_FAIL(r.status.ok(), "UnaryCall (response_compressed=", compressed,
                    ") failed: ", Describe(r.status));
      CHECK_OR_FAIL(r.compressed == compressed, "UnaryCall (response_compressed=", compressed,
                    "): the response message's compressed flag is ", r.compressed);
      CHECK_OR_FAIL(IsZeros(r.response.payload().body(), kLargeResponseSize),
                    "UnaryCall (response_compressed=", compressed, "): payload of ",
                    r.response.payload().body().size(), " bytes");
    }
    co_return absl::OkStatus();
  }

  Task<absl::Status> ClientStreaming() {
    auto stub = Stub();
    auto writer = stub.StreamingInputCall();
    for (int size : kRequestSizes) {
      StreamingInputCallRequest req;
      req.mutable_payload()->set_body(Zeros(size));
      CHECK_OR_FAIL(co_await writer->Write(req), "StreamingInputCall: a write failed");
    }
    absl::StatusOr<StreamingInputCallResponse> resp = co_await writer->Finish();
    CHECK_OR_FAIL(resp.ok(), "StreamingInputCall failed: ", Describe(resp.status()));
    CHECK_OR_FAIL(resp->aggregated_payload_size() == 74922, "aggregated_payload_size ",
                  resp->aggregated_payload_size(), ", expected 74922");
    co_return absl::OkStatus();
  }

  Task<absl::Status> ClientCompressedStreaming() {
    auto stub = Stub();
    if (!absl::GetFlag(FLAGS_skip_compression_probe)) {
      auto probe = stub.StreamingInputCall();
      StreamingInputCallRequest req;
      req.mutable_expect_compressed()->set_value(true);
      req.mutable_payload()->set_body(Zeros(27182));
      co_await probe->Write(req);
      absl::StatusOr<StreamingInputCallResponse> resp = co_await probe->Finish();
      CHECK_OR_FAIL(resp.status().code() == absl::StatusCode::kInvalidArgument,
                    "probe (expect_compressed=true, sent uncompressed): expected INVALID_ARGUMENT, "
                    "got ", Describe(resp.status()));
    }
    CallOptions options;
    options.compression = Compression::kGzip;
    auto writer = stub.StreamingInputCall(std::move(options));
    StreamingInputCallRequest first;
    first.mutable_expect_compressed()->set_value(true);
    first.mutable_payload()->set_body(Zeros(27182));
    CHECK_OR_FAIL(co_await writer->Write(first), "StreamingInputCall: the 1st write failed");
    StreamingInputCallRequest second;
    second.mutable_expect_compressed()->set_value(false);
    second.mutable_payload()->set_body(Zeros(45904));
    CHECK_OR_FAIL(co_await writer->Write(second, rpc::WriteOptions{.no_compression = true}),
                  "StreamingInputCall: the 2nd write failed");
    absl::StatusOr<StreamingInputCallResponse> resp = co_await writer->Finish();
    CHECK_OR_FAIL(resp.ok(), "StreamingInputCall failed: ", Describe(resp.status()));
    CHECK_OR_FAIL(resp->aggregated_payload_size() == 73086, "aggregated_payload_size ",
                  resp->aggregated_payload_size(), ", expected 73086");
    co_return absl::OkStatus();
  }

  Task<absl::Status> ServerStreaming() {
    auto stub = Stub();
    StreamingOutputCallRequest req;
    for (int size : kResponseSizes) req.add_response_parameters()->set_size(size);
    auto reader = stub.StreamingOutputCall(req);
    size_t n = 0;
    while (std::optional<StreamingOutputCallResponse> resp = co_await reader->Read()) {
      CHECK_OR_FAIL(n < kResponseSizes.size(), "StreamingOutputCall: more than 4 responses");
      CHECK_OR_FAIL(IsZeros(resp->payload().body(), kResponseSizes[n]), "response ", n, ": ",
                    resp->payload().body().size(), " bytes, expected ", kResponseSizes[n]);
      ++n;
    }
    absl::Status st = co_await reader->Finish();
    CHECK_OR_FAIL(st.ok(), "StreamingOutputCall failed: ", Describe(st));
    CHECK_OR_FAIL(n == kResponseSizes.size(), "StreamingOutputCall: ", n, " responses, expected 4");
    co_return absl::OkStatus();
  }

  // Not an official case: 8 responses 50 ms apart, so that the call is in flight for ~0.4 s
  // (tests/proxy: a backend drained under such calls must let them finish).
  Task<absl::Status> SlowServerStreaming() {
    auto stub = Stub();
    StreamingOutputCallRequest req;
    for (int i = 0; i < 8; ++i) {
      auto* p = req.add_response_parameters();
      p->set_size(100);
      p->set_interval_us(50000);
    }
    auto reader = stub.StreamingOutputCall(req);
    int n = 0;
    while (std::optional<StreamingOutputCallResponse> resp = co_await reader->Read()) {
      CHECK_OR_FAIL(IsZeros(resp->payload().body(), 100), "response ", n, ": wrong body");
      ++n;
    }
    absl::Status st = co_await reader->Finish();
    CHECK_OR_FAIL(st.ok(), "StreamingOutputCall failed: ", Describe(st));
    CHECK_OR_FAIL(n == 8, "StreamingOutputCall: ", n, " responses, expected 8");
    co_return absl::OkStatus();
  }

  Task<absl::Status> ServerCompressedStreaming() {
    auto stub = Stub();
    StreamingOutputCallRequest req;
    auto* p1 = req.add_response_parameters();
    p1->mutable_compressed()->set_value(true);
    p1->set_size(31415);
    auto* p2 = req.add_response_parameters();
    p2->mutable_compressed()->set_value(false);
    p2->set_size(92653);
    auto reader = stub.StreamingOutputCall(req);
    const std::vector<std::pair<bool, int>> want = {{true, 31415}, {false, 92653}};
    size_t n = 0;
    while (std::optional<StreamingOutputCallResponse> resp = co_await reader->Read()) {
      CHECK_OR_FAIL(n < want.size(), "StreamingOutputCall: more than 2 responses");
      const bool compressed = reader->call().last_message_compressed();
      CHECK_OR_FAIL(compressed == want[n].first, "response ", n, ": compressed flag ", compressed,
                    ", expected ", want[n].first);
      CHECK_OR_FAIL(IsZeros(resp->payload().body(), want[n].second), "response ", n, ": ",
                    resp->payload().body().size(), " bytes, expected ", want[n].second);
      ++n;
    }
    absl::Status st = co_await reader->Finish();
    CHECK_OR_FAIL(st.ok(), "StreamingOutputCall failed: ", Describe(st));
    CHECK_OR_FAIL(n == want.size(), "StreamingOutputCall: ", n, " responses, expected 2");
    co_return absl::OkStatus();
  }

  Task<absl::Status> PingPong() {
    auto stub = Stub();
    auto stream = stub.FullDuplexCall();
    for (size_t i = 0; i < kRequestSizes.size(); ++i) {
      StreamingOutputCallRequest req;
      req.add_response_parameters()->set_size(kResponseSizes[i]);
      req.mutable_payload()->set_body(Zeros(kRequestSizes[i]));
      CHECK_OR_FAIL(co_await stream->Write(req), "FullDuplexCall: write ", i, " failed");
      std::optional<StreamingOutputCallResponse> resp = co_await stream->Read();
      CHECK_OR_FAIL(resp.has_value(), "FullDuplexCall: no response ", i, " (status ",
                    Describe(co_await stream->Finish()), ")");
      CHECK_OR_FAIL(IsZeros(resp->payload().body(), kResponseSizes[i]), "response ", i, ": ",
                    resp->payload().body().size(), " bytes, expected ", kResponseSizes[i]);
    }
    stream->WritesDone();
    CHECK_OR_FAIL(!(co_await stream->Read()).has_value(), "FullDuplexCall: an extra response");
    absl::Status st = co_await stream->Finish();
    CHECK_OR_FAIL(st.ok(), "FullDuplexCall failed: ", Describe(st));
    co_return absl::OkStatus();
  }

  Task<absl::Status> EmptyStream() {
    auto stub = Stub();
    auto stream = stub.FullDuplexCall();
    stream->WritesDone();
    CHECK_OR_FAIL(!(co_await stream->Read()).has_value(), "FullDuplexCall: unexpected response");
    absl::Status st = co_await stream->Finish();
    CHECK_OR_FAIL(st.ok(), "FullDuplexCall failed: ", Describe(st));
    co_return absl::OkStatus();
  }

  Task<absl::Status> CustomMetadata() {
    const std::string initial_value = "test_initial_metadata_value";
    const std::string trailing_value = "\xab\xab\xab";
    auto options = [&] {
      CallOptions o;
      o.metadata.Add("x-grpc-test-echo-initial", initial_value).IgnoreError();
      o.metadata.Add("x-grpc-test-echo-trailing-bin", trailing_value).IgnoreError();
      return o;
    };
    auto check = [&](const char* what, const Metadata& initial,
                     const Metadata& trailing) -> absl::Status {
      auto i = initial.GetFirst("x-grpc-test-echo-initial");
      if (!i || *i != initial_value) {
        return absl::InternalError(absl::StrCat(what, ": initial metadata x-grpc-test-echo-initial = '",
                                                absl::CHexEscape(i.value_or("<none>")), "'"));
      }
      auto t = trailing.GetFirst("x-grpc-test-echo-trailing-bin");
      if (!t || *t != trailing_value) {
        return absl::InternalError(absl::StrCat(
            what, ": trailing metadata x-grpc-test-echo-trailing-bin = '",
            absl::CHexEscape(t.value_or("<none>")), "'"));
      }
      return absl::OkStatus();
    };
    UnaryResult r = co_await UnaryWithContext(channel_, LargeRequest(), options());
    CHECK_OR_FAIL(r.status.ok(), "UnaryCall failed: ", Describe(r.status));
    CHECK_OR_FAIL(IsZeros(r.response.payload().body(), kLargeResponseSize), "UnaryCall: payload of ",
                  r.response.payload().body().size(), " bytes");
    if (absl::Status st = check("UnaryCall", r.initial, r.trailing); !st.ok()) co_return st;

    auto stub = Stub();
    auto stream = stub.FullDuplexCall(options());
    StreamingOutputCallRequest req;
    req.add_response_parameters()->set_size(kLargeResponseSize);
    req.mutable_payload()->set_body(Zeros(kLargeRequestSize));
    CHECK_OR_FAIL(co_await stream->Write(req), "FullDuplexCall: the write failed");
    std::optional<StreamingOutputCallResponse> resp = co_await stream->Read();
    CHECK_OR_FAIL(resp && IsZeros(resp->payload().body(), kLargeResponseSize),
                  "FullDuplexCall: no or wrong response");
    stream->WritesDone();
    CHECK_OR_FAIL(!(co_await stream->Read()).has_value(), "FullDuplexCall: an extra response");
    absl::Status st = co_await stream->Finish();
    CHECK_OR_FAIL(st.ok(), "FullDuplexCall failed: ", Describe(st));
    co_return check("FullDuplexCall", stream->initial_metadata(), stream->trailing_metadata());
  }

  Task<absl::Status> ExpectStatus(const std::string& message) {
    auto stub = Stub();
    SimpleRequest req;
    req.mutable_response_status()->set_code(2);
    req.mutable_response_status()->set_message(message);
    absl::StatusOr<SimpleResponse> resp = co_await stub.UnaryCall(req);
    CHECK_OR_FAIL(resp.status().code() == absl::StatusCode::kUnknown &&
                      resp.status().message() == message,
                  "UnaryCall: got ", Describe(resp.status()), ", expected UNKNOWN (2) '",
                  absl::CHexEscape(message), "'");
    co_return absl::OkStatus();
  }

  Task<absl::Status> StatusCodeAndMessage() {
    const std::string message = "test status message";
    if (absl::Status st = co_await ExpectStatus(message); !st.ok()) co_return st;
    auto stub = Stub();
    auto stream = stub.FullDuplexCall();
    StreamingOutputCallRequest req;
    req.mutable_response_status()->set_code(2);
    req.mutable_response_status()->set_message(message);
    co_await stream->Write(req);
    stream->WritesDone();
    CHECK_OR_FAIL(!(co_await stream->Read()).has_value(), "FullDuplexCall: unexpected response");
    absl::Status st = co_await stream->Finish();
    CHECK_OR_FAIL(st.code() == absl::StatusCode::kUnknown && st.message() == message,
                  "FullDuplexCall: got ", Describe(st), ", expected UNKNOWN (2) '", message, "'");
    co_return absl::OkStatus();
  }

  Task<absl::Status> SpecialStatusMessage() {
    co_return co_await ExpectStatus(
        "\t\ntest with whitespace\r\nand Unicode BMP \xe2\x98\xba and non-BMP \xf0\x9f\x98\x88\t\n");
  }

  Task<absl::Status> UnimplementedMethod() {
    auto stub = Stub();
    absl::StatusOr<Empty> resp = co_await stub.UnimplementedCall(Empty());
    CHECK_OR_FAIL(resp.status().code() == absl::StatusCode::kUnimplemented,
                  "UnimplementedCall: got ", Describe(resp.status()), ", expected UNIMPLEMENTED");
    co_return absl::OkStatus();
  }

  Task<absl::Status> UnimplementedService() {
    grpc::testing::UnimplementedService::Stub stub(channel_);
    absl::StatusOr<Empty> resp = co_await stub.UnimplementedCall(Empty());
    CHECK_OR_FAIL(resp.status().code() == absl::StatusCode::kUnimplemented,
                  "UnimplementedService/UnimplementedCall: got ", Describe(resp.status()),
                  ", expected UNIMPLEMENTED");
    co_return absl::OkStatus();
  }

  Task<absl::Status> CancelAfterBegin() {
    auto stub = Stub();
    auto writer = stub.StreamingInputCall();
    writer->Cancel();
    absl::StatusOr<StreamingInputCallResponse> resp = co_await writer->Finish();
    CHECK_OR_FAIL(resp.status().code() == absl::StatusCode::kCancelled,
                  "StreamingInputCall: got ", Describe(resp.status()), ", expected CANCELLED");
    co_return absl::OkStatus();
  }

  Task<absl::Status> CancelAfterFirstResponse() {
    auto stub = Stub();
    auto stream = stub.FullDuplexCall();
    StreamingOutputCallRequest req;
    req.add_response_parameters()->set_size(31415);
    req.mutable_payload()->set_body(Zeros(27182));
    CHECK_OR_FAIL(co_await stream->Write(req), "FullDuplexCall: the write failed");
    std::optional<StreamingOutputCallResponse> resp = co_await stream->Read();
    CHECK_OR_FAIL(resp && IsZeros(resp->payload().body(), 31415),
                  "FullDuplexCall: no or wrong first response");
    stream->Cancel();
    absl::Status st = co_await stream->Finish();
    CHECK_OR_FAIL(st.code() == absl::StatusCode::kCancelled, "FullDuplexCall: got ", Describe(st),
                  ", expected CANCELLED");
    co_return absl::OkStatus();
  }

  Task<absl::Status> TimeoutOnSleepingServer() {
    auto stub = Stub();
    CallOptions options;
    options.timeout = absl::Milliseconds(1);
    auto stream = stub.FullDuplexCall(std::move(options));
    StreamingOutputCallRequest req;
    req.mutable_payload()->set_body(Zeros(27182));
    co_await stream->Write(req);  // may fail: the deadline may be over already
    absl::Status st = co_await stream->Finish();
    CHECK_OR_FAIL(st.code() == absl::StatusCode::kDeadlineExceeded, "FullDuplexCall: got ",
                  Describe(st), ", expected DEADLINE_EXCEEDED");
    co_return absl::OkStatus();
  }

  // rpc_soak (one channel) and channel_soak (a new channel per RPC): many large_unary calls.
  Task<absl::Status> Soak(bool new_channel) {
    const int iterations = absl::GetFlag(FLAGS_soak_iterations);
    const int max_failures = absl::GetFlag(FLAGS_soak_max_failures);
    const absl::Duration max_latency =
        absl::Milliseconds(absl::GetFlag(FLAGS_soak_per_iteration_max_acceptable_latency_ms));
    absl::Duration overall = absl::Seconds(absl::GetFlag(FLAGS_soak_overall_timeout_seconds));
    if (overall == absl::ZeroDuration()) overall = max_latency * iterations;
    const absl::Duration between =
        absl::Milliseconds(absl::GetFlag(FLAGS_soak_min_time_ms_between_rpcs));
    const absl::Time start = absl::Now();
    int failures = 0, done = 0;
    std::string last_error;
    absl::Duration worst = absl::ZeroDuration();
    for (int i = 0; i < iterations && absl::Now() - start < overall; ++i, ++done) {
      const absl::Time t0 = absl::Now();
      std::shared_ptr<Channel> channel = new_channel ? NewChannel() : channel_;
      absl::Status st = co_await LargeUnaryOn(channel);
      if (new_channel) channel->Close();
      const absl::Duration latency = absl::Now() - t0;
      worst = std::max(worst, latency);
      if (!st.ok() || latency > max_latency) {
        ++failures;
        last_error = st.ok() ? absl::StrCat("iteration ", i, " took ", absl::FormatDuration(latency))
                             : absl::StrCat("iteration ", i, ": ", st.message());
      }
      if (between > absl::ZeroDuration()) co_await Sleep(loop_, between);
    }
    std::fprintf(stderr, "soak: %d iterations, %d failures, worst latency %s\n", done, failures,
                 absl::FormatDuration(worst).c_str());
    CHECK_OR_FAIL(done == iterations, "soak: only ", done, " of ", iterations,
                  " iterations within the overall timeout");
    CHECK_OR_FAIL(failures <= max_failures, "soak: ", failures, " failures (max ", max_failures,
                  "); last: ", last_error);
    co_return absl::OkStatus();
  }

  // concurrent_large_unary (listed as TODO in the interop descriptions): 100 large_unary calls
  // and 20 ping_pong streams at once on the one channel.
  Task<absl::Status> ConcurrentLargeUnary() {
    struct Shared {
      int pending = 0;
      std::vector<std::string> errors;
      std::shared_ptr<rpc::Awaitable<bool>::State> all_done;
    };
    auto shared = std::make_shared<Shared>();
    rpc::Awaitable<bool> all_done;
    shared->all_done = all_done.state();
    auto start = [shared](Task<absl::Status> task) {
      ++shared->pending;
      task.Start(
          [shared](absl::Status st) {
            if (!st.ok()) shared->errors.push_back(std::string(st.message()));
            if (--shared->pending == 0) shared->all_done->Complete(true);
          },
          [shared](std::exception_ptr) {
            shared->errors.push_back("exception");
            if (--shared->pending == 0) shared->all_done->Complete(true);
          });
    };
    for (int i = 0; i < 100; ++i) start(LargeUnaryOn(channel_));
    for (int i = 0; i < 20; ++i) start(PingPong());
    co_await all_done;
    CHECK_OR_FAIL(shared->errors.empty(), shared->errors.size(), " of 120 calls failed; first: ",
                  shared->errors.front());
    co_return absl::OkStatus();
  }

  // long_lived_channel: large_unary on one channel every --iteration_interval seconds,
  // --soak_iterations times (the official client runs until killed).
  Task<absl::Status> LongLivedChannel() {
    const int iterations = absl::GetFlag(FLAGS_soak_iterations);
    for (int i = 0; i < iterations; ++i) {
      if (i > 0) co_await Sleep(loop_, absl::Seconds(absl::GetFlag(FLAGS_iteration_interval)));
      absl::Status st = co_await LargeUnary();
      CHECK_OR_FAIL(st.ok(), "long_lived_channel iteration ", i, ": ", st.message());
    }
    co_return absl::OkStatus();
  }

  transport::UvLoop* loop_;
  rpc::ChannelOptions options_;
  std::string target_;
  std::shared_ptr<Channel> channel_;
};

const std::vector<std::string> kAllCases = {
    "empty_unary",          "large_unary",
    "client_compressed_unary", "server_compressed_unary",
    "client_streaming",     "client_compressed_streaming",
    "server_streaming",     "server_compressed_streaming",
    "ping_pong",            "empty_stream",
    "custom_metadata",      "status_code_and_message",
    "special_status_message", "unimplemented_method",
    "unimplemented_service", "cancel_after_begin",
    "cancel_after_first_response", "timeout_on_sleeping_server",
    "rpc_soak",             "channel_soak",
};

int Main(const char* argv0) {
  const int port = absl::GetFlag(FLAGS_server_port);
  std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    if (port <= 0 || port > 65535) {
      std::fprintf(stderr, "interop_client: --server_port (1..65535) or --target is required\n");
      return 2;
    }
    const std::string host = absl::GetFlag(FLAGS_server_host);
    target = absl::StrCat(host.find(':') != std::string::npos && host.front() != '['
                              ? absl::StrCat("[", host, "]")
                              : host,
                          ":", port);
  }
  rpc::ChannelOptions options;
  const std::string override_host = absl::GetFlag(FLAGS_server_host_override);
  if (!override_host.empty()) options.authority = absl::StrCat(override_host, ":", port);
  if (absl::GetFlag(FLAGS_use_tls)) {
    options.use_tls = true;
    if (!override_host.empty()) options.tls.servername = override_host;
    if (absl::GetFlag(FLAGS_use_test_ca)) {
      std::string ca = absl::GetFlag(FLAGS_ca_file);
      if (ca.empty()) {
        const char* env = std::getenv("INTEROP_CA_FILE");
        ca = env != nullptr && *env != '\0' ? env : Runfile(argv0, "tests/testdata/tls/ca.pem");
      }
      options.tls.caFile = ca;
    }
  }

  std::vector<std::string> cases;
  const std::string test_case = absl::GetFlag(FLAGS_test_case);
  if (test_case == "all") {
    cases = kAllCases;
  } else {
    cases = absl::StrSplit(test_case, ',', absl::SkipEmpty());
  }

  transport::UvLoop loop;
  int failed = 0;
  {
    InteropClient client(&loop, options, target);
    auto known = client.Cases();
    for (const std::string& name : cases) {
      auto it = known.find(name);
      if (it == known.end()) {
        std::fprintf(stderr, "interop_client: unknown --test_case '%s' (known: %s, all)\n",
                     name.c_str(), absl::StrJoin(kAllCases, ", ").c_str());
        return 2;
      }
    }
    for (const std::string& name : cases) {
      const absl::Time t0 = absl::Now();
      absl::Status st = rpc::BlockOn(&loop, known[name]());
      const std::string took = absl::FormatDuration(absl::Trunc(absl::Now() - t0, absl::Milliseconds(1)));
      if (st.ok()) {
        std::printf("PASS %s (%s)\n", name.c_str(), took.c_str());
      } else {
        ++failed;
        std::printf("FAIL %s: %s\n", name.c_str(), std::string(st.message()).c_str());
      }
      std::fflush(stdout);
    }
  }
  // Let the connections close (GOAWAY) before exiting.
  for (int i = 0; i < 10; ++i) uv_run(loop.uv(), UV_RUN_NOWAIT);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace h2rpc::interop

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return h2rpc::interop::Main(argv[0]);
}
