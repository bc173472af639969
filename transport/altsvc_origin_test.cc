// ALTSVC (RFC 7838 §4) and ORIGIN (RFC 8336) between our server and client sessions over an
// in-memory socket pair (and TLS over it, for ORIGIN and originSet): what the server sends, what
// the client's 'altsvc'/'origin' events and originSet() report, and Node's validation errors.
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"
#include "transport/tls.h"
#include "transport/tls_socket.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;

using AltsvcEvent = std::tuple<std::string, std::string, int32_t>;

struct Pair {
  explicit Pair(bool tls = false, SessionOptions server_options = {}) {
    auto [a, b] = MemorySocket::pair(&loop);
    std::unique_ptr<Socket> s = std::move(a), c = std::move(b);
    if (tls) {
      TlsOptions so;
      so.certFile = "tests/testdata/tls/server.pem";
      so.keyFile = "tests/testdata/tls/server.key";
      TlsOptions co;
      co.caFile = "tests/testdata/tls/ca.pem";
      co.servername = "localhost";
      co.ALPNProtocols = {"h2"};
      auto sctx = TlsContext::createServer(so);
      auto cctx = TlsContext::createClient(co);
      EXPECT_TRUE(sctx.ok() && cctx.ok());
      s = *TlsSocket::create(&loop, std::move(s), *sctx, /*isServer=*/true);
      c = *TlsSocket::create(&loop, std::move(c), *cctx, /*isServer=*/false, "localhost");
    }
    server = *ServerHttp2Session::create(&loop, std::move(s), server_options);
    client = *ClientHttp2Session::create(&loop, std::move(c), tls ? "https" : "http",
                                         "localhost:443");
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> st, const Headers&, uint8_t) {
      streams.push_back(st);
    });
    client->onAltsvc([this](std::string_view alt, std::string_view origin, int32_t id) {
      altsvc.emplace_back(std::string(alt), std::string(origin), id);
    });
    client->onOrigin([this](const std::vector<std::string>& o) { origins.push_back(o); });
  }
  void run() { loop.runUntilIdle(); }

  ManualLoop loop;
  std::shared_ptr<ServerHttp2Session> server;
  std::shared_ptr<ClientHttp2Session> client;
  std::vector<std::shared_ptr<ServerHttp2Stream>> streams;
  std::vector<AltsvcEvent> altsvc;
  std::vector<std::vector<std::string>> origins;
};

TEST(AltsvcOriginTest, AltsvcForAnOriginAndForAStreamReachTheClient) {
  Pair p;
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  const int32_t id = p.streams[0]->id();
  ASSERT_TRUE(p.server->altsvc("h2=\":8000\"; ma=60", "HTTPS://Example.ORG:443/some/path").ok());
  ASSERT_TRUE(p.server->altsvc("h2=\"alt.example:443\"", "http://example.org:8080").ok());
  ASSERT_TRUE(p.server->altsvc("clear", id).ok());
  p.run();
  EXPECT_THAT(p.altsvc, ElementsAre(AltsvcEvent{"h2=\":8000\"; ma=60", "https://example.org", 0},
                                    AltsvcEvent{"h2=\"alt.example:443\"",
                                                "http://example.org:8080", 0},
                                    AltsvcEvent{"clear", "", id}));
  EXPECT_FALSE(p.client->destroyed());
}

