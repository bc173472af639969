// grpcpp_interop_client: gRPC's interop test client on gRPC C++ 1.51 (Debian's libgrpc++), the
// reference peer for h2rpc's interop_server. It follows grpc/grpc test/cpp/interop/
// interop_client.cc (v1.51) for the cases that need no cloud credentials, including its
// compression checks (the response message's compressed flag, read through C-core's test-only
// accessors as InteropClientContextInspector does). Same flags and output as interop_client:
//
//   grpcpp_interop_client --server_host=127.0.0.1 --server_port=PORT --test_case=all
//                         [--use_tls --use_test_ca [--ca_file=ca.pem]] [--server_host_override=...]
//
// Prints "PASS <case>" / "FAIL <case>: <why>"; exit status 0 iff every case passed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpc/compression.h>
#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/testing/test.grpc.pb.h"
#include "tests/interop/grpc/runfiles.h"

uint32_t grpc_call_test_only_get_message_flags(grpc_call* call);
grpc_compression_algorithm grpc_call_test_only_get_compression_algorithm(grpc_call* call);
#define GRPC_WRITE_INTERNAL_COMPRESS (0x80000000u)
#define GRPC_WRITE_INTERNAL_TEST_ONLY_WAS_COMPRESSED (0x40000000u)

ABSL_FLAG(std::string, server_host, "localhost", "Server host to connect to.");
ABSL_FLAG(std::string, server_host_override, "", "Override the :authority and TLS target name.");
ABSL_FLAG(int, server_port, 0, "Server port.");
ABSL_FLAG(std::string, target, "", "Instead of --server_host/--server_port, a gRPC target.");
ABSL_FLAG(std::string, test_case, "large_unary", "One case, a comma-separated list, or 'all'.");
ABSL_FLAG(bool, use_tls, false, "Whether to use TLS.");
ABSL_FLAG(bool, use_test_ca, false, "Verify the server with the test CA.");
ABSL_FLAG(std::string, ca_file, "", "The test CA (default: $INTEROP_CA_FILE, else ca.pem).");
ABSL_FLAG(int, soak_iterations, 10, "rpc_soak/channel_soak: number of RPCs.");
ABSL_FLAG(int, soak_max_failures, 0, "rpc_soak/channel_soak: failures tolerated.");
ABSL_FLAG(int, soak_per_iteration_max_acceptable_latency_ms, 1000, "Slower RPCs fail.");
ABSL_FLAG(bool, skip_compression_probe, false,
          "client_compressed_*: skip the probe that expects INVALID_ARGUMENT (non-official).");

