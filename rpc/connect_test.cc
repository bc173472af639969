// The Connect protocol served by rpc::Server on the handlers of a generated service (HTTP/2 over
// a MemorySocket on a ManualLoop, and HTTP/1.1): unary with proto and JSON, errors as HTTP
// statuses and the error JSON, metadata and trailer- headers, connect-timeout-ms, compression,
// streaming with its end-stream message, GET for NO_SIDE_EFFECTS methods, and
// ServerOptions::protocols.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "rpc/compression.h"
#include "rpc/connect_protocol.h"
#include "rpc/framing.h"
#include "rpc/server.h"
#include "rpc/status_details.h"
#include "rpc/testdata/echo_service.h2rpc.h"
#include "rpc/testdata/idempotent.h2rpc.h"
#include "rpc/testing/memory_http1.h"
#include "rpc/testing/memory_sessions.h"
#include "rpc/wire_protocol.h"
#include "transport/compat/compat_server.h"
#include "transport/constants.h"
#include "transport/http1/http1_server.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;
using transport::Headers;

constexpr char kEcho[] = "/h2rpc.rpc_test.EchoService/Echo";
constexpr char kExpand[] = "/h2rpc.rpc_test.EchoService/Expand";
constexpr char kCollect[] = "/h2rpc.rpc_test.EchoService/Collect";
constexpr char kChat[] = "/h2rpc.rpc_test.EchoService/Chat";

// Echo: the text back; each metadata x-in → initial x-head and trailing x-tail; text "keys"
// answers the client metadata's names; status_code fails
// (text "details" adds an ErrorInfo); text "deadline" answers the deadline's remaining seconds
// in index (-1 without one). Expand: `count` replies, then the status. Collect: the texts joined. Chat: "re: " and the
// text for each request.
class Backend : public rpc_test::EchoService::Service {
 public:
  static std::string Keys(ServerContext& ctx) {
    std::string keys;
    for (const auto& [key, value] : ctx.client_metadata()) absl::StrAppend(&keys, key, ",");
    return keys;
  }
  Task<absl::StatusOr<EchoReply>> Echo(ServerContext& ctx, const EchoRequest& req) override {
    for (const std::string& v : ctx.client_metadata().Get("x-in")) {
      (void)ctx.initial_metadata().Add("x-head", v);
      (void)ctx.trailing_metadata().Add("x-tail", absl::StrCat(v, "!"));
    }
    if (req.text() == "keys") {  // the client metadata's names, as the handler sees them
      EchoReply reply;
      reply.set_text(Keys(ctx));
      co_return reply;
    }
    if (req.status_code() != 0) {
      absl::Status status(static_cast<absl::StatusCode>(req.status_code()), req.text());
      if (req.text() == "details") AddStatusDetail(status, MakeErrorInfo("WHY", "h2rpc.test"));
      co_return status;
    }
    EchoReply reply;
    reply.set_text(req.text());
    reply.set_payload(req.payload());
    if (req.text() == "gzip me") ctx.SetCompression(Compression::kGzip);
    if (req.text() == "deadline") {
      reply.set_index(ctx.deadline() ? static_cast<int>(absl::ToInt64Seconds(
                                           *ctx.deadline() - absl::Now() + absl::Milliseconds(500)))
                                     : -1);
    }
    co_return reply;
  }
  Task<absl::Status> Expand(ServerContext& ctx, const EchoRequest& req,
                            ServerWriter<EchoReply>& out) override {
    if (auto v = ctx.client_metadata().GetFirst("x-in")) {
      (void)ctx.trailing_metadata().Add("x-tail", *v);
    }
    for (int i = 0; i < req.count(); ++i) {
      EchoReply reply;
      reply.set_text(req.text() == "keys" ? Keys(ctx) : req.text());
      reply.set_index(i);
      if (!co_await out.Write(reply)) co_return absl::CancelledError("gone");
    }
    if (req.status_code() != 0) {
      co_return absl::Status(static_cast<absl::StatusCode>(req.status_code()), req.text());
    }
    co_return absl::OkStatus();
  }
  Task<absl::StatusOr<EchoReply>> Collect(ServerContext& ctx,
                                          ServerReader<EchoRequest>& in) override {
    EchoReply reply;
    while (auto req = co_await in.Read()) reply.set_text(reply.text() + req->text());
    ended_cancelled.push_back(ctx.IsCancelled());
    co_return reply;
  }
  Task<absl::Status> Chat(ServerContext& ctx,
                          ServerReaderWriter<EchoReply, EchoRequest>& s) override {
    int n = 0;
    while (std::optional<EchoRequest> req = co_await s.Read()) {
      EchoReply reply;
      reply.set_text("re: " + req->text());
      reply.set_index(n++);
      if (!co_await s.Write(reply)) break;
    }
    ended_cancelled.push_back(ctx.IsCancelled());
    co_return absl::OkStatus();
  }
  // Collect's and Chat's ends: whether the handler saw its call cancelled.
  std::vector<bool> ended_cancelled;
};

// Lookup (rpc/testdata/idempotent.proto): each method answers its name and the text.
class LookupBackend : public rpc_test::Lookup::Service {
 public:
  Task<absl::StatusOr<EchoReply>> Find(ServerContext&, const EchoRequest& req) override {
    co_return Reply("find ", req);
  }
  Task<absl::StatusOr<EchoReply>> Put(ServerContext&, const EchoRequest& req) override {
    co_return Reply("put ", req);
  }
  Task<absl::StatusOr<EchoReply>> Change(ServerContext&, const EchoRequest& req) override {
    co_return Reply("change ", req);
  }
  Task<absl::Status> Watch(ServerContext&, const EchoRequest&,
                           ServerWriter<EchoReply>&) override {
    co_return absl::OkStatus();
  }

