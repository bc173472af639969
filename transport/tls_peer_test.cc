// TlsEngine's Node-style peer information (getPeerCertificate(), authorized,
// authorizationError) and the ciphers / ecdhCurve options, over two engines in memory. The
// expected certificate facts come from the test certificates (tests/testdata/tls/README.md);
// the formats and error names are Node 20's (checked by hand with tls.connect()).
#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/tls.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string TestFile(const std::string& name) { return "tests/testdata/tls/" + name; }

TlsOptions ServerOptions() {
  TlsOptions o;
  o.certFile = TestFile("server.pem");
  o.keyFile = TestFile("server.key");
  return o;
}

TlsOptions ClientOptions() {
  TlsOptions o;
  o.caFile = TestFile("ca.pem");
  o.servername = "localhost";
  return o;
}

TlsOptions MutualServerOptions(bool reject) {
  TlsOptions o = ServerOptions();
  o.requestCert = true;
  o.rejectUnauthorized = reject;
  o.caFile = TestFile("ca.pem");
  return o;
}

TlsOptions ClientWithCert(const std::string& name) {
  TlsOptions o = ClientOptions();
  o.certFile = TestFile(name + ".pem");
  o.keyFile = TestFile(name + ".key");
  return o;
}

struct Pair2 {
  std::unique_ptr<TlsEngine> client, server;
  absl::Status client_status, server_status;
};

// Runs a handshake to its end (bounded), both engines in memory.
Pair2 Handshake(const TlsOptions& c, const TlsOptions& s) {
  Pair2 p;
  auto sctx = TlsContext::createServer(s);
  auto cctx = TlsContext::createClient(c);
  EXPECT_TRUE(sctx.ok()) << sctx.status();
  EXPECT_TRUE(cctx.ok()) << cctx.status();
  if (!sctx.ok() || !cctx.ok()) return p;
  p.server = TlsEngine::create(*sctx, true);
  p.client = TlsEngine::create(*cctx, false);
  p.client_status = p.client->start();
  for (int round = 0; round < 100; ++round) {
    std::string to_server = p.client->takeCiphertext();
    if (!to_server.empty() && p.server_status.ok()) {
      p.server_status = p.server->feedCiphertext(to_server);
    }
    std::string to_client = p.server->takeCiphertext();
    if (!to_client.empty() && p.client_status.ok()) {
      p.client_status = p.client->feedCiphertext(to_client);
    }
    if (to_server.empty() && to_client.empty()) break;
  }
  return p;
}

