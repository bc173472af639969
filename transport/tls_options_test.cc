// The TLS options of issue 16 item 7b (pfx, crl, SNICallback, session resumption, sigalgs,
// honorCipherOrder, secureOptions, dhparam, checkServerIdentity), over a client and a server
// TlsEngine wired together in memory (no sockets, no sleeps). Test certificates: see
// tests/testdata/tls/README.md.
#include <openssl/ssl.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/tls.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TestFile(const std::string& name) { return "tests/testdata/tls/" + name; }

std::string ReadTestFile(const std::string& name) {
  std::ifstream in(TestFile(name), std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << TestFile(name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TlsOptions ServerOptions(const std::string& name = "server") {
  TlsOptions o;
  o.certFile = TestFile(name + ".pem");
  o.keyFile = TestFile(name + ".key");
  return o;
}

TlsOptions ClientOptions(const std::string& servername = "localhost") {
  TlsOptions o;
  o.caFile = TestFile("ca.pem");
  o.servername = servername;
  return o;
}

// A client and a server engine; Pump() moves ciphertext until neither side has any.
struct Link {
  std::unique_ptr<TlsEngine> client, server;
  absl::Status client_status, server_status;
  std::vector<std::string> sessions;  // the client's onSession events

  Link(std::shared_ptr<TlsContext> c, std::shared_ptr<TlsContext> s,
       const std::string& session = "") {
    server = TlsEngine::create(std::move(s), true);
    client = TlsEngine::create(std::move(c), false);
    if (!client || !server) {
      ADD_FAILURE() << "engine creation failed";
      return;
    }
    client->onSession = [this](std::string bytes) { sessions.push_back(std::move(bytes)); };
    if (!session.empty()) client_status = client->setSession(session);
    if (client_status.ok()) client_status = client->start();
  }
  void Pump() {
    for (int round = 0; round < 100; ++round) {
      std::string to_server = client->takeCiphertext();
      if (!to_server.empty() && server_status.ok()) {
        server_status = server->feedCiphertext(to_server);
      }
      std::string to_client = server->takeCiphertext();
      if (!to_client.empty() && client_status.ok()) {
        client_status = client->feedCiphertext(to_client);
      }
      if (to_server.empty() && to_client.empty()) return;
    }
    ADD_FAILURE() << "Pump did not settle";
  }
  bool Connected() const {
    return client_status.ok() && server_status.ok() && client->handshakeDone() &&
           server->handshakeDone();
  }
};

std::shared_ptr<TlsContext> Server(const TlsOptions& o) {
  auto ctx = TlsContext::createServer(o);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *ctx : nullptr;
}
std::shared_ptr<TlsContext> Client(const TlsOptions& o) {
  auto ctx = TlsContext::createClient(o);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *ctx : nullptr;
}

// Handshake with fresh contexts; returns the link after pumping.
std::unique_ptr<Link> Handshake(const TlsOptions& c, const TlsOptions& s) {
  auto link = std::make_unique<Link>(Client(c), Server(s));
  link->Pump();
  return link;
}

// --- pfx ---

TEST(TlsPfxTest, Pkcs12ArchiveServesItsCertificateAndChain) {
  TlsOptions s;
  s.pfxFile = TestFile("server.p12");
  s.passphrase = "h2rpc-pfx";
  auto link = Handshake(ClientOptions(), s);
  ASSERT_TRUE(link->Connected()) << link->client_status << " / " << link->server_status;
  EXPECT_EQ(link->client->peerCertificate()->serialNumber, "02");  // server.pem
  // The same archive given as bytes.
  s.pfxFile.clear();
  s.pfx = ReadTestFile("server.p12");
  link = Handshake(ClientOptions(), s);
  ASSERT_TRUE(link->Connected()) << link->client_status << " / " << link->server_status;
}

TEST(TlsPfxTest, WrongPassphraseBadBytesAndAmbiguityAreClearErrors) {
  TlsOptions s;
  s.pfxFile = TestFile("server.p12");
  s.passphrase = "wrong";
  auto ctx = TlsContext::createServer(s);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("wrong TlsOptions.passphrase"));
  s.passphrase = "";
  EXPECT_EQ(TlsContext::createServer(s).status().code(), absl::StatusCode::kInvalidArgument);
  s.pfxFile.clear();
  s.pfx = ReadTestFile("server.pem");  // PEM is not PKCS#12
  ctx = TlsContext::createServer(s);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("not a PKCS#12 archive"));
  TlsOptions both = ServerOptions();
  both.pfxFile = TestFile("server.p12");
  both.passphrase = "h2rpc-pfx";
  ctx = TlsContext::createServer(both);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("are both set"));
  TlsOptions missing;
  missing.pfxFile = TestFile("no-such.p12");
  EXPECT_EQ(TlsContext::createServer(missing).status().code(), absl::StatusCode::kNotFound);
}