 private:
  static EchoReply Reply(const char* what, const EchoRequest& req) {
    EchoReply reply;
    reply.set_text(absl::StrCat(what, req.text()));
    return reply;
  }
};

constexpr char kFind[] = "/h2rpc.rpc_test.Lookup/Find";

struct Answer {
  Headers headers;
  bool had_trailers = false;
  std::string body;
  bool closed = false;
  std::string header(const char* name) const { return headers.get(name).value_or("<none>"); }
};

// A Connect streaming body cut into envelopes.
struct Envelopes {
  std::vector<std::pair<uint8_t, std::string>> items;
  bool well_formed = true;
};

Envelopes SplitEnvelopes(const std::string& body) {
  Envelopes out;
  size_t at = 0;
  while (at < body.size()) {
    if (body.size() - at < 5) {
      out.well_formed = false;
      break;
    }
    const uint32_t n = (static_cast<uint8_t>(body[at + 1]) << 24) |
                       (static_cast<uint8_t>(body[at + 2]) << 16) |
                       (static_cast<uint8_t>(body[at + 3]) << 8) |
                       static_cast<uint8_t>(body[at + 4]);
    if (body.size() - at - 5 < n) {
      out.well_formed = false;
      break;
    }
    out.items.emplace_back(static_cast<uint8_t>(body[at]), body.substr(at + 5, n));
    at += 5 + n;
  }
  return out;
}

std::string Raw(const std::string& text, int code = 0, int count = 0) {
  EchoRequest req;
  req.set_text(text);
  req.set_status_code(code);
  req.set_count(count);
  return req.SerializeAsString();
}

class ConnectTest : public ::testing::Test {
 protected:
  virtual ServerOptions Options() { return {}; }
  void SetUp() override {
    server_ = std::make_unique<Server>(nullptr, Options());
    server_->RegisterService(&backend_);
    server_->RegisterService(&lookup_);
    auto sessions = testing::ServeOverMemory(loop_, *server_);
    ASSERT_TRUE(sessions.ok()) << sessions.status();
    server_session_ = sessions->server;
    client_ = sessions->client;
  }
  void TearDown() override {
    testing::MemorySessions{server_session_, client_}.Destroy(loop_);
  }

  Answer Post(const std::string& path, const std::string& content_type, const std::string& body,
              Headers extra = {}) {
    Answer a;
    Headers headers{{":method", "POST"}, {":path", path}, {"content-type", content_type}};
    for (const auto& f : extra) headers.add(f.name, f.value);
    auto req = client_->request(headers, {.endStream = false});
    EXPECT_TRUE(req.ok()) << req.status();
    if (!req.ok()) return a;
    (*req)->onResponse([&](const Headers& h, uint8_t) { a.headers = h; });
    (*req)->onTrailers([&](const Headers&, uint8_t) { a.had_trailers = true; });
    (*req)->onData([&](std::string_view d) { a.body += d; });
    (*req)->onClose([&] { a.closed = true; });
    (*req)->end(body);
    loop_.runUntilIdle();
    EXPECT_TRUE(a.closed);
    return a;
  }

  // A GET request: no body, END_STREAM on the headers.
  Answer Get(const std::string& target) {
    Answer a;
    auto req = client_->request(Headers{{":method", "GET"}, {":path", target}},
                                {.endStream = true});
    EXPECT_TRUE(req.ok()) << req.status();
    if (!req.ok()) return a;
    (*req)->onResponse([&](const Headers& h, uint8_t) { a.headers = h; });
    (*req)->onData([&](std::string_view d) { a.body += d; });
    (*req)->onClose([&] { a.closed = true; });
    loop_.runUntilIdle();
    EXPECT_TRUE(a.closed);
    return a;
  }

  transport::ManualLoop loop_;
  Backend backend_;
  LookupBackend lookup_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<transport::ServerHttp2Session> server_session_;
  std::shared_ptr<transport::ClientHttp2Session> client_;
};

TEST_F(ConnectTest, UnaryProtoRawBodyMetadataAndTrailerHeaders) {
  Answer a = Post(kEcho, "application/proto", Raw("hi"),
                  {{"connect-protocol-version", "1"}, {"x-in", "v"}});
  EXPECT_EQ(a.header(":status"), "200");
  EXPECT_EQ(a.header("content-type"), "application/proto");
  EXPECT_EQ(a.header("x-head"), "v");
  EXPECT_EQ(a.header("trailer-x-tail"), "v!");
  EXPECT_EQ(a.header("grpc-status"), "<none>");
  EXPECT_FALSE(a.had_trailers);
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(a.body));  // no envelope
  EXPECT_EQ(reply.text(), "hi");
}

TEST_F(ConnectTest, UnaryJsonBothWays) {
  Answer a = Post(kEcho, "application/json", R"({"text":"héllo","payload":"AQI="})");
  EXPECT_EQ(a.header(":status"), "200");
  EXPECT_EQ(a.header("content-type"), "application/json");
  EXPECT_EQ(a.body, R"({"text":"héllo","payload":"AQI="})");
  // lowerCamel and proto names both accepted; an empty body is the empty message.
  Answer names = Post(kEcho, "application/json; charset=utf-8", R"({"status_code":0,"text":"x"})");
  EXPECT_EQ(names.body, R"({"text":"x"})");
  Answer empty = Post(kEcho, "application/json", "");
  EXPECT_EQ(empty.header(":status"), "200");
  EXPECT_EQ(empty.body, "{}");
}

