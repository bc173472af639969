// The memory budget: maxSessionMemory bounds what one connection's peer makes us hold, and a
// MemoryQuota bounds the sum over a server's sessions (session_memory.cc). Sans-I/O: sessions
// over in-memory sockets and a manual loop.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/manual_loop.h"
#include "transport/memory_quota.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

// A server and a client session, connected.
struct Connection {
  Connection(ManualLoop* loop, SessionOptions server_options, SessionOptions client_options = {}) {
    auto [a, b] = MemorySocket::pair(loop);
    server = *ServerHttp2Session::create(loop, std::move(a), std::move(server_options));
    client = *ClientHttp2Session::create(loop, std::move(b), "http", "localhost:8080",
                                         std::move(client_options));
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
      streams.push_back(s);
    });
  }
  // Opens a request and returns it (the server's side lands in `streams` once the loop ran).
  std::shared_ptr<ClientHttp2Stream> request(std::string path) {
    auto req = client->request({{":method", "POST"}, {":path", path}});
    EXPECT_TRUE(req.ok()) << req.status();
    return req.ok() ? *req : nullptr;
  }
  std::shared_ptr<ServerHttp2Session> server;
  std::shared_ptr<ClientHttp2Session> client;
  std::vector<std::shared_ptr<ServerHttp2Stream>> streams;
};

SessionOptions WithMemory(uint32_t megabytes) {
  SessionOptions o;
  o.maxSessionMemory = megabytes;
  return o;
}

// A client that advertises a zero stream window: the server can send it nothing.
SessionOptions ShutWindow() {
  SessionOptions o;
  o.settings.initialWindowSize = 0;
  return o;
}