// --- crl ---

TlsOptions MutualServer() {
  TlsOptions s = ServerOptions();
  s.requestCert = true;
  s.caFile = TestFile("ca.pem");
  return s;
}

TlsOptions ClientWithCert(const std::string& name) {
  TlsOptions c = ClientOptions();
  c.certFile = TestFile(name + ".pem");
  c.keyFile = TestFile(name + ".key");
  return c;
}

TEST(TlsCrlTest, RevokedClientCertificateIsRefusedOthersPass) {
  TlsOptions s = MutualServer();
  s.crlFile = TestFile("crl.pem");  // revokes client.pem (serial 03)
  auto revoked = Handshake(ClientWithCert("client"), s);
  EXPECT_EQ(revoked->server_status.code(), absl::StatusCode::kUnauthenticated)
      << revoked->server_status;
  EXPECT_THAT(revoked->server_status.message(), HasSubstr("revoked"));
  auto fine = Handshake(ClientWithCert("client_spiffe"), s);
  ASSERT_TRUE(fine->Connected()) << fine->server_status;
  EXPECT_TRUE(fine->server->authorized());
  // Without the CRL the same client passes (the CRL is what refused it).
  auto no_crl = Handshake(ClientWithCert("client"), MutualServer());
  EXPECT_TRUE(no_crl->Connected()) << no_crl->server_status;
}

TEST(TlsCrlTest, RevocationSeenWithoutRejectionAndMissingCrlIsReported) {
  TlsOptions s = MutualServer();
  s.rejectUnauthorized = false;
  s.crl = ReadTestFile("crl.pem");
  auto link = Handshake(ClientWithCert("client"), s);
  ASSERT_TRUE(link->Connected()) << link->server_status;
  EXPECT_EQ(link->server->authorizationError(), "CERT_REVOKED");
  // A client whose CA has no CRL here: UNABLE_TO_GET_CRL (Node's CRL_CHECK_ALL).
  TlsOptions c = ClientOptions();
  c.crlFile = TestFile("crl.pem");
  c.ca = ReadTestFile("ca.pem");
  auto ok = Handshake(c, ServerOptions());  // server.pem is not revoked
  EXPECT_TRUE(ok->Connected()) << ok->client_status;
  TlsOptions bad = ClientOptions();
  bad.crl = "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n";
  auto ctx = TlsContext::createClient(bad);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("TlsOptions.crl"));
}

// --- SNICallback ---

TEST(TlsSniTest, SynchronousAnswerPicksTheCertificateByName) {
  auto sni_ctx = Server(ServerOptions("server_sni"));
  std::vector<std::string> asked;
  TlsOptions s = ServerOptions();
  s.SNICallback = [&](const std::string& name, TlsOptions::SniAnswer answer) {
    asked.push_back(name);
    answer(absl::OkStatus(), name == "sni.h2rpc.test" ? sni_ctx : nullptr);
  };
  auto server_ctx = Server(s);
  Link sni(Client(ClientOptions("sni.h2rpc.test")), server_ctx);
  sni.Pump();
  ASSERT_TRUE(sni.Connected()) << sni.client_status << " / " << sni.server_status;
  EXPECT_EQ(sni.client->peerCertificate()->serialNumber, "07");
  EXPECT_TRUE(sni.client->authorized());
  EXPECT_EQ(sni.server->servername(), "sni.h2rpc.test");
  EXPECT_EQ(sni.client->alpnProtocol(), "h2");
  Link plain(Client(ClientOptions("localhost")), server_ctx);
  plain.Pump();
  ASSERT_TRUE(plain.Connected()) << plain.client_status;
  EXPECT_EQ(plain.client->peerCertificate()->serialNumber, "02");
  // No SNI at all (an IP address): the callback is not called (as Node).
  Link ip(Client(ClientOptions("127.0.0.1")), server_ctx);
  ip.Pump();
  ASSERT_TRUE(ip.Connected()) << ip.client_status;
  EXPECT_THAT(asked, ElementsAre("sni.h2rpc.test", "localhost"));
}

