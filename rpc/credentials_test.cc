// Per-call credentials end to end over loopback: bearer and static metadata on the channel and
// per call, composed; asynchronous plugins (another thread, a coroutine); refusal over
// cleartext; plugin errors and gRFC A54's restricted codes; a plugin slower than the deadline.
#include "rpc/credentials.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/server_pool.h"
#include "rpc/sleep.h"
#include "rpc/testdata/echo.pb.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

// Echoes the request's authorization and x-* metadata, in order, as the reply text.
class EchoService : public Service {
 public:
  EchoService() : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [this](ServerContext& ctx, const EchoRequest&) -> Task<absl::StatusOr<EchoReply>> {
          ++calls;
          EchoReply reply;
          std::string seen;
          for (const auto& [key, value] : ctx.client_metadata()) {
            if (key == "authorization" || key.rfind("x-", 0) == 0) {
              seen += key + "=" + value + ";";
            }
          }
          reply.set_text(seen);
          co_return reply;
        });
  }
  int calls = 0;
};

// Answers with `metadata` (or `error`), counting its calls and remembering the last context.
class RecordingCredentials : public CallCredentials {
 public:
  RecordingCredentials(absl::StatusOr<Metadata> answer, bool secure_only)
      : answer_(std::move(answer)), secure_only_(secure_only) {}
  void GetRequestMetadata(const AuthMetadataContext& context, MetadataCallback done) override {
    ++calls;
    last = context;
    done(answer_);
  }
  bool RequireTransportSecurity() const override { return secure_only_; }
  int calls = 0;
  AuthMetadataContext last;

 private:
  absl::StatusOr<Metadata> answer_;
  bool secure_only_;
};

// Answers from a thread of its own, a little later (nothing secret: cleartext is fine).
class ThreadCredentials : public CallCredentials {
 public:
  bool RequireTransportSecurity() const override { return false; }
  ~ThreadCredentials() override {
    for (auto& t : threads_) t.join();
  }
  void GetRequestMetadata(const AuthMetadataContext& context, MetadataCallback done) override {
    threads_.emplace_back([done = std::move(done), url = context.service_url] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // "later", not a sync
      Metadata md;
      md.Add("x-thread", url).IgnoreError();
      done(std::move(md));
    });
  }

 private:
  std::vector<std::thread> threads_;
};

// A coroutine plugin that waits on the loop before answering (a token refresh).
class SleepyCredentials : public CoroutineCallCredentials {
 public:
  explicit SleepyCredentials(transport::UvLoop* loop) : loop_(loop) {}
  Task<absl::StatusOr<Metadata>> GetMetadata(AuthMetadataContext context) override {
    co_await Sleep(loop_, absl::Milliseconds(10));
    Metadata md;
    md.Add("x-coroutine", context.method_name).IgnoreError();
    co_return md;
  }

 private:
  transport::UvLoop* loop_;
};

// Never answers (keeps the callback, so the call must end by its deadline).
class SilentCredentials : public CallCredentials {
 public:
  void GetRequestMetadata(const AuthMetadataContext&, MetadataCallback done) override {
    kept_.push_back(std::move(done));
  }
  bool RequireTransportSecurity() const override { return false; }

 private:
  std::vector<MetadataCallback> kept_;
};

Metadata One(const char* key, const char* value) {
  Metadata md;
  EXPECT_TRUE(md.Add(key, value).ok());
  return md;
}

class CredentialsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& c : channels_) c->Close();
    if (!server_) return;
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  void Start(bool tls) {
    server_ = std::make_unique<Server>(&loop_);
    server_->RegisterService(&service_);
    if (tls) {
      transport::TlsOptions options;
      options.certFile = "tests/testdata/tls/server.pem";
      options.keyFile = "tests/testdata/tls/server.key";
      ASSERT_TRUE(server_->ListenTls("127.0.0.1:0", options).ok());
    } else {
      ASSERT_TRUE(server_->Listen("127.0.0.1:0").ok());
    }
    tls_ = tls;
  }
  std::string Target() const { return "localhost:" + std::to_string(server_->port()); }
  ChannelOptions Options() const {
    ChannelOptions options;
    if (tls_) {
      options.use_tls = true;
      options.tls.caFile = "tests/testdata/tls/ca.pem";
    }
    return options;
  }
  absl::StatusOr<EchoReply> Call(ChannelOptions options, CallOptions call = {}) {
    auto channel = Channel::Create(&loop_, Target(), std::move(options));
    channels_.push_back(channel);
    if (!call.timeout) call.timeout = absl::Seconds(20);
    return BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(
                               channel, "/h2rpc.rpc_test.Echo/Unary", EchoRequest(), call));
  }

  transport::UvLoop loop_;
  EchoService service_;
  std::unique_ptr<Server> server_;
  bool tls_ = false;
  std::vector<std::shared_ptr<Channel>> channels_;
};

