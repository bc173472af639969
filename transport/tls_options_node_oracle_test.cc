// TLS options checked against real peers over loopback: Node 20 (transport/testdata/
// tls_options_oracle.js: http2.createSecureServer and tls.connect) and `openssl s_client`. Each
// test runs the same peer against Node configured with the same options (the oracle) and against
// h2rpc, compares what the peer saw, and checks that the option changes the outcome (so that a
// test fails if the option were ignored). Directions: h2rpc's Http2Server (on a UvLoopThread)
// with Node's client or s_client, and h2rpc's connect() (on the test thread) with Node's server.
// Fails (never skips) when Node 20 or openssl is missing.
#include <openssl/ssl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/connect.h"
#include "transport/node_oracle.h"
#include "transport/server.h"
#include "transport/testing/ok_tls_server.h"
#include "transport/tls_socket.h"
#include "transport/uv_loop.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::transport {
namespace {

// h2rpc's secure Http2Server answering 200 "ok", on its own loop thread.
using OurServer = testing::OkTlsServer;
using testing::OnLoop;

using ::testing::HasSubstr;
using ::testing::Not;

const char kScript[] = "transport/testdata/tls_options_oracle.js";
const std::string kDir = "tests/testdata/tls/";

// Single-quoted for /bin/sh.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// Runs a shell command; returns its stdout (stderr too when the command says 2>&1).
std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

// The oracle script's command line (the Node that runNodeScript would use, checked to be 20+).
std::string NodeCommand(const std::vector<std::string>& args) {
  const char* node = access(testing::kVendoredNodePath, X_OK) == 0 ? testing::kVendoredNodePath
                                                                     : testing::kSystemNodePath;
  std::string version = Shell(absl::StrCat(node, " --version"));
  EXPECT_TRUE(absl::StartsWith(version, "v") && std::atoi(version.c_str() + 1) >= 20)
      << node << " is " << version << ": these tests need Node.js 20 (run `make setup`)";
  std::string command = absl::StrCat(node, " ", Quote(absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                                                                   std::getenv("TEST_WORKSPACE"),
                                                                   "/", kScript)));
  for (const std::string& arg : args) absl::StrAppend(&command, " ", Quote(arg));
  return command;
}

// A JSON object of string-valued options, e.g. Json({{"certFile", "..."}}) ; `raw` entries are
// inserted as they are (numbers, booleans).
std::string Json(const std::vector<std::pair<std::string, std::string>>& strings,
                 const std::vector<std::pair<std::string, std::string>>& raw = {}) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : strings) parts.push_back(absl::StrCat("\"", k, "\":\"", v, "\""));
  for (const auto& [k, v] : raw) parts.push_back(absl::StrCat("\"", k, "\":", v));
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

// Node's http2 secure server in a child process: `connections` lines of facts, then it exits.
class NodeServer {
 public:
  NodeServer(const std::string& options, int connections) {
    pipe_ = popen(NodeCommand({"server", options, std::to_string(connections)}).c_str(), "r");
    std::string first = ReadLine();
    if (absl::StartsWith(first, "port\t")) port_ = static_cast<uint16_t>(std::atoi(first.c_str() + 5));
    EXPECT_NE(port_, 0) << "the Node server did not start: " << first;
  }
  ~NodeServer() {
    if (pipe_ != nullptr) pclose(pipe_);  // bounded: the script exits after 30 s at most
  }
  uint16_t port() const { return port_; }
  // The next line the server printed ("" at its end).
  std::string ReadLine() {
    std::string line;
    char buf[4096];
    while (pipe_ != nullptr && fgets(buf, sizeof(buf), pipe_) != nullptr) {
      line += buf;
      if (!line.empty() && line.back() == '\n') {
        line.pop_back();
        break;
      }
    }
    return line;
  }

 private:
  FILE* pipe_ = nullptr;
  uint16_t port_ = 0;
};

