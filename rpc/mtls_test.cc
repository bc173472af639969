// mTLS end to end over loopback: client certificates from ChannelOptions::tls, the server's
// requestCert, and the peer identity a handler sees (ServerContext::auth_context()); then
// certificate reload (ServerPool/Server::UpdateTlsOptions from another thread): a new
// connection gets the new certificate while an open one keeps its own and keeps working.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "rpc/auth_context.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/server_pool.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/framing.h"
#include "transport/connect.h"
#include "transport/tls_socket.h"
#include "transport/uv_socket.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

std::string TestFile(const std::string& name) { return "tests/testdata/tls/" + name; }

// Replies with what auth_context() says, one "key=value" per line.
class WhoAmIService : public Service {
 public:
  WhoAmIService() : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [this](ServerContext& ctx, const EchoRequest&) -> Task<absl::StatusOr<EchoReply>> {
          ++calls;
          const AuthContext& a = *ctx.auth_context();
          EchoReply reply;
          reply.set_text(absl::StrCat(
              "type=", a.transport_security_type,
              "\nauthenticated=", a.peer_authenticated ? "true" : "false",
              "\nerror=", a.authorization_error, "\ncn=", a.subject_common_name,
              "\ndns=", absl::StrJoin(a.dns_sans, ","), "\nuri=", absl::StrJoin(a.uri_sans, ","),
              "\nspiffe=", a.spiffe_id, "\nidentity=", absl::StrJoin(a.PeerIdentity(), ","),
              "\nproperty=", a.PeerIdentityPropertyName(), "\nversion=", a.tls_version,
              "\nsni=", a.sni, "\nauthority=", ctx.authority(), "\n"));
          co_return reply;
        });
  }
  int calls = 0;
};

transport::TlsOptions ServerTls(bool reject) {
  transport::TlsOptions tls;
  tls.certFile = TestFile("server.pem");
  tls.keyFile = TestFile("server.key");
  tls.requestCert = true;
  tls.rejectUnauthorized = reject;
  tls.caFile = TestFile("ca.pem");
  return tls;
}

ChannelOptions ClientWith(const std::string& cert) {
  ChannelOptions options;
  options.use_tls = true;
  options.tls.caFile = TestFile("ca.pem");
  if (!cert.empty()) {
    options.tls.certFile = TestFile(cert + ".pem");
    options.tls.keyFile = TestFile(cert + ".key");
  }
  return options;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

class MtlsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& c : channels_) c->Close();
    if (!server_) return;
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  void Start(const transport::TlsOptions* tls, ServerOptions options = {}) {
    server_ = std::make_unique<Server>(&loop_, std::move(options));
    server_->RegisterService(&service_);
    absl::Status st = tls ? server_->ListenTls("127.0.0.1:0", *tls) : server_->Listen("127.0.0.1:0");
    ASSERT_TRUE(st.ok()) << st;
  }
  absl::StatusOr<std::string> Call(ChannelOptions options, std::string target = "") {
    if (target.empty()) target = "localhost:" + std::to_string(server_->port());
    auto channel = Channel::Create(&loop_, target, options);
    channels_.push_back(channel);
    CallOptions call;
    call.timeout = absl::Seconds(20);
    auto reply = BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(
                                     channel, "/h2rpc.rpc_test.Echo/Unary", EchoRequest(), call));
    if (!reply.ok()) return reply.status();
    return reply->text();
  }

  transport::UvLoop loop_;
  WhoAmIService service_;
  std::unique_ptr<Server> server_;
  std::vector<std::shared_ptr<Channel>> channels_;
};

