// ChannelOptions::protocol (rpc/client_protocol.h): our client calls our server over loopback
// HTTP/2 in gRPC-Web, gRPC-Web-text and Connect (proto and JSON) — the four call kinds,
// metadata both ways, errors with details, deadlines, cancellation, compression, retries —
// with the server answering only the protocol under test (so a call in another protocol
// fails). Also the translation itself on crafted responses: Connect errors without an error
// JSON, end-stream messages, gRPC-Web trailer frames.
#include "rpc/client_protocol.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/client_interceptor.h"
#include "rpc/connect_protocol.h"
#include "rpc/framing.h"
#include "rpc/server.h"
#include "rpc/sleep.h"
#include "rpc/status_details.h"
#include "rpc/sync.h"
#include "rpc/testdata/echo_service.h2rpc.h"
#include "rpc/wire_protocol.h"
#include "transport/tls_socket.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;
using rpc_test::EchoService;
using transport::Headers;

EchoRequest Req(std::string text, int count = 0, int status_code = 0) {
  EchoRequest r;
  r.set_text(std::move(text));
  r.set_count(count);
  r.set_status_code(status_code);
  return r;
}

// Every method answers initial metadata x-protocol (the wire protocol the server saw) and
// x-head (the client's x-in), trailing x-tail (x-in + "!"). Echo: status_code fails with an
// ErrorInfo detail; sleep_ms waits (until the call ends); "deadline" answers whether the
// server saw one; "gzip me" compresses the response. Expand: `count` replies then the status.
// Collect: the texts joined. Chat: "re: " each; a cancelled Chat sets chat_cancelled.
class Backend : public EchoService::Service {
 public:
  static void AddMetadata(ServerContext& ctx) {
    (void)ctx.initial_metadata().Add("x-protocol",
                                     std::string(WireProtocolName(ctx.call().protocol())));
    for (const std::string& v : ctx.client_metadata().Get("x-in")) {
      (void)ctx.initial_metadata().Add("x-head", v);
      (void)ctx.trailing_metadata().Add("x-tail", v + "!");
    }
  }
  static absl::Status StatusOf(const EchoRequest& req) {
    if (req.status_code() == 0) return absl::OkStatus();
    google::rpc::ErrorInfo info;
    info.set_reason("SAYS_NO");
    info.set_domain("h2rpc.test");
    return ErrorWithDetails(static_cast<absl::StatusCode>(req.status_code()), req.text(), info);
  }
  Task<absl::StatusOr<EchoReply>> Echo(ServerContext& ctx, const EchoRequest& req) override {
    AddMetadata(ctx);
    if (req.sleep_ms() > 0) {
      co_await Sleep(ctx.loop(), absl::Milliseconds(req.sleep_ms()), ctx.stop_token());
      if (ctx.IsCancelled() && echo_cancelled != nullptr) echo_cancelled->Set();
    }
    if (absl::Status st = StatusOf(req); !st.ok()) co_return st;
    EchoReply reply;
    reply.set_text(req.text() == "deadline" ? (ctx.deadline() ? "has deadline" : "no deadline")
                                            : req.text());
    reply.set_payload(req.payload());
    if (req.text() == "gzip me") ctx.SetCompression(Compression::kGzip);
    co_return reply;
  }
  Task<absl::Status> Expand(ServerContext& ctx, const EchoRequest& req,
                            ServerWriter<EchoReply>& out) override {
    AddMetadata(ctx);
    for (int i = 0; i < req.count(); ++i) {
      EchoReply reply;
      reply.set_text(req.text());
      reply.set_index(i);
      if (!co_await out.Write(reply)) co_return absl::CancelledError("gone");
    }
    co_return StatusOf(req);
  }
  Task<absl::StatusOr<EchoReply>> Collect(ServerContext& ctx,
                                          ServerReader<EchoRequest>& in) override {
    AddMetadata(ctx);
    EchoReply reply;
    while (auto req = co_await in.Read()) reply.set_text(reply.text() + req->text());
    co_return reply;
  }
  Task<absl::Status> Chat(ServerContext& ctx,
                          ServerReaderWriter<EchoReply, EchoRequest>& s) override {
    AddMetadata(ctx);
    int n = 0;
    while (std::optional<EchoRequest> req = co_await s.Read()) {
      EchoReply reply;
      reply.set_text("re: " + req->text());
      reply.set_index(n++);
      if (!co_await s.Write(reply)) break;
    }
    if (ctx.IsCancelled() && chat_cancelled != nullptr) chat_cancelled->Set();
    co_return absl::OkStatus();
  }