namespace {

using grpc::ClientContext;
using grpc::Status;
using grpc::StatusCode;
using grpc::testing::Empty;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using grpc::testing::StreamingInputCallRequest;
using grpc::testing::StreamingInputCallResponse;
using grpc::testing::StreamingOutputCallRequest;
using grpc::testing::StreamingOutputCallResponse;
using grpc::testing::TestService;

const std::vector<int> kRequestSizes = {27182, 8, 1828, 45904};
const std::vector<int> kResponseSizes = {31415, 9, 2653, 58979};
constexpr int kLargeRequestSize = 271828;
constexpr int kLargeResponseSize = 314159;

struct Failure {
  std::string why;
};

template <typename... Args>
void Check(bool cond, const Args&... why) {
  if (!cond) throw Failure{absl::StrCat(why...)};
}

std::string Describe(const Status& s) {
  return absl::StrCat(s.error_code(), " '", absl::CHexEscape(s.error_message()), "'");
}

bool IsZeros(const std::string& body, int size) {
  return body.size() == static_cast<size_t>(size) &&
         body.find_first_not_of('\0') == std::string::npos;
}

bool WasCompressed(ClientContext& ctx) {
  const uint32_t flags = grpc_call_test_only_get_message_flags(ctx.c_call());
  return (flags & GRPC_WRITE_INTERNAL_COMPRESS) ||
         (flags & GRPC_WRITE_INTERNAL_TEST_ONLY_WAS_COMPRESSED);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Client {
 public:
  explicit Client(std::function<std::shared_ptr<grpc::Channel>()> make_channel)
      : make_channel_(std::move(make_channel)),
        channel_(make_channel_()),
        stub_(TestService::NewStub(channel_)) {}

  std::map<std::string, std::function<void()>> Cases() {
    return {
        {"empty_unary", [this] { EmptyUnary(); }},
        {"large_unary", [this] { LargeUnary(*stub_); }},
        {"client_compressed_unary", [this] { ClientCompressedUnary(); }},
        {"server_compressed_unary", [this] { ServerCompressedUnary(); }},
        {"client_streaming", [this] { ClientStreaming(); }},
        {"client_compressed_streaming", [this] { ClientCompressedStreaming(); }},
        {"server_streaming", [this] { ServerStreaming(); }},
        {"server_compressed_streaming", [this] { ServerCompressedStreaming(); }},
        {"ping_pong", [this] { PingPong(); }},
        {"empty_stream", [this] { EmptyStream(); }},
        {"custom_metadata", [this] { CustomMetadata(); }},
        {"status_code_and_message", [this] { StatusCodeAndMessage(); }},
        {"special_status_message", [this] { SpecialStatusMessage(); }},
        {"unimplemented_method", [this] { UnimplementedMethod(); }},
        {"unimplemented_service", [this] { UnimplementedService(); }},
        {"cancel_after_begin", [this] { CancelAfterBegin(); }},
        {"cancel_after_first_response", [this] { CancelAfterFirstResponse(); }},
        {"timeout_on_sleeping_server", [this] { TimeoutOnSleepingServer(); }},
        {"rpc_soak", [this] { Soak(false); }},
        {"channel_soak", [this] { Soak(true); }},
    };
  }

 private:
  static SimpleRequest LargeRequest() {
    SimpleRequest req;
    req.set_response_size(kLargeResponseSize);
    req.mutable_payload()->set_body(std::string(kLargeRequestSize, '\0'));
    return req;
  }

  void EmptyUnary() {
    ClientContext ctx;
    Empty resp;
    Status s = stub_->EmptyCall(&ctx, Empty(), &resp);
    Check(s.ok(), "EmptyCall: ", Describe(s));
  }

  void LargeUnary(TestService::Stub& stub) {
    ClientContext ctx;
    SimpleResponse resp;
    Status s = stub.UnaryCall(&ctx, LargeRequest(), &resp);
    Check(s.ok(), "UnaryCall: ", Describe(s));
    Check(IsZeros(resp.payload().body(), kLargeResponseSize), "UnaryCall: payload of ",
          resp.payload().body().size(), " bytes");
  }

  void ClientCompressedUnary() {
    if (!absl::GetFlag(FLAGS_skip_compression_probe)) {
      ClientContext ctx;
      SimpleRequest probe = LargeRequest();
      probe.mutable_expect_compressed()->set_value(true);
      SimpleResponse resp;
      Status s = stub_->UnaryCall(&ctx, probe, &resp);
      Check(s.error_code() == StatusCode::INVALID_ARGUMENT,
            "probe: expected INVALID_ARGUMENT, got ", Describe(s));
    }
    for (bool compressed : {true, false}) {
      ClientContext ctx;
      if (compressed) ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
      SimpleRequest req = LargeRequest();
      req.mutable_expect_compressed()->set_value(compressed);
      SimpleResponse resp;
      Status s = stub_->UnaryCall(&ctx, req, &resp);
      Check(s.ok(), "UnaryCall (compressed=", compressed, "): ", Describe(s));
      Check(IsZeros(resp.payload().body(), kLargeResponseSize), "payload size");
    }
  }

  void ServerCompressedUnary() {
    for (bool compressed : {true, false}) {
      ClientContext ctx;
      SimpleRequest req = LargeRequest();
      req.mutable_response_compressed()->set_value(compressed);
      SimpleResponse resp;
      Status s = stub_->UnaryCall(&ctx, req, &resp);
      Check(s.ok(), "UnaryCall (response_compressed=", compressed, "): ", Describe(s));
      if (compressed) {
        Check(grpc_call_test_only_get_compression_algorithm(ctx.c_call()) > GRPC_COMPRESS_NONE,
              "response_compressed=true: the response has no grpc-encoding");
      }
      Check(WasCompressed(ctx) == compressed, "response_compressed=", compressed,
            ": the message's compressed flag is ", WasCompressed(ctx));
      Check(IsZeros(resp.payload().body(), kLargeResponseSize), "payload size");
    }
  }

  void ClientStreaming() {
    ClientContext ctx;
    StreamingInputCallResponse resp;
    auto writer = stub_->StreamingInputCall(&ctx, &resp);
    for (int size : kRequestSizes) {
      StreamingInputCallRequest req;
      req.mutable_payload()->set_body(std::string(size, '\0'));
      Check(writer->Write(req), "a write failed");
    }
    writer->WritesDone();
    Status s = writer->Finish();
    Check(s.ok(), "StreamingInputCall: ", Describe(s));
    Check(resp.aggregated_payload_size() == 74922, "aggregated ", resp.aggregated_payload_size());
  }

  void ClientCompressedStreaming() {
    if (!absl::GetFlag(FLAGS_skip_compression_probe)) {
      ClientContext ctx;
      StreamingInputCallResponse resp;
      auto writer = stub_->StreamingInputCall(&ctx, &resp);
      StreamingInputCallRequest req;
      req.mutable_expect_compressed()->set_value(true);
      req.mutable_payload()->set_body(std::string(27182, '\0'));
      writer->Write(req);
      writer->WritesDone();
      Status s = writer->Finish();
      Check(s.error_code() == StatusCode::INVALID_ARGUMENT,
            "probe: expected INVALID_ARGUMENT, got ", Describe(s));
    }
    ClientContext ctx;
    ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
    StreamingInputCallResponse resp;
    auto writer = stub_->StreamingInputCall(&ctx, &resp);
    StreamingInputCallRequest req;
    req.mutable_expect_compressed()->set_value(true);
    req.mutable_payload()->set_body(std::string(27182, '\0'));
    Check(writer->Write(req), "1st write failed");
    req.mutable_expect_compressed()->set_value(false);
    req.mutable_payload()->set_body(std::string(45904, '\0'));
    Check(writer->Write(req, grpc::WriteOptions().set_no_compression()), "2nd write failed");
    writer->WritesDone();
    Status s = writer->Finish();
    Check(s.ok(), "StreamingInputCall: ", Describe(s));
    Check(resp.aggregated_payload_size() == 73086, "aggregated ", resp.aggregated_payload_size());
  }

  void ServerStreaming() {
    ClientContext ctx;
    StreamingOutputCallRequest req;
    for (int size : kResponseSizes) req.add_response_parameters()->set_size(size);
    auto reader = stub_->StreamingOutputCall(&ctx, req);
    StreamingOutputCallResponse resp;
    size_t n = 0;
    while (reader->Read(&resp)) {
      Check(n < kResponseSizes.size(), "too many responses");
      Check(IsZeros(resp.payload().body(), kResponseSizes[n]), "response ", n, " size ",
            resp.payload().body().size());
      ++n;
    }
    Status s = reader->Finish();
    Check(s.ok(), "StreamingOutputCall: ", Describe(s));
    Check(n == kResponseSizes.size(), n, " responses");
  }

  void ServerCompressedStreaming() {
    ClientContext ctx;
    StreamingOutputCallRequest req;
    auto* p = req.add_response_parameters();
    p->mutable_compressed()->set_value(true);
    p->set_size(31415);
    p = req.add_response_parameters();
    p->mutable_compressed()->set_value(false);
    p->set_size(92653);
    auto reader = stub_->StreamingOutputCall(&ctx, req);
    const std::vector<std::pair<bool, int>> want = {{true, 31415}, {false, 92653}};
    StreamingOutputCallResponse resp;
    size_t n = 0;
    while (reader->Read(&resp)) {
      Check(n < want.size(), "too many responses");
      Check(WasCompressed(ctx) == want[n].first, "response ", n, ": compressed flag ",
            WasCompressed(ctx));
      Check(IsZeros(resp.payload().body(), want[n].second), "response ", n, " size");
      ++n;
    }
    Status s = reader->Finish();
    Check(s.ok(), "StreamingOutputCall: ", Describe(s));
    Check(n == want.size(), n, " responses");
  }

  void PingPong() {
    ClientContext ctx;
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallResponse resp;
    for (size_t i = 0; i < kRequestSizes.size(); ++i) {
      StreamingOutputCallRequest req;
      req.add_response_parameters()->set_size(kResponseSizes[i]);
      req.mutable_payload()->set_body(std::string(kRequestSizes[i], '\0'));
      Check(stream->Write(req), "write ", i, " failed");
      Check(stream->Read(&resp), "no response ", i);
      Check(IsZeros(resp.payload().body(), kResponseSizes[i]), "response ", i, " size");
    }
    stream->WritesDone();
    Check(!stream->Read(&resp), "an extra response");
    Status s = stream->Finish();
    Check(s.ok(), "FullDuplexCall: ", Describe(s));
  }

  void EmptyStream() {
    ClientContext ctx;
    auto stream = stub_->FullDuplexCall(&ctx);
    stream->WritesDone();
    StreamingOutputCallResponse resp;
    Check(!stream->Read(&resp), "unexpected response");
    Status s = stream->Finish();
    Check(s.ok(), "FullDuplexCall: ", Describe(s));
  }

  void CheckEchoedMetadata(const char* what, ClientContext& ctx) {
    const auto& initial = ctx.GetServerInitialMetadata();
    const auto& trailing = ctx.GetServerTrailingMetadata();
    auto i = initial.find("x-grpc-test-echo-initial");
    Check(i != initial.end() && std::string(i->second.data(), i->second.size()) ==
                                    "test_initial_metadata_value",
          what, ": initial metadata not echoed");
    auto t = trailing.find("x-grpc-test-echo-trailing-bin");
    Check(t != trailing.end() && std::string(t->second.data(), t->second.size()) == "\xab\xab\xab",
          what, ": trailing metadata not echoed");
  }

  void CustomMetadata() {
    {
      ClientContext ctx;
      ctx.AddMetadata("x-grpc-test-echo-initial", "test_initial_metadata_value");
      ctx.AddMetadata("x-grpc-test-echo-trailing-bin", "\xab\xab\xab");
      SimpleResponse resp;
      Status s = stub_->UnaryCall(&ctx, LargeRequest(), &resp);
      Check(s.ok(), "UnaryCall: ", Describe(s));
      Check(IsZeros(resp.payload().body(), kLargeResponseSize), "UnaryCall payload");
      CheckEchoedMetadata("UnaryCall", ctx);
    }
    ClientContext ctx;
    ctx.AddMetadata("x-grpc-test-echo-initial", "test_initial_metadata_value");
    ctx.AddMetadata("x-grpc-test-echo-trailing-bin", "\xab\xab\xab");
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.add_response_parameters()->set_size(kLargeResponseSize);
    req.mutable_payload()->set_body(std::string(kLargeRequestSize, '\0'));
    Check(stream->Write(req), "FullDuplexCall: write failed");
    StreamingOutputCallResponse resp;
    Check(stream->Read(&resp) && IsZeros(resp.payload().body(), kLargeResponseSize),
          "FullDuplexCall: no or wrong response");
    stream->WritesDone();
    Check(!stream->Read(&resp), "FullDuplexCall: an extra response");
    Status s = stream->Finish();
    Check(s.ok(), "FullDuplexCall: ", Describe(s));
    CheckEchoedMetadata("FullDuplexCall", ctx);
  }

  void ExpectUnaryStatus(const std::string& message) {
    ClientContext ctx;
    SimpleRequest req;
    req.mutable_response_status()->set_code(2);
    req.mutable_response_status()->set_message(message);
    SimpleResponse resp;
    Status s = stub_->UnaryCall(&ctx, req, &resp);
    Check(s.error_code() == StatusCode::UNKNOWN && s.error_message() == message,
          "UnaryCall: got ", Describe(s));
  }

  void StatusCodeAndMessage() {
    const std::string message = "test status message";
    ExpectUnaryStatus(message);
    ClientContext ctx;
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.mutable_response_status()->set_code(2);
    req.mutable_response_status()->set_message(message);
    stream->Write(req);
    stream->WritesDone();
    StreamingOutputCallResponse resp;
    Check(!stream->Read(&resp), "unexpected response");
    Status s = stream->Finish();
    Check(s.error_code() == StatusCode::UNKNOWN && s.error_message() == message,
          "FullDuplexCall: got ", Describe(s));
  }

  void SpecialStatusMessage() {
    ExpectUnaryStatus(
        "\t\ntest with whitespace\r\nand Unicode BMP \xe2\x98\xba and non-BMP \xf0\x9f\x98\x88\t\n");
  }

  void UnimplementedMethod() {
    ClientContext ctx;
    Empty resp;
    Status s = stub_->UnimplementedCall(&ctx, Empty(), &resp);
    Check(s.error_code() == StatusCode::UNIMPLEMENTED, "got ", Describe(s));
  }

  void UnimplementedService() {
    auto stub = grpc::testing::UnimplementedService::NewStub(channel_);
    ClientContext ctx;
    Empty resp;
    Status s = stub->UnimplementedCall(&ctx, Empty(), &resp);
    Check(s.error_code() == StatusCode::UNIMPLEMENTED, "got ", Describe(s));
  }

  void CancelAfterBegin() {
    ClientContext ctx;
    StreamingInputCallResponse resp;
    auto writer = stub_->StreamingInputCall(&ctx, &resp);
    ctx.TryCancel();
    Status s = writer->Finish();
    Check(s.error_code() == StatusCode::CANCELLED, "got ", Describe(s));
  }

  void CancelAfterFirstResponse() {
    ClientContext ctx;
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.add_response_parameters()->set_size(31415);
    req.mutable_payload()->set_body(std::string(27182, '\0'));
    Check(stream->Write(req), "write failed");
    StreamingOutputCallResponse resp;
    Check(stream->Read(&resp) && IsZeros(resp.payload().body(), 31415), "no first response");
    ctx.TryCancel();
    Status s = stream->Finish();
    Check(s.error_code() == StatusCode::CANCELLED, "got ", Describe(s));
  }

  void TimeoutOnSleepingServer() {
    ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1));
    auto stream = stub_->FullDuplexCall(&ctx);
    StreamingOutputCallRequest req;
    req.mutable_payload()->set_body(std::string(27182, '\0'));
    stream->Write(req);
    Status s = stream->Finish();
    Check(s.error_code() == StatusCode::DEADLINE_EXCEEDED, "got ", Describe(s));
  }

