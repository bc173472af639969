// The gRPC call layer end to end over loopback TCP: a hand-written service (what generated code
// does) and the typed client calls, for the four kinds of calls and their failure modes.
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/sleep.h"
#include "rpc/framing.h"
#include "rpc/testdata/echo.pb.h"
#include "transport/constants.h"
#include "transport/server.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

// What a generated Service looks like, written by hand.
class EchoService : public Service {
 public:
  explicit EchoService(transport::EventLoop* loop) : Service("h2rpc.rpc_test.Echo"), loop_(loop) {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [this](ServerContext& ctx, const EchoRequest& req) { return Unary(ctx, req); });
    AddServerStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Expand",
        [this](ServerContext& ctx, const EchoRequest& req, ServerWriter<EchoReply>& out) {
          return Expand(ctx, req, out);
        });
    AddClientStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Collect",
        [this](ServerContext& ctx, ServerReader<EchoRequest>& in) { return Collect(ctx, in); });
    AddClientStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/SlowCollect",
        [this](ServerContext& ctx, ServerReader<EchoRequest>& in) -> Task<absl::StatusOr<EchoReply>> {
          // Reads nothing until told to: the client's writes must wait (flow control).
          while (!start_reading) co_await Sleep(loop_, absl::Milliseconds(5));
          EchoReply reply;
          int n = 0;
          while (auto req = co_await in.Read()) ++n;
          reply.set_index(n);
          co_return reply;
        });
    AddBidiStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Chat",
        [this](ServerContext& ctx, ServerReaderWriter<EchoReply, EchoRequest>& s) {
          return Chat(ctx, s);
        });
  }

  Task<absl::StatusOr<EchoReply>> Unary(ServerContext& ctx, const EchoRequest& req) {
    ++unary_started;
    // Sleeps in short steps and stops early once the call is cancelled (the way handlers
    // should wait: a cancelled call's handler keeps running until it returns).
    for (int t = 0; t < req.sleep_ms() && !ctx.IsCancelled(); t += 10) {
      co_await Sleep(loop_, absl::Milliseconds(std::min(10, req.sleep_ms() - t)));
    }
    cancelled_seen = ctx.IsCancelled();
    if (req.status_code() != 0) {
      ctx.trailing_metadata().Add("x-trailer", "after-error").IgnoreError();
      absl::Status error(static_cast<absl::StatusCode>(req.status_code()), req.text());
      if (!req.payload().empty()) {
        error.SetPayload("type.googleapis.com/h2rpc.rpc_test.Detail", absl::Cord(req.payload()));
      }
      co_return error;
    }
    for (const auto& v : ctx.client_metadata().Get("x-echo")) {
      ctx.initial_metadata().Add("x-echo", v).IgnoreError();
    }
    for (const auto& v : ctx.client_metadata().Get("x-echo-bin")) {
      ctx.trailing_metadata().Add("x-echo-bin", v).IgnoreError();
    }
    EchoReply reply;
    reply.set_text("echo: " + req.text());
    reply.set_payload(req.payload());
    co_return reply;
  }

  Task<absl::Status> Expand(ServerContext& ctx, const EchoRequest& req,
                            ServerWriter<EchoReply>& out) {
    for (int i = 0; i < req.count(); ++i) {
      EchoReply reply;
      reply.set_text(req.text());
      reply.set_index(i);
      reply.set_payload(req.payload());
      if (!co_await out.Write(reply)) co_return absl::CancelledError("client went away");
      ++expanded;
      if (req.sleep_ms() > 0) co_await Sleep(loop_, absl::Milliseconds(req.sleep_ms()));
    }
    co_return absl::OkStatus();
  }

  Task<absl::StatusOr<EchoReply>> Collect(ServerContext& ctx, ServerReader<EchoRequest>& in) {
    EchoReply reply;
    int n = 0;
    while (std::optional<EchoRequest> req = co_await in.Read()) {
      reply.set_text(reply.text() + req->text());
      ++n;
    }
    reply.set_index(n);
    co_return reply;
  }

  Task<absl::Status> Chat(ServerContext& ctx, ServerReaderWriter<EchoReply, EchoRequest>& s) {
    int n = 0;
    while (std::optional<EchoRequest> req = co_await s.Read()) {
      EchoReply reply;
      reply.set_text("re: " + req->text());
      reply.set_index(n++);
      if (!co_await s.Write(reply)) break;
    }
    chat_cancelled = ctx.IsCancelled();
    co_return absl::OkStatus();
  }

  transport::EventLoop* loop_;
  int unary_started = 0;
  bool cancelled_seen = false;
  bool chat_cancelled = false;
  bool start_reading = false;
  int expanded = 0;  // Expand's messages the transport took
};

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.limits.max_receive_message_size = 1 << 20;
    server_ = std::make_unique<Server>(&loop_, options);
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
  template <typename T>
  T Run(Task<T> task) {
    return BlockOn(&loop_, std::move(task));
  }
  // Runs the loop until `done()` holds (checked every 5 ms), for at most 5 s: how a test waits
  // for something the server side does that it cannot await. Returns done().
  Task<bool> Until(std::function<bool()> done) {
    for (int i = 0; i < 1000 && !done(); ++i) co_await Sleep(&loop_, absl::Milliseconds(5));
    co_return done();
  }
  // Runs the loop until `counter` has moved from 0 and then not moved for 200 ms (at most 5 s),
  // and returns it: how a test sees that a writer has stopped. Waiting for a negative takes
  // time; a writer that is not held back gets through all its messages long before (a few MiB
  // over loopback).
  Task<int> UntilStalled(const int& counter) {
    int last = counter;
    for (int stable = 0, i = 0; stable < 20 && i < 500; ++i) {
      co_await Sleep(&loop_, absl::Milliseconds(10));
      stable = counter > 0 && counter == last ? stable + 1 : 0;
      last = counter;
    }
    co_return counter;
  }
  // A client streams `messages` requests of `payload` bytes to SlowCollect, whose handler does
  // not read until the writer has stalled; then it reads them all.
  struct SlowUpload {
    int while_blocked = 0;  // messages written when the writer stalled
    int written = 0;
    bool writer_done = false;
    absl::StatusOr<EchoReply> result = absl::UnknownError("not finished");
  };
  SlowUpload UploadToASlowReader(int messages, size_t payload) {
    SlowUpload up;
    auto writer = [&]() -> Task<void> {
      ClientWriter<EchoRequest, EchoReply> w(
          ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/SlowCollect", {}));
      EchoRequest big;
      big.set_text("x");
      big.set_payload(std::string(payload, 'w'));
      for (int i = 0; i < messages; ++i) {
        if (!co_await w.Write(big)) break;
        ++up.written;
      }
      up.result = co_await w.Finish();
      up.writer_done = true;
    };
    writer().Start();
    auto check = [&]() -> Task<int> {
      const int while_blocked = co_await UntilStalled(up.written);
      service_.start_reading = true;
      co_await Until([&] { return up.writer_done; });
      co_return while_blocked;
    };
    up.while_blocked = Run(check());
    return up;
  }
  absl::StatusOr<EchoReply> Unary(const EchoRequest& req, CallOptions options = {}) {
    return Run(UnaryCall<EchoRequest, EchoReply>(channel_, "/h2rpc.rpc_test.Echo/Unary", req,
                                                 std::move(options)));
  }

  transport::UvLoop loop_;
  EchoService service_{&loop_};
  std::unique_ptr<Server> server_;
  std::shared_ptr<Channel> channel_;
};

