// Hedging end to end (gRFC A6 hedgingPolicy; rpc/client_call.cc, "hedging"): a scripted HTTP/2
// server answers each stream as told — stalls (never answers, until the client resets it),
// fails with a status (Trailers-Only, with grpc-retry-pushback-ms if set) or replies — and
// records what each stream received and how it closed, so that the tests see the hedges, the
// replayed messages, grpc-previous-rpc-attempts and the losers' RST_STREAM CANCEL. Loopback only.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/framing.h"
#include "rpc/testdata/echo.pb.h"
#include "transport/constants.h"
#include "transport/server.h"

namespace h2rpc::rpc {
namespace {

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

constexpr char kUnary[] = "/h2rpc.rpc_test.Echo/Unary";
constexpr char kCollect[] = "/h2rpc.rpc_test.Echo/Collect";

// A hedging policy for the Echo service.
std::string HedgingConfig(int max_attempts, const std::string& delay,
                          const std::string& codes = R"("UNAVAILABLE")",
                          const std::string& extra = "") {
  return absl::StrCat(R"({"methodConfig":[{"name":[{"service":"h2rpc.rpc_test.Echo"}],)",
                      R"("hedgingPolicy":{"maxAttempts":)", max_attempts, R"(,"hedgingDelay":")",
                      delay, R"(","nonFatalStatusCodes":[)", codes, "]}}]", extra, "}");
}

struct Step {
  enum Kind { kStall, kFail, kReply } kind = kReply;
  int status = 0;                      // kFail: the grpc-status
  std::optional<std::string> pushback{};  // kFail: grpc-retry-pushback-ms
};
Step Stall() { return {Step::kStall}; }
Step Fail(int status, std::optional<std::string> pushback = std::nullopt) {
  return {Step::kFail, status, std::move(pushback)};
}
Step Reply() { return {Step::kReply}; }

// Stream i (in arrival order) follows script[i] (the last entry repeats). A reply comes once
// the request stream ended, and says which stream answered ("stream <i>") and what it got.
class HedgingServer {
 public:
  struct Seen {
    std::string previous_attempts;  // grpc-previous-rpc-attempts, "" when absent
    std::string data{};             // the request bytes (framed messages)
    std::optional<uint32_t> rst{};  // how the stream closed (once it did)
    bool closed = false;
  };

  HedgingServer(transport::UvLoop* loop, std::vector<Step> script) : script_(std::move(script)) {
    server_ = *transport::Http2Server::createServer(loop);
    server_->onStream([this](std::shared_ptr<transport::ServerHttp2Stream> s,
                             const transport::Headers& headers, uint8_t) {
      const size_t index = seen.size();
      seen.push_back({headers.get("grpc-previous-rpc-attempts").value_or("")});
      const Step step = script_[std::min(index, script_.size() - 1)];
      std::weak_ptr<transport::ServerHttp2Stream> weak = s;
      s->onClose([this, index, weak] {
        seen[index].closed = true;
        if (auto stream = weak.lock()) seen[index].rst = stream->rstCode();
      });
      s->onData([this, index](std::string_view d) { seen[index].data.append(d); });
      if (step.kind == Step::kStall) return;
      if (step.kind == Step::kFail) {
        transport::Headers h{{":status", "200"},
                             {"content-type", "application/grpc"},
                             {"grpc-status", std::to_string(step.status)},
                             {"grpc-message", absl::StrCat("failure ", index + 1)}};
        if (step.pushback) h.add("grpc-retry-pushback-ms", *step.pushback);
        (void)s->respond(h, {.endStream = true});
        return;
      }
      s->onEnd([this, index, weak] {
        auto stream = weak.lock();
        if (!stream) return;
        (void)stream->respond({{":status", "200"}, {"content-type", "application/grpc"}},
                              {.waitForTrailers = true});
        stream->onWantTrailers([weak] {
          if (auto st = weak.lock()) (void)st->sendTrailers({{"grpc-status", "0"}});
        });
        EchoReply reply;
        reply.set_text(absl::StrCat("stream ", index + 1));
        reply.set_index(static_cast<int>(seen[index].data.size()));
        stream->end(FrameMessage(reply.SerializeAsString(), false));
      });
    });
    EXPECT_TRUE(server_->listen(0, "127.0.0.1").ok());
  }
  ~HedgingServer() { server_->close(); }
  std::string target() const { return absl::StrCat("127.0.0.1:", server_->port()); }
  int cancelled() const {
    int n = 0;
    for (const Seen& s : seen) n += s.rst == transport::constants::NGHTTP2_CANCEL;
    return n;
  }
  std::vector<Seen> seen;

