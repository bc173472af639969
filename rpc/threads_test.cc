// The threading model (rpc/README.md, "Threading"): channels and blocking stubs used from many
// threads at once, coroutines and blocking callers sharing a loop, a server spread over N loops
// (ServerPool), Offload() resuming handlers on their own loop, blocking calls on a loop's own
// thread refused, the single-threaded blocking program still working, and teardown with calls in
// flight. Meant to run under --config=tsan as well (and asan).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/client_blocking.h"
#include "rpc/on_loop.h"
#include "rpc/server.h"
#include "rpc/server_pool.h"
#include "rpc/testdata/threads.h2rpc.h"
#include "rpc/thread_pool.h"
#include "transport/uv_loop.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::rpc {
namespace {

using threads_test::Msg;
using threads_test::Threads;

uint64_t ThisThread() { return std::hash<std::thread::id>()(std::this_thread::get_id()); }
uint64_t Hash(std::thread::id id) { return std::hash<std::thread::id>()(id); }

Msg MakeMsg(std::string text, int count = 0) {
  Msg m;
  m.set_text(std::move(text));
  m.set_count(count);
  return m;
}

class ThreadsImpl : public Threads::Service {
 public:
  explicit ThreadsImpl(ThreadPool* pool) : pool_(pool) {}

  Task<absl::StatusOr<Msg>> Unary(ServerContext&, const Msg& request) override {
    Msg reply = request;
    reply.set_thread(ThisThread());
    co_return reply;
  }
  Task<absl::Status> Expand(ServerContext&, const Msg& request,
                            ServerWriter<Msg>& writer) override {
    for (int i = 0; i < request.count(); ++i) {
      Msg m = MakeMsg(request.text() + std::to_string(i));
      m.set_thread(ThisThread());
      if (!co_await writer.Write(m)) co_return absl::CancelledError("gone");
    }
    co_return absl::OkStatus();
  }
  Task<absl::StatusOr<Msg>> Collect(ServerContext&, ServerReader<Msg>& reader) override {
    std::string all;
    while (std::optional<Msg> m = co_await reader.Read()) all += m->text();
    Msg reply = MakeMsg(all);
    reply.set_thread(ThisThread());
    co_return reply;
  }
  Task<absl::Status> Chat(ServerContext& context, ServerReaderWriter<Msg, Msg>& stream) override {
    while (std::optional<Msg> m = co_await stream.Read()) {
      if (!co_await stream.Write(MakeMsg("re:" + m->text()))) break;
    }
    if (context.IsCancelled()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        ++chats_cancelled;
      }
      cv.notify_all();
    }
    co_return absl::OkStatus();
  }
  Task<absl::StatusOr<Msg>> Offloaded(ServerContext&, const Msg& request) override {
    const uint64_t before = ThisThread();
    const std::string text = request.text();
    // Blocking work on the pool: it returns the pool thread it ran on.
    auto work = [text] {
      std::string s = text;
      for (int i = 0; i < 1000; ++i) s = std::to_string(std::hash<std::string>()(s));
      return ThisThread();
    };
    uint64_t worker = co_await Offload(pool_, std::move(work));
    const uint64_t after = ThisThread();
    Msg reply;
    reply.set_text(before == after ? "same loop" : "other thread");
    reply.set_thread(worker);
    reply.set_count(worker == before ? 1 : 0);
    co_return reply;
  }
  Task<absl::StatusOr<Msg>> Hang(ServerContext& context, const Msg&) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++hanging;
    }
    cv.notify_all();
    Awaitable<bool> cancelled;
    context.OnCancel([state = cancelled.state()] { state->Complete(true); });
    if (!context.IsCancelled()) co_await cancelled;
    co_return absl::CancelledError("cancelled");
  }

  // Hang() calls that reached the handler.
  std::mutex mu;
  std::condition_variable cv;
  int hanging = 0;  // guarded by mu
  int chats_cancelled = 0;  // guarded by mu
  bool WaitForCancelledChats(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return chats_cancelled >= n; });
  }
  bool WaitForHanging(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return hanging >= n; });
  }

 private:
  ThreadPool* pool_;
};