EchoRequest Req(std::string text) {
  EchoRequest r;
  r.set_text(std::move(text));
  return r;
}

TEST_F(RpcTest, UnaryRoundTrip) {
  auto reply = Unary(Req("hello"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "echo: hello");
}

TEST_F(RpcTest, UnaryRequestMayBeATemporary) {
  // The task is lazy: it must own its request (under ASan a reference would be use-after-free).
  auto task = UnaryCall<EchoRequest, EchoReply>(channel_, "/h2rpc.rpc_test.Echo/Unary",
                                                Req(std::string(1000, 't')), {});
  auto reply = Run(std::move(task));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "echo: " + std::string(1000, 't'));
}

TEST_F(RpcTest, EmptyMessagesAreValid) {
  auto reply = Unary(EchoRequest());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "echo: ");
}

TEST_F(RpcTest, ErrorStatusWithSpecialMessageAndTrailers) {
  const std::string message = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
  EchoRequest req = Req(message);
  req.set_status_code(2);
  auto reply = Unary(req);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(reply.status().message(), message);
}

TEST_F(RpcTest, MetadataBothWaysIncludingBinary) {
  auto call = ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/Unary", [] {
    CallOptions o;
    o.metadata.Add("x-echo", "ascii value").IgnoreError();
    o.metadata.Add("x-echo-bin", std::string("\x00\x01\xfe\xff", 4)).IgnoreError();
    return o;
  }());
  auto body = [&]() -> Task<absl::Status> {
    co_await call->Write(Req("md").SerializeAsString());
    call->WritesDone();
    co_await call->Read();
    co_return co_await call->Finish();
  };
  absl::Status st = Run(body());
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(call->initial_metadata().GetFirst("x-echo"), "ascii value");
  EXPECT_EQ(call->trailing_metadata().GetFirst("x-echo-bin"), std::string("\x00\x01\xfe\xff", 4));
}

