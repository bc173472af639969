// rpc/status_details_test.cc — typed rich error details: attached and read on absl::Status, and
// end to end (a handler returns them, the client reads them from the call's status).
#include "rpc/status_details.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/client_blocking.h"
#include "rpc/server_pool.h"
#include "rpc/status_util.h"
#include "rpc/testdata/echo.pb.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

google::rpc::BadRequest BadName() {
  google::rpc::BadRequest bad;
  auto* violation = bad.add_field_violations();
  violation->set_field("text");
  violation->set_description("must not be empty");
  return bad;
}

TEST(StatusDetailsTest, AttachAndReadTyped) {
  absl::Status status =
      ErrorWithDetails(absl::StatusCode::kInvalidArgument, "bad request", BadName(),
                       MakeErrorInfo("EMPTY_TEXT", "h2rpc.test"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "bad request");
  EXPECT_TRUE(status.GetPayload("type.googleapis.com/google.rpc.BadRequest").has_value());

  std::optional<google::rpc::BadRequest> bad = GetStatusDetail<google::rpc::BadRequest>(status);
  ASSERT_TRUE(bad.has_value());
  ASSERT_EQ(bad->field_violations_size(), 1);
  EXPECT_EQ(bad->field_violations(0).field(), "text");
  std::optional<google::rpc::ErrorInfo> info = GetStatusDetail<google::rpc::ErrorInfo>(status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "EMPTY_TEXT");
  EXPECT_EQ(info->domain(), "h2rpc.test");
  EXPECT_FALSE(GetStatusDetail<google::rpc::RetryInfo>(status).has_value());
  EXPECT_FALSE(RetryDelay(status).has_value());
}

TEST(StatusDetailsTest, RetryInfoKeepsItsDelay) {
  absl::Status status = ErrorWithDetails(absl::StatusCode::kUnavailable, "busy",
                                         MakeRetryInfo(absl::Milliseconds(1500)));
  auto info = GetStatusDetail<google::rpc::RetryInfo>(status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->retry_delay().seconds(), 1);
  EXPECT_EQ(info->retry_delay().nanos(), 500000000);
  EXPECT_EQ(RetryDelay(status), absl::Milliseconds(1500));
}

TEST(StatusDetailsTest, AnyTypeUrlPrefixAndBadBytes) {
  absl::Status status = absl::InternalError("x");
  status.SetPayload("example.com/types/google.rpc.ErrorInfo",
                    absl::Cord(MakeErrorInfo("R", "D").SerializeAsString()));
  EXPECT_EQ(GetStatusDetail<google::rpc::ErrorInfo>(status)->reason(), "R");
  status.SetPayload("type.googleapis.com/google.rpc.DebugInfo", absl::Cord("\xff\xff"));
  EXPECT_FALSE(GetStatusDetail<google::rpc::DebugInfo>(status).has_value());
  // A similar name is not the type.
  status.SetPayload("type.googleapis.com/xgoogle.rpc.Help", absl::Cord(""));
  EXPECT_FALSE(GetStatusDetail<google::rpc::Help>(status).has_value());
}

TEST(StatusDetailsTest, OkStatusCarriesNoDetails) {
  absl::Status ok;
  AddStatusDetail(ok, BadName());
  EXPECT_FALSE(GetStatusDetail<google::rpc::BadRequest>(ok).has_value());
}

TEST(StatusDetailsTest, OnTheWireAsGoogleRpcStatus) {
  absl::Status status = ErrorWithDetails(absl::StatusCode::kFailedPrecondition, "no", BadName());
  google::rpc::Status wire;
  ASSERT_TRUE(wire.ParseFromString(EncodeStatusDetails(status)));
  ASSERT_EQ(wire.details_size(), 1);
  google::rpc::BadRequest unpacked;
  ASSERT_TRUE(wire.details(0).UnpackTo(&unpacked));  // protobuf's own Any unpacking agrees
  EXPECT_EQ(unpacked.field_violations(0).description(), "must not be empty");
}

// A handler fails with details; the client reads them from its call's status.
class Failing : public Service {
 public:
  Failing() : Service("h2rpc.rpc_test.Failing") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Failing/Unary",
        [](ServerContext&, const EchoRequest& request) -> Task<absl::StatusOr<EchoReply>> {
          if (request.text().empty()) {
            co_return ErrorWithDetails(absl::StatusCode::kInvalidArgument, "empty text",
                                       BadName(), MakeRetryInfo(absl::Seconds(2)));
          }
          EchoReply reply;
          reply.set_text(request.text());
          co_return reply;
        });
  }
};

TEST(StatusDetailsTest, EndToEnd) {
  Failing failing;
  ServerPool servers;
  servers.RegisterService(&failing);
  ASSERT_TRUE(servers.Listen("127.0.0.1", 0).ok());
  transport::UvLoopThread io;
  auto channel = Channel::Create(io.loop(), "127.0.0.1:" + std::to_string(servers.port()));
  absl::StatusOr<EchoReply> reply = BlockingUnaryCall<EchoRequest, EchoReply>(
      channel, "/h2rpc.rpc_test.Failing/Unary", EchoRequest(), CallOptions());
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reply.status().message(), "empty text");
  auto bad = GetStatusDetail<google::rpc::BadRequest>(reply.status());
  ASSERT_TRUE(bad.has_value()) << reply.status();
  EXPECT_EQ(bad->field_violations(0).field(), "text");
  EXPECT_EQ(RetryDelay(reply.status()), absl::Seconds(2));
  channel.reset();
  servers.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace h2rpc::rpc