TEST_F(ConnectTest, BadJsonAndUnknownFieldsAreInvalidArgument) {
  for (const char* body : {R"({"text":)", R"({"text":"a","nope":1})"}) {
    Answer a = Post(kEcho, "application/json", body);
    EXPECT_EQ(a.header(":status"), "400") << body;
    EXPECT_EQ(a.header("content-type"), "application/json");
    EXPECT_EQ(a.body.rfind(R"({"code":"invalid_argument","message":"Invalid JSON request)", 0), 0u)
        << a.body;
  }
}

TEST_F(ConnectTest, ErrorsAreAnHttpStatusAndTheErrorJsonWithDetails) {
  Answer a = Post(kEcho, "application/proto", Raw("details", 9), {{"x-in", "m"}});
  EXPECT_EQ(a.header(":status"), "400");  // failed_precondition
  EXPECT_EQ(a.header("content-type"), "application/json");
  EXPECT_EQ(a.header("x-head"), "m");
  EXPECT_EQ(a.header("trailer-x-tail"), "m!");
  std::string value = absl::Base64Escape(MakeErrorInfo("WHY", "h2rpc.test").SerializeAsString());
  while (!value.empty() && value.back() == '=') value.pop_back();
  EXPECT_EQ(a.body, absl::StrCat(R"({"code":"failed_precondition","message":"details",)",
                                 R"("details":[{"type":"google.rpc.ErrorInfo","value":")", value,
                                 R"("}]})"));
  for (auto [code, http] : std::vector<std::pair<int, const char*>>{
           {5, "404"}, {12, "501"}, {14, "503"}, {4, "504"}, {16, "401"}, {8, "429"}}) {
    Answer e = Post(kEcho, "application/json", absl::StrCat(R"({"text":"t","statusCode":)", code, "}"));
    EXPECT_EQ(e.header(":status"), http) << code;
    EXPECT_NE(e.body.find(std::string(ConnectCodeName(static_cast<absl::StatusCode>(code)))),
              std::string::npos);
  }
}

TEST_F(ConnectTest, EarlyErrorsAreConnectErrors) {
  // An unknown path: 404 (connect-go's mux; clients read 404 as unimplemented), the code in
  // the body.
  Answer missing = Post("/h2rpc.rpc_test.EchoService/Nope", "application/json", "{}");
  EXPECT_EQ(missing.header(":status"), "404");
  EXPECT_EQ(missing.body.rfind(R"({"code":"unimplemented")", 0), 0u) << missing.body;
  Answer version = Post(kEcho, "application/proto", Raw("x"), {{"connect-protocol-version", "2"}});
  EXPECT_EQ(version.header(":status"), "400");
  Answer timeout = Post(kEcho, "application/proto", Raw("x"), {{"connect-timeout-ms", "12345678901"}});
  EXPECT_EQ(timeout.header(":status"), "400");
  EXPECT_NE(timeout.body.find("connect-timeout-ms"), std::string::npos);
  Answer unknown = Post(kEcho, "application/xml", "<x/>");
  EXPECT_EQ(unknown.header(":status"), "415");
}

TEST_F(ConnectTest, ConnectRequestFieldsAreNotClientMetadata) {
  auto packed = Compress(Compression::kGzip, Raw("keys"));
  ASSERT_TRUE(packed.ok());
  Answer a = Post(kEcho, "application/proto", *packed,
                  {{"connect-protocol-version", "1"}, {"connect-timeout-ms", "30000"},
                   {"content-encoding", "gzip"}, {"accept-encoding", "identity"},
                   {"x-kept", "1"}});
  ASSERT_EQ(a.header(":status"), "200") << a.body;
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(a.body));
  EXPECT_EQ(reply.text(), "x-kept,");
  // Streaming's names (connect-content-encoding, connect-accept-encoding) as well.
  Answer s = Post(kExpand, "application/connect+json",
                  ConnectEnvelope(kConnectCompressedFlag, *Compress(Compression::kGzip,
                                                                    R"({"text":"keys","count":1})")),
                  {{"connect-protocol-version", "1"}, {"connect-content-encoding", "gzip"},
                   {"connect-accept-encoding", "identity"}, {"connect-timeout-ms", "30000"},
                   {"x-kept", "1"}});
  Envelopes e = SplitEnvelopes(s.body);
  ASSERT_TRUE(e.well_formed);
  ASSERT_EQ(e.items.size(), 2u) << s.body;
  EXPECT_EQ(e.items[0].second, R"({"text":"x-kept,"})");
}