TEST_F(RpcTest, ActiveCallsCountsACallUntilItsStreamCloses) {
  EXPECT_EQ(server_->active_calls(), 0u);
  auto call = ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/SlowCollect", {});
  // The handler waits for start_reading: the call stays active meanwhile.
  for (int i = 0; i < 10000 && server_->active_calls() == 0; ++i) {
    uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  EXPECT_EQ(server_->active_calls(), 1u);
  service_.start_reading = true;
  auto body = [&]() -> Task<absl::Status> {
    call->WritesDone();
    co_await call->Read();
    co_return co_await call->Finish();
  };
  absl::Status st = Run(body());
  ASSERT_TRUE(st.ok()) << st;
  for (int i = 0; i < 10000 && server_->active_calls() != 0; ++i) {
    uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  EXPECT_EQ(server_->active_calls(), 0u);
}

TEST_F(RpcTest, ServerStreaming) {
  EchoRequest req = Req("tick");
  req.set_count(5);
  auto body = [&]() -> Task<std::vector<int>> {
    auto call = ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/Expand", {});
    co_await call->Write(req.SerializeAsString());
    call->WritesDone();
    ClientReader<EchoReply> reader(call);
    std::vector<int> got;
    while (auto r = co_await reader.Read()) got.push_back(r->index());
    absl::Status st = co_await reader.Finish();
    EXPECT_TRUE(st.ok()) << st;
    co_return got;
  };
  EXPECT_EQ(Run(body()), (std::vector<int>{0, 1, 2, 3, 4}));
}

// A reader slower than the server: the replies wait in the call and in the stream (paused at
// max_buffered_messages), and the trailers arrive before the reader has taken them. Every
// reply still comes, in order, then the status.
TEST_F(RpcTest, ServerStreamingToASlowReaderGetsEveryMessageAfterTheTrailers) {
  EchoRequest req = Req("tick");
  req.set_count(40);
  req.set_payload(std::string(20000, 'p'));  // several DATA frames, several chunks
  auto body = [&]() -> Task<std::vector<int>> {
    auto call = ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/Expand", {});
    co_await call->Write(req.SerializeAsString());
    call->WritesDone();
    ClientReader<EchoReply> reader(call);
    std::vector<int> got;
    // Let the whole response, trailers included, arrive before reading any of it.
    while (service_.expanded < 40) co_await Sleep(&loop_, absl::Milliseconds(2));
    co_await Sleep(&loop_, absl::Milliseconds(20));
    while (auto r = co_await reader.Read()) got.push_back(r->index());
    absl::Status st = co_await reader.Finish();
    EXPECT_TRUE(st.ok()) << st;
    co_return got;
  };
  std::vector<int> expected(40);
  for (int i = 0; i < 40; ++i) expected[i] = i;
  EXPECT_EQ(Run(body()), expected);
}

TEST_F(RpcTest, ClientStreaming) {
  auto body = [&]() -> Task<absl::StatusOr<EchoReply>> {
    ClientWriter<EchoRequest, EchoReply> writer(
        ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/Collect", {}));
    for (const char* part : {"a", "b", "c"}) co_await writer.Write(Req(part));
    co_return co_await writer.Finish();
  };
  auto reply = Run(body());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "abc");
  EXPECT_EQ(reply->index(), 3);
}

TEST_F(RpcTest, BidiPingPong) {
  auto body = [&]() -> Task<std::vector<std::string>> {
    ClientReaderWriter<EchoRequest, EchoReply> chat(
        ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/Chat", {}));
    std::vector<std::string> got;
    for (const char* m : {"one", "two", "three"}) {
      co_await chat.Write(Req(m));
      auto r = co_await chat.Read();  // lock-step: one reply per request
      if (r) got.push_back(r->text());
    }
    chat.WritesDone();
    EXPECT_FALSE((co_await chat.Read()).has_value());
    absl::Status st = co_await chat.Finish();
    EXPECT_TRUE(st.ok()) << st;
    co_return got;
  };
  EXPECT_EQ(Run(body()), (std::vector<std::string>{"re: one", "re: two", "re: three"}));
}

TEST_F(RpcTest, UnknownMethodAndServiceAreUnimplemented) {
  auto m = Run(UnaryCall<EchoRequest, EchoReply>(channel_, "/h2rpc.rpc_test.Echo/Nope", Req(""), {}));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(m.status().message().find("Method not found"), absl::string_view::npos);
  auto s = Run(UnaryCall<EchoRequest, EchoReply>(channel_, "/no.Such/Thing", Req(""), {}));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(s.status().message().find("Service not found"), absl::string_view::npos);
}

TEST_F(RpcTest, DeadlineExceeded) {
  EchoRequest req = Req("slow");
  req.set_sleep_ms(300);
  CallOptions options;
  options.timeout = absl::Milliseconds(50);
  auto reply = Unary(req, options);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded);
  // The server learned it too (its own deadline from grpc-timeout) and reset the stream: its
  // handler, which sleeps 300 ms in 10 ms steps, sees the cancellation and returns early.
  EXPECT_TRUE(Run(Until([&] { return service_.cancelled_seen; })));
  EXPECT_EQ(service_.unary_started, 1);
}

TEST_F(RpcTest, ClientCancellationReachesTheHandler) {
  auto body = [&]() -> Task<absl::Status> {
    ClientReaderWriter<EchoRequest, EchoReply> chat(
        ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/Chat", {}));
    co_await chat.Write(Req("first"));
    co_await chat.Read();
    chat.Cancel();
    co_return co_await chat.Finish();
  };
  absl::Status st = Run(body());
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled);
  // The RST_STREAM reaches the server: its handler's Read ends and it sees the cancellation.
  EXPECT_TRUE(Run(Until([&] { return service_.chat_cancelled; })));
}

TEST_F(RpcTest, CompressionBothWays) {
  CallOptions options;
  options.compression = Compression::kGzip;
  EchoRequest req = Req("zip");
  req.set_payload(std::string(100000, 'z'));
  auto call = ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/Unary", options);
  auto body = [&]() -> Task<std::optional<std::string>> {
    co_await call->Write(req.SerializeAsString());
    call->WritesDone();
    auto bytes = co_await call->Read();
    absl::Status st = co_await call->Finish();
    EXPECT_TRUE(st.ok()) << st;
    co_return bytes;
  };
  auto bytes = Run(body());
  ASSERT_TRUE(bytes);
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(*bytes));
  EXPECT_EQ(reply.payload().size(), 100000u);
  // The server answered in the client's compression.
  EXPECT_EQ(call->response_compression(), Compression::kGzip);
  EXPECT_TRUE(call->last_message_compressed());
}

TEST_F(RpcTest, MessageOverTheServerLimitIsResourceExhausted) {
  EchoRequest req = Req("big");
  req.set_payload(std::string(2 << 20, 'b'));  // 2 MiB > the 1 MiB limit of this server
  auto reply = Unary(req);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(RpcTest, ConnectionRefusedIsUnavailable) {
  auto dead = Channel::Create(&loop_, "127.0.0.1:1");
  auto reply = Run(UnaryCall<EchoRequest, EchoReply>(dead, "/h2rpc.rpc_test.Echo/Unary", Req(""), {}));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RpcTest, ReconnectsAfterTheConnectionDrops) {
  ASSERT_TRUE(Unary(Req("1")).ok());
  channel_->Close();  // as if the connection went away
  auto reply = Unary(Req("2"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(channel_->connections_made(), 2);
}

// A raw HTTP/2 server that refuses the first `refusals` streams (RST_STREAM REFUSED_STREAM, or
// GOAWAY with last-stream-id 0 when `goaway`), then answers Unary calls with an empty reply.
struct RefusingServer {
  RefusingServer(transport::UvLoop* loop, int refusals, bool goaway) : left(refusals) {
    server = *transport::Http2Server::createServer(loop);
    server->onStream([this, goaway](std::shared_ptr<transport::ServerHttp2Stream> s,
                                     const transport::Headers&, uint8_t) {
      ++streams;
      if (left > 0 && (!goaway || s->id() == 3)) {
        --left;
        if (goaway) {
          // Stream 3 arrived, but we go away having processed only stream 1: the client's
          // stream 3 is refused (nghttp2 closes it with REFUSED_STREAM).
          (void)s->session()->goaway(transport::constants::NGHTTP2_NO_ERROR, 1);
        } else {
          s->close(transport::constants::NGHTTP2_REFUSED_STREAM);
        }
        return;
      }
      (void)s->respond({{":status", "200"}, {"content-type", "application/grpc"}},
                       {.waitForTrailers = true});
      s->onData([](std::string_view) {});
      s->onWantTrailers([s] { (void)s->sendTrailers({{"grpc-status", "0"}}); });
      s->end(FrameMessage("", false));
    });
    (void)server->listen(0);
  }
  std::unique_ptr<transport::Http2Server> server;
  int left;
  int streams = 0;
};

TEST_F(RpcTest, RefusedStreamIsRetriedTransparently) {
  RefusingServer refusing(&loop_, 1, /*goaway=*/false);
  auto channel = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(refusing.server->port()));
  auto reply = Run(UnaryCall<EchoRequest, EchoReply>(channel, "/h2rpc.rpc_test.Echo/Unary",
                                                     Req("again"), {}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(refusing.streams, 2);
  EXPECT_EQ(channel->transparent_retries(), 1);
  EXPECT_EQ(channel->connections_made(), 1);
  channel->Close();
}

TEST_F(RpcTest, CallAboveGoawayLastStreamIdIsRetriedOnANewConnection) {
  RefusingServer refusing(&loop_, 1, /*goaway=*/true);
  auto channel = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(refusing.server->port()));
  // Two calls in flight on one connection (streams 1 and 3); the GOAWAY admits only stream 1.
  auto first = ClientCall::Start(channel, "/h2rpc.rpc_test.Echo/Unary", {});
  auto second = ClientCall::Start(channel, "/h2rpc.rpc_test.Echo/Unary", {});
  auto body = [&]() -> Task<std::pair<absl::Status, absl::Status>> {
    for (auto* call : {&first, &second}) {
      co_await (*call)->Write(Req("x").SerializeAsString());
      (*call)->WritesDone();
    }
    absl::Status a = co_await first->Finish();
    absl::Status b = co_await second->Finish();
    co_return std::make_pair(a, b);
  };
  auto [a, b] = Run(body());
  EXPECT_TRUE(a.ok()) << a;
  EXPECT_TRUE(b.ok()) << b;  // replayed on a new connection, not lost
  EXPECT_EQ(channel->transparent_retries(), 1);
  EXPECT_EQ(channel->connections_made(), 2);
  channel->Close();
}

TEST_F(RpcTest, RetryHappensOnceOnly) {
  RefusingServer refusing(&loop_, 5, /*goaway=*/false);
  auto channel = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(refusing.server->port()));
  auto reply = Run(UnaryCall<EchoRequest, EchoReply>(channel, "/h2rpc.rpc_test.Echo/Unary",
                                                     Req("no"), {}));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refusing.streams, 2);
  channel->Close();
}

TEST_F(RpcTest, StatusDetailsTravelAsPayloads) {
  EchoRequest req = Req("with details");
  req.set_status_code(static_cast<int>(absl::StatusCode::kFailedPrecondition));
  req.set_payload(std::string("\x08\x01\xff", 3));
  auto reply = Unary(req);
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reply.status().message(), "with details");
  auto detail = reply.status().GetPayload("type.googleapis.com/h2rpc.rpc_test.Detail");
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(std::string(*detail), std::string("\x08\x01\xff", 3));
}

TEST_F(RpcTest, ClientWritesWaitWhileTheServerDoesNotRead) {
  constexpr int kMessages = 60;  // 3.75 MiB: well past the server's 1 MiB window
  const SlowUpload up = UploadToASlowReader(kMessages, 64 * 1024);
  // One stream window (1 MiB: 16 messages), the stream's send buffer (one message) and the few
  // messages the server's call buffers (4): far fewer than 60 messages of 64 KiB.
  EXPECT_LT(up.while_blocked, 16 + 1 + 4 + 3);
  EXPECT_GT(up.while_blocked, 0);
  ASSERT_TRUE(up.writer_done);
  EXPECT_EQ(up.written, kMessages);
  ASSERT_TRUE(up.result.ok()) << up.result.status();
  EXPECT_EQ(up.result->index(), kMessages);
}

// A call stops taking bytes at max_buffered_bytes (1 MiB) as well as at max_buffered_messages
// (4): with ~1 MB messages the server holds two of them, not four.
TEST_F(RpcTest, ServerCallStopsReadingAtItsBufferedBytes) {
  constexpr int kMessages = 8;
  // ~1 MB messages: under the test server's 1 MiB limit.
  const SlowUpload up = UploadToASlowReader(kMessages, 1000000);
  // The server's call holds two messages and stops crediting: the stream window (1 MiB) lets a
  // third one through, and the client's Write waits on the fourth. Counting messages only, the
  // call would have taken four, and the client written five.
  EXPECT_LE(up.while_blocked, 3);
  EXPECT_GT(up.while_blocked, 0);
  ASSERT_TRUE(up.writer_done);
  EXPECT_EQ(up.written, kMessages);
  ASSERT_TRUE(up.result.ok()) << up.result.status();
  EXPECT_EQ(up.result->index(), kMessages);
}

// The typed client parses a message from the slices it arrived in, whatever the split (a field
// cut anywhere, empty pieces) — ZeroCopyInputStream's Next/BackUp/Skip.
TEST(ReceivedMessageTest, ParsesFromAnySplit) {
  EchoReply reply;
  reply.set_text("split me");
  reply.set_index(7);
  reply.set_payload(std::string(300, 'q'));
  const std::string wire = reply.SerializeAsString();
  for (size_t a = 0; a <= wire.size(); a += 7) {
    for (size_t b = a; b <= wire.size(); b += 13) {
      ReceivedMessage m;
      m.pieces.emplace_back(wire.substr(0, a));
      m.pieces.emplace_back(wire.substr(a, b - a));
      m.pieces.emplace_back(wire.substr(b));
      EchoReply parsed;
      ASSERT_TRUE(m.ParseTo(&parsed)) << a << " " << b;
      EXPECT_EQ(parsed.text(), "split me");
      EXPECT_EQ(parsed.index(), 7);
      EXPECT_EQ(parsed.payload(), reply.payload());
      EXPECT_EQ(std::move(m).Take(), wire);
    }
  }
  ReceivedMessage bad;
  bad.pieces.emplace_back(wire.substr(0, 5));  // cut short
  EchoReply parsed;
  EXPECT_FALSE(bad.ParseTo(&parsed));
}

TEST(SerializeMessageTest, SerializesOnceBehindRoomForThePrefix) {
  EchoReply reply;
  reply.set_text("t");
  reply.set_payload(std::string(70000, 'p'));
  SerializedMessage m = SerializeMessage(reply);
  ASSERT_EQ(m.payload_size, reply.ByteSizeLong());
  ASSERT_EQ(m.framed.size(), kMessagePrefixSize + m.payload_size);
  EXPECT_EQ(m.framed.view().substr(kMessagePrefixSize), reply.SerializeAsString());
  EchoReply empty;
  SerializedMessage e = SerializeMessage(empty);
  EXPECT_EQ(e.payload_size, 0u);
  EXPECT_EQ(e.framed.size(), kMessagePrefixSize);
}

TEST_F(RpcTest, ServerWritesWaitWhileTheClientDoesNotRead) {
  // The client reads nothing at first: its call stops taking bytes after a few messages, so the
  // server gets at most its stream window (1 MiB: 16 messages of 64 KiB) ahead, not all 200
  // (12.5 MiB, which a client buffering without bound would take in).
  constexpr int kMessages = 200;
  EchoRequest req = Req("big");
  req.set_count(kMessages);
  req.set_payload(std::string(64 * 1024, 'r'));
  auto call = ClientCall::Start(channel_, "/h2rpc.rpc_test.Echo/Expand", {});
  auto body = [&]() -> Task<std::pair<int, int>> {
    co_await call->Write(req.SerializeAsString());
    call->WritesDone();
    // Wait until the server stops making progress (or has sent everything: the failure).
    const int while_blocked = co_await UntilStalled(service_.expanded);
    ClientReader<EchoReply> reader(call);
    int got = 0;
    while (auto r = co_await reader.Read()) {
      EXPECT_EQ(r->index(), got);
      ++got;
    }
    absl::Status st = co_await reader.Finish();
    EXPECT_TRUE(st.ok()) << st;
    co_return std::make_pair(while_blocked, got);
  };
  auto [while_blocked, got] = Run(body());
  // Window (16) + what the client's call buffers (4) + the server stream's send buffer (1).
  EXPECT_LT(while_blocked, 16 + 4 + 1 + 3);
  EXPECT_GT(while_blocked, 0);
  EXPECT_EQ(got, kMessages);  // reading again resumes the flow
}

TEST_F(RpcTest, ChannelAndServerAdvertiseOneMiBWindows) {
  ASSERT_TRUE(Unary(Req("w")).ok());
  auto session = channel_->Session();
  ASSERT_TRUE(session.ok());
  // Ours (acknowledged by the server) and the server's SETTINGS_INITIAL_WINDOW_SIZE.
  EXPECT_EQ((*session)->localSettings().initialWindowSize, uint32_t{1} << 20);
  EXPECT_EQ((*session)->remoteSettings().initialWindowSize, uint32_t{1} << 20);
  // And 1 MiB DATA frames both ways (HTTP/2's default is 16 KiB).
  EXPECT_EQ((*session)->localSettings().maxFrameSize, uint32_t{1} << 20);
  EXPECT_EQ((*session)->remoteSettings().maxFrameSize, uint32_t{1} << 20);
  // Both connection windows were widened too (Node's is 65535).
  EXPECT_GT((*session)->state().localWindowSize, 1 << 19);
  EXPECT_GT((*session)->state().remoteWindowSize, 1 << 19);

  // 0 keeps the transport's (Node's) windows.
  ChannelOptions node_windows;
  node_windows.initial_window_size = 0;
  node_windows.connection_window_size = 0;
  node_windows.max_frame_size = 0;
  auto channel = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()),
                                 node_windows);
  auto reply = Run(UnaryCall<EchoRequest, EchoReply>(channel, "/h2rpc.rpc_test.Echo/Unary",
                                                     Req("n"), {}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  auto node_session = channel->Session();
  ASSERT_TRUE(node_session.ok());
  EXPECT_EQ((*node_session)->localSettings().initialWindowSize, 65535u);
  EXPECT_LE((*node_session)->state().localWindowSize, 65535);
  EXPECT_EQ((*node_session)->localSettings().maxFrameSize, 16384u);
  channel->Close();
}

TEST_F(RpcTest, ShutdownLetsRunningCallsFinishWithinTheGrace) {
  EchoRequest req = Req("finishing");
  req.set_sleep_ms(100);
  std::optional<absl::StatusOr<EchoReply>> reply;
  UnaryCall<EchoRequest, EchoReply>(channel_, "/h2rpc.rpc_test.Echo/Unary", req, {})
      .Start([&](absl::StatusOr<EchoReply> r) { reply = std::move(r); }, nullptr);
  bool stopped = false;
  auto body = [&]() -> Task<void> {
    co_await Until([&] { return service_.unary_started == 1; });  // the call is running
    server_->Shutdown(absl::Seconds(5), [&] { stopped = true; });
    co_await Until([&] { return stopped && reply; });
  };
  Run(body());
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->ok()) << reply->status();
  EXPECT_EQ((*reply)->text(), "echo: finishing");
  EXPECT_TRUE(stopped);
  // New calls are refused once the server has gone.
  auto after = Unary(Req("late"));
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RpcTest, ShutdownCancelsCallsStillRunningAfterTheGrace) {
  EchoRequest req = Req("too slow");
  req.set_sleep_ms(10000);
  std::optional<absl::StatusOr<EchoReply>> reply;
  UnaryCall<EchoRequest, EchoReply>(channel_, "/h2rpc.rpc_test.Echo/Unary", req, {})
      .Start([&](absl::StatusOr<EchoReply> r) { reply = std::move(r); }, nullptr);
  bool stopped = false;
  auto body = [&]() -> Task<void> {
    co_await Until([&] { return service_.unary_started == 1; });  // the call is running
    server_->Shutdown(absl::Milliseconds(100), [&] { stopped = true; });
    // ...and until the handler has seen the cancellation and returned: it sleeps in 10 ms
    // steps, and a loop torn down under a pending step would leak its frame (and the call).
    co_await Until([&] { return stopped && reply && service_.cancelled_seen; });
  };
  Run(body());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status().code(), absl::StatusCode::kUnavailable) << reply->status();
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(service_.cancelled_seen);
}