// Node's tls.connect to `port` with `options`: its line of facts.
std::string NodeClient(uint16_t port, const std::string& options) {
  auto out = testing::runNodeScript(kScript, {"client", std::to_string(port), options});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return "";
  std::vector<std::string> lines = testing::splitLines(*out);
  EXPECT_EQ(lines.size(), 1u) << *out;
  return lines.empty() ? "" : lines[0];
}

// A Node client line without its fields from `field` up to "identity" (the last one).
std::string Without(std::string line, const std::string& field) {
  size_t from = line.find(absl::StrCat(",\"", field, "\":"));
  size_t to = line.find(",\"identity\":");
  if (from != std::string::npos && to != std::string::npos && from < to) line.erase(from, to - from);
  return line;
}
// Without OpenSSL's error text (it names a thread id and a source path).
std::string WithoutMessage(const std::string& line) { return Without(line, "message"); }
// Without "error" and "message".
std::string WithoutError(const std::string& line) { return Without(line, "error"); }

// The lines of `openssl s_client` output that describe the handshake (see Keep below).
std::string SClient(uint16_t port, const std::string& extra) {
  std::string out = Shell(absl::StrCat("timeout 20 openssl s_client -connect 127.0.0.1:", port,
                                     " -servername localhost -CAfile ", kDir, "ca.pem -alpn h2 ",
                                     extra, " </dev/null 2>&1"));
  static const char* const kKeep[] = {"Peer signing digest", "Peer signature type",
                                      "Server Temp Key",     "New, ",
                                      "Verification",        " 0 s:",
                                      " 1 s:",               " 2 s:"};
  std::vector<std::string> kept;
  bool ca_names = false;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (ca_names) {
      if (absl::StartsWith(line, "Requested") || absl::StartsWith(line, "Client Certificate") ||
          absl::StartsWith(line, "---")) {
        ca_names = false;
      } else {
        kept.push_back(absl::StrCat("CA name: ", line));
        continue;
      }
    }
    if (absl::StartsWith(line, "Acceptable client certificate CA names")) ca_names = true;
    if (absl::StartsWith(line, "No client certificate CA names sent")) kept.emplace_back(line);
    for (const char* prefix : kKeep) {
      if (absl::StartsWith(line, prefix)) kept.emplace_back(line);
    }
  }
  return absl::StrJoin(kept, "\n");
}

// What h2rpc's client saw of one connection (a GET /).
struct ClientResult {
  bool handshake = false;
  bool response = false;  // 200 received
  std::string version, cipher, authorizationError;
  bool authorized = false;
  absl::Status error;
};

