// Deadline and cancellation propagation across three hops (issue 15, item 6): client -> A -> B
// -> C over loopback, each hop a server whose handler calls the next one; C waits on its
// context's stop token. The client's deadline or cancel must reach C, and A and B must end
// promptly; CallOptions::propagate = false opts out; a handler that finishes cancels the calls
// it left running.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/sleep.h"
#include "rpc/sync.h"
#include "rpc/testdata/echo.pb.h"
#include "rpc/thread_pool.h"

namespace h2rpc::rpc {
namespace {

// Call options with only a deadline (or a timeout); named fields, not designated
// initializers (which leave the other fields to -Wmissing-field-initializers).
CallOptions DeadlineAt(absl::Time deadline) {
  CallOptions o;
  o.deadline = deadline;
  return o;
}
CallOptions TimeoutOf(absl::Duration timeout) {
  CallOptions o;
  o.timeout = timeout;
  return o;
}

using rpc_test::EchoReply;
using rpc_test::EchoRequest;

constexpr char kMethod[] = "/h2rpc.rpc_test.Echo/Unary";

// What one hop saw.
struct Hop {
  bool started = false;
  bool ended = false;
  std::optional<absl::Time> deadline;  // its call's
  absl::Time ended_at;
  absl::Status outcome;                  // A, B: their call to the next hop; C: its context's end
  std::optional<bool> slept_to_the_end;  // C only
};

// A relays the request to `next`; the last hop (no `next`) sleeps req.sleep_ms() on its call's
// stop token. req.text() selects a variant: "opt-out" (the relay does not propagate), "detach"
// (the relay starts its call as a detached task and returns at once).
class RelayService : public Service {
 public:
  RelayService(transport::UvLoop* loop, Hop* hop, Event* started)
      : Service("h2rpc.rpc_test.Echo"), loop_(loop), hop_(hop), started_(started) {
    AddUnaryMethod<EchoRequest, EchoReply>(
        kMethod, [this](ServerContext& ctx, const EchoRequest& req) { return Handle(ctx, req); });
  }
  std::shared_ptr<Channel> next;
  Event* next_started = nullptr;
  ThreadPool* pool = nullptr;

 private:
  Task<absl::StatusOr<EchoReply>> Handle(ServerContext& ctx, const EchoRequest& req) {
    hop_->started = true;
    hop_->deadline = ctx.deadline();
    started_->Set();
    if (!next) {
      const bool elapsed =
          co_await Sleep(loop_, absl::Milliseconds(req.sleep_ms()), ctx.stop_token());
      hop_->slept_to_the_end = elapsed;
      hop_->outcome = ctx.context().end_status();
      End();
      EchoReply reply;
      reply.set_text("slept");
      co_return reply;
    }
    if (req.text() == "offload" && pool != nullptr) {
      // A hop onto a pool thread and back: the coroutine keeps its context across it.
      auto work = [] { return 1; };
      const int one = co_await Offload(pool, std::move(work));
      EXPECT_EQ(one, 1);
    }
    CallOptions options;
    options.propagate = req.text() != "opt-out";
    if (req.text() == "explicit-parent") {
      // A call started from a plain loop callback, where no handler's context is ambient:
      // CallOptions::parent ties it to this handler's call all the same.
      std::shared_ptr<CallContext> parent = ctx.context().Share();
      loop_->post([ch = next, req, hop = hop_, parent] {
        EXPECT_EQ(CallContext::Current(), nullptr);
        [](std::shared_ptr<Channel> ch, EchoRequest r, Hop* hop,
           std::shared_ptr<CallContext> parent) -> Task<void> {
          CallOptions options;
          options.parent = std::move(parent);
          absl::StatusOr<EchoReply> got =
              co_await UnaryCall<EchoRequest, EchoReply>(ch, kMethod, r, std::move(options));
          hop->outcome = got.status();
        }(ch, req, hop, parent).Start();
      });
      const bool reached = co_await next_started->Wait();
      EXPECT_TRUE(reached);
      End();
      co_return EchoReply();
    }
    if (req.text() == "detach") {
      // Started, not awaited: it outlives this handler, which returns at once.
      [](std::shared_ptr<Channel> ch, EchoRequest r, Hop* hop) -> Task<void> {
        absl::StatusOr<EchoReply> got =
            co_await UnaryCall<EchoRequest, EchoReply>(ch, kMethod, r, {});
        hop->outcome = got.status();
      }(next, req, hop_).Start();
      // Return once the next hop has the call (before, it would be cancelled unsent).
      const bool reached = co_await next_started->Wait();
      EXPECT_TRUE(reached);
      End();
      co_return EchoReply();
    }
    absl::StatusOr<EchoReply> got =
        co_await UnaryCall<EchoRequest, EchoReply>(next, kMethod, req, options);
    hop_->outcome = got.status();
    End();
    co_return got;
  }
  void End() {
    hop_->ended = true;
    hop_->ended_at = absl::Now();
  }