TEST_F(ConnectTest, RepeatedMetadataNamesInUnaryHeaders) {
  Answer a = Post(kEcho, "application/proto", Raw("hi"), {{"x-in", "a"}, {"x-in", "b"}});
  EXPECT_EQ(a.header(":status"), "200");
  std::vector<std::string> head, tail;
  for (const auto& f : a.headers) {
    if (f.name == "x-head") head.push_back(std::string(f.value));
    if (f.name == "trailer-x-tail") tail.push_back(std::string(f.value));
  }
  EXPECT_EQ(head, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(tail, (std::vector<std::string>{"a!", "b!"}));
}

TEST_F(ConnectTest, UnexpectedVerbIsAConnect405WithAllow) {
  for (const char* verb : {"PUT", "DELETE"}) {
    for (const char* type : {"application/proto", "application/connect+json"}) {
      Answer a;
      auto req = client_->request(
          Headers{{":method", verb}, {":path", kEcho}, {"content-type", type}},
          {.endStream = true});
      ASSERT_TRUE(req.ok());
      (*req)->onResponse([&](const Headers& h, uint8_t) { a.headers = h; });
      (*req)->onData([&](std::string_view d) { a.body += d; });
      (*req)->onClose([&] { a.closed = true; });
      loop_.runUntilIdle();
      ASSERT_TRUE(a.closed);
      EXPECT_EQ(a.header(":status"), "405") << verb << " " << type;
      EXPECT_EQ(a.header("allow"), "POST");
      EXPECT_EQ(a.header("content-type"), "application/json");
      EXPECT_NE(a.body.find(R"("code":"unimplemented")"), std::string::npos) << a.body;
    }
  }
}

TEST_F(ConnectTest, BidiStreamingOverHttp2) {
  Answer a;
  auto req = client_->request(Headers{{":method", "POST"},
                                      {":path", kChat},
                                      {"content-type", "application/connect+json"},
                                      {"connect-protocol-version", "1"}},
                              {.endStream = false});
  ASSERT_TRUE(req.ok());
  (*req)->onResponse([&](const Headers& h, uint8_t) { a.headers = h; });
  (*req)->onData([&](std::string_view d) { a.body += d; });
  (*req)->onClose([&] { a.closed = true; });
  // Full duplex: each reply arrives before the next request is sent.
  (*req)->write(ConnectEnvelope(0, R"({"text":"one"})"));
  loop_.runUntilIdle();
  EXPECT_EQ(a.header(":status"), "200");
  EXPECT_EQ(a.header("content-type"), "application/connect+json");
  Envelopes first = SplitEnvelopes(a.body);
  ASSERT_EQ(first.items.size(), 1u) << a.body;
  EXPECT_EQ(first.items[0].second, R"({"text":"re: one"})");
  (*req)->write(ConnectEnvelope(0, R"({"text":"two"})"));
  loop_.runUntilIdle();
  EXPECT_EQ(SplitEnvelopes(a.body).items.size(), 2u) << a.body;
  (*req)->end();
  loop_.runUntilIdle();
  ASSERT_TRUE(a.closed);
  Envelopes e = SplitEnvelopes(a.body);
  ASSERT_TRUE(e.well_formed);
  ASSERT_EQ(e.items.size(), 3u) << a.body;
  EXPECT_EQ(e.items[1].first, 0);
  EXPECT_EQ(e.items[1].second, R"({"text":"re: two","index":1})");
  EXPECT_EQ(e.items[2].first, kConnectEndStreamFlag);
  EXPECT_EQ(e.items[2].second, "{}");
}

TEST_F(ConnectTest, DeadlineFiresDuringTheCall) {
  // Requests left open: the handler waits for the rest, the deadline ends the call.
  Answer unary, stream;
  auto open = [&](const char* path, const char* type, Answer& a) {
    auto req = client_->request(Headers{{":method", "POST"},
                                        {":path", path},
                                        {"content-type", type},
                                        {"connect-timeout-ms", "100"}},
                                {.endStream = false});
    EXPECT_TRUE(req.ok());
    (*req)->onResponse([&a](const Headers& h, uint8_t) { a.headers = h; });
    (*req)->onData([&a](std::string_view d) { a.body += d; });
    (*req)->onClose([&a] { a.closed = true; });
    (*req)->write(std::string_view(path) == kEcho ? std::string("\x0a")
                                                  : ConnectEnvelope(0, R"({"text":"a"})"));
    return *req;
  };
  [[maybe_unused]] auto r1 = open(kEcho, "application/proto", unary);
  [[maybe_unused]] auto r2 = open(kCollect, "application/connect+json", stream);
  loop_.runUntilIdle();
  EXPECT_TRUE(unary.headers.empty());  // nothing before the deadline
  EXPECT_TRUE(stream.body.empty());
  loop_.advance(150);
  loop_.runUntilIdle();
  EXPECT_EQ(unary.header(":status"), "504");
  EXPECT_NE(unary.body.find(R"("code":"deadline_exceeded")"), std::string::npos) << unary.body;
  EXPECT_EQ(stream.header(":status"), "200");
  Envelopes e = SplitEnvelopes(stream.body);
  ASSERT_EQ(e.items.size(), 1u) << stream.body;
  EXPECT_EQ(e.items[0].first, kConnectEndStreamFlag);
  EXPECT_NE(e.items[0].second.find(R"("code":"deadline_exceeded")"), std::string::npos)
      << e.items[0].second;
}

TEST_F(ConnectTest, ServerStreamingWithNoneOrSeveralRequestsIsUnimplemented) {
  // As connect-go ("unary request has no message" / "multiple messages") and the conformance
  // suite's connect_server_unexpected cases.
  const std::string one = ConnectEnvelope(0, Raw("x", 0, 1));
  for (const std::string& body : {std::string(), one + one}) {
    Answer a = Post(kExpand, "application/connect+proto", body);
    EXPECT_EQ(a.header(":status"), "200");
    Envelopes e = SplitEnvelopes(a.body);
    ASSERT_TRUE(e.well_formed);
    ASSERT_EQ(e.items.size(), 1u) << a.body;
    EXPECT_EQ(e.items[0].first, kConnectEndStreamFlag);
    EXPECT_NE(e.items[0].second.find(R"({"error":{"code":"unimplemented")"), std::string::npos)
        << e.items[0].second;
  }
}

TEST_F(ConnectTest, GetForNoSideEffectsMethods) {
  // JSON, percent-encoded ("+" a space, as Go's url.ParseQuery).
  Answer json =
      Get(absl::StrCat(kFind, "?connect=v1&encoding=json&message=%7B%22text%22%3A%22a+b%22%7D"));
  EXPECT_EQ(json.header(":status"), "200") << json.body;
  EXPECT_EQ(json.header("content-type"), "application/json");
  EXPECT_EQ(json.body, R"({"text":"find a b"})");
  // Binary in URL-safe base64, unpadded and padded.
  const std::string raw = Raw("b64?>");
  for (std::string b64 : {absl::WebSafeBase64Escape(raw), absl::Base64Escape(raw)}) {
    absl::StrReplaceAll({{"+", "-"}, {"/", "_"}, {"=", "%3D"}}, &b64);
    Answer proto = Get(absl::StrCat(kFind, "?encoding=proto&base64=1&message=", b64));
    EXPECT_EQ(proto.header(":status"), "200") << proto.body;
    EXPECT_EQ(proto.header("content-type"), "application/proto");
    EchoReply reply;
    ASSERT_TRUE(reply.ParseFromString(proto.body));
    EXPECT_EQ(reply.text(), "find b64?>");
  }
  // Compressed.
  auto packed = Compress(Compression::kGzip, Raw("zipped"));
  ASSERT_TRUE(packed.ok());
  Answer gz = Get(absl::StrCat(kFind, "?encoding=proto&base64=1&compression=gzip&message=",
                               absl::WebSafeBase64Escape(*packed)));
  EXPECT_EQ(gz.header(":status"), "200") << gz.body;
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(gz.body));
  EXPECT_EQ(reply.text(), "find zipped");
  // No message: the empty one.
  EXPECT_EQ(Get(absl::StrCat(kFind, "?encoding=json")).body, R"({"text":"find "})");
  // POST still works on the same method.
  EXPECT_EQ(Post(kFind, "application/json", R"({"text":"p"})").body, R"({"text":"find p"})");
}

