// grpcpp_interop_server: gRPC's interop test server on gRPC C++ 1.51 (Debian's libgrpc++), the
// reference peer for h2rpc's interop_client. It follows grpc/grpc test/cpp/interop/
// interop_server.cc (v1.51), including its compression checks: `expect_compressed` is verified
// against the request's grpc-encoding and the per-message compressed flag, through the same
// test-only C-core accessors the official server uses (InteropServerContextInspector).
//
//   grpcpp_interop_server --port=0 [--use_tls [--tls_cert_file=... --tls_key_file=...]]
//
// Prints "listening PORT"; SIGTERM/SIGINT stop it.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpc/compression.h>
#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "grpc/testing/test.grpc.pb.h"
#include "tests/interop/grpc/runfiles.h"

// C-core's test-only accessors (src/core/lib/surface/call.h), exported by libgrpc.so.
uint32_t grpc_call_test_only_get_message_flags(grpc_call* call);
grpc_compression_algorithm grpc_call_test_only_get_compression_algorithm(grpc_call* call);
#define GRPC_WRITE_INTERNAL_COMPRESS (0x80000000u)
#define GRPC_WRITE_INTERNAL_TEST_ONLY_WAS_COMPRESSED (0x40000000u)

ABSL_FLAG(int, port, 0, "Server port (0: pick one; printed as 'listening PORT').");
ABSL_FLAG(std::string, listen, "", "Instead of --port, a gRPC listen address (unix:path, [::]:0, ...).");
ABSL_FLAG(bool, print_authority, false, "EmptyCall prints 'authority <:authority>'.");
ABSL_FLAG(bool, use_tls, false, "Whether to use TLS.");
ABSL_FLAG(int, min_ping_interval_ms, -1,
          "GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS (-1: gRPC's default, 5 min); "
          "not an official flag (keepalive_interop_test.sh).");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate (default: tests/testdata/tls/server.pem).");
ABSL_FLAG(std::string, tls_key_file, "", "PEM key (default: tests/testdata/tls/server.key).");

namespace {

using grpc::ServerContext;
using grpc::ServerReader;
using grpc::ServerReaderWriter;
using grpc::ServerWriter;
using grpc::Status;
using grpc::StatusCode;
using grpc::WriteOptions;
using grpc::testing::Empty;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;
using grpc::testing::StreamingInputCallRequest;
using grpc::testing::StreamingInputCallResponse;
using grpc::testing::StreamingOutputCallRequest;
using grpc::testing::StreamingOutputCallResponse;

const char kEchoInitialMetadataKey[] = "x-grpc-test-echo-initial";
const char kEchoTrailingBinMetadataKey[] = "x-grpc-test-echo-trailing-bin";
const char kEchoUserAgentKey[] = "x-grpc-test-echo-useragent";

void MaybeEchoMetadata(ServerContext* context) {
  const auto& client_metadata = context->client_metadata();
  auto iter = client_metadata.find(kEchoInitialMetadataKey);
  if (iter != client_metadata.end()) {
    context->AddInitialMetadata(kEchoInitialMetadataKey,
                                std::string(iter->second.begin(), iter->second.end()));
  }
  iter = client_metadata.find(kEchoTrailingBinMetadataKey);
  if (iter != client_metadata.end()) {
    context->AddTrailingMetadata(kEchoTrailingBinMetadataKey,
                                 std::string(iter->second.begin(), iter->second.end()));
  }
  iter = client_metadata.find(kEchoUserAgentKey);
  if (iter != client_metadata.end()) {
    iter = client_metadata.find("user-agent");
    if (iter != client_metadata.end()) {
      context->AddInitialMetadata(kEchoUserAgentKey,
                                  std::string(iter->second.begin(), iter->second.end()));
    }
  }
}

bool WasCompressed(ServerContext* context) {
  const uint32_t flags = grpc_call_test_only_get_message_flags(context->c_call());
  return (flags & GRPC_WRITE_INTERNAL_COMPRESS) ||
         (flags & GRPC_WRITE_INTERNAL_TEST_ONLY_WAS_COMPRESSED);
}

// The official CheckExpectedCompression: the request must be compressed iff expected.
bool CheckExpectedCompression(ServerContext* context, bool compression_expected) {
  const grpc_compression_algorithm received =
      grpc_call_test_only_get_compression_algorithm(context->c_call());
  if (compression_expected) {
    if (received == GRPC_COMPRESS_NONE) {
      std::fprintf(stderr, "Expected compression but got uncompressed request from client.\n");
      return false;
    }
    if (!WasCompressed(context)) {
      std::fprintf(stderr, "Requested compression in a compressable request, but the "
                           "compression bit in the message flags is not set.\n");
      return false;
    }
  } else if (WasCompressed(context)) {
    std::fprintf(stderr, "Didn't request compression, but the compression bit is set.\n");
    return false;
  }
  return true;
}

void SleepUs(int us) {
  if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
}

class TestServiceImpl : public grpc::testing::TestService::Service {
 public:
  Status EmptyCall(ServerContext* context, const Empty*, Empty*) override {
    MaybeEchoMetadata(context);
    if (absl::GetFlag(FLAGS_print_authority)) {
      const grpc::string_ref authority = context->ExperimentalGetAuthority();
      std::printf("authority %.*s\n", static_cast<int>(authority.size()), authority.data());
      std::fflush(stdout);
    }
    return Status::OK;
  }

  Status CacheableUnaryCall(ServerContext* context, const SimpleRequest*,
                            SimpleResponse* response) override {
    const std::string timestamp =
        std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    response->mutable_payload()->set_body(timestamp);
    context->AddInitialMetadata("cache-control", "max-age=60, public");
    return Status::OK;
  }

