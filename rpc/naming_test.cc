// Channel targets end to end (rpc/target.h): unix, unix-abstract, ipv4 lists with a refused
// first address, dns names; invalid targets; and the UNAVAILABLE messages of connections that
// fail (refused, unknown host, TLS verification, no h2 by ALPN), which name the target, the
// address and the cause. Loopback and Unix sockets only.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"
#include "transport/server.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

class EchoService : public Service {
 public:
  EchoService() : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [](ServerContext&, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          EchoReply reply;
          reply.set_text("echo: " + req.text());
          co_return reply;
        });
  }
};

std::string TempSocketPath(const char* name) {
  return std::string("/tmp/h2rpc-") + name + "." + std::to_string(getpid()) + ".sock";
}

// A loopback port nobody listens on.
uint16_t RefusedPort(transport::UvLoop* loop) {
  auto probe = *transport::Http2Server::createServer(loop);
  EXPECT_TRUE(probe->listen(0, "127.0.0.1").ok());
  const uint16_t port = probe->port();
  probe->close();
  return port;
}

class NamingTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& c : channels_) c->Close();
    if (!server_) return;
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  void StartServer(const std::string& address) {
    server_ = std::make_unique<Server>(&loop_);
    server_->RegisterService(&service_);
    absl::Status st = server_->Listen(address);
    ASSERT_TRUE(st.ok()) << st;
  }
  absl::StatusOr<EchoReply> Call(const std::string& target, ChannelOptions options = {}) {
    auto channel = Channel::Create(&loop_, target, std::move(options));
    channels_.push_back(channel);
    EchoRequest req;
    req.set_text("hi");
    CallOptions call;
    call.timeout = absl::Seconds(20);
    return BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(
                               channel, "/h2rpc.rpc_test.Echo/Unary", req, call));
  }
  void ExpectEcho(const std::string& target) {
    auto reply = Call(target);
    ASSERT_TRUE(reply.ok()) << target << ": " << reply.status();
    EXPECT_EQ(reply->text(), "echo: hi");
  }

  transport::UvLoop loop_;
  EchoService service_;
  std::unique_ptr<Server> server_;
  std::vector<std::shared_ptr<Channel>> channels_;
};

TEST_F(NamingTest, UnixPathEndToEnd) {
  const std::string path = TempSocketPath("naming");
  StartServer("unix:" + path);
  EXPECT_EQ(server_->path(), path);
  ExpectEcho("unix:" + path);
  ExpectEcho("unix://" + path);  // unix:///abs/path
  EXPECT_EQ(channels_.back()->authority(), "localhost");
}

TEST_F(NamingTest, StaleSocketFileIsReplacedAndRemovedOnShutdown) {
  const std::string path = TempSocketPath("stale");
  {
    // A server that went away without closing (a crash) leaves its socket file behind.
    auto address = transport::SocketAddress::fromPath(path);
    ASSERT_TRUE(address.ok());
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_EQ(::bind(fd, address->sockaddrPtr(), address->length()), 0);
    ::close(fd);
    struct stat st;
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    ASSERT_TRUE(S_ISSOCK(st.st_mode));
  }
  StartServer("unix:" + path);
  ExpectEcho("unix:" + path);
  TearDown();
  server_.reset();
  struct stat st;
  EXPECT_NE(::lstat(path.c_str(), &st), 0);
}

TEST_F(NamingTest, RegularFileAtTheUnixPathIsNotDeleted) {
  const std::string path = TempSocketPath("regular");
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  Server server(&loop_);
  absl::Status st = server.Listen("unix:" + path);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("EADDRINUSE"), absl::string_view::npos) << st;
  struct stat sb;
  EXPECT_EQ(::lstat(path.c_str(), &sb), 0);
  ::unlink(path.c_str());
}

TEST_F(NamingTest, AbstractUnixEndToEnd) {
  const std::string name = "h2rpc-naming-" + std::to_string(getpid());
  StartServer("unix-abstract:" + name);
  ExpectEcho("unix-abstract:" + name);
}

TEST_F(NamingTest, RefusedFirstAddressFallsToTheSecond) {
  StartServer("127.0.0.1:0");
  const std::string port = std::to_string(server_->port());
  ExpectEcho("ipv4:127.0.0.1:" + std::to_string(RefusedPort(&loop_)) + ",127.0.0.1:" + port);
}

TEST_F(NamingTest, DnsFormsOfLocalhost) {
  StartServer("127.0.0.1:0");
  const std::string port = std::to_string(server_->port());
  ExpectEcho("localhost:" + port);
  ExpectEcho("dns:///localhost:" + port);
  ExpectEcho("dns:localhost:" + port);
  EXPECT_EQ(channels_.back()->authority(), "localhost:" + port);
}

TEST_F(NamingTest, EachNewConnectionResolvesAgain) {
  StartServer("127.0.0.1:0");
  auto channel = Channel::Create(&loop_, "localhost:" + std::to_string(server_->port()));
  channels_.push_back(channel);
  EchoRequest req;
  auto call = [&] {
    return BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(
                               channel, "/h2rpc.rpc_test.Echo/Unary", req, {}));
  };
  ASSERT_TRUE(call().ok());
  ASSERT_TRUE(call().ok());  // same connection: not resolved again
  EXPECT_EQ(channel->resolver()->resolutions(), 1);
  channel->Close();  // the next call reconnects, and resolves the name afresh
  ASSERT_TRUE(call().ok());
  EXPECT_EQ(channel->connections_made(), 2);
  EXPECT_EQ(channel->resolver()->resolutions(), 2);
}

