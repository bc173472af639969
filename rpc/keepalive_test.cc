// KeepalivePinger and PingPolicy on transport sessions joined by a MemorySocket, on a manual
// clock: pings go exactly when gRFC A8 says, an unanswered one closes the connection at its
// timeout, and the server's strikes follow grpc-go / gRPC C++ (min_time, 2 h without calls,
// reset by HEADERS/DATA sent, GOAWAY "too_many_pings" on the third strike).
#include "rpc/keepalive.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::rpc {
namespace {

using transport::ClientHttp2Session;
using transport::Headers;
using transport::ServerHttp2Session;
using transport::ServerHttp2Stream;

struct RawHandler : transport::Socket::Handler {
  void onSocketConnect() override {}
  void onSocketData(std::string_view) override {}
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override {}
};

struct Goaway {
  uint32_t code;
  std::string data;
};

class KeepaliveTest : public ::testing::Test {
 protected:
  // A client and a server session; `raw_server`: the server end only swallows bytes (a peer
  // that never answers).
  void Connect(bool raw_server = false) {
    auto [a, b] = transport::MemorySocket::pair(&loop_);
    if (raw_server) {
      raw_end_ = std::move(a);
      raw_end_->setHandler(&raw_handler_);
    } else {
      server_ = *ServerHttp2Session::create(&loop_, std::move(a));
      server_->onPing([this](std::string_view) { ++server_pings_; });
      server_->onStream([this](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
        server_streams_.push_back(s);
      });
    }
    client_ = *ClientHttp2Session::create(&loop_, std::move(b), "http", "localhost");
    client_->onGoaway([this](uint32_t code, int32_t, std::string_view data) {
      goaways_.push_back({code, std::string(data)});
    });
    loop_.runUntilIdle();
  }
  void TearDown() override {
    if (raw_end_) raw_end_->setHandler(nullptr);
    if (client_) client_->destroy();
    if (server_) server_->destroy();
    loop_.runUntilIdle();
  }
  void OpenStream() {
    auto req = client_->request({{":method", "POST"}, {":path", "/call"}}, {.endStream = false});
    ASSERT_TRUE(req.ok());
    loop_.runUntilIdle();
  }
  void ClientPing() {
    ASSERT_TRUE(client_->ping({}, nullptr).ok());
    loop_.runUntilIdle();
  }
  bool TooManyPings() const {
    for (const Goaway& g : goaways_) {
      if (g.code == transport::constants::NGHTTP2_ENHANCE_YOUR_CALM &&
          g.data == "too_many_pings") {
        return true;
      }
    }
    return false;
  }

