// proto/plugin/generated_code_e2e_test.cc — generated services and stubs talking to each other
// over loopback TCP through rpc::Server and rpc::Channel: the four kinds of calls, the blocking
// unary variant, response metadata through a ClientContext, and the UNIMPLEMENTED default of a
// method nobody overrides.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "proto/plugin/testdata/test_service.h2rpc.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/status_details.h"

namespace {

using ::h2rpc::rpc::BlockOn;
using ::h2rpc::rpc::CallOptions;
using ::h2rpc::rpc::Channel;
using ::h2rpc::rpc::ClientContext;
using ::h2rpc::rpc::Server;
using ::h2rpc::rpc::ServerContext;
using ::h2rpc::rpc::ServerReader;
using ::h2rpc::rpc::ServerReaderWriter;
using ::h2rpc::rpc::ServerWriter;
using ::h2rpc::rpc::Task;
using ::h2rpc::test::v1::BlobService;
using ::h2rpc::test::v1::EchoRequest;
using ::h2rpc::test::v1::EchoResponse;
using ::h2rpc::test::v1::EchoService;

EchoRequest Request(std::string message, int repeat = 0) {
  EchoRequest request;
  request.set_message(std::move(message));
  if (repeat > 0) request.set_repeat(repeat);
  return request;
}

EchoResponse Response(std::string message) {
  EchoResponse response;
  response.set_message(std::move(message));
  return response;
}

class EchoImpl : public EchoService::Service {
 public:
  // Metadata: "meta" answers with response headers and trailers, "fail" with trailers and an
  // error with details (sent Trailers-Only: no response headers).
  Task<absl::StatusOr<EchoResponse>> Echo(ServerContext& context,
                                          const EchoRequest& request) override {
    if (request.message() == "meta" || request.message() == "fail") {
      auto echoed = context.client_metadata().GetFirst("x-echo-me");
      EXPECT_TRUE(context.trailing_metadata().Add("x-trailer", echoed.value_or("none")).ok());
      EXPECT_TRUE(context.trailing_metadata().Add("x-trailer-bin", std::string("\0\xff", 2)).ok());
    }
    if (request.message() == "meta") {
      EXPECT_TRUE(context.initial_metadata().Add("x-header", "early").ok());
    }
    if (request.message() == "fail") {
      google::rpc::ErrorInfo info;
      info.set_reason("NO_LUCK");
      co_return h2rpc::rpc::ErrorWithDetails(absl::StatusCode::kFailedPrecondition, "no luck",
                                             info);
    }
    co_return Response("echo: " + request.message());
  }

  Task<absl::StatusOr<EchoResponse>> CollectEchoes(ServerContext& context,
                                                   ServerReader<EchoRequest>& reader) override {
    std::string all;
    while (std::optional<EchoRequest> request = co_await reader.Read()) all += request->message();
    co_return Response(all);
  }

  Task<absl::Status> ExpandEcho(ServerContext& context, const EchoRequest& request,
                                ServerWriter<EchoResponse>& writer) override {
    for (int i = 0; i < request.repeat(); ++i) {
      if (!co_await writer.Write(Response(request.message() + std::to_string(i)))) {
        co_return absl::CancelledError("the client went away");
      }
    }
    co_return absl::OkStatus();
  }

  Task<absl::Status> ChatEcho(ServerContext& context,
                              ServerReaderWriter<EchoResponse, EchoRequest>& stream) override {
    while (std::optional<EchoRequest> request = co_await stream.Read()) {
      if (!co_await stream.Write(Response("re: " + request->message()))) break;
    }
    co_return absl::OkStatus();
  }
};

class GeneratedCodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(&loop_);
    server_->RegisterService(&echo_);
    server_->RegisterService(&blobs_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override {
    channel_->Close();
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }

  h2rpc::transport::UvLoop loop_;
  EchoImpl echo_;
  BlobService::Service blobs_;  // overrides nothing
  std::unique_ptr<Server> server_;
  std::shared_ptr<Channel> channel_;
};

TEST_F(GeneratedCodeTest, UnaryBlocking) {
  EchoService::Stub stub(channel_);
  absl::StatusOr<EchoResponse> response = stub.EchoBlocking(Request("hello"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->message(), "echo: hello");
}

TEST_F(GeneratedCodeTest, UnaryAwaitedWithOptions) {
  EchoService::Stub stub(channel_);
  auto body = [&]() -> Task<absl::StatusOr<EchoResponse>> {
    CallOptions options;
    options.timeout = absl::Seconds(5);
    EchoRequest request = Request("there");
    co_return co_await stub.Echo(request, std::move(options));
  };
  absl::StatusOr<EchoResponse> response = BlockOn(&loop_, body());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->message(), "echo: there");
}

CallOptions EchoMe(std::string value) {
  CallOptions options;
  EXPECT_TRUE(options.metadata.Add("x-echo-me", value).ok());
  return options;
}

TEST_F(GeneratedCodeTest, UnaryWithContextSeesHeadersTrailersAndPeer) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  auto body = [&]() -> Task<absl::StatusOr<EchoResponse>> {
    co_return co_await stub.Echo(&context, Request("meta"), EchoMe("v1"));
  };
  absl::StatusOr<EchoResponse> response = BlockOn(&loop_, body());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->message(), "echo: meta");
  EXPECT_TRUE(context.status().ok());
  EXPECT_EQ(context.initial_metadata().GetFirst("x-header"), "early");
  EXPECT_FALSE(context.initial_metadata().Contains("x-trailer"));
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-trailer"), "v1");
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-trailer-bin"), std::string("\0\xff", 2));
  EXPECT_FALSE(context.trailing_metadata().Contains("x-header"));
  EXPECT_EQ(context.peer(), "127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_FALSE(context.response_compressed());
}