TEST(AltsvcOriginTest, AltsvcValidationErrorsAsNode) {
  Pair p;
  auto code = [](const absl::Status& st) { return nodeErrorCode(st); };
  EXPECT_EQ(code(p.server->altsvc("h2=\":8000\"", 0)), "ERR_OUT_OF_RANGE");
  EXPECT_EQ(code(p.server->altsvc("h2=\":8000\"", -1)), "ERR_OUT_OF_RANGE");
  EXPECT_EQ(code(p.server->altsvc("h2=\":8000\"", "ftp://example.org")),
            "ERR_HTTP2_ALTSVC_INVALID_ORIGIN");
  EXPECT_EQ(code(p.server->altsvc("h2=\":8000\"", "not a url")), "ERR_INVALID_URL");
  EXPECT_EQ(code(p.server->altsvc("h2=\"\\\\\"", "https://example.org")), "ERR_INVALID_CHAR");
  EXPECT_EQ(code(p.server->altsvc("a\nb", 1)), "ERR_INVALID_CHAR");
  // 16382 bytes of alt + origin are allowed, one more is not.
  const std::string origin = "https://example.org";
  EXPECT_TRUE(p.server->altsvc(std::string(16382 - origin.size(), 'a'), origin).ok());
  EXPECT_EQ(code(p.server->altsvc(std::string(16383 - origin.size(), 'a'), origin)),
            "ERR_HTTP2_ALTSVC_LENGTH");
  EXPECT_EQ(code(p.server->origin({"ftp://example.org"})), "ERR_HTTP2_INVALID_ORIGIN");
  EXPECT_EQ(code(p.server->origin({"https://a.example", "nope"})), "ERR_INVALID_URL");
  std::vector<std::string> many(1000, "https://" + std::string(20, 'x') + ".example");
  EXPECT_EQ(code(p.server->origin(many)), "ERR_HTTP2_ORIGIN_LENGTH");
  EXPECT_TRUE(p.server->origin({}).ok());
  p.run();
  p.server->destroy();
  p.run();
  EXPECT_EQ(code(p.server->altsvc("clear", 1)), "ERR_HTTP2_INVALID_SESSION");
  EXPECT_EQ(code(p.server->origin({"https://a.example"})), "ERR_HTTP2_INVALID_SESSION");
}

TEST(AltsvcOriginTest, OriginIsIgnoredOnCleartextAsNode) {
  Pair p;
  ASSERT_TRUE(p.server->origin({"https://a.example"}).ok());
  p.run();
  EXPECT_TRUE(p.origins.empty());
  EXPECT_EQ(p.client->originSet(), std::nullopt);
  EXPECT_EQ(p.server->originSet(), std::nullopt);
  EXPECT_FALSE(p.client->destroyed());
}

TEST(AltsvcOriginTest, OriginOverTlsUpdatesOriginSet) {
  Pair p(/*tls=*/true);
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  ASSERT_EQ(p.streams.size(), 1u) << "TLS handshake or request failed";
  EXPECT_THAT(*p.client->originSet(), ElementsAre("https://localhost"));
  ASSERT_TRUE(p.server->origin({"https://A.example:443/x", "https://b.example:8443"}).ok());
  ASSERT_TRUE(p.server->origin({"https://b.example:8443"}).ok());
  p.run();
  ASSERT_EQ(p.origins.size(), 2u);
  EXPECT_THAT(p.origins[0], ElementsAre("https://a.example", "https://b.example:8443"));
  EXPECT_THAT(p.origins[1], ElementsAre("https://b.example:8443"));
  EXPECT_THAT(*p.client->originSet(),
              ElementsAre("https://localhost", "https://a.example", "https://b.example:8443"));
  p.client->destroy();
  p.run();
  EXPECT_EQ(p.client->originSet(), std::nullopt);
}

TEST(AltsvcOriginTest, OriginSetIsBounded) {
  Pair p(/*tls=*/true);
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  for (int frame = 0; frame < 3; ++frame) {
    std::vector<std::string> batch;
    for (int i = 0; i < 500; ++i) {
      batch.push_back("https://o" + std::to_string(frame * 500 + i) + ".example");
    }
    ASSERT_TRUE(p.server->origin(batch).ok());
  }
  p.run();
  ASSERT_EQ(p.origins.size(), 3u);
  EXPECT_EQ(p.origins[2].size(), 500u);  // every frame is reported in full
  EXPECT_EQ(p.client->originSet()->size(), 1u + 1024u);  // the servername's + 1024 received
  EXPECT_FALSE(p.client->destroyed());
}

TEST(AltsvcOriginTest, OriginsOptionSendsOriginAtStart) {
  SessionOptions options;
  options.origins = {"https://A.example/x", "https://b.example:8443"};
  Pair p(/*tls=*/true, options);
  p.run();
  ASSERT_EQ(p.origins.size(), 1u);
  EXPECT_THAT(p.origins[0], ElementsAre("https://a.example", "https://b.example:8443"));

  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  SessionOptions bad;
  bad.origins = {"ftp://example.org"};
  auto server = ServerHttp2Session::create(&loop, std::move(a), bad);
  EXPECT_EQ(nodeErrorCode(server.status()), "ERR_HTTP2_INVALID_ORIGIN");
  loop.runUntilIdle();
}

}  // namespace
}  // namespace h2rpc::transport
