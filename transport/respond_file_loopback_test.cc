// respondWithFile() over real loopback connections: plain TCP sends the body with sendfile(2)
// (UvSocket::sentFileBytes counts it), TLS reads it into memory and encrypts it; both must give
// the file byte for byte, through small windows, with ranges, two files at once, a reset in
// the middle and a reader that stops reading.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/connect.h"
#include "transport/server.h"
#include "transport/testing/ok_tls_server.h"
#include "transport/testing/run_until.h"
#include "transport/uv_loop.h"
#include "transport/uv_loop_thread.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;
using testing::OnLoop;

// Options for bytes [offset, offset + length) of the file (negative length: to its end), the
// callbacks left unset (designated initializers would leave them unnamed: -Wextra warns).
RespondWithFileOptions fileOptions(int64_t offset, int64_t length = -1) {
  RespondWithFileOptions o;
  o.offset = offset, o.length = length;
  return o;
}

// A file of `size` pseudo-random bytes.
std::string makeFile(const std::string& name, size_t size, std::string* contents) {
  std::mt19937 rng(static_cast<uint32_t>(size) * 7 + 1);
  contents->resize(size);
  for (char& c : *contents) c = static_cast<char>(rng());
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << *contents;
  return path;
}

struct Response {
  explicit Response(ClientHttp2Stream& s) {
    s.onResponse([this](const Headers& h, uint8_t) { headers = h; });
    s.onData([this](std::string_view d) { body += d; });
    s.onEnd([this] { ended = true; });
    s.onClose([this] { closed = true; });
  }
  Headers headers;
  std::string body;
  bool ended = false;
  bool closed = false;
};

// A server on `loop` answering every request with respond(path of the request) and a client
// session to it on the same loop, with small stream windows (16 KiB).
struct Loopback {
  explicit Loopback(bool secure = false) {
    absl::StatusOr<std::unique_ptr<Http2Server>> created;
    ServerOptions options;
    options.sessionIdleTimeout = 0;
    if (secure) {
      TlsOptions tls;
      tls.certFile = "tests/testdata/tls/server.pem";
      tls.keyFile = "tests/testdata/tls/server.key";
      created = Http2Server::createSecureServer(&loop, tls, options);
    } else {
      created = Http2Server::createServer(&loop, options);
    }
    EXPECT_TRUE(created.ok()) << created.status();
    server = *std::move(created);
    server->onConnection([this](Socket& s) { socket = dynamic_cast<UvSocket*>(&s); });
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> s, const Headers& h, uint8_t) {
      if (respond) respond(s, h);
    });
    EXPECT_TRUE(server->listen(0, "127.0.0.1").ok());
    ConnectOptions co;
    co.settings.initialWindowSize = 16384;
    if (secure) {
      co.tls.caFile = "tests/testdata/tls/ca.pem";
      co.tls.servername = "localhost";
    }
    const std::string scheme = secure ? "https" : "http";
    client = *connect(&loop, scheme + "://127.0.0.1:" + std::to_string(server->port()), co);
  }
  ~Loopback() {
    client->destroy();
    server->close();
    server->closeAllSessions();
    RunUntil(loop, [&] { return server->sessionCount() == 0; });
  }
  std::shared_ptr<ClientHttp2Stream> get(const std::string& path) {
    auto req = client->request({{":path", path}});
    EXPECT_TRUE(req.ok()) << req.status();
    return *req;
  }

  UvLoop loop;
  std::unique_ptr<Http2Server> server;
  std::shared_ptr<ClientHttp2Session> client;
  UvSocket* socket = nullptr;  // the server's side of the connection
  std::function<void(std::shared_ptr<ServerHttp2Stream>, const Headers&)> respond;
};

