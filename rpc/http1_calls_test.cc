// HTTP/1.1 calls (ServerOptions::allow_http1: gRPC-Web and Connect) on a listened server, over
// loopback: counted in the channelz snapshot like the HTTP/2 ones, and drained by Shutdown() —
// idle keep-alive connections closed, in-flight calls finished within the grace and cancelled
// after it, a request arriving after Shutdown() answered 503 with connection: close.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/connect_protocol.h"
#include "rpc/server.h"
#include "rpc/testdata/echo_service.h2rpc.h"
#include "transport/uv_loop.h"
#include "transport/uv_socket.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

constexpr char kEcho[] = "/h2rpc.rpc_test.EchoService/Echo";
constexpr char kCollect[] = "/h2rpc.rpc_test.EchoService/Collect";

// Echo: the text back (status_code fails). Collect: the texts joined; records whether the call
// was cancelled when the requests ended.
class Backend : public rpc_test::EchoService::Service {
 public:
  Task<absl::StatusOr<EchoReply>> Echo(ServerContext&, const EchoRequest& req) override {
    if (req.status_code() != 0) {
      co_return absl::Status(static_cast<absl::StatusCode>(req.status_code()), req.text());
    }
    EchoReply reply;
    reply.set_text(req.text());
    co_return reply;
  }
  Task<absl::StatusOr<EchoReply>> Collect(ServerContext& ctx,
                                          ServerReader<EchoRequest>& in) override {
    EchoReply reply;
    while (auto req = co_await in.Read()) reply.set_text(reply.text() + req->text());
    ended_cancelled.push_back(ctx.IsCancelled());
    co_return reply;
  }
  std::vector<bool> ended_cancelled;
};

// A raw TCP client speaking HTTP/1.1 by hand.
struct Client : transport::Socket::Handler {
  ~Client() override {
    if (socket) socket->setHandler(nullptr);
  }
  void onSocketConnect() override { connected = true; }
  void onSocketData(std::string_view d) override { received += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { closed = true; }
  bool connected = false;
  bool closed = false;
  std::string received;
  std::unique_ptr<transport::UvSocket> socket;
};

// A Connect JSON unary request (keep-alive), whole.
std::string UnaryRequest(const std::string& json) {
  return absl::StrCat("POST ", kEcho, " HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n",
                      "content-length: ", json.size(), "\r\n\r\n", json);
}

// A Connect client-streaming request's head and first message (a chunked body left open).
std::string OpenCollect(const std::string& text) {
  EchoRequest req;
  req.set_text(text);
  const std::string envelope = ConnectEnvelope(0, req.SerializeAsString());
  return absl::StrCat("POST ", kCollect,
                      " HTTP/1.1\r\nhost: x\r\ncontent-type: application/connect+proto\r\n"
                      "transfer-encoding: chunked\r\n\r\n",
                      absl::Hex(envelope.size()), "\r\n", envelope, "\r\n");
}

class Http1CallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.allow_http1 = true;
    server_ = std::make_unique<Server>(&loop_, options);
    server_->RegisterService(&backend_);
    ASSERT_TRUE(server_->Listen("127.0.0.1:0").ok());
  }
  void TearDown() override {
    if (!shut_down_) Shutdown(absl::ZeroDuration());
    ASSERT_TRUE(RunUntil([&] { return done_; }));
  }
  void Shutdown(absl::Duration grace) {
    shut_down_ = true;
    server_->Shutdown(grace, [this] { done_ = true; });
  }
  // Runs the loop until `cond`, bounded (~30 s): a tick wakes the loop so that a condition that
  // never comes fails the test instead of blocking it.
  template <typename F>
  bool RunUntil(F cond) {
    auto tick = loop_.createTimer();
    for (int i = 0; i < 3000 && !cond(); ++i) {
      if (!tick->active()) tick->start(10, [] {});
      uv_run(loop_.uv(), UV_RUN_ONCE);
    }
    return cond();
  }
  void Connect(Client& c) {
    c.socket = transport::UvSocket::connect(&loop_, "127.0.0.1", server_->port());
    c.socket->setHandler(&c);
    ASSERT_TRUE(RunUntil([&] { return c.connected; }));
  }
  // The snapshot's HTTP/1.1 connections.
  std::vector<ConnectionSnapshot> Http1Connections() {
    std::vector<ConnectionSnapshot> out;
    for (ConnectionSnapshot& c : server_->Snapshot().connections) {
      if (c.http_version == "1.1") out.push_back(std::move(c));
    }
    return out;
  }

  transport::UvLoop loop_;
  Backend backend_;
  std::unique_ptr<Server> server_;
  bool shut_down_ = false;
  bool done_ = false;
};