  Event* chat_cancelled = nullptr;
  Event* echo_cancelled = nullptr;
};

struct Param {
  const char* name;
  ChannelProtocol protocol;
  ConnectCodec codec;
  const char* server_sees;  // WireProtocolName of a unary call
};

class ClientProtocolTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    ServerOptions options;
    // Only the protocol under test: a call in another one would fail.
    options.protocols.grpc = GetParam().protocol == ChannelProtocol::kGrpc;
    options.protocols.grpc_web = GetParam().protocol == ChannelProtocol::kGrpcWeb ||
                                 GetParam().protocol == ChannelProtocol::kGrpcWebText;
    options.protocols.connect = GetParam().protocol == ChannelProtocol::kConnect;
    server_ = std::make_unique<Server>(&loop_, options);
    server_->RegisterService(&backend_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    channel_ = MakeChannel({});
  }
  void TearDown() override {
    channel_->Close();
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  std::shared_ptr<Channel> MakeChannel(ChannelOptions options) {
    options.protocol = GetParam().protocol;
    options.connect_codec = GetParam().codec;
    return Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()),
                           std::move(options));
  }
  static CallOptions In(std::string value) {
    CallOptions options;
    EXPECT_TRUE(options.metadata.Add("x-in", value).ok());
    return options;
  }

  transport::UvLoop loop_;
  Backend backend_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<Channel> channel_;
};

TEST_P(ClientProtocolTest, UnaryCarriesMetadataBothWays) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  EchoRequest request = Req("hello");
  request.set_payload(std::string("\0\xff bytes", 8));
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(&context, request, In("v1"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "hello");
  EXPECT_EQ(reply->payload(), request.payload());
  EXPECT_EQ(context.initial_metadata().GetFirst("x-protocol"), GetParam().server_sees);
  EXPECT_EQ(context.initial_metadata().GetFirst("x-head"), "v1");
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-tail"), "v1!");
  // Protocol fields are not metadata.
  EXPECT_FALSE(context.initial_metadata().GetFirst("content-encoding").has_value());
  EXPECT_FALSE(context.trailing_metadata().GetFirst("grpc-status").has_value());

  // The empty message both ways.
  absl::StatusOr<EchoReply> empty = stub.EchoBlocking(&context, EchoRequest());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->text(), "");
}

TEST_P(ClientProtocolTest, UnaryErrorKeepsCodeMessageDetailsAndTrailers) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(
      &context, Req("nope é", 0, static_cast<int>(absl::StatusCode::kFailedPrecondition)),
      In("e1"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reply.status().message(), "nope é");
  auto info = GetStatusDetail<google::rpc::ErrorInfo>(reply.status());
  ASSERT_TRUE(info.has_value()) << reply.status();
  EXPECT_EQ(info->reason(), "SAYS_NO");
  EXPECT_EQ(info->domain(), "h2rpc.test");
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-tail"), "e1!");
}

