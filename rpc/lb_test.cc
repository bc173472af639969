// Load balancing and connectivity end to end (rpc/lb_policy.h, rpc/subchannel.h): three
// rpc::Server instances on 127.0.0.1 behind one ipv4: target. round_robin spreads calls over
// them and survives one server's Shutdown() under load without a failed call; pick_first
// sticks to one server and fails over; wait_for_ready waits for a server that starts later
// (and a call without it fails fast); the channel's state and its watch API; the
// reconnection backoff on a refused port, on the loop's clock. Loopback only.
#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/testdata/echo.pb.h"
#include "transport/server.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;
using S = ConnectivityState;

constexpr char kMethod[] = "/h2rpc.rpc_test.Echo/Unary";

// Counts the calls it serves; its replies name the server.
class CountingService : public Service {
 public:
  explicit CountingService(int index) : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        kMethod, [this, index](ServerContext&, const EchoRequest&) -> Task<absl::StatusOr<EchoReply>> {
          ++calls;
          EchoReply reply;
          reply.set_text(absl::StrCat("server ", index));
          co_return reply;
        });
  }
  int calls = 0;
};

// A loopback port nobody listens on (for now).
uint16_t FreePort(transport::UvLoop* loop) {
  auto probe = *transport::Http2Server::createServer(loop);
  EXPECT_TRUE(probe->listen(0, "127.0.0.1").ok());
  const uint16_t port = probe->port();
  probe->close();
  return port;
}

// A TCP listener on 127.0.0.1 that accepts every connection and closes it at once (an HTTP/1
// server reached over h2c, a balancer without backends), counting them.
class AcceptAndClose {
 public:
  explicit AcceptAndClose(transport::UvLoop* loop) {
    uv_tcp_init(loop->uv(), &listener_);
    listener_.data = this;
    sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    EXPECT_EQ(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0), 0);
    EXPECT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16,
                        [](uv_stream_t* server, int status) {
                          if (status < 0) return;
                          auto* self = static_cast<AcceptAndClose*>(server->data);
                          auto* client = new uv_tcp_t;
                          uv_tcp_init(server->loop, client);
                          if (uv_accept(server, reinterpret_cast<uv_stream_t*>(client)) == 0) {
                            ++self->accepted;
                          }
                          uv_close(reinterpret_cast<uv_handle_t*>(client),
                                   [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
                        }),
              0);
    sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  ~AcceptAndClose() {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    uv_run(listener_.loop, UV_RUN_NOWAIT);
  }
  uint16_t port = 0;
  int accepted = 0;

 private:
  uv_tcp_t listener_;
};

class LbTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& c : channels_) c->Close();
    int closing = 0;
    for (auto& s : servers_) {
      if (!s) continue;
      ++closing;
      s->Shutdown(absl::Seconds(1), [&closing] { --closing; });
    }
    for (int i = 0; i < 10000 && closing > 0; ++i) loop_.runOnce();
  }
  void StartServer(int i, uint16_t port = 0) {
    if (servers_.size() <= static_cast<size_t>(i)) servers_.resize(i + 1);
    while (services_.size() <= static_cast<size_t>(i)) {
      services_.push_back(std::make_unique<CountingService>(static_cast<int>(services_.size())));
    }
    servers_[i] = std::make_unique<Server>(&loop_);
    servers_[i]->RegisterService(services_[i].get());
    ASSERT_TRUE(servers_[i]->Listen("127.0.0.1", port).ok());
  }
  void StartThree() {
    for (int i = 0; i < 3; ++i) StartServer(i);
    target_ = absl::StrCat("ipv4:127.0.0.1:", servers_[0]->port(), ",127.0.0.1:",
                           servers_[1]->port(), ",127.0.0.1:", servers_[2]->port());
  }
  std::shared_ptr<Channel> MakeChannel(const std::string& target, ChannelOptions o = {}) {
    auto c = Channel::Create(&loop_, target, std::move(o));
    channels_.push_back(c);
    return c;
  }
  // Runs the loop until `done` (bounded: a hang fails instead of blocking).
  template <typename F>
  bool RunUntil(F done, absl::Duration limit = absl::Seconds(20)) {
    const absl::Time end = absl::Now() + limit;
    while (!done()) {
      if (absl::Now() > end) return false;
      loop_.runOnce();
    }
    return true;
  }
  absl::StatusOr<EchoReply> Call(const std::shared_ptr<Channel>& channel, CallOptions o = {}) {
    if (!o.timeout && !o.deadline) o.timeout = absl::Seconds(20);
    return BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(channel, kMethod, EchoRequest(), o));
  }
  int ReadySubchannels(const Channel& c) {
    int n = 0;
    for (const auto& s : c.lb_policy()->subchannels()) n += s->state() == S::kReady;
    return n;
  }

  transport::UvLoop loop_;
  std::vector<std::unique_ptr<CountingService>> services_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::vector<std::shared_ptr<Channel>> channels_;
  std::string target_;
};

