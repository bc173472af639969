// rpc/generic_test.cc — generic calls (rpc/generic.h): a tiny gRPC proxy (a GenericService
// forwarding every call through a GenericStub) between a typed client and a typed server, over
// loopback, with the four kinds of calls, metadata, deadlines and statuses carried through; the
// generic service next to typed ones; UNIMPLEMENTED for unknown methods without it.
#include "rpc/generic.h"

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
#include "rpc/client.h"
#include "rpc/metrics.h"
#include "rpc/server.h"
#include "rpc/server_pool.h"
#include "rpc/status_details.h"
#include "rpc/sync.h"
#include "rpc/testdata/echo_service.h2rpc.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;
using rpc_test::EchoService;

EchoRequest Req(std::string text, int count = 0, int status_code = 0) {
  EchoRequest r;
  r.set_text(std::move(text));
  r.set_count(count);
  r.set_status_code(status_code);
  return r;
}

EchoReply Reply(std::string text, int index = 0) {
  EchoReply r;
  r.set_text(std::move(text));
  r.set_index(index);
  return r;
}

// The backend. Every method answers response headers "x-header" and trailers "x-trailer" (the
// client's "x-echo-me"), and "x-deadline" says whether the call had a deadline.
class Backend : public EchoService::Service {
 public:
  static void AddMetadata(ServerContext& context) {
    EXPECT_TRUE(context.initial_metadata().Add("x-header", "backend").ok());
    EXPECT_TRUE(
        context.initial_metadata().Add("x-deadline", context.deadline() ? "yes" : "no").ok());
    auto echoed = context.client_metadata().GetFirst("x-echo-me");
    EXPECT_TRUE(context.trailing_metadata().Add("x-trailer", echoed.value_or("none")).ok());
  }
  static absl::Status StatusOf(const EchoRequest& request) {
    if (request.status_code() == 0) return absl::OkStatus();
    google::rpc::ErrorInfo info;
    info.set_reason("BACKEND_SAYS_NO");
    return ErrorWithDetails(static_cast<absl::StatusCode>(request.status_code()),
                            "backend: " + request.text(), info);
  }

  Task<absl::StatusOr<EchoReply>> Echo(ServerContext& context,
                                       const EchoRequest& request) override {
    AddMetadata(context);
    if (absl::Status st = StatusOf(request); !st.ok()) co_return st;
    co_return Reply("echo: " + request.text());
  }
  Task<absl::Status> Expand(ServerContext& context, const EchoRequest& request,
                            ServerWriter<EchoReply>& writer) override {
    AddMetadata(context);
    for (int i = 0; i < request.count(); ++i) {
      if (!co_await writer.Write(Reply(request.text(), i))) co_return absl::CancelledError("gone");
    }
    co_return StatusOf(request);
  }
  Task<absl::StatusOr<EchoReply>> Collect(ServerContext& context,
                                          ServerReader<EchoRequest>& reader) override {
    AddMetadata(context);
    std::string all;
    while (std::optional<EchoRequest> r = co_await reader.Read()) all += r->text();
    co_return Reply(all);
  }
  Task<absl::Status> Chat(ServerContext& context,
                          ServerReaderWriter<EchoReply, EchoRequest>& stream) override {
    AddMetadata(context);
    int i = 0;
    while (std::optional<EchoRequest> r = co_await stream.Read()) {
      if (!co_await stream.Write(Reply("re: " + r->text(), i++))) break;
    }
    if (context.IsCancelled() && chat_cancelled != nullptr) chat_cancelled->Set();
    co_return absl::OkStatus();
  }

  Event* chat_cancelled = nullptr;  // set when a Chat ends cancelled
};

// The proxy: forwards any call to the backend through a GenericStub, with the client's metadata;
// the backend call inherits the proxied call's deadline and cancellation (CallOptions::propagate).
// Requests are pumped by a task of their own while Handle pumps the responses, so that
// bidirectional calls interleave.
class Proxy : public GenericService {
 public:
  explicit Proxy(std::shared_ptr<Channel> backend) : stub_(std::move(backend)) {}

  Task<absl::Status> Handle(ServerContext& context, GenericServerStream& stream) override {
    ++calls_;
    CallOptions options;
    options.metadata = context.client_metadata();
    options.metadata.Remove("user-agent");  // the backend call sends its own
    std::shared_ptr<GenericClientCall> call = stub_.Call(context.method(), std::move(options));
    // Holds copies of both ends: it may outlive this handler (it ends when the client's
    // requests end, which the end of the proxied call brings about).
    PumpRequests(stream, call).Start();
    bool headers_copied = false;
    while (std::optional<std::string> response = co_await call->Read()) {
      if (!headers_copied) {
        context.initial_metadata() = call->initial_metadata();
        headers_copied = true;
      }
      if (!co_await stream.Write(std::move(*response))) {
        call->Cancel();
        break;
      }
    }
    absl::Status status = co_await call->Finish();
    if (!headers_copied) context.initial_metadata() = call->initial_metadata();
    context.trailing_metadata() = call->trailing_metadata();
    co_return status;
  }