TEST(TlsPeerTest, ClientSeesTheServersCertificateAsNodeShowsIt) {
  Pair2 p = Handshake(ClientOptions(), ServerOptions());
  ASSERT_TRUE(p.client->handshakeDone()) << p.client_status;
  std::optional<PeerCertificate> cert = p.client->peerCertificate();
  ASSERT_TRUE(cert.has_value());
  EXPECT_THAT(cert->subject, ElementsAre(Pair("O", "h2rpc tests"), Pair("CN", "localhost")));
  EXPECT_EQ(cert->subjectField("CN"), "localhost");
  EXPECT_EQ(cert->issuer.back(), std::make_pair(std::string("CN"), std::string("h2rpc test ca")));
  // Node 20 prints exactly these for server.pem.
  EXPECT_EQ(cert->subjectaltname,
            "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
  EXPECT_EQ(cert->serialNumber, "02");
  EXPECT_EQ(cert->valid_from, "Nov 25 07:59:22 2026 GMT");
  EXPECT_EQ(cert->valid_to, "Nov 26 07:59:22 2126 GMT");
  EXPECT_EQ(cert->fingerprint256,
            "9F:1C:52:A9:FB:07:DF:7A:07:49:FB:81:B3:69:56:6C:10:46:92:4A:BB:68:CD:9E:8E:B7:2A:"
            "65:49:2D:56:66");
  EXPECT_THAT(cert->dnsNames, ElementsAre("localhost"));
  EXPECT_THAT(cert->ipAddresses, ElementsAre("127.0.0.1", "0:0:0:0:0:0:0:1"));
  EXPECT_FALSE(cert->raw.empty());
  EXPECT_TRUE(p.client->authorized());
  EXPECT_EQ(p.client->authorizationError(), "");
  // A server that asked for nothing sees no client certificate.
  EXPECT_FALSE(p.server->peerCertificate().has_value());
}

TEST(TlsPeerTest, ServerSeesAVerifiedClientCertificateWithUriSans) {
  Pair2 p = Handshake(ClientWithCert("client_spiffe"), MutualServerOptions(true));
  ASSERT_TRUE(p.server->handshakeDone()) << p.server_status;
  std::optional<PeerCertificate> cert = p.server->peerCertificate();
  ASSERT_TRUE(cert.has_value());
  EXPECT_EQ(cert->subjectField("CN"), "h2rpc spiffe client");
  EXPECT_THAT(cert->uris, ElementsAre("spiffe://h2rpc.test/ns/tests/sa/client"));
  EXPECT_THAT(cert->dnsNames, ElementsAre("client.h2rpc.test"));
  EXPECT_EQ(cert->subjectaltname,
            "URI:spiffe://h2rpc.test/ns/tests/sa/client, DNS:client.h2rpc.test");
  EXPECT_EQ(cert->serialNumber, "04");
  EXPECT_TRUE(p.server->authorized());
  EXPECT_EQ(p.server->authorizationError(), "");
}

TEST(TlsPeerTest, UnverifiedClientsWhenNotRejecting) {
  {
    // No certificate: Node says UNABLE_TO_GET_ISSUER_CERT and getPeerCertificate() is {}.
    Pair2 p = Handshake(ClientOptions(), MutualServerOptions(false));
    ASSERT_TRUE(p.server->handshakeDone()) << p.server_status;
    EXPECT_FALSE(p.server->authorized());
    EXPECT_EQ(p.server->authorizationError(), "UNABLE_TO_GET_ISSUER_CERT");
    EXPECT_FALSE(p.server->peerCertificate().has_value());
  }
  {
    // Signed by a CA the server does not trust: seen, but not authorized.
    Pair2 p = Handshake(ClientWithCert("rogue_client"), MutualServerOptions(false));
    ASSERT_TRUE(p.server->handshakeDone()) << p.server_status;
    EXPECT_FALSE(p.server->authorized());
    EXPECT_EQ(p.server->authorizationError(), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    ASSERT_TRUE(p.server->peerCertificate().has_value());
    EXPECT_EQ(p.server->peerCertificate()->subjectField("CN"), "h2rpc rogue client");
  }
}

TEST(TlsPeerTest, RejectingServerRefusesAClientFromAnotherCa) {
  Pair2 p = Handshake(ClientWithCert("rogue_client"), MutualServerOptions(true));
  EXPECT_FALSE(p.server->handshakeDone());
  EXPECT_EQ(p.server_status.code(), absl::StatusCode::kUnauthenticated) << p.server_status;
}

TEST(TlsPeerTest, ClientNotRejectingSeesNodesNameForAHostnameMismatch) {
  TlsOptions c = ClientOptions();
  c.servername = "example.com";
  c.rejectUnauthorized = false;
  Pair2 p = Handshake(c, ServerOptions());
  ASSERT_TRUE(p.client->handshakeDone()) << p.client_status;
  EXPECT_FALSE(p.client->authorized());
  EXPECT_EQ(p.client->authorizationError(), "ERR_TLS_CERT_ALTNAME_INVALID");
}

TEST(TlsOptionsTest, CiphersChooseTheSuite) {
  TlsOptions c = ClientOptions();
  c.maxVersion = "TLSv1.2";
  c.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";
  Pair2 p = Handshake(c, ServerOptions());
  ASSERT_TRUE(p.client->handshakeDone()) << p.client_status;
  EXPECT_EQ(p.client->cipherName(), "ECDHE-ECDSA-CHACHA20-POLY1305");
  // TLS 1.3 suite names go to the 1.3 list (Node splits them the same way).
  c = ClientOptions();
  c.ciphers = "TLS_CHACHA20_POLY1305_SHA256";
  p = Handshake(c, ServerOptions());
  ASSERT_TRUE(p.client->handshakeDone()) << p.client_status;
  EXPECT_EQ(p.client->cipherName(), "TLS_CHACHA20_POLY1305_SHA256");
  // The server's list is honoured too: no suite in common fails the handshake.
  TlsOptions s = ServerOptions();
  s.maxVersion = "TLSv1.2";
  s.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  c = ClientOptions();
  c.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384";
  p = Handshake(c, s);
  EXPECT_FALSE(p.client->handshakeDone());
  EXPECT_FALSE(p.server_status.ok());
}

TEST(TlsOptionsTest, EcdhCurveRestrictsTheGroups) {
  TlsOptions c = ClientOptions(), s = ServerOptions();
  c.ecdhCurve = "P-384";
  s.ecdhCurve = "P-384:X25519";
  Pair2 p = Handshake(c, s);
  EXPECT_TRUE(p.client->handshakeDone()) << p.client_status;
  s.ecdhCurve = "X25519";
  p = Handshake(c, s);
  EXPECT_FALSE(p.client->handshakeDone());
  EXPECT_FALSE(p.server_status.ok());
}

TEST(TlsOptionsTest, BadCiphersAndCurvesAreInvalidArgument) {
  TlsOptions o = ServerOptions();
  o.ciphers = "NOT-A-CIPHER";
  auto ctx = TlsContext::createServer(o);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("TlsOptions.ciphers"));
  o.ciphers = "TLS_NOT_A_SUITE";
  EXPECT_EQ(TlsContext::createServer(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.ciphers = ":";
  EXPECT_EQ(TlsContext::createServer(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = ServerOptions();
  o.ecdhCurve = "P-999";
  ctx = TlsContext::createServer(o);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("TlsOptions.ecdhCurve"));
}

}  // namespace
}  // namespace h2rpc::transport