TEST(SessionMemoryTest, RetainedBytesOverTheBudgetResetTheLargestStream) {
  ManualLoop loop;
  Connection c(&loop, WithMemory(1));
  auto small = c.request("/small");
  auto big = c.request("/big");
  loop.runUntilIdle();
  ASSERT_EQ(c.streams.size(), 2u);
  std::vector<std::string> events;
  c.streams[1]->onError([&](const absl::Status& e) { events.push_back("error"); });
  c.streams[1]->onClose([&] { events.push_back("close"); });

  c.streams[0]->setRetainedBytes(100000);
  c.streams[1]->setRetainedBytes(500000);
  EXPECT_EQ(c.server->memoryResets(), 0u);  // 600 KB: within 1 MB
  c.streams[1]->setRetainedBytes(950000);   // 1.05 MB: over
  EXPECT_EQ(c.server->memoryResets(), 1u);
  EXPECT_TRUE(c.streams[1]->destroyed());
  EXPECT_FALSE(c.streams[0]->destroyed());
  EXPECT_LT(c.server->memoryInUse(), 1000000u);
  loop.runUntilIdle();
  EXPECT_EQ(big->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(c.streams[1]->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(events, (std::vector<std::string>{"error", "close"}));
  EXPECT_FALSE(small->destroyed());
  // The session goes on: a new stream is served.
  c.request("/next");
  loop.runUntilIdle();
  EXPECT_EQ(c.streams.size(), 3u);
}

TEST(SessionMemoryTest, UnsentDataTheWindowHoldsBackCountsAgainstThePeer) {
  ManualLoop loop;
  Connection c(&loop, WithMemory(1), ShutWindow());
  std::vector<std::shared_ptr<ClientHttp2Stream>> reqs;
  for (int i = 0; i < 3; ++i) reqs.push_back(c.request("/r" + std::to_string(i)));
  loop.runUntilIdle();
  ASSERT_EQ(c.streams.size(), 3u);
  int write_errors = 0;
  for (auto& s : c.streams) {
    ASSERT_TRUE(s->respond().ok());
    s->write(std::string(400000, 'x'), [&](absl::Status st) { write_errors += !st.ok(); });
    loop.runUntilIdle();
  }
  // 1.2 MB would be held for a peer that reads nothing: one stream was reset, 800 KB remain.
  EXPECT_EQ(c.server->memoryResets(), 1u);
  EXPECT_EQ(write_errors, 1);
  EXPECT_LT(c.server->memoryInUse(), 1000000u);
  int reset = 0;
  for (auto& r : reqs) reset += r->rstCode() == constants::NGHTTP2_ENHANCE_YOUR_CALM;
  EXPECT_EQ(reset, 1);
}

TEST(SessionMemoryTest, AWriteToAnOpenWindowIsNotHeldAgainstThePeer) {
  ManualLoop loop;
  Connection c(&loop, WithMemory(1));
  auto req = c.request("/download");
  std::string body;
  req->onData([&](std::string_view d) { body += d; });
  loop.runUntilIdle();
  ASSERT_EQ(c.streams.size(), 1u);
  ASSERT_TRUE(c.streams[0]->respond().ok());
  // 2 MB in one write, over the budget, but the peer's window is open: it flows out.
  c.streams[0]->end(std::string(2000000, 'd'));
  EXPECT_FALSE(c.streams[0]->destroyed());
  loop.runUntilIdle();
  EXPECT_EQ(c.server->memoryResets(), 0u);
  EXPECT_EQ(body.size(), 2000000u);
  EXPECT_TRUE(req->readableEnded());
}

TEST(SessionMemoryTest, AWindowThatRanOutCountsOnceThePeerLeftItShutForASecond) {
  ManualLoop loop;
  Connection c(&loop, WithMemory(1));
  auto download = c.request("/download");
  download->pause();  // reads nothing: the stream window (65535) runs out and stays shut
  auto other = c.request("/other");
  loop.runUntilIdle();
  ASSERT_EQ(c.streams.size(), 2u);
  ASSERT_TRUE(c.streams[0]->respond().ok());
  c.streams[0]->write(std::string(2000000, 'd'));
  loop.runUntilIdle();
  // Over the budget, but a reading peer would credit us within a round trip: growth elsewhere
  // on the session (here, retained bytes of the other stream) resets nothing yet.
  c.streams[1]->setRetainedBytes(1000);
  EXPECT_EQ(c.server->memoryResets(), 0u);
  loop.advance(999);
  c.streams[1]->setRetainedBytes(2000);
  EXPECT_EQ(c.server->memoryResets(), 0u);
  // A second without credit: the peer holds those bytes; the stream goes.
  loop.advance(1);
  c.streams[1]->setRetainedBytes(3000);
  EXPECT_EQ(c.server->memoryResets(), 1u);
  loop.runUntilIdle();
  EXPECT_EQ(download->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_FALSE(c.streams[1]->destroyed());
}

TEST(SessionMemoryTest, CreditFromThePeerRestartsTheGrace) {
  ManualLoop loop;
  Connection c(&loop, WithMemory(1));
  auto download = c.request("/download");
  size_t got = 0;
  size_t pause_at = 0;
  download->onData([&](std::string_view d) {
    got += d.size();
    if (got >= pause_at) download->pause();
  });
  download->pause();
  auto other = c.request("/other");
  loop.runUntilIdle();
  ASSERT_TRUE(c.streams[0]->respond().ok());
  c.streams[0]->write(std::string(2000000, 'd'));
  loop.runUntilIdle();
  c.streams[1]->setRetainedBytes(1000);  // the stall clock starts
  loop.advance(900);
  // The peer reads a little (over half its window, so that it sends WINDOW_UPDATE): the credit
  // restarts the clock.
  const size_t sent_before = 2000000 - c.streams[0]->bufferSize();
  pause_at = 40000;
  download->resume();
  loop.runUntilIdle();
  EXPECT_GE(got, pause_at);
  EXPECT_GT(2000000 - c.streams[0]->bufferSize(), sent_before);  // the credit let more out
  c.streams[1]->setRetainedBytes(2000);
  loop.advance(900);
  c.streams[1]->setRetainedBytes(3000);
  EXPECT_EQ(c.server->memoryResets(), 0u);
}

// A client holds what its application asked for (its own requests, the responses it reads):
// bounded by its calls, not by the server. Client sessions count but never reset.
TEST(SessionMemoryTest, AClientSessionCountsButResetsNothing) {
  ManualLoop loop;
  SessionOptions server;
  server.settings.initialWindowSize = 0;  // the server takes nothing of the body
  Connection c(&loop, server, WithMemory(1));
  auto upload = c.request("/upload");
  upload->write(std::string(2000000, 'u'));
  auto download = c.request("/download");
  download->setRetainedBytes(2000000);  // e.g. a large response being assembled
  loop.runUntilIdle();
  ASSERT_EQ(c.streams.size(), 2u);
  ASSERT_TRUE(c.streams[1]->respond().ok());
  c.streams[1]->write(std::string(1000, 'r'));  // growth on the client: a response arrives
  loop.advance(5000);
  c.streams[1]->write(std::string(1000, 'r'));
  loop.runUntilIdle();
  EXPECT_GT(c.client->memoryInUse(), 3000000u);
  EXPECT_EQ(c.client->memoryResets(), 0u);
  EXPECT_FALSE(upload->destroyed());
  EXPECT_FALSE(download->destroyed());
}

// A peer that opens its windows wide but stops reading its socket: nghttp2 is stopped at the
// socket's high-water mark (the rest stays with the stream), and a second later those bytes are
// held against it.
TEST(SessionMemoryTest, APeerThatStopsReadingItsSocketHoldsWhatWaits) {
  ManualLoop loop;
  SessionOptions wide;
  wide.settings.initialWindowSize = 0x7fffffff;
  Connection c(&loop, WithMemory(1), wide);
  ASSERT_TRUE(c.client->setLocalWindowSize(0x7fffffff).ok());
  auto download = c.request("/download");
  auto other = c.request("/other");
  loop.runUntilIdle();
  ASSERT_EQ(c.streams.size(), 2u);
  c.client->socket()->pauseReading();
  ASSERT_TRUE(c.streams[0]->respond().ok());
  c.streams[0]->write(std::string(5000000, 'd'));
  loop.runUntilIdle();
  EXPECT_LT(c.server->socket()->writeQueueSize(), 512u * 1024);  // not 5 MB
  EXPECT_GT(c.streams[0]->bufferSize(), 4000000u);
  c.streams[1]->setRetainedBytes(1000);  // growth: the socket's stall clock starts
  EXPECT_EQ(c.server->memoryResets(), 0u);
  loop.advance(1000);
  c.streams[1]->setRetainedBytes(2000);
  EXPECT_EQ(c.server->memoryResets(), 1u);
  EXPECT_TRUE(c.streams[0]->destroyed());
  EXPECT_FALSE(c.streams[1]->destroyed());
}

// Request headers count as held: streams with large headers cannot pin a quota and lock every
// other connection out.
TEST(SessionMemoryTest, RequestHeadersCountAsHeldForTheQuota) {
  ManualLoop loop;
  auto quota = std::make_shared<MemoryQuota>(600000);
  SessionOptions server = WithMemory(10);
  server.memoryQuota = quota;
  server.maxHeaderListPairs = 1000;
  Connection hostile(&loop, server);
  Connection fair(&loop, server);
  std::vector<std::shared_ptr<ClientHttp2Stream>> held;
  for (int i = 0; i < 60; ++i) {
    auto req = hostile.client->request({{":method", "POST"}, {":path", "/h"},
                                        {"x-big", std::string(15000, 'h')}});
    ASSERT_TRUE(req.ok());
    held.push_back(*req);
  }
  loop.runUntilIdle();
  auto f = fair.request("/fair");
  loop.runUntilIdle();
  ASSERT_EQ(fair.streams.size(), 1u);  // admitted: hostile streams gave way
  EXPECT_GT(hostile.server->memoryResets(), 0u);
  EXPECT_EQ(f->rstCode(), std::nullopt);
}

// end(data, cb): when the write itself gets the stream reset, cb still runs, with the error.
TEST(SessionMemoryTest, EndCallbackRunsWhenItsWriteIsReset) {
  ManualLoop loop;
  Connection c(&loop, WithMemory(1), ShutWindow());
  auto req = c.request("/r");
  loop.runUntilIdle();
  ASSERT_EQ(c.streams.size(), 1u);
  ASSERT_TRUE(c.streams[0]->respond().ok());
  std::optional<absl::Status> ended;
  c.streams[0]->end(std::string(2000000, 'x'), [&](absl::Status st) { ended = st; });
  loop.runUntilIdle();
  EXPECT_TRUE(c.streams[0]->destroyed());
  ASSERT_TRUE(ended.has_value());
  EXPECT_FALSE(ended->ok());
}

TEST(SessionMemoryTest, UnreadDataCountsAndIsResetOverTheBudget) {
  // The server never reads; its 1 MB stream windows let each client push up to 1 MB.
  ManualLoop loop;
  SessionOptions server = WithMemory(1);
  server.settings.initialWindowSize = 1 << 20;
  Connection c(&loop, server);
  auto a = c.request("/a");
  auto b = c.request("/b");
  a->write(std::string(700000, 'a'));
  loop.runUntilIdle();
  EXPECT_EQ(c.server->memoryResets(), 0u);
  b->write(std::string(500000, 'b'));
  loop.runUntilIdle();
  EXPECT_EQ(c.server->memoryResets(), 1u);
  EXPECT_EQ(a->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);  // it held the most
  EXPECT_FALSE(b->destroyed());
  EXPECT_LT(c.server->memoryInUse(), 1000000u);
}

TEST(SessionMemoryTest, QuotaTakesFromTheLargestSessionFirst) {
  ManualLoop loop;
  auto quota = std::make_shared<MemoryQuota>(1000000);
  SessionOptions server = WithMemory(10);
  server.memoryQuota = quota;
  Connection hostile(&loop, server, ShutWindow());
  Connection fair(&loop, server, ShutWindow());
  auto h1 = hostile.request("/h1");
  auto h2 = hostile.request("/h2");
  auto f1 = fair.request("/f1");
  loop.runUntilIdle();
  ASSERT_EQ(hostile.streams.size(), 2u);
  ASSERT_EQ(fair.streams.size(), 1u);
  EXPECT_EQ(quota->sessionCount(), 2u);
  for (auto& s : hostile.streams) {
    ASSERT_TRUE(s->respond().ok());
    s->write(std::string(400000, 'h'));
  }
  loop.runUntilIdle();
  EXPECT_EQ(hostile.server->memoryResets(), 0u);  // 800 KB of 1 MB
  ASSERT_TRUE(fair.streams[0]->respond().ok());
  fair.streams[0]->write(std::string(300000, 'f'));
  loop.runUntilIdle();
  // The fair session's write took the server over: the hostile one gave a stream back.
  EXPECT_EQ(hostile.server->memoryResets(), 1u);
  EXPECT_EQ(fair.server->memoryResets(), 0u);
  EXPECT_FALSE(fair.streams[0]->destroyed());
  EXPECT_LE(quota->used(), quota->limit());

  // A session that goes leaves the quota.
  hostile.server->destroy();
  loop.runUntilIdle();
  EXPECT_EQ(quota->sessionCount(), 1u);
}

TEST(SessionMemoryTest, QuotaRefusesNewStreamsWhenNothingCanBeReclaimed) {
  ManualLoop loop;
  auto quota = std::make_shared<MemoryQuota>(1);  // a session's own bookkeeping is over it
  SessionOptions server = WithMemory(10);
  server.memoryQuota = quota;
  Connection c(&loop, server);
  std::vector<std::shared_ptr<ClientHttp2Stream>> reqs;
  // More than maxSessionRejectedStreams (100): refusals for the server's sake are not held
  // against the peer, whose session goes on.
  for (int i = 0; i < 150; ++i) reqs.push_back(c.request("/r"));
  loop.runUntilIdle();
  EXPECT_TRUE(c.streams.empty());
  for (auto& r : reqs) EXPECT_EQ(r->rstCode(), constants::NGHTTP2_REFUSED_STREAM);
  EXPECT_FALSE(c.server->destroyed());
  EXPECT_FALSE(c.client->destroyed());
  EXPECT_EQ(c.server->memoryResets(), 0u);
}

// nghttp2 1.52 reallocates its frame buffer to a DATA frame's size + 10 bytes the first time a
// frame larger than 16 KiB goes out, and kept it for the session's life, counted as the
// session's memory: a server whose clients (allowing 1 MiB frames, as gRPC clients do) had each
// received one ~60 KB response refused every new stream once their number times ~70 KB passed
// the quota, though they held nothing. Connections that received a large response and stay
// open idle must leave the quota room for a newcomer.
TEST(SessionMemoryTest, ConnectionsThatReceivedALargeResponseLeaveTheQuotaRoom) {
  ManualLoop loop;
  auto quota = std::make_shared<MemoryQuota>(1000000);
  SessionOptions server = WithMemory(10);
  server.memoryQuota = quota;
  SessionOptions large_frames;
  large_frames.settings.maxFrameSize = 1 << 20;
  constexpr int kConnections = 20;
  constexpr size_t kResponse = 60000;
  std::vector<std::unique_ptr<Connection>> idle;
  for (int i = 0; i < kConnections; ++i) {
    auto c = std::make_unique<Connection>(&loop, server, large_frames);
    auto req = c->request("/large");
    size_t received = 0;
    req->onData([&](std::string_view d) { received += d.size(); });
    req->end();
    loop.runUntilIdle();
    ASSERT_EQ(c->streams.size(), 1u) << "connection " << i << " refused, quota used "
                                     << quota->used() << " of " << quota->limit();
    ASSERT_TRUE(c->streams[0]->respond().ok());
    c->streams[0]->end(std::string(kResponse, 'm'));
    loop.runUntilIdle();
    EXPECT_EQ(received, kResponse);
    idle.push_back(std::move(c));
  }
  // What each idle connection counts once its response is gone: nghttp2's session, its stream
  // map and header tables, not a frame buffer of the response's size.
  for (auto& c : idle) EXPECT_LT(c->server->memoryInUse(), 20000u);
  Connection newcomer(&loop, server, large_frames);
  auto req = newcomer.request("/new");
  req->end();
  loop.runUntilIdle();
  EXPECT_EQ(newcomer.streams.size(), 1u);
  EXPECT_EQ(req->rstCode(), std::nullopt);
  EXPECT_EQ(newcomer.server->memoryResets(), 0u);
}

}  // namespace
}  // namespace h2rpc::transport