 private:
  std::vector<Step> script_;
  std::unique_ptr<transport::Http2Server> server_;
};

class HedgingTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& c : channels_) c->Close();
    for (int i = 0; i < 100; ++i) loop_.runOnce();
  }
  std::shared_ptr<Channel> MakeChannel(const HedgingServer& server, std::string service_config) {
    ChannelOptions o;
    o.service_config = std::move(service_config);
    auto c = Channel::Create(&loop_, server.target(), std::move(o));
    EXPECT_TRUE(c->target_status().ok()) << c->target_status();
    channels_.push_back(c);
    return c;
  }
  absl::StatusOr<EchoReply> Call(const std::shared_ptr<Channel>& channel,
                                 absl::Duration timeout = absl::Seconds(20)) {
    CallOptions o;
    o.timeout = timeout;
    EchoRequest req;
    req.set_text("hi");
    return BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(channel, kUnary, req, o));
  }
  // Runs the loop until `done` (bounded: false if it never came).
  template <typename F>
  bool RunUntil(F done) {
    const absl::Time limit = absl::Now() + absl::Seconds(20);
    while (!done()) {
      if (absl::Now() > limit) return false;
      loop_.runOnce();
    }
    return true;
  }

  transport::UvLoop loop_;
  std::vector<std::shared_ptr<Channel>> channels_;
};

TEST_F(HedgingTest, TheSecondHedgeWinsWhenTheFirstStalls) {
  HedgingServer server(&loop_, {Stall(), Reply()});
  auto channel = MakeChannel(server, HedgingConfig(2, "0.02s"));
  auto reply = Call(channel);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "stream 2");
  ASSERT_EQ(server.seen.size(), 2u);
  EXPECT_EQ(server.seen[0].previous_attempts, "");
  EXPECT_EQ(server.seen[1].previous_attempts, "1");
  EXPECT_EQ(server.seen[0].data, server.seen[1].data);  // the request replayed
  EXPECT_EQ(channel->hedged_attempts(), 1);
  // The loser is cancelled: the server sees RST_STREAM CANCEL.
  ASSERT_TRUE(RunUntil([&] { return server.seen[0].closed; }));
  EXPECT_EQ(server.seen[0].rst, transport::constants::NGHTTP2_CANCEL);
  EXPECT_EQ(channel->retry_buffered_bytes(), 0u);
}

TEST_F(HedgingTest, ResponseHeadersOfAnyAttemptCommitAndStopLaterHedges) {
  // maxAttempts 5, all at once (hedgingDelay 0): the first answers, the others stall; once it
  // has answered no hedge is left running and no more start.
  HedgingServer server(&loop_, {Reply(), Stall()});
  auto channel = MakeChannel(server, HedgingConfig(5, "0s"));
  auto reply = Call(channel);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "stream 1");
  const int hedged = channel->hedged_attempts();
  EXPECT_LE(hedged, 4);
  ASSERT_TRUE(RunUntil([&] {
    for (const auto& s : server.seen) {
      if (!s.closed) return false;
    }
    return true;
  }));
  EXPECT_EQ(channel->hedged_attempts(), hedged);  // none started after the commit
  // (A hedge cancelled before its HEADERS left may never reach the server.)
  EXPECT_LE(server.seen.size(), static_cast<size_t>(hedged) + 1);
  for (size_t i = 1; i < server.seen.size(); ++i) {
    EXPECT_EQ(server.seen[i].rst, transport::constants::NGHTTP2_CANCEL) << i;
  }
}