TEST(CredentialsUnitTest, ServiceUrlAndMethodName) {
  auto c = internal::MakeAuthMetadataContext("example.com:443", "/pkg.Svc/Do", true);
  EXPECT_EQ(c.service_url, "https://example.com/pkg.Svc");
  EXPECT_EQ(c.method_name, "Do");
  EXPECT_EQ(c.authority, "example.com:443");
  c = internal::MakeAuthMetadataContext("localhost:50051", "/a.b.C/M", false);
  EXPECT_EQ(c.service_url, "https://localhost:50051/a.b.C");
  EXPECT_EQ(c.method_name, "M");
  EXPECT_FALSE(c.secure);
}

TEST(CredentialsUnitTest, A54RestrictedCodesBecomeInternal) {
  for (auto code : {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
                    absl::StatusCode::kAlreadyExists, absl::StatusCode::kFailedPrecondition,
                    absl::StatusCode::kAborted, absl::StatusCode::kOutOfRange,
                    absl::StatusCode::kDataLoss}) {
    absl::Status s = internal::RestrictControlPlaneStatus(absl::Status(code, "why"));
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << code;
    EXPECT_NE(s.message().find("why"), absl::string_view::npos);
  }
  for (auto code : {absl::StatusCode::kUnauthenticated, absl::StatusCode::kUnavailable,
                    absl::StatusCode::kPermissionDenied, absl::StatusCode::kDeadlineExceeded}) {
    EXPECT_EQ(internal::RestrictControlPlaneStatus(absl::Status(code, "why")),
              absl::Status(code, "why"));
  }
}

TEST_F(CredentialsTest, BearerTokenOnTheChannelOverTls) {
  Start(/*tls=*/true);
  ChannelOptions options = Options();
  options.call_credentials = BearerTokenCredentials("t0ken");
  auto reply = Call(options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "authorization=Bearer t0ken;");
}

TEST_F(CredentialsTest, ChannelThenCallCredentialsAreComposed) {
  Start(/*tls=*/true);
  ChannelOptions options = Options();
  options.call_credentials = StaticMetadataCredentials(One("x-channel", "c"));
  CallOptions call;
  call.metadata = One("x-app", "a");
  call.credentials = CompositeCallCredentials(
      {BearerTokenCredentials("per-call"), StaticMetadataCredentials(One("x-call", "2"))});
  auto reply = Call(options, call);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "x-app=a;x-channel=c;authorization=Bearer per-call;x-call=2;");
}

TEST_F(CredentialsTest, RefusedOverCleartextWithoutAskingThePlugin) {
  Start(/*tls=*/false);
  auto plugin = std::make_shared<RecordingCredentials>(One("authorization", "Bearer x"), true);
  ChannelOptions options = Options();
  options.call_credentials = plugin;
  auto reply = Call(options);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnauthenticated) << reply.status();
  EXPECT_EQ(reply.status().message(),
            "transport: cannot send secure credentials on an insecure connection");
  EXPECT_EQ(plugin->calls, 0);
  EXPECT_EQ(service_.calls, 0);
  // The ready-made ones refuse too, per call as well.
  CallOptions call;
  call.credentials = BearerTokenCredentials("t");
  EXPECT_EQ(Call(Options(), call).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(service_.calls, 0);
}

