// Server interceptors end to end over loopback (rpc/server_interceptor.h): hook order, changed
// metadata, messages and status, short-circuits on every call kind, failing hooks, and calls
// cancelled while a hook is suspended (run under --config=asan: nothing may leak).
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/sleep.h"
#include "rpc/testdata/echo.pb.h"
#include "transport/testing/allocation_counter.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

constexpr char kUnary[] = "/h2rpc.rpc_test.Echo/Unary";
constexpr char kExpand[] = "/h2rpc.rpc_test.Echo/Expand";
constexpr char kCollect[] = "/h2rpc.rpc_test.Echo/Collect";
constexpr char kChat[] = "/h2rpc.rpc_test.Echo/Chat";

class EchoService : public Service {
 public:
  EchoService() : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        kUnary, [this](ServerContext& ctx, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          ++handled;
          if (req.status_code() != 0) {
            co_return absl::Status(static_cast<absl::StatusCode>(req.status_code()), req.text());
          }
          EchoReply reply;
          reply.set_text(req.text());
          for (const auto& v : ctx.client_metadata().Get("x-user")) reply.set_text(reply.text() + "@" + v);
          co_return reply;
        });
    AddServerStreamingMethod<EchoRequest, EchoReply>(
        kExpand,
        [this](ServerContext&, const EchoRequest& req,
               ServerWriter<EchoReply>& out) -> Task<absl::Status> {
          ++handled;
          for (int i = 0; i < req.count(); ++i) {
            EchoReply reply;
            reply.set_text(req.text());
            reply.set_index(i);
            if (!co_await out.Write(reply)) co_return absl::CancelledError("gone");
          }
          co_return absl::OkStatus();
        });
    AddClientStreamingMethod<EchoRequest, EchoReply>(
        kCollect,
        [this](ServerContext&, ServerReader<EchoRequest>& in) -> Task<absl::StatusOr<EchoReply>> {
          ++handled;
          EchoReply reply;
          int n = 0;
          while (std::optional<EchoRequest> req = co_await in.Read()) {
            reply.set_text(reply.text() + req->text());
            ++n;
          }
          reply.set_index(n);
          co_return reply;
        });
    AddBidiStreamingMethod<EchoRequest, EchoReply>(
        kChat,
        [this](ServerContext&,
               ServerReaderWriter<EchoReply, EchoRequest>& s) -> Task<absl::Status> {
          ++handled;
          while (std::optional<EchoRequest> req = co_await s.Read()) {
            EchoReply reply;
            reply.set_text("re: " + req->text());
            if (!co_await s.Write(reply)) break;
          }
          co_return absl::OkStatus();
        });
  }
  int handled = 0;
};

EchoRequest Req(std::string text) {
  EchoRequest r;
  r.set_text(std::move(text));
  return r;
}

std::string Text(const std::string& bytes) {
  EchoRequest r;
  r.ParseFromString(bytes);
  return r.text();
}