  transport::UvLoop* loop_;
  Hop* hop_;
  Event* started_;
};

bool EndedByDeadlineOrCancel(const absl::Status& s) {
  return s.code() == absl::StatusCode::kDeadlineExceeded || s.code() == absl::StatusCode::kCancelled;
}

class PropagationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      started_.push_back(std::make_unique<Event>(&loop_));
      services_.push_back(std::make_unique<RelayService>(&loop_, &hops_[i], started_[i].get()));
      servers_.push_back(std::make_unique<Server>(&loop_));
      servers_[i]->RegisterService(services_[i].get());
      ASSERT_TRUE(servers_[i]->Listen("127.0.0.1", 0).ok());
      channels_.push_back(
          Channel::Create(&loop_, "127.0.0.1:" + std::to_string(servers_[i]->port())));
    }
    services_[0]->next = channels_[1];  // A -> B
    services_[1]->next = channels_[2];  // B -> C
    services_[0]->next_started = started_[1].get();
    services_[1]->next_started = started_[2].get();
  }
  void TearDown() override {
    for (auto& c : channels_) c->Close();
    int closed = 0;
    for (auto& s : servers_) s->Shutdown(absl::Seconds(1), [&] { ++closed; });
    for (int i = 0; i < 2000 && closed < 3; ++i) uv_run(loop_.uv(), UV_RUN_ONCE);
  }
  // Runs the loop until `done()` holds (checked every 5 ms), for at most 10 s.
  Task<bool> Until(std::function<bool()> done) {
    for (int i = 0; i < 2000 && !done(); ++i) co_await Sleep(&loop_, absl::Milliseconds(5));
    co_return done();
  }
  bool AllEnded() { return hops_[0].ended && hops_[1].ended && hops_[2].ended; }

  transport::UvLoop loop_;
  Hop hops_[3];  // A, B, C
  std::vector<std::unique_ptr<Event>> started_;  // each hop's handler has started
  std::vector<std::unique_ptr<RelayService>> services_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::vector<std::shared_ptr<Channel>> channels_;  // to A, B, C
};

TEST_F(PropagationTest, TheClientsDeadlineReachesTheLastHopAndEveryHopEndsPromptly) {
  EchoRequest req;
  req.set_sleep_ms(20000);  // C would sleep 20 s
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Milliseconds(500);
  absl::StatusOr<EchoReply> got = BlockOn(
      &loop_, UnaryCall<EchoRequest, EchoReply>(channels_[0], kMethod, req,
                                                DeadlineAt(deadline)));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded) << got.status();
  ASSERT_TRUE(BlockOn(&loop_, Until([&] { return AllEnded(); })));
  const Hop& c = hops_[2];
  EXPECT_EQ(c.slept_to_the_end, false);  // woken by its call's end, not by its 20 s timer
  // C's own timer (DEADLINE_EXCEEDED) races B's RST_STREAM CANCEL, which B sends when its own
  // call ends (CANCELLED): the deadline reaches C either way.
  EXPECT_TRUE(EndedByDeadlineOrCancel(c.outcome)) << c.outcome;
  for (const Hop& hop : hops_) {
    ASSERT_TRUE(hop.deadline);  // each hop got a deadline it did not set itself
    // grpc-timeout travels in whole units, rounded up: a hop's deadline is the client's,
    // give or take that rounding and the time in flight.
    EXPECT_LT(*hop.deadline, deadline + absl::Milliseconds(100));
    EXPECT_LT(hop.ended_at - start, absl::Seconds(5));
  }
  EXPECT_TRUE(EndedByDeadlineOrCancel(hops_[0].outcome)) << hops_[0].outcome;
  EXPECT_TRUE(EndedByDeadlineOrCancel(hops_[1].outcome)) << hops_[1].outcome;
}