TEST(TlsSniTest, LaterAnswerResumesTheHandshake) {
  auto sni_ctx = Server(ServerOptions("server_sni"));
  TlsOptions::SniAnswer pending;
  TlsOptions s = ServerOptions();
  s.SNICallback = [&](const std::string&, TlsOptions::SniAnswer answer) {
    pending = std::move(answer);
  };
  Link link(Client(ClientOptions("sni.h2rpc.test")), Server(s));
  int resumes = 0;
  link.server->onResume = [&] { ++resumes; };
  link.Pump();
  ASSERT_TRUE(pending);
  EXPECT_FALSE(link.server->handshakeDone());
  EXPECT_TRUE(link.server_status.ok()) << link.server_status;
  EXPECT_EQ(link.server->takeCiphertext(), "");  // no ServerHello before the answer
  pending(absl::OkStatus(), sni_ctx);
  EXPECT_EQ(resumes, 1);
  EXPECT_TRUE(link.server->resume().ok());
  link.Pump();
  ASSERT_TRUE(link.Connected()) << link.client_status << " / " << link.server_status;
  EXPECT_EQ(link.client->peerCertificate()->serialNumber, "07");
  // A second answer is ignored.
  pending(absl::InternalError("late"), nullptr);
  EXPECT_TRUE(link.server->error().ok());
}

