// proto/plugin/generated_code_mock_test.cc — the GoogleMock stubs of generate_mocks
// (testdata/test_service.h2rpc_mock.h) unit-testing a piece of "user code" that takes an
// EchoService::StubInterface: coroutine and blocking unary calls, errors, the options the code
// passes, a custom coroutine action, and a server-streaming method fed by a fake reader
// (rpc/testing/stub_testing.h). No server, no connection.
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
// The mocks of keywords.proto (escaped names) and imported.proto (no services) must compile too.
#include "proto/plugin/testdata/imported.h2rpc_mock.h"
#include "proto/plugin/testdata/keywords.h2rpc_mock.h"
#include "proto/plugin/testdata/test_service.h2rpc.h"
#include "proto/plugin/testdata/test_service.h2rpc_mock.h"
#include "rpc/client.h"
#include "rpc/testing/stub_testing.h"

namespace {

using ::h2rpc::rpc::BlockOn;
using ::h2rpc::rpc::CallOptions;
using ::h2rpc::rpc::ClientContext;
using ::h2rpc::rpc::Task;
using ::h2rpc::rpc::testing::FakeClientReader;
using ::h2rpc::rpc::testing::ReturnReady;
using ::h2rpc::test::v1::EchoRequest;
using ::h2rpc::test::v1::EchoResponse;
using ::h2rpc::test::v1::EchoService;
using ::h2rpc::test::v1::MockEchoServiceStub;
using ::testing::_;
using ::testing::Field;
using ::testing::Optional;
using ::testing::Property;
using ::testing::Return;

static_assert(std::is_base_of_v<EchoService::StubInterface, EchoService::Stub>);
static_assert(std::is_base_of_v<EchoService::StubInterface, MockEchoServiceStub>);
static_assert(std::is_final_v<EchoService::Stub>);
// keywords.proto's `service class` and `service Stub` (C++ names class_ and Stub_).
static_assert(std::is_base_of_v<h2rpc::test::keywords::class_::StubInterface,
                                h2rpc::test::keywords::Mockclass_Stub>);
static_assert(!std::is_abstract_v<h2rpc::test::keywords::MockStub_Stub>);
static_assert(!std::is_abstract_v<MockEchoServiceStub>);

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

// The code under test: it only knows the interface.
class Greeter {
 public:
  explicit Greeter(EchoService::StubInterface& stub) : stub_(stub) {}

  Task<std::string> Greet(std::string name) {
    CallOptions options;
    options.timeout = absl::Seconds(2);
    absl::StatusOr<EchoResponse> reply =
        co_await stub_.Echo(Request("hello " + name), std::move(options));
    if (!reply.ok()) co_return "failed: " + std::string(reply.status().message());
    co_return reply->message();
  }

  std::string GreetBlocking(const std::string& name) {
    absl::StatusOr<EchoResponse> reply = stub_.EchoBlocking(Request("hello " + name));
    return reply.ok() ? reply->message() : "failed: " + std::string(reply.status().message());
  }

  // The reply and the server's "x-served-by" trailer.
  Task<std::string> GreetAndSayWho(std::string name) {
    ClientContext context;
    absl::StatusOr<EchoResponse> reply = co_await stub_.Echo(&context, Request("hello " + name));
    std::string who = context.trailing_metadata().GetFirst("x-served-by").value_or("?");
    if (!reply.ok()) co_return std::string(reply.status().message()) + " from " + who;
    co_return reply->message() + " from " + who;
  }

  // The responses of ExpandEcho, joined, or the call's error.
  Task<absl::StatusOr<std::string>> Ticks(std::string what, int n) {
    auto reader = stub_.ExpandEcho(Request(std::move(what), n));
    std::string joined;
    while (std::optional<EchoResponse> r = co_await reader->Read()) joined += r->message() + ";";
    absl::Status status = co_await reader->Finish();
    if (!status.ok()) co_return status;
    co_return joined;
  }

