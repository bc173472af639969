// transport/tls_test.cc — TlsContext and TlsEngine: a client and a server engine wired together in
// memory (no sockets, no sleeps), with the test certificates of tests/testdata/tls.
#include "transport/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/testing/heap_in_use.h"


namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using testing::HeapInUse;

// The test's working directory is the workspace root in the runfiles tree.
std::string TestFile(const std::string& name) { return "tests/testdata/tls/" + name; }

std::string ReadTestFile(const std::string& name) {
  std::ifstream in(TestFile(name), std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << TestFile(name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

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

// Deterministic, non-repeating-per-record payload.
std::string Payload(size_t size, uint32_t seed = 1) {
  std::string s(size, '\0');
  uint32_t x = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// One end: its engine and what its callbacks saw.
struct Side {
  std::unique_ptr<TlsEngine> engine;
  std::string received;
  int handshakes = 0;
  int closeNotifies = 0;
  size_t chunks = 0;
  size_t maxChunk = 0;
  absl::Status status;  // the first failure returned by a call on this engine

  void Note(const absl::Status& s) {
    if (status.ok() && !s.ok()) status = s;
  }
  void Attach(std::unique_ptr<TlsEngine> e) {
    engine = std::move(e);
    ASSERT_NE(engine, nullptr);
    engine->onPlaintext = [this](std::string_view data) {
      received.append(data);
      ++chunks;
      maxChunk = std::max(maxChunk, data.size());
    };
    engine->onHandshakeDone = [this] { ++handshakes; };
    engine->onCloseNotify = [this] { ++closeNotifies; };
  }
};

// Moves ciphertext both ways (fed in pieces of `chunk` bytes) until neither side has any.
void Pump(Side& a, Side& b, size_t chunk = SIZE_MAX) {
  for (int round = 0; round < 100000; ++round) {
    bool moved = false;
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      if (!from->engine || !to->engine) continue;
      std::string bytes = from->engine->takeCiphertext();
      if (bytes.empty()) continue;
      moved = true;
      std::string_view view(bytes);
      while (!view.empty() && to->engine) {
        size_t n = std::min(chunk, view.size());
        to->Note(to->engine->feedCiphertext(view.substr(0, n)));
        view.remove_prefix(n);
      }
    }
    if (!moved) return;
  }
  ADD_FAILURE() << "Pump did not settle";
}

class TlsTest : public ::testing::Test {
 protected:
  // Creates both contexts and engines and starts the client (the handshake is not pumped yet).
  void Connect(const TlsOptions& client_options, const TlsOptions& server_options) {
    auto server_ctx = TlsContext::createServer(server_options);
    ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
    auto client_ctx = TlsContext::createClient(client_options);
    ASSERT_TRUE(client_ctx.ok()) << client_ctx.status();
    server_ctx_ = *server_ctx;
    client_ctx_ = *client_ctx;
    server.Attach(TlsEngine::create(server_ctx_, /*isServer=*/true));
    client.Attach(TlsEngine::create(client_ctx_, /*isServer=*/false));
    ASSERT_TRUE(server.engine->start().ok());
    client.Note(client.engine->start());
  }
  void Handshake(const TlsOptions& client_options, const TlsOptions& server_options) {
    Connect(client_options, server_options);
    Pump(client, server);
  }
  void ExpectConnected() {
    ASSERT_TRUE(client.status.ok()) << client.status;
    ASSERT_TRUE(server.status.ok()) << server.status;
    ASSERT_TRUE(client.engine->handshakeDone());
    ASSERT_TRUE(server.engine->handshakeDone());
    EXPECT_EQ(client.handshakes, 1);
    EXPECT_EQ(server.handshakes, 1);
  }

  std::shared_ptr<TlsContext> server_ctx_, client_ctx_;
  Side client, server;
};

// --- Handshake, versions, ALPN h2 ---

TEST_F(TlsTest, Tls13HandshakeNegotiatesH2AndVerifiesTheServer) {
  TlsOptions c = ClientOptions(), s = ServerOptions();
  c.minVersion = c.maxVersion = s.minVersion = s.maxVersion = "TLSv1.3";
  Handshake(c, s);
  ExpectConnected();
  EXPECT_EQ(client.engine->alpnProtocol(), "h2");
  EXPECT_EQ(server.engine->alpnProtocol(), "h2");
  EXPECT_EQ(client.engine->protocolVersion(), "TLSv1.3");
  EXPECT_EQ(server.engine->protocolVersion(), "TLSv1.3");
  EXPECT_THAT(client.engine->cipherName(), StartsWith("TLS_"));
  EXPECT_EQ(client.engine->cipherName(), server.engine->cipherName());
  EXPECT_TRUE(client.engine->verifyResult().ok()) << client.engine->verifyResult();
  // The server did not ask for a client certificate.
  EXPECT_EQ(server.engine->verifyResult().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(server.engine->servername(), "localhost");  // SNI
  EXPECT_EQ(client.engine->servername(), "localhost");
  EXPECT_THAT(server.engine->clientAlpnProtocols(), ElementsAre("h2"));
  EXPECT_FALSE(client.engine->peerCloseNotify());
  EXPECT_FALSE(server.engine->peerCloseNotify());
  EXPECT_EQ(client.engine->pendingCiphertextBytes(), 0u);
  EXPECT_EQ(server.engine->pendingCiphertextBytes(), 0u);
}

TEST_F(TlsTest, Tls12HandshakeNegotiatesH2AndVerifiesTheServer) {
  TlsOptions c = ClientOptions(), s = ServerOptions();
  c.minVersion = c.maxVersion = s.minVersion = s.maxVersion = "TLSv1.2";
  Handshake(c, s);
  ExpectConnected();
  EXPECT_EQ(client.engine->alpnProtocol(), "h2");
  EXPECT_EQ(server.engine->alpnProtocol(), "h2");
  EXPECT_EQ(client.engine->protocolVersion(), "TLSv1.2");
  EXPECT_EQ(server.engine->protocolVersion(), "TLSv1.2");
  EXPECT_THAT(client.engine->cipherName(), StartsWith("ECDHE-ECDSA-"));
  EXPECT_TRUE(client.engine->verifyResult().ok()) << client.engine->verifyResult();
}

TEST_F(TlsTest, DefaultVersionsNegotiateTls13) {
  Handshake(ClientOptions(), ServerOptions());
  ExpectConnected();
  EXPECT_EQ(client.engine->protocolVersion(), "TLSv1.3");
}

TEST_F(TlsTest, NoCommonVersionFailsBothSides) {
  TlsOptions c = ClientOptions(), s = ServerOptions();
  c.maxVersion = "TLSv1.2";
  s.minVersion = "TLSv1.3";
  Handshake(c, s);
  EXPECT_EQ(server.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(server.status.message(), HasSubstr("unsupported protocol"));
  EXPECT_EQ(client.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(client.status.message(), HasSubstr("alert protocol version"));
  EXPECT_FALSE(client.engine->handshakeDone());
  EXPECT_FALSE(server.engine->handshakeDone());
  EXPECT_EQ(client.handshakes + server.handshakes, 0);
}

// --- Application data ---

TEST_F(TlsTest, DataFlowsBothWaysIncludingOneMebibyteInChunks) {
  for (const char* version : {"TLSv1.2", "TLSv1.3"}) {
    SCOPED_TRACE(version);
    client = Side();
    server = Side();
    TlsOptions c = ClientOptions(), s = ServerOptions();
    c.minVersion = c.maxVersion = version;
    Handshake(c, s);
    ExpectConnected();

    ASSERT_TRUE(client.engine->writePlaintext("ping").ok());
    Pump(client, server);
    EXPECT_EQ(server.received, "ping");
    ASSERT_TRUE(server.engine->writePlaintext("pong").ok());
    Pump(client, server);
    EXPECT_EQ(client.received, "pong");

    // 1 MiB each way, written in 64 KiB pieces, the ciphertext fed in odd-sized pieces.
    const std::string up = Payload(1 << 20, 7), down = Payload(1 << 20, 8);
    server.received.clear();
    client.received.clear();
    for (size_t off = 0; off < up.size(); off += 65536) {
      ASSERT_TRUE(client.engine->writePlaintext(std::string_view(up).substr(off, 65536)).ok());
      ASSERT_TRUE(server.engine->writePlaintext(std::string_view(down).substr(off, 65536)).ok());
    }
    EXPECT_GT(client.engine->pendingCiphertextBytes(), up.size());  // waits for takeCiphertext()
    Pump(client, server, 1000);
    ASSERT_TRUE(client.status.ok()) << client.status;
    ASSERT_TRUE(server.status.ok()) << server.status;
    EXPECT_TRUE(server.received == up) << server.received.size();
    EXPECT_TRUE(client.received == down) << client.received.size();
    // Delivered in bounded chunks as it was read.
    EXPECT_LE(server.maxChunk, TlsEngine::kMaxPlaintextChunk);
    EXPECT_LE(client.maxChunk, TlsEngine::kMaxPlaintextChunk);
    EXPECT_GE(server.chunks, up.size() / TlsEngine::kMaxPlaintextChunk);
  }
}

TEST_F(TlsTest, OneLargeFeedIsConsumedCompletely) {
  Handshake(ClientOptions(), ServerOptions());
  ExpectConnected();
  const std::string data = Payload(3 << 20, 3);
  ASSERT_TRUE(client.engine->writePlaintext(data).ok());
  std::string wire = client.engine->takeCiphertext();
  ASSERT_GT(wire.size(), data.size());
  ASSERT_TRUE(server.engine->feedCiphertext(wire).ok());  // 3 MiB at once
  EXPECT_TRUE(server.received == data);
  EXPECT_LE(server.maxChunk, TlsEngine::kMaxPlaintextChunk);
}

TEST_F(TlsTest, DataWrittenBeforeTheHandshakeIsDeliveredAfterIt) {
  auto server_ctx = TlsContext::createServer(ServerOptions());
  auto client_ctx = TlsContext::createClient(ClientOptions());
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  server.Attach(TlsEngine::create(*server_ctx, true));
  client.Attach(TlsEngine::create(*client_ctx, false));
  // Before start(): writePlaintext() starts the client itself.
  ASSERT_TRUE(client.engine->writePlaintext("early ").ok());
  ASSERT_TRUE(client.engine->writePlaintext("bird").ok());
  ASSERT_TRUE(server.engine->writePlaintext("server ").ok());
  ASSERT_FALSE(client.engine->handshakeDone());
  // Only the ClientHello is on the wire; the data waits for the handshake.
  std::string hello = client.engine->takeCiphertext();
  ASSERT_FALSE(hello.empty());
  EXPECT_EQ(hello.find("early"), std::string::npos);
  EXPECT_EQ(server.engine->takeCiphertext(), "");
  ASSERT_TRUE(server.engine->feedCiphertext(hello).ok());
  ASSERT_TRUE(server.engine->writePlaintext("hello").ok());
  Pump(client, server);
  ExpectConnected();
  EXPECT_EQ(server.received, "early bird");
  EXPECT_EQ(client.received, "server hello");
  // Later writes follow in order.
  ASSERT_TRUE(client.engine->writePlaintext("!").ok());
  Pump(client, server);
  EXPECT_EQ(server.received, "early bird!");
}

// --- Verification on the client ---

TEST_F(TlsTest, UnknownCaFailsVerificationOnBothSides) {
  for (const char* version : {"TLSv1.2", "TLSv1.3"}) {
    SCOPED_TRACE(version);
    client = Side();
    server = Side();
    TlsOptions c = ClientOptions();
    c.caFile.clear();  // the system's CA store, which does not know our test CA
    c.maxVersion = version;
    Handshake(c, ServerOptions());
    EXPECT_EQ(client.status.code(), absl::StatusCode::kUnauthenticated) << client.status;
    EXPECT_THAT(client.status.message(), HasSubstr("certificate verify failed"));
    EXPECT_THAT(client.status.message(), HasSubstr("unable to get local issuer certificate"));
    EXPECT_THAT(client.status.message(), HasSubstr("error:"));  // OpenSSL's error string
    EXPECT_FALSE(client.engine->handshakeDone());
    EXPECT_EQ(client.handshakes, 0);
    // The client's alert reached the server.
    EXPECT_EQ(server.status.code(), absl::StatusCode::kUnavailable) << server.status;
    EXPECT_THAT(server.status.message(), HasSubstr("alert unknown ca"));
    EXPECT_FALSE(server.engine->handshakeDone());
    // The engine stays failed; nothing crashes.
    EXPECT_EQ(client.engine->writePlaintext("x"), client.status);
    EXPECT_EQ(client.engine->feedCiphertext("x"), client.status);
    EXPECT_EQ(client.engine->error(), client.status);
  }
}

TEST_F(TlsTest, TrustingAnotherCaFailsVerification) {
  TlsOptions c = ClientOptions();
  c.caFile = TestFile("other_ca.pem");
  Handshake(c, ServerOptions());
  EXPECT_EQ(client.status.code(), absl::StatusCode::kUnauthenticated) << client.status;
  EXPECT_THAT(client.status.message(), HasSubstr("unable to get local issuer certificate"));
  EXPECT_FALSE(server.status.ok());
}

TEST_F(TlsTest, WrongServernameFailsVerification) {
  TlsOptions c = ClientOptions();
  c.servername = "example.com";
  Handshake(c, ServerOptions());
  EXPECT_EQ(client.status.code(), absl::StatusCode::kUnauthenticated) << client.status;
  EXPECT_THAT(client.status.message(), HasSubstr("hostname mismatch"));
  EXPECT_THAT(client.status.message(), HasSubstr("example.com"));
  EXPECT_FALSE(client.engine->handshakeDone());
  EXPECT_FALSE(server.status.ok());
  EXPECT_EQ(server.engine->servername(), "example.com");
}

TEST_F(TlsTest, IpAddressServernamesAreCheckedAgainstIpSans) {
  for (const char* ip : {"127.0.0.1", "::1", "[::1]"}) {
    SCOPED_TRACE(ip);
    client = Side();
    server = Side();
    TlsOptions c = ClientOptions();
    c.servername = ip;
    Handshake(c, ServerOptions());
    ExpectConnected();
    EXPECT_TRUE(client.engine->verifyResult().ok());
    EXPECT_EQ(server.engine->servername(), "");  // no SNI for addresses
  }
  client = Side();
  server = Side();
  TlsOptions c = ClientOptions();
  c.servername = "127.0.0.2";
  Handshake(c, ServerOptions());
  EXPECT_EQ(client.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(client.status.message(), HasSubstr("IP address mismatch"));
}

TEST_F(TlsTest, SetServernameOverridesTheContextsPerConnection) {
  auto server_ctx = TlsContext::createServer(ServerOptions());
  TlsOptions c = ClientOptions();
  c.servername = "example.com";
  auto client_ctx = TlsContext::createClient(c);
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  server.Attach(TlsEngine::create(*server_ctx, true));
  client.Attach(TlsEngine::create(*client_ctx, false));
  EXPECT_EQ(server.engine->setServername("x").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(client.engine->setServername("localhost").ok());
  ASSERT_TRUE(client.engine->start().ok());
  EXPECT_EQ(client.engine->setServername("y").code(), absl::StatusCode::kFailedPrecondition);
  Pump(client, server);
  ExpectConnected();
  EXPECT_EQ(server.engine->servername(), "localhost");
}

TEST_F(TlsTest, RejectUnauthorizedFalseCompletesAndReportsTheVerificationResult) {
  TlsOptions c = ClientOptions();
  c.caFile.clear();
  c.servername = "example.com";
  c.rejectUnauthorized = false;
  Handshake(c, ServerOptions());
  ExpectConnected();
  EXPECT_EQ(client.engine->alpnProtocol(), "h2");
  absl::Status verify = client.engine->verifyResult();
  EXPECT_EQ(verify.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(verify.message(), HasSubstr("failed verification"));
  ASSERT_TRUE(client.engine->writePlaintext("anyway").ok());
  Pump(client, server);
  EXPECT_EQ(server.received, "anyway");
}

TEST_F(TlsTest, CertificateChainInThePemIsSent) {
  TlsOptions s;
  s.cert = ReadTestFile("server.pem") + ReadTestFile("ca.pem");  // leaf, then the issuer
  s.key = ReadTestFile("server.key");
  Handshake(ClientOptions(), s);
  ExpectConnected();
  EXPECT_TRUE(client.engine->verifyResult().ok());
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client.engine->native());
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 2);
}

TEST_F(TlsTest, VerifyResultBeforeTheHandshakeIsAPreconditionError) {
  Connect(ClientOptions(), ServerOptions());
  EXPECT_EQ(client.engine->verifyResult().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client.engine->protocolVersion(), "");
  EXPECT_EQ(client.engine->alpnProtocol(), "");
  EXPECT_EQ(client.engine->cipherName(), "");
}

// --- Client certificates (requestCert) ---

TEST_F(TlsTest, RequestCertVerifiesTheClientsCertificate) {
  TlsOptions s = ServerOptions();
  s.requestCert = true;
  s.caFile = TestFile("ca.pem");
  TlsOptions c = ClientOptions();
  c.certFile = TestFile("client.pem");
  c.keyFile = TestFile("client.key");
  Handshake(c, s);
  ExpectConnected();
  EXPECT_TRUE(server.engine->verifyResult().ok()) << server.engine->verifyResult();
  EXPECT_TRUE(client.engine->verifyResult().ok());
}

TEST_F(TlsTest, RequestCertRejectsAClientWithoutCertificate) {
  for (const char* version : {"TLSv1.2", "TLSv1.3"}) {
    SCOPED_TRACE(version);
    client = Side();
    server = Side();
    TlsOptions s = ServerOptions();
    s.requestCert = true;
    s.caFile = TestFile("ca.pem");
    TlsOptions c = ClientOptions();
    c.maxVersion = version;
    Handshake(c, s);
    EXPECT_EQ(server.status.code(), absl::StatusCode::kUnauthenticated) << server.status;
    EXPECT_THAT(server.status.message(), HasSubstr("did not return a certificate"));
    EXPECT_FALSE(server.engine->handshakeDone());
    EXPECT_FALSE(client.status.ok());  // the server's alert
  }
}

TEST_F(TlsTest, RequestCertWithoutRejectUnauthorizedAcceptsAnyClient) {
  TlsOptions s = ServerOptions();
  s.requestCert = true;
  s.rejectUnauthorized = false;
  s.caFile = TestFile("other_ca.pem");
  TlsOptions c = ClientOptions();
  c.certFile = TestFile("client.pem");
  c.keyFile = TestFile("client.key");
  Handshake(c, s);
  ExpectConnected();
  EXPECT_EQ(server.engine->verifyResult().code(), absl::StatusCode::kUnauthenticated);
}

// --- Option errors ---

TEST(TlsContextTest, MissingFilesAreNotFoundWithThePath) {
  TlsOptions s = ServerOptions();
  s.certFile = "tests/testdata/tls/nope.pem";
  auto ctx = TlsContext::createServer(s);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ctx.status().message(), HasSubstr("TlsOptions.certFile"));
  EXPECT_THAT(ctx.status().message(), HasSubstr("nope.pem"));
  EXPECT_THAT(ctx.status().message(), HasSubstr("No such file or directory"));

  s = ServerOptions();
  s.keyFile = "/nonexistent/key.pem";
  EXPECT_THAT(TlsContext::createServer(s).status().message(), HasSubstr("TlsOptions.keyFile"));
  TlsOptions c = ClientOptions();
  c.caFile = "/nonexistent/ca.pem";
  EXPECT_EQ(TlsContext::createClient(c).status().code(), absl::StatusCode::kNotFound);
  c.caFile = "/";  // a directory
  EXPECT_EQ(TlsContext::createClient(c).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TlsContextTest, BadPemIsInvalidArgumentNamingTheOption) {
  TlsOptions s = ServerOptions();
  s.certFile.clear();
  s.cert = "not a certificate";
  auto ctx = TlsContext::createServer(s);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("TlsOptions.cert:"));
  EXPECT_THAT(ctx.status().message(), HasSubstr("no valid PEM certificate"));
  EXPECT_THAT(ctx.status().message(), HasSubstr("no start line"));  // OpenSSL's reason

  // A truncated certificate.
  std::string pem = ReadTestFile("server.pem");
  s.cert = pem.substr(0, pem.size() / 2);
  EXPECT_EQ(TlsContext::createServer(s).status().code(), absl::StatusCode::kInvalidArgument);
  // A good certificate followed by a broken one.
  s.cert = pem + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_THAT(TlsContext::createServer(s).status().message(), HasSubstr("malformed"));

  s = ServerOptions();
  s.keyFile.clear();
  s.key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  ctx = TlsContext::createServer(s);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("TlsOptions.key:"));

  TlsOptions c = ClientOptions();
  c.caFile.clear();
  c.ca = "garbage";
  EXPECT_THAT(TlsContext::createClient(c).status().message(), HasSubstr("TlsOptions.ca:"));
}

TEST(TlsContextTest, KeyNotMatchingTheCertificateSaysSo) {
  TlsOptions s = ServerOptions();
  s.keyFile = TestFile("ca.key");
  auto ctx = TlsContext::createServer(s);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("does not match the certificate"));
  EXPECT_THAT(ctx.status().message(), HasSubstr("ca.key"));
  EXPECT_THAT(ctx.status().message(), HasSubstr("server.pem"));
}

TEST(TlsContextTest, PemContentsWorkAndWinOverFiles) {
  TlsOptions s;
  s.cert = ReadTestFile("server.pem");
  s.key = ReadTestFile("server.key");
  s.certFile = "/nonexistent";  // ignored: the contents win
  EXPECT_TRUE(TlsContext::createServer(s).ok()) << TlsContext::createServer(s).status();
  TlsOptions c;
  c.ca = ReadTestFile("ca.pem") + ReadTestFile("other_ca.pem");  // several CAs
  EXPECT_TRUE(TlsContext::createClient(c).ok());
}

TEST(TlsContextTest, EncryptedKeyNeedsItsPassphraseAndNeverPrompts) {
  std::string plain = ReadTestFile("server.key");
  BIO* in = BIO_new_mem_buf(plain.data(), static_cast<int>(plain.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  ASSERT_NE(pkey, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(out, pkey, EVP_aes_128_cbc(), nullptr, 0, nullptr,
                                          const_cast<char*>("secret")),
            1);
  char* data = nullptr;
  long len = BIO_get_mem_data(out, &data);
  std::string encrypted(data, static_cast<size_t>(len));
  BIO_free(out);
  EVP_PKEY_free(pkey);

  TlsOptions s = ServerOptions();
  s.keyFile.clear();
  s.key = encrypted;
  auto ctx = TlsContext::createServer(s);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("passphrase"));
  s.passphrase = "wrong";
  EXPECT_FALSE(TlsContext::createServer(s).ok());
  s.passphrase = "secret";
  EXPECT_TRUE(TlsContext::createServer(s).ok()) << TlsContext::createServer(s).status();
}

TEST(TlsContextTest, OtherBadOptions) {
  TlsOptions s;
  EXPECT_THAT(TlsContext::createServer(s).status().message(), HasSubstr("needs a certificate"));
  s = ServerOptions();
  s.keyFile.clear();
  EXPECT_THAT(TlsContext::createServer(s).status().message(), HasSubstr("no private key"));
  TlsOptions c = ClientOptions();
  c.keyFile = TestFile("client.key");
  EXPECT_THAT(TlsContext::createClient(c).status().message(), HasSubstr("no certificate"));
  c = ClientOptions();
  c.minVersion = "TLSv1.1";
  auto ctx = TlsContext::createClient(c);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("TlsOptions.minVersion"));
  c = ClientOptions();
  c.minVersion = "TLSv1.3";
  c.maxVersion = "TLSv1.2";
  EXPECT_THAT(TlsContext::createClient(c).status().message(), HasSubstr("above"));
  c = ClientOptions();
  c.ALPNProtocols = {"h2", ""};
  EXPECT_THAT(TlsContext::createClient(c).status().message(), HasSubstr("ALPNProtocols"));
  c.ALPNProtocols = {std::string(256, 'x')};
  EXPECT_FALSE(TlsContext::createClient(c).ok());
}

TEST(TlsContextTest, EngineCreationChecksTheRole) {
  auto server_ctx = TlsContext::createServer(ServerOptions());
  auto client_ctx = TlsContext::createClient(ClientOptions());
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  EXPECT_EQ(TlsEngine::create(*server_ctx, /*isServer=*/false), nullptr);
  EXPECT_EQ(TlsEngine::create(*client_ctx, /*isServer=*/true), nullptr);
  EXPECT_EQ(TlsEngine::create(nullptr, true), nullptr);
  auto engine = TlsEngine::create(*server_ctx, true);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(engine->isServer());
  EXPECT_TRUE((*server_ctx)->isServer());
  EXPECT_FALSE((*client_ctx)->isServer());
}

// --- Garbage ---

TEST_F(TlsTest, PlainHttpToATlsServerIsAnError) {
  Connect(ClientOptions(), ServerOptions());
  absl::Status s = server.engine->feedCiphertext("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("TLS handshake failed"));
  EXPECT_THAT(s.message(), HasSubstr("http request"));
  EXPECT_EQ(server.engine->feedCiphertext("more"), s);  // stays failed
  EXPECT_EQ(server.engine->writePlaintext("x"), s);
  server.engine->shutdown();  // harmless
  EXPECT_FALSE(server.engine->handshakeDone());
}

TEST_F(TlsTest, GarbageBytesAreAnErrorOnEitherSideBeforeOrAfterTheHandshake) {
  const std::string garbage = Payload(5000, 99);
  // Before the handshake: the server gets garbage instead of a ClientHello, the client instead
  // of a ServerHello.
  Connect(ClientOptions(), ServerOptions());
  absl::Status s = server.engine->feedCiphertext(garbage);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("error:"));
  s = client.engine->feedCiphertext(garbage);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  // A TLS record header announcing a huge record.
  client = Side();
  server = Side();
  Connect(ClientOptions(), ServerOptions());
  s = server.engine->feedCiphertext(std::string("\x16\x03\x01\xff\xff", 5) + garbage);
  EXPECT_FALSE(s.ok());

  // After the handshake.
  client = Side();
  server = Side();
  Handshake(ClientOptions(), ServerOptions());
  ExpectConnected();
  s = server.engine->feedCiphertext(garbage);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("TLS error"));
  EXPECT_TRUE(server.received.empty());
}

TEST_F(TlsTest, TamperedRecordIsAnError) {
  Handshake(ClientOptions(), ServerOptions());
  ExpectConnected();
  ASSERT_TRUE(client.engine->writePlaintext(Payload(1000)).ok());
  std::string wire = client.engine->takeCiphertext();
  ASSERT_GT(wire.size(), 100u);
  wire[wire.size() - 10] ^= 0x40;
  absl::Status s = server.engine->feedCiphertext(wire);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("decryption failed or bad record mac"));
  EXPECT_TRUE(server.received.empty());
}

// --- close_notify ---

TEST_F(TlsTest, CloseNotifyIsSeenByThePeerWhichCanStillWrite) {
  Handshake(ClientOptions(), ServerOptions());
  ExpectConnected();
  ASSERT_TRUE(client.engine->writePlaintext("bye").ok());
  client.engine->shutdown();
  EXPECT_TRUE(client.engine->closeNotifySent());
  EXPECT_EQ(client.engine->writePlaintext("more").code(), absl::StatusCode::kFailedPrecondition);
  Pump(client, server);
  EXPECT_EQ(server.received, "bye");
  EXPECT_TRUE(server.engine->peerCloseNotify());
  EXPECT_EQ(server.closeNotifies, 1);
  EXPECT_FALSE(client.engine->peerCloseNotify());
  // Half-close: the server still writes, the client still reads.
  ASSERT_TRUE(server.engine->writePlaintext("late reply").ok());
  server.engine->shutdown();
  Pump(client, server);
  EXPECT_EQ(client.received, "late reply");
  EXPECT_TRUE(client.engine->peerCloseNotify());
  EXPECT_EQ(client.closeNotifies, 1);
  ASSERT_TRUE(client.status.ok()) << client.status;
  ASSERT_TRUE(server.status.ok()) << server.status;
  // Bytes after close_notify are dropped, not an error and not data.
  EXPECT_TRUE(server.engine->feedCiphertext("whatever").ok());
  EXPECT_EQ(server.received, "bye");
}

TEST_F(TlsTest, ShutdownBeforeTheHandshakeIsSentAfterTheBufferedData) {
  for (const char* version : {"TLSv1.2", "TLSv1.3"}) {
    SCOPED_TRACE(version);
    client = Side();
    server = Side();
    TlsOptions c = ClientOptions();
    c.maxVersion = version;
    Connect(c, ServerOptions());
    ASSERT_TRUE(client.engine->writePlaintext("last words").ok());
    client.engine->shutdown();
    EXPECT_FALSE(client.engine->closeNotifySent());
    Pump(client, server);
    ExpectConnected();
    EXPECT_TRUE(client.engine->closeNotifySent());
    EXPECT_EQ(server.received, "last words");
    EXPECT_TRUE(server.engine->peerCloseNotify());
    EXPECT_EQ(server.closeNotifies, 1);
  }
}

// --- ALPN ---

TEST_F(TlsTest, ClientOfferingOnlyHttp11IsRefusedWithNoApplicationProtocol) {
  // As Node 20 (RFC 7301 §3.2): the server aborts with alert 120 instead of going on without ALPN.
  TlsOptions c = ClientOptions();
  c.ALPNProtocols = {"http/1.1"};
  Handshake(c, ServerOptions());
  EXPECT_FALSE(client.engine->handshakeDone());
  EXPECT_FALSE(server.engine->handshakeDone());
  EXPECT_EQ(client.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(client.status.message(), HasSubstr("no application protocol"));
  EXPECT_FALSE(server.status.ok());
  EXPECT_THAT(server.engine->clientAlpnProtocols(), ElementsAre("http/1.1"));
}

TEST_F(TlsTest, ClientOfferingNoAlpn) {
  TlsOptions c = ClientOptions();
  c.ALPNProtocols.clear();
  Handshake(c, ServerOptions());
  ExpectConnected();
  EXPECT_EQ(server.engine->alpnProtocol(), "");
  EXPECT_EQ(client.engine->alpnProtocol(), "");
  EXPECT_THAT(server.engine->clientAlpnProtocols(), IsEmpty());
}

TEST_F(TlsTest, ServerAllowingHttp11SelectsByItsOwnPreference) {
  TlsOptions s = ServerOptions();
  s.ALPNProtocols = {"h2", "http/1.1"};
  TlsOptions c = ClientOptions();
  c.ALPNProtocols = {"http/1.1", "h2"};
  Handshake(c, s);
  ExpectConnected();
  EXPECT_EQ(server.engine->alpnProtocol(), "h2");
  EXPECT_EQ(client.engine->alpnProtocol(), "h2");
  EXPECT_THAT(server.engine->clientAlpnProtocols(), ElementsAre("http/1.1", "h2"));

  client = Side();
  server = Side();
  c.ALPNProtocols = {"http/1.1"};
  Handshake(c, s);
  ExpectConnected();
  EXPECT_EQ(server.engine->alpnProtocol(), "http/1.1");
  EXPECT_EQ(client.engine->alpnProtocol(), "http/1.1");
}

// --- Callbacks ---

TEST_F(TlsTest, OnCiphertextCallbackDeliversEverythingInOrder) {
  auto server_ctx = TlsContext::createServer(ServerOptions());
  auto client_ctx = TlsContext::createClient(ClientOptions());
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  server.Attach(TlsEngine::create(*server_ctx, true));
  client.Attach(TlsEngine::create(*client_ctx, false));
  // Each side's ciphertext goes straight into the other (as two sockets would, via a queue).
  std::deque<std::pair<TlsEngine*, std::string>> wire;
  size_t callbacks = 0;
  client.engine->onCiphertext = [&](std::string bytes) {
    ++callbacks;
    EXPECT_FALSE(bytes.empty());
    wire.emplace_back(server.engine.get(), std::move(bytes));
  };
  server.engine->onCiphertext = [&](std::string bytes) {
    ++callbacks;
    wire.emplace_back(client.engine.get(), std::move(bytes));
  };
  // The server echoes what it reads, from inside onPlaintext.
  server.engine->onPlaintext = [&](std::string_view data) {
    server.received.append(data);
    EXPECT_TRUE(server.engine->writePlaintext(data).ok());
  };
  ASSERT_TRUE(client.engine->start().ok());
  ASSERT_TRUE(client.engine->writePlaintext(Payload(100000, 5)).ok());
  int steps = 0;
  while (!wire.empty() && ++steps < 10000) {
    auto [to, bytes] = std::move(wire.front());
    wire.pop_front();
    ASSERT_TRUE(to->feedCiphertext(bytes).ok()) << to->error();
  }
  ExpectConnected();
  EXPECT_GE(callbacks, 3u);
  EXPECT_EQ(client.engine->takeCiphertext(), "");
  EXPECT_EQ(client.engine->pendingCiphertextBytes(), 0u);
  EXPECT_TRUE(server.received == Payload(100000, 5));
  EXPECT_TRUE(client.received == Payload(100000, 5));
}

TEST_F(TlsTest, EngineMayBeDestroyedFromItsCallbacks) {
  // From onPlaintext, in the middle of a feed holding several records.
  Handshake(ClientOptions(), ServerOptions());
  ExpectConnected();
  server.engine->onPlaintext = [&](std::string_view data) {
    server.received.append(data);
    server.engine.reset();
  };
  ASSERT_TRUE(client.engine->writePlaintext(Payload(100000)).ok());
  std::string wire = client.engine->takeCiphertext();
  TlsEngine* raw = server.engine.get();
  EXPECT_TRUE(raw->feedCiphertext(wire).ok());
  EXPECT_EQ(server.engine, nullptr);
  EXPECT_EQ(server.received.size(), TlsEngine::kMaxPlaintextChunk);

  // From onHandshakeDone.
  client = Side();
  server = Side();
  Connect(ClientOptions(), ServerOptions());
  client.engine->onHandshakeDone = [&] { client.engine.reset(); };
  Pump(client, server);
  EXPECT_EQ(client.engine, nullptr);
  // The client's Finished died with it (TLS 1.3): the server is still waiting, unharmed.
  EXPECT_FALSE(server.engine->handshakeDone());
  EXPECT_TRUE(server.status.ok());

  // From onCiphertext.
  client = Side();
  server = Side();
  Connect(ClientOptions(), ServerOptions());
  server.engine->onCiphertext = [&](std::string) { server.engine.reset(); };
  TlsEngine* s = server.engine.get();
  EXPECT_TRUE(s->feedCiphertext(client.engine->takeCiphertext()).ok());
  EXPECT_EQ(server.engine, nullptr);

  // From onCloseNotify.
  client = Side();
  server = Side();
  Handshake(ClientOptions(), ServerOptions());
  server.engine->onCloseNotify = [&] { server.engine.reset(); };
  client.engine->shutdown();
  s = server.engine.get();
  EXPECT_TRUE(s->feedCiphertext(client.engine->takeCiphertext()).ok());
  EXPECT_EQ(server.engine, nullptr);
}

TEST_F(TlsTest, FeedFromACallbackKeepsTheOrder) {
  Handshake(ClientOptions(), ServerOptions());
  ExpectConnected();
  ASSERT_TRUE(client.engine->writePlaintext("first-").ok());
  std::string first = client.engine->takeCiphertext();
  ASSERT_TRUE(client.engine->writePlaintext("second").ok());
  std::string second = client.engine->takeCiphertext();
  bool fed = false;
  server.engine->onPlaintext = [&](std::string_view data) {
    server.received.append(data);
    if (!fed) {
      fed = true;
      EXPECT_TRUE(server.engine->feedCiphertext(second).ok());
    }
  };
  ASSERT_TRUE(server.engine->feedCiphertext(first).ok());
  EXPECT_EQ(server.received, "first-second");
}

TEST_F(TlsTest, OneContextServesManyConnections) {
  auto server_ctx = TlsContext::createServer(ServerOptions());
  auto client_ctx = TlsContext::createClient(ClientOptions());
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  std::vector<Side> clients(4), servers(4);
  for (size_t i = 0; i < clients.size(); ++i) {
    servers[i].Attach(TlsEngine::create(*server_ctx, true));
    clients[i].Attach(TlsEngine::create(*client_ctx, false));
    ASSERT_TRUE(clients[i].engine->writePlaintext("conn " + std::to_string(i)).ok());
  }
  for (size_t i = 0; i < clients.size(); ++i) Pump(clients[i], servers[i]);
  for (size_t i = 0; i < clients.size(); ++i) {
    EXPECT_TRUE(servers[i].engine->handshakeDone());
    EXPECT_EQ(servers[i].received, "conn " + std::to_string(i));
  }
}

// What a server engine holds once its handshake is done and it is idle (issue 18: RSS per idle
// TLS connection): its SSL object and session, no buffer. OpenSSL frees its record buffers when
// they are empty (SSL_MODE_RELEASE_BUFFERS) and the engine's BIO has none: the BIO pair it had
// before kept 2 x 32 KiB per engine.
// 14,977 bytes per engine measured on 2026-12-06 (fastbuild, OpenSSL 3.0, TLS 1.3, test
// certificates), 82,096 with the BIO pair; the budget is the first plus ~9 % (for figures that
// move with OpenSSL's version).
constexpr int64_t kIdleServerEngineBudget = 16 * 1024;

TEST(TlsEngineMemoryTest, IdleServerEngineHoldsNoBuffers) {
#ifdef H2RPC_TSAN
  GTEST_SKIP() << "heap in use is not measurable under TSan (mallinfo2 does not see its allocator)";
#endif
  auto server_ctx = TlsContext::createServer(ServerOptions());
  auto client_ctx = TlsContext::createClient(ClientOptions());
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  constexpr int kEngines = 20;
  std::vector<Side> servers(kEngines + 1);
  auto connect = [&](Side& server) {
    Side client;
    server.Attach(TlsEngine::create(*server_ctx, /*isServer=*/true));
    client.Attach(TlsEngine::create(*client_ctx, /*isServer=*/false));
    ASSERT_TRUE(server.engine->start().ok());
    client.Note(client.engine->start());
    Pump(client, server);
    ASSERT_TRUE(client.status.ok()) << client.status;
    ASSERT_TRUE(server.engine->handshakeDone());
  };  // the client engine goes: only the servers' memory is left
  connect(servers[0]);  // one-time allocations (the BIO method, OpenSSL's lazy tables) first
  const int64_t before = HeapInUse();
  for (int i = 1; i <= kEngines; ++i) connect(servers[i]);
  const int64_t per_engine = (HeapInUse() - before) / kEngines;
  std::printf("heap bytes per idle server engine: %lld\n", static_cast<long long>(per_engine));
  EXPECT_LE(per_engine, kIdleServerEngineBudget);
}

}  // namespace
}  // namespace h2rpc::transport