  int calls() const { return calls_; }

 private:
  static Task<void> PumpRequests(GenericServerStream stream,
                                 std::shared_ptr<GenericClientCall> call) {
    while (std::optional<std::string> request = co_await stream.Read()) {
      if (!co_await call->Write(std::move(*request))) co_return;
    }
    // The client half-closed, or the proxied call ended: only the former is passed on (the
    // backend call is cancelled with the proxied one; a half-close first would let the backend
    // finish normally).
    if (!stream.IsCancelled()) call->WritesDone();
  }

  GenericStub stub_;
  int calls_ = 0;
};

// Answers every call with one message: its own method path.
class PathEcho : public GenericService {
 public:
  Task<absl::Status> Handle(ServerContext& context, GenericServerStream& stream) override {
    while (std::optional<std::string> ignored = co_await stream.Read()) {
    }
    co_await stream.Write(context.method());
    co_return absl::OkStatus();
  }
};

class GenericTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<Server>(&loop_);
    backend_->RegisterService(&backend_service_);
    ASSERT_TRUE(backend_->Listen("127.0.0.1", 0).ok());
    backend_channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(backend_->port()));
    proxy_service_ = std::make_unique<Proxy>(backend_channel_);
    proxy_ = std::make_unique<Server>(&loop_);
    proxy_->RegisterGenericService(proxy_service_.get());
    ASSERT_TRUE(proxy_->Listen("127.0.0.1", 0).ok());
    proxy_channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(proxy_->port()));
  }
  void TearDown() override {
    proxy_channel_->Close();
    backend_channel_->Close();
    int closed = 0;
    proxy_->Shutdown(absl::Seconds(1), [&] { ++closed; });
    backend_->Shutdown(absl::Seconds(1), [&] { ++closed; });
    for (int i = 0; i < 1000 && closed < 2; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }

  static CallOptions EchoMe(std::string value) {
    CallOptions options;
    EXPECT_TRUE(options.metadata.Add("x-echo-me", value).ok());
    return options;
  }

  transport::UvLoop loop_;
  Backend backend_service_;
  std::unique_ptr<Proxy> proxy_service_;
  std::unique_ptr<Server> backend_;
  std::unique_ptr<Server> proxy_;
  std::shared_ptr<Channel> backend_channel_;
  std::shared_ptr<Channel> proxy_channel_;
};