 private:
  EchoService::StubInterface& stub_;
};

class MockStubTest : public ::testing::Test {
 protected:
  h2rpc::transport::UvLoop loop_;
  MockEchoServiceStub stub_;
  Greeter greeter_{stub_};
};

TEST_F(MockStubTest, UnaryResponseAndTheOptionsPassed) {
  EXPECT_CALL(stub_, Echo(Property(&EchoRequest::message, "hello bob"),
                          Field(&CallOptions::timeout, Optional(absl::Seconds(2)))))
      .WillOnce(ReturnReady(Response("hi bob")));
  EXPECT_EQ(BlockOn(&loop_, greeter_.Greet("bob")), "hi bob");
}

TEST_F(MockStubTest, UnaryErrorAndRepeatedCalls) {
  EXPECT_CALL(stub_, Echo(_, _))
      .Times(2)
      .WillRepeatedly(ReturnReady(absl::UnavailableError("backend down")));
  EXPECT_EQ(BlockOn(&loop_, greeter_.Greet("a")), "failed: backend down");
  EXPECT_EQ(BlockOn(&loop_, greeter_.Greet("b")), "failed: backend down");
}

TEST_F(MockStubTest, CustomCoroutineAction) {
  EXPECT_CALL(stub_, Echo(_, _))
      .WillOnce([](const EchoRequest& request, CallOptions) -> Task<absl::StatusOr<EchoResponse>> {
        co_return Response("<" + request.message() + ">");
      });
  EXPECT_EQ(BlockOn(&loop_, greeter_.Greet("eve")), "<hello eve>");
}

TEST_F(MockStubTest, BlockingUnary) {
  EXPECT_CALL(stub_, EchoBlocking(Property(&EchoRequest::message, "hello ann"), _))
      .WillOnce(Return(absl::StatusOr<EchoResponse>(Response("hi ann"))));
  EXPECT_EQ(greeter_.GreetBlocking("ann"), "hi ann");
}

// The overload with a ClientContext is a method of its own (three arguments).
TEST_F(MockStubTest, ContextOverloadIsMockedSeparately) {
  EXPECT_CALL(stub_, Echo(_, _, _)).WillOnce(ReturnReady(Response("with context")));
  EXPECT_CALL(stub_, Echo(_, _)).Times(0);
  ClientContext context;
  EchoService::StubInterface& stub = stub_;
  absl::StatusOr<EchoResponse> reply = BlockOn(&loop_, stub.Echo(&context, Request("x")));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->message(), "with context");
}

h2rpc::rpc::Metadata ServedBy(std::string who) {
  h2rpc::rpc::Metadata trailers;
  EXPECT_TRUE(trailers.Add("x-served-by", who).ok());
  return trailers;
}

TEST_F(MockStubTest, ContextOverloadWithTrailers) {
  using ::h2rpc::rpc::testing::ReturnReadyWithMetadata;
  EXPECT_CALL(stub_, Echo(_, Property(&EchoRequest::message, "hello al"), _))
      .WillOnce(ReturnReadyWithMetadata(Response("hi al"), {}, ServedBy("replica-2")));
  EXPECT_EQ(BlockOn(&loop_, greeter_.GreetAndSayWho("al")), "hi al from replica-2");

  EXPECT_CALL(stub_, Echo(_, _, _))
      .WillOnce(
          ReturnReadyWithMetadata(absl::ResourceExhaustedError("busy"), {}, ServedBy("replica-3")));
  EXPECT_EQ(BlockOn(&loop_, greeter_.GreetAndSayWho("al")), "busy from replica-3");
}

TEST_F(MockStubTest, ServerStreamingFromAFakeReader) {
  EXPECT_CALL(stub_, ExpandEcho(Property(&EchoRequest::repeat, 2), _)).WillOnce([&](auto&&...) {
    return FakeClientReader(&loop_, std::vector<EchoResponse>{Response("t0"), Response("t1")});
  });
  absl::StatusOr<std::string> ticks = BlockOn(&loop_, greeter_.Ticks("t", 2));
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(*ticks, "t0;t1;");
}

TEST_F(MockStubTest, ServerStreamingEndingInAnError) {
  EXPECT_CALL(stub_, ExpandEcho(_, _)).WillOnce([&](auto&&...) {
    return FakeClientReader(&loop_, std::vector<EchoResponse>{Response("t0")},
                            absl::DataLossError("cut"));
  });
  absl::StatusOr<std::string> ticks = BlockOn(&loop_, greeter_.Ticks("t", 5));
  EXPECT_EQ(ticks.status(), absl::DataLossError("cut"));
}

}  // namespace
