// gRPC's connection management on the server (gRFC A9): max_connection_idle, max_connection_age
// (with its ±10% jitter) and max_connection_age_grace. The timers themselves are tested to the
// millisecond on a manual clock in transport/session_timeouts_test.cc; here, the options'
// translation exactly, and the behaviour end to end over loopback TCP with short timeouts,
// asserted by lower bounds on the loop's clock (never "it happened within N ms").
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/sleep.h"
#include "rpc/testdata/echo.pb.h"
#include "transport/constants.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

TEST(ConnectionTimeoutsTest, DefaultsAreOff) {
  transport::SessionTimeoutOptions t = ConnectionTimeouts(ServerOptions(), 0.5);
  EXPECT_EQ(t.idleTimeout, 0u);
  EXPECT_EQ(t.maxAge, 0u);
  EXPECT_EQ(t.maxAgeGrace, 0u);
  EXPECT_EQ(t.handshakeTimeout, 0u);  // the transport's own, set by Http2Server
}

TEST(ConnectionTimeoutsTest, IdleCountsCallsNotFrames) {
  ServerOptions o;
  o.max_connection_idle = absl::Seconds(30);
  transport::SessionTimeoutOptions t = ConnectionTimeouts(o, 0);
  EXPECT_EQ(t.idleTimeout, 30000u);
  EXPECT_FALSE(t.idleCountsFrames);
}

TEST(ConnectionTimeoutsTest, AgeJitterSpansTenPercentEitherWay) {
  ServerOptions o;
  o.max_connection_age = absl::Seconds(100);
  o.max_connection_age_grace = absl::Seconds(7);
  EXPECT_EQ(ConnectionTimeouts(o, -1).maxAge, 90000u);
  EXPECT_EQ(ConnectionTimeouts(o, 0).maxAge, 100000u);
  EXPECT_EQ(ConnectionTimeouts(o, 1).maxAge, 110000u);
  EXPECT_EQ(ConnectionTimeouts(o, 5).maxAge, 110000u);  // clamped
  EXPECT_EQ(ConnectionTimeouts(o, 0).maxAgeGrace, 7000u);
  o.max_connection_age_grace = absl::ZeroDuration();  // gRPC: close right after the GOAWAY
  EXPECT_EQ(ConnectionTimeouts(o, 0).maxAgeGrace, 1u);
  o.max_connection_age_grace = absl::InfiniteDuration();
  EXPECT_EQ(ConnectionTimeouts(o, 0).maxAgeGrace, 0u);  // SessionTimeouts: wait forever
}

// Unary only: sleeps req.sleep_ms() (in 10 ms steps, stopping once cancelled), then echoes.
class SleepyService : public Service {
 public:
  explicit SleepyService(transport::EventLoop* loop) : Service("h2rpc.rpc_test.Echo"), loop_(loop) {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [this](ServerContext& ctx, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          ++running;
          for (int t = 0; t < req.sleep_ms() && !ctx.IsCancelled(); t += 10) {
            co_await Sleep(loop_, absl::Milliseconds(10));
          }
          --running;
          EchoReply reply;
          reply.set_text("echo: " + req.text());
          co_return reply;
        });
  }

  // Handlers still running: a call cut off with its connection ends at once for the client, but
  // its handler notices only at its next 10 ms step, and one left sleeping when the loop is torn
  // down leaks its coroutine (LSan).
  int running = 0;

 private:
  transport::EventLoop* loop_;
};

class ConnectionManagementTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options) {
    server_ = std::make_unique<Server>(&loop_, options);
    server_->RegisterService(&service_);
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()));
    // Connect now and watch the connection's GOAWAYs and close, on the loop's clock.
    auto session = channel_->Session();
    ASSERT_TRUE(session.ok()) << session.status();
    start_ = loop_.now();
    (*session)->onGoaway([this](uint32_t code, int32_t last, std::string_view data) {
      if (!goaway_at_) goaway_at_ = loop_.now();
      goaway_codes_.push_back(code);
      goaway_last_ids_.push_back(last);
      goaway_data_.emplace_back(data);
    });
    (*session)->onClose([this] { closed_at_ = loop_.now(); });
  }
  void TearDown() override {
    if (!server_) return;
    // Handlers of cancelled calls stop at their next 10 ms step: a loop torn down under a
    // pending sleep would leak them (LSan).
    EXPECT_TRUE(Run(Until([&] { return service_.running == 0; })));
    channel_->Close();
    bool closed = false;
    server_->Shutdown(absl::Seconds(1), [&] { closed = true; });
    for (int i = 0; i < 1000 && !closed; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
    for (int i = 0; i < 1000 && service_.running > 0; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
    EXPECT_EQ(service_.running, 0);
  }
  // Runs the loop until `done()` holds (checked every 5 ms), for at most 5 s.
  Task<bool> Until(std::function<bool()> done) {
    for (int i = 0; i < 1000 && !done(); ++i) co_await Sleep(&loop_, absl::Milliseconds(5));
    co_return done();
  }
  // A unary call sleeping `sleep_ms` at the server; `ended_at` gets the loop time of its end.
  Task<absl::StatusOr<EchoReply>> Call(int sleep_ms, uint64_t* ended_at = nullptr) {
    EchoRequest req;
    req.set_text("x");
    req.set_sleep_ms(sleep_ms);
    auto reply = co_await UnaryCall<EchoRequest, EchoReply>(channel_, "/h2rpc.rpc_test.Echo/Unary",
                                                            req, {});
    if (ended_at) *ended_at = loop_.now();
    co_return reply;
  }
  template <typename T>
  T Run(Task<T> task) {
    return BlockOn(&loop_, std::move(task));
  }

  transport::UvLoop loop_;
  SleepyService service_{&loop_};
  std::unique_ptr<Server> server_;
  std::shared_ptr<Channel> channel_;
  uint64_t start_ = 0;
  std::optional<uint64_t> goaway_at_, closed_at_;
  std::vector<uint32_t> goaway_codes_;
  std::vector<int32_t> goaway_last_ids_;
  std::vector<std::string> goaway_data_;
};

TEST_F(ConnectionManagementTest, IdleConnectionGetsGoawayAfterMaxConnectionIdle) {
  ServerOptions o;
  o.max_connection_idle = absl::Milliseconds(150);
  StartServer(o);
  ASSERT_TRUE(Run(Until([&] { return closed_at_.has_value(); })));
  ASSERT_TRUE(goaway_at_.has_value());
  EXPECT_GE(*goaway_at_ - start_, 150u);
  EXPECT_EQ(goaway_codes_[0], transport::constants::NGHTTP2_NO_ERROR);
  // gRPC's two-phase GOAWAY: "going away" (2^31-1), then the last stream, with "max_idle".
  ASSERT_EQ(goaway_last_ids_.size(), 1u);  // the idle client leaves at the first
  EXPECT_EQ(goaway_last_ids_[0], INT32_MAX);
  // The channel just reconnects for the next call.
  auto reply = Run(Call(0));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(channel_->connections_made(), 2);
}

TEST_F(ConnectionManagementTest, ConnectionInTheMiddleOfACallIsNotIdle) {
  ServerOptions o;
  o.max_connection_idle = absl::Milliseconds(150);
  StartServer(o);
  uint64_t call_start = loop_.now();
  auto reply = Run(Call(400));  // far longer than the idle timeout, with no frame meanwhile
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_TRUE(Run(Until([&] { return goaway_at_.has_value(); })));
  // Idle only counts from the call's end: at least 400 + 150 ms after it started (a server
  // that ignored the open call would have sent it ~150 ms after the start).
  EXPECT_GE(*goaway_at_ - call_start, 550u);
  EXPECT_EQ(channel_->connections_made(), 1);
}

TEST_F(ConnectionManagementTest, PingsDoNotKeepAConnectionFromIdling) {
  ServerOptions o;
  o.max_connection_idle = absl::Milliseconds(200);
  // Pings every 20 ms without a call: allowed here (by default they are too_many_pings).
  o.keepalive_min_time = absl::Milliseconds(1);
  o.keepalive_permit_without_calls = true;
  StartServer(o);
  auto session = *channel_->Session();
  int acks = 0;
  auto pinger = [&]() -> Task<void> {
    for (int i = 0; i < 200 && !closed_at_; ++i) {
      (void)session->ping("", [&](const absl::Status& st, double, std::string_view) {
        if (st.ok()) ++acks;
      });
      co_await Sleep(&loop_, absl::Milliseconds(20));
    }
  };
  Run(pinger());
  EXPECT_TRUE(closed_at_.has_value());
  EXPECT_GT(acks, 3);  // the pings were answered, and the connection went idle anyway
  ASSERT_TRUE(goaway_at_.has_value());
  EXPECT_GE(*goaway_at_ - start_, 200u);
}

TEST_F(ConnectionManagementTest, MaxConnectionAgeSendsGoawayAndLetsTheCallFinish) {
  ServerOptions o;
  o.max_connection_age = absl::Milliseconds(200);
  StartServer(o);
  auto reply = Run(Call(600));
  ASSERT_TRUE(reply.ok()) << reply.status();  // infinite grace: the call may finish
  ASSERT_TRUE(goaway_at_.has_value());
  EXPECT_GE(*goaway_at_ - start_, 180u);  // 200 ms - 10 %
  EXPECT_EQ(goaway_codes_[0], transport::constants::NGHTTP2_NO_ERROR);
  // Two-phase: 2^31-1 first, then the real last stream (the call's) with "max_age".
  ASSERT_GE(goaway_last_ids_.size(), 2u);
  EXPECT_EQ(goaway_last_ids_[0], INT32_MAX);
  EXPECT_EQ(goaway_last_ids_[1], 1);
  EXPECT_EQ(goaway_data_[1], "max_age");
  // The next call goes on a new connection.
  ASSERT_TRUE(Run(Call(0)).ok());
  EXPECT_EQ(channel_->connections_made(), 2);
}

TEST_F(ConnectionManagementTest, AgeGraceCutsOffACallThatRunsTooLong) {
  ServerOptions o;
  o.max_connection_age = absl::Milliseconds(200);
  o.max_connection_age_grace = absl::Milliseconds(200);
  StartServer(o);
  uint64_t ended_at = 0;
  auto reply = Run(Call(5000, &ended_at));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  ASSERT_TRUE(goaway_at_.has_value());
  EXPECT_GE(*goaway_at_ - start_, 180u);
  EXPECT_GE(ended_at - start_, 180u + 200u);  // age (less its jitter) + grace
}

TEST_F(ConnectionManagementTest, YoungBusyConnectionIsLeftAlone) {
  ServerOptions o;
  o.max_connection_idle = absl::Seconds(60);
  o.max_connection_age = absl::Seconds(60);
  StartServer(o);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Run(Call(20)).ok());
  EXPECT_FALSE(goaway_at_.has_value());
  EXPECT_EQ(channel_->connections_made(), 1);
}

