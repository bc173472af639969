// Structured call logs (rpc/call_log.h): the logfmt line exactly, and one record per call on
// each side over loopback, with the status the application saw.
#include "rpc/call_log.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "absl/strings/match.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testing/echo_service.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

TEST(CallLogTest, FormatsOneLogfmtLine) {
  CallLogRecord r;
  r.side = "server";
  r.method = "/pkg.S/M";
  r.peer = "127.0.0.1:5000";
  r.duration = absl::Microseconds(1500);
  r.messages_sent = 2;
  r.messages_received = 1;
  EXPECT_EQ(FormatCallLog(r),
            "side=server method=/pkg.S/M peer=127.0.0.1:5000 status=OK duration_ms=1.500 sent=2 "
            "received=1");
  r.status = absl::NotFoundError("no \"such\" key=x\\y\n");
  r.peer = "";
  EXPECT_EQ(FormatCallLog(r),
            "side=server method=/pkg.S/M peer=\"\" status=NOT_FOUND duration_ms=1.500 sent=2 "
            "received=1 message=\"no \\\"such\\\" key=x\\\\y\\n\"");
}

TEST(CallLogTest, OneRecordPerCallOnEachSide) {
  transport::UvLoop loop;
  std::vector<CallLogRecord> server_log, client_log;
  testing::EchoService service;
  ServerOptions server_options;
  server_options.interceptors.push_back(
      ServerCallLogger([&](const CallLogRecord& r) { server_log.push_back(r); }));
  Server server(&loop, server_options);
  server.RegisterService(&service);
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  ChannelOptions channel_options;
  channel_options.interceptors.push_back(
      ClientCallLogger([&](const CallLogRecord& r) { client_log.push_back(r); }));
  const std::string target = "127.0.0.1:" + std::to_string(server.port());
  auto channel = Channel::Create(&loop, target, channel_options);
  EchoRequest req;
  req.set_text("hi");
  ASSERT_TRUE(BlockOn(&loop, UnaryCall<EchoRequest, EchoReply>(
                                 channel, "/h2rpc.rpc_test.Echo/Unary", req, {}))
                  .ok());
  req.set_status_code(static_cast<int>(absl::StatusCode::kAborted));
  (void)BlockOn(&loop, UnaryCall<EchoRequest, EchoReply>(channel, "/h2rpc.rpc_test.Echo/Unary",
                                                       req, {}));
  for (int i = 0; i < 1000 && server_log.size() < 2; ++i) uv_run(loop.uv(), UV_RUN_NOWAIT);
  ASSERT_EQ(client_log.size(), 2u);
  ASSERT_EQ(server_log.size(), 2u);
  EXPECT_EQ(client_log[0].side, "client");
  EXPECT_EQ(client_log[0].method, "/h2rpc.rpc_test.Echo/Unary");
  EXPECT_EQ(client_log[0].peer, target);
  EXPECT_TRUE(client_log[0].status.ok());
  EXPECT_EQ(client_log[0].messages_sent, 1u);
  EXPECT_EQ(client_log[0].messages_received, 1u);
  EXPECT_GT(client_log[0].duration, absl::ZeroDuration());
  EXPECT_EQ(client_log[1].status, absl::AbortedError("hi"));
  EXPECT_EQ(client_log[1].messages_received, 0u);
  EXPECT_EQ(server_log[0].side, "server");
  EXPECT_TRUE(absl::StartsWith(server_log[0].peer, "127.0.0.1:")) << server_log[0].peer;
  EXPECT_TRUE(server_log[0].status.ok());
  EXPECT_EQ(server_log[0].messages_received, 1u);
  EXPECT_EQ(server_log[0].messages_sent, 1u);
  EXPECT_EQ(server_log[1].status, absl::AbortedError("hi"));
  EXPECT_EQ(server_log[1].messages_sent, 0u);
  channel->Close();
  bool closed = false;
  server.Shutdown(absl::Seconds(1), [&] { closed = true; });
  for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
}

}  // namespace
}  // namespace h2rpc::rpc