TEST_F(GenericTest, UnaryThroughProxyCarriesMetadataAndDeadline) {
  EchoService::Stub stub(proxy_channel_);
  ClientContext context;
  auto body = [&]() -> Task<absl::StatusOr<EchoReply>> {
    CallOptions options = EchoMe("u1");
    options.timeout = absl::Seconds(30);
    co_return co_await stub.Echo(&context, Req("hi"), std::move(options));
  };
  absl::StatusOr<EchoReply> reply = BlockOn(&loop_, body());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "echo: hi");
  EXPECT_EQ(context.initial_metadata().GetFirst("x-header"), "backend");
  EXPECT_EQ(context.initial_metadata().GetFirst("x-deadline"), "yes");
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-trailer"), "u1");
  EXPECT_EQ(context.peer(), "127.0.0.1:" + std::to_string(proxy_->port()));  // the proxy
  EXPECT_EQ(proxy_service_->calls(), 1);

  // Without a deadline the backend sees none either.
  absl::StatusOr<EchoReply> again = stub.EchoBlocking(&context, Req("again"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(context.initial_metadata().GetFirst("x-deadline"), "no");
  EXPECT_EQ(proxy_service_->calls(), 2);
}

TEST_F(GenericTest, UnaryErrorThroughProxyKeepsStatusDetailsAndTrailers) {
  EchoService::Stub stub(proxy_channel_);
  ClientContext context;
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(
      &context, Req("nope", 0, static_cast<int>(absl::StatusCode::kPermissionDenied)),
      EchoMe("e1"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(reply.status().message(), "backend: nope");
  auto info = GetStatusDetail<google::rpc::ErrorInfo>(reply.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "BACKEND_SAYS_NO");
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-trailer"), "e1");
  EXPECT_EQ(context.trailing_metadata().Get("x-trailer").size(), 1u);
}

TEST_F(GenericTest, ServerStreamingThroughProxy) {
  EchoService::Stub stub(proxy_channel_);
  auto body = [&]() -> Task<std::vector<std::string>> {
    auto reader =
        stub.Expand(Req("tick", 3, static_cast<int>(absl::StatusCode::kAborted)), EchoMe("s1"));
    std::vector<std::string> got;
    while (std::optional<EchoReply> r = co_await reader->Read()) {
      got.push_back(r->text() + std::to_string(r->index()));
    }
    absl::Status status = co_await reader->Finish();
    EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
    EXPECT_EQ(status.message(), "backend: tick");
    EXPECT_EQ(reader->initial_metadata().GetFirst("x-header"), "backend");
    EXPECT_EQ(reader->trailing_metadata().GetFirst("x-trailer"), "s1");
    co_return got;
  };
  EXPECT_EQ(BlockOn(&loop_, body()), (std::vector<std::string>{"tick0", "tick1", "tick2"}));
}

TEST_F(GenericTest, ClientStreamingThroughProxy) {
  EchoService::Stub stub(proxy_channel_);
  auto body = [&]() -> Task<absl::StatusOr<EchoReply>> {
    auto writer = stub.Collect(EchoMe("c1"));
    for (const char* part : {"a", "b", "c"}) {
      if (!co_await writer->Write(Req(part))) break;
    }
    absl::StatusOr<EchoReply> reply = co_await writer->Finish();
    EXPECT_EQ(writer->trailing_metadata().GetFirst("x-trailer"), "c1");
    co_return reply;
  };
  absl::StatusOr<EchoReply> reply = BlockOn(&loop_, body());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "abc");
}

// Each response comes back before the next request is written: the proxy pumps both ways at once.
TEST_F(GenericTest, BidiThroughProxyInterleaves) {
  EchoService::Stub stub(proxy_channel_);
  auto body = [&]() -> Task<std::vector<std::string>> {
    auto chat = stub.Chat(EchoMe("b1"));
    std::vector<std::string> got;
    for (const char* message : {"one", "two", "three"}) {
      EXPECT_TRUE(co_await chat->Write(Req(message)));
      std::optional<EchoReply> r = co_await chat->Read();
      if (!r) break;
      got.push_back(r->text());
    }
    chat->WritesDone();
    EXPECT_FALSE((co_await chat->Read()).has_value());
    absl::Status status = co_await chat->Finish();
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_EQ(chat->trailing_metadata().GetFirst("x-trailer"), "b1");
    co_return got;
  };
  EXPECT_EQ(BlockOn(&loop_, body()), (std::vector<std::string>{"re: one", "re: two", "re: three"}));
}

// A client that cancels a call through the proxy cancels the backend's call too (the proxy's
// call to the backend inherits the proxied call's end).
TEST_F(GenericTest, CancellationGoesThroughProxy) {
  Event backend_cancelled(&loop_);
  backend_service_.chat_cancelled = &backend_cancelled;
  EchoService::Stub stub(proxy_channel_);
  auto body = [&]() -> Task<bool> {
    auto chat = stub.Chat();
    EXPECT_TRUE(co_await chat->Write(Req("one")));
    std::optional<EchoReply> r = co_await chat->Read();
    EXPECT_TRUE(r.has_value());
    chat->Cancel();
    absl::Status status = co_await chat->Finish();
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
    co_return co_await backend_cancelled.Wait();
  };
  EXPECT_TRUE(BlockOn(&loop_, body()));
}

TEST_F(GenericTest, UnknownMethodsWithoutGenericServiceAreUnimplemented) {
  GenericStub direct(backend_channel_);
  absl::StatusOr<std::string> r =
      direct.UnaryCallBlocking("/h2rpc.rpc_test.EchoService/Nope", Req("x").SerializeAsString());
  EXPECT_EQ(r.status(),
            absl::UnimplementedError("Method not found: /h2rpc.rpc_test.EchoService/Nope"));
  r = direct.UnaryCallBlocking("/no.Such/Method", "");
  EXPECT_EQ(r.status(), absl::UnimplementedError("Service not found: no.Such"));

  // Through the proxy the backend's answer comes back as is.
  GenericStub proxied(proxy_channel_);
  r = proxied.UnaryCallBlocking("/no.Such/Method", "");
  EXPECT_EQ(r.status(), absl::UnimplementedError("Service not found: no.Such"));
  EXPECT_EQ(proxy_service_->calls(), 1);
}

// Registered methods stay with their service; the generic service gets the rest. GenericStub's
// unary call returns the serialized response.
TEST_F(GenericTest, GenericServiceServesOnlyUnregisteredMethods) {
  PathEcho path_echo;
  Backend typed;
  Server server(&loop_);
  server.RegisterService(&typed);
  server.RegisterGenericService(&path_echo);
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  auto channel = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server.port()));
  GenericStub generic(channel);

  absl::StatusOr<std::string> r = generic.UnaryCallBlocking("/h2rpc.rpc_test.EchoService/Echo",
                                                            Req("typed").SerializeAsString());
  ASSERT_TRUE(r.ok()) << r.status();
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(*r));
  EXPECT_EQ(reply.text(), "echo: typed");

  r = generic.UnaryCallBlocking("/h2rpc.rpc_test.EchoService/Other", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "/h2rpc.rpc_test.EchoService/Other");

  // A streaming call through GenericStub::Call.
  auto body = [&]() -> Task<std::vector<std::string>> {
    auto call = generic.Call("/any.Thing/At/All");
    EXPECT_TRUE(co_await call->Write("ignored"));
    call->WritesDone();
    std::vector<std::string> got;
    while (std::optional<std::string> m = co_await call->Read()) got.push_back(*m);
    absl::Status status = co_await call->Finish();
    EXPECT_TRUE(status.ok()) << status;
    co_return got;
  };
  EXPECT_EQ(BlockOn(&loop_, body()), (std::vector<std::string>{"/any.Thing/At/All"}));

  // A context with a generic unary call.
  ClientContext context;
  r = generic.UnaryCallBlocking("/h2rpc.rpc_test.EchoService/Echo", Req("m").SerializeAsString(),
                                EchoMe("g1"), &context);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-trailer"), "g1");

  channel->Close();
  bool closed = false;
  server.Shutdown(absl::Seconds(1), [&] { closed = true; });
  for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
}