// --- keepalive (gRFC A8), end to end over loopback -------------------------------------------

TEST_F(ConnectionManagementTest, TooFrequentKeepaliveGetsTooManyPingsAndDoublesTheTime) {
  StartServer({});  // gRPC's default policy: a PING every 5 min at most
  ChannelOptions co;
  co.keepalive_time = absl::Milliseconds(50);
  channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()), co);
  auto reply = Run(Call(2000));  // pings every 50 ms during the call: the 4th is too many
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_EQ(server_->too_many_pings(), 1u);
  EXPECT_EQ(channel_->too_many_pings(), 1);
  EXPECT_EQ(channel_->keepalive_time(), absl::Milliseconds(100));  // A8: doubled
  EXPECT_EQ(channel_->options().keepalive_time, absl::Milliseconds(50));
}

TEST_F(ConnectionManagementTest, KeepaliveWithinTheServerPolicyIsServed) {
  ServerOptions o;
  o.keepalive_min_time = absl::Milliseconds(20);
  StartServer(o);
  ChannelOptions co;
  co.keepalive_time = absl::Milliseconds(50);
  channel_ = Channel::Create(&loop_, "127.0.0.1:" + std::to_string(server_->port()), co);
  auto reply = Run(Call(500));  // ~10 pings during the call, all within the policy
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(server_->too_many_pings(), 0u);
  EXPECT_EQ(channel_->too_many_pings(), 0);
  EXPECT_EQ(channel_->connections_made(), 1);
}