TEST_F(LbTest, RoundRobinSpreadsCallsOverThreeServers) {
  StartThree();
  ChannelOptions o;
  o.lb_policy = "round_robin";
  auto channel = MakeChannel(target_, o);
  EXPECT_EQ(channel->GetState(false), S::kIdle);
  EXPECT_EQ(channel->GetState(true), S::kConnecting);
  ASSERT_TRUE(RunUntil([&] { return ReadySubchannels(*channel) == 3; }));
  EXPECT_EQ(channel->GetState(false), S::kReady);
  for (int i = 0; i < 300; ++i) {
    auto reply = Call(channel);
    ASSERT_TRUE(reply.ok()) << reply.status();
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(services_[i]->calls, 100) << "server " << i;
  EXPECT_EQ(channel->connections_made(), 3);
}

TEST_F(LbTest, ServiceConfigSelectsRoundRobin) {
  StartThree();
  ChannelOptions o;
  o.service_config = R"({"loadBalancingConfig":[{"round_robin":{}}]})";
  auto channel = MakeChannel(target_, o);
  // The calls start before every subchannel is up: they still reach every server.
  for (int i = 0; i < 300; ++i) {
    auto reply = Call(channel);
    ASSERT_TRUE(reply.ok()) << reply.status();
  }
  for (int i = 0; i < 3; ++i) EXPECT_GE(services_[i]->calls, 50) << "server " << i;
}

TEST_F(LbTest, BadPolicyOrServiceConfigMakesTheChannelInvalid) {
  ChannelOptions o;
  o.lb_policy = "grpclb";
  auto bad = Channel::New(&loop_, "127.0.0.1:1", o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("grpclb"), std::string::npos);
  ChannelOptions c;
  c.service_config = "{";
  auto channel = MakeChannel("127.0.0.1:1", c);
  auto reply = Call(channel);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
}

// One server shuts down (two-phase GOAWAY) while calls run continuously: its subchannel
// leaves READY at the first GOAWAY, the calls go to the other two, and none fails.
TEST_F(LbTest, RoundRobinSurvivesOneServerShutdownUnderLoad) {
  StartThree();
  ChannelOptions o;
  o.lb_policy = "round_robin";
  auto channel = MakeChannel(target_, o);
  channel->GetState(true);
  ASSERT_TRUE(RunUntil([&] { return ReadySubchannels(*channel) == 3; }));
  constexpr int kWorkers = 8;
  constexpr int kCallsPerWorker = 150;
  int ok = 0;
  int done_workers = 0;
  int issued = 0;
  std::vector<absl::Status> failures;
  auto worker = [&]() -> Task<void> {
    for (int i = 0; i < kCallsPerWorker; ++i) {
      ++issued;
      CallOptions co;
      co.timeout = absl::Seconds(20);
      auto reply = co_await UnaryCall<EchoRequest, EchoReply>(channel, kMethod, EchoRequest(), co);
      if (reply.ok()) {
        ++ok;
      } else {
        failures.push_back(reply.status());
      }
    }
    ++done_workers;
  };
  std::vector<Task<void>> tasks;
  for (int w = 0; w < kWorkers; ++w) {
    tasks.push_back(worker());
    tasks.back().Start([] {}, [](std::exception_ptr) {});
  }
  ASSERT_TRUE(RunUntil([&] { return ok >= 300; }));
  bool shut = false;
  servers_[1]->Shutdown(absl::Seconds(10), [&] { shut = true; });
  const int at_shutdown = services_[1]->calls;
  ASSERT_TRUE(RunUntil([&] { return done_workers == kWorkers; }, absl::Seconds(60)));
  ASSERT_TRUE(RunUntil([&] { return shut; }));
  servers_[1].reset();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures[0];
  EXPECT_EQ(ok, kWorkers * kCallsPerWorker);
  // The calls after the shutdown went to the others (a few in flight may still have reached
  // the draining server before its final GOAWAY).
  EXPECT_GT(services_[0]->calls + services_[2]->calls, kWorkers * kCallsPerWorker / 2);
  EXPECT_LE(services_[1]->calls - at_shutdown, kWorkers);
  EXPECT_GT(services_[0]->calls, 100);
  EXPECT_GT(services_[2]->calls, 100);
}

TEST_F(LbTest, PickFirstSticksToOneServerAndFailsOver) {
  StartThree();
  auto channel = MakeChannel(target_);  // pick_first: the default
  for (int i = 0; i < 30; ++i) {
    auto reply = Call(channel);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->text(), "server 0");
  }
  EXPECT_EQ(services_[0]->calls, 30);
  EXPECT_EQ(channel->connections_made(), 1);
  bool shut = false;
  servers_[0]->Shutdown(absl::Seconds(5), [&] { shut = true; });
  ASSERT_TRUE(RunUntil([&] { return shut; }));
  servers_[0].reset();
  for (int i = 0; i < 30; ++i) {
    auto reply = Call(channel);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->text(), "server 1");
  }
  EXPECT_EQ(services_[1]->calls, 30);
  EXPECT_EQ(services_[2]->calls, 0);
  EXPECT_EQ(channel->GetState(false), S::kReady);
}