TEST_F(Http1CallsTest, CountedInTheChannelzSnapshot) {
  Client a;
  Connect(a);
  a.socket->write(UnaryRequest(R"({"text":"one"})"));
  ASSERT_TRUE(RunUntil([&] { return a.received.find(R"({"text":"one"})") != std::string::npos; }))
      << a.received;
  a.received.clear();
  a.socket->write(UnaryRequest(R"({"text":"two","statusCode":5})"));
  ASSERT_TRUE(RunUntil([&] { return a.received.find("not_found") != std::string::npos; }))
      << a.received;
  std::vector<ConnectionSnapshot> h1 = Http1Connections();
  ASSERT_EQ(h1.size(), 1u);
  EXPECT_EQ(h1[0].calls_started, 2u);
  EXPECT_EQ(h1[0].calls_succeeded, 1u);
  EXPECT_EQ(h1[0].calls_failed, 1u);
  EXPECT_EQ(h1[0].messages_received, 2u);
  EXPECT_EQ(h1[0].state, ConnectionState::kReady);
  EXPECT_EQ(h1[0].streams_active, 0u);
  EXPECT_EQ(h1[0].peer.rfind("127.0.0.1:", 0), 0u) << h1[0].peer;
  EXPECT_EQ(h1[0].local, absl::StrCat("127.0.0.1:", server_->port()));
  EXPECT_NE(ToJson(server_->Snapshot()).find(R"("http_version":"1.1")"), std::string::npos);
  EXPECT_NE(ToText(server_->Snapshot()).find(" http=1.1"), std::string::npos);

  // A call in flight on a second connection: listed with its method.
  Client b;
  Connect(b);
  b.socket->write(OpenCollect("x"));
  ASSERT_TRUE(RunUntil([&] { return server_->active_calls() == 1; }));
  h1 = Http1Connections();
  ASSERT_EQ(h1.size(), 2u);
  const ConnectionSnapshot& busy = h1[0].streams_active == 1 ? h1[0] : h1[1];
  ASSERT_EQ(busy.streams.size(), 1u);
  EXPECT_EQ(busy.streams[0].method, kCollect);
  EXPECT_EQ(busy.calls_started, 1u);
  // The client goes: the call ends cancelled (failed), the connection leaves the snapshot.
  b.socket->destroy();
  b.socket.reset();
  ASSERT_TRUE(RunUntil([&] { return Http1Connections().size() == 1; }));
  EXPECT_EQ(backend_.ended_cancelled, std::vector<bool>{true});
  EXPECT_EQ(server_->active_calls(), 0u);
}

TEST_F(Http1CallsTest, ShutdownDrainsHttp1Connections) {
  // `late` is accepted first (the kernel's accept queue is FIFO: once `idle` is served, `late`
  // was accepted too) but sends its request only after Shutdown().
  Client late, idle, busy;
  Connect(late);
  Connect(idle);
  idle.socket->write(UnaryRequest(R"({"text":"kept alive"})"));
  ASSERT_TRUE(RunUntil([&] { return idle.received.find("kept alive") != std::string::npos; }));
  Connect(busy);
  busy.socket->write(OpenCollect("a"));
  ASSERT_TRUE(RunUntil([&] { return server_->active_calls() == 1; }));

  Shutdown(absl::Seconds(60));
  // The idle keep-alive connection is closed at once.
  ASSERT_TRUE(RunUntil([&] { return idle.closed; }));
  // A request after Shutdown(): 503 (unavailable, in the request's protocol), connection: close.
  late.socket->write(UnaryRequest(R"({"text":"too late"})"));
  ASSERT_TRUE(RunUntil([&] { return late.closed; }));
  EXPECT_EQ(late.received.rfind("HTTP/1.1 503 ", 0), 0u) << late.received;
  EXPECT_NE(late.received.find("connection: close\r\n"), std::string::npos) << late.received;
  EXPECT_NE(late.received.find(R"("code":"unavailable")"), std::string::npos) << late.received;
  EXPECT_FALSE(done_);  // the in-flight call still runs, within the grace
  EXPECT_EQ(server_->active_calls(), 1u);
  // It finishes normally, and its connection closes after the response (which says so).
  busy.socket->write("0\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return busy.closed; })) << busy.received;
  EXPECT_EQ(busy.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << busy.received;
  EXPECT_NE(busy.received.find("connection: close\r\n"), std::string::npos) << busy.received;
  EXPECT_EQ(backend_.ended_cancelled, std::vector<bool>{false});
  ASSERT_TRUE(RunUntil([&] { return done_; }));  // `done` once the HTTP/1.1 ones closed too
  EXPECT_EQ(server_->active_calls(), 0u);
}

TEST_F(Http1CallsTest, CallsStillRunningAfterTheGraceAreCancelled) {
  Client busy;
  Connect(busy);
  busy.socket->write(OpenCollect("a"));
  ASSERT_TRUE(RunUntil([&] { return server_->active_calls() == 1; }));
  Shutdown(absl::Milliseconds(50));
  ASSERT_TRUE(RunUntil([&] { return done_; }));
  EXPECT_EQ(backend_.ended_cancelled, std::vector<bool>{true});
  EXPECT_EQ(server_->active_calls(), 0u);
  ASSERT_TRUE(RunUntil([&] { return busy.closed; }));
}

}  // namespace
}  // namespace h2rpc::rpc
