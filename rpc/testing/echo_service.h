// rpc/testing/echo_service.h — for the server tests: EchoService, rpc/testdata/echo.proto's
// h2rpc.rpc_test.Echo as they use it, and EchoServerTest, a fixture serving one over memory.
//
//   class MyTest : public rpc::testing::EchoServerTest {};   // SetUp serves with Options()
//   TEST_F(MyTest, X) { auto req = client_->request(...); loop_.runUntilIdle(); ... }
//
// Threading: all on the test's thread (ManualLoop, or the caller's loop for EchoService alone).
#ifndef H2RPC_RPC_TESTING_ECHO_SERVICE_H_
#define H2RPC_RPC_TESTING_ECHO_SERVICE_H_

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/testing/memory_sessions.h"
#include "transport/manual_loop.h"
#include "transport/session.h"

namespace h2rpc::rpc::testing {

// Unary:  the request's text back. Client metadata x-in: v comes back as initial x-head: v and
//         trailing x-tail: v!; a non-zero status_code answers that status (message: the text).
// Stream: `count` replies (the text, index 0, 1, ...), then Unary's status_code.
// Chat:   (bidi) each request's text back until the client ends; counts the chats and keeps
//         whether the last one saw its call cancelled.
class EchoService : public Service {
 public:
  EchoService() : Service("h2rpc.rpc_test.Echo") {
    using rpc_test::EchoReply;
    using rpc_test::EchoRequest;
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [](ServerContext& ctx, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          if (auto v = ctx.client_metadata().GetFirst("x-in")) {
            (void)ctx.initial_metadata().Add("x-head", *v);
            (void)ctx.trailing_metadata().Add("x-tail", absl::StrCat(*v, "!"));
          }
          if (req.status_code() != 0) co_return StatusOf(req);
          co_return Reply(req);
        });
    AddServerStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Stream",
        [](ServerContext&, const EchoRequest& req,
           ServerWriter<EchoReply>& out) -> Task<absl::Status> {
          for (int i = 0; i < req.count(); ++i) {
            EchoReply reply = Reply(req);
            reply.set_index(i);
            if (!co_await out.Write(reply)) co_return absl::CancelledError("gone");
          }
          co_return StatusOf(req);
        });
    AddBidiStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Chat",
        [this](ServerContext& ctx,
               ServerReaderWriter<EchoReply, EchoRequest>& s) -> Task<absl::Status> {
          ++chats_started;
          while (auto req = co_await s.Read()) {
            if (!co_await s.Write(Reply(*req))) break;
          }
          chat_saw_cancel = ctx.IsCancelled();
          ++chats_ended;
          co_return absl::OkStatus();
        });
  }

  int chats_started = 0, chats_ended = 0;
  bool chat_saw_cancel = false;

 private:
  static rpc_test::EchoReply Reply(const rpc_test::EchoRequest& req) {
    rpc_test::EchoReply reply;
    // An empty string is proto3's unset field: not setting it spares an allocation, so an empty
    // request costs what bench/profile.sh's 0 B call costs (rpc/unary_allocations_test).
    if (!req.text().empty()) reply.set_text(req.text());
    return reply;
  }
  static absl::Status StatusOf(const rpc_test::EchoRequest& req) {
    return absl::Status(static_cast<absl::StatusCode>(req.status_code()), req.text());
  }
};

// An EchoService served by an rpc::Server (built with Options(), never listening) over a
// MemorySocket pair on a ManualLoop: server_session_ is served by Server::ServeSession, client_
// is a transport client session on the other end. TearDown destroys both.
class EchoServerTest : public ::testing::Test {
 protected:
  virtual ServerOptions Options() { return {}; }
  void SetUp() override { Serve(Options()); }
  void TearDown() override {
    if (client_) MemorySessions{server_session_, client_}.Destroy(loop_);
  }

  // Serves with `options`: once per test (a fixture that needs options per test overrides
  // SetUp to do nothing and calls this itself).
  void Serve(ServerOptions options) {
    server_ = std::make_unique<Server>(nullptr, std::move(options));  // no UvLoop: never listens
    server_->RegisterService(&service_);
    auto sessions = ServeOverMemory(loop_, *server_);
    ASSERT_TRUE(sessions.ok()) << sessions.status();
    server_session_ = sessions->server;
    client_ = sessions->client;
  }

  transport::ManualLoop loop_;
  EchoService service_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<transport::ServerHttp2Session> server_session_;
  std::shared_ptr<transport::ClientHttp2Session> client_;
};

}  // namespace h2rpc::rpc::testing

#endif  // H2RPC_RPC_TESTING_ECHO_SERVICE_H_