  void Soak(bool new_channel) {
    const int iterations = absl::GetFlag(FLAGS_soak_iterations);
    const auto max_latency = std::chrono::milliseconds(
        absl::GetFlag(FLAGS_soak_per_iteration_max_acceptable_latency_ms));
    int failures = 0;
    std::string last;
    for (int i = 0; i < iterations; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      try {
        if (new_channel) {
          auto stub = TestService::NewStub(make_channel_());
          LargeUnary(*stub);
        } else {
          LargeUnary(*stub_);
        }
        if (std::chrono::steady_clock::now() - t0 > max_latency) {
          ++failures;
          last = absl::StrCat("iteration ", i, " too slow");
        }
      } catch (const Failure& f) {
        ++failures;
        last = absl::StrCat("iteration ", i, ": ", f.why);
      }
    }
    Check(failures <= absl::GetFlag(FLAGS_soak_max_failures), failures, " failures; last: ", last);
  }

  std::function<std::shared_ptr<grpc::Channel>()> make_channel_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<TestService::Stub> stub_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int port = absl::GetFlag(FLAGS_server_port);
  std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    if (port <= 0) {
      std::fprintf(stderr, "grpcpp_interop_client: --server_port or --target is required\n");
      return 2;
    }
    target = absl::StrCat(absl::GetFlag(FLAGS_server_host), ":", port);
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  const std::string override_host = absl::GetFlag(FLAGS_server_host_override);
  if (absl::GetFlag(FLAGS_use_tls)) {
    grpc::SslCredentialsOptions ssl;
    if (absl::GetFlag(FLAGS_use_test_ca)) {
      std::string ca = absl::GetFlag(FLAGS_ca_file);
      if (ca.empty()) {
        const char* env = std::getenv("INTEROP_CA_FILE");
        ca = env != nullptr && *env != '\0' ? env
                                            : h2rpc::interop::Runfile(argv[0], "tests/testdata/tls/ca.pem");
      }
      ssl.pem_root_certs = ReadFile(ca);
    }
    creds = grpc::SslCredentials(ssl);
    if (!override_host.empty()) args.SetSslTargetNameOverride(override_host);
  } else if (!override_host.empty()) {
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, override_host);
  }
  int channel_count = 0;
  auto make_channel = [&] {
    grpc::ChannelArguments a = args;
    // A distinct argument per channel: channel_soak really gets a new connection each time.
    a.SetInt("grpc.interop_channel_number", ++channel_count);
    return grpc::CreateCustomChannel(target, creds, a);
  };
  Client client(make_channel);
  auto cases = client.Cases();
  std::vector<std::string> names;
  const std::string test_case = absl::GetFlag(FLAGS_test_case);
  if (test_case == "all") {
    names = {"empty_unary", "large_unary", "client_compressed_unary", "server_compressed_unary",
             "client_streaming", "client_compressed_streaming", "server_streaming",
             "server_compressed_streaming", "ping_pong", "empty_stream", "custom_metadata",
             "status_code_and_message", "special_status_message", "unimplemented_method",
             "unimplemented_service", "cancel_after_begin", "cancel_after_first_response",
             "timeout_on_sleeping_server", "rpc_soak", "channel_soak"};
  } else {
    names = absl::StrSplit(test_case, ',', absl::SkipEmpty());
  }
  int failed = 0;
  for (const std::string& name : names) {
    auto it = cases.find(name);
    if (it == cases.end()) {
      std::fprintf(stderr, "grpcpp_interop_client: unknown --test_case '%s'\n", name.c_str());
      return 2;
    }
    try {
      it->second();
      std::printf("PASS %s\n", name.c_str());
    } catch (const Failure& f) {
      ++failed;
      std::printf("FAIL %s: %s\n", name.c_str(), f.why.c_str());
    }
    std::fflush(stdout);
  }
  return failed == 0 ? 0 : 1;
}
