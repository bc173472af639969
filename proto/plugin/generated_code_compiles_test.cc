// proto/plugin/generated_code_compiles_test.cc — the code protoc-gen-h2rpc generates, compiled
// against rpc/ and used without a server or a connection: service subclasses override the
// generated methods, the defaults answer UNIMPLEMENTED, every method is registered with its path
// and kind, and the stubs have the documented types. The wire behaviour is rpc/'s tests' job.
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpc/testing/benchmark_service.h2rpc.h"
#include "grpc/testing/test.h2rpc.h"
#include "gtest/gtest.h"
#include "proto/plugin/testdata/imported.h2rpc.h"
#include "proto/plugin/testdata/keywords.h2rpc.h"
#include "proto/plugin/testdata/test_service.h2rpc.h"

namespace {

using ::h2rpc::rpc::CallOptions;
using ::h2rpc::rpc::ClientReader;
using ::h2rpc::rpc::ClientReaderWriter;
using ::h2rpc::rpc::ClientWriter;
using ::h2rpc::rpc::MethodKind;
using ::h2rpc::rpc::ServerContext;
using ::h2rpc::rpc::ServerReader;
using ::h2rpc::rpc::ServerReaderWriter;
using ::h2rpc::rpc::ServerWriter;
using ::h2rpc::rpc::Task;
using ::h2rpc::test::v1::BlobService;
using ::h2rpc::test::v1::EchoRequest;
using ::h2rpc::test::v1::EchoResponse;
using ::h2rpc::test::v1::EchoService;

// Runs a task that finishes without waiting for anything (no loop needed) and returns its value.
template <typename T>
T RunNow(Task<T> task) {
  std::optional<T> result;
  std::exception_ptr error;
  task.Start([&result](T value) { result.emplace(std::move(value)); },
             [&error](std::exception_ptr e) { error = e; });
  if (error) std::rethrow_exception(error);
  if (!result) ADD_FAILURE() << "the task did not finish at once";
  return result ? std::move(*result) : T(absl::InternalError("unfinished"));
}

// Handlers never touch the call here, so the stream objects need none.
struct NoCall {
  ServerContext context{nullptr};
  ServerReader<EchoRequest> reader{nullptr};
  ServerWriter<EchoResponse> writer{nullptr};
  ServerReaderWriter<EchoResponse, EchoRequest> stream{nullptr};
};

TEST(GeneratedServiceTest, DefaultsAnswerUnimplementedWithTheMethodPath) {
  EchoService::Service service;
  NoCall call;
  EchoRequest request;

  absl::StatusOr<EchoResponse> unary = RunNow(service.Echo(call.context, request));
  EXPECT_EQ(unary.status(),
            absl::UnimplementedError("Method not implemented: /h2rpc.test.v1.EchoService/Echo"));
  absl::StatusOr<EchoResponse> client_streaming =
      RunNow(service.CollectEchoes(call.context, call.reader));
  EXPECT_EQ(client_streaming.status().code(), absl::StatusCode::kUnimplemented);
  absl::Status server_streaming = RunNow(service.ExpandEcho(call.context, request, call.writer));
  EXPECT_EQ(server_streaming, absl::UnimplementedError(
                                  "Method not implemented: /h2rpc.test.v1.EchoService/ExpandEcho"));
  absl::Status bidi = RunNow(service.ChatEcho(call.context, call.stream));
  EXPECT_EQ(bidi.code(), absl::StatusCode::kUnimplemented);
}

TEST(GeneratedServiceTest, RegistersEveryMethodWithItsPathAndKind) {
  EchoService::Service service;
  EXPECT_EQ(service.name(), "h2rpc.test.v1.EchoService");
  EXPECT_STREQ(EchoService::kServiceName, "h2rpc.test.v1.EchoService");
  const auto& methods = service.methods();
  ASSERT_EQ(methods.size(), 4u);
  EXPECT_EQ(methods.at("/h2rpc.test.v1.EchoService/Echo").kind, MethodKind::kUnary);
  EXPECT_EQ(methods.at("/h2rpc.test.v1.EchoService/CollectEchoes").kind,
            MethodKind::kClientStreaming);
  EXPECT_EQ(methods.at("/h2rpc.test.v1.EchoService/ExpandEcho").kind, MethodKind::kServerStreaming);
  EXPECT_EQ(methods.at("/h2rpc.test.v1.EchoService/ChatEcho").kind, MethodKind::kBidiStreaming);

  BlobService::Service blobs;
  EXPECT_EQ(blobs.name(), "h2rpc.test.v1.BlobService");
  EXPECT_EQ(blobs.methods().size(), 4u);
  EXPECT_EQ(blobs.methods().at("/h2rpc.test.v1.BlobService/Put").kind,
            MethodKind::kClientStreaming);
}

// A service as users write it: overrides with `override`, coroutines, the base for the rest.
class EchoImpl : public EchoService::Service {
 public:
  Task<absl::StatusOr<EchoResponse>> Echo(ServerContext& context,
                                          const EchoRequest& request) override {
    EchoResponse response;
    response.set_message("echo: " + request.message());
    co_return response;
  }
  Task<absl::Status> ExpandEcho(ServerContext& context, const EchoRequest& request,
                                ServerWriter<EchoResponse>& writer) override {
    co_return absl::OkStatus();
  }
};

TEST(GeneratedServiceTest, OverridesReplaceTheDefaults) {
  EchoImpl impl;
  EchoService::Service& service = impl;
  NoCall call;
  EchoRequest request;
  request.set_message("hi");
  absl::StatusOr<EchoResponse> response = RunNow(service.Echo(call.context, request));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->message(), "echo: hi");
  EXPECT_TRUE(RunNow(service.ExpandEcho(call.context, request, call.writer)).ok());
  EXPECT_EQ(RunNow(service.CollectEchoes(call.context, call.reader)).status().code(),
            absl::StatusCode::kUnimplemented);
}