TEST(TlsSniTest, ErrorAnswerFailsTheHandshakeWithThatStatus) {
  TlsOptions::SniAnswer pending;
  TlsOptions s = ServerOptions();
  s.SNICallback = [&](const std::string&, TlsOptions::SniAnswer answer) {
    pending = std::move(answer);
  };
  Link link(Client(ClientOptions("sni.h2rpc.test")), Server(s));
  link.Pump();
  ASSERT_TRUE(pending);
  // No onResume: the answer resumes the engine itself; its error is what the next call returns.
  pending(absl::NotFoundError("no certificate for this name"), nullptr);
  EXPECT_EQ(link.server->error().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(link.server->error().message(), HasSubstr("SNICallback: no certificate"));
  link.Pump();
  EXPECT_EQ(link.client_status.code(), absl::StatusCode::kUnavailable);  // internal_error alert
  EXPECT_THAT(link.client_status.message(), HasSubstr("internal error"));
  // A client context as the answer is refused.
  TlsOptions s2 = ServerOptions();
  auto client_ctx = Client(ClientOptions());
  s2.SNICallback = [&](const std::string&, TlsOptions::SniAnswer answer) {
    answer(absl::OkStatus(), client_ctx);
  };
  auto wrong = std::make_unique<Link>(Client(ClientOptions("sni.h2rpc.test")), Server(s2));
  wrong->Pump();
  EXPECT_EQ(wrong->server_status.code(), absl::StatusCode::kInvalidArgument)
      << wrong->server_status;
}

TEST(TlsSniTest, EngineDestroyedBeforeTheAnswerIsSafe) {
  TlsOptions::SniAnswer pending;
  TlsOptions s = ServerOptions();
  s.SNICallback = [&](const std::string&, TlsOptions::SniAnswer answer) {
    pending = std::move(answer);
  };
  auto link = std::make_unique<Link>(Client(ClientOptions("sni.h2rpc.test")), Server(s));
  link->Pump();
  ASSERT_TRUE(pending);
  link.reset();
  pending(absl::OkStatus(), nullptr);  // must not touch the destroyed engine (ASan)
}

// --- Session resumption ---

TEST(TlsSessionTest, SecondConnectionResumesWithTheSavedSession) {
  for (const char* version : {"TLSv1.2", "TLSv1.3"}) {
    SCOPED_TRACE(version);
    TlsOptions c = ClientOptions();
    c.maxVersion = version;
    auto client_ctx = Client(c);
    auto server_ctx = Server(ServerOptions());
    Link first(client_ctx, server_ctx);
    first.Pump();
    ASSERT_TRUE(first.Connected()) << first.client_status;
    EXPECT_FALSE(first.client->isSessionReused());
    ASSERT_FALSE(first.sessions.empty());  // Node's 'session' event
    Link second(client_ctx, server_ctx, first.sessions.back());
    second.Pump();
    ASSERT_TRUE(second.Connected()) << second.client_status;
    EXPECT_TRUE(second.client->isSessionReused());
    EXPECT_TRUE(second.server->isSessionReused());
    EXPECT_EQ(second.client->peerCertificate()->serialNumber, "02");
    // Through TlsOptions::session too.
    c.session = first.sessions.back();
    Link third(Client(c), server_ctx);
    third.Pump();
    ASSERT_TRUE(third.Connected()) << third.client_status;
    EXPECT_TRUE(third.client->isSessionReused());
    // Another server context (other random ticket keys) cannot resume it: a full handshake.
    Link other(client_ctx, Server(ServerOptions()), first.sessions.back());
    other.Pump();
    ASSERT_TRUE(other.Connected()) << other.client_status;
    EXPECT_FALSE(other.client->isSessionReused());
    EXPECT_FALSE(first.client->getSession().empty());
  }
}

TEST(TlsSessionTest, SharedTicketKeysResumeAcrossContexts) {
  TlsOptions s = ServerOptions();
  s.ticketKeys = std::string(48, 'k');
  auto client_ctx = Client(ClientOptions());
  Link first(client_ctx, Server(s));
  first.Pump();
  ASSERT_TRUE(first.Connected()) << first.client_status;
  ASSERT_FALSE(first.sessions.empty());
  Link same_keys(client_ctx, Server(s), first.sessions.back());
  same_keys.Pump();
  ASSERT_TRUE(same_keys.Connected()) << same_keys.client_status;
  EXPECT_TRUE(same_keys.client->isSessionReused());
  TlsOptions other = s;
  other.ticketKeys[0] = 'X';  // another key name: not ours, a full handshake
  Link other_keys(client_ctx, Server(other), first.sessions.back());
  other_keys.Pump();
  ASSERT_TRUE(other_keys.Connected()) << other_keys.client_status;
  EXPECT_FALSE(other_keys.client->isSessionReused());
  TlsOptions tampered = s;
  tampered.ticketKeys[20] = 'X';  // same name, another HMAC key: the ticket is refused
  Link bad_mac(client_ctx, Server(tampered), first.sessions.back());
  bad_mac.Pump();
  ASSERT_TRUE(bad_mac.Connected()) << bad_mac.client_status;
  EXPECT_FALSE(bad_mac.client->isSessionReused());
}

TEST(TlsSessionTest, SessionTimeoutIsTheTicketLifetime) {
  TlsOptions s = ServerOptions();
  s.sessionTimeout = 123;
  auto link = Handshake(ClientOptions(), s);
  ASSERT_TRUE(link->Connected());
  ASSERT_FALSE(link->sessions.empty());
  const std::string& bytes = link->sessions.back();
  const auto* der = reinterpret_cast<const unsigned char*>(bytes.data());
  SSL_SESSION* session = d2i_SSL_SESSION(nullptr, &der, static_cast<long>(bytes.size()));
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(SSL_SESSION_get_ticket_lifetime_hint(session), 123u);
  SSL_SESSION_free(session);
  // Node's default: 300 s.
  link = Handshake(ClientOptions(), ServerOptions());
  ASSERT_FALSE(link->sessions.empty());
  der = reinterpret_cast<const unsigned char*>(link->sessions.back().data());
  session = d2i_SSL_SESSION(nullptr, &der, static_cast<long>(link->sessions.back().size()));
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(SSL_SESSION_get_ticket_lifetime_hint(session), 300u);
  SSL_SESSION_free(session);
}

TEST(TlsSessionTest, BadSessionOptionsAreInvalidArgument) {
  TlsOptions s = ServerOptions();
  s.ticketKeys = "short";
  EXPECT_EQ(TlsContext::createServer(s).status().code(), absl::StatusCode::kInvalidArgument);
  s = ServerOptions();
  s.sessionTimeout = -1;
  EXPECT_EQ(TlsContext::createServer(s).status().code(), absl::StatusCode::kInvalidArgument);
  TlsOptions c = ClientOptions();
  c.session = "garbage";
  EXPECT_EQ(TlsContext::createClient(c).status().code(), absl::StatusCode::kInvalidArgument);
  auto engine = TlsEngine::create(Client(ClientOptions()), false);
  EXPECT_EQ(engine->setSession("garbage").code(), absl::StatusCode::kInvalidArgument);
}

// --- sigalgs, honorCipherOrder, secureOptions, dhparam ---

TEST(TlsAlgorithmsTest, SigalgsRestrictTheServersSignature) {
  TlsOptions c = ClientOptions();
  c.sigalgs = "ECDSA+SHA256";
  EXPECT_TRUE(Handshake(c, ServerOptions())->Connected());
  // TLS 1.3 ties ECDSA+SHA384 to P-384: the P-256 server key cannot sign it.
  c.sigalgs = "ECDSA+SHA384";
  auto link = Handshake(c, ServerOptions());
  EXPECT_FALSE(link->client_status.ok() && link->server_status.ok());
  EXPECT_FALSE(link->client->handshakeDone());
  c.sigalgs = "NOT+AN+ALG";
  auto ctx = TlsContext::createClient(c);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("TlsOptions.sigalgs"));
}