TEST_F(PropagationTest, TheClientsCancelReachesTheLastHop) {
  EchoRequest req;
  req.set_sleep_ms(20000);
  const absl::Time start = absl::Now();
  auto client = [&]() -> Task<absl::Status> {
    auto call = ClientCall::Start(channels_[0], kMethod, {});  // no deadline anywhere
    co_await call->Write(req.SerializeAsString());
    call->WritesDone();
    const bool c_started = co_await started_[2]->Wait();
    EXPECT_TRUE(c_started);
    call->Cancel(absl::CancelledError("the client gave up"));
    co_return co_await call->Finish();
  };
  absl::Status status = BlockOn(&loop_, client());
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(BlockOn(&loop_, Until([&] { return AllEnded(); })));
  EXPECT_EQ(hops_[2].slept_to_the_end, false);
  EXPECT_EQ(hops_[2].outcome.code(), absl::StatusCode::kCancelled) << hops_[2].outcome;
  EXPECT_FALSE(hops_[2].deadline);  // nobody set one
  for (const Hop& hop : hops_) EXPECT_LT(hop.ended_at - start, absl::Seconds(5));
  EXPECT_EQ(hops_[1].outcome.code(), absl::StatusCode::kCancelled) << hops_[1].outcome;
}

TEST_F(PropagationTest, TheContextSurvivesAnOffloadToAThreadPool) {
  ThreadPool pool(1);
  services_[1]->pool = &pool;
  EchoRequest req;
  req.set_text("offload");  // B offloads, then calls C
  req.set_sleep_ms(20000);
  const absl::Time deadline = absl::Now() + absl::Milliseconds(300);
  absl::StatusOr<EchoReply> got = BlockOn(
      &loop_, UnaryCall<EchoRequest, EchoReply>(channels_[0], kMethod, req,
                                                DeadlineAt(deadline)));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded) << got.status();
  ASSERT_TRUE(BlockOn(&loop_, Until([&] { return AllEnded(); })));
  ASSERT_TRUE(hops_[2].deadline);  // B's call to C, made after the offload, inherited it
  EXPECT_EQ(hops_[2].slept_to_the_end, false);
  services_[1]->pool = nullptr;
}

TEST_F(PropagationTest, PropagateFalseOptsOut) {
  EchoRequest req;
  req.set_text("opt-out");  // A and B call on without propagating
  req.set_sleep_ms(300);
  absl::StatusOr<EchoReply> got = BlockOn(
      &loop_, UnaryCall<EchoRequest, EchoReply>(channels_[0], kMethod, req,
                                                TimeoutOf(absl::Milliseconds(50))));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded) << got.status();
  ASSERT_TRUE(BlockOn(&loop_, Until([&] { return AllEnded(); })));
  EXPECT_TRUE(hops_[0].deadline);
  EXPECT_FALSE(hops_[1].deadline);  // A did not pass it on
  EXPECT_EQ(hops_[2].slept_to_the_end, true);  // C was never cancelled
  EXPECT_TRUE(hops_[0].outcome.ok()) << hops_[0].outcome;  // A's own call ran to its end
}

TEST_F(PropagationTest, AHandlerThatFinishesCancelsTheCallsItLeftRunning) {
  EchoRequest req;
  req.set_text("detach");  // A starts its call to B and returns at once
  req.set_sleep_ms(20000);
  const absl::Time start = absl::Now();
  absl::StatusOr<EchoReply> got =
      BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(channels_[0], kMethod, req, {}));
  EXPECT_TRUE(got.ok()) << got.status();
  // B and C were reached through A's detached call, which A's end cancelled.
  ASSERT_TRUE(BlockOn(&loop_, Until([&] {
    return hops_[1].ended && hops_[2].ended && !hops_[0].outcome.ok();
  })));
  EXPECT_EQ(hops_[0].outcome.code(), absl::StatusCode::kCancelled) << hops_[0].outcome;
  EXPECT_EQ(hops_[2].slept_to_the_end, false);
  EXPECT_EQ(hops_[2].outcome.code(), absl::StatusCode::kCancelled) << hops_[2].outcome;
  EXPECT_LT(hops_[2].ended_at - start, absl::Seconds(5));
}

TEST_F(PropagationTest, AnExplicitParentTiesACallStartedOutsideTheHandler) {
  EchoRequest req;
  req.set_text("explicit-parent");
  req.set_sleep_ms(20000);
  const absl::Time start = absl::Now();
  absl::StatusOr<EchoReply> got =
      BlockOn(&loop_, UnaryCall<EchoRequest, EchoReply>(channels_[0], kMethod, req, {}));
  EXPECT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(BlockOn(&loop_, Until([&] {
    return hops_[1].ended && hops_[2].ended && !hops_[0].outcome.ok();
  })));
  EXPECT_EQ(hops_[0].outcome.code(), absl::StatusCode::kCancelled) << hops_[0].outcome;
  EXPECT_EQ(hops_[2].slept_to_the_end, false);
  EXPECT_LT(hops_[2].ended_at - start, absl::Seconds(5));
}

}  // namespace
}  // namespace h2rpc::rpc