TEST_F(NamingTest, ServerOnEveryInterfaceIsReachableOnLoopback) {
  StartServer("[::]:0");  // "::" dual stack, or 0.0.0.0 without IPv6
  ExpectEcho("127.0.0.1:" + std::to_string(server_->port()));
}

TEST_F(NamingTest, InvalidTargetFailsCallsWithInvalidArgument) {
  auto made = Channel::New(&loop_, "unix:");
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(made.status().message().find("invalid target 'unix:'"), absl::string_view::npos);
  // Create() still gives a channel (existing callers compile); its calls fail the same way.
  auto reply = Call("127.0.0.1");  // valid: port 443 (gRPC's default), nothing there
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  auto bad = Call("localhost:99999");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("invalid target 'localhost:99999'"),
            absl::string_view::npos)
      << bad.status();
  EXPECT_EQ(Call("dns://8.8.8.8/x:1").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(NamingTest, RefusedNamesTargetAddressAndCause) {
  const uint16_t port = RefusedPort(&loop_);
  const std::string target = "ipv4:127.0.0.1:" + std::to_string(port);
  auto reply = Call(target);
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_EQ(std::string(reply.status().message()),
            "failed to connect to all addresses of '" + target + "'; last error: " + target +
                ": Connection refused (connect ECONNREFUSED 127.0.0.1:" + std::to_string(port) +
                ")");
}

TEST_F(NamingTest, UnknownHostFailsFastAndOffline) {
  const absl::Time start = absl::Now();
  auto reply = Call("nonexistent.invalid:50051");
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_EQ(std::string(reply.status().message()),
            "DNS resolution failed for 'nonexistent.invalid:50051' (target "
            "'nonexistent.invalid:50051'): Name or service not known (getaddrinfo ENOTFOUND "
            "nonexistent.invalid)");
  // RFC 6761: .invalid is never asked of a DNS server (a query would take seconds offline).
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(NamingTest, MissingUnixSocketNamesThePath) {
  const std::string path = TempSocketPath("absent");
  ::unlink(path.c_str());
  auto reply = Call("unix:" + path);
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(reply.status().message().find("last error: unix:" + path +
                                          ": No such file or directory"),
            absl::string_view::npos)
      << reply.status();
}

TEST_F(NamingTest, TlsServerTheClientRejectsGivesOpenSslsReason) {
  server_ = std::make_unique<Server>(&loop_);
  server_->RegisterService(&service_);
  transport::TlsOptions tls;
  tls.certFile = "tests/testdata/tls/server.pem";
  tls.keyFile = "tests/testdata/tls/server.key";
  ASSERT_TRUE(server_->ListenTls("127.0.0.1:0", tls).ok());
  ChannelOptions options;
  options.use_tls = true;
  options.tls.caFile = "tests/testdata/tls/other_ca.pem";  // not the CA that signed it
  const std::string target = "localhost:" + std::to_string(server_->port());
  auto reply = Call(target, options);
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  const std::string message(reply.status().message());
  EXPECT_NE(message.find("failed to connect to '" + target + "': TLS handshake failed: "),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("unable to get local issuer certificate"), std::string::npos) << message;
  // The same server with the right CA works.
  options.tls.caFile = "tests/testdata/tls/ca.pem";
  auto ok = Call(target, options);
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(NamingTest, TlsServerWithoutH2AlpnIsRefused) {
  server_ = std::make_unique<Server>(&loop_);
  server_->RegisterService(&service_);
  transport::TlsOptions tls;
  tls.certFile = "tests/testdata/tls/server.pem";
  tls.keyFile = "tests/testdata/tls/server.key";
  tls.ALPNProtocols = {};  // selects nothing (an HTTP/1.1 or non-ALPN TLS server)
  ASSERT_TRUE(server_->ListenTls("127.0.0.1:0", tls).ok());
  ChannelOptions options;
  options.use_tls = true;
  options.tls.caFile = "tests/testdata/tls/ca.pem";
  const std::string target = "127.0.0.1:" + std::to_string(server_->port());
  auto reply = Call(target, options);
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_EQ(std::string(reply.status().message()),
            "failed to connect to '" + target +
                "': TLS handshake failed: Cannot check peer: missing selected ALPN property (the "
                "server selected no protocol, not h2)");
}

// The name the certificate is checked against follows the target: the dns host, the address of
// an ipv4 target (the test certificate has IP:127.0.0.1), "localhost" for a Unix socket.
TEST_F(NamingTest, TlsOverEachTargetForm) {
  transport::TlsOptions tls;
  tls.certFile = "tests/testdata/tls/server.pem";
  tls.keyFile = "tests/testdata/tls/server.key";
  server_ = std::make_unique<Server>(&loop_);
  server_->RegisterService(&service_);
  ASSERT_TRUE(server_->ListenTls("127.0.0.1:0", tls).ok());
  const std::string path = TempSocketPath("tls");
  Server unix_server(&loop_);
  unix_server.RegisterService(&service_);
  ASSERT_TRUE(unix_server.ListenTls("unix:" + path, tls).ok());
  ChannelOptions options;
  options.use_tls = true;
  options.tls.caFile = "tests/testdata/tls/ca.pem";
  const std::string port = std::to_string(server_->port());
  for (const std::string& target :
       {"localhost:" + port, "ipv4:127.0.0.1:" + port, "unix:" + path}) {
    auto reply = Call(target, options);
    EXPECT_TRUE(reply.ok()) << target << ": " << reply.status();
  }
  for (auto& c : channels_) c->Close();
  bool closed = false;
  unix_server.Shutdown(absl::Seconds(1), [&] { closed = true; });
  for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
}

}  // namespace
}  // namespace h2rpc::rpc