TEST(RespondWithFileLoopbackTest, ALargeFileOverTcpGoesThroughSendfile) {
  std::string contents;
  const std::string path = makeFile("lb-large.bin", 6 << 20, &contents);
  Loopback lb;
  lb.respond = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path).ok());
  };
  auto req = lb.get("/");
  Response r(*req);
  ASSERT_TRUE(RunUntil(lb.loop, [&] { return r.closed; }, 2000000));
  ASSERT_NE(lb.socket, nullptr);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(r.headers.get("content-length"), std::to_string(contents.size()));
  ASSERT_EQ(r.body.size(), contents.size());
  EXPECT_TRUE(r.body == contents);
  EXPECT_EQ(req->rstCode(), 0u);
  // All but the one byte per wait (the uv_write that waits for the socket) went by sendfile.
  EXPECT_EQ(lb.socket->sentFileBytes() + lb.socket->sendFileWaits(), contents.size());
}

TEST(RespondWithFileLoopbackTest, WithSendfileOffTheSameBytesAreCopied) {
  std::string contents;
  const std::string path = makeFile("lb-copy.bin", 3 << 20, &contents);
  Loopback lb;
  lb.respond = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path).ok());
  };
  ASSERT_TRUE(RunUntil(lb.loop, [&] { return lb.socket != nullptr; }));
  lb.socket->setSendFile(false);
  auto req = lb.get("/");
  Response r(*req);
  ASSERT_TRUE(RunUntil(lb.loop, [&] { return r.closed; }, 2000000));
  EXPECT_TRUE(r.body == contents);
  EXPECT_EQ(lb.socket->sentFileBytes(), 0u);
}

TEST(RespondWithFileLoopbackTest, RangesAndTwoFilesAtOnce) {
  std::string a, b;
  const std::string path_a = makeFile("lb-a.bin", 3 << 20, &a);
  const std::string path_b = makeFile("lb-b.bin", (2 << 20) + 17, &b);
  Loopback lb;
  lb.respond = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    if (h.get(":path") == "/a") {
      ASSERT_TRUE(s->respondWithFile(path_a, {}, fileOptions(12345, 2 << 20)).ok());
    } else {
      const int fd = ::open(path_b.c_str(), O_RDONLY | O_CLOEXEC);
      ASSERT_GE(fd, 0);
      ASSERT_TRUE(s->respondWithFD(fd, {}, fileOptions(1)).ok());
      s->onClose([fd] { ::close(fd); });  // the application's descriptor, closed by it
    }
  };
  auto ra = lb.get("/a");
  auto rb = lb.get("/b");
  Response resp_a(*ra), resp_b(*rb);
  ASSERT_TRUE(RunUntil(lb.loop, [&] { return resp_a.closed && resp_b.closed; }, 2000000));
  EXPECT_EQ(resp_a.headers.get("content-length"), std::to_string(2 << 20));
  EXPECT_TRUE(resp_a.body == a.substr(12345, 2 << 20));
  EXPECT_TRUE(resp_b.body == b.substr(1));
  EXPECT_TRUE(resp_a.ended && resp_b.ended);
  EXPECT_GT(lb.socket->sentFileBytes(), (4u << 20) - 1000);
}

TEST(RespondWithFileLoopbackTest, APeerResetMidFileLeavesTheConnectionInStep) {
  std::string contents, second;
  const std::string path = makeFile("lb-reset.bin", 4 << 20, &contents);
  const std::string path2 = makeFile("lb-second.bin", 1 << 20, &second);
  Loopback lb;
  lb.respond = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    ASSERT_TRUE(s->respondWithFile(h.get(":path") == "/first" ? path : path2).ok());
  };
  auto req = lb.get("/first");
  std::string body;
  bool closed = false;
  req->onData([&](std::string_view d) {
    body += d;
    if (body.size() >= 300000 && !req->closed()) req->close(NGHTTP2_CANCEL);
  });
  req->onClose([&] { closed = true; });
  ASSERT_TRUE(RunUntil(lb.loop, [&] { return closed; }, 2000000));
  EXPECT_LT(body.size(), contents.size());
  EXPECT_TRUE(body == contents.substr(0, body.size()));
  auto next = lb.get("/second");
  Response r(*next);
  ASSERT_TRUE(RunUntil(lb.loop, [&] { return r.closed; }, 2000000));
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(r.body == second);
}