// A server that is not gRPC: the status comes from the HTTP status (gRPC's mapping table).
TEST_F(RpcTest, HttpStatusWithoutGrpcStatusIsMapped) {
  auto http = *transport::Http2Server::createServer(&loop_);
  std::string next_status;
  std::string next_type = "application/grpc";
  http->onStream([&](std::shared_ptr<transport::ServerHttp2Stream> s, const transport::Headers&,
                     uint8_t) {
    (void)s->respond({{":status", next_status}, {"content-type", next_type}}, {.endStream = true});
  });
  ASSERT_TRUE(http->listen(0).ok());
  auto channel = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(http->port()));
  auto call = [&](std::string status, std::string type) {
    next_status = std::move(status);
    next_type = std::move(type);
    return Run(UnaryCall<EchoRequest, EchoReply>(channel, "/x.Y/Z", Req(""), {})).status().code();
  };
  EXPECT_EQ(call("404", "text/html"), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(call("503", "text/html"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(call("401", "text/plain"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(call("200", "text/html"), absl::StatusCode::kUnknown);   // not gRPC
  EXPECT_EQ(call("200", "application/grpc"), absl::StatusCode::kUnknown);  // no grpc-status
  channel->Close();
  http->close();
}

// A stream reset by the server maps by its code (gRPC's table): ENHANCE_YOUR_CALM, what a
// server over its memory budget sends, is RESOURCE_EXHAUSTED; a dropped connection (CANCEL)
// stays UNAVAILABLE.
TEST_F(RpcTest, ServerResetCodeIsMapped) {
  auto http = *transport::Http2Server::createServer(&loop_);
  uint32_t next_code = 0;
  http->onStream([&](std::shared_ptr<transport::ServerHttp2Stream> s, const transport::Headers&,
                     uint8_t) { s->close(next_code); });
  ASSERT_TRUE(http->listen(0).ok());
  auto channel = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(http->port()));
  auto call = [&](uint32_t code) {
    next_code = code;
    return Run(UnaryCall<EchoRequest, EchoReply>(channel, "/x.Y/Z", Req(""), {})).status();
  };
  absl::Status calm = call(transport::constants::NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(calm.code(), absl::StatusCode::kResourceExhausted) << calm;
  EXPECT_EQ(call(transport::constants::NGHTTP2_INTERNAL_ERROR).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(call(transport::constants::NGHTTP2_CANCEL).code(), absl::StatusCode::kUnavailable);
  channel->Close();
  http->close();
}

// Never compress with an algorithm the server did not list in grpc-accept-encoding.
TEST_F(RpcTest, ClientDoesNotCompressWithWhatTheServerDoesNotAccept) {
  auto http = *transport::Http2Server::createServer(&loop_);
  std::vector<std::string> request_encodings;
  http->onStream([&](std::shared_ptr<transport::ServerHttp2Stream> s, const transport::Headers& h,
                     uint8_t) {
    request_encodings.push_back(h.get("grpc-encoding").value_or("identity"));
    (void)s->respond({{":status", "200"},
                      {"content-type", "application/grpc"},
                      {"grpc-accept-encoding", "identity"},  // this server takes no gzip
                      {"grpc-status", "0"}},
                     {.endStream = true});
  });
  ASSERT_TRUE(http->listen(0).ok());
  auto channel = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(http->port()));
  CallOptions gzip;
  gzip.compression = Compression::kGzip;
  for (int i = 0; i < 2; ++i) {
    auto call = ClientCall::Start(channel, "/x.Y/Z", gzip);
    auto body = [&]() -> Task<absl::Status> {
      co_await call->Write("payload");
      call->WritesDone();
      co_return co_await call->Finish();
    };
    EXPECT_TRUE(Run(body()).ok());
  }
  // The first call could not know; the second knows the server's list.
  EXPECT_EQ(request_encodings, (std::vector<std::string>{"gzip", "identity"}));
  channel->Close();
  http->close();
}

// Many calls on one connection keep working (nghttp2's closed streams are bounded by the
// server's MAX_CONCURRENT_STREAMS; with none, they filled maxSessionMemory after ~40k calls).
TEST(RpcLongConnectionTest, ThousandsOfCallsOnOneConnection) {
  transport::UvLoop loop;
  EchoService service(&loop);
  ServerOptions options;
  options.http2.maxSessionMemory = 1;  // 1 MB: without the bound, fails after ~4000 calls
  Server server(&loop, options);
  server.RegisterService(&service);
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  auto channel = Channel::Create(&loop, "127.0.0.1:" + std::to_string(server.port()));
  auto body = [&]() -> Task<int> {
    int ok = 0;
    for (int i = 0; i < 8000; ++i) {
      auto reply = co_await UnaryCall<EchoRequest, EchoReply>(channel, "/h2rpc.rpc_test.Echo/Unary",
                                                              Req("n"), {});
      if (!reply.ok()) break;
      ++ok;
    }
    co_return ok;
  };
  EXPECT_EQ(BlockOn(&loop, body()), 8000);
  EXPECT_EQ(channel->connections_made(), 1);
  channel->Close();
  bool closed = false;
  server.Shutdown(absl::Seconds(1), [&] { closed = true; });
  for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
}

}  // namespace
}  // namespace h2rpc::rpc