// A ServerPool of `server_threads` loops, and a client loop on a thread of its own.
class ThreadsTest : public ::testing::Test {
 protected:
  void Start(int server_threads) {
    ServerPoolOptions options;
    options.num_threads = server_threads;
    servers_ = std::make_unique<ServerPool>(options);
    servers_->RegisterService(&impl_);
    ASSERT_TRUE(servers_->Listen("127.0.0.1", 0).ok());
    channel_ = Channel::Create(io_.loop(), Target());
  }
  std::string Target() const { return "127.0.0.1:" + std::to_string(servers_->port()); }
  void TearDown() override {
    channel_.reset();
    if (servers_) servers_->Shutdown(absl::Seconds(1));
  }
  std::set<uint64_t> ServerThreads() const {
    std::set<uint64_t> ids;
    for (int i = 0; i < servers_->num_threads(); ++i) ids.insert(Hash(servers_->thread_id(i)));
    return ids;
  }

  ThreadPool pool_{3};
  ThreadsImpl impl_{&pool_};
  std::unique_ptr<ServerPool> servers_;
  transport::UvLoopThread io_;  // destroyed before the pool: after the channel (TearDown)
  std::shared_ptr<Channel> channel_;
};

// The four call kinds through the blocking stubs, from many threads sharing one channel.
TEST_F(ThreadsTest, ManyThreadsShareOneChannelWithBlockingStubsOfAllFourKinds) {
  Start(2);
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Threads::Stub stub(channel_);
      auto fail = [&](const std::string& what) {
        ++failures;
        ADD_FAILURE() << "thread " << t << ": " << what;
      };
      for (int r = 0; r < kRounds; ++r) {
        const std::string tag = std::to_string(t) + "." + std::to_string(r);
        absl::StatusOr<Msg> unary = stub.UnaryBlocking(MakeMsg(tag));
        if (!unary.ok() || unary->text() != tag) fail("unary: " + unary.status().ToString());

        auto expand = stub.ExpandBlocking(MakeMsg(tag, 3));
        Msg m;
        int n = 0;
        while (expand->Read(&m)) {
          if (m.text() != tag + std::to_string(n)) fail("expand: " + m.text());
          ++n;
        }
        if (n != 3) fail("expand count " + std::to_string(n));
        if (absl::Status st = expand->Finish(); !st.ok()) fail("expand: " + st.ToString());

        auto collect = stub.CollectBlocking();
        for (const char* part : {"a", "b", "c"}) {
          if (!collect->Write(MakeMsg(part))) fail("collect write");
        }
        absl::StatusOr<Msg> all = collect->Finish();
        if (!all.ok() || all->text() != "abc") fail("collect: " + all.status().ToString());

        auto chat = stub.ChatBlocking();
        for (int i = 0; i < 3; ++i) {
          if (!chat->Write(MakeMsg(tag))) fail("chat write");
          if (!chat->Read(&m) || m.text() != "re:" + tag) fail("chat read");
        }
        if (!chat->WritesDone()) fail("chat writes done");
        if (chat->Read(&m)) fail("chat: a message after the end");
        if (absl::Status st = chat->Finish(); !st.ok()) fail("chat: " + st.ToString());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// Coroutines on the channel's loop and blocking callers on other threads use the channel at
// the same time; each coroutine resumes on the loop thread.
TEST_F(ThreadsTest, CoroutinesOnTheLoopAndBlockingCallersShareTheChannel) {
  Start(1);
  Threads::Stub stub(channel_);
  std::promise<int> coroutine_result;
  auto on_loop = [&]() -> Task<bool> {
    int ok = 0;
    for (int i = 0; i < 50; ++i) {
      Msg request = MakeMsg("co" + std::to_string(i));
      absl::StatusOr<Msg> reply = co_await stub.Unary(request);
      if (reply.ok() && reply->text() == request.text() &&
          std::this_thread::get_id() == io_.threadId()) {
        ++ok;
      }
    }
    coroutine_result.set_value(ok);
    co_return true;
  };
  ASSERT_TRUE(io_.loop()->postFromAnyThread([&] { on_loop().Start([](bool) {}, nullptr); }));
  std::atomic<int> blocking_ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string text = "b" + std::to_string(t) + "." + std::to_string(i);
        absl::StatusOr<Msg> reply = stub.UnaryBlocking(MakeMsg(text));
        if (reply.ok() && reply->text() == text) ++blocking_ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  auto f = coroutine_result.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(f.get(), 50);
  EXPECT_EQ(blocking_ok.load(), 100);
}

// N loops serve one port: separate connections land on different loops, and every handler runs
// on one of the pool's threads. (32 connections all on one of 2 loops: odds 2^-31.)
TEST_F(ThreadsTest, ServerPoolServesConcurrentClientsOnAllItsLoops) {
  Start(2);
  const std::set<uint64_t> pool_threads = ServerThreads();
  ASSERT_EQ(pool_threads.size(), 2u);
  EXPECT_EQ(servers_->Listen("127.0.0.1", 0).code(), absl::StatusCode::kFailedPrecondition);
  std::mutex mu;
  std::set<uint64_t> seen;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int c = 0; c < 4; ++c) {
        // A channel per call site: its own connection.
        auto channel = Channel::Create(io_.loop(), Target());
        Threads::Stub stub(channel);
        for (int i = 0; i < 3; ++i) {
          absl::StatusOr<Msg> reply = stub.UnaryBlocking(MakeMsg("x"));
          if (!reply.ok()) continue;
          ++ok;
          std::lock_guard<std::mutex> lock(mu);
          seen.insert(reply->thread());
        }
        (void)CallOnLoop(io_.loop(), [&] {
          channel->Close();
          return true;
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 8 * 4 * 3);
  EXPECT_EQ(seen, pool_threads);
}

// co_await Offload(): the work runs on a pool thread, the handler resumes on its own loop.
TEST_F(ThreadsTest, OffloadRunsOnThePoolAndResumesOnTheHandlersLoop) {
  Start(2);
  std::vector<std::thread> threads;
  std::atomic<int> checked{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Threads::Stub stub(channel_);
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<Msg> reply = stub.OffloadedBlocking(MakeMsg("work"));
        ASSERT_TRUE(reply.ok()) << reply.status();
        EXPECT_EQ(reply->text(), "same loop");
        EXPECT_EQ(reply->count(), 0) << "the work ran on the handler's thread";
        EXPECT_EQ(ServerThreads().count(reply->thread()), 0u) << "the work ran on a loop";
        ++checked;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(checked.load(), 40);
}

// A coroutine on one loop calls through a channel of another loop with RunOn(): the call runs
// on the channel's loop, and the coroutine resumes on its own.
TEST_F(ThreadsTest, RunOnHopsToTheChannelsLoopAndBack) {
  Start(1);
  transport::UvLoopThread other;
  Threads::Stub stub(channel_);
  std::promise<std::string> outcome;
  auto body = [&]() -> Task<bool> {
    int ok = 0;
    for (int i = 0; i < 20; ++i) {
      Msg request = MakeMsg("hop" + std::to_string(i));
      std::optional<absl::StatusOr<Msg>> reply = co_await RunOn(io_.loop(), stub.Unary(request));
      if (reply && reply->ok() && (*reply)->text() == request.text() &&
          std::this_thread::get_id() == other.threadId()) {
        ++ok;
      }
    }
    outcome.set_value(std::to_string(ok));
    co_return true;
  };
  ASSERT_TRUE(other.loop()->postFromAnyThread([&] { body().Start([](bool) {}, nullptr); }));
  auto f = outcome.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(f.get(), "20");
  // On the channel's own loop RunOn is a plain co_await.
  std::promise<bool> same_loop;
  auto direct = [&]() -> Task<bool> {
    std::optional<absl::StatusOr<Msg>> reply = co_await RunOn(io_.loop(), stub.Unary(MakeMsg("d")));
    same_loop.set_value(reply && reply->ok() && std::this_thread::get_id() == io_.threadId());
    co_return true;
  };
  ASSERT_TRUE(io_.loop()->postFromAnyThread([&] { direct().Start([](bool) {}, nullptr); }));
  EXPECT_TRUE(same_loop.get_future().get());
}

Task<int> FortyTwo() { co_return 42; }
Task<bool> HopTo(transport::UvLoop* target, std::optional<std::optional<int>>* got) {
  got->emplace(co_await RunOn(target, FortyTwo()));
  co_return true;
}

// The target loop is destroyed with the hop still queued: the coroutine is resumed on its own
// loop with nullopt, as documented, instead of being left suspended for good.
TEST(RunOnTest, TargetLoopDestroyedFirstResumesWithNullopt) {
  transport::UvLoop home;
  auto target = std::make_unique<transport::UvLoop>();  // nobody runs it
  std::optional<std::optional<int>> got;
  home.post([&] { HopTo(target.get(), &got).Start([](bool) {}, nullptr); });
  home.runOnce();  // the coroutine starts and posts its work to `target`
  EXPECT_FALSE(got.has_value());
  target.reset();  // the queued work is destroyed unrun
  // The resumption comes from another loop's executor (what wakes a loop other threads post
  // to); a ref'd timer keeps each turn bounded should it never come.
  auto bound = home.createTimer();
  bound->start(5000, [] {});
  for (int i = 0; i < 10 && !got.has_value(); ++i) home.runOnce();
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->has_value());
}

// Outside a running loop, Offload runs the work inline (nothing to keep free, nowhere to hop).
TEST(OffloadTest, OutsideALoopRunsInline) {
  ThreadPool pool(1);
  auto body = [&]() -> Task<uint64_t> { co_return co_await Offload(&pool, [] { return ThisThread(); }); };
  std::optional<uint64_t> ran_on;
  body().Start([&](uint64_t id) { ran_on = id; }, nullptr);
  ASSERT_TRUE(ran_on.has_value());
  EXPECT_EQ(*ran_on, ThisThread());
}

// A blocking call on the channel's own loop thread would deadlock: it fails at once.
TEST_F(ThreadsTest, BlockingCallOnTheLoopThreadFailsInsteadOfDeadlocking) {
  Start(1);
  std::promise<absl::Status> unary;
  std::promise<absl::Status> streaming;
  ASSERT_TRUE(io_.loop()->postFromAnyThread([&] {
    Threads::Stub stub(channel_);
    unary.set_value(stub.UnaryBlocking(MakeMsg("x")).status());
    auto reader = stub.ExpandBlocking(MakeMsg("x", 1));
    Msg m;
    EXPECT_FALSE(reader->Read(&m));
    streaming.set_value(reader->Finish());
  }));
  EXPECT_EQ(unary.get_future().get().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(streaming.get_future().get().code(), absl::StatusCode::kFailedPrecondition);
}

// The single-threaded program: nobody runs the loop, each blocking operation runs it itself
// (server and client on the same loop).
TEST(SingleThreadedTest, BlockingStubsRunTheLoopThemselves) {
  transport::UvLoop loop;
  ThreadPool pool(1);
  ThreadsImpl impl(&pool);
  Server server(&loop);
  server.RegisterService(&impl);
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  auto channel = Channel::Create(&loop, "127.0.0.1:" + std::to_string(server.port()));
  Threads::Stub stub(channel);
  absl::StatusOr<Msg> unary = stub.UnaryBlocking(MakeMsg("one"));
  ASSERT_TRUE(unary.ok()) << unary.status();
  EXPECT_EQ(unary->thread(), ThisThread());
  {
    auto reader = stub.ExpandBlocking(MakeMsg("e", 4));
    Msg m;
    int n = 0;
    while (reader->Read(&m)) ++n;
    EXPECT_EQ(n, 4);
    EXPECT_TRUE(reader->Finish().ok());
  }
  {
    auto chat = stub.ChatBlocking();
    Msg m;
    ASSERT_TRUE(chat->Write(MakeMsg("hi")));
    ASSERT_TRUE(chat->Read(&m));
    EXPECT_EQ(m.text(), "re:hi");
    chat->WritesDone();
    EXPECT_FALSE(chat->Read(&m));
    EXPECT_TRUE(chat->Finish().ok());
  }
  absl::StatusOr<Msg> offloaded = stub.OffloadedBlocking(MakeMsg("w"));
  ASSERT_TRUE(offloaded.ok()) << offloaded.status();
  EXPECT_EQ(offloaded->text(), "same loop");
  channel->Close();
  bool closed = false;
  server.Shutdown(absl::Seconds(1), [&] { closed = true; });
  for (int i = 0; i < 1000 && !closed; ++i) loop.runOnce();
  EXPECT_TRUE(closed);
}

// A loop nobody runs, used by several plain threads at once: the one whose blocking call
// drives the loop keeps it claimed for the whole wait, so the others post to it instead of
// touching its objects inline between two of its turns (a race TSan sees, or the loop's
// "run by two threads at once" abort). Each thread also drops stubs and streams as it goes.
TEST_F(ThreadsTest, ThreadsSharingALoopNobodyRunsTakeTurnsDrivingIt) {
  Start(1);
  transport::UvLoop client_loop;  // no thread runs it: the blocking calls do
  auto channel = Channel::Create(&client_loop, Target());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  constexpr int kThreads = 4, kCalls = 30;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        Threads::Stub stub(channel);
        const std::string tag = absl::StrCat(t, ":", i);
        absl::StatusOr<Msg> reply = stub.UnaryBlocking(MakeMsg(tag));
        if (reply.ok() && reply->text() == tag) ++ok;
        auto reader = stub.ExpandBlocking(MakeMsg(tag, 2));
        Msg m;
        int n = 0;
        while (reader->Read(&m)) ++n;
        if (reader->Finish().ok() && n == 2) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 2 * kThreads * kCalls);
  channel.reset();  // on this thread, which may drive the loop: the channel goes here
  for (int i = 0; i < 100 && client_loop.runOnce() != 0; ++i) {
  }
}

// Teardown with calls in flight: threads blocked in calls that never answer while the server
// shuts down (no grace) get their status and return; the channel's last reference dropped by
// the main thread while they still call does not end their calls.
TEST_F(ThreadsTest, ServerShutdownWithBlockingCallsInFlightWakesEveryCaller) {
  Start(2);
  constexpr int kThreads = 6;
  std::vector<std::future<absl::Status>> results;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    std::packaged_task<absl::Status()> call([stub = Threads::Stub(channel_), t]() mutable {
      if (t % 2 == 0) return stub.HangBlocking(MakeMsg("h")).status();
      auto reader = stub.ExpandBlocking(MakeMsg("e", 0));  // a stream, then a hanging unary
      (void)reader->Finish();
      return stub.HangBlocking(MakeMsg("h")).status();
    });
    results.push_back(call.get_future());
    threads.emplace_back(std::move(call));
  }
  channel_.reset();  // the stubs hold the channel: calls go on
  // Every call reached its handler: the waits are for the calls, not for the shutdown.
  ASSERT_TRUE(impl_.WaitForHanging(kThreads));
  servers_->Shutdown(absl::ZeroDuration());
  for (auto& th : threads) th.join();
  for (auto& f : results) {
    const absl::Status st = f.get();
    EXPECT_TRUE(st.code() == absl::StatusCode::kUnavailable ||
                st.code() == absl::StatusCode::kCancelled)
        << st;
  }
}

// A blocking stream object dropped mid-call (on its own thread) cancels the call, on the loop:
// the server's handler sees the cancellation. Cancel() does the same explicitly.
TEST_F(ThreadsTest, DroppingOrCancellingABlockingStreamCancelsTheCall) {
  Start(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Threads::Stub stub(channel_);
      auto chat = stub.ChatBlocking();
      Msg m;
      ASSERT_TRUE(chat->Write(MakeMsg("x")));
      ASSERT_TRUE(chat->Read(&m));  // the handler is running
      if (t % 2 == 0) {
        chat->Cancel();
        EXPECT_EQ(chat->Finish().code(), absl::StatusCode::kCancelled);
        EXPECT_FALSE(chat->Write(MakeMsg("after")));
      }
      chat.reset();  // unfinished: cancelled on the loop
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(impl_.WaitForCancelledChats(4));
}

}  // namespace
}  // namespace h2rpc::rpc