TEST_F(HedgingTest, ANonFatalStatusSendsTheNextHedgeAtOnce) {
  // hedgingDelay is 100 s: only the at-once rule lets the second attempt go within the 5 s
  // deadline.
  HedgingServer server(&loop_, {Fail(14), Reply()});
  auto channel = MakeChannel(server, HedgingConfig(3, "100s"));
  auto reply = Call(channel, absl::Seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "stream 2");
  EXPECT_EQ(server.seen.size(), 2u);
  EXPECT_EQ(server.seen[1].previous_attempts, "1");
}

TEST_F(HedgingTest, AFatalStatusEndsTheCallAndCancelsTheOthers) {
  // Three at once: two stall, the third fails with a code that is not non-fatal.
  HedgingServer server(&loop_, {Stall(), Stall(), Fail(3)});
  auto channel = MakeChannel(server, HedgingConfig(3, "0s"));
  auto reply = Call(channel);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reply.status().message(), "failure 3");
  ASSERT_EQ(server.seen.size(), 3u);
  ASSERT_TRUE(RunUntil([&] { return server.seen[0].closed && server.seen[1].closed; }));
  EXPECT_EQ(server.cancelled(), 2);
}

TEST_F(HedgingTest, MaxAttemptsBoundTheHedgesAndTheLastStatusIsReturned) {
  HedgingServer server(&loop_, {Fail(14)});
  auto channel = MakeChannel(server, HedgingConfig(3, "0.01s"));
  auto reply = Call(channel);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(reply.status().message(), "failure 3");
  EXPECT_EQ(server.seen.size(), 3u);
  EXPECT_EQ(channel->hedged_attempts(), 2);
  EXPECT_EQ(server.seen[2].previous_attempts, "2");
}

TEST_F(HedgingTest, MaxAttemptsIsCappedAtFive) {
  HedgingServer server(&loop_, {Fail(14)});
  auto channel = MakeChannel(server, HedgingConfig(9, "0s"));
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server.seen.size(), 5u);
}

TEST_F(HedgingTest, PushbackNoMoreStopsHedging) {
  // Without the pushback the second attempt would go at once and succeed.
  HedgingServer server(&loop_, {Fail(14, "-1"), Reply()});
  auto channel = MakeChannel(server, HedgingConfig(3, "100s"));
  auto reply = Call(channel);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server.seen.size(), 1u);
}