TEST_P(ClientProtocolTest, ServerStreamingThenError) {
  EchoService::Stub stub(channel_);
  auto body = [&]() -> Task<std::vector<std::string>> {
    auto reader = stub.Expand(Req("tick", 3, static_cast<int>(absl::StatusCode::kAborted)), In("s1"));
    std::vector<std::string> got;
    while (std::optional<EchoReply> r = co_await reader->Read()) {
      got.push_back(r->text() + std::to_string(r->index()));
    }
    absl::Status status = co_await reader->Finish();
    EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
    EXPECT_EQ(status.message(), "tick");
    EXPECT_TRUE(GetStatusDetail<google::rpc::ErrorInfo>(status).has_value());
    EXPECT_EQ(reader->initial_metadata().GetFirst("x-head"), "s1");
    EXPECT_EQ(reader->trailing_metadata().GetFirst("x-tail"), "s1!");
    co_return got;
  };
  EXPECT_EQ(BlockOn(&loop_, body()), (std::vector<std::string>{"tick0", "tick1", "tick2"}));

  // OK at the end, and no message at all.
  auto ok_body = [&](int count) -> Task<int> {
    auto reader = stub.Expand(Req("x", count));
    int n = 0;
    while (co_await reader->Read()) ++n;
    absl::Status status = co_await reader->Finish();
    EXPECT_TRUE(status.ok()) << status;
    co_return n;
  };
  EXPECT_EQ(BlockOn(&loop_, ok_body(5)), 5);
  EXPECT_EQ(BlockOn(&loop_, ok_body(0)), 0);
}

TEST_P(ClientProtocolTest, ClientStreaming) {
  EchoService::Stub stub(channel_);
  auto body = [&]() -> Task<absl::StatusOr<EchoReply>> {
    auto writer = stub.Collect(In("c1"));
    for (const char* part : {"a", "b", "c"}) {
      if (!co_await writer->Write(Req(part))) break;
    }
    absl::StatusOr<EchoReply> reply = co_await writer->Finish();
    EXPECT_EQ(writer->trailing_metadata().GetFirst("x-tail"), "c1!");
    co_return reply;
  };
  absl::StatusOr<EchoReply> reply = BlockOn(&loop_, body());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "abc");
}

TEST_P(ClientProtocolTest, BidiInterleaves) {
  EchoService::Stub stub(channel_);
  auto body = [&]() -> Task<std::vector<std::string>> {
    auto chat = stub.Chat(In("b1"));
    std::vector<std::string> got;
    for (const char* message : {"one", "two", "three"}) {
      EXPECT_TRUE(co_await chat->Write(Req(message)));
      std::optional<EchoReply> r = co_await chat->Read();  // before the next write
      if (!r) break;
      got.push_back(r->text());
    }
    chat->WritesDone();
    EXPECT_FALSE((co_await chat->Read()).has_value());
    absl::Status status = co_await chat->Finish();
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_EQ(chat->initial_metadata().GetFirst("x-head"), "b1");
    EXPECT_EQ(chat->trailing_metadata().GetFirst("x-tail"), "b1!");
    co_return got;
  };
  EXPECT_EQ(BlockOn(&loop_, body()), (std::vector<std::string>{"re: one", "re: two", "re: three"}));
}

TEST_P(ClientProtocolTest, DeadlineReachesServerAndExpires) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  CallOptions with_deadline;
  with_deadline.timeout = absl::Seconds(30);
  absl::StatusOr<EchoReply> reply =
      stub.EchoBlocking(&context, Req("deadline"), std::move(with_deadline));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "has deadline");
  reply = stub.EchoBlocking(&context, Req("deadline"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "no deadline");

  // A handler slower than the deadline: DEADLINE_EXCEEDED, and the server's call ends too.
  Event cancelled(&loop_);
  backend_.echo_cancelled = &cancelled;
  EchoRequest slow = Req("slow");
  slow.set_sleep_ms(60'000);
  CallOptions short_deadline;
  short_deadline.timeout = absl::Milliseconds(200);
  reply = stub.EchoBlocking(&context, slow, std::move(short_deadline));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
  auto wait = [&]() -> Task<bool> { co_return co_await cancelled.Wait(); };
  EXPECT_TRUE(BlockOn(&loop_, wait()));
}

TEST_P(ClientProtocolTest, CancelResetsTheStreamAndTheHandlerSeesIt) {
  Event cancelled(&loop_);
  backend_.chat_cancelled = &cancelled;
  EchoService::Stub stub(channel_);
  auto body = [&]() -> Task<bool> {
    auto chat = stub.Chat();
    EXPECT_TRUE(co_await chat->Write(Req("one")));
    std::optional<EchoReply> r = co_await chat->Read();
    EXPECT_TRUE(r.has_value());
    chat->Cancel();
    absl::Status status = co_await chat->Finish();
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
    co_return co_await cancelled.Wait();
  };
  EXPECT_TRUE(BlockOn(&loop_, body()));
}

TEST_P(ClientProtocolTest, CompressionBothWays) {
  EchoService::Stub stub(channel_);
  ClientContext context;
  CallOptions gzip;
  gzip.compression = Compression::kGzip;
  EchoRequest request = Req("gzip me");
  request.set_payload(std::string(10000, 'z'));
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(&context, request, std::move(gzip));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->payload(), request.payload());
  EXPECT_EQ(context.response_compression(), Compression::kGzip);

  auto body = [&]() -> Task<std::string> {
    CallOptions options;
    options.compression = Compression::kGzip;
    auto chat = stub.Chat(std::move(options));
    EchoRequest big = Req(std::string(5000, 'q'));
    EXPECT_TRUE(co_await chat->Write(big));
    chat->WritesDone();
    std::optional<EchoReply> r = co_await chat->Read();
    absl::Status status = co_await chat->Finish();
    EXPECT_TRUE(status.ok()) << status;
    co_return r ? r->text() : "";
  };
  EXPECT_EQ(BlockOn(&loop_, body()), "re: " + std::string(5000, 'q'));
}