TEST_F(MtlsTest, VerifiedClientCertificateWithSpiffeId) {
  transport::TlsOptions tls = ServerTls(/*reject=*/true);
  Start(&tls);
  auto text = Call(ClientWith("client_spiffe"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(Has(*text, "type=ssl")) << *text;
  EXPECT_TRUE(Has(*text, "authenticated=true")) << *text;
  EXPECT_TRUE(Has(*text, "error=")) << *text;
  EXPECT_TRUE(Has(*text, "cn=h2rpc spiffe client")) << *text;
  EXPECT_TRUE(Has(*text, "dns=client.h2rpc.test")) << *text;
  EXPECT_TRUE(Has(*text, "spiffe=spiffe://h2rpc.test/ns/tests/sa/client")) << *text;
  EXPECT_TRUE(Has(*text, "identity=client.h2rpc.test,spiffe://h2rpc.test/ns/tests/sa/client"))
      << *text;
  EXPECT_TRUE(Has(*text, "property=x509_subject_alternative_name")) << *text;
  EXPECT_TRUE(Has(*text, "version=TLSv1.3")) << *text;
}

TEST_F(MtlsTest, CommonNameIsTheIdentityWithoutSans) {
  transport::TlsOptions tls = ServerTls(/*reject=*/true);
  Start(&tls);
  auto text = Call(ClientWith("client"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(Has(*text, "authenticated=true")) << *text;
  EXPECT_TRUE(Has(*text, "identity=h2rpc test client")) << *text;
  EXPECT_TRUE(Has(*text, "property=x509_common_name")) << *text;
  EXPECT_TRUE(Has(*text, "spiffe=")) << *text;
}

TEST_F(MtlsTest, RejectingServerRefusesClientsWithoutAValidCertificate) {
  transport::TlsOptions tls = ServerTls(/*reject=*/true);
  Start(&tls);
  for (const char* cert : {"", "rogue_client"}) {
    SCOPED_TRACE(cert);
    auto text = Call(ClientWith(cert));
    EXPECT_EQ(text.status().code(), absl::StatusCode::kUnavailable) << text.status();
  }
  EXPECT_EQ(service_.calls, 0);
}

TEST_F(MtlsTest, NonRejectingServerSeesUnverifiedClients) {
  transport::TlsOptions tls = ServerTls(/*reject=*/false);
  Start(&tls);
  auto none = Call(ClientWith(""));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(Has(*none, "authenticated=false")) << *none;
  EXPECT_TRUE(Has(*none, "error=UNABLE_TO_GET_ISSUER_CERT")) << *none;
  EXPECT_TRUE(Has(*none, "identity=")) << *none;
  auto rogue = Call(ClientWith("rogue_client"));
  ASSERT_TRUE(rogue.ok()) << rogue.status();
  EXPECT_TRUE(Has(*rogue, "authenticated=false")) << *rogue;
  EXPECT_TRUE(Has(*rogue, "error=UNABLE_TO_VERIFY_LEAF_SIGNATURE")) << *rogue;
  EXPECT_TRUE(Has(*rogue, "cn=h2rpc rogue client")) << *rogue;  // presented, not verified
  EXPECT_TRUE(Has(*rogue, "identity=")) << *rogue;                // so no identity
  EXPECT_TRUE(Has(*rogue, "property=")) << *rogue;
}

TEST_F(MtlsTest, ServernameAndAuthorityOverride) {
  transport::TlsOptions tls;
  tls.certFile = TestFile("server.pem");
  tls.keyFile = TestFile("server.key");
  Start(&tls);
  // Dialled by address: the certificate is checked against the name we give, sent as SNI.
  const std::string target = "ipv4:127.0.0.1:" + std::to_string(server_->port());
  ChannelOptions options = ClientWith("");
  options.tls.servername = "wrong.example";
  auto wrong = Call(options, target);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnavailable) << wrong.status();
  options.tls.servername = "localhost";
  options.authority = "greeter.example:443";
  auto text = Call(options, target);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(Has(*text, "sni=localhost")) << *text;
  EXPECT_TRUE(Has(*text, "authority=greeter.example:443")) << *text;
}

TEST_F(MtlsTest, CleartextIsInsecure) {
  Start(nullptr);
  ChannelOptions options;
  auto text = Call(options);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(Has(*text, "type=insecure")) << *text;
  EXPECT_TRUE(Has(*text, "authenticated=false")) << *text;
}

// --- Connect and gRPC-Web: the same auth context as gRPC (HTTP/2 and HTTP/1.1 over TLS) ---

// Runs `loop` until `done` (bounded: a hang fails the test instead of blocking it).
template <typename F>
bool RunUntil(transport::UvLoop& loop, F done) {
  for (int i = 0; i < 20000 && !done(); ++i) uv_run(loop.uv(), UV_RUN_ONCE);
  return done();
}

// One unary call to WhoAmIService with `content_type` (proto codec) over HTTP/2 with TLS and the
// client certificate `cert`: the response body (for proto, the reply's text is in it verbatim).
std::string RawHttp2Call(transport::UvLoop& loop, uint16_t port, const std::string& cert,
                         const std::string& content_type, const std::string& body) {
  transport::ConnectOptions options;
  options.tls.caFile = TestFile("ca.pem");
  options.tls.certFile = TestFile(cert + ".pem");
  options.tls.keyFile = TestFile(cert + ".key");
  auto session = transport::connect(&loop, absl::StrCat("https://localhost:", port), options);
  if (!session.ok()) return "connect: " + session.status().ToString();
  auto req = (*session)->request(transport::Headers{{":method", "POST"},
                                                    {":path", "/h2rpc.rpc_test.Echo/Unary"},
                                                    {"content-type", content_type},
                                                    {"x-grpc-web", "1"}},
                                 {.endStream = false});
  if (!req.ok()) return "request: " + req.status().ToString();
  std::string received;
  bool closed = false;
  (*req)->onData([&](std::string_view d) { received += d; });
  (*req)->onClose([&] { closed = true; });
  (*req)->end(body);
  if (!RunUntil(loop, [&] { return closed; })) received += "<timed out>";
  (*session)->close();
  RunUntil(loop, [&] { return (*session)->closed() || (*session)->destroyed(); });
  return received;
}

struct RawTlsClient : transport::Socket::Handler {
  void onSocketConnect() override { connected = true; }
  void onSocketData(std::string_view d) override { received += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { closed = true; }
  bool connected = false;
  bool closed = false;
  std::string received;
};

// The same over HTTP/1.1 (ALPN http/1.1, ServerOptions::allow_http1): the whole raw response.
std::string RawHttp1Call(transport::UvLoop& loop, uint16_t port, const std::string& cert,
                         const std::string& content_type, const std::string& body) {
  transport::TlsOptions tls;
  tls.caFile = TestFile("ca.pem");
  tls.certFile = TestFile(cert + ".pem");
  tls.keyFile = TestFile(cert + ".key");
  tls.servername = "localhost";
  tls.ALPNProtocols = {"http/1.1"};
  auto ctx = transport::TlsContext::createClient(tls);
  if (!ctx.ok()) return "context: " + ctx.status().ToString();
  auto socket = transport::TlsSocket::create(
      &loop, transport::UvSocket::connect(&loop, "127.0.0.1", port), *ctx, /*isServer=*/false);
  if (!socket.ok()) return "socket: " + socket.status().ToString();
  RawTlsClient client;
  (*socket)->setHandler(&client);
  (*socket)->write(absl::StrCat("POST /h2rpc.rpc_test.Echo/Unary HTTP/1.1\r\nhost: localhost\r\n",
                                "content-type: ", content_type, "\r\nx-grpc-web: 1\r\n",
                                "connection: close\r\ncontent-length: ", body.size(),
                                "\r\n\r\n", body));
  if (!RunUntil(loop, [&] { return client.closed; })) client.received += "<timed out>";
  (*socket)->setHandler(nullptr);
  return client.received;
}

TEST_F(MtlsTest, ConnectAndGrpcWebSeeTheClientCertificateOverHttp2AndHttp1) {
  transport::TlsOptions tls = ServerTls(/*reject=*/true);
  ServerOptions options;
  options.allow_http1 = true;
  Start(&tls, options);
  const std::string message = EchoRequest().SerializeAsString();
  struct Case {
    const char* content_type;
    std::string body;
  };
  const std::vector<Case> cases = {{"application/proto", message},
                                   {"application/connect+proto", FrameMessage(message, false)},
                                   {"application/grpc-web+proto", FrameMessage(message, false)}};
  for (const Case& c : cases) {
    for (const bool http1 : {false, true}) {
      SCOPED_TRACE(absl::StrCat(c.content_type, http1 ? " over HTTP/1.1" : " over HTTP/2"));
      const std::string text =
          http1 ? RawHttp1Call(loop_, server_->port(), "client_spiffe", c.content_type, c.body)
                : RawHttp2Call(loop_, server_->port(), "client_spiffe", c.content_type, c.body);
      EXPECT_TRUE(Has(text, "type=ssl")) << text;
      EXPECT_TRUE(Has(text, "authenticated=true")) << text;
      EXPECT_TRUE(Has(text, "cn=h2rpc spiffe client")) << text;
      EXPECT_TRUE(Has(text, "spiffe=spiffe://h2rpc.test/ns/tests/sa/client")) << text;
      if (http1) {
        EXPECT_EQ(text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << text;
      }
    }
  }
  EXPECT_EQ(service_.calls, 6);
}

// The serial number of the certificate the server showed `channel`'s current connection.
std::string ServerSerial(const std::shared_ptr<Channel>& channel) {
  auto session = channel->Session();
  if (!session.ok()) return "no session: " + std::string(session.status().message());
  const auto* tls = dynamic_cast<const transport::TlsSocket*>((*session)->socket());
  if (tls == nullptr) return "not TLS";
  auto cert = tls->getPeerCertificate();
  return cert ? cert->serialNumber : "no certificate";
}

TEST(CertificateReloadTest, NewConnectionsGetTheNewCertificateOpenOnesKeepWorking) {
  WhoAmIService service;
  ServerPoolOptions pool_options;
  pool_options.num_threads = 2;
  ServerPool pool(pool_options);
  pool.RegisterService(&service);
  transport::TlsOptions tls;
  tls.certFile = TestFile("server.pem");
  tls.keyFile = TestFile("server.key");
  ASSERT_TRUE(pool.ListenTls("127.0.0.1", 0, tls).ok());
  transport::UvLoop loop;
  const std::string target = "localhost:" + std::to_string(pool.port());
  auto call = [&](const std::shared_ptr<Channel>& channel) {
    CallOptions options;
    options.timeout = absl::Seconds(20);
    return BlockOn(&loop, UnaryCall<EchoRequest, EchoReply>(
                              channel, "/h2rpc.rpc_test.Echo/Unary", EchoRequest(), options));
  };
  auto before = Channel::Create(&loop, target, ClientWith(""));
  ASSERT_TRUE(call(before).ok());
  EXPECT_EQ(ServerSerial(before), "02");  // server.pem

  // From this (non-loop) thread, while the pool's loops serve.
  transport::TlsOptions rotated;
  rotated.certFile = TestFile("server2.pem");
  rotated.keyFile = TestFile("server2.key");
  ASSERT_TRUE(pool.UpdateTlsOptions(rotated).ok());

  // Several new connections: whichever loop the kernel gives each, it has the new context.
  for (int i = 0; i < 4; ++i) {
    auto after = Channel::Create(&loop, target, ClientWith(""));
    auto reply = call(after);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(ServerSerial(after), "05");  // server2.pem
    after->Close();
  }
  // The connection made before still works, on the same connection, with its certificate.
  auto again = call(before);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(before->connections_made(), 1);
  EXPECT_EQ(ServerSerial(before), "02");
  before->Close();

  // A bad update is refused and changes nothing.
  transport::TlsOptions bad = rotated;
  bad.keyFile = TestFile("server.key");
  EXPECT_EQ(pool.UpdateTlsOptions(bad).code(), absl::StatusCode::kInvalidArgument);
  auto last = Channel::Create(&loop, target, ClientWith(""));
  ASSERT_TRUE(call(last).ok());
  EXPECT_EQ(ServerSerial(last), "05");
  last->Close();
  pool.Shutdown(absl::Seconds(1));
}

TEST(CertificateReloadTest, ServerWithoutTlsRefusesUpdates) {
  transport::UvLoop loop;
  Server server(&loop);
  transport::TlsOptions tls;
  tls.certFile = TestFile("server.pem");
  tls.keyFile = TestFile("server.key");
  EXPECT_EQ(server.UpdateTlsOptions(tls).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace h2rpc::rpc