  transport::ManualLoop loop_;
  std::unique_ptr<transport::MemorySocket> raw_end_;
  RawHandler raw_handler_;
  std::shared_ptr<ServerHttp2Session> server_;
  std::shared_ptr<ClientHttp2Session> client_;
  std::vector<std::shared_ptr<ServerHttp2Stream>> server_streams_;
  std::vector<Goaway> goaways_;
  int server_pings_ = 0;
};

// --- the pinger --------------------------------------------------------------------------------

TEST_F(KeepaliveTest, InfiniteTimeMeansNoPinger) {
  Connect();
  EXPECT_EQ(KeepalivePinger::Attach(client_, {}), nullptr);
}

TEST_F(KeepaliveTest, PingsAfterKeepaliveTimeOfSilenceWhileACallIsOpen) {
  Connect();
  OpenStream();
  auto pinger = KeepalivePinger::Attach(client_, {.time = absl::Seconds(1)});
  loop_.advance(999);
  EXPECT_EQ(server_pings_, 0);
  loop_.advance(1);
  EXPECT_EQ(server_pings_, 1);
  // The ACK was read at once: the next PING is a keepalive time after it.
  loop_.advance(999);
  EXPECT_EQ(server_pings_, 1);
  loop_.advance(1);
  EXPECT_EQ(server_pings_, 2);
  EXPECT_EQ(pinger->pings_sent(), 2u);
  EXPECT_FALSE(pinger->failure().has_value());
}

TEST_F(KeepaliveTest, FramesFromThePeerPushThePingBack) {
  Connect();
  OpenStream();
  auto pinger = KeepalivePinger::Attach(client_, {.time = absl::Seconds(1)});
  loop_.advance(600);
  ASSERT_TRUE(server_streams_[0]->respond({{":status", "200"}}).ok());  // a frame to read
  loop_.runUntilIdle();
  loop_.advance(999);  // 1599: a second after the HEADERS minus 1 ms
  EXPECT_EQ(server_pings_, 0);
  loop_.advance(1);
  EXPECT_EQ(server_pings_, 1);
}

TEST_F(KeepaliveTest, NoCallNoPingUnlessPermittedThenPingsAtOnceWhenACallStarts) {
  Connect();
  auto pinger = KeepalivePinger::Attach(client_, {.time = absl::Seconds(1)});
  loop_.advance(5000);
  EXPECT_EQ(server_pings_, 0);  // dormant: no call
  OpenStream();
  pinger->OnCallStarted();  // silent for 5 s already: ping first (A8)
  loop_.runUntilIdle();
  EXPECT_EQ(server_pings_, 1);
}

TEST_F(KeepaliveTest, PermitWithoutCallsPingsAnIdleConnection) {
  Connect();
  auto pinger = KeepalivePinger::Attach(
      client_, {.time = absl::Seconds(1), .permit_without_calls = true});
  loop_.advance(3000);
  EXPECT_EQ(server_pings_, 3);
}

// The lifetime rule (rpc/keepalive.h): the handle owns the pinger. It pings while the handle
// lives and Stop() ends it; Attach() adds no listener that would keep it, so a dropped handle
// takes the pinger and its timer with it.
TEST_F(KeepaliveTest, HandleOwnsThePingerStopOrDroppingItEndsThePings) {
  Connect();
  const size_t timers = loop_.pendingTimers();
  auto pinger = KeepalivePinger::Attach(client_, {.time = absl::Seconds(1),
                                                  .permit_without_calls = true});
  ASSERT_NE(pinger, nullptr);
  loop_.advance(2000);
  EXPECT_EQ(server_pings_, 2);
  pinger->Stop();
  EXPECT_EQ(loop_.pendingTimers(), timers);
  loop_.advance(3000);
  EXPECT_EQ(server_pings_, 2);
  // A second one, dropped: nothing else keeps it (no 'close' listener), so it never pings.
  std::weak_ptr<KeepalivePinger> dropped = KeepalivePinger::Attach(
      client_, {.time = absl::Seconds(1), .permit_without_calls = true});
  EXPECT_TRUE(dropped.expired());
  EXPECT_EQ(loop_.pendingTimers(), timers);
  loop_.advance(3000);
  EXPECT_EQ(server_pings_, 2);
}

// The owner stops its handle from its own 'close' listener (as rpc::Server and the channel do):
// once the session has closed, no timer of the pinger is left, and what it knew stays readable.
TEST_F(KeepaliveTest, OwnerStoppingTheHandleAtCloseLeavesNoTimer) {
  Connect();
  const size_t timers = loop_.pendingTimers();
  auto pinger = KeepalivePinger::Attach(client_, {.time = absl::Seconds(1),
                                                  .permit_without_calls = true});
  ASSERT_NE(pinger, nullptr);
  client_->onClose([&] { pinger->Stop(); });
  loop_.advance(1000);
  EXPECT_EQ(server_pings_, 1);
  client_->destroy();
  loop_.runUntilIdle();
  EXPECT_EQ(loop_.pendingTimers(), timers);
  EXPECT_EQ(pinger->pings_sent(), 1u);
  EXPECT_FALSE(pinger->failure().has_value());
}

// A handle kept past 'close' without Stop(): its timer fires once into a destroyed session and
// stops; nothing is sent and nothing fails.
TEST_F(KeepaliveTest, HandleKeptPastCloseWithoutStopFiresOnceAndStops) {
  Connect();
  const size_t timers = loop_.pendingTimers();
  auto pinger = KeepalivePinger::Attach(client_, {.time = absl::Seconds(1),
                                                  .permit_without_calls = true});
  ASSERT_NE(pinger, nullptr);
  client_->destroy();
  loop_.runUntilIdle();
  EXPECT_EQ(loop_.pendingTimers(), timers + 1);  // still armed: nobody stopped it
  loop_.advance(1000);
  EXPECT_EQ(loop_.pendingTimers(), timers);
  loop_.advance(5000);
  EXPECT_EQ(pinger->pings_sent(), 0u);
  EXPECT_EQ(server_pings_, 0);
  EXPECT_FALSE(pinger->failure().has_value());
}

TEST_F(KeepaliveTest, UnansweredPingClosesTheConnectionAtTheTimeout) {
  Connect(/*raw_server=*/true);
  OpenStream();
  bool closed = false;
  client_->onClose([&] { closed = true; });
  auto pinger = KeepalivePinger::Attach(
      client_, {.time = absl::Seconds(1), .timeout = absl::Milliseconds(500)});
  loop_.advance(1000);  // the PING goes out
  EXPECT_EQ(pinger->pings_sent(), 1u);
  loop_.advance(499);
  EXPECT_FALSE(client_->destroyed());
  loop_.advance(1);
  EXPECT_TRUE(client_->destroyed());
  EXPECT_TRUE(closed);
  ASSERT_TRUE(pinger->failure().has_value());
  EXPECT_EQ(pinger->failure()->code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(pinger->failure()->message().find("eepalive"), std::string::npos)
      << pinger->failure()->message();
}

// A connection that got GOAWAY is closed (no new streams) while its calls go on. Node's session
// cancels pings after close() (nothing is sent), so the watchdog must not start: the peer is
// alive and the call must be left to finish (it was killed at time + timeout before).
TEST_F(KeepaliveTest, ADrainingConnectionIsNotPingedNorKilled) {
  Connect(/*raw_server=*/true);
  OpenStream();
  auto pinger = KeepalivePinger::Attach(
      client_, {.time = absl::Seconds(1), .timeout = absl::Milliseconds(500)});
  client_->close();  // what a GOAWAY(NO_ERROR) from the server does
  loop_.runUntilIdle();
  ASSERT_TRUE(client_->closed());
  ASSERT_FALSE(client_->destroyed());  // the stream keeps it open
  loop_.advance(5000);
  EXPECT_FALSE(client_->destroyed());
  EXPECT_FALSE(pinger->failure().has_value());
  EXPECT_EQ(pinger->pings_sent(), 0u);
}

// --- the server's ping policy --------------------------------------------------------------

TEST_F(KeepaliveTest, ThirdStrikeGetsGoawayTooManyPings) {
  Connect();
  int reported = 0;
  PingPolicy::Attach(server_, {.min_time = absl::Seconds(1)}, [&] { ++reported; });
  OpenStream();
  ClientPing();  // the first PING is never a strike
  for (int i = 0; i < 3; ++i) {
    loop_.advance(100);
    ClientPing();  // strikes 1, 2, 3
    if (i < 2) {
      EXPECT_FALSE(TooManyPings()) << "after strike " << i + 1;
    }
  }
  EXPECT_TRUE(TooManyPings());
  EXPECT_EQ(reported, 1);
  EXPECT_TRUE(server_->destroyed());
}

TEST_F(KeepaliveTest, PingsAtMinTimeAreFine) {
  Connect();
  PingPolicy::Attach(server_, {.min_time = absl::Seconds(1)});
  OpenStream();
  for (int i = 0; i < 10; ++i) {
    ClientPing();
    loop_.advance(1000);
  }
  EXPECT_FALSE(TooManyPings());
  EXPECT_FALSE(server_->destroyed());
}

TEST_F(KeepaliveTest, WithoutCallsPingsNeedTwoHoursUnlessPermitted) {
  Connect();
  auto policy = PingPolicy::Attach(server_, {.min_time = absl::Seconds(1)});
  for (int i = 0; i < 3; ++i) {
    ClientPing();
    loop_.advance(60 * 1000);  // a minute apart: fine with a call, not without
  }
  EXPECT_EQ(policy->strikes(), 2);
  ClientPing();
  EXPECT_TRUE(TooManyPings());
}

TEST_F(KeepaliveTest, PermittedWithoutCallsOnlyMinTimeCounts) {
  Connect();
  auto policy = PingPolicy::Attach(
      server_, {.min_time = absl::Seconds(1), .permit_without_calls = true});
  for (int i = 0; i < 10; ++i) {
    ClientPing();
    loop_.advance(1000);
  }
  EXPECT_EQ(policy->strikes(), 0);
  EXPECT_FALSE(TooManyPings());
}

TEST_F(KeepaliveTest, DataSentByTheServerClearsTheStrikes) {
  Connect();
  auto policy = PingPolicy::Attach(server_, {.min_time = absl::Seconds(1)});
  OpenStream();
  ASSERT_TRUE(server_streams_[0]->respond({{":status", "200"}}).ok());
  loop_.runUntilIdle();
  for (int i = 0; i < 10; ++i) {
    ClientPing();
    loop_.advance(100);
    server_streams_[0]->write(std::string("x"));  // DATA: the next PING is allowed
    loop_.runUntilIdle();
  }
  EXPECT_EQ(policy->strikes(), 0);
  EXPECT_FALSE(TooManyPings());
  // Without data in between they count again.
  for (int i = 0; i < 4; ++i) {
    ClientPing();
    loop_.advance(100);
  }
  EXPECT_TRUE(TooManyPings());
}

}  // namespace
}  // namespace h2rpc::rpc