TEST(TlsAlgorithmsTest, HonorCipherOrderPicksTheServersPreference) {
  TlsOptions c = ClientOptions();
  c.maxVersion = "TLSv1.2";
  c.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
  TlsOptions s = ServerOptions();
  s.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384";
  auto link = Handshake(c, s);  // a Node server's default: the server's order
  ASSERT_TRUE(link->Connected());
  EXPECT_EQ(link->client->cipherName(), "ECDHE-ECDSA-AES128-GCM-SHA256");
  s.honorCipherOrder = false;  // the client's order
  link = Handshake(c, s);
  ASSERT_TRUE(link->Connected());
  EXPECT_EQ(link->client->cipherName(), "ECDHE-ECDSA-AES256-GCM-SHA384");
}

TEST(TlsAlgorithmsTest, SecureOptionsAreApplied) {
  TlsOptions s = ServerOptions();
  s.secureOptions = SSL_OP_NO_TLSv1_3;
  auto link = Handshake(ClientOptions(), s);
  ASSERT_TRUE(link->Connected());
  EXPECT_EQ(link->client->protocolVersion(), "TLSv1.2");
  s.secureOptions = SSL_OP_NO_TICKET;
  TlsOptions c = ClientOptions();
  c.maxVersion = "TLSv1.2";
  link = Handshake(c, s);
  ASSERT_TRUE(link->Connected());
  EXPECT_EQ(SSL_get_options(link->server->native()) & SSL_OP_NO_TICKET, SSL_OP_NO_TICKET);
  // h2rpc's own options stay.
  EXPECT_NE(SSL_get_options(link->server->native()) & SSL_OP_NO_RENEGOTIATION, 0u);
}