// A DNS target is resolved again (getaddrinfo asked afresh) when the connection in use is
// lost, and a refused one keeps being re-resolved while it fails.
TEST_F(LbTest, LostConnectionReResolvesTheTarget) {
  StartServer(0);
  ChannelOptions o;
  o.backoff.initial_backoff = absl::Milliseconds(20);
  o.backoff.max_backoff = absl::Milliseconds(40);
  auto channel = MakeChannel(absl::StrCat("localhost:", servers_[0]->port()), o);
  ASSERT_TRUE(Call(channel).ok());
  EXPECT_EQ(channel->resolutions(), 1);
  bool shut = false;
  servers_[0]->Shutdown(absl::Seconds(5), [&] { shut = true; });
  ASSERT_TRUE(RunUntil([&] { return shut; }));
  ASSERT_TRUE(RunUntil([&] { return channel->resolutions() >= 2; }));
  EXPECT_EQ(channel->GetState(false), S::kIdle);  // pick_first: IDLE until the next call
  auto refused = Call(channel);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(RunUntil([&] { return channel->resolutions() >= 3; }));
}

TEST_F(LbTest, WaitForReadyWaitsForALateServerAndOthersFailFast) {
  const uint16_t port = FreePort(&loop_);
  ChannelOptions o;
  o.backoff.initial_backoff = absl::Milliseconds(50);
  o.backoff.max_backoff = absl::Milliseconds(100);
  auto channel = MakeChannel(absl::StrCat("ipv4:127.0.0.1:", port), o);
  // Nothing listens: without wait_for_ready the call fails once the channel is in
  // TRANSIENT_FAILURE, naming the address and the cause.
  auto refused = Call(channel);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find(absl::StrCat("ipv4:127.0.0.1:", port)),
            std::string::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("Connection refused"), std::string::npos);
  EXPECT_EQ(channel->GetState(false), S::kTransientFailure);
  // Now in TRANSIENT_FAILURE a call without wait_for_ready fails at once.
  auto fast = Call(channel);
  EXPECT_EQ(fast.status().code(), absl::StatusCode::kUnavailable);

  // With it, the call waits; the server starts later, and the call succeeds.
  std::optional<absl::StatusOr<EchoReply>> waited;
  CallOptions wfr;
  wfr.wait_for_ready = true;
  wfr.timeout = absl::Seconds(30);
  auto task = UnaryCall<EchoRequest, EchoReply>(channel, kMethod, EchoRequest(), wfr);
  task.Start([&](absl::StatusOr<EchoReply> r) { waited = std::move(r); },
             [](std::exception_ptr) {});
  // It is still waiting after more reconnection attempts have failed.
  auto* sub = static_cast<const Subchannel*>(channel->lb_policy()->subchannels()[0].get());
  const int attempts = sub->attempts();
  ASSERT_TRUE(RunUntil([&] { return sub->attempts() >= attempts + 2; }));
  EXPECT_FALSE(waited.has_value());
  StartServer(0, port);
  ASSERT_TRUE(RunUntil([&] { return waited.has_value(); }));
  ASSERT_TRUE(waited->ok()) << waited->status();
  EXPECT_EQ((*waited)->text(), "server 0");
  EXPECT_EQ(channel->GetState(false), S::kReady);
}

