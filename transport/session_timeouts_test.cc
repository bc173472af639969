// SessionTimeouts on a server session over an in-memory socket and a manual clock: each timeout
// fires exactly at its deadline and not a millisecond before, and what must hold a connection
// open (activity for idle, an open stream, a completed handshake) does.
#include "transport/session_timeouts.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// An empty SETTINGS frame.
const std::string kSettings("\0\0\0\x04\0\0\0\0\0", 9);

// A server session; the other end is a raw byte pipe (raw()) or a client session (connect()).
struct Fixture {
  Fixture() {
    auto [a, b] = MemorySocket::pair(&loop);
    peer_socket = std::move(b);
    server = *ServerHttp2Session::create(&loop, std::move(a));
    server->onError([this](const absl::Status& e) { server_error = e; });
    server->onClose([this] { server_closed = true; });
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
      streams.push_back(s);
    });
  }
  ~Fixture() {
    if (peer_socket) peer_socket->setHandler(nullptr);
  }
  void attach(SessionTimeoutOptions options) {
    options.onExpire = [this](const char* which) { expired.push_back(which); };
    timeouts = SessionTimeouts::attach(server, std::move(options));
  }
  // Keeps the peer end raw: the test writes bytes, the server's are collected.
  void raw() { peer_socket->setHandler(&raw_handler); }
  void connect() {
    client = *ClientHttp2Session::create(&loop, std::move(peer_socket), "http", "localhost");
    client->onGoaway([this](uint32_t code, int32_t, std::string_view) {
      client_goaways.push_back(code);
    });
    client->onClose([this] { client_closed = true; });
    loop.runUntilIdle();
  }
  std::shared_ptr<ClientHttp2Stream> request() {
    auto req = client->request({{":method", "POST"}, {":path", "/call"}});
    EXPECT_TRUE(req.ok());
    loop.runUntilIdle();
    return req.ok() ? *req : nullptr;
  }

  struct RawHandler : Socket::Handler {
    void onSocketConnect() override {}
    void onSocketData(std::string_view) override {}
    void onSocketDrain() override {}
    void onSocketClose(absl::Status) override { closed = true; }
    bool closed = false;
  };

  ManualLoop loop;
  std::unique_ptr<MemorySocket> peer_socket;
  RawHandler raw_handler;
  std::shared_ptr<ServerHttp2Session> server;
  std::shared_ptr<ClientHttp2Session> client;
  std::shared_ptr<SessionTimeouts> timeouts;
  std::vector<std::shared_ptr<ServerHttp2Stream>> streams;
  std::vector<std::string> expired;
  std::vector<uint32_t> client_goaways;
  absl::Status server_error;
  bool server_closed = false;
  bool client_closed = false;
};

// The client saw GOAWAY, NO_ERROR only (close() sends one, and the session's end repeats it).
bool GracefulGoaway(const std::vector<uint32_t>& codes) {
  if (codes.empty()) return false;
  for (uint32_t c : codes) {
    if (c != constants::NGHTTP2_NO_ERROR) return false;
  }
  return true;
}

// ---- handshake --------------------------------------------------------------------------------

