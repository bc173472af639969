// Server::Shutdown under load, over loopback: clients on several connections keep issuing
// unary and server-streaming calls while the server drains with gRPC's two-phase GOAWAY. No
// call is lost or fails: every call started reaches the server and ends OK — those in flight,
// and those that cross the first GOAWAY — none is refused and replayed (the channels'
// transparent_retries() stay 0), and a channel starts no call once it has read the GOAWAY (a
// gRPC client would move to another server; the server no longer listens).
// The frame sequence itself is checked on a manual clock in
// transport/session_timeouts_test.cc (GracefulCloseTest).
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/sleep.h"
#include "rpc/testdata/echo.pb.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

class EchoService : public Service {
 public:
  explicit EchoService(transport::EventLoop* loop) : Service("h2rpc.rpc_test.Echo") {
    AddUnaryMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Unary",
        [loop](ServerContext&, const EchoRequest& req) -> Task<absl::StatusOr<EchoReply>> {
          if (req.sleep_ms() > 0) co_await Sleep(loop, absl::Milliseconds(req.sleep_ms()));
          EchoReply reply;
          reply.set_text(req.text());
          co_return reply;
        });
    AddServerStreamingMethod<EchoRequest, EchoReply>(
        "/h2rpc.rpc_test.Echo/Expand",
        [loop](ServerContext&, const EchoRequest& req,
               ServerWriter<EchoReply>& out) -> Task<absl::Status> {
          for (int i = 0; i < req.count(); ++i) {
            EchoReply reply;
            reply.set_index(i);
            if (!co_await out.Write(reply)) co_return absl::CancelledError("client went away");
            co_await Sleep(loop, absl::Milliseconds(req.sleep_ms()));
          }
          co_return absl::OkStatus();
        });
  }
};

struct Tally {
  int started = 0;
  int ok = 0;
  std::vector<std::string> failures;
};

// One call, unary or server-streaming, tallied.
Task<void> OneCall(std::shared_ptr<Channel> channel, bool streaming, int n, Tally* tally) {
  ++tally->started;
  EchoRequest req;
  req.set_text("call " + std::to_string(n));
  req.set_sleep_ms(3 + n % 7);
  absl::Status status;
  if (!streaming) {
    auto reply = co_await UnaryCall<EchoRequest, EchoReply>(
        channel, "/h2rpc.rpc_test.Echo/Unary", req, {});
    status = reply.status();
    if (status.ok() && reply->text() != req.text()) status = absl::DataLossError("wrong reply");
  } else {
    req.set_count(4);
    auto call = ClientCall::Start(channel, "/h2rpc.rpc_test.Echo/Expand", {});
    co_await call->Write(req.SerializeAsString());
    call->WritesDone();
    ClientReader<EchoReply> reader(call);
    int got = 0;
    while (auto r = co_await reader.Read()) ++got;
    status = co_await reader.Finish();
    if (status.ok() && got != 4) status = absl::DataLossError("lost messages");
  }
  if (status.ok()) {
    ++tally->ok;
  } else {
    tally->failures.push_back(status.ToString());
  }
}

// Issues calls back to back on `channel` until it has seen a GOAWAY (`*draining`).
Task<void> Worker(std::shared_ptr<Channel> channel, bool streaming, const bool* draining,
                  Tally* tally) {
  for (int n = 0; !*draining; ++n) co_await OneCall(channel, streaming, n, tally);
}

TEST(GracefulShutdownTest, NoCallIsLostOrFailsWhileTheServerDrains) {
  transport::UvLoop loop;
  EchoService service(&loop);
  Server server(&loop);
  server.RegisterService(&service);
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  const std::string target = "127.0.0.1:" + std::to_string(server.port());

  constexpr int kChannels = 4;
  constexpr int kWorkersPerKind = 3;  // per channel: 3 unary and 3 streaming loops
  std::vector<std::shared_ptr<Channel>> channels;
  bool draining[kChannels] = {};
  Tally tally;
  int workers_done = 0;
  for (int c = 0; c < kChannels; ++c) {
    channels.push_back(Channel::Create(&loop, target));
    auto session = channels[c]->Session();
    ASSERT_TRUE(session.ok()) << session.status();
    (*session)->onGoaway([&draining, c](uint32_t, int32_t, std::string_view) {
      draining[c] = true;
    });
    for (int w = 0; w < 2 * kWorkersPerKind; ++w) {
      Worker(channels[c], w % 2 == 1, &draining[c], &tally).Start([&] { ++workers_done; });
    }
  }
  // Let the load run, then drain.
  size_t in_flight_at_shutdown = 0;
  bool shut_down = false;
  auto start = loop.now();
  // ~200 ms of load, and the drain starts with calls running at the server.
  for (int i = 0; i < 100000 && (loop.now() - start < 200 || server.active_calls() == 0); ++i) {
    loop.runOnce();
  }
  in_flight_at_shutdown = server.active_calls();
  const int started_before = tally.started;
  server.Shutdown(absl::Seconds(20), [&] { shut_down = true; });
  // Calls that cross the first GOAWAY: started before the clients can have read it (nothing
  // has run since Shutdown()), their HEADERS reach the server after it sent the GOAWAY. A
  // single GOAWAY with the last stream id would refuse them; they must be served.
  int crossing_done = 0;
  constexpr int kCrossing = 4;  // per channel
  for (int c = 0; c < kChannels; ++c) {
    for (int i = 0; i < kCrossing; ++i) {
      OneCall(channels[c], i % 2 == 1, 1000 + i, &tally).Start([&] { ++crossing_done; });
    }
  }
  auto finished = [&] {
    return shut_down && workers_done == kChannels * 2 * kWorkersPerKind &&
           crossing_done == kChannels * kCrossing;
  };
  for (int i = 0; i < 100000 && !finished(); ++i) loop.runOnce();
  ASSERT_TRUE(shut_down);
  ASSERT_EQ(workers_done, kChannels * 2 * kWorkersPerKind);
  ASSERT_EQ(crossing_done, kChannels * kCrossing);
  EXPECT_GT(in_flight_at_shutdown, 0u);  // the drain had calls to finish
  EXPECT_GE(tally.started, started_before + kChannels * kCrossing);
  EXPECT_EQ(tally.ok, tally.started);
  EXPECT_TRUE(tally.failures.empty())
      << tally.failures.size() << " failed, first: " << tally.failures.front();
  for (const auto& channel : channels) {
    EXPECT_EQ(channel->transparent_retries(), 0);  // nothing refused, nothing replayed
    EXPECT_EQ(channel->connections_made(), 1);
  }
  EXPECT_EQ(server.active_calls(), 0u);
}

}  // namespace
}  // namespace h2rpc::rpc