TEST_F(LbTest, WaitForReadyCallStillHasItsDeadline) {
  const uint16_t port = FreePort(&loop_);
  auto channel = MakeChannel(absl::StrCat("127.0.0.1:", port));
  CallOptions wfr;
  wfr.wait_for_ready = true;
  wfr.timeout = absl::Milliseconds(300);
  auto reply = Call(channel, wfr);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
}

Task<bool> WaitForChange(std::shared_ptr<Channel> channel, S last, absl::Time deadline);

// A DNS failure is not final: the channel resolves again on its backoff, and a call waiting
// for ready gets through once the name resolves (it stayed failed for good before).
TEST_F(LbTest, FailedResolutionIsRetriedOnBackoff) {
  StartServer(0);
  ChannelOptions o;
  o.backoff = {.initial_backoff = absl::Milliseconds(20), .multiplier = 2, .jitter = 0,
               .max_backoff = absl::Milliseconds(100)};
  int lookups = 0;
  const uint16_t port = servers_[0]->port();
  o.lookup = [&lookups, port](const std::string& host, uint16_t,
                              transport::LookupCallback callback) {
    EXPECT_EQ(host, "backend.example");
    if (++lookups <= 2) {
      callback(absl::UnavailableError("getaddrinfo ENOTFOUND backend.example"));
      return;
    }
    callback(std::vector<transport::SocketAddress>{
        *transport::SocketAddress::fromIp("127.0.0.1", port)});
  };
  auto channel = MakeChannel("dns:///backend.example:1234", o);
  // Fails fast while the name does not resolve...
  auto failed = Call(channel);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_NE(failed.status().message().find("ENOTFOUND"), std::string::npos) << failed.status();
  // ...and a wait_for_ready call gets through once it does, with nobody asking again.
  CallOptions wfr;
  wfr.wait_for_ready = true;
  auto reply = Call(channel, wfr);
  EXPECT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(lookups, 3);
  EXPECT_EQ(channel->GetState(false), S::kReady);
}

// A peer that accepts TCP and closes before any SETTINGS is a failed attempt (backed off), not
// a connection: round_robin reconnected such an address at once, forever.
TEST_F(LbTest, PeerClosingBeforeSettingsIsBackedOff) {
  AcceptAndClose peer(&loop_);
  ChannelOptions o;
  o.lb_policy = "round_robin";
  o.backoff = {.initial_backoff = absl::Milliseconds(100), .multiplier = 2, .jitter = 0,
               .max_backoff = absl::Milliseconds(400)};
  auto channel = MakeChannel(absl::StrCat("ipv4:127.0.0.1:", peer.port), o);
  channel->GetState(/*try_to_connect=*/true);
  // Over 1 s the schedule allows attempts at 0, 100, 300, 700 ms (and perhaps 1100): a handful.
  const absl::Time end = absl::Now() + absl::Seconds(1);
  RunUntil([&] { return absl::Now() >= end || peer.accepted > 50; }, absl::Seconds(2));
  EXPECT_GE(peer.accepted, 2);
  EXPECT_LE(peer.accepted, 6);
  EXPECT_EQ(channel->GetState(false), S::kTransientFailure);
}

// WaitForStateChange whose state already changed, with a deadline already past, must not
// remove another waiter's watch (it took the last id given out).
TEST_F(LbTest, PastDeadlineWaitDoesNotEatAnotherWatcher) {
  StartServer(0);
  auto channel = MakeChannel(absl::StrCat("127.0.0.1:", servers_[0]->port()));
  std::optional<S> other;
  channel->WatchState(S::kIdle, [&](S s) { other = s; });
  std::optional<bool> changed;
  auto wait = WaitForChange(channel, S::kReady, absl::Now() - absl::Seconds(1));
  wait.Start([&](bool c) { changed = c; }, [](std::exception_ptr) {});
  ASSERT_TRUE(RunUntil([&] { return changed.has_value(); }));
  EXPECT_TRUE(*changed);  // IDLE is not READY: a change
  channel->GetState(/*try_to_connect=*/true);
  ASSERT_TRUE(RunUntil([&] { return other.has_value(); }));
  EXPECT_EQ(*other, S::kConnecting);
}

