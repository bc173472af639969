// Client interceptors end to end over loopback (rpc/client_interceptor.h): hook order across the
// channel's and the call's interceptors, metadata added after a co_await, local failures and
// local answers (a cache), changed and dropped messages, changed status, failing hooks, and
// calls ended while a hook is suspended (run under --config=asan: nothing may leak).
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/sleep.h"
#include "rpc/testdata/echo.pb.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

constexpr char kUnary[] = "/h2rpc.rpc_test.Echo/Unary";
constexpr char kExpand[] = "/h2rpc.rpc_test.Echo/Expand";
constexpr char kChat[] = "/h2rpc.rpc_test.Echo/Chat";

class EchoService : public Service {
 public:
  explicit EchoService(transport::EventLoop* loop) : Service("h2rpc.rpc_test.Echo"), loop_(loop) {
    AddUnaryMethod<EchoRequest, EchoReply>(
        kUnary,
        [this](ServerContext& ctx, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          ++handled;
          if (req.sleep_ms() > 0) {
            co_await Sleep(loop_, absl::Milliseconds(req.sleep_ms()), ctx.stop_token());
          }
          if (req.status_code() != 0) {
            co_return absl::Status(static_cast<absl::StatusCode>(req.status_code()), req.text());
          }
          ctx.initial_metadata().Add("x-server", "echo").IgnoreError();
          ctx.trailing_metadata().Add("x-trailer", "done").IgnoreError();
          EchoReply reply;
          reply.set_text(req.text());
          for (const auto& v : ctx.client_metadata().Get("x-user")) {
            reply.set_text(reply.text() + "@" + v);
          }
          co_return reply;
        });
    AddServerStreamingMethod<EchoRequest, EchoReply>(
        kExpand,
        [this](ServerContext&, const EchoRequest& req,
               ServerWriter<EchoReply>& out) -> Task<absl::Status> {
          ++handled;
          for (int i = 0; i < req.count(); ++i) {
            EchoReply reply;
            reply.set_text(absl::StrCat(req.text(), i));
            reply.set_index(i);
            if (!co_await out.Write(reply)) co_return absl::CancelledError("gone");
          }
          co_return absl::OkStatus();
        });
    AddBidiStreamingMethod<EchoRequest, EchoReply>(
        kChat,
        [this](ServerContext& ctx,
               ServerReaderWriter<EchoReply, EchoRequest>& s) -> Task<absl::Status> {
          ++handled;
          while (std::optional<EchoRequest> req = co_await s.Read()) {
            EchoReply reply;
            reply.set_text("re: " + req->text());
            if (!co_await s.Write(reply)) break;
          }
          chat_cancelled = ctx.IsCancelled();
          ++chats_ended;
          co_return absl::OkStatus();
        });
  }
  int handled = 0;
  int chats_ended = 0;
  bool chat_cancelled = false;

 private:
  transport::EventLoop* loop_;
};

EchoRequest Req(std::string text) {
  EchoRequest r;
  r.set_text(std::move(text));
  return r;
}

template <typename M>
std::string Text(const std::string& bytes) {
  M m;
  m.ParseFromString(bytes);
  return m.text();
}