ClientResult OurClient(uint16_t port, const TlsOptions& tls) {
  ClientResult r;
  UvLoop loop;
  ConnectOptions options;
  options.tls = tls;
  auto session = connect(&loop, absl::StrCat("https://127.0.0.1:", port), options);
  if (!session.ok()) {
    r.error = session.status();
    return r;
  }
  std::shared_ptr<ClientHttp2Session> client = *session;
  bool done = false, closed = false;
  client->onConnect([&] {
    auto* socket = static_cast<TlsSocket*>(client->socket());
    r.handshake = true;
    r.version = socket->protocolVersion();
    r.cipher = socket->cipherName();
    r.authorized = socket->authorized();
    r.authorizationError = socket->authorizationError();
  });
  client->onError([&](const absl::Status& s) {
    r.error = s;
    done = true;
  });
  client->onClose([&] {
    closed = true;
    done = true;
  });
  auto req = client->request({{":path", "/"}}, {.endStream = true});
  if (req.ok()) {
    (*req)->onResponse([&](const Headers& h, uint8_t) {
      r.response = h.get(":status").value_or("") == "200";
      done = true;
    });
    (*req)->onError([&](const absl::Status& s) {
      if (r.error.ok()) r.error = s;
      done = true;
    });
  }
  for (int i = 0; i < 100000 && !done; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
  EXPECT_TRUE(done) << "the connection neither answered nor failed";
  client->destroy();
  for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
  return r;
}

TlsOptions ServerTls(const std::string& name) {
  TlsOptions tls;
  tls.certFile = kDir + name + ".pem";
  tls.keyFile = kDir + name + ".key";
  return tls;
}

std::vector<std::pair<std::string, std::string>> NodeServerTls(const std::string& name) {
  return {{"certFile", kDir + name + ".pem"}, {"keyFile", kDir + name + ".key"}};
}

TlsOptions ClientTls() {
  TlsOptions tls;
  tls.caFile = kDir + "ca.pem";
  tls.servername = "localhost";
  return tls;
}

// Node's client line when connecting to Node's server with `node_server` and to ours with
// `ours`: {node's, ours}.
std::pair<std::string, std::string> NodeClientAgainstBoth(const std::string& node_server,
                                                          const TlsOptions& ours,
                                                          const std::string& client) {
  NodeServer node(node_server, 1);
  std::string from_node = NodeClient(node.port(), client);
  node.ReadLine();
  OurServer server(ours);
  std::string from_ours = NodeClient(server.port, client);
  return {from_node, from_ours};
}

// ---- honorCipherOrder ------------------------------------------------------------------------

TEST(TlsOptionsNodeOracleTest, HonorCipherOrderPicksTheCipherNodesServerPicks) {
  const std::string server_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305";
  const std::string client = Json({{"servername", "localhost"},
                                   {"caFile", kDir + "ca.pem"},
                                   {"maxVersion", "TLSv1.2"},
                                   {"ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305:"
                                               "ECDHE-ECDSA-AES128-GCM-SHA256"}});
  std::vector<std::string> picked;
  // false, true, and unset (Node's server default; TlsOptions' default).
  for (const char* honor : {"false", "true", ""}) {
    auto node_options = NodeServerTls("server");
    node_options.push_back({"ciphers", server_ciphers});
    TlsOptions ours = ServerTls("server");
    ours.ciphers = server_ciphers;
    std::vector<std::pair<std::string, std::string>> raw;
    if (*honor != '\0') {
      ours.honorCipherOrder = std::string(honor) == "true";
      raw.push_back({"honorCipherOrder", honor});
    }
    auto [from_node, from_ours] = NodeClientAgainstBoth(Json(node_options, raw), ours, client);
    EXPECT_EQ(from_ours, from_node) << "honorCipherOrder '" << honor << "'";
    EXPECT_THAT(from_ours, HasSubstr("\"data\":true"));
    picked.push_back(from_ours);
  }
  ASSERT_EQ(picked.size(), 3u);
  EXPECT_THAT(picked[0], HasSubstr("\"cipher\":\"ECDHE-ECDSA-CHACHA20-POLY1305\""));  // client's
  EXPECT_THAT(picked[1], HasSubstr("\"cipher\":\"ECDHE-ECDSA-AES128-GCM-SHA256\""));  // server's
  EXPECT_THAT(picked[2], HasSubstr("\"cipher\":\"ECDHE-ECDSA-AES128-GCM-SHA256\""));  // server's
}

// ---- ciphers (defaults, TLS 1.3-only lists) ---------------------------------------------------

TEST(TlsOptionsNodeOracleTest, DefaultAndTls13OnlyCiphersAsNode) {
  // Our server without `ciphers` picks what Node's picks for s_client's (OpenSSL's) order:
  // Node's default list puts AES-128 first, and a Node server follows its own order.
  {
    std::string from_node;
    {
      NodeServer node(Json(NodeServerTls("server")), 1);
      from_node = SClient(node.port(), "-tls1_2");
      node.ReadLine();
    }
    OurServer server(ServerTls("server"));
    std::string from_ours = SClient(server.port, "-tls1_2");
    EXPECT_EQ(from_ours, from_node);
    EXPECT_THAT(from_ours, HasSubstr("Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"));
  }
  // A server list of TLS 1.3 suites only makes the server TLS 1.3-only: a TLS 1.2 client gets
  // protocol_version.
  {
    auto node_options = NodeServerTls("server");
    node_options.push_back({"ciphers", "TLS_AES_128_GCM_SHA256"});
    TlsOptions ours = ServerTls("server");
    ours.ciphers = "TLS_AES_128_GCM_SHA256";
    auto [from_node, from_ours] = NodeClientAgainstBoth(
        Json(node_options), ours,
        Json({{"servername", "localhost"}, {"caFile", kDir + "ca.pem"}, {"maxVersion", "TLSv1.2"}}));
    EXPECT_EQ(WithoutMessage(from_ours), WithoutMessage(from_node));
    EXPECT_THAT(from_ours, HasSubstr("\"error\":\"ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION\""));
  }
  // Our client: default list (TLS 1.2: Node's server takes the client's first, AES-128) and a
  // TLS 1.3-only list against a TLS 1.2 server, as Node's client.
  auto node_options = NodeServerTls("server");
  node_options.push_back({"maxVersion", "TLSv1.2"});
  NodeServer node(Json(node_options), 4);
  NodeClient(node.port(), Json({{"servername", "localhost"}, {"caFile", kDir + "ca.pem"}}));
  std::string node_default = node.ReadLine();
  ClientResult ours = OurClient(node.port(), ClientTls());
  EXPECT_TRUE(ours.response) << ours.error;
  EXPECT_EQ(ours.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(node.ReadLine(), node_default);
  std::string node_tls13 = NodeClient(
      node.port(), Json({{"servername", "localhost"}, {"caFile", kDir + "ca.pem"},
                         {"ciphers", "TLS_AES_128_GCM_SHA256"}}));
  EXPECT_THAT(node_tls13, HasSubstr("\"handshake\":false"));
  std::string node_refused = node.ReadLine();
  EXPECT_EQ(node_refused, "{\"error\":\"ERR_SSL_UNSUPPORTED_PROTOCOL\"}");
  TlsOptions tls13 = ClientTls();
  tls13.ciphers = "TLS_AES_128_GCM_SHA256";
  ClientResult refused = OurClient(node.port(), tls13);
  EXPECT_FALSE(refused.handshake);
  EXPECT_EQ(refused.error.code(), absl::StatusCode::kUnavailable) << refused.error;
  EXPECT_EQ(node.ReadLine(), node_refused);
}

// ---- sigalgs ---------------------------------------------------------------------------------

TEST(TlsOptionsNodeOracleTest, ServerSigalgsSignAsNodesServerForOpensslSClient) {
  std::vector<std::string> seen;
  for (const char* sigalgs : {"", "RSA+SHA384", "RSA-PSS+SHA512"}) {
    auto node_options = NodeServerTls("server_rsa");
    if (*sigalgs != '\0') node_options.push_back({"sigalgs", sigalgs});
    std::string from_node;
    {
      NodeServer node(Json(node_options), 1);
      from_node = SClient(node.port(), "-tls1_2");
      node.ReadLine();
    }
    TlsOptions ours = ServerTls("server_rsa");
    ours.sigalgs = sigalgs;
    OurServer server(ours);
    std::string from_ours = SClient(server.port, "-tls1_2");
    EXPECT_EQ(from_ours, from_node) << "sigalgs '" << sigalgs << "'";
    EXPECT_THAT(from_ours, HasSubstr("Verification: OK"));
    seen.push_back(from_ours);
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_THAT(seen[0], HasSubstr("Peer signature type: RSA-PSS\n"));
  EXPECT_THAT(seen[0], HasSubstr("Peer signing digest: SHA256"));
  EXPECT_THAT(seen[1], HasSubstr("Peer signature type: RSA\n"));
  EXPECT_THAT(seen[1], HasSubstr("Peer signing digest: SHA384"));
  EXPECT_THAT(seen[2], HasSubstr("Peer signature type: RSA-PSS\n"));
  EXPECT_THAT(seen[2], HasSubstr("Peer signing digest: SHA512"));
}

TEST(TlsOptionsNodeOracleTest, ClientSigalgsOfferedAsNodesClientOffersThem) {
  const std::string sigalgs = "ECDSA+SHA384:ECDSA+SHA256:RSA-PSS+SHA256";
  NodeServer node(Json(NodeServerTls("server")), 3);
  std::string node_client = NodeClient(
      node.port(), Json({{"servername", "localhost"}, {"caFile", kDir + "ca.pem"},
                         {"sigalgs", sigalgs}}));
  EXPECT_THAT(node_client, HasSubstr("\"data\":true"));
  std::string from_node_client = node.ReadLine();
  TlsOptions tls = ClientTls();
  tls.sigalgs = sigalgs;
  ClientResult ours = OurClient(node.port(), tls);
  EXPECT_TRUE(ours.response) << ours.error;
  std::string from_ours = node.ReadLine();
  ClientResult plain = OurClient(node.port(), ClientTls());
  EXPECT_TRUE(plain.response) << plain.error;
  std::string from_default = node.ReadLine();
  EXPECT_EQ(from_ours, from_node_client);
  // Shared: the client's offer, in the server's order of preference.
  EXPECT_THAT(from_ours, HasSubstr("\"sigalgs\":\"ECDSA+SHA256:ECDSA+SHA384:RSA-PSS+SHA256\""));
  EXPECT_NE(from_default, from_ours);  // without the option the whole default list is offered
}

// ---- secureOptions ---------------------------------------------------------------------------

TEST(TlsOptionsNodeOracleTest, SecureOptionsNoTls13AsNodeInBothDirections) {
  const std::string no_tls13 = std::to_string(SSL_OP_NO_TLSv1_3);
  const std::string client = Json({{"servername", "localhost"}, {"caFile", kDir + "ca.pem"}});
  // Our server with the option, Node's client.
  TlsOptions ours = ServerTls("server");
  ours.secureOptions = SSL_OP_NO_TLSv1_3;
  auto [from_node, from_ours] =
      NodeClientAgainstBoth(Json(NodeServerTls("server"), {{"secureOptions", no_tls13}}), ours,
                            client);
  EXPECT_EQ(from_ours, from_node);
  EXPECT_THAT(from_ours, HasSubstr("\"version\":\"TLSv1.2\""));
  // Without it: TLS 1.3.
  auto [plain_node, plain_ours] =
      NodeClientAgainstBoth(Json(NodeServerTls("server")), ServerTls("server"), client);
  EXPECT_EQ(plain_ours, plain_node);
  EXPECT_THAT(plain_ours, HasSubstr("\"version\":\"TLSv1.3\""));
  // Our client with the option, Node's server; Node's client with the same.
  NodeServer node(Json(NodeServerTls("server")), 3);
  NodeClient(node.port(), Json({{"servername", "localhost"}, {"caFile", kDir + "ca.pem"}},
                               {{"secureOptions", no_tls13}}));
  std::string node_client = node.ReadLine();
  TlsOptions tls = ClientTls();
  tls.secureOptions = SSL_OP_NO_TLSv1_3;
  ClientResult r = OurClient(node.port(), tls);
  EXPECT_TRUE(r.response) << r.error;
  EXPECT_EQ(r.version, "TLSv1.2");
  std::string our_client = node.ReadLine();
  EXPECT_EQ(our_client, node_client);
  EXPECT_THAT(our_client, HasSubstr("\"version\":\"TLSv1.2\""));
  ClientResult d = OurClient(node.port(), ClientTls());
  EXPECT_EQ(d.version, "TLSv1.3");
  EXPECT_THAT(node.ReadLine(), HasSubstr("\"version\":\"TLSv1.3\""));
}

// ---- dhparam ---------------------------------------------------------------------------------

TEST(TlsOptionsNodeOracleTest, DhparamServesDheToOpensslSClientAsNode) {
  const std::string dhe = "DHE-RSA-AES128-GCM-SHA256";
  const std::string s_client = "-tls1_2 -cipher " + dhe;
  for (const char* dhparam : {"file", "auto", ""}) {
    auto node_options = NodeServerTls("server_rsa");
    node_options.push_back({"ciphers", dhe});
    TlsOptions ours = ServerTls("server_rsa");
    ours.ciphers = dhe;
    if (std::string(dhparam) == "file") {
      node_options.push_back({"dhparamFile", kDir + "dhparam.pem"});
      ours.dhparam = Shell("cat " + kDir + "dhparam.pem");
    } else if (*dhparam != '\0') {
      node_options.push_back({"dhparam", dhparam});
      ours.dhparam = dhparam;
    }
    const bool works = *dhparam != '\0';
    std::string from_node;
    {
      NodeServer node(Json(node_options), 1);
      from_node = SClient(node.port(), s_client);
      node.ReadLine();
    }
    OurServer server(ours);
    std::string from_ours = SClient(server.port, s_client);
    EXPECT_EQ(from_ours, from_node) << "dhparam " << dhparam;
    if (works) {
      EXPECT_THAT(from_ours, HasSubstr("Server Temp Key: DH, 2048 bits")) << dhparam;
      EXPECT_THAT(from_ours, HasSubstr("Cipher is " + dhe)) << dhparam;
    } else {
      // Without parameters no DHE suite: s_client's only cipher is refused.
      EXPECT_THAT(from_ours, HasSubstr("Cipher is (NONE)"));
    }
  }
}

// ---- crl -------------------------------------------------------------------------------------

std::string ClientWithCert(const std::string& name) {
  return Json({{"servername", "localhost"}, {"caFile", kDir + "ca.pem"},
               {"certFile", kDir + name + ".pem"}, {"keyFile", kDir + name + ".key"}});
}

TEST(TlsOptionsNodeOracleTest, ServerCrlRefusesTheRevokedClientAsNodesServer) {
  for (const bool with_crl : {true, false}) {
    auto node_options = NodeServerTls("server");
    node_options.push_back({"caFile", kDir + "ca.pem"});
    if (with_crl) node_options.push_back({"crlFile", kDir + "crl.pem"});
    TlsOptions ours = ServerTls("server");
    ours.requestCert = true;
    ours.caFile = kDir + "ca.pem";
    if (with_crl) ours.crlFile = kDir + "crl.pem";
    const std::string node_json = Json(node_options, {{"requestCert", "true"}});
    // client.pem (serial 03) is revoked by crl.pem; client_spiffe.pem is not.
    auto [revoked_node, revoked_ours] =
        NodeClientAgainstBoth(node_json, ours, ClientWithCert("client"));
    // Deliberate deviation (transport/README.md): OpenSSL refuses the certificate in the
    // handshake with its alert (certificate_revoked), where Node's server completes the
    // handshake and destroys the socket without one. Everything else Node's client sees is
    // the same.
    if (with_crl) {
      EXPECT_THAT(revoked_ours, HasSubstr("\"error\":\"ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED\""));
      EXPECT_THAT(revoked_node, Not(HasSubstr("\"error\"")));
    }
    EXPECT_EQ(WithoutError(revoked_ours), revoked_node) << "crl " << with_crl;
    auto [good_node, good_ours] =
        NodeClientAgainstBoth(node_json, ours, ClientWithCert("client_spiffe"));
    EXPECT_EQ(good_ours, good_node) << "crl " << with_crl;
    EXPECT_THAT(good_ours, HasSubstr("\"data\":true"));
    if (with_crl) {
      // TLS 1.3: the client's handshake completes, then the server closes instead of speaking.
      EXPECT_THAT(revoked_ours, Not(HasSubstr("\"data\":true")));
    } else {
      EXPECT_THAT(revoked_ours, HasSubstr("\"data\":true"));
    }
  }
}

TEST(TlsOptionsNodeOracleTest, ClientCrlRefusesTheRevokedServerAsNodesClient) {
  // server2.pem (serial 05) is revoked by crl_server2.pem.
  NodeServer node(Json(NodeServerTls("server2")), 3);
  std::string node_client =
      NodeClient(node.port(), Json({{"servername", "localhost"}, {"caFile", kDir + "ca.pem"},
                                    {"crlFile", kDir + "crl_server2.pem"}}));
  EXPECT_THAT(node_client, HasSubstr("\"error\":\"CERT_REVOKED\""));
  EXPECT_THAT(node.ReadLine(), HasSubstr("\"error\""));
  TlsOptions tls = ClientTls();
  tls.crlFile = kDir + "crl_server2.pem";
  ClientResult revoked = OurClient(node.port(), tls);
  EXPECT_FALSE(revoked.response);
  EXPECT_EQ(revoked.error.code(), absl::StatusCode::kUnauthenticated) << revoked.error;
  EXPECT_THAT(revoked.error.message(), HasSubstr("certificate revoked"));
  EXPECT_THAT(node.ReadLine(), HasSubstr("\"error\""));
  // The same client without the CRL connects.
  ClientResult plain = OurClient(node.port(), ClientTls());
  EXPECT_TRUE(plain.response) << plain.error;
  EXPECT_THAT(node.ReadLine(), HasSubstr("\"authorized\""));
}

// ---- pfx -------------------------------------------------------------------------------------

TEST(TlsOptionsNodeOracleTest, PfxServerSendsChainAndTrustsItsCaAsNode) {
  // server.p12 holds server.pem, its key and ca.pem. No `ca`: Node trusts the archive's extra
  // certificates (and names them in its certificate request).
  const std::string node_json =
      Json({{"pfxFile", kDir + "server.p12"}, {"passphrase", "h2rpc-pfx"}},
           {{"requestCert", "true"}});
  TlsOptions ours;
  ours.pfxFile = kDir + "server.p12";
  ours.passphrase = "h2rpc-pfx";
  ours.requestCert = true;
  std::string from_node, from_ours;
  {
    NodeServer node(node_json, 1);
    from_node = SClient(node.port(), "-showcerts");
    node.ReadLine();
  }
  {
    OurServer server(ours);
    from_ours = SClient(server.port, "-showcerts");
  }
  EXPECT_EQ(from_ours, from_node);
  EXPECT_THAT(from_ours, HasSubstr(" 1 s:O = h2rpc tests, CN = h2rpc test ca"));
  EXPECT_THAT(from_ours, HasSubstr("CA name: O = h2rpc tests, CN = h2rpc test ca"));
  // A client certificate from that CA is accepted, by Node's server and ours alike.
  auto [node_line, our_line] = NodeClientAgainstBoth(node_json, ours, ClientWithCert("client"));
  EXPECT_EQ(our_line, node_line);
  EXPECT_THAT(our_line, HasSubstr("\"data\":true"));
}

TEST(TlsOptionsNodeOracleTest, PfxClientAnswersRequestCertAndTrustsItsCaAsNode) {
  // client.p12 holds client.pem, its key and ca.pem; the client has no `ca` of its own.
  auto node_options = NodeServerTls("server");
  node_options.push_back({"caFile", kDir + "ca.pem"});
  NodeServer node(Json(node_options, {{"requestCert", "true"}}), 2);
  std::string node_client = NodeClient(
      node.port(), Json({{"servername", "localhost"}, {"pfxFile", kDir + "client.p12"},
                         {"passphrase", "h2rpc-pfx"}}));
  EXPECT_THAT(node_client, HasSubstr("\"authorized\":true"));
  EXPECT_THAT(node_client, HasSubstr("\"data\":true"));
  std::string node_seen = node.ReadLine();
  TlsOptions tls;
  tls.servername = "localhost";
  tls.pfxFile = kDir + "client.p12";
  tls.passphrase = "h2rpc-pfx";
  ClientResult r = OurClient(node.port(), tls);
  EXPECT_TRUE(r.response) << r.error;
  EXPECT_TRUE(r.authorized) << r.authorizationError;
  std::string our_seen = node.ReadLine();
  EXPECT_EQ(our_seen, node_seen);
  EXPECT_THAT(our_seen, HasSubstr("\"authorized\":true"));
  EXPECT_THAT(our_seen, HasSubstr("\"peer\":\"03\""));
}

// ---- checkServerIdentity ---------------------------------------------------------------------

// What the hook received, in the oracle script's format.
std::string IdentityRecord(const std::string& hostname, const PeerCertificate& cert) {
  return absl::StrJoin({hostname, cert.subjectField("CN"), cert.subjectaltname, cert.serialNumber,
                        cert.fingerprint256, cert.valid_from, cert.valid_to},
                       "|");
}

TEST(TlsOptionsNodeOracleTest, CheckServerIdentityGetsNodesArgumentsAndDecides) {
  struct Case {
    std::string servername;
    bool accept;
    std::string node_message;  // Node's tls.checkServerIdentity() refusal ("" if accepted)
  };
  const std::string altnames = "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1";
  const std::vector<Case> cases = {
      {"wrong.h2rpc.test", false,
       "Hostname/IP does not match certificate's altnames: Host: wrong.h2rpc.test. is not in the "
       "cert's altnames: " + altnames},
      {"wrong.h2rpc.test", true, ""},
      {"127.0.0.2", false,
       "Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's "
       "list: 127.0.0.1, ::1"},
  };
  NodeServer node(Json(NodeServerTls("server")), 2 * static_cast<int>(cases.size()));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.servername + (c.accept ? " (accepting hook)" : " (default check)"));
    std::string node_client =
        NodeClient(node.port(), Json({{"servername", c.servername},
                                      {"caFile", kDir + "ca.pem"},
                                      {"identity", c.accept ? "accept" : "default"}}));
    node.ReadLine();
    std::vector<std::string> calls;
    TlsOptions tls = ClientTls();
    tls.servername = c.servername;
    tls.checkServerIdentity = [&](const std::string& hostname, const PeerCertificate& cert) {
      calls.push_back(IdentityRecord(hostname, cert));
      return c.accept ? absl::OkStatus() : checkServerIdentity(hostname, cert);
    };
    ClientResult r = OurClient(node.port(), tls);
    node.ReadLine();
    // The hook is called once, with what Node's hook gets.
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_THAT(calls[0], HasSubstr(c.servername + "|localhost|" + altnames + "|02|"));
    EXPECT_THAT(node_client, HasSubstr(absl::StrCat("\"identity\":[\"", calls[0], "\"]")));
    if (c.accept) {
      EXPECT_TRUE(r.response) << r.error;
      EXPECT_TRUE(r.authorized);
      EXPECT_THAT(node_client, HasSubstr("\"data\":true"));
    } else {
      EXPECT_THAT(node_client, HasSubstr("\"error\":\"ERR_TLS_CERT_ALTNAME_INVALID\""));
      // Node's message, as its client printed it; ours carries the same text after the code.
      const std::string key = "\"message\":\"";
      size_t at = node_client.find(key);
      ASSERT_NE(at, std::string::npos) << node_client;
      at += key.size();
      const std::string node_message = node_client.substr(at, node_client.find('"', at) - at);
      EXPECT_EQ(node_message, c.node_message);
      EXPECT_FALSE(r.response);
      EXPECT_EQ(r.error.code(), absl::StatusCode::kUnauthenticated) << r.error;
      EXPECT_THAT(std::string(r.error.message()),
                  HasSubstr(absl::StrCat("ERR_TLS_CERT_ALTNAME_INVALID: ", node_message)));
    }
  }
}

}  // namespace
}  // namespace h2rpc::transport