TEST_F(ConnectTest, GetErrors) {
  // Methods not declared NO_SIDE_EFFECTS (IDEMPOTENT, none, streaming): 405, POST only.
  for (const char* method : {"/h2rpc.rpc_test.Lookup/Put", "/h2rpc.rpc_test.Lookup/Change",
                             "/h2rpc.rpc_test.Lookup/Watch", kEcho}) {
    Answer a = Get(absl::StrCat(method, "?encoding=json&message=%7B%7D"));
    EXPECT_EQ(a.header(":status"), "405") << method;
    EXPECT_EQ(a.header("allow"), "POST");
    EXPECT_NE(a.body.find(R"({"code":"unimplemented")"), std::string::npos) << a.body;
  }
  struct Case {
    std::string query;
    const char* status;
    const char* code;
  };
  for (const Case& c : std::vector<Case>{
           {"?message=%7B%7D", "400", "invalid_argument"},               // no encoding
           {"?encoding=xml", "400", "invalid_argument"},                 // unknown encoding
           {"?connect=v2&encoding=json", "400", "invalid_argument"},     // unknown version
           {"?encoding=json&message=%7", "400", "invalid_argument"},     // bad percent-encoding
           {"?encoding=proto&base64=1&message=%25%25", "400", "invalid_argument"},  // not base64
           {"?encoding=json&message=%7B%22nope%22%3A1%7D", "400", "invalid_argument"},
           {"?encoding=proto&compression=br&message=x", "501", "unimplemented"},
       }) {
    Answer a = Get(absl::StrCat(kFind, c.query));
    EXPECT_EQ(a.header(":status"), c.status) << c.query << " " << a.body;
    EXPECT_NE(a.body.find(absl::StrCat(R"({"code":")", c.code, R"(")")), std::string::npos)
        << c.query << " " << a.body;
  }
  Answer unknown = Get("/h2rpc.rpc_test.Lookup/Nope?encoding=json");
  EXPECT_EQ(unknown.header(":status"), "404");
  // A GET without a query is not Connect's: the generic 405.
  EXPECT_EQ(Get(kFind).header(":status"), "405");
}

TEST_F(ConnectTest, TimeoutHeaderIsTheDeadline) {
  Answer a = Post(kEcho, "application/json", R"({"text":"deadline"})",
                  {{"connect-timeout-ms", "30000"}});
  EXPECT_EQ(a.body, R"({"text":"deadline","index":30})");
  Answer none = Post(kEcho, "application/json", R"({"text":"deadline"})");
  EXPECT_EQ(none.body, R"({"text":"deadline","index":-1})");
}

TEST_F(ConnectTest, GzipRequestBodyAndUnsupportedEncodings) {
  auto packed = Compress(Compression::kGzip, R"({"text":"zipped"})");
  ASSERT_TRUE(packed.ok());
  Answer a = Post(kEcho, "application/json", *packed, {{"content-encoding", "gzip"}});
  EXPECT_EQ(a.header(":status"), "200");
  EXPECT_EQ(a.body, R"({"text":"zipped"})");
  Answer bad = Post(kEcho, "application/proto", Raw("x"), {{"content-encoding", "br"}});
  EXPECT_EQ(bad.header(":status"), "501");  // unimplemented, as the spec asks
  EXPECT_NE(bad.body.find("content-encoding"), std::string::npos);
  Answer lie = Post(kEcho, "application/proto", Raw("x"), {{"content-encoding", "gzip"}});
  EXPECT_NE(lie.header(":status"), "200");
}

TEST_F(ConnectTest, DeflateBothWaysUnaryAndStreaming) {
  // deflate is the zlib format (RFC 1950), as connect-go's and gRPC's "deflate".
  auto packed = Compress(Compression::kDeflate, R"({"text":"squeezed"})");
  ASSERT_TRUE(packed.ok());
  Answer a = Post(kEcho, "application/json", *packed,
                  {{"content-encoding", "deflate"}, {"accept-encoding", "deflate"}});
  EXPECT_EQ(a.header(":status"), "200") << a.body;
  EXPECT_EQ(a.header("content-encoding"), "deflate");
  EXPECT_NE(a.header("accept-encoding").find("deflate"), std::string::npos);
  auto plain = Decompress(Compression::kDeflate, a.body, 1 << 20);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, R"({"text":"squeezed"})");
  // Streaming: connect-content-encoding, each envelope flagged 0x01.
  auto env = Compress(Compression::kDeflate, Raw("d", 0, 2));
  ASSERT_TRUE(env.ok());
  Answer s = Post(kExpand, "application/connect+proto",
                  ConnectEnvelope(kConnectCompressedFlag, *env),
                  {{"connect-content-encoding", "deflate"}, {"connect-accept-encoding", "deflate"}});
  EXPECT_EQ(s.header(":status"), "200");
  EXPECT_EQ(s.header("connect-content-encoding"), "deflate");
  Envelopes e = SplitEnvelopes(s.body);
  ASSERT_TRUE(e.well_formed);
  ASSERT_EQ(e.items.size(), 3u) << s.body;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(e.items[i].first, kConnectCompressedFlag);
    auto message = Decompress(Compression::kDeflate, e.items[i].second, 1 << 20);
    ASSERT_TRUE(message.ok()) << message.status();
    EchoReply reply;
    ASSERT_TRUE(reply.ParseFromString(*message));
    EXPECT_EQ(reply.text(), "d");
    EXPECT_EQ(reply.index(), i);
  }
  EXPECT_EQ(e.items[2], std::make_pair(kConnectEndStreamFlag, std::string("{}")));
  // A deflate body that is not: an error, not a crash or a garbled message.
  Answer bad = Post(kEcho, "application/proto", Raw("x"), {{"content-encoding", "deflate"}});
  EXPECT_EQ(bad.header(":status"), "500") << bad.body;
  EXPECT_EQ(bad.body.rfind(R"({"code":"internal")", 0), 0u) << bad.body;
}