TEST_F(CredentialsTest, CleartextWhenExplicitlyAllowed) {
  Start(/*tls=*/false);
  ChannelOptions options = Options();
  options.call_credentials = BearerTokenCredentials("t", {.allow_insecure = true});
  auto reply = Call(options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "authorization=Bearer t;");
  // A composite with one part that requires security is refused.
  options.call_credentials = CompositeCallCredentials(
      {BearerTokenCredentials("t", {.allow_insecure = true}), BearerTokenCredentials("u")});
  EXPECT_EQ(Call(options).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(CredentialsTest, PluginGetsServiceUrlAndMethod) {
  Start(/*tls=*/true);
  auto plugin = std::make_shared<RecordingCredentials>(One("x-k", "v"), true);
  ChannelOptions options = Options();
  options.call_credentials = plugin;
  auto reply = Call(options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(plugin->calls, 1);
  EXPECT_EQ(plugin->last.service_url, "https://" + Target() + "/h2rpc.rpc_test.Echo");
  EXPECT_EQ(plugin->last.method_name, "Unary");
  EXPECT_TRUE(plugin->last.secure);
}

TEST_F(CredentialsTest, AsynchronousPluginFromAnotherThread) {
  Start(/*tls=*/true);
  auto plugin = std::make_shared<ThreadCredentials>();
  ChannelOptions options = Options();
  options.call_credentials = plugin;
  auto reply = Call(options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "x-thread=https://" + Target() + "/h2rpc.rpc_test.Echo;");
}

TEST(CredentialsLoopTest, PluginOnAnotherThreadKeepsTheLoopRunning) {
  // The server on a thread of its own: the client's loop has only the call to run.
  EchoService service;
  ServerPool pool;
  pool.RegisterService(&service);
  ASSERT_TRUE(pool.Listen("127.0.0.1", 0).ok());
  transport::UvLoop loop;
  ChannelOptions options;
  options.call_credentials = CompositeCallCredentials(
      {std::make_shared<ThreadCredentials>(),
       StaticMetadataCredentials(Metadata(), {.allow_insecure = true})});
  auto channel = Channel::Create(&loop, "127.0.0.1:" + std::to_string(pool.port()), options);
  std::optional<absl::StatusOr<EchoReply>> result;
  // No deadline: nothing else holds the loop while the plugin's thread works.
  UnaryCall<EchoRequest, EchoReply>(channel, "/h2rpc.rpc_test.Echo/Unary", EchoRequest(), {})
      .Start(
          [&](absl::StatusOr<EchoReply> r) {
            result = std::move(r);
            channel->Close();
          },
          nullptr);
  loop.run();
  ASSERT_TRUE(result.has_value()) << "the loop ended before the call";
  EXPECT_TRUE(result->ok()) << result->status();
  pool.Shutdown(absl::Seconds(1));
}

TEST_F(CredentialsTest, CoroutinePluginAndStreamingWritesHeldUntilItAnswers) {
  Start(/*tls=*/true);
  ChannelOptions options = Options();
  options.call_credentials = std::make_shared<SleepyCredentials>(&loop_);
  auto reply = Call(options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "x-coroutine=Unary;");
}

TEST_F(CredentialsTest, PluginErrorFailsTheCallWithItsCode) {
  Start(/*tls=*/true);
  ChannelOptions options = Options();
  options.call_credentials = std::make_shared<RecordingCredentials>(
      absl::UnavailableError("token service down"), true);
  auto reply = Call(options);
  EXPECT_EQ(reply.status(), absl::UnavailableError("token service down"));
  // A code a plugin must not produce (gRFC A54) becomes INTERNAL.
  options.call_credentials = std::make_shared<RecordingCredentials>(
      absl::NotFoundError("no such key"), true);
  reply = Call(options);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal) << reply.status();
  EXPECT_NE(reply.status().message().find("no such key"), absl::string_view::npos);
  EXPECT_EQ(service_.calls, 0);
}

TEST_F(CredentialsTest, BadBearerTokenFailsWithoutShowingIt) {
  Start(/*tls=*/true);
  ChannelOptions options = Options();
  options.call_credentials = BearerTokenCredentials("secret\nvalue");
  auto reply = Call(options);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal) << reply.status();
  EXPECT_EQ(reply.status().message().find("secret"), absl::string_view::npos);
  EXPECT_EQ(service_.calls, 0);
}

TEST_F(CredentialsTest, DeadlineCountsWhileThePluginWorks) {
  Start(/*tls=*/false);
  ChannelOptions options = Options();
  options.call_credentials = std::make_shared<SilentCredentials>();
  CallOptions call;
  call.timeout = absl::Milliseconds(50);
  auto reply = Call(options, call);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
  EXPECT_EQ(service_.calls, 0);
}

TEST_F(CredentialsTest, ClientStreamingWritesWaitForTheMetadata) {
  Start(/*tls=*/true);
  ChannelOptions options = Options();
  options.call_credentials = std::make_shared<SleepyCredentials>(&loop_);
  auto channel = Channel::Create(&loop_, Target(), options);
  channels_.push_back(channel);
  // Written (and half-closed) before the plugin answered: sent after the headers, in order.
  auto result = BlockOn(&loop_, [&]() -> Task<absl::StatusOr<EchoReply>> {
    CallOptions call;
    call.timeout = absl::Seconds(20);
    auto c = ClientCall::Start(channel, "/h2rpc.rpc_test.Echo/Unary", call);
    EchoRequest req;
    co_await c->Write(req.SerializeAsString());
    co_return co_await internal::HalfCloseAndFinish<EchoReply>(c);
  }());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->text(), "x-coroutine=Unary;");
}

}  // namespace
}  // namespace h2rpc::rpc