TEST_P(ClientProtocolTest, RetryPolicyRetriesAnUnavailableAnswer) {
  ChannelOptions options;
  options.service_config = R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.EchoService"}],
      "retryPolicy":{"maxAttempts":3,"initialBackoff":"0.01s","maxBackoff":"0.01s",
      "backoffMultiplier":1,"retryableStatusCodes":["UNAVAILABLE"]}}]})";
  auto channel = MakeChannel(options);
  EchoService::Stub stub(channel);
  ClientContext context;
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(
      &context, Req("down", 0, static_cast<int>(absl::StatusCode::kUnavailable)));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(channel->policy_retries(), 2);  // three attempts, each answered UNAVAILABLE
  channel->Close();
}

// Interceptors see the same call in every protocol: metadata added in OnStart reaches the
// server, each message (protobuf bytes, whatever the wire form) passes OnSend/OnReceive, and
// attempts are recorded with their message sizes.
class Recorder : public ClientInterceptor {
 public:
  explicit Recorder(std::vector<std::string>* log) : log_(log) {}
  Task<absl::Status> OnStart(ClientCall& call) override {
    (void)call.outgoing_metadata().Add("x-in", "intercepted");
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnSend(ClientCall&, std::optional<std::string>& message) override {
    EchoRequest r;
    log_->push_back(r.ParseFromString(*message) ? "send " + r.text() : "send ?");
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnReceive(ClientCall&, std::optional<std::string>& message) override {
    EchoReply r;
    log_->push_back(r.ParseFromString(*message) ? "receive " + r.text() : "receive ?");
    co_return absl::OkStatus();
  }
  void OnAttemptFinished(ClientCall&, const CallAttempt& attempt, const absl::Status& status) override {
    log_->push_back(absl::StrCat("attempt ", attempt.number, " ", status.ok() ? "ok" : "failed",
                                 " sent>0 ", attempt.message_bytes_sent > 0));
  }
  void OnFinish(ClientCall&, absl::Status& status) override {
    log_->push_back(status.ok() ? "finish ok" : "finish " + status.ToString());
  }

 private:
  std::vector<std::string>* log_;
};

TEST_P(ClientProtocolTest, InterceptorsSeeProtobufMessagesAndAttempts) {
  std::vector<std::string> log;
  ChannelOptions options;
  options.interceptors.push_back(
      [&log](ClientCall&) { return std::make_unique<Recorder>(&log); });
  auto channel = MakeChannel(options);
  EchoService::Stub stub(channel);
  ClientContext context;
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(&context, Req("hi"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(context.initial_metadata().GetFirst("x-head"), "intercepted");
  // (Whether the call's end or the reader's OnReceive comes first depends on how the response's
  // frames arrived: a gRPC-Web or Connect unary response brings the message and the status at
  // once.)
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0], "send hi");
  std::sort(log.begin(), log.end());
  EXPECT_EQ(log, (std::vector<std::string>{"attempt 1 ok sent>0 1", "finish ok", "receive hi",
                                           "send hi"}));
  channel->Close();
}

// A hedging policy: a non-fatal answer sends the next hedge, in every protocol.
TEST_P(ClientProtocolTest, HedgingPolicyHedgesANonFatalAnswer) {
  ChannelOptions options;
  options.service_config = R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.EchoService"}],
      "hedgingPolicy":{"maxAttempts":3,"hedgingDelay":"10s",
      "nonFatalStatusCodes":["UNAVAILABLE"]}}]})";
  auto channel = MakeChannel(options);
  EchoService::Stub stub(channel);
  ClientContext context;
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(
      &context, Req("down", 0, static_cast<int>(absl::StatusCode::kUnavailable)));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(channel->hedged_attempts(), 2);  // three attempts, each answered UNAVAILABLE at once
  channel->Close();
}