TEST_F(ConnectTest, EmptyMessagesUnaryAndStreaming) {
  // The empty message is an empty body (proto) or {} (JSON), both ways.
  Answer proto = Post(kEcho, "application/proto", "", {{"x-in", "e"}});
  EXPECT_EQ(proto.header(":status"), "200") << proto.body;
  EXPECT_EQ(proto.header("content-type"), "application/proto");
  EXPECT_EQ(proto.header("x-head"), "e");  // the handler ran on the empty message
  EXPECT_EQ(proto.body, "");
  Answer json = Post(kEcho, "application/json", "{}");
  EXPECT_EQ(json.header(":status"), "200") << json.body;
  EXPECT_EQ(json.body, "{}");
  // Streams: empty envelopes in (two empty requests), an empty message out.
  Answer c = Post(kCollect, "application/connect+proto",
                  ConnectEnvelope(0, "") + ConnectEnvelope(0, ""));
  Envelopes ce = SplitEnvelopes(c.body);
  ASSERT_TRUE(ce.well_formed);
  ASSERT_EQ(ce.items.size(), 2u) << c.body;
  EXPECT_EQ(ce.items[0], std::make_pair(uint8_t{0}, std::string()));
  EXPECT_EQ(ce.items[1], std::make_pair(kConnectEndStreamFlag, std::string("{}")));
  Answer cj = Post(kCollect, "application/connect+json",
                   ConnectEnvelope(0, "{}") + ConnectEnvelope(0, "{}"));
  Envelopes cje = SplitEnvelopes(cj.body);
  ASSERT_EQ(cje.items.size(), 2u) << cj.body;
  EXPECT_EQ(cje.items[0], std::make_pair(uint8_t{0}, std::string("{}")));
  // Server streaming: the first reply (text "", index 0) is the empty message.
  Answer x = Post(kExpand, "application/connect+proto", ConnectEnvelope(0, Raw("", 0, 2)));
  Envelopes xe = SplitEnvelopes(x.body);
  ASSERT_EQ(xe.items.size(), 3u) << x.body;
  EXPECT_EQ(xe.items[0], std::make_pair(uint8_t{0}, std::string()));
  EXPECT_EQ(xe.items[2].first, kConnectEndStreamFlag);
}

TEST_F(ConnectTest, CompressedFlagWithoutAnEncodingIsInternal) {
  // connect_server_unexpected's unexpected-compressed-message: flag 0x01 and no (or identity)
  // connect-content-encoding → internal, in the end-stream message.
  for (const Headers& extra : {Headers{}, Headers{{"connect-content-encoding", "identity"}}}) {
    Answer a = Post(kExpand, "application/connect+proto",
                    ConnectEnvelope(kConnectCompressedFlag, Raw("z", 0, 1)), extra);
    EXPECT_EQ(a.header(":status"), "200");
    Envelopes e = SplitEnvelopes(a.body);
    ASSERT_TRUE(e.well_formed);
    ASSERT_EQ(e.items.size(), 1u) << a.body;
    EXPECT_EQ(e.items[0].first, kConnectEndStreamFlag);
    EXPECT_EQ(e.items[0].second.rfind(R"({"error":{"code":"internal")", 0), 0u)
        << e.items[0].second;
    EXPECT_NE(e.items[0].second.find("connect-content-encoding"), std::string::npos)
        << e.items[0].second;
  }
}

TEST_F(ConnectTest, GzipResponseWhenTheHandlerCompressesAndTheClientAccepts) {
  Answer a = Post(kEcho, "application/json", R"({"text":"gzip me"})",
                  {{"accept-encoding", "gzip"}});
  EXPECT_EQ(a.header(":status"), "200");
  EXPECT_EQ(a.header("content-encoding"), "gzip");
  auto plain = Decompress(Compression::kGzip, a.body, 1 << 20);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, R"({"text":"gzip me"})");
  Answer identity = Post(kEcho, "application/json", R"({"text":"gzip me"})");
  EXPECT_EQ(identity.header("content-encoding"), "<none>");  // not accepted: not compressed
  EXPECT_EQ(identity.body, R"({"text":"gzip me"})");
}

TEST_F(ConnectTest, ServerStreamingEnvelopesAndTheEndStreamMessage) {
  Answer a = Post(kExpand, "application/connect+proto",
                  FrameMessage(Raw("s", 14, 2), false), {{"x-in", "t"}});
  EXPECT_EQ(a.header(":status"), "200");
  EXPECT_EQ(a.header("content-type"), "application/connect+proto");
  Envelopes e = SplitEnvelopes(a.body);
  ASSERT_TRUE(e.well_formed);
  ASSERT_EQ(e.items.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(e.items[i].first, 0);
    EchoReply reply;
    ASSERT_TRUE(reply.ParseFromString(e.items[i].second));
    EXPECT_EQ(reply.index(), i);
  }
  EXPECT_EQ(e.items[2].first, kConnectEndStreamFlag);
  EXPECT_EQ(e.items[2].second,
            R"({"error":{"code":"unavailable","message":"s"},"metadata":{"x-tail":["t"]}})");
  EXPECT_FALSE(a.had_trailers);
}