struct Recorder : ClientInterceptor {
  Recorder(std::string name, std::vector<std::string>* log, Hooks hooks = {})
      : ClientInterceptor(hooks), name(std::move(name)), log(log) {}
  Task<absl::Status> OnStart(ClientCall& call) override {
    log->push_back(name + ".start " + call.method());
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnSend(ClientCall&, std::optional<std::string>& message) override {
    log->push_back(name + ".send " + Text<EchoRequest>(*message));
    co_return absl::OkStatus();
  }
  void OnReceiveInitialMetadata(ClientCall& call) override {
    log->push_back(name + ".headers " + call.initial_metadata().GetFirst("x-server").value_or(""));
  }
  Task<absl::Status> OnReceive(ClientCall&, std::optional<std::string>& message) override {
    log->push_back(name + ".receive " + Text<EchoReply>(*message));
    co_return absl::OkStatus();
  }
  void OnFinish(ClientCall& call, absl::Status& status) override {
    log->push_back(absl::StrCat(name, ".finish ", absl::StatusCodeToString(status.code()), " ",
                                call.trailing_metadata().GetFirst("x-trailer").value_or("")));
  }
  std::string name;
  std::vector<std::string>* log;
};

template <typename T, typename... Args>
ClientInterceptorFactory Make(Args... args) {
  return [=](ClientCall&) { return std::make_unique<T>(args...); };
}

class ClientInterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(&loop_);
    server_->RegisterService(&service_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
  }
  void MakeChannel(std::vector<ClientInterceptorFactory> interceptors) {
    ChannelOptions options;
    options.interceptors = std::move(interceptors);
    channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()), options);
  }
  void TearDown() override {
    if (channel_) channel_->Close();
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  template <typename T>
  T Run(Task<T> task) {
    return BlockOn(&loop_, std::move(task));
  }
  absl::StatusOr<EchoReply> Unary(const EchoRequest& req, CallOptions options = {}) {
    return Run(UnaryCall<EchoRequest, EchoReply>(channel_, kUnary, req, std::move(options)));
  }
  bool RunUntil(std::function<bool()> done) {
    auto wait = [&]() -> Task<bool> {
      for (int i = 0; i < 1000 && !done(); ++i) co_await Sleep(&loop_, absl::Milliseconds(5));
      co_return done();
    };
    return Run(wait());
  }
  std::pair<std::vector<std::string>, absl::Status> Expand(const EchoRequest& req,
                                                           CallOptions options = {}) {
    auto body = [&]() -> Task<std::pair<std::vector<std::string>, absl::Status>> {
      ClientReader<EchoReply> reader(ClientCall::Start(channel_, kExpand, options));
      std::vector<std::string> texts;
      co_await reader.call().Write(req.SerializeAsString());
      reader.call().WritesDone();
      while (std::optional<EchoReply> r = co_await reader.Read()) texts.push_back(r->text());
      co_return std::pair{texts, co_await reader.Finish()};
    };
    return Run(body());
  }

  // With AsyncIdentity installed: a unary call carries its metadata, and a bidi call that
  // writes at once has its messages wait for the hook, then go in order.
  void ExpectIdentityAddedAndEarlyWritesInOrder() {
    auto reply = Unary(Req("hi"));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->text(), "hi@alice");
    auto body = [&]() -> Task<std::pair<std::vector<std::string>, absl::Status>> {
      ClientReaderWriter<EchoRequest, EchoReply> chat(ClientCall::Start(channel_, kChat, {}));
      EXPECT_TRUE(co_await chat.Write(Req("1")));
      EXPECT_TRUE(co_await chat.Write(Req("2")));
      chat.WritesDone();
      std::vector<std::string> got;
      while (std::optional<EchoReply> r = co_await chat.Read()) got.push_back(r->text());
      co_return std::pair{got, co_await chat.Finish()};
    };
    auto [got, status] = Run(body());
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(got, (std::vector<std::string>{"re: 1", "re: 2"}));
  }

  transport::UvLoop loop_;
  EchoService service_{&loop_};
  std::unique_ptr<Server> server_;
  std::shared_ptr<Channel> channel_;
  std::vector<std::string> log_;
};

TEST_F(ClientInterceptorTest, ChannelsThenCallsFirstIsOutermost) {
  MakeChannel({Make<Recorder>(std::string("A"), &log_), Make<Recorder>(std::string("B"), &log_)});
  CallOptions options;
  options.interceptors.push_back(Make<Recorder>(std::string("C"), &log_));
  auto reply = Unary(Req("hi"), options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "hi");
  EXPECT_EQ(log_, (std::vector<std::string>{
                      "A.start /h2rpc.rpc_test.Echo/Unary", "B.start /h2rpc.rpc_test.Echo/Unary",
                      "C.start /h2rpc.rpc_test.Echo/Unary", "A.send hi", "B.send hi", "C.send hi",
                      "C.headers echo", "B.headers echo", "A.headers echo", "C.receive hi",
                      "B.receive hi", "A.receive hi", "C.finish OK done", "B.finish OK done",
                      "A.finish OK done"}));
}

