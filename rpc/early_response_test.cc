// A server that answers before reading the whole request (an early error, or a client-streaming
// handler that returns after the first message) while the client is still sending more than the
// flow-control windows hold: the transport resets the stream with RST_STREAM(NO_ERROR) after the
// status (RFC 9113 §8.1, as Node and gRPC C++ do), so the client gets that status at once instead
// of waiting for window forever. Over loopback TCP; every call has a deadline, so a regression
// shows as DEADLINE_EXCEEDED, not as a hung test.
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

class FirstOnlyService : public Service {
 public:
  FirstOnlyService() : Service("h2rpc.rpc_test.Echo") {
    // Reads one message, answers, never reads the rest.
    AddClientStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Collect",
        [](ServerContext&, ServerReader<EchoRequest>& in) -> Task<absl::StatusOr<EchoReply>> {
          std::optional<EchoRequest> first = co_await in.Read();
          EchoReply reply;
          reply.set_text(first ? "first of many" : "none");
          co_return reply;
        });
  }
};

class EarlyResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(&loop_);
    server_->RegisterService(&service_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override {
    channel_->Close();
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }

  transport::UvLoop loop_;
  FirstOnlyService service_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<Channel> channel_;
};

TEST_F(EarlyResponseTest, EarlyErrorReachesAClientStillSendingABigRequest) {
  EchoRequest req;
  req.set_payload(std::string(3 << 20, 'p'));  // 3 MiB: beyond the 1 MiB windows
  auto reply = BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(
                                   channel_, "/h2rpc.rpc_test.Echo/NoSuchMethod", req,
                                   {.timeout = absl::Seconds(10)}));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnimplemented) << reply.status();
}

TEST_F(EarlyResponseTest, HandlerAnsweringAfterTheFirstMessageEndsTheUpload) {
  auto body = [&]() -> Task<std::pair<int, absl::StatusOr<EchoReply>>> {
    ClientWriter<EchoRequest, EchoReply> writer(ClientCall::Start(
        channel_, "/h2rpc.rpc_test.Echo/Collect", {.timeout = absl::Seconds(10)}));
    EchoRequest req;
    req.set_payload(std::string(64 << 10, 'q'));
    int written = 0;
    // 100 x 64 KiB: far more than the windows; the writes stop once the stream is reset.
    while (written < 100 && co_await writer.Write(req)) ++written;
    co_return std::make_pair(written, co_await writer.Finish());
  };
  auto [written, reply] = BlockOn(&loop_, body());
  ASSERT_TRUE(reply.ok()) << reply.status();  // the handler's answer, not an error
  EXPECT_EQ(reply->text(), "first of many");
  EXPECT_LT(written, 100);
}

}  // namespace
}  // namespace h2rpc::rpc