TEST_F(ConnectTest, StreamingJsonAndClientStreaming) {
  Answer a = Post(kExpand, "application/connect+json",
                  ConnectEnvelope(0, R"({"text":"j","count":2})"));
  Envelopes e = SplitEnvelopes(a.body);
  ASSERT_TRUE(e.well_formed);
  ASSERT_EQ(e.items.size(), 3u);
  EXPECT_EQ(e.items[0].second, R"({"text":"j"})");
  EXPECT_EQ(e.items[1].second, R"({"text":"j","index":1})");
  EXPECT_EQ(e.items[2], std::make_pair(kConnectEndStreamFlag, std::string("{}")));
  Answer c = Post(kCollect, "application/connect+json",
                  ConnectEnvelope(0, R"({"text":"a"})") + ConnectEnvelope(0, R"({"text":"b"})"));
  Envelopes ce = SplitEnvelopes(c.body);
  ASSERT_EQ(ce.items.size(), 2u);
  EXPECT_EQ(ce.items[0].second, R"({"text":"ab"})");
  EXPECT_EQ(ce.items[1].first, kConnectEndStreamFlag);
}

TEST_F(ConnectTest, StreamingErrorsBeforeAnyMessageAre200WithTheEndStream) {
  Answer a = Post(kExpand, "application/connect+json", ConnectEnvelope(0, R"({"bad":1})"));
  EXPECT_EQ(a.header(":status"), "200");
  Envelopes e = SplitEnvelopes(a.body);
  ASSERT_EQ(e.items.size(), 1u);
  EXPECT_EQ(e.items[0].first, kConnectEndStreamFlag);
  EXPECT_EQ(e.items[0].second.rfind(R"({"error":{"code":"invalid_argument")", 0), 0u);
  Answer gz = Post(kExpand, "application/connect+proto",
                   FrameMessage(*Compress(Compression::kGzip, Raw("z", 0, 1)), true),
                   {{"connect-content-encoding", "gzip"}});
  Envelopes ge = SplitEnvelopes(gz.body);
  ASSERT_EQ(ge.items.size(), 2u);
  EchoReply reply;
  ASSERT_TRUE(reply.ParseFromString(ge.items[0].second));
  EXPECT_EQ(reply.text(), "z");
}

TEST_F(ConnectTest, GrpcAndGrpcWebStillServedBesideConnect) {
  Answer g = Post(kEcho, "application/grpc", FrameMessage(Raw("g"), false), {{"te", "trailers"}});
  EXPECT_EQ(g.header("content-type"), "application/grpc");
  EXPECT_TRUE(g.had_trailers);
  Answer w = Post(kEcho, "application/grpc-web+proto", FrameMessage(Raw("w"), false));
  EXPECT_EQ(w.header("content-type"), "application/grpc-web+proto");
}

TEST_F(ConnectTest, ClientCancellationOverHttp2ReachesTheHandler) {
  // Connect streaming, gRPC-Web, and a Connect unary call whose body is still coming: the client
  // resets the stream (RST_STREAM CANCEL) mid-call.
  struct Case {
    const char* path;
    const char* type;
    std::string first;
    bool handler_runs;
  };
  const std::vector<Case> cases = {
      {kCollect, "application/connect+proto", ConnectEnvelope(0, Raw("a")), true},
      {kChat, "application/connect+json", ConnectEnvelope(0, R"({"text":"a"})"), true},
      {kCollect, "application/grpc-web+proto", FrameMessage(Raw("a"), false), true},
      {kChat, "application/grpc-web-text", absl::Base64Escape(FrameMessage(Raw("a"), false)),
       true},
      {kEcho, "application/proto", std::string("\x0a"), false},
  };
  for (const Case& c : cases) {
    backend_.ended_cancelled.clear();
    Answer a;
    auto req = client_->request(
        Headers{{":method", "POST"}, {":path", c.path}, {"content-type", c.type}},
        {.endStream = false});
    ASSERT_TRUE(req.ok());
    (*req)->onResponse([&](const Headers& h, uint8_t) { a.headers = h; });
    (*req)->onData([&](std::string_view d) { a.body += d; });
    (*req)->onClose([&] { a.closed = true; });
    (*req)->write(c.first);
    loop_.runUntilIdle();
    EXPECT_EQ(server_->Snapshot().active_calls, 1u) << c.type;
    EXPECT_TRUE(backend_.ended_cancelled.empty()) << c.type;  // still running
    (*req)->close(transport::constants::NGHTTP2_CANCEL);
    loop_.runUntilIdle();
    EXPECT_TRUE(a.closed);
    EXPECT_EQ(server_->Snapshot().active_calls, 0u) << c.type << ": a call left behind";
    if (c.handler_runs) {
      EXPECT_EQ(backend_.ended_cancelled, std::vector<bool>{true}) << c.path << " " << c.type;
    }
  }
}

class ConnectSmallLimitTest : public ConnectTest {
 protected:
  ServerOptions Options() override {
    ServerOptions o;
    o.limits.max_receive_message_size = 64;
    return o;
  }
};

TEST_F(ConnectSmallLimitTest, UnaryBodyOverTheLimitIsResourceExhausted) {
  Answer ok = Post(kEcho, "application/json", R"({"text":"small"})");
  EXPECT_EQ(ok.header(":status"), "200");
  Answer big = Post(kEcho, "application/json",
                    absl::StrCat(R"({"text":")", std::string(100, 'x'), R"("})"));
  EXPECT_EQ(big.header(":status"), "429");
  EXPECT_EQ(big.body.rfind(R"({"code":"resource_exhausted")", 0), 0u) << big.body;
}