// Metrics label generic calls "other" on both sides (gRFC A66): their paths are the clients'
// choice, and labels from them would grow without bound. Registered methods keep their name.
TEST(GenericMetricsTest, GenericCallsAreLabelledOther) {
  transport::UvLoop loop;
  CallMetrics server_metrics;
  CallMetrics client_metrics;
  PathEcho path_echo;
  Backend typed;
  ServerOptions server_options;
  server_options.interceptors.push_back(server_metrics.ServerInterceptor());
  Server server(&loop, server_options);
  server.RegisterService(&typed);
  server.RegisterGenericService(&path_echo);
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  ChannelOptions channel_options;
  channel_options.interceptors.push_back(client_metrics.ClientInterceptor());
  const std::string target = "127.0.0.1:" + std::to_string(server.port());
  auto channel = Channel::Create(&loop, target, channel_options);
  GenericStub generic(channel);
  EchoService::Stub typed_stub(channel);

  ASSERT_TRUE(generic.UnaryCallBlocking("/any.Thing/One", "").ok());
  ASSERT_TRUE(generic.UnaryCallBlocking("/any.Thing/Two", "").ok());
  ASSERT_TRUE(generic.UnaryCallBlocking("/h2rpc.rpc_test.EchoService/Echo", "").ok());
  ASSERT_TRUE(typed_stub.EchoBlocking(Req("x")).ok());

  const char* started = "grpc.server.call.started";
  EXPECT_EQ(server_metrics.CounterValue(started, {"other"}), 2u);
  EXPECT_EQ(server_metrics.CounterValue(started, {"any.Thing/One"}), 0u);
  EXPECT_EQ(server_metrics.CounterValue(started, {"h2rpc.rpc_test.EchoService/Echo"}), 2u);
  const char* attempts = "grpc.client.attempt.started";
  const std::string canonical = "dns:///" + target;
  EXPECT_EQ(client_metrics.CounterValue(attempts, {"other", canonical}), 3u);
  EXPECT_EQ(client_metrics.CounterValue(attempts, {"h2rpc.rpc_test.EchoService/Echo", canonical}),
            1u);
  EXPECT_EQ(server_metrics.PrometheusText().find("any.Thing"), std::string::npos);

  channel->Close();
  bool closed = false;
  server.Shutdown(absl::Seconds(1), [&] { closed = true; });
  for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
}

// ServerPool::RegisterGenericService gives the service to every loop's server: calls over many
// connections (which SO_REUSEPORT spreads over both loops) all reach it, none is UNIMPLEMENTED.
TEST(GenericServerPoolTest, EveryLoopServesTheGenericService) {
  PathEcho path_echo;  // no state: safe on both loops
  ServerPoolOptions options;
  options.num_threads = 2;
  ServerPool pool(options);
  pool.RegisterGenericService(&path_echo);
  ASSERT_TRUE(pool.Listen("127.0.0.1", 0).ok());
  {
    transport::UvLoopThread io;
    for (int i = 0; i < 16; ++i) {
      // A channel each: a connection each.
      auto channel = Channel::Create(io.loop(), "127.0.0.1:" + std::to_string(pool.port()));
      GenericStub stub(channel);
      absl::StatusOr<std::string> r =
          stub.UnaryCallBlocking("/pool.Test/Call" + std::to_string(i), "");
      ASSERT_TRUE(r.ok()) << i << ": " << r.status();
      EXPECT_EQ(*r, "/pool.Test/Call" + std::to_string(i));
    }
  }
  pool.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace h2rpc::rpc
