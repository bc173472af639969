// TlsSocket over an in-memory socket pair and a manual loop: real TLS (the test certificates of
// tests/testdata/tls) under deterministic interleavings, and a full HTTP/2 exchange over it.
#include "transport/tls_socket.h"

#include <cstdint>
#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"
#include "transport/tls.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Bounded: a livelock fails the test instead of hanging it.
constexpr size_t kRunLimit = 100000;

// The test's working directory is the workspace root in the runfiles tree.
std::string TestFile(const std::string& name) { return "tests/testdata/tls/" + name; }

std::shared_ptr<TlsContext> ServerContext() {
  TlsOptions o;
  o.certFile = TestFile("server.pem");
  o.keyFile = TestFile("server.key");
  auto ctx = TlsContext::createServer(o);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *ctx : nullptr;
}

std::shared_ptr<TlsContext> ClientContext(const std::string& ca = "ca.pem",
                                          std::vector<std::string> alpn = {"h2"}) {
  TlsOptions o;
  o.caFile = TestFile(ca);
  o.servername = "localhost";
  o.ALPNProtocols = std::move(alpn);
  auto ctx = TlsContext::createClient(o);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *ctx : nullptr;
}

// Deterministic, non-repeating payload.
std::string Payload(size_t size, uint32_t seed = 1) {
  std::string s(size, '\0');
  uint32_t x = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// Records what a socket reports, in order.
struct Recorder : Socket::Handler {
  void onSocketConnect() override {
    events.push_back("connect");
    if (on_connect) on_connect();
  }
  void onSocketData(std::string_view d) override {
    if (events.empty() || events.back() != "data") events.push_back("data");
    data.append(d.data(), d.size());
    ++data_calls;
    if (on_data) on_data(d);
  }
  void onSocketDrain() override { ++drains; }
  void onSocketClose(absl::Status s) override {
    events.push_back(s.ok() ? "close" : "error");
    status = s;
    ++closes;
    if (on_close) on_close();
  }
  std::vector<std::string> events;
  std::string data;
  int data_calls = 0;
  int drains = 0;
  int closes = 0;
  absl::Status status;
  std::function<void()> on_connect;
  std::function<void(std::string_view)> on_data;
  std::function<void()> on_close;
};

// A client and a server TlsSocket over a MemorySocket pair.
struct TlsPair {
  explicit TlsPair(std::shared_ptr<TlsContext> client_ctx = ClientContext(),
                   std::shared_ptr<TlsContext> server_ctx = ServerContext()) {
    auto [a, b] = MemorySocket::pair(&loop);
    server_lower = a.get();
    client_lower = b.get();
    auto s = TlsSocket::create(&loop, std::move(a), server_ctx, /*isServer=*/true);
    auto c = TlsSocket::create(&loop, std::move(b), client_ctx, /*isServer=*/false);
    EXPECT_TRUE(s.ok()) << s.status();
    EXPECT_TRUE(c.ok()) << c.status();
    if (s.ok()) server = std::move(*s);
    if (c.ok()) client = std::move(*c);
    if (server) server->setHandler(&server_rec);
    if (client) client->setHandler(&client_rec);
  }
  // Runs until nothing is left to do; fails (instead of hanging) on a livelock.
  void run() {
    loop.runUntilIdle(kRunLimit);
    EXPECT_TRUE(loop.idle()) << "the loop did not settle";
  }

  ManualLoop loop;
  MemorySocket* server_lower;  // owned by `server`
  MemorySocket* client_lower;  // owned by `client`
  std::unique_ptr<TlsSocket> server;
  std::unique_ptr<TlsSocket> client;
  Recorder server_rec;
  Recorder client_rec;
};

TEST(TlsSocketTest, CreateChecksItsArguments) {
  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  auto wrong_role = TlsSocket::create(&loop, std::move(a), ClientContext(), /*isServer=*/true);
  EXPECT_EQ(wrong_role.status().code(), absl::StatusCode::kInvalidArgument);
  auto no_ctx = TlsSocket::create(&loop, std::move(b), nullptr, /*isServer=*/false);
  EXPECT_EQ(no_ctx.status().code(), absl::StatusCode::kInvalidArgument);
  auto no_lower = TlsSocket::create(&loop, nullptr, ClientContext(), /*isServer=*/false);
  EXPECT_EQ(no_lower.status().code(), absl::StatusCode::kInvalidArgument);
  auto [c, d] = MemorySocket::pair(&loop);
  auto bad_name = TlsSocket::create(&loop, std::move(c), ClientContext(), /*isServer=*/false,
                                    std::string("bad\0name", 8));
  EXPECT_EQ(bad_name.status().code(), absl::StatusCode::kInvalidArgument);
  loop.runUntilIdle(kRunLimit);
}

TEST(TlsSocketTest, HandshakeAlpnAndDataBothWays) {
  TlsPair p;
  EXPECT_TRUE(p.client->encrypted());
  EXPECT_TRUE(p.client->connecting());
  EXPECT_EQ(p.client->alpnProtocol(), "");
  // Written before the handshake: sent once it is done.
  p.client->write("early ");
  p.run();

  EXPECT_THAT(p.client_rec.events, ElementsAre("connect"));
  EXPECT_THAT(p.server_rec.events, ElementsAre("connect", "data"));
  EXPECT_FALSE(p.client->connecting());
  EXPECT_FALSE(p.server->connecting());
  EXPECT_EQ(p.client->alpnProtocol(), "h2");
  EXPECT_EQ(p.server->alpnProtocol(), "h2");
  EXPECT_THAT(p.server->clientAlpnProtocols(), ElementsAre("h2"));
  EXPECT_EQ(p.client->protocolVersion(), "TLSv1.3");
  EXPECT_EQ(p.server->protocolVersion(), "TLSv1.3");
  EXPECT_TRUE(p.client->verifyResult().ok()) << p.client->verifyResult();
  EXPECT_EQ(p.server->servername(), "localhost");
  EXPECT_TRUE(p.server->encrypted());

  p.client->write("hello");
  p.server->write("world");
  p.run();
  EXPECT_EQ(p.server_rec.data, "early hello");
  EXPECT_EQ(p.client_rec.data, "world");

  // 1 MiB each way, in several writes.
  const std::string up = Payload(1 << 20, 1);
  const std::string down = Payload(1 << 20, 2);
  p.server_rec.data.clear();
  p.client_rec.data.clear();
  for (size_t off = 0; off < up.size(); off += 100000) p.client->write(up.substr(off, 100000));
  p.server->write(down);
  EXPECT_GT(p.client->writeQueueSize(), up.size());  // ciphertext queued in the lower socket
  EXPECT_GT(p.server->writeQueueSize(), down.size());
  p.run();
  EXPECT_EQ(p.server_rec.data.size(), up.size());
  EXPECT_TRUE(p.server_rec.data == up);
  EXPECT_EQ(p.client_rec.data.size(), down.size());
  EXPECT_TRUE(p.client_rec.data == down);
  EXPECT_EQ(p.client->writeQueueSize(), 0u);
  EXPECT_EQ(p.server->writeQueueSize(), 0u);
  EXPECT_GE(p.client_rec.drains, 1);
  EXPECT_GE(p.server_rec.drains, 1);
  EXPECT_EQ(p.client_rec.closes, 0);
  EXPECT_EQ(p.server_rec.closes, 0);
  // What went over the wire is ciphertext (a bit larger than the plaintext).
  EXPECT_GT(p.server_lower->bytesRead(), up.size());
}

TEST(TlsSocketTest, NoCommonAlpnIsRefused) {
  // Node 20 aborts the handshake (alert no_application_protocol) when the client offers ALPN
  // without h2; both sides see an error close, neither a connect.
  TlsPair p(ClientContext("ca.pem", {"http/1.1"}));
  p.run();
  EXPECT_EQ(std::count(p.client_rec.events.begin(), p.client_rec.events.end(), "connect"), 0);
  EXPECT_EQ(std::count(p.server_rec.events.begin(), p.server_rec.events.end(), "connect"), 0);
  EXPECT_EQ(p.client_rec.closes, 1);
  EXPECT_EQ(p.server_rec.closes, 1);
  EXPECT_THAT(p.client->error().message(), HasSubstr("no application protocol"));
  EXPECT_THAT(p.server->clientAlpnProtocols(), ElementsAre("http/1.1"));
}

TEST(TlsSocketTest, Http2SessionsOverTls) {
  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  auto server_tls = TlsSocket::create(&loop, std::move(a), ServerContext(), /*isServer=*/true);
  auto client_tls = TlsSocket::create(&loop, std::move(b), ClientContext(), /*isServer=*/false,
                                      "localhost");
  ASSERT_TRUE(server_tls.ok()) << server_tls.status();
  ASSERT_TRUE(client_tls.ok()) << client_tls.status();
  auto server = ServerHttp2Session::create(&loop, std::move(*server_tls));
  auto client = ClientHttp2Session::create(&loop, std::move(*client_tls), "https", "localhost:443");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(client.ok()) << client.status();

  Headers request_headers;
  std::string request_body;
  const std::string big = Payload(300000, 3);
  std::vector<std::shared_ptr<ServerHttp2Stream>> streams;  // kept here: no capture cycle
  (*server)->onStream([&](std::shared_ptr<ServerHttp2Stream> stream, const Headers& h, uint8_t) {
    streams.push_back(stream);
    ServerHttp2Stream* s = stream.get();
    request_headers = h;
    s->onData([&](std::string_view d) { request_body.append(d.data(), d.size()); });
    s->onEnd([s, &big] {
      ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
      s->write("hello over tls ");
      s->end(big);
    });
  });
  bool client_connected = false;
  (*client)->onConnect([&] { client_connected = true; });
  auto req = (*client)->request({{":method", "POST"}, {":path", "/"}});
  ASSERT_TRUE(req.ok()) << req.status();
  Headers response;
  std::string body;
  bool ended = false;
  (*req)->onResponse([&](const Headers& h, uint8_t) { response = h; });
  (*req)->onData([&](std::string_view d) { body.append(d.data(), d.size()); });
  (*req)->onEnd([&] { ended = true; });
  (*req)->end("ping");
  loop.runUntilIdle(kRunLimit);
  EXPECT_TRUE(loop.idle());

  EXPECT_TRUE(client_connected);
  EXPECT_EQ(request_headers.get(":scheme"), "https");
  EXPECT_EQ(request_headers.get(":authority"), "localhost:443");
  EXPECT_EQ(request_body, "ping");
  EXPECT_EQ(response.get(":status"), "200");
  EXPECT_TRUE(ended);
  ASSERT_EQ(body.size(), 15 + big.size());
  EXPECT_EQ(body.substr(0, 15), "hello over tls ");
  EXPECT_TRUE(body.substr(15) == big);
  EXPECT_EQ((*client)->alpnProtocol(), "h2");
  EXPECT_TRUE((*client)->encrypted());
  EXPECT_EQ((*server)->alpnProtocol(), "h2");
  EXPECT_TRUE((*server)->encrypted());

  // A graceful close goes through close_notify: both sessions close.
  bool client_closed = false, server_closed = false;
  (*client)->onClose([&] { client_closed = true; });
  (*server)->onClose([&] { server_closed = true; });
  (*client)->close();
  loop.runUntilIdle(kRunLimit);
  EXPECT_TRUE(loop.idle());
  EXPECT_TRUE(client_closed);
  EXPECT_TRUE(server_closed);
}

TEST(TlsSocketTest, WrongCaFailsVerificationOnBothSides) {
  TlsPair p(ClientContext("other_ca.pem"));
  p.client->write("never sent");
  p.run();
  EXPECT_THAT(p.client_rec.events, ElementsAre("error"));
  EXPECT_EQ(p.client_rec.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(p.client_rec.status.message(), HasSubstr("certificate verify failed"));
  EXPECT_THAT(p.client_rec.status.message(), HasSubstr("unable to get local issuer certificate"));
  EXPECT_EQ(p.client->error(), p.client_rec.status);
  // The server got the client's alert.
  EXPECT_THAT(p.server_rec.events, ElementsAre("error"));
  EXPECT_EQ(p.server_rec.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(p.server_rec.status.message(), HasSubstr("alert unknown ca"));
  EXPECT_EQ(p.server_rec.data, "");
  // Writes after the failure go nowhere, and nothing else is reported.
  p.client->write("x");
  p.client->end();
  p.run();
  EXPECT_EQ(p.client_rec.closes, 1);
  EXPECT_EQ(p.server_rec.closes, 1);
}

TEST(TlsSocketTest, RespondWithFileOverTlsIsReadAndEncryptedNotSentFromTheFile) {
  // The TCP socket under TLS could send files (a MemorySocket told so), but TLS must encrypt in
  // user space: the session sees a socket that cannot, and reads the file into memory.
  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  MemorySocket* lower = a.get();
  lower->setCanSendFile(true);
  auto server_tls = TlsSocket::create(&loop, std::move(a), ServerContext(), /*isServer=*/true);
  auto client_tls = TlsSocket::create(&loop, std::move(b), ClientContext(), /*isServer=*/false,
                                      "localhost");
  ASSERT_TRUE(server_tls.ok()) << server_tls.status();
  ASSERT_TRUE(client_tls.ok()) << client_tls.status();
  EXPECT_FALSE((*server_tls)->canSendFile());
  auto server = ServerHttp2Session::create(&loop, std::move(*server_tls));
  auto client = ClientHttp2Session::create(&loop, std::move(*client_tls), "https", "localhost:443");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string contents = Payload(200000, 5);
  const std::string path = ::testing::TempDir() + "/tls-file.bin";
  {
    std::ofstream out(path, std::ios::binary);
    out << contents;
  }
  std::vector<std::shared_ptr<ServerHttp2Stream>> streams;
  (*server)->onStream([&](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    streams.push_back(s);
    ASSERT_TRUE(s->respondWithFile(path).ok());
  });
  auto req = (*client)->request({{":path", "/"}});
  ASSERT_TRUE(req.ok()) << req.status();
  std::string body;
  bool ended = false;
  (*req)->onData([&](std::string_view d) { body.append(d.data(), d.size()); });
  (*req)->onEnd([&] { ended = true; });
  loop.runUntilIdle(kRunLimit);
  EXPECT_TRUE(ended);
  ASSERT_EQ(body.size(), contents.size());
  EXPECT_TRUE(body == contents);
  EXPECT_EQ(lower->sendFileCalls(), 0u);
  EXPECT_GT(lower->bytesWritten(), contents.size());  // all of it encrypted, through write()
  (*client)->destroy();
  (*server)->destroy();
  loop.runUntilIdle(kRunLimit);
}

TEST(TlsSocketTest, WrongCaMakesTheClientSessionEmitError) {
  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  auto server_tls = TlsSocket::create(&loop, std::move(a), ServerContext(), /*isServer=*/true);
  auto client_tls =
      TlsSocket::create(&loop, std::move(b), ClientContext("other_ca.pem"), /*isServer=*/false);
  ASSERT_TRUE(server_tls.ok());
  ASSERT_TRUE(client_tls.ok());
  auto server = ServerHttp2Session::create(&loop, std::move(*server_tls));
  auto client = ClientHttp2Session::create(&loop, std::move(*client_tls), "https", "localhost:443");
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(client.ok());
  std::vector<std::string> client_events, server_events;
  absl::Status client_error;
  (*client)->onError([&](const absl::Status& e) {
    client_events.push_back("error");
    client_error = e;
  });
  (*client)->onClose([&] { client_events.push_back("close"); });
  (*server)->onError([&](const absl::Status&) { server_events.push_back("error"); });
  (*server)->onClose([&] { server_events.push_back("close"); });
  (*client)->onConnect([&] { client_events.push_back("connect"); });
  auto req = (*client)->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  bool req_closed = false;
  (*req)->onClose([&] { req_closed = true; });
  loop.runUntilIdle(kRunLimit);
  EXPECT_TRUE(loop.idle());
  EXPECT_THAT(client_events, ElementsAre("error", "close"));
  EXPECT_THAT(client_error.message(), HasSubstr("certificate verify failed"));
  EXPECT_THAT(server_events, ElementsAre("error", "close"));
  EXPECT_TRUE(req_closed);
  EXPECT_TRUE((*client)->destroyed());
  EXPECT_TRUE((*server)->destroyed());
}

TEST(TlsSocketTest, GarbageFromARawPeerIsAnErrorNotACrash) {
  ManualLoop loop;
  auto [a, raw] = MemorySocket::pair(&loop);
  auto server = TlsSocket::create(&loop, std::move(a), ServerContext(), /*isServer=*/true);
  ASSERT_TRUE(server.ok());
  Recorder server_rec, raw_rec;
  (*server)->setHandler(&server_rec);
  raw->setHandler(&raw_rec);
  raw->write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  loop.runUntilIdle(kRunLimit);
  EXPECT_TRUE(loop.idle());
  EXPECT_THAT(server_rec.events, ElementsAre("error"));
  EXPECT_EQ(server_rec.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(server_rec.status.message(), HasSubstr("TLS"));
  EXPECT_THAT(server_rec.status.message(), HasSubstr("http request"));
  // The connection was closed (OpenSSL sends no alert to what is not TLS at all).
  EXPECT_THAT(raw_rec.events, ElementsAre("connect", "close"));
  // More garbage after the failure changes nothing.
  raw->write(Payload(5000));
  loop.runUntilIdle(kRunLimit);
  EXPECT_EQ(server_rec.closes, 1);
}

TEST(TlsSocketTest, GarbageInATlsRecordGetsAnAlert) {
  ManualLoop loop;
  auto [a, raw] = MemorySocket::pair(&loop);
  auto server = TlsSocket::create(&loop, std::move(a), ServerContext(), /*isServer=*/true);
  ASSERT_TRUE(server.ok());
  Recorder server_rec, raw_rec;
  (*server)->setHandler(&server_rec);
  raw->setHandler(&raw_rec);
  // A handshake record whose ClientHello is nonsense.
  raw->write(std::string("\x16\x03\x01\x00\x40", 5) + std::string("\x01\x00\x00\x3c", 4) +
             Payload(60, 5));
  loop.runUntilIdle(kRunLimit);
  EXPECT_TRUE(loop.idle());
  EXPECT_THAT(server_rec.events, ElementsAre("error"));
  EXPECT_EQ(server_rec.status.code(), absl::StatusCode::kUnavailable);
  // The raw peer got the server's alert, then the close.
  ASSERT_FALSE(raw_rec.data.empty());
  EXPECT_EQ(raw_rec.data[0], '\x15');  // TLS record type: alert
  EXPECT_THAT(raw_rec.events, ElementsAre("connect", "data", "close"));
}

TEST(TlsSocketTest, GarbageAfterTheHandshakeIsAnError) {
  TlsPair p;
  p.run();
  ASSERT_THAT(p.server_rec.events, ElementsAre("connect"));
  // Bytes that are not TLS records, as if injected into the connection.
  p.client_lower->write(std::string("\x17\x03\x03\x00\x10", 5) + Payload(16));
  p.run();
  EXPECT_THAT(p.server_rec.events, ElementsAre("connect", "error"));
  EXPECT_EQ(p.server_rec.status.code(), absl::StatusCode::kUnavailable);
  // The client saw the server's alert (an error) or the close.
  EXPECT_EQ(p.client_rec.closes, 1);
}

TEST(TlsSocketTest, PeerClosingBeforeTheHandshakeIsAnError) {
  ManualLoop loop;
  auto [a, raw] = MemorySocket::pair(&loop);
  auto server = TlsSocket::create(&loop, std::move(a), ServerContext(), /*isServer=*/true);
  ASSERT_TRUE(server.ok());
  Recorder server_rec;
  (*server)->setHandler(&server_rec);
  loop.runUntilIdle(kRunLimit);
  raw->destroy();
  loop.runUntilIdle(kRunLimit);
  EXPECT_TRUE(loop.idle());
  EXPECT_THAT(server_rec.events, ElementsAre("error"));
  EXPECT_EQ(server_rec.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(server_rec.status.message(), HasSubstr("before the handshake"));
}

TEST(TlsSocketTest, PauseHoldsDataAndResumeDeliversItInOrder) {
  TlsPair p;
  p.run();
  p.server_rec.on_data = [&](std::string_view) { p.server->pauseReading(); };
  p.client->write("one ");
  p.run();
  EXPECT_EQ(p.server_rec.data, "one ");
  EXPECT_EQ(p.server_rec.data_calls, 1);
  p.server_rec.on_data = nullptr;

  // While paused, nothing is delivered and the lower socket is not read either.
  const size_t lower_read = p.server_lower->bytesRead();
  p.client->write("two ");
  p.client->write(Payload(100000, 7));
  p.client->write(" three");
  p.run();
  EXPECT_EQ(p.server_rec.data, "one ");
  EXPECT_EQ(p.server_lower->bytesRead(), lower_read);

  p.server->resumeReading();
  EXPECT_EQ(p.server_rec.data, "one ");  // not inside the call
  p.run();
  EXPECT_TRUE(p.server_rec.data == "one two " + Payload(100000, 7) + " three");
  EXPECT_GT(p.server_lower->bytesRead(), lower_read);
  EXPECT_EQ(p.server_rec.closes, 0);
}

TEST(TlsSocketTest, PlaintextThatCameWithTheHandshakeIsHeldWhilePaused) {
  TlsPair p;
  // The client's early data arrives with its Finished message: in one read at the server, which
  // pauses as soon as it is connected (a server waiting for ALPN does that).
  p.client->write("early data");
  p.server_rec.on_connect = [&] { p.server->pauseReading(); };
  p.run();
  EXPECT_THAT(p.server_rec.events, ElementsAre("connect"));
  EXPECT_EQ(p.server_rec.data, "");
  // Another handler takes over and resumes.
  Recorder next;
  p.server->setHandler(&next);
  p.server->resumeReading();
  p.run();
  EXPECT_EQ(next.data, "early data");
  EXPECT_THAT(next.events, ElementsAre("data"));
}

TEST(TlsSocketTest, CloseWaitsForHeldDataWhilePaused) {
  TlsPair p;
  p.run();
  p.server->pauseReading();
  p.client->write("last words");
  p.client->end();
  p.run();
  // The lower socket is paused: nothing read, so nothing reported.
  EXPECT_THAT(p.server_rec.events, ElementsAre("connect"));
  p.server->resumeReading();
  p.run();
  EXPECT_THAT(p.server_rec.events, ElementsAre("connect", "data", "close"));
  EXPECT_EQ(p.server_rec.data, "last words");
  EXPECT_TRUE(p.server_rec.status.ok());
  EXPECT_THAT(p.client_rec.events, ElementsAre("connect", "close"));
}

TEST(TlsSocketTest, EndSendsCloseNotifyAfterAllData) {
  TlsPair p;
  p.run();
  const std::string big = Payload(200000, 9);
  p.client->write("a");
  p.client->write(big);
  p.client->write("z");
  p.client->end();
  p.client->write("dropped: after end()");
  p.run();
  EXPECT_THAT(p.server_rec.events, ElementsAre("connect", "data", "close"));
  EXPECT_TRUE(p.server_rec.data == "a" + big + "z");
  EXPECT_TRUE(p.server_rec.status.ok()) << p.server_rec.status;
  EXPECT_TRUE(p.server->engine()->peerCloseNotify());
  // The server answered with its close_notify: the client closes cleanly too.
  EXPECT_TRUE(p.server->engine()->closeNotifySent());
  EXPECT_THAT(p.client_rec.events, ElementsAre("connect", "close"));
  EXPECT_TRUE(p.client_rec.status.ok());
  EXPECT_TRUE(p.client->engine()->peerCloseNotify());
  EXPECT_TRUE(p.client->error().ok());
}

TEST(TlsSocketTest, EndBeforeTheHandshakeSendsDataThenCloseNotify) {
  TlsPair p;
  p.client->write("queued");
  p.client->end();
  p.run();
  EXPECT_THAT(p.server_rec.events, ElementsAre("connect", "data", "close"));
  EXPECT_EQ(p.server_rec.data, "queued");
  EXPECT_TRUE(p.server_rec.status.ok());
  EXPECT_THAT(p.client_rec.events, ElementsAre("connect", "close"));
}

TEST(TlsSocketTest, LowerCloseWithoutCloseNotifyIsAnOrderlyClose) {
  TlsPair p;
  p.run();
  p.client->write("bye");
  p.run();
  p.client->destroy();  // no close_notify; the connection just drops
  p.run();
  EXPECT_THAT(p.server_rec.events, ElementsAre("connect", "data", "close"));
  EXPECT_TRUE(p.server_rec.status.ok());
  // destroy() tells no one on its own side.
  EXPECT_THAT(p.client_rec.events, ElementsAre("connect"));
}

TEST(TlsSocketTest, HandlerMayDeleteTheSocketInsideCallbacks) {
  {
    TlsPair p;
    p.server_rec.on_connect = [&] { p.server.reset(); };
    p.run();
    EXPECT_EQ(p.server, nullptr);
    EXPECT_THAT(p.client_rec.events, ElementsAre("connect", "close"));
  }
  {
    TlsPair p;
    p.run();
    p.server_rec.on_data = [&](std::string_view) { p.server.reset(); };
    p.client->write("x");
    p.run();
    EXPECT_EQ(p.server, nullptr);
    EXPECT_EQ(p.server_rec.data, "x");
    EXPECT_EQ(p.client_rec.closes, 1);
  }
  {
    TlsPair p(ClientContext("other_ca.pem"));
    p.client_rec.on_close = [&] { p.client.reset(); };
    p.run();
    EXPECT_EQ(p.client, nullptr);
    EXPECT_THAT(p.client_rec.events, ElementsAre("error"));
  }
  {
    TlsPair p;
    p.run();
    p.server_rec.on_data = [&](std::string_view) { p.server->destroy(); };
    p.client->write("x");
    p.client->end();
    p.run();
    EXPECT_THAT(p.server_rec.events, ElementsAre("connect", "data"));
  }
}

}  // namespace
}  // namespace h2rpc::transport