// The same over TLS (h2 by ALPN): a unary call and a server stream.
TEST_P(ClientProtocolTest, OverTls) {
  ServerOptions server_options;
  server_options.protocols.grpc = GetParam().protocol == ChannelProtocol::kGrpc;
  server_options.protocols.grpc_web = GetParam().protocol == ChannelProtocol::kGrpcWeb ||
                                      GetParam().protocol == ChannelProtocol::kGrpcWebText;
  server_options.protocols.connect = GetParam().protocol == ChannelProtocol::kConnect;
  Server server(&loop_, server_options);
  server.RegisterService(&backend_);
  transport::TlsOptions tls;
  tls.certFile = "tests/testdata/tls/server.pem";
  tls.keyFile = "tests/testdata/tls/server.key";
  absl::Status listening = server.ListenTls("127.0.0.1:0", tls);
  ASSERT_TRUE(listening.ok()) << listening;
  ChannelOptions options;
  options.protocol = GetParam().protocol;
  options.connect_codec = GetParam().codec;
  options.use_tls = true;
  options.tls.caFile = "tests/testdata/tls/ca.pem";
  auto channel = Channel::Create(&loop_, "localhost:" + std::to_string(server.port()), options);
  EchoService::Stub stub(channel);
  ClientContext context;
  absl::StatusOr<EchoReply> reply = stub.EchoBlocking(&context, Req("secure"), In("t1"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "secure");
  EXPECT_EQ(context.initial_metadata().GetFirst("x-protocol"), GetParam().server_sees);
  EXPECT_EQ(context.trailing_metadata().GetFirst("x-tail"), "t1!");
  auto body = [&]() -> Task<int> {
    auto reader = stub.Expand(Req("x", 4));
    int n = 0;
    while (co_await reader->Read()) ++n;
    absl::Status status = co_await reader->Finish();
    EXPECT_TRUE(status.ok()) << status;
    co_return n;
  };
  EXPECT_EQ(BlockOn(&loop_, body()), 4);
  channel->Close();
  bool closed = false;
  server.Shutdown(absl::Seconds(1), [&] { closed = true; });
  for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
}

INSTANTIATE_TEST_SUITE_P(
    Protocols, ClientProtocolTest,
    ::testing::Values(Param{"grpc", ChannelProtocol::kGrpc, ConnectCodec::kProto, "grpc"},
                      Param{"grpc_web", ChannelProtocol::kGrpcWeb, ConnectCodec::kProto, "grpc-web"},
                      Param{"grpc_web_text", ChannelProtocol::kGrpcWebText, ConnectCodec::kProto,
                            "grpc-web-text"},
                      Param{"connect_proto", ChannelProtocol::kConnect, ConnectCodec::kProto,
                            "connect"},
                      Param{"connect_json", ChannelProtocol::kConnect, ConnectCodec::kJson,
                            "connect"}),
    [](const ::testing::TestParamInfo<Param>& info) { return std::string(info.param.name); });

// --- the translation on crafted responses -----------------------------------------------------

constexpr char kEcho[] = "/h2rpc.rpc_test.EchoService/Echo";
constexpr char kExpand[] = "/h2rpc.rpc_test.EchoService/Expand";

std::unique_ptr<ClientProtocol> Make(ChannelProtocol p, ConnectCodec codec, const char* path) {
  auto made = ClientProtocol::Make(p, codec, path, 1 << 20);
  EXPECT_TRUE(made.ok()) << made.status();
  return made.ok() ? std::move(*made) : nullptr;
}

// Runs a whole response through `protocol`: the translated trailers (or Trailers-Only headers).
Headers StatusOfResponse(ClientProtocol& protocol, Headers headers, std::string body) {
  ClientProtocol::Translated t;
  EXPECT_TRUE(protocol.OnHeaders(headers, body.empty(), t).ok());
  if (t.trailers_only) return *t.headers;
  if (!body.empty()) {
    EXPECT_TRUE(protocol.OnBody(transport::SharedBuffer(body), t).ok());
  }
  EXPECT_TRUE(protocol.OnEnd(t).ok());
  if (t.trailers_only) return *t.headers;
  return t.trailers.value_or(Headers());
}

TEST(ClientProtocolTranslationTest, ConnectUnaryErrorWithoutErrorJsonTakesTheHttpStatusCode) {
  // connect-go's table, not gRPC's "HTTP error → UNAVAILABLE".
  const std::pair<int, absl::StatusCode> cases[] = {
      {404, absl::StatusCode::kUnimplemented}, {503, absl::StatusCode::kUnavailable},
      {400, absl::StatusCode::kInternal},      {401, absl::StatusCode::kUnauthenticated},
      {418, absl::StatusCode::kUnknown}};
  for (const auto& [http, code] : cases) {
    auto p = Make(ChannelProtocol::kConnect, ConnectCodec::kProto, kEcho);
    Headers h;
    h.add(":status", std::to_string(http));
    h.add("content-type", "text/html");
    Headers status = StatusOfResponse(*p, h, "<html>proxy page</html>");
    EXPECT_EQ(status.get("grpc-status"), std::to_string(static_cast<int>(code))) << http;
  }
  // A JSON body that is no error JSON: the same.
  auto p = Make(ChannelProtocol::kConnect, ConnectCodec::kProto, kEcho);
  Headers h;
  h.add(":status", "503");
  h.add("content-type", "application/json");
  EXPECT_EQ(StatusOfResponse(*p, h, R"({"oops":1})").get("grpc-status"), "14");
}

TEST(ClientProtocolTranslationTest, ConnectErrorJsonBecomesStatusFields) {
  google::rpc::ErrorInfo info;
  info.set_reason("R");
  std::string value = absl::Base64Escape(info.SerializeAsString());
  while (!value.empty() && value.back() == '=') value.pop_back();
  auto fields = ConnectErrorToStatusFields(absl::StrCat(
      R"({"code":"not_found","message":"100% gone","details":[{"type":"google.rpc.ErrorInfo","value":")",
      value, R"("}]})"));
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(fields->get("grpc-status"), "5");
  EXPECT_EQ(fields->get("grpc-message"), "100%25 gone");
  ASSERT_TRUE(fields->get("grpc-status-details-bin").has_value());
  EXPECT_FALSE(ConnectErrorToStatusFields("not json").has_value());
  EXPECT_FALSE(ConnectErrorToStatusFields(R"({"message":"no code"})").has_value());
  // An unknown code name: unknown.
  EXPECT_EQ(ConnectErrorToStatusFields(R"({"code":"weird"})")->get("grpc-status"), "2");
}