// (A coroutine with parameters, not a capturing lambda: the frame outlives the closure.)
Task<bool> WaitForChange(std::shared_ptr<Channel> channel, S last, absl::Time deadline) {
  co_return co_await channel->WaitForStateChange(last, deadline);
}

TEST_F(LbTest, StateWatchSeesConnectingThenReady) {
  StartServer(0);
  auto channel = MakeChannel(absl::StrCat("127.0.0.1:", servers_[0]->port()));
  std::vector<S> seen;
  std::function<void(S)> watch = [&](S s) {
    seen.push_back(s);
    if (s != S::kReady) channel->WatchState(s, watch);
  };
  channel->WatchState(S::kIdle, watch);
  EXPECT_EQ(channel->GetState(true), S::kConnecting);
  ASSERT_TRUE(RunUntil([&] { return !seen.empty() && seen.back() == S::kReady; }));
  EXPECT_EQ(seen, (std::vector<S>{S::kConnecting, S::kReady}));
  // The Awaitable form: a change comes (Close() makes the channel IDLE), or the deadline.
  std::optional<bool> changed;
  auto wait = WaitForChange(channel, S::kReady, absl::Now() + absl::Seconds(20));
  wait.Start([&](bool c) { changed = c; }, [](std::exception_ptr) {});
  EXPECT_FALSE(changed.has_value());
  channel->Close();
  ASSERT_TRUE(RunUntil([&] { return changed.has_value(); }));
  EXPECT_TRUE(*changed);
  EXPECT_EQ(channel->GetState(false), S::kIdle);
  std::optional<bool> timed_out;
  auto wait2 = WaitForChange(channel, S::kIdle, absl::Now() + absl::Milliseconds(50));
  wait2.Start([&](bool c) { timed_out = c; }, [](std::exception_ptr) {});
  ASSERT_TRUE(RunUntil([&] { return timed_out.has_value(); }));
  EXPECT_FALSE(*timed_out);
}

// The reconnection schedule of a refused port on the loop's clock, with a short configured
// backoff (no jitter): attempts 100, 200, 400, 400 ms apart (the cap), never sooner.
TEST_F(LbTest, BackoffScheduleOnARefusedPort) {
  const uint16_t port = FreePort(&loop_);
  ChannelOptions o;
  o.backoff = {.initial_backoff = absl::Milliseconds(100),
               .multiplier = 2,
               .jitter = 0,
               .max_backoff = absl::Milliseconds(400),
               .min_connect_timeout = absl::Seconds(5)};
  auto channel = MakeChannel(absl::StrCat("ipv4:127.0.0.1:", port), o);
  // A wait_for_ready call without a deadline waits: the channel holds the loop meanwhile
  // (the backoff timers alone do not).
  CallOptions wfr;
  wfr.wait_for_ready = true;
  auto call = ClientCall::Start(channel, kMethod, wfr);
  auto* sub = static_cast<const Subchannel*>(channel->lb_policy()->subchannels()[0].get());
  std::vector<uint64_t> times = {sub->last_attempt_at()};
  ASSERT_EQ(sub->attempts(), 1);
  while (times.size() < 6) {
    const size_t n = times.size();
    ASSERT_TRUE(RunUntil([&] { return static_cast<size_t>(sub->attempts()) > n; }));
    ASSERT_EQ(static_cast<size_t>(sub->attempts()), n + 1);
    times.push_back(sub->last_attempt_at());
  }
  const uint64_t expected[] = {100, 200, 400, 400, 400};
  for (int i = 0; i < 5; ++i) {
    const uint64_t gap = times[i + 1] - times[i];
    EXPECT_GE(gap, expected[i]) << i;  // counted from the previous attempt's start
    EXPECT_LT(gap, expected[i] + 1000) << i;  // a loaded machine may be late, never early
  }
  EXPECT_EQ(channel->GetState(false), S::kTransientFailure);
  EXPECT_EQ(channel->connections_made(), 6);
  EXPECT_FALSE(call->done());
  call->Cancel(absl::CancelledError("test over"));
}

}  // namespace
}  // namespace h2rpc::rpc