// Records every hook it sees in `log` under its name; what the test sets changes its behaviour.
struct Recorder : ServerInterceptor {
  Recorder(std::string name, std::vector<std::string>* log, Hooks hooks = {})
      : ServerInterceptor(hooks), name(std::move(name)), log(log) {}
  Task<absl::Status> OnStart(ServerCall& call) override {
    log->push_back(name + ".start " + call.method());
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnRequest(ServerCall&, std::optional<std::string>& message) override {
    log->push_back(name + ".request " + Text(*message));
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnResponse(ServerCall&, std::optional<std::string>& message) override {
    log->push_back(name + ".response " + Text(*message));
    co_return absl::OkStatus();
  }
  void OnFinish(ServerCall&, absl::Status& status) override {
    log->push_back(absl::StrCat(name, ".finish ", absl::StatusCodeToString(status.code())));
  }
  std::string name;
  std::vector<std::string>* log;
};

class ServerInterceptorTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<ServerInterceptorFactory> interceptors) {
    ServerOptions options;
    options.interceptors = std::move(interceptors);
    server_ = std::make_unique<Server>(&loop_, options);
    server_->RegisterService(&service_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override {
    if (channel_) channel_->Close();
    if (!server_) return;
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
  // Runs the loop until `done()` (checked every 5 ms), for at most 5 s.
  bool RunUntil(std::function<bool()> done) {
    auto wait = [&]() -> Task<bool> {
      for (int i = 0; i < 1000 && !done(); ++i) co_await Sleep(&loop_, absl::Milliseconds(5));
      co_return done();
    };
    return Run(wait());
  }
  // A server-streaming call's replies' texts and its status.
  std::pair<std::vector<std::string>, absl::Status> Expand(const EchoRequest& req) {
    auto body = [&]() -> Task<std::pair<std::vector<std::string>, absl::Status>> {
      ClientReader<EchoReply> reader(ClientCall::Start(channel_, kExpand, {}));
      std::vector<std::string> texts;
      co_await reader.call().Write(req.SerializeAsString());
      reader.call().WritesDone();
      while (std::optional<EchoReply> r = co_await reader.Read()) texts.push_back(r->text());
      co_return std::pair{texts, co_await reader.Finish()};
    };
    return Run(body());
  }
  absl::StatusOr<EchoReply> Collect(const std::vector<std::string>& texts) {
    auto body = [&]() -> Task<absl::StatusOr<EchoReply>> {
      ClientWriter<EchoRequest, EchoReply> writer(ClientCall::Start(channel_, kCollect, {}));
      for (const std::string& t : texts) {
        if (!co_await writer.Write(Req(t))) break;
      }
      co_return co_await writer.Finish();
    };
    return Run(body());
  }
  std::pair<std::vector<std::string>, absl::Status> Chat(const std::vector<std::string>& texts) {
    auto body = [&]() -> Task<std::pair<std::vector<std::string>, absl::Status>> {
      ClientReaderWriter<EchoRequest, EchoReply> chat(ClientCall::Start(channel_, kChat, {}));
      std::vector<std::string> got;
      for (const std::string& t : texts) {
        if (!co_await chat.Write(Req(t))) break;
        std::optional<EchoReply> r = co_await chat.Read();
        if (!r) break;
        got.push_back(r->text());
      }
      chat.WritesDone();
      while (std::optional<EchoReply> r = co_await chat.Read()) got.push_back(r->text());
      co_return std::pair{got, co_await chat.Finish()};
    };
    return Run(body());
  }

  transport::UvLoop loop_;
  EchoService service_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<Channel> channel_;
  std::vector<std::string> log_;
};

template <typename T, typename... Args>
ServerInterceptorFactory Make(Args... args) {
  return [=](ServerCall&) { return std::make_unique<T>(args...); };
}

TEST_F(ServerInterceptorTest, FirstInstalledIsOutermost) {
  StartServer({Make<Recorder>(std::string("A"), &log_), Make<Recorder>(std::string("B"), &log_)});
  auto reply = Unary(Req("hi"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "hi");
  ASSERT_TRUE(RunUntil([&] { return log_.size() == 8; }));
  EXPECT_EQ(log_, (std::vector<std::string>{
                      "A.start /h2rpc.rpc_test.Echo/Unary", "B.start /h2rpc.rpc_test.Echo/Unary",
                      "A.request hi", "B.request hi", "B.response hi", "A.response hi",
                      "B.finish OK", "A.finish OK"}));
}

TEST_F(ServerInterceptorTest, EveryCallKindIsIntercepted) {
  StartServer({Make<Recorder>(std::string("A"), &log_)});
  EchoRequest req = Req("s");
  req.set_count(2);
  auto [texts, status] = Expand(req);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(texts, (std::vector<std::string>{"s", "s"}));
  ASSERT_TRUE(RunUntil([&] { return log_.size() == 5; }));
  EXPECT_EQ(log_, (std::vector<std::string>{"A.start /h2rpc.rpc_test.Echo/Expand", "A.request s",
                                            "A.response s", "A.response s", "A.finish OK"}));
  log_.clear();
  auto collected = Collect({"x", "y"});
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_EQ(collected->text(), "xy");
  ASSERT_TRUE(RunUntil([&] { return log_.size() == 5; }));
  EXPECT_EQ(log_, (std::vector<std::string>{"A.start /h2rpc.rpc_test.Echo/Collect", "A.request x",
                                            "A.request y", "A.response xy", "A.finish OK"}));
  log_.clear();
  auto [chat, chat_status] = Chat({"p", "q"});
  ASSERT_TRUE(chat_status.ok()) << chat_status;
  EXPECT_EQ(chat, (std::vector<std::string>{"re: p", "re: q"}));
  ASSERT_TRUE(RunUntil([&] { return log_.size() == 6; }));
  EXPECT_EQ(log_, (std::vector<std::string>{"A.start /h2rpc.rpc_test.Echo/Chat", "A.request p",
                                            "A.response re: p", "A.request q", "A.response re: q",
                                            "A.finish OK"}));
}

// Checks a bearer token after an asynchronous lookup (a co_await on a timer stands in for a
// token service); passes the user to the handler as request metadata.
struct AsyncAuth : ServerInterceptor {
  explicit AsyncAuth(transport::EventLoop* loop) : loop(loop) {}
  Task<absl::Status> OnStart(ServerCall& call) override {
    std::optional<std::string> token = call.client_metadata().GetFirst("authorization");
    const bool elapsed = co_await Sleep(loop, absl::Milliseconds(20), call.stop_token());
    if (!elapsed) co_return absl::CancelledError("lookup abandoned");
    if (token != "Bearer good") {
      call.trailing_metadata().Add("x-auth", "rejected").IgnoreError();
      co_return absl::UnauthenticatedError("bad token");
    }
    call.mutable_client_metadata().Add("x-user", "alice").IgnoreError();
    call.initial_metadata().Add("x-auth", "ok").IgnoreError();
    co_return absl::OkStatus();
  }
  transport::EventLoop* loop;
};

TEST_F(ServerInterceptorTest, AsyncAuthShortCircuitsUnaryCalls) {
  StartServer({[this](ServerCall&) { return std::make_unique<AsyncAuth>(&loop_); }});
  auto rejected = ClientCall::Start(channel_, kUnary, {});
  auto body = [&]() -> Task<absl::Status> {
    co_await rejected->Write(Req("hi").SerializeAsString());
    rejected->WritesDone();
    EXPECT_FALSE(co_await rejected->Read());
    co_return co_await rejected->Finish();
  };
  absl::Status status = Run(body());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(status.message(), "bad token");
  EXPECT_EQ(rejected->trailing_metadata().GetFirst("x-auth"), "rejected");
  EXPECT_EQ(service_.handled, 0);

  CallOptions options;
  options.metadata.Add("authorization", "Bearer good").IgnoreError();
  auto accepted = ClientCall::Start(channel_, kUnary, options);
  std::optional<std::string> response;
  auto good = [&]() -> Task<absl::Status> {
    co_await accepted->Write(Req("hi").SerializeAsString());
    accepted->WritesDone();
    response = co_await accepted->Read();
    co_return co_await accepted->Finish();
  };
  ASSERT_TRUE(Run(good()).ok());
  ASSERT_TRUE(response);
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(*response));
  EXPECT_EQ(reply.text(), "hi@alice");  // the handler saw the metadata the interceptor added
  EXPECT_EQ(accepted->initial_metadata().GetFirst("x-auth"), "ok");
  EXPECT_EQ(service_.handled, 1);
}

TEST_F(ServerInterceptorTest, ShortCircuitsStreamingCalls) {
  StartServer({[this](ServerCall&) { return std::make_unique<AsyncAuth>(&loop_); }});
  auto [chat, chat_status] = Chat({"p", "q"});
  EXPECT_EQ(chat_status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(chat.empty());
  auto collected = Collect({"x", "y", "z"});
  EXPECT_EQ(collected.status().code(), absl::StatusCode::kUnauthenticated);
  EchoRequest req = Req("s");
  req.set_count(3);
  auto [texts, status] = Expand(req);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(texts.empty());
  EXPECT_EQ(service_.handled, 0);
  ASSERT_TRUE(RunUntil([&] { return server_->active_calls() == 0; }));
}

// Rewrites requests and responses, drops requests whose text is "drop".
struct Rewriter : ServerInterceptor {
  Task<absl::Status> OnRequest(ServerCall&, std::optional<std::string>& message) override {
    EchoRequest req;
    if (!req.ParseFromString(*message)) co_return absl::InvalidArgumentError("unparsable");
    if (req.text() == "drop") {
      message.reset();
      co_return absl::OkStatus();
    }
    req.set_text("<" + req.text() + ">");
    *message = req.SerializeAsString();
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnResponse(ServerCall&, std::optional<std::string>& message) override {
    EchoReply reply;
    reply.ParseFromString(*message);
    if (reply.text() == "re: <secret>") {
      message.reset();
      co_return absl::OkStatus();
    }
    reply.set_text(reply.text() + "!");
    *message = reply.SerializeAsString();
    co_return absl::OkStatus();
  }
};

TEST_F(ServerInterceptorTest, ChangesAndDropsMessages) {
  StartServer({Make<Rewriter>()});
  auto reply = Unary(Req("hi"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "<hi>!");
  auto collected = Collect({"a", "drop", "b", "drop"});
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_EQ(collected->text(), "<a><b>!");
  EXPECT_EQ(collected->index(), 2);  // the handler read two messages
  // A dropped response: the handler's Write() went through, the client got nothing.
  auto body = [&]() -> Task<std::pair<std::vector<std::string>, absl::Status>> {
    ClientReaderWriter<EchoRequest, EchoReply> chat(ClientCall::Start(channel_, kChat, {}));
    for (const char* t : {"x", "secret", "y"}) co_await chat.Write(Req(t));
    chat.WritesDone();
    std::vector<std::string> got;
    while (std::optional<EchoReply> r = co_await chat.Read()) got.push_back(r->text());
    co_return std::pair{got, co_await chat.Finish()};
  };
  auto [got, status] = Run(body());
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(got, (std::vector<std::string>{"re: <x>!", "re: <y>!"}));
  // The only request of a unary call dropped: it ends as one that sent none.
  auto dropped = Unary(Req("drop"));
  EXPECT_EQ(dropped.status().code(), absl::StatusCode::kUnimplemented);
}

// Changes the final status: hides INTERNAL's message, adds a trailer.
struct StatusMapper : ServerInterceptor {
  void OnFinish(ServerCall& call, absl::Status& status) override {
    if (status.code() == absl::StatusCode::kInternal) {
      status = absl::UnavailableError("try again");
      call.trailing_metadata().Add("x-mapped", "internal").IgnoreError();
    }
  }
};

TEST_F(ServerInterceptorTest, ChangesTheFinalStatus) {
  StartServer({Make<StatusMapper>()});
  EchoRequest req = Req("secret details");
  req.set_status_code(static_cast<int>(absl::StatusCode::kInternal));
  auto call = ClientCall::Start(channel_, kUnary, {});
  auto body = [&]() -> Task<absl::Status> {
    co_await call->Write(req.SerializeAsString());
    call->WritesDone();
    co_await call->Read();
    co_return co_await call->Finish();
  };
  absl::Status status = Run(body());
  EXPECT_EQ(status, absl::UnavailableError("try again"));
  EXPECT_EQ(call->trailing_metadata().GetFirst("x-mapped"), "internal");
  // Other statuses pass as they are.
  req.set_status_code(static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(Unary(req).status(), absl::NotFoundError("secret details"));
}

// Fails the second request of a call, or throws on the first ("throw").
struct FailSecond : ServerInterceptor {
  Task<absl::Status> OnRequest(ServerCall&, std::optional<std::string>& message) override {
    if (Text(*message) == "throw") throw std::runtime_error("boom");
    if (++seen == 2) co_return absl::InvalidArgumentError("second message refused");
    co_return absl::OkStatus();
  }
  int seen = 0;
};

TEST_F(ServerInterceptorTest, AFailingHookEndsTheCall) {
  StartServer({Make<FailSecond>()});
  auto collected = Collect({"a", "b", "c"});
  EXPECT_EQ(collected.status(), absl::InvalidArgumentError("second message refused"));
  auto [chat, status] = Chat({"a", "b", "c"});
  EXPECT_EQ(status, absl::InvalidArgumentError("second message refused"));
  EXPECT_EQ(chat, (std::vector<std::string>{"re: a"}));
  auto thrown = Unary(Req("throw"));
  EXPECT_EQ(thrown.status(), absl::UnknownError("Unexpected error in interceptor: boom"));
  ASSERT_TRUE(RunUntil([&] { return server_->active_calls() == 0; }));
}

// Waits in OnStart until the call is stopped; records what it saw.
struct Stuck : ServerInterceptor {
  struct Seen {
    bool waiting = false;
    std::optional<bool> elapsed;
    std::optional<absl::Status> finish;
    bool cancelled_at_finish = false;
    int destroyed = 0;
  };
  Stuck(transport::EventLoop* loop, Seen* seen) : loop(loop), seen(seen) {}
  ~Stuck() override { ++seen->destroyed; }
  Task<absl::Status> OnStart(ServerCall& call) override {
    seen->waiting = true;
    seen->elapsed = co_await Sleep(loop, absl::Seconds(30), call.stop_token());
    co_return absl::OkStatus();
  }
  void OnFinish(ServerCall& call, absl::Status& status) override {
    seen->finish = status;
    seen->cancelled_at_finish = call.IsCancelled();
  }
  transport::EventLoop* loop;
  Seen* seen;
};

TEST_F(ServerInterceptorTest, ClientCancelWhileAHookWaits) {
  Stuck::Seen seen;
  StartServer({[&](ServerCall&) { return std::make_unique<Stuck>(&loop_, &seen); }});
  auto call = ClientCall::Start(channel_, kChat, {});
  ASSERT_TRUE(RunUntil([&] { return seen.waiting; }));
  call->Cancel(absl::CancelledError("client gave up"));
  ASSERT_TRUE(RunUntil([&] { return seen.destroyed == 1; }));
  EXPECT_EQ(seen.elapsed, false);
  ASSERT_TRUE(seen.finish);
  EXPECT_EQ(seen.finish->code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(seen.cancelled_at_finish);
  EXPECT_EQ(service_.handled, 0);
  EXPECT_EQ(server_->active_calls(), 0u);
}

TEST_F(ServerInterceptorTest, DeadlineWhileAHookWaits) {
  Stuck::Seen seen;
  StartServer({[&](ServerCall&) { return std::make_unique<Stuck>(&loop_, &seen); }});
  CallOptions options;
  options.timeout = absl::Milliseconds(200);
  auto reply = Unary(Req("late"), options);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(RunUntil([&] { return seen.destroyed == 1; }));
  EXPECT_EQ(seen.elapsed, false);
  ASSERT_TRUE(seen.finish);
  // Both sides have the 200 ms deadline: the server's timer (DEADLINE_EXCEEDED) or the client's
  // RST_STREAM(CANCEL) at its own deadline (CANCELLED) may reach the call first (under TSan the
  // RST often wins). Either way the call ended while the hook waited, and the hook let go.
  const absl::StatusCode code = seen.finish->code();
  EXPECT_TRUE(code == absl::StatusCode::kDeadlineExceeded ||
              code == absl::StatusCode::kCancelled)
      << *seen.finish;
  EXPECT_EQ(service_.handled, 0);
}

TEST_F(ServerInterceptorTest, FactoriesMayStayOutOfACall) {
  // Only Chat calls are intercepted; a null factory is ignored.
  StartServer({nullptr, [&](ServerCall& call) -> std::unique_ptr<ServerInterceptor> {
                 if (call.method() != kChat) return nullptr;
                 return std::make_unique<Recorder>("A", &log_);
               }});
  ASSERT_TRUE(Unary(Req("hi")).ok());
  EXPECT_TRUE(log_.empty());
  auto [chat, status] = Chat({"p"});
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(RunUntil([&] { return log_.size() == 4; }));
  EXPECT_EQ(log_.front(), "A.start /h2rpc.rpc_test.Echo/Chat");
}

TEST_F(ServerInterceptorTest, HooksDeclaredOffAreNotCalled) {
  StartServer({Make<Recorder>("A", &log_),
               Make<Recorder>("B", &log_, ServerInterceptor::kNoMessageHooks),
               Make<Recorder>("C", &log_, ServerInterceptor::Hooks{.requests = false}),
               Make<Recorder>("D", &log_, ServerInterceptor::kNoAsyncHooks)});
  ASSERT_TRUE(Unary(Req("hi")).ok());
  ASSERT_TRUE(RunUntil([&] { return log_.size() == 10; }));
  EXPECT_EQ(log_, (std::vector<std::string>{
                      "A.start /h2rpc.rpc_test.Echo/Unary", "B.start /h2rpc.rpc_test.Echo/Unary",
                      "C.start /h2rpc.rpc_test.Echo/Unary", "A.request hi", "C.response hi",
                      "A.response hi", "D.finish OK", "C.finish OK", "B.finish OK",
                      "A.finish OK"}));
}

TEST_F(ServerInterceptorTest, OnFinishOnlyStillSeesEveryCallKindEnd) {
  StartServer({Make<Recorder>("D", &log_, ServerInterceptor::kNoAsyncHooks)});
  ASSERT_TRUE(Unary(Req("hi")).ok());
  auto [texts, status] = Expand(Req("x"));
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_TRUE(Collect({"a", "b"}).ok());
  ASSERT_TRUE(Chat({"p"}).second.ok());
  ASSERT_TRUE(RunUntil([&] { return log_.size() == 4; }));
  EXPECT_EQ(log_, std::vector<std::string>(4, "D.finish OK"));
}

// Server-streaming messages cost the same allocations with an interceptor that has no message
// hooks as with none (no string copy, no coroutine per message); with the hooks on, more.
TEST_F(ServerInterceptorTest, AnInterceptorWithoutMessageHooksLeavesMessagesAlone) {
  struct NoOp : ServerInterceptor {};
  struct StatusOnly : ServerInterceptor {
    StatusOnly() : ServerInterceptor(kNoAsyncHooks) {}
    void OnFinish(ServerCall&, absl::Status&) override {}
  };
  int mode = 0;  // 0: no interceptor, 1: StatusOnly, 2: NoOp (message hooks on)
  StartServer({[&](ServerCall&) -> std::unique_ptr<ServerInterceptor> {
    if (mode == 1) return std::make_unique<StatusOnly>();
    if (mode == 2) return std::make_unique<NoOp>();
    return nullptr;
  }});
  EchoRequest req = Req(std::string(100, 'x'));  // longer than a short string's inline bytes
  // Allocations per message: calls of 65 and 1 messages, after a warm-up of each.
  auto per_message = [&](int m) {
    mode = m;
    size_t counts[2];
    for (int n : {1, 65}) {
      req.set_count(n);
      EXPECT_TRUE(Expand(req).second.ok());
      const size_t before = transport::testing::AllocationCount();
      EXPECT_TRUE(Expand(req).second.ok());
      counts[n == 65] = transport::testing::AllocationCount() - before;
    }
    return (static_cast<double>(counts[1]) - static_cast<double>(counts[0])) / 64;
  };
  const double none = per_message(0), status_only = per_message(1), no_op = per_message(2);
  EXPECT_NEAR(status_only, none, 0.05) << "with message hooks: " << no_op;
  EXPECT_GE(no_op, none + 1) << "no interceptor: " << none;
}

}  // namespace
}  // namespace h2rpc::rpc