TEST(ClientProtocolTranslationTest, ConnectStreamEndStreamMessage) {
  auto p = Make(ChannelProtocol::kConnect, ConnectCodec::kProto, kExpand);
  Headers h;
  h.add(":status", "200");
  h.add("content-type", "application/connect+proto");
  h.add("x-head", "1");
  std::string body = ConnectEnvelope(0, "msg") +
                     ConnectEnvelope(kConnectEndStreamFlag,
                                     R"({"error":{"code":"aborted","message":"m"},)"
                                     R"("metadata":{"x-tail":["a","b"]}})");
  ClientProtocol::Translated t;
  ASSERT_TRUE(p->OnHeaders(h, false, t).ok());
  ASSERT_TRUE(t.headers.has_value());
  EXPECT_EQ(t.headers->get("x-head"), "1");
  EXPECT_EQ(t.headers->get("content-type"), "application/grpc");
  ASSERT_TRUE(p->OnBody(transport::SharedBuffer(body), t).ok());
  EXPECT_EQ(t.framed, FrameMessage("msg", false));
  ASSERT_TRUE(t.trailers.has_value());
  EXPECT_EQ(t.trailers->get("grpc-status"), "10");
  EXPECT_EQ(t.trailers->get("grpc-message"), "m");
  EXPECT_EQ(t.trailers->getAll("x-tail"), (std::vector<std::string>{"a", "b"}));
  // Anything after the end-stream message is an error.
  ClientProtocol::Translated more;
  EXPECT_FALSE(p->OnBody(transport::SharedBuffer(ConnectEnvelope(0, "late")), more).ok());

  // A stream that ends without one: INTERNAL.
  auto q = Make(ChannelProtocol::kConnect, ConnectCodec::kProto, kExpand);
  EXPECT_EQ(StatusOfResponse(*q, h, ConnectEnvelope(0, "msg")).get("grpc-status"), "13");
}