  Status UnaryCall(ServerContext* context, const SimpleRequest* request,
                   SimpleResponse* response) override {
    MaybeEchoMetadata(context);
    if (request->has_response_compressed()) {
      context->set_compression_level(request->response_compressed().value()
                                         ? GRPC_COMPRESS_LEVEL_HIGH
                                         : GRPC_COMPRESS_LEVEL_NONE);
    }
    if (!CheckExpectedCompression(context, request->expect_compressed().value())) {
      return Status(StatusCode::INVALID_ARGUMENT, "Compressed request expectation not met.");
    }
    if (request->response_size() > 0) {
      response->mutable_payload()->set_body(std::string(request->response_size(), '\0'));
    }
    if (request->has_response_status()) {
      return Status(static_cast<StatusCode>(request->response_status().code()),
                    request->response_status().message());
    }
    return Status::OK;
  }

  Status StreamingOutputCall(ServerContext* context, const StreamingOutputCallRequest* request,
                             ServerWriter<StreamingOutputCallResponse>* writer) override {
    StreamingOutputCallResponse response;
    bool write_success = true;
    for (int i = 0; write_success && i < request->response_parameters_size(); i++) {
      const auto& params = request->response_parameters(i);
      response.mutable_payload()->set_body(std::string(params.size(), '\0'));
      WriteOptions wopts;
      if (params.has_compressed()) {
        // Compress by default, disabled per message.
        context->set_compression_level(GRPC_COMPRESS_LEVEL_HIGH);
        if (!params.compressed().value()) wopts.set_no_compression();
      }
      SleepUs(params.interval_us());
      write_success = writer->Write(response, wopts);
    }
    return write_success ? Status::OK
                         : Status(StatusCode::INTERNAL, "Error writing response.");
  }

  Status StreamingInputCall(ServerContext* context,
                            ServerReader<StreamingInputCallRequest>* reader,
                            StreamingInputCallResponse* response) override {
    StreamingInputCallRequest request;
    int aggregated_payload_size = 0;
    while (reader->Read(&request)) {
      if (!CheckExpectedCompression(context, request.expect_compressed().value())) {
        return Status(StatusCode::INVALID_ARGUMENT, "Compressed request expectation not met.");
      }
      if (request.has_payload()) aggregated_payload_size += request.payload().body().size();
    }
    response->set_aggregated_payload_size(aggregated_payload_size);
    return Status::OK;
  }

  Status FullDuplexCall(
      ServerContext* context,
      ServerReaderWriter<StreamingOutputCallResponse, StreamingOutputCallRequest>* stream)
      override {
    MaybeEchoMetadata(context);
    StreamingOutputCallRequest request;
    StreamingOutputCallResponse response;
    bool write_success = true;
    while (write_success && stream->Read(&request)) {
      if (request.has_response_status()) {
        return Status(static_cast<StatusCode>(request.response_status().code()),
                      request.response_status().message());
      }
      if (request.response_parameters_size() != 0) {
        response.mutable_payload()->set_body(
            std::string(request.response_parameters(0).size(), '\0'));
        SleepUs(request.response_parameters(0).interval_us());
        write_success = stream->Write(response);
      }
    }
    return write_success ? Status::OK
                         : Status(StatusCode::INTERNAL, "Error writing response.");
  }

  Status HalfDuplexCall(
      ServerContext*,
      ServerReaderWriter<StreamingOutputCallResponse, StreamingOutputCallRequest>* stream)
      override {
    std::vector<StreamingOutputCallRequest> requests;
    StreamingOutputCallRequest request;
    while (stream->Read(&request)) requests.push_back(request);
    StreamingOutputCallResponse response;
    bool write_success = true;
    for (size_t i = 0; write_success && i < requests.size(); i++) {
      if (requests[i].response_parameters_size() == 0) {
        return Status(StatusCode::INTERNAL, "Request does not have response parameters.");
      }
      response.mutable_payload()->set_body(
          std::string(requests[i].response_parameters(0).size(), '\0'));
      write_success = stream->Write(response);
    }
    return write_success ? Status::OK
                         : Status(StatusCode::INTERNAL, "Error writing response.");
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::atomic<bool> g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (absl::GetFlag(FLAGS_use_tls)) {
    std::string cert = absl::GetFlag(FLAGS_tls_cert_file);
    std::string key = absl::GetFlag(FLAGS_tls_key_file);
    if (cert.empty()) cert = h2rpc::interop::Runfile(argv[0], "tests/testdata/tls/server.pem");
    if (key.empty()) key = h2rpc::interop::Runfile(argv[0], "tests/testdata/tls/server.key");
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({ReadFile(key), ReadFile(cert)});
    creds = grpc::SslServerCredentials(ssl);
  }
  TestServiceImpl service;
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(
      listen.empty() ? absl::StrCat("0.0.0.0:", absl::GetFlag(FLAGS_port)) : listen, creds, &port);
  builder.RegisterService(&service);
  if (absl::GetFlag(FLAGS_min_ping_interval_ms) >= 0) {
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                               absl::GetFlag(FLAGS_min_ping_interval_ms));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "grpcpp_interop_server: cannot listen on port %d\n",
                 absl::GetFlag(FLAGS_port));
    return 1;
  }
  std::printf("listening %d\n", port);
  std::fflush(stdout);
  signal(SIGTERM, [](int) { g_stop = true; });
  signal(SIGINT, [](int) { g_stop = true; });
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  return 0;
}
