// How a call the client abandons mid-request ends for the server's interceptors: a client that
// resets its stream, whatever the RST_STREAM code, cancelled the call, and OnFinish must see
// CANCELLED with IsCancelled() — not the INTERNAL "Request ended in the middle of a message" the
// server would answer a client that ended its request there (which bench_server --stats
// counted as a call that failed). Sans I/O: MemorySocket on a ManualLoop.
#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "rpc/framing.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testing/memory_sessions.h"
#include "transport/constants.h"
#include "transport/manual_loop.h"
#include "transport/session.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;
using transport::Headers;

constexpr char kUnary[] = "/h2rpc.rpc_test.Echo/Unary";

class EchoService : public Service {
 public:
  EchoService() : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        kUnary, [this](ServerContext&, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          ++handled;
          EchoReply reply;
          reply.set_text(req.text());
          co_return reply;
        });
  }
  int handled = 0;
};

struct Seen {
  std::optional<absl::Status> status;
  bool cancelled = false;
  int finishes = 0;
};

struct RecordFinish : ServerInterceptor {
  explicit RecordFinish(Seen* seen) : seen(seen) {}
  void OnFinish(ServerCall& call, absl::Status& status) override {
    seen->status = status;
    seen->cancelled = call.IsCancelled();
    ++seen->finishes;
  }
  Seen* seen;
};

class ServerCallCancelTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.interceptors = {[this](ServerCall&) { return std::make_unique<RecordFinish>(&seen_); }};
    server_ = std::make_unique<Server>(nullptr, options);
    server_->RegisterService(&service_);
    auto sessions = testing::ServeOverMemory(loop_, *server_);
    ASSERT_TRUE(sessions.ok()) << sessions.status();
    sessions_ = *sessions;
  }
  void TearDown() override { sessions_.Destroy(loop_); }

  transport::ManualLoop loop_;
  EchoService service_;
  std::unique_ptr<Server> server_;
  testing::MemorySessions sessions_;
  Seen seen_;
};

// The client sends the first bytes of a message, then resets the stream with GetParam().
TEST_P(ServerCallCancelTest, ClientResetMidMessageIsCancelledForTheHooks) {
  auto req = sessions_.client->request({{":method", "POST"},
                                        {":scheme", "http"},
                                        {":path", kUnary},
                                        {":authority", "localhost"},
                                        {"content-type", "application/grpc"},
                                        {"te", "trailers"}},
                                       {.endStream = false});
  ASSERT_TRUE(req.ok()) << req.status();
  EchoRequest message;
  message.set_text("cut short");
  const std::string framed = FrameMessage(message.SerializeAsString(), false);
  (*req)->write(framed.substr(0, framed.size() - 3));
  bool closed = false;
  (*req)->onClose([&] { closed = true; });
  loop_.runUntilIdle();
  ASSERT_EQ(seen_.finishes, 0);  // the call waits for the rest of its message
  (*req)->close(GetParam());
  loop_.runUntilIdle();
  EXPECT_TRUE(closed);
  ASSERT_EQ(seen_.finishes, 1);
  EXPECT_EQ(seen_.status->code(), absl::StatusCode::kCancelled) << *seen_.status;
  EXPECT_TRUE(seen_.cancelled);
  EXPECT_EQ(service_.handled, 0);
  EXPECT_EQ(server_->active_calls(), 0u);
}

INSTANTIATE_TEST_SUITE_P(RstCodes, ServerCallCancelTest,
                         ::testing::Values(transport::constants::NGHTTP2_NO_ERROR,
                                           transport::constants::NGHTTP2_CANCEL));

}  // namespace
}  // namespace h2rpc::rpc