TEST_F(ConnectionManagementTest, ServerPingsAQuietClient) {
  ServerOptions o;
  o.keepalive_time = absl::Milliseconds(50);  // the server's own pings (gRPC's default: 2 h)
  StartServer(o);
  int pings = 0;
  (*channel_->Session())->onPing([&](std::string_view) { ++pings; });
  ASSERT_TRUE(Run(Until([&] { return pings >= 3; })));  // no call needed: servers always ping
  EXPECT_GE(loop_.now() - start_, 150u);
  EXPECT_FALSE(closed_at_.has_value());  // answered: the connection stays
}

TEST_F(ConnectionManagementTest, ServerClosesAClientThatNeverAcknowledgesItsPing) {
  ServerOptions o;
  o.keepalive_time = absl::Milliseconds(50);
  o.keepalive_timeout = absl::Milliseconds(100);
  StartServer(o);
  // A raw client: the preface and an empty SETTINGS, then silence (a PING ACK never comes).
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(server_->port());
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string hello = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
                            std::string("\0\0\0\x04\0\0\0\0\0", 9);
  ASSERT_EQ(write(fd, hello.data(), hello.size()), static_cast<ssize_t>(hello.size()));
  const uint64_t connected = loop_.now();
  bool eof = false;
  auto read_all = [&] {
    char buf[4096];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) eof = true;
      if (n <= 0) return eof;
    }
  };
  ASSERT_TRUE(Run(Until(read_all)));  // the server hangs up
  EXPECT_GE(loop_.now() - connected, 150u);  // keepalive_time + keepalive_timeout
  close(fd);
}

TEST(KeepaliveTimeoutTest, PeerThatNeverAnswersFailsTheCallWithUnavailable) {
  // A peer that sends its SETTINGS (the connection is READY) and then not one frame more,
  // reading nothing: a peer dead behind a NAT looks the same. (One that never sends SETTINGS
  // is a connection attempt that never completes: the connect timeout's business.)
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::promise<void> test_over;
  std::thread peer([fd, over = test_over.get_future()]() mutable {
    const int c = accept(fd, nullptr, nullptr);
    if (c < 0) return;
    const std::string settings("\0\0\0\x04\0\0\0\0\0", 9);  // an empty SETTINGS frame
    (void)!write(c, settings.data(), settings.size());
    over.wait();
    close(c);
  });
  transport::UvLoop loop;
  ChannelOptions co;
  co.keepalive_time = absl::Milliseconds(100);
  co.keepalive_timeout = absl::Milliseconds(200);
  auto channel =
      Channel::Create(&loop, "127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), co);
  EchoRequest req;
  const uint64_t start = loop.now();
  auto reply = BlockOn(&loop, UnaryCall<EchoRequest, EchoReply>(
                                  channel, "/h2rpc.rpc_test.Echo/Unary", req, {}));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_NE(reply.status().message().find("Keepalive watchdog timeout"), std::string::npos)
      << reply.status();
  EXPECT_GE(loop.now() - start, 300u);  // keepalive_time + keepalive_timeout
  channel->Close();
  test_over.set_value();
  peer.join();
  close(fd);
}

}  // namespace
}  // namespace h2rpc::rpc