TEST(TlsAlgorithmsTest, DhparamEnablesDheSuites) {
  TlsOptions c = ClientOptions();
  c.maxVersion = "TLSv1.2";
  c.ciphers = "DHE-RSA-AES128-GCM-SHA256";
  TlsOptions s = ServerOptions("server_rsa");
  auto none = Handshake(c, s);  // no DH parameters: no DHE suite (as Node)
  EXPECT_FALSE(none->client->handshakeDone());
  EXPECT_FALSE(none->server_status.ok());
  s.dhparam = ReadTestFile("dhparam.pem");
  auto link = Handshake(c, s);
  ASSERT_TRUE(link->Connected()) << link->client_status << " / " << link->server_status;
  EXPECT_EQ(link->client->cipherName(), "DHE-RSA-AES128-GCM-SHA256");
  s.dhparam = "auto";
  link = Handshake(c, s);
  ASSERT_TRUE(link->Connected()) << link->client_status << " / " << link->server_status;
  s.dhparam = ReadTestFile("server.pem");
  auto ctx = TlsContext::createServer(s);
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ctx.status().message(), HasSubstr("TlsOptions.dhparam"));
}

// --- checkServerIdentity ---

TEST(TlsIdentityTest, DefaultCheckServerIdentityUsesNodesTexts) {
  auto link = Handshake(ClientOptions(), ServerOptions());
  ASSERT_TRUE(link->Connected());
  PeerCertificate cert = *link->client->peerCertificate();
  EXPECT_TRUE(checkServerIdentity("localhost", cert).ok());
  EXPECT_TRUE(checkServerIdentity("127.0.0.1", cert).ok());
  EXPECT_TRUE(checkServerIdentity("[::1]", cert).ok());
  absl::Status st = checkServerIdentity("example.com", cert);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(st.message(),
            "ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: "
            "Host: example.com. is not in the cert's altnames: DNS:localhost, IP "
            "Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
  // Node 20's text for an address: the IP SANs in canonical form (tls_options_node_oracle_test
  // checks it against Node's own).
  st = checkServerIdentity("10.0.0.1", cert);
  EXPECT_EQ(st.message(),
            "ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: "
            "IP: 10.0.0.1 is not in the cert's list: 127.0.0.1, ::1");
}

TEST(TlsIdentityTest, HookReplacesTheNameCheck) {
  std::vector<std::string> hosts;
  TlsOptions c = ClientOptions("alias.example");  // not in server.pem's names
  c.checkServerIdentity = [&](const std::string& host, const PeerCertificate& cert) {
    hosts.push_back(host);
    return cert.subjectField("CN") == "localhost" ? absl::OkStatus()
                                                  : absl::PermissionDeniedError("no");
  };
  auto link = Handshake(c, ServerOptions());
  ASSERT_TRUE(link->Connected()) << link->client_status;
  EXPECT_TRUE(link->client->authorized());
  EXPECT_THAT(hosts, ElementsAre("alias.example"));
  EXPECT_EQ(link->server->servername(), "alias.example");  // SNI still sent
  // Refusal: the handshake fails with the hook's message.
  c.checkServerIdentity = [](const std::string& host, const PeerCertificate& cert) {
    return checkServerIdentity(host, cert);  // Node's default, called from the hook
  };
  link = Handshake(c, ServerOptions());
  EXPECT_EQ(link->client_status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(link->client_status.message(), HasSubstr("Host: alias.example."));
  // Not called when the chain does not verify.
  int calls = 0;
  TlsOptions untrusted = c;
  untrusted.caFile = TestFile("other_ca.pem");
  untrusted.checkServerIdentity = [&](const std::string&, const PeerCertificate&) {
    ++calls;
    return absl::OkStatus();
  };
  link = Handshake(untrusted, ServerOptions());
  EXPECT_EQ(link->client_status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(calls, 0);
}

TEST(TlsIdentityTest, HookRefusalWithoutRejectUnauthorizedIsReported) {
  TlsOptions c = ClientOptions();
  c.rejectUnauthorized = false;
  c.checkServerIdentity = [](const std::string&, const PeerCertificate&) {
    return absl::UnauthenticatedError("ERR_CUSTOM: pinned key mismatch");
  };
  auto link = Handshake(c, ServerOptions());
  ASSERT_TRUE(link->Connected()) << link->client_status;
  EXPECT_FALSE(link->client->authorized());
  EXPECT_EQ(link->client->authorizationError(), "ERR_CUSTOM");
  EXPECT_THAT(link->client->verifyResult().message(), HasSubstr("pinned key mismatch"));
}

}  // namespace
}  // namespace h2rpc::transport