TEST_F(GeneratedCodeTest, UnaryErrorKeepsTrailersAndDetailsInContext) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  auto body = [&]() -> Task<absl::StatusOr<EchoResponse>> {
    co_return co_await stub.Echo(&context, Request("fail"), EchoMe("v2"));
  };
  absl::StatusOr<EchoResponse> response = BlockOn(&loop_, body());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(context.status(), response.status());
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-trailer"), "v2");
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-trailer-bin"), std::string("\0\xff", 2));
  auto info = h2rpc::rpc::GetStatusDetail<google::rpc::ErrorInfo>(context.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "NO_LUCK");
  EXPECT_TRUE(context.initial_metadata().empty());  // Trailers-Only
}

// The blocking form; a context reused for a second call shows that call's metadata only.
TEST_F(GeneratedCodeTest, UnaryBlockingWithContextAndReuse) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  absl::StatusOr<EchoResponse> response =
      stub.EchoBlocking(&context, Request("meta"), EchoMe("b1"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(context.initial_metadata().GetFirst("x-header"), "early");
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-trailer"), "b1");

  response = stub.EchoBlocking(&context, Request("plain"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_FALSE(context.initial_metadata().Contains("x-header"));
  EXPECT_FALSE(context.trailing_metadata().Contains("x-trailer"));

  response = stub.EchoBlocking(&context, Request("fail"), EchoMe("b2"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(context.status(), response.status());
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-trailer"), "b2");
}

// A blocking call that cannot run (from the loop's own thread) still says why in the context.
TEST_F(GeneratedCodeTest, UnaryBlockingOnLoopThreadFillsContext) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  auto body = [&]() -> Task<absl::StatusOr<EchoResponse>> {
    co_return stub.EchoBlocking(&context, Request("meta"));
  };
  absl::StatusOr<EchoResponse> response = BlockOn(&loop_, body());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(context.status(), response.status());
  EXPECT_TRUE(context.peer().empty());
}

TEST_F(GeneratedCodeTest, ClientStreaming) {
  EchoService::Stub stub(channel_);
  auto body = [&]() -> Task<absl::StatusOr<EchoResponse>> {
    auto writer = stub.CollectEchoes();
    for (const char* part : {"a", "b", "c"}) {
      if (!co_await writer->Write(Request(part))) break;
    }
    co_return co_await writer->Finish();
  };
  absl::StatusOr<EchoResponse> response = BlockOn(&loop_, body());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->message(), "abc");
}

TEST_F(GeneratedCodeTest, ServerStreaming) {
  EchoService::Stub stub(channel_);
  auto body = [&]() -> Task<std::vector<std::string>> {
    // The stub writes the request without awaiting the write: the request object may go away.
    auto reader = stub.ExpandEcho(Request("tick", 3));
    std::vector<std::string> got;
    while (std::optional<EchoResponse> response = co_await reader->Read()) {
      got.push_back(response->message());
    }
    absl::Status status = co_await reader->Finish();
    EXPECT_TRUE(status.ok()) << status;
    co_return got;
  };
  EXPECT_EQ(BlockOn(&loop_, body()), (std::vector<std::string>{"tick0", "tick1", "tick2"}));
}

// Read(&message), gRPC C++'s shape: one message object reused for every read, its storage kept.
TEST_F(GeneratedCodeTest, ServerStreamingIntoOneMessage) {
  EchoService::Stub stub(channel_);
  auto body = [&]() -> Task<std::vector<std::string>> {
    auto reader = stub.ExpandEcho(Request("tick", 3));
    std::vector<std::string> got;
    EchoResponse response;
    response.set_message(std::string(1000, 'x'));  // stale content must not leak into a read
    for (;;) {
      bool more = co_await reader->Read(&response);  // not in the condition: GCC 12.2 (bench/README.md)
      if (!more) break;
      got.push_back(response.message());
    }
    const bool after_end = co_await reader->Read(&response);
    EXPECT_FALSE(after_end);  // stays at the end
    absl::Status status = co_await reader->Finish();
    EXPECT_TRUE(status.ok()) << status;
    co_return got;
  };
  EXPECT_EQ(BlockOn(&loop_, body()), (std::vector<std::string>{"tick0", "tick1", "tick2"}));
}

TEST_F(GeneratedCodeTest, Bidi) {
  EchoService::Stub stub(channel_);
  auto body = [&]() -> Task<std::vector<std::string>> {
    auto chat = stub.ChatEcho();
    std::vector<std::string> got;
    for (const char* message : {"one", "two"}) {
      co_await chat->Write(Request(message));
      if (std::optional<EchoResponse> response = co_await chat->Read()) {
        got.push_back(response->message());
      }
    }
    chat->WritesDone();
    EXPECT_FALSE((co_await chat->Read()).has_value());
    absl::Status status = co_await chat->Finish();
    EXPECT_TRUE(status.ok()) << status;
    co_return got;
  };
  EXPECT_EQ(BlockOn(&loop_, body()), (std::vector<std::string>{"re: one", "re: two"}));
}

TEST_F(GeneratedCodeTest, MethodsNotOverriddenAreUnimplemented) {
  BlobService::Stub stub(channel_);
  absl::StatusOr<google::protobuf::Empty> response = stub.PingBlocking(google::protobuf::Empty());
  EXPECT_EQ(response.status(),
            absl::UnimplementedError("Method not implemented: /h2rpc.test.v1.BlobService/Ping"));

  auto body = [&]() -> Task<absl::Status> {
    auto reader = stub.Get(google::protobuf::Empty());
    EXPECT_FALSE((co_await reader->Read()).has_value());
    co_return co_await reader->Finish();
  };
  EXPECT_EQ(BlockOn(&loop_, body()).code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