TEST_F(HedgingTest, PushbackDelaysTheNextHedge) {
  // The server asks for 10 s before the next attempt: the call's 300 ms deadline comes first
  // (without the pushback the next attempt would go at once and succeed).
  HedgingServer server(&loop_, {Fail(14, "10000"), Reply()});
  auto channel = MakeChannel(server, HedgingConfig(3, "100s"));
  EXPECT_EQ(Call(channel, absl::Milliseconds(300)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(server.seen.size(), 1u);
  // A short pushback is waited for, then the hedge goes.
  HedgingServer server2(&loop_, {Fail(14, "20"), Reply()});
  auto channel2 = MakeChannel(server2, HedgingConfig(3, "100s"));
  auto reply = Call(channel2, absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(server2.seen.size(), 2u);
}

TEST_F(HedgingTest, TheDeadlineSpansAllHedges) {
  HedgingServer server(&loop_, {Stall()});
  auto channel = MakeChannel(server, HedgingConfig(3, "0.05s"));
  const absl::Time start = absl::Now();
  EXPECT_EQ(Call(channel, absl::Milliseconds(400)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  ASSERT_GE(server.seen.size(), 1u);
  EXPECT_LE(server.seen.size(), 3u);
  // Every attempt is cancelled at the deadline.
  ASSERT_TRUE(RunUntil([&] {
    for (const auto& s : server.seen) {
      if (!s.closed) return false;
    }
    return true;
  }));
  EXPECT_EQ(server.cancelled(), static_cast<int>(server.seen.size()));
}

TEST_F(HedgingTest, ThrottlingStopsHedges) {
  // maxTokens 2: one failure leaves 1 token, at the threshold (maxTokens / 2): no hedge is
  // sent, although the next attempt would succeed.
  HedgingServer server(&loop_, {Fail(14), Reply()});
  auto channel = MakeChannel(
      server, HedgingConfig(3, "100s", R"("UNAVAILABLE")",
                            R"(,"retryThrottling":{"maxTokens":2,"tokenRatio":0.5})"));
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server.seen.size(), 1u);
  EXPECT_EQ(channel->retry_tokens(), 1.0);
  EXPECT_EQ(channel->hedged_attempts(), 0);
}

TEST_F(HedgingTest, AFatalStatusCostsNoToken) {
  HedgingServer server(&loop_, {Fail(3)});
  auto channel = MakeChannel(
      server, HedgingConfig(3, "100s", R"("UNAVAILABLE")",
                            R"(,"retryThrottling":{"maxTokens":2,"tokenRatio":0.5})"));
  EXPECT_EQ(Call(channel).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(channel->retry_tokens(), 2.0);
}

Task<absl::StatusOr<EchoReply>> CollectTwo(std::shared_ptr<Channel> channel,
                                            HedgingServer* server, transport::UvLoop* loop) {
  CallOptions o;
  o.timeout = absl::Seconds(20);
  auto call = ClientCall::Start(channel, kCollect, o);
  EchoRequest a;
  a.set_text("a");
  if (!co_await call->Write(a.SerializeAsString())) co_return absl::InternalError("write a");
  // Wait (bounded) until the hedge has started: the next message goes to both attempts.
  for (int i = 0; i < 2000 && server->seen.size() < 2; ++i) {
    Awaitable<bool> tick(loop);
    auto timer = loop->createTimer();
    timer->start(5, [state = tick.state()] { state->Complete(true); });
    co_await tick;
  }
  EchoRequest b;
  b.set_text("b");
  if (!co_await call->Write(b.SerializeAsString())) co_return absl::InternalError("write b");
  call->WritesDone();
  std::optional<std::string> bytes = co_await call->Read();
  absl::Status status = co_await call->Finish();
  if (!status.ok()) co_return status;
  if (!bytes) co_return absl::InternalError("no reply");
  EchoReply reply;
  if (!reply.ParseFromString(*bytes)) co_return absl::InternalError("bad reply");
  co_return reply;
}

TEST_F(HedgingTest, AHedgeReplaysTheMessagesAndGetsTheLaterOnes) {
  // The first attempt stalls; the hedge gets "a" replayed and "b" written after it started.
  HedgingServer server(&loop_, {Stall(), Reply()});
  auto channel = MakeChannel(server, HedgingConfig(2, "0.02s"));
  auto reply = BlockOn(&loop_, CollectTwo(channel, &server, &loop_));
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(server.seen.size(), 2u);
  EchoRequest a, b;
  a.set_text("a");
  b.set_text("b");
  const std::string both = FrameMessage(a.SerializeAsString(), false) +
                           FrameMessage(b.SerializeAsString(), false);
  EXPECT_EQ(server.seen[1].data, both);
  EXPECT_EQ(reply->text(), "stream 2");
  EXPECT_EQ(reply->index(), static_cast<int>(both.size()));
  // The first attempt got both as well, until it was cancelled.
  ASSERT_TRUE(RunUntil([&] { return server.seen[0].closed; }));
  EXPECT_EQ(server.seen[0].data, both);
  EXPECT_EQ(server.seen[0].rst, transport::constants::NGHTTP2_CANCEL);
}

}  // namespace
}  // namespace h2rpc::rpc