// The stub's methods, as documented in generator.h and rpc/client.h.
using Stub = EchoService::Stub;
static_assert(std::is_constructible_v<Stub, std::shared_ptr<::h2rpc::rpc::Channel>>);
static_assert(!std::is_convertible_v<std::shared_ptr<::h2rpc::rpc::Channel>, Stub>);
static_assert(std::is_same_v<decltype(std::declval<Stub&>().Echo(std::declval<EchoRequest>())),
                             Task<absl::StatusOr<EchoResponse>>>);
static_assert(std::is_same_v<decltype(std::declval<Stub&>().Echo(std::declval<EchoRequest>(),
                                                                 std::declval<CallOptions>())),
                             Task<absl::StatusOr<EchoResponse>>>);
static_assert(
    std::is_same_v<decltype(std::declval<Stub&>().EchoBlocking(std::declval<EchoRequest>())),
                   absl::StatusOr<EchoResponse>>);
static_assert(std::is_same_v<decltype(std::declval<Stub&>().CollectEchoes()),
                             std::unique_ptr<ClientWriter<EchoRequest, EchoResponse>>>);
static_assert(
    std::is_same_v<decltype(std::declval<Stub&>().ExpandEcho(std::declval<EchoRequest>())),
                   std::unique_ptr<ClientReader<EchoResponse>>>);
static_assert(std::is_same_v<decltype(std::declval<Stub&>().ChatEcho()),
                             std::unique_ptr<ClientReaderWriter<EchoRequest, EchoResponse>>>);
// The blocking variants of the streaming kinds (rpc/client_blocking.h).
static_assert(std::is_same_v<decltype(std::declval<Stub&>().CollectEchoesBlocking()),
                             std::unique_ptr<::h2rpc::rpc::BlockingClientWriter<EchoRequest,
                                                                                EchoResponse>>>);
static_assert(std::is_same_v<
              decltype(std::declval<Stub&>().ExpandEchoBlocking(std::declval<EchoRequest>())),
              std::unique_ptr<::h2rpc::rpc::BlockingClientReader<EchoResponse>>>);