class ConnectOffTest : public ConnectTest {
 protected:
  ServerOptions Options() override {
    ServerOptions o;
    o.protocols.connect = false;
    o.protocols.grpc_web = false;
    return o;
  }
};

TEST_F(ConnectOffTest, ProtocolsTurnedOffAre415) {
  for (const char* type : {"application/json", "application/proto", "application/connect+proto",
                           "application/grpc-web+proto", "application/grpc-web-text"}) {
    Answer a = Post(kEcho, type, "");
    EXPECT_EQ(a.header(":status"), "415") << type;
  }
  Answer g = Post(kEcho, "application/grpc", FrameMessage(Raw("g"), false), {{"te", "trailers"}});
  EXPECT_EQ(g.header(":status"), "200");
  EXPECT_TRUE(g.had_trailers);
}

class ConnectGrpcOffTest : public ConnectTest {
 protected:
  ServerOptions Options() override {
    ServerOptions o;
    o.protocols.grpc = false;
    return o;
  }
};

TEST_F(ConnectGrpcOffTest, OnlyGrpcRefused) {
  EXPECT_EQ(Post(kEcho, "application/grpc", FrameMessage(Raw("g"), false)).header(":status"),
            "415");
  EXPECT_EQ(Post(kEcho, "application/json", "{}").header(":status"), "200");
}

// --- HTTP/1.1 (what curl and browsers over cleartext use) ---

TEST(ConnectHttp1Test, UnaryJsonWithContentLength) {
  transport::ManualLoop loop;
  Backend backend;
  LookupBackend lookup;
  Server server(nullptr);
  server.RegisterService(&backend);
  server.RegisterService(&lookup);
  auto http1 = testing::ServeHttp1(loop, server);
  testing::RawSocketClient client;
  auto client_end = testing::ConnectRaw(loop, *http1, client);
  const std::string body = R"({"text":"over h1"})";
  client_end->write(absl::StrCat("POST ", kEcho, " HTTP/1.1\r\nhost: x\r\n",
                                 "content-type: application/json\r\ncontent-length: ",
                                 body.size(), "\r\n\r\n", body));
  loop.runUntilIdle();
  EXPECT_EQ(client.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << client.received;
  EXPECT_NE(client.received.find("content-type: application/json\r\n"), std::string::npos);
  EXPECT_NE(client.received.find(R"({"text":"over h1"})"), std::string::npos);
  client.received.clear();
  const std::string bad = R"({"text":"x","statusCode":5})";
  client_end->write(absl::StrCat("POST ", kEcho, " HTTP/1.1\r\nhost: x\r\n",
                                 "content-type: application/json\r\ncontent-length: ",
                                 bad.size(), "\r\n\r\n", bad));
  loop.runUntilIdle();
  EXPECT_EQ(client.received.rfind("HTTP/1.1 404 ", 0), 0u) << client.received;
  EXPECT_NE(client.received.find(R"({"code":"not_found","message":"x"})"), std::string::npos);
  // GET over HTTP/1.1, for a NO_SIDE_EFFECTS method and for another one.
  client.received.clear();
  client_end->write(absl::StrCat("GET ", kFind,
                                 "?encoding=json&message=%7B%22text%22%3A%22h1%22%7D HTTP/1.1\r\n"
                                 "host: x\r\n\r\n"));
  loop.runUntilIdle();
  EXPECT_EQ(client.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << client.received;
  EXPECT_NE(client.received.find(R"({"text":"find h1"})"), std::string::npos) << client.received;
  client.received.clear();
  client_end->write(absl::StrCat("GET ", kEcho, "?encoding=json HTTP/1.1\r\nhost: x\r\n\r\n"));
  loop.runUntilIdle();
  EXPECT_EQ(client.received.rfind("HTTP/1.1 405 ", 0), 0u) << client.received;
  EXPECT_NE(client.received.find("allow: POST\r\n"), std::string::npos) << client.received;
  client_end->setHandler(nullptr);
  http1.reset();
  loop.runUntilIdle();
}

TEST(ConnectHttp1Test, ClientClosingTheConnectionMidResponseCancelsTheCall) {
  // HTTP/1.1 has no RST_STREAM: a client cancels by closing the connection. Bidi over a chunked
  // request body, the response under way (one reply received) when the client goes.
  transport::ManualLoop loop;
  Backend backend;
  Server server(nullptr);
  server.RegisterService(&backend);
  auto http1 = testing::ServeHttp1(loop, server);
  for (const auto& [type, message] : std::vector<std::pair<std::string, std::string>>{
           {"application/connect+json", ConnectEnvelope(0, R"({"text":"a"})")},
           {"application/grpc-web+proto", FrameMessage(Raw("a"), false)}}) {
    backend.ended_cancelled.clear();
    testing::RawSocketClient client;
    auto client_end = testing::ConnectRaw(loop, *http1, client);
    client_end->write(absl::StrCat("POST ", kChat, " HTTP/1.1\r\nhost: x\r\ncontent-type: ",
                                   type, "\r\ntransfer-encoding: chunked\r\n\r\n",
                                   absl::Hex(message.size()), "\r\n", message, "\r\n"));
    loop.runUntilIdle();
    EXPECT_EQ(client.received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << client.received;
    EXPECT_NE(client.received.find("re: a"), std::string::npos) << client.received;
    EXPECT_EQ(server.Snapshot().active_calls, 1u) << type;
    EXPECT_TRUE(backend.ended_cancelled.empty()) << type;
    client_end->destroy();
    loop.runUntilIdle();
    EXPECT_EQ(backend.ended_cancelled, std::vector<bool>{true}) << type;
    EXPECT_EQ(server.Snapshot().active_calls, 0u) << type << ": a call left behind";
    EXPECT_EQ(http1->connectionCount(), 0u);
  }
  http1.reset();
  loop.runUntilIdle();
}

}  // namespace
}  // namespace h2rpc::rpc
