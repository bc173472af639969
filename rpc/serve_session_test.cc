// Server::ServeSession: an rpc::Server serving a session it did not accept itself, here one end
// of a MemorySocket on a ManualLoop (how tests/fuzz/rpc_server_fuzzer drives the server sans
// I/O). A transport client session on the other end makes real gRPC requests: they are
// validated and handled exactly as on a listened connection.
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "rpc/framing.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testing/echo_service.h"
#include "rpc/testing/raw_call.h"
#include "transport/session.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;
using transport::Headers;

using Answer = testing::RawAnswer;

class ServeSessionTest : public testing::EchoServerTest {
 protected:
  Answer Send(const Headers& headers, const std::string& body) {
    return testing::SendRaw(*client_, headers, body,
                            [this](const Answer&) { loop_.runUntilIdle(); });
  }
};

TEST_F(ServeSessionTest, ServesAValidCall) {
  EchoRequest req;
  req.set_text("over memory");
  Answer a = Send({{":method", "POST"},
                   {":path", "/h2rpc.rpc_test.Echo/Unary"},
                   {"content-type", "application/grpc"},
                   {"te", "trailers"}},
                  FrameMessage(req.SerializeAsString(), false));
  EXPECT_EQ(a.http_status, "200");
  EXPECT_EQ(a.grpc_status, "0");
  EchoReply reply;
  ASSERT_GE(a.body.size(), kMessagePrefixSize);
  ASSERT_TRUE(reply.ParseFromString(a.body.substr(kMessagePrefixSize)));
  EXPECT_EQ(reply.text(), "over memory");
}

TEST_F(ServeSessionTest, ValidatesRequestsAsAListenedConnection) {
  Answer get = Send({{":method", "GET"}, {":path", "/h2rpc.rpc_test.Echo/Unary"}}, "");
  EXPECT_EQ(get.http_status, "405");
  Answer type = Send({{":method", "POST"},
                      {":path", "/h2rpc.rpc_test.Echo/Unary"},
                      {"content-type", "text/plain"}},
                     "");
  EXPECT_EQ(type.http_status, "415");
  Answer timeout = Send({{":method", "POST"},
                         {":path", "/h2rpc.rpc_test.Echo/Unary"},
                         {"content-type", "application/grpc"},
                         {"grpc-timeout", "1x"}},
                        "");
  EXPECT_EQ(timeout.grpc_status, "13");  // INTERNAL: malformed grpc-timeout
  Answer missing = Send({{":method", "POST"},
                         {":path", "/h2rpc.rpc_test.Echo/Nope"},
                         {"content-type", "application/grpc"}},
                        "");
  EXPECT_EQ(missing.grpc_status, "12");  // UNIMPLEMENTED
}

}  // namespace
}  // namespace h2rpc::rpc