TEST(RespondWithFileLoopbackTest, AReaderThatStopsReadingMakesSendfileWaitThenResume) {
  // The client runs on its own thread with wide windows; it is held while the server fills
  // both kernel buffers, so sendfile meets EAGAIN and the region waits for the socket.
  std::string contents;
  const std::string path = makeFile("lb-stall.bin", 24 << 20, &contents);
  UvLoop loop;
  ServerOptions options;
  options.sessionIdleTimeout = 0;
  auto server = *Http2Server::createServer(&loop, options);
  UvSocket* socket = nullptr;
  server->onConnection([&](Socket& s) { socket = dynamic_cast<UvSocket*>(&s); });
  bool got_request = false;
  bool server_stream_closed = false;
  server->onStream([&](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    got_request = true;
    s->onClose([&] { server_stream_closed = true; });
    ASSERT_TRUE(s->respondWithFile(path).ok());
  });
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  const uint16_t port = server->port();

  // A 10 ms tick, so that each turn of the server's loop is bounded in time: the waits below
  // are bounded loops even when the server has nothing to do.
  uv_timer_t tick;
  uv_timer_init(loop.uv(), &tick);
  uv_timer_start(&tick, [](uv_timer_t*) {}, 10, 10);
  constexpr int kTurns = 3000;  // 30 s at most per wait

  UvLoopThread io;
  std::shared_ptr<ClientHttp2Session> client;
  std::shared_ptr<ClientHttp2Stream> req;
  std::string body;  // client thread only until `done`
  std::promise<void> done;
  OnLoop(io, [&] {
    ConnectOptions co;
    co.settings.initialWindowSize = 64 << 20;
    client = *connect(io.loop(), "http://127.0.0.1:" + std::to_string(port), co);
    // The connection window first, then the request, in one write: by the time the server sees
    // the request it may send the whole file.
    client->onConnect([&] {
      ASSERT_TRUE(client->setLocalWindowSize(64 << 20).ok());
      req = *client->request({{":path", "/"}});
      req->onData([&](std::string_view d) { body += d; });
      req->onClose([&] { done.set_value(); });
    });
  });
  ASSERT_TRUE(RunUntil(loop, [&] { return got_request; }, kTurns));
  // Hold the client's loop: nothing reads the client socket until `release`.
  std::promise<void> release;
  std::promise<void> held;
  ASSERT_TRUE(io.loop()->executor()->post([&] {
    held.set_value();
    release.get_future().wait();
  }));
  held.get_future().wait();
  const bool waited = RunUntil(
      loop, [&] { return socket != nullptr && socket->sendFileWaits() > 0; }, kTurns);
  release.set_value();
  ASSERT_TRUE(waited);
  // The server hands the rest to the kernel as the client reads (its stream closes once the
  // END_STREAM is out); then the client reads what the kernel holds.
  ASSERT_TRUE(RunUntil(loop, [&] { return server_stream_closed; }, kTurns));
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  OnLoop(io, [&] {
    EXPECT_EQ(req->rstCode(), 0u);
    ASSERT_EQ(body.size(), contents.size());
    EXPECT_TRUE(body == contents);
    client->destroy();
  });
  io.stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
  server->close();
  server->closeAllSessions();
  RunUntil(loop, [&] { return server->sessionCount() == 0; }, kTurns);
}

TEST(RespondWithFileLoopbackTest, OverTlsTheFileIsReadAndEncryptedNotSentWithSendfile) {
  std::string contents;
  const std::string path = makeFile("lb-tls.bin", 3 << 20, &contents);
  Loopback lb(/*secure=*/true);
  lb.respond = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path, {}, fileOptions(3, (3 << 20) - 10)).ok());
  };
  auto req = lb.get("/");
  Response r(*req);
  ASSERT_TRUE(RunUntil(lb.loop, [&] { return r.closed; }, 2000000));
  ASSERT_NE(lb.socket, nullptr);  // the TCP socket under TLS
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(r.body == contents.substr(3, (3 << 20) - 10));
  EXPECT_EQ(lb.socket->sentFileBytes(), 0u);
}

}  // namespace
}  // namespace h2rpc::transport