TEST(SessionTimeoutsTest, SilentConnectionIsCutAtTheHandshakeDeadline) {
  Fixture f;
  f.raw();
  f.attach({.handshakeTimeout = 1000});
  f.loop.runUntilIdle();
  f.loop.advance(999);
  EXPECT_FALSE(f.server->destroyed());
  EXPECT_FALSE(f.raw_handler.closed);
  f.loop.advance(1);
  EXPECT_TRUE(f.server->destroyed());
  EXPECT_TRUE(f.server_closed);
  EXPECT_EQ(nodeErrorCode(f.server_error), "ERR_HTTP2_HANDSHAKE_TIMEOUT");
  EXPECT_EQ(f.server_error.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(f.raw_handler.closed);  // the socket is gone
  EXPECT_EQ(f.expired, std::vector<std::string>{"handshake"});
}

TEST(SessionTimeoutsTest, TrickledPrefaceDoesNotPushTheHandshakeDeadlineBack) {
  Fixture f;
  f.raw();
  f.attach({.handshakeTimeout = 1000});
  f.loop.runUntilIdle();
  const std::string hello = std::string(kPreface) + kSettings;
  // One byte every 50 ms: 33 bytes would take 1650 ms; every byte is activity.
  size_t sent = 0;
  for (uint64_t t = 0; t < 1000; t += 50) {
    f.peer_socket->write(hello.substr(sent++, 1));
    f.loop.advance(50);
    if (t + 50 < 1000) {
      ASSERT_FALSE(f.server->destroyed()) << "at " << t + 50 << " ms";
    }
  }
  EXPECT_LT(sent, hello.size());
  EXPECT_TRUE(f.server->destroyed());
  EXPECT_EQ(nodeErrorCode(f.server_error), "ERR_HTTP2_HANDSHAKE_TIMEOUT");
}

TEST(SessionTimeoutsTest, CompletePrefaceInTimeStopsTheHandshakeTimer) {
  Fixture f;
  f.raw();
  f.attach({.handshakeTimeout = 1000});
  f.loop.advance(900);
  f.peer_socket->write(std::string(kPreface) + kSettings);  // just in time
  f.loop.advance(10);
  EXPECT_TRUE(f.timeouts->handshakeDone());
  f.loop.advance(100000);
  EXPECT_FALSE(f.server->destroyed());
  EXPECT_TRUE(f.server_error.ok());
  EXPECT_TRUE(f.expired.empty());
}

TEST(SessionTimeoutsTest, PrefaceWithoutSettingsIsNotAHandshake) {
  Fixture f;
  f.raw();
  f.attach({.handshakeTimeout = 1000});
  f.peer_socket->write(std::string(kPreface));
  f.loop.advance(999);
  EXPECT_FALSE(f.server->destroyed());
  f.loop.advance(1);
  EXPECT_TRUE(f.server->destroyed());
  EXPECT_EQ(nodeErrorCode(f.server_error), "ERR_HTTP2_HANDSHAKE_TIMEOUT");
}

// ---- idle (frames count) ----------------------------------------------------------------------

TEST(SessionTimeoutsTest, IdleSessionGetsGoawayAndClosesAtTheDeadline) {
  Fixture f;
  f.attach({.idleTimeout = 1000});
  f.connect();  // the handshake frames are the last activity, at t = 0
  f.loop.advance(999);
  EXPECT_FALSE(f.server->closed());
  EXPECT_TRUE(f.client_goaways.empty());
  f.loop.advance(1);
  EXPECT_EQ(f.expired, std::vector<std::string>{"idle"});
  EXPECT_TRUE(GracefulGoaway(f.client_goaways));
  EXPECT_TRUE(f.server->destroyed());  // nothing open: graceful close finishes at once
  EXPECT_TRUE(f.server_error.ok());
  EXPECT_TRUE(f.client_closed);
}

TEST(SessionTimeoutsTest, FramesResetTheIdleClock) {
  Fixture f;
  f.attach({.idleTimeout = 1000});
  f.connect();
  f.loop.advance(600);
  ASSERT_TRUE(f.client->ping("", nullptr).ok());  // PING and its ACK at t = 600
  f.loop.runUntilIdle();
  f.loop.advance(999);  // t = 1599
  EXPECT_FALSE(f.server->closed());
  f.loop.advance(1);
  EXPECT_TRUE(f.server->closed());
  EXPECT_TRUE(GracefulGoaway(f.client_goaways));
}

TEST(SessionTimeoutsTest, SessionInTheMiddleOfACallIsNotIdle) {
  Fixture f;
  f.attach({.idleTimeout = 1000});
  f.connect();
  auto req = f.request();
  ASSERT_EQ(f.streams.size(), 1u);
  f.loop.advance(10000);  // no frame at all, but a stream is open
  EXPECT_FALSE(f.server->closed());
  EXPECT_TRUE(f.expired.empty());
  // The call ends at t = 10000 (response, then END_STREAM from the client): idle from there.
  ASSERT_TRUE(f.streams[0]->respond({{":status", "200"}}).ok());
  f.streams[0]->end("done");
  req->end();
  f.loop.runUntilIdle();
  EXPECT_EQ(f.server->streamCount(), 0u);
  f.loop.advance(999);
  EXPECT_FALSE(f.server->closed());
  f.loop.advance(1);
  EXPECT_TRUE(f.server->closed());
}

TEST(SessionTimeoutsTest, ZeroDisablesEverything) {
  Fixture f;
  f.raw();
  f.attach({});
  EXPECT_EQ(f.timeouts, nullptr);
  f.loop.advance(10000000);
  EXPECT_FALSE(f.server->destroyed());
}

// The lifetime rule (session_timeouts.h): the handle owns the timers. They run while it lives
// and stop() ends them; attach() adds no listener that would keep them, so a dropped handle
// takes its timers with it.
TEST(SessionTimeoutsTest, TimeoutsRunWhileTheirHandleLives) {
  Fixture f;
  f.attach({.idleTimeout = 1000});
  f.connect();
  f.loop.advance(999);
  EXPECT_FALSE(f.server->closed());
  f.loop.advance(1);
  EXPECT_EQ(f.expired, std::vector<std::string>{"idle"});
  EXPECT_TRUE(f.server->closed());
}

TEST(SessionTimeoutsTest, StopOrDroppingTheHandleStopsTheTimers) {
  Fixture stopped;
  const size_t timers = stopped.loop.pendingTimers();
  stopped.attach({.idleTimeout = 1000});
  stopped.connect();
  stopped.timeouts->stop();
  EXPECT_EQ(stopped.loop.pendingTimers(), timers);
  stopped.loop.advance(5000);
  EXPECT_FALSE(stopped.server->closed());
  EXPECT_TRUE(stopped.expired.empty());

  Fixture dropped;
  dropped.attach({.handshakeTimeout = 1000, .maxAge = 2000});
  dropped.raw();
  std::weak_ptr<SessionTimeouts> weak = dropped.timeouts;
  dropped.timeouts.reset();
  EXPECT_TRUE(weak.expired());  // nothing but the handle held them
  EXPECT_EQ(dropped.loop.pendingTimers(), timers);
  dropped.loop.advance(5000);
  EXPECT_FALSE(dropped.server->destroyed());
  EXPECT_TRUE(dropped.expired.empty());
}

// The owner stops its handle from its own 'close' listener (as Http2Server and rpc::Server do):
// once the session has closed, none of the timers is left.
TEST(SessionTimeoutsTest, OwnerStoppingTheHandleAtCloseLeavesNoTimer) {
  Fixture f;
  const size_t timers = f.loop.pendingTimers();
  f.attach({.idleTimeout = 1000, .maxAge = 5000, .maxAgeGrace = 1000});
  f.server->onClose([&f] { f.timeouts->stop(); });
  f.connect();
  EXPECT_EQ(f.loop.pendingTimers(), timers + 2);  // idle and age
  f.server->destroy();
  f.loop.runUntilIdle();
  ASSERT_TRUE(f.server_closed);
  EXPECT_EQ(f.loop.pendingTimers(), timers);
  EXPECT_TRUE(f.expired.empty());
}

// A handle kept past 'close' without stop(): each timer fires once into the destroyed session
// and stops them all; nothing expires.
TEST(SessionTimeoutsTest, HandleKeptPastCloseWithoutStopDoesNothing) {
  Fixture f;
  const size_t timers = f.loop.pendingTimers();
  f.attach({.idleTimeout = 1000, .maxAge = 5000, .maxAgeGrace = 1000});
  f.connect();
  f.server->destroy();
  f.loop.runUntilIdle();
  ASSERT_TRUE(f.server_closed);
  EXPECT_EQ(f.loop.pendingTimers(), timers + 2);  // still armed: nobody stopped them
  f.loop.advance(1000);  // the idle timer finds the session destroyed: every timer stops
  EXPECT_EQ(f.loop.pendingTimers(), timers);
  f.loop.advance(10000);
  EXPECT_TRUE(f.expired.empty());
}

// The handshake's SETTINGS listener goes once it has done its job; the handshake stays done.
TEST(SessionTimeoutsTest, SecondSettingsAfterTheHandshakeChangesNothing) {
  Fixture f;
  f.raw();
  f.attach({.handshakeTimeout = 1000});
  f.peer_socket->write(std::string(kPreface) + kSettings);
  f.loop.runUntilIdle();
  EXPECT_TRUE(f.timeouts->handshakeDone());
  f.peer_socket->write(kSettings);
  f.loop.advance(100000);
  EXPECT_TRUE(f.timeouts->handshakeDone());
  EXPECT_FALSE(f.server->destroyed());
  EXPECT_TRUE(f.expired.empty());
}

// ---- idle (streams only: gRPC's max_connection_idle) -----------------------------------------

TEST(SessionTimeoutsTest, StreamsOnlyIdleIgnoresPings) {
  Fixture f;
  f.attach({.idleTimeout = 1000, .idleCountsFrames = false});
  f.connect();
  f.loop.advance(600);
  ASSERT_TRUE(f.client->ping("", nullptr).ok());
  f.loop.runUntilIdle();
  f.loop.advance(399);
  EXPECT_FALSE(f.server->closed());
  f.loop.advance(1);  // t = 1000 in spite of the ping
  EXPECT_TRUE(f.server->closed());
  EXPECT_TRUE(GracefulGoaway(f.client_goaways));
}

TEST(SessionTimeoutsTest, StreamsOnlyIdleCountsFromTheLastStreamClose) {
  Fixture f;
  f.attach({.idleTimeout = 1000, .idleCountsFrames = false});
  f.connect();
  f.loop.advance(500);
  auto req = f.request();
  f.loop.advance(2500);  // t = 3000, the call still runs
  EXPECT_FALSE(f.server->closed());
  ASSERT_EQ(f.streams.size(), 1u);
  f.streams[0]->close(constants::NGHTTP2_NO_ERROR);
  f.loop.runUntilIdle();
  ASSERT_EQ(f.server->streamCount(), 0u);
  f.loop.advance(999);
  EXPECT_FALSE(f.server->closed());
  f.loop.advance(1);
  EXPECT_TRUE(f.server->closed());
}

// ---- age + grace ------------------------------------------------------------------------------

TEST(SessionTimeoutsTest, MaxAgeSendsGoawayThenGraceCutsTheCallOff) {
  Fixture f;
  f.attach({.maxAge = 1000, .maxAgeGrace = 500});
  f.connect();
  auto req = f.request();
  bool req_closed = false;
  req->onClose([&] { req_closed = true; });
  f.loop.advance(999);
  EXPECT_TRUE(f.client_goaways.empty());
  f.loop.advance(1);
  EXPECT_EQ(f.client_goaways, std::vector<uint32_t>{constants::NGHTTP2_NO_ERROR});
  EXPECT_TRUE(f.server->closed());
  EXPECT_FALSE(f.server->destroyed());  // the call may finish
  // New streams are refused, the running one goes on.
  auto late = f.client->request({{":method", "POST"}, {":path", "/late"}});
  f.loop.runUntilIdle();
  EXPECT_EQ(f.streams.size(), 1u);
  f.loop.advance(499);
  EXPECT_FALSE(f.server->destroyed());
  EXPECT_FALSE(req_closed);
  f.loop.advance(1);
  EXPECT_TRUE(f.server->destroyed());
  EXPECT_TRUE(req_closed);
  EXPECT_EQ(f.expired, (std::vector<std::string>{"age", "age grace"}));
}

TEST(SessionTimeoutsTest, CallFinishingWithinGraceEndsTheConnectionCleanly) {
  Fixture f;
  f.attach({.maxAge = 1000, .maxAgeGrace = 5000});
  f.connect();
  auto req = f.request();
  std::string body;
  req->onData([&](std::string_view d) { body += d; });
  f.loop.advance(1000);
  ASSERT_TRUE(f.server->closed());
  f.loop.advance(100);
  ASSERT_TRUE(f.streams[0]->respond({{":status", "200"}}).ok());
  f.streams[0]->end("finished");
  req->end();
  f.loop.runUntilIdle();
  EXPECT_EQ(body, "finished");
  EXPECT_TRUE(f.server->destroyed());
  EXPECT_EQ(f.expired, std::vector<std::string>{"age"});
}

TEST(SessionTimeoutsTest, MaxAgeWithoutGraceWaitsForTheCall) {
  Fixture f;
  f.attach({.maxAge = 1000});
  f.connect();
  auto req = f.request();
  f.loop.advance(1000000);
  EXPECT_TRUE(f.server->closed());
  EXPECT_FALSE(f.server->destroyed());
  f.streams[0]->close(constants::NGHTTP2_NO_ERROR);
  f.loop.runUntilIdle();
  EXPECT_TRUE(f.server->destroyed());
}

// --- closeGracefully: gRPC's two-phase GOAWAY ------------------------------------------------

struct Goaway {
  uint32_t code;
  int32_t last;
  std::string data;
  bool operator==(const Goaway&) const = default;
};

// What the client sees, in order: "goaway" and "ping" entries.
struct ClientLog {
  void watch(ClientHttp2Session& client) {
    client.onGoaway([this](uint32_t code, int32_t last, std::string_view data) {
      goaways.push_back({code, last, std::string(data)});
      order.push_back("goaway");
    });
    client.onPing([this](std::string_view) { order.push_back("ping"); });
  }
  std::vector<Goaway> goaways;
  std::vector<std::string> order;
};

TEST(GracefulCloseTest, NoticeAndPingThenFinalGoawayWithTheLastStream) {
  Fixture f;
  f.connect();
  ClientLog log;
  log.watch(*f.client);
  auto req = f.request();  // stream 1, still open
  bool done = false;
  closeGracefully(f.server, {.pingTimeout = 1000, .debugData = "bye"}, [&] { done = true; });
  f.loop.runUntilIdle();  // the client acknowledges the PING at once
  ASSERT_GE(log.goaways.size(), 2u);
  EXPECT_EQ(log.goaways[0], (Goaway{constants::NGHTTP2_NO_ERROR, INT32_MAX, ""}));
  EXPECT_EQ(log.goaways[1], (Goaway{constants::NGHTTP2_NO_ERROR, 1, "bye"}));
  // The PING follows the first GOAWAY, so that its ACK comes after the client read it.
  EXPECT_EQ(std::vector<std::string>(log.order.begin(), log.order.begin() + 3),
            (std::vector<std::string>{"goaway", "ping", "goaway"}));
  EXPECT_TRUE(f.server->closed());
  EXPECT_FALSE(done);  // stream 1 may finish
  ASSERT_TRUE(f.streams[0]->respond({{":status", "200"}}, {.endStream = true}).ok());
  f.loop.runUntilIdle();
  EXPECT_TRUE(done);
}

TEST(GracefulCloseTest, StreamCrossingTheFirstGoawayIsServed) {
  Fixture f;
  f.connect();
  ClientLog log;
  log.watch(*f.client);
  f.server->onStream([](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    (void)s->respond({{":status", "200"}}, {.endStream = true});
  });
  closeGracefully(f.server, {});
  // The client opens a stream before it has read the first GOAWAY: they cross.
  auto req = f.client->request({{":method", "GET"}, {":path", "/crossing"}});
  ASSERT_TRUE(req.ok());
  std::optional<uint32_t> rst;
  std::string status;
  (*req)->onResponse([&](const Headers& h, uint8_t) { status = h.get(":status").value_or(""); });
  (*req)->onClose([&] { rst = (*req)->rstCode(); });
  f.loop.runUntilIdle();
  EXPECT_EQ(status, "200");  // served, not refused
  EXPECT_EQ(rst, std::optional<uint32_t>(constants::NGHTTP2_NO_ERROR));
  // (A third GOAWAY repeats the final one when the session is destroyed, as in Node.)
  ASSERT_GE(log.goaways.size(), 2u);
  EXPECT_EQ(log.goaways[0].last, INT32_MAX);
  EXPECT_EQ(log.goaways[1].last, 1);  // the crossing stream was processed
}

TEST(GracefulCloseTest, SilentPeerGetsTheFinalGoawayAfterThePingTimeout) {
  Fixture f;
  f.raw();
  f.loop.runUntilIdle();
  f.peer_socket->write(std::string(kPreface) + kSettings);
  f.loop.runUntilIdle();
  closeGracefully(f.server, {.pingTimeout = 300, .debugData = {}});
  f.loop.runUntilIdle();
  EXPECT_FALSE(f.server->closed());  // phase one: streams are still taken
  f.loop.advance(299);
  EXPECT_FALSE(f.server->closed());
  f.loop.advance(1);
  EXPECT_TRUE(f.server->closed());
}

TEST(GracefulCloseTest, TwoPhaseMaxAgeCarriesItsDebugData) {
  Fixture f;
  f.attach({.maxAge = 1000, .twoPhaseGoaway = true, .ageDebugData = "max_age"});
  f.connect();
  ClientLog log;
  log.watch(*f.client);
  auto req = f.request();  // keeps the client on the connection after the first GOAWAY
  f.loop.advance(1000);
  ASSERT_GE(log.goaways.size(), 2u);
  EXPECT_EQ(log.goaways[0], (Goaway{constants::NGHTTP2_NO_ERROR, INT32_MAX, ""}));
  EXPECT_EQ(log.goaways[1], (Goaway{constants::NGHTTP2_NO_ERROR, 1, "max_age"}));
}

// A connection accepted in the loop turn that closes the server: its session has not started
// (that is posted) when closeGracefully() comes, and its client — a proxy, say, that writes its
// preface and request at once and never retries a request it sent — has a request on the way.
// It gets both phases and its request is served; close() there used to hang up on it without a
// GOAWAY or a read (nginx: "upstream prematurely closed connection", a 502).
TEST(GracefulCloseTest, ConnectionAcceptedThisTurnIsDrainedNotDropped) {
  Fixture f;
  ASSERT_TRUE(f.server->connecting());  // its start is posted
  auto client = *ClientHttp2Session::create(&f.loop, std::move(f.peer_socket), "http", "localhost");
  ClientLog log;
  log.watch(*client);
  auto req = client->request({{":method", "POST"}, {":path", "/call"}});
  ASSERT_TRUE(req.ok());
  std::string status;
  (*req)->onResponse([&](const Headers& h, uint8_t) { status = h.get(":status").value_or(""); });
  bool done = false;
  closeGracefully(f.server, {.pingTimeout = 1000, .debugData = "bye"}, [&] { done = true; });
  f.loop.runUntilIdle();
  ASSERT_EQ(f.streams.size(), 1u);  // the request was read and handed over
  ASSERT_TRUE(f.streams[0]->respond({{":status", "200"}}, {.endStream = true}).ok());
  f.loop.runUntilIdle();
  EXPECT_EQ(status, "200");
  ASSERT_GE(log.goaways.size(), 2u);
  EXPECT_EQ(log.goaways[0], (Goaway{constants::NGHTTP2_NO_ERROR, INT32_MAX, ""}));
  EXPECT_EQ(log.goaways[1], (Goaway{constants::NGHTTP2_NO_ERROR, 1, "bye"}));
  EXPECT_TRUE(done);
  EXPECT_TRUE(f.server->destroyed());
}

// The same connection gone before its session started: the callback still runs at 'close'.
TEST(GracefulCloseTest, ConnectionGoneBeforeItsSessionStartedStillCallsBack) {
  Fixture f;
  f.raw();
  bool done = false;
  closeGracefully(f.server, {}, [&] { done = true; });
  f.peer_socket->end();
  f.loop.runUntilIdle();
  EXPECT_TRUE(f.server->destroyed());
  EXPECT_TRUE(done);
}

TEST(GracefulCloseTest, ShutdownNoticeIsForServersOnly) {
  Fixture f;
  f.connect();
  EXPECT_EQ(f.client->shutdownNotice().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(f.server->shutdownNotice().ok());
}

}  // namespace
}  // namespace h2rpc::transport