static_assert(
    std::is_same_v<decltype(std::declval<Stub&>().ChatEchoBlocking(std::declval<CallOptions>())),
                   std::unique_ptr<::h2rpc::rpc::BlockingClientReaderWriter<EchoRequest,
                                                                            EchoResponse>>>);
static_assert(std::is_same_v<decltype(std::declval<BlobService::Stub&>().Put()),
                             std::unique_ptr<ClientWriter<::h2rpc::test::shared::Payload_Chunk,
                                                          ::google::protobuf::Empty>>>);

TEST(GeneratedStubTest, IsMadeFromAChannel) {
  Stub stub(nullptr);
  BlobService::Stub blobs(nullptr);
  (void)stub;
  (void)blobs;
}

// keywords.proto: escaped names, and methods named like the generated parameters.
namespace kw = ::h2rpc::test::keywords;

class KeywordImpl : public kw::Service_::Service {
 public:
  Task<absl::StatusOr<kw::Plain>> name_(ServerContext& context, const kw::Plain& request) override {
    co_return kw::Plain();
  }
  Task<absl::Status> stream(ServerContext& context,
                            ServerReaderWriter<kw::Plain, kw::Plain>& stream) override {
    co_return absl::OkStatus();
  }
};

TEST(GeneratedKeywordsTest, EscapedNamesKeepTheProtoPaths) {
  kw::class_::Service keywords;
  EXPECT_EQ(keywords.name(), "h2rpc.test.keywords.class");
  EXPECT_EQ(keywords.methods().at("/h2rpc.test.keywords.class/delete").kind, MethodKind::kUnary);
  EXPECT_EQ(keywords.methods().at("/h2rpc.test.keywords.class/co_await").kind,
            MethodKind::kBidiStreaming);

  KeywordImpl impl;
  EXPECT_EQ(impl.name(), "h2rpc.test.keywords.Service");  // the base's name() is not hidden
  EXPECT_EQ(impl.methods().size(), 6u);
  ServerContext context(nullptr);
  EXPECT_TRUE(RunNow(impl.name_(context, kw::Plain())).ok());
  EXPECT_EQ(RunNow(impl.context(context, kw::Plain())).status().code(),
            absl::StatusCode::kUnimplemented);

  kw::Stub_::Service stub_service;
  EXPECT_EQ(stub_service.methods().count("/h2rpc.test.keywords.Stub/Service"), 1u);
  kw::Stub_::Stub stub(nullptr);
  (void)stub;
  static_assert(std::is_same_v<decltype(std::declval<kw::class_::Stub&>().deleteBlocking(
                                   std::declval<kw::new_>())),
                               absl::StatusOr<kw::Plain>>);
}

// gRPC's interop and benchmark services.
TEST(GeneratedGrpcTestingTest, InteropAndBenchmarkServices) {
  grpc::testing::TestService::Service test_service;
  EXPECT_EQ(test_service.methods().size(), 8u);
  EXPECT_EQ(test_service.methods().at("/grpc.testing.TestService/FullDuplexCall").kind,
            MethodKind::kBidiStreaming);
  grpc::testing::UnimplementedService::Service unimplemented;
  grpc::testing::ReconnectService::Service reconnect;
  grpc::testing::XdsUpdateHealthService::Service xds_health;
  grpc::testing::XdsUpdateClientConfigureService::Service xds_configure;
  grpc::testing::LoadBalancerStatsService::Service lb_stats;
  EXPECT_EQ(unimplemented.name(), "grpc.testing.UnimplementedService");
  EXPECT_EQ(reconnect.methods().size(), 2u);
  EXPECT_EQ(xds_health.methods().size(), 2u);
  EXPECT_EQ(xds_configure.methods().size(), 1u);
  EXPECT_EQ(lb_stats.methods().size(), 2u);

  grpc::testing::BenchmarkService::Service benchmark;
  EXPECT_EQ(benchmark.methods().size(), 5u);
  grpc::testing::TestService::Stub test_stub(nullptr);
  grpc::testing::BenchmarkService::Stub benchmark_stub(nullptr);
  (void)test_stub;
  (void)benchmark_stub;
}

}  // namespace
