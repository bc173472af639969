// TLS options of a secure Http2Server seen by real clients over loopback: SNICallback answered
// later (two certificates on one port, checked by curl --resolve, which verifies the name), and
// session resumption by Node 20's tls.connect({session}) across setSecureContext() when the
// server has ticketKeys. The server runs on a UvLoopThread; curl and Node run from the test thread.
#include <cstdio>
#include <functional>
#include <future>
#include <sys/wait.h>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/node_oracle.h"
#include "transport/server.h"
#include "transport/testing/ok_tls_server.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::transport {
namespace {

using ::testing::HasSubstr;
using Fixture = testing::OkTlsServer;
using testing::OnLoop;

const char kCa[] = "tests/testdata/tls/ca.pem";

TlsOptions ServerTls(const std::string& name) {
  TlsOptions tls;
  tls.certFile = "tests/testdata/tls/" + name + ".pem";
  tls.keyFile = "tests/testdata/tls/" + name + ".key";
  return tls;
}

// Runs a shell command; returns its stdout and exit status.
std::pair<std::string, int> Run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {"", -1};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::pair<std::string, int> Curl(uint16_t port, const std::string& host) {
  return Run(absl::StrCat("curl -sS --http2 --max-time 20 --cacert ", kCa, " --resolve ", host,
                          ":", port, ":127.0.0.1 -w ' %{http_version} %{http_code}' https://",
                          host, ":", port, "/ 2>&1"));
}

TEST(ServerTlsOptionsTest, SniCallbackServesTwoCertificatesOnOnePortToCurl) {
  std::vector<std::string> asked;  // written on the loop thread, read after curl returned
  std::shared_ptr<TlsContext> sni_ctx = *TlsContext::createServer(ServerTls("server_sni"));
  Fixture f([&](UvLoop* loop) {
    TlsOptions tls = ServerTls("server");
    tls.SNICallback = [&asked, &sni_ctx, loop](const std::string& name,
                                               TlsOptions::SniAnswer answer) {
      asked.push_back(name);
      // Answered on a later loop turn, as an asynchronous lookup would be.
      loop->post([name, answer, &sni_ctx] {
        answer(absl::OkStatus(), name == "sni.h2rpc.test" ? sni_ctx : nullptr);
      });
    };
    return tls;
  });
  // curl checks the certificate against the name it asked for: each name needs its certificate.
  auto [sni_out, sni_exit] = Curl(f.port, "sni.h2rpc.test");
  EXPECT_EQ(sni_exit, 0) << sni_out;
  EXPECT_EQ(sni_out, "ok 2 200");
  auto [plain_out, plain_exit] = Curl(f.port, "localhost");
  EXPECT_EQ(plain_exit, 0) << plain_out;
  EXPECT_EQ(plain_out, "ok 2 200");
  std::vector<std::string> seen;
  OnLoop(f.io, [&] { seen = asked; });
  EXPECT_EQ(seen, (std::vector<std::string>{"sni.h2rpc.test", "localhost"}));
}

TEST(ServerTlsOptionsTest, SniCallbackErrorRefusesTheHandshake) {
  Fixture f([](UvLoop* loop) {
    TlsOptions tls = ServerTls("server");
    tls.SNICallback = [loop](const std::string&, TlsOptions::SniAnswer answer) {
      loop->post([answer] { answer(absl::NotFoundError("unknown name"), nullptr); });
    };
    return tls;
  });
  auto [out, exit_code] = Curl(f.port, "localhost");
  EXPECT_EQ(exit_code, 35) << out;  // CURLE_SSL_CONNECT_ERROR
  EXPECT_THAT(out, HasSubstr("internal error"));
}

// Node 20's client: its line "<reused>\t<serial>\t<session hex>".
std::vector<std::string> NodeConnect(uint16_t port, const std::string& session = "") {
  std::vector<std::string> args = {std::to_string(port), kCa};
  if (!session.empty()) args.push_back(session);
  auto out = testing::runNodeScript("transport/testdata/tls_session_oracle.js", args);
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  std::vector<std::string> lines = testing::splitLines(*out);
  EXPECT_EQ(lines.size(), 1u) << *out;
  if (lines.size() != 1) return {};
  std::vector<std::string> fields = testing::splitTabs(lines[0]);
  EXPECT_EQ(fields.size(), 3u) << lines[0];
  return fields;
}

TEST(ServerTlsOptionsTest, NodeResumesItsSessionAcrossSetSecureContextWithTicketKeys) {
  Fixture f([](UvLoop*) {
    TlsOptions tls = ServerTls("server");
    tls.ticketKeys = std::string(48, '\x5a');
    return tls;
  });
  std::vector<std::string> first = NodeConnect(f.port);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0], "false");
  EXPECT_EQ(first[1], "02");
  std::vector<std::string> second = NodeConnect(f.port, first[2]);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0], "true");
  // A rotated certificate with the server's ticket keys kept: the session still resumes (the
  // resumed session carries the certificate of the first connection).
  absl::Status rotated;
  OnLoop(f.io, [&] { rotated = f.server->setSecureContext(ServerTls("server2")); });
  ASSERT_TRUE(rotated.ok()) << rotated;
  std::vector<std::string> third = NodeConnect(f.port, first[2]);
  ASSERT_EQ(third.size(), 3u);
  EXPECT_EQ(third[0], "true");
  // A new session is a full handshake with the new certificate.
  std::vector<std::string> fresh = NodeConnect(f.port);
  ASSERT_EQ(fresh.size(), 3u);
  EXPECT_EQ(fresh[0], "false");
  EXPECT_EQ(fresh[1], "05");
}

TEST(ServerTlsOptionsTest, WithoutTicketKeysNodeCannotResumeAfterSetSecureContext) {
  Fixture f([](UvLoop*) { return ServerTls("server"); });
  std::vector<std::string> first = NodeConnect(f.port);
  ASSERT_EQ(first.size(), 3u);
  std::vector<std::string> again = NodeConnect(f.port, first[2]);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0], "true");  // same context: resumed
  absl::Status rotated;
  OnLoop(f.io, [&] { rotated = f.server->setSecureContext(ServerTls("server2")); });
  ASSERT_TRUE(rotated.ok()) << rotated;
  std::vector<std::string> after = NodeConnect(f.port, first[2]);
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0], "false");  // the new context's random ticket keys
  EXPECT_EQ(after[1], "05");
}

}  // namespace
}  // namespace h2rpc::transport