TEST(ClientProtocolTranslationTest, GrpcWebTrailerFrameAndItsAbsence) {
  auto p = Make(ChannelProtocol::kGrpcWeb, ConnectCodec::kProto, kEcho);
  Headers h;
  h.add(":status", "200");
  h.add("content-type", "application/grpc-web+proto");
  std::string trailer = "Grpc-Status: 7\r\ngrpc-message: no\r\nx-t: v\r\n";
  std::string body = FrameMessage("m", false) + std::string(1, '\x80') +
                     std::string(MessagePrefix(trailer.size(), false)).substr(1) + trailer;
  Headers status = StatusOfResponse(*p, h, body);
  EXPECT_EQ(status.get("grpc-status"), "7");
  EXPECT_EQ(status.get("grpc-message"), "no");
  EXPECT_EQ(status.get("x-t"), "v");

  auto q = Make(ChannelProtocol::kGrpcWeb, ConnectCodec::kProto, kEcho);
  EXPECT_EQ(StatusOfResponse(*q, h, FrameMessage("m", false)).get("grpc-status"), "13");
}

TEST(ClientProtocolTranslationTest, ConnectRequestEncoding) {
  EchoRequest request = Req("hi", 2);
  // Unary JSON: the raw JSON body, application/json, the timeout in milliseconds.
  auto json = Make(ChannelProtocol::kConnect, ConnectCodec::kJson, kEcho);
  Headers h;
  json->RequestHeaders(absl::Milliseconds(1500), Compression::kIdentity, h);
  EXPECT_EQ(h.get("content-type"), "application/json");
  EXPECT_EQ(h.get("connect-protocol-version"), "1");
  EXPECT_EQ(h.get("connect-timeout-ms"), "1500");
  size_t n = 0;
  auto body = json->EncodeRequest(request.SerializeAsString(), Compression::kIdentity, &n);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, R"({"text":"hi","count":2})");
  // Streaming proto with gzip: an envelope flagged compressed, connect-content-encoding.
  auto stream = Make(ChannelProtocol::kConnect, ConnectCodec::kProto, kExpand);
  Headers s;
  stream->RequestHeaders(std::nullopt, Compression::kGzip, s);
  EXPECT_EQ(s.get("content-type"), "application/connect+proto");
  EXPECT_EQ(s.get("connect-content-encoding"), "gzip");
  EXPECT_FALSE(s.has("connect-timeout-ms"));
  auto frame = stream->EncodeRequest(request.SerializeAsString(), Compression::kGzip, &n);
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ((*frame)[0], kConnectCompressedFlag);
  // JSON for a path without a descriptor: INVALID_ARGUMENT.
  EXPECT_EQ(ClientProtocol::Make(ChannelProtocol::kConnect, ConnectCodec::kJson, "/no.Such/M", 1)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace h2rpc::rpc