// Adds the caller's identity after an asynchronous lookup; writes made meanwhile are held.
struct AsyncIdentity : ClientInterceptor {
  explicit AsyncIdentity(Hooks hooks = {}) : ClientInterceptor(hooks) {}
  Task<absl::Status> OnStart(ClientCall& call) override {
    const bool elapsed = co_await Sleep(call.channel()->loop(), absl::Milliseconds(30),
                                        call.stop_token());
    if (!elapsed) co_return absl::CancelledError("lookup abandoned");
    co_return call.outgoing_metadata().Add("x-user", "alice");
  }
};

TEST_F(ClientInterceptorTest, OnStartMayAwaitAndAddMetadata) {
  MakeChannel({Make<AsyncIdentity>()});
  ExpectIdentityAddedAndEarlyWritesInOrder();
}

TEST_F(ClientInterceptorTest, HooksDeclaredOffAreNotCalled) {
  MakeChannel({Make<Recorder>(std::string("A"), &log_),
               Make<Recorder>(std::string("B"), &log_, ClientInterceptor::kNoMessageHooks),
               Make<Recorder>(std::string("C"), &log_,
                              ClientInterceptor::Hooks{.receives = false}),
               Make<Recorder>(std::string("D"), &log_, ClientInterceptor::kNoAsyncHooks)});
  auto reply = Unary(Req("hi"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(log_, (std::vector<std::string>{
                      "A.start /h2rpc.rpc_test.Echo/Unary", "B.start /h2rpc.rpc_test.Echo/Unary",
                      "C.start /h2rpc.rpc_test.Echo/Unary", "A.send hi", "C.send hi",
                      "D.headers echo", "C.headers echo", "B.headers echo", "A.headers echo",
                      "A.receive hi", "D.finish OK done", "C.finish OK done", "B.finish OK done",
                      "A.finish OK done"}));
  // OnFinish and the plain hooks only: the call goes out at once, and still ends through it.
  log_.clear();
  MakeChannel({Make<Recorder>(std::string("D"), &log_, ClientInterceptor::kNoAsyncHooks)});
  ASSERT_TRUE(Unary(Req("hi")).ok());
  EchoRequest two = Req("x");
  two.set_count(2);
  auto [texts, status] = Expand(two);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(texts.size(), 2u);
  ASSERT_EQ(log_.size(), 4u);
  EXPECT_EQ(log_[0], "D.headers echo");
  EXPECT_EQ(log_[1], "D.finish OK done");
  EXPECT_TRUE(absl::StartsWith(log_[2], "D.headers")) << log_[2];  // (no x-server here)
  EXPECT_TRUE(absl::StartsWith(log_[3], "D.finish OK")) << log_[3];
}

// AsyncIdentity without message hooks: its calls' messages take the plain way, and those written
// while OnStart waits are still held until it is done, then go in order.
TEST_F(ClientInterceptorTest, WithoutMessageHooksWritesStillWaitForOnStart) {
  MakeChannel({Make<AsyncIdentity>(ClientInterceptor::kNoMessageHooks)});
  ExpectIdentityAddedAndEarlyWritesInOrder();
}

// Records when its slow OnStart ends and when its OnSend runs.
struct SlowStart : ClientInterceptor {
  explicit SlowStart(std::vector<std::string>* log) : log(log) {}
  Task<absl::Status> OnStart(ClientCall& call) override {
    co_await Sleep(call.channel()->loop(), absl::Milliseconds(30), call.stop_token());
    log->push_back("start done");
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnSend(ClientCall&, std::optional<std::string>& message) override {
    log->push_back("send " + Text<EchoRequest>(*message));
    co_return absl::OkStatus();
  }
  std::vector<std::string>* log;
};

TEST_F(ClientInterceptorTest, MessagesWrittenDuringOnStartWaitForIt) {
  MakeChannel({[this](ClientCall&) { return std::make_unique<SlowStart>(&log_); }});
  auto body = [&]() -> Task<absl::Status> {
    ClientReaderWriter<EchoRequest, EchoReply> chat(ClientCall::Start(channel_, kChat, {}));
    Awaitable<bool> written = chat.Write(Req("early"));  // while OnStart sleeps
    log_.push_back("written");
    EXPECT_TRUE(co_await written);
    chat.WritesDone();
    while (co_await chat.Read()) {
    }
    co_return co_await chat.Finish();
  };
  ASSERT_TRUE(Run(body()).ok());
  EXPECT_EQ(log_, (std::vector<std::string>{"written", "start done", "send early"}));
}

// Refuses calls locally without a token in their metadata.
struct LocalAuth : ClientInterceptor {
  Task<absl::Status> OnStart(ClientCall& call) override {
    if (!call.outgoing_metadata().Contains("authorization")) {
      co_return absl::UnauthenticatedError("no token configured");
    }
    co_return absl::OkStatus();
  }
};

TEST_F(ClientInterceptorTest, FailsACallLocally) {
  std::vector<std::string> log;
  // The Recorder outside LocalAuth sees the refusal; its OnSend never runs.
  MakeChannel({Make<Recorder>(std::string("A"), &log), Make<LocalAuth>()});
  auto reply = Unary(Req("hi"));
  EXPECT_EQ(reply.status(), absl::UnauthenticatedError("no token configured"));
  EXPECT_EQ(log, (std::vector<std::string>{"A.start /h2rpc.rpc_test.Echo/Unary",
                                           "A.finish UNAUTHENTICATED "}));
  auto [texts, status] = Expand(Req("s"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(service_.handled, 0);
  EXPECT_EQ(server_->active_calls(), 0u);
  CallOptions with_token;
  with_token.metadata.Add("authorization", "Bearer x").IgnoreError();
  EXPECT_TRUE(Unary(Req("hi"), with_token).ok());
}

// Answers from a cache: "cached" requests never reach the server.
struct Cache : ClientInterceptor {
  Task<absl::Status> OnStart(ClientCall& call) override {
    if (call.outgoing_metadata().Contains("x-cached")) {
      std::vector<std::string> responses;
      for (const char* t : {"from", "cache"}) {
        EchoReply r;
        r.set_text(t);
        responses.push_back(r.SerializeAsString());
      }
      if (call.method() == kUnary) responses.resize(1);
      call.EndLocally(absl::OkStatus(), std::move(responses));
    }
    co_return absl::OkStatus();
  }
};

TEST_F(ClientInterceptorTest, AnswersLocally) {
  MakeChannel({Make<Cache>()});
  CallOptions cached;
  cached.metadata.Add("x-cached", "1").IgnoreError();
  auto reply = Unary(Req("hi"), cached);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "from");
  auto [texts, status] = Expand(Req("s"), cached);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(texts, (std::vector<std::string>{"from", "cache"}));
  EXPECT_EQ(service_.handled, 0);
  EXPECT_EQ(channel_->connections_made(), 0);  // nothing was sent
  auto live = Unary(Req("hi"));
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->text(), "hi");
  EXPECT_EQ(service_.handled, 1);
}

// Rewrites requests and responses; drops responses whose index is 1.
struct Rewriter : ClientInterceptor {
  Task<absl::Status> OnSend(ClientCall&, std::optional<std::string>& message) override {
    EchoRequest req;
    req.ParseFromString(*message);
    req.set_text("<" + req.text() + ">");
    *message = req.SerializeAsString();
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnReceive(ClientCall&, std::optional<std::string>& message) override {
    EchoReply reply;
    if (!reply.ParseFromString(*message)) co_return absl::InternalError("unparsable");
    if (reply.index() == 1) {
      message.reset();
      co_return absl::OkStatus();
    }
    reply.set_text(reply.text() + "!");
    *message = reply.SerializeAsString();
    co_return absl::OkStatus();
  }
};

TEST_F(ClientInterceptorTest, ChangesAndDropsMessages) {
  MakeChannel({Make<Rewriter>()});
  auto reply = Unary(Req("hi"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "<hi>!");
  EchoRequest req = Req("s");
  req.set_count(3);
  auto [texts, status] = Expand(req);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(texts, (std::vector<std::string>{"<s>0!", "<s>2!"}));
}

// Maps the server's status, reading its trailers.
struct StatusMapper : ClientInterceptor {
  void OnFinish(ClientCall&, absl::Status& status) override {
    if (status.code() == absl::StatusCode::kInternal) status = absl::UnavailableError("mapped");
  }
};

TEST_F(ClientInterceptorTest, ChangesTheFinalStatus) {
  MakeChannel({Make<StatusMapper>()});
  EchoRequest req = Req("boom");
  req.set_status_code(static_cast<int>(absl::StatusCode::kInternal));
  EXPECT_EQ(Unary(req).status(), absl::UnavailableError("mapped"));
  req.set_status_code(static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Unary(req).status(), absl::PermissionDeniedError("boom"));
}

// Fails on a response ("bad") or on a request ("throw": throws).
struct Picky : ClientInterceptor {
  Task<absl::Status> OnSend(ClientCall&, std::optional<std::string>& message) override {
    if (Text<EchoRequest>(*message) == "throw") throw std::runtime_error("boom");
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnReceive(ClientCall&, std::optional<std::string>& message) override {
    if (Text<EchoReply>(*message) == "re: bad") co_return absl::DataLossError("bad response");
    co_return absl::OkStatus();
  }
};

TEST_F(ClientInterceptorTest, AFailingHookCancelsTheCall) {
  MakeChannel({Make<Picky>()});
  auto body = [&](std::vector<std::string> texts)
      -> Task<std::pair<std::vector<std::string>, absl::Status>> {
    ClientReaderWriter<EchoRequest, EchoReply> chat(ClientCall::Start(channel_, kChat, {}));
    std::vector<std::string> got;
    for (const std::string& t : texts) {
      if (!co_await chat.Write(Req(t))) break;
      std::optional<EchoReply> r = co_await chat.Read();
      if (!r) break;
      got.push_back(r->text());
    }
    co_return std::pair{got, co_await chat.Finish()};
  };
  auto [got, status] = Run(body({"ok", "bad", "never"}));
  EXPECT_EQ(status, absl::DataLossError("bad response"));
  EXPECT_EQ(got, (std::vector<std::string>{"re: ok"}));
  // The server saw the call cancelled (RST_STREAM).
  ASSERT_TRUE(RunUntil([&] { return service_.chats_ended == 1; }));
  EXPECT_TRUE(service_.chat_cancelled);
  auto [got2, thrown] = Run(body({"throw"}));
  EXPECT_EQ(thrown, absl::UnknownError("Unexpected error in interceptor: boom"));
  EXPECT_TRUE(got2.empty());
}

// Waits in OnStart until the call ends.
struct Stuck : ClientInterceptor {
  struct Seen {
    bool waiting = false;
    std::optional<bool> elapsed;
    std::optional<absl::Status> finish;
    int destroyed = 0;
  };
  explicit Stuck(Seen* seen) : seen(seen) {}
  ~Stuck() override { ++seen->destroyed; }
  Task<absl::Status> OnStart(ClientCall& call) override {
    seen->waiting = true;
    seen->elapsed = co_await Sleep(call.channel()->loop(), absl::Seconds(30), call.stop_token());
    co_return absl::OkStatus();
  }
  void OnFinish(ClientCall&, absl::Status& status) override { seen->finish = status; }
  Seen* seen;
};

TEST_F(ClientInterceptorTest, DeadlineWhileAHookWaits) {
  Stuck::Seen seen;
  MakeChannel({[&](ClientCall&) { return std::make_unique<Stuck>(&seen); }});
  CallOptions options;
  options.timeout = absl::Milliseconds(100);
  auto reply = Unary(Req("late"), options);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(RunUntil([&] { return seen.destroyed == 1; }));
  EXPECT_EQ(seen.elapsed, false);
  ASSERT_TRUE(seen.finish);
  EXPECT_EQ(seen.finish->code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(channel_->connections_made(), 0);
}

TEST_F(ClientInterceptorTest, CallDroppedWhileAHookWaits) {
  Stuck::Seen seen;
  MakeChannel({[&](ClientCall&) { return std::make_unique<Stuck>(&seen); }});
  {
    ClientReaderWriter<EchoRequest, EchoReply> chat(ClientCall::Start(channel_, kChat, {}));
    ASSERT_TRUE(RunUntil([&] { return seen.waiting; }));
  }  // dropped: cancelled
  ASSERT_TRUE(RunUntil([&] { return seen.destroyed == 1; }));
  EXPECT_EQ(seen.elapsed, false);
  ASSERT_TRUE(seen.finish);
  EXPECT_EQ(seen.finish->code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(service_.handled, 0);
}

}  // namespace
}  // namespace h2rpc::rpc
