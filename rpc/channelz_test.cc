// The channelz-like snapshot (rpc/channelz.h): a server's connections with their open streams,
// windows and counters; a channel's subchannels and call counters; snapshots taken from other
// threads while the loops run (meant for --config=tsan too) and from the loop thread itself;
// the text and JSON renderings.
#include "rpc/channelz.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "rpc/client.h"
#include "rpc/client_blocking.h"
#include "rpc/on_loop.h"
#include "rpc/server.h"
#include "rpc/server_pool.h"
#include "rpc/testdata/threads.h2rpc.h"
#include "transport/constants.h"
#include "transport/uv_loop.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::rpc {
namespace {

using threads_test::Msg;
using threads_test::Threads;

constexpr char kExpand[] = "/h2rpc.threads_test.Threads/Expand";

Msg MakeMsg(std::string text, int count = 0) {
  Msg m;
  m.set_text(std::move(text));
  m.set_count(count);
  return m;
}

// Unary echoes (text "fail": INVALID_ARGUMENT); Expand sends `count` replies and then, for the
// text "hold", stays open until cancelled.
class Impl : public Threads::Service {
 public:
  Task<absl::StatusOr<Msg>> Unary(ServerContext&, const Msg& request) override {
    if (request.text() == "fail") co_return absl::InvalidArgumentError("asked to fail");
    co_return request;
  }
  Task<absl::Status> Expand(ServerContext& context, const Msg& request,
                            ServerWriter<Msg>& writer) override {
    for (int i = 0; i < request.count(); ++i) {
      if (!co_await writer.Write(MakeMsg(request.text() + std::to_string(i)))) {
        co_return absl::CancelledError("gone");
      }
    }
    if (request.text() != "hold") co_return absl::OkStatus();
    Awaitable<bool> cancelled;
    context.OnCancel([state = cancelled.state()] { state->Complete(true); });
    if (!context.IsCancelled()) co_await cancelled;
    co_return absl::CancelledError("cancelled");
  }
};

// Polls `snapshot()` until `done(snapshot)` (bounded: 30 s): for counters that move when a
// stream closes, an event the test cannot wait for otherwise.
template <typename S, typename Take, typename Done>
S WaitForSnapshot(Take take, Done done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  S s = take();
  while (!done(s) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    s = take();
  }
  return s;
}

bool ParsesAsJson(const std::string& json) {
  google::protobuf::Struct parsed;
  return google::protobuf::util::JsonStringToMessage(json, &parsed).ok();
}

uint64_t Sum(const ServerSnapshot& s, uint64_t ConnectionSnapshot::*field) {
  uint64_t total = 0;
  for (const ConnectionSnapshot& c : s.connections) total += c.*field;
  return total;
}

class ChannelzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = std::make_unique<ServerPool>(ServerPoolOptions{.num_threads = 1, .server = {}, .loop = {}});
    servers_->RegisterService(&impl_);
    ASSERT_TRUE(servers_->Listen("127.0.0.1", 0).ok());
  }
  void TearDown() override {
    channels_.clear();
    servers_->Shutdown(absl::Seconds(1));
  }
  std::shared_ptr<Channel> NewChannel() {
    channels_.push_back(
        Channel::Create(io_.loop(), "127.0.0.1:" + std::to_string(servers_->port())));
    return channels_.back();
  }

  Impl impl_;
  std::unique_ptr<ServerPool> servers_;
  transport::UvLoopThread io_;
  std::vector<std::shared_ptr<Channel>> channels_;
};

// Two client connections and a server-streaming call open: two connections, one open stream
// with its path and windows; the counters move after calls, and the failed one counts when the
// stream closes.
TEST_F(ChannelzTest, ServerShowsConnectionsOpenStreamAndCounters) {
  Threads::Stub a(NewChannel());
  Threads::Stub b(NewChannel());
  ASSERT_TRUE(a.UnaryBlocking(MakeMsg("x")).ok());
  ASSERT_TRUE(b.UnaryBlocking(MakeMsg("y")).ok());

  auto held = a.ExpandBlocking(MakeMsg("hold", 1));
  Msg m;
  ASSERT_TRUE(held->Read(&m));  // the call is in the handler, which now waits

  ServerSnapshot s = servers_->Snapshot();  // from this thread: posted to the server's loop
  ASSERT_EQ(s.connections.size(), 2u) << ToText(s);
  EXPECT_EQ(s.active_calls, 1u);
  std::vector<StreamSnapshot> streams;
  for (const ConnectionSnapshot& c : s.connections) {
    EXPECT_EQ(c.state, ConnectionState::kReady);
    EXPECT_FALSE(c.goaway_sent);
    EXPECT_FALSE(c.goaway_received);
    EXPECT_TRUE(absl::StartsWith(c.peer, "127.0.0.1:")) << c.peer;
    EXPECT_EQ(c.local, "127.0.0.1:" + std::to_string(servers_->port()));
    EXPECT_GT(c.flow.localWindowSize, 0);
    EXPECT_GT(c.flow.remoteWindowSize, 0);
    EXPECT_TRUE(c.last_call_started.has_value());
    for (const StreamSnapshot& st : c.streams) streams.push_back(st);
  }
  ASSERT_EQ(streams.size(), 1u) << ToText(s);
  EXPECT_EQ(streams[0].method, kExpand);
  EXPECT_GT(streams[0].id, 0);
  EXPECT_GT(streams[0].local_window_size, 0);
  // The client sent its one request and half-closed; the server has not ended its side.
  EXPECT_TRUE(streams[0].remote_close);
  EXPECT_FALSE(streams[0].local_close);
  EXPECT_EQ(streams[0].state,
            static_cast<int>(transport::constants::NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE));
  EXPECT_EQ(Sum(s, &ConnectionSnapshot::calls_started), 3u);
  EXPECT_EQ(Sum(s, &ConnectionSnapshot::calls_succeeded), 2u);
  EXPECT_EQ(Sum(s, &ConnectionSnapshot::calls_failed), 0u);
  EXPECT_EQ(Sum(s, &ConnectionSnapshot::messages_received), 3u);  // one request per call
  EXPECT_EQ(Sum(s, &ConnectionSnapshot::messages_sent), 3u);      // two replies + one streamed
  EXPECT_GT(Sum(s, &ConnectionSnapshot::message_bytes_received), 0u);

  const std::string text = ToText(s);
  EXPECT_NE(text.find(std::string("method=") + kExpand), std::string::npos) << text;
  const std::string json = ToJson(s);
  EXPECT_TRUE(ParsesAsJson(json)) << json;
  EXPECT_NE(json.find(std::string("\"method\":\"") + kExpand + "\""), std::string::npos);

  // More calls move the counters.
  ASSERT_TRUE(b.UnaryBlocking(MakeMsg("z")).ok());
  EXPECT_FALSE(b.UnaryBlocking(MakeMsg("fail")).ok());
  ServerSnapshot after = servers_->Snapshot();
  EXPECT_EQ(Sum(after, &ConnectionSnapshot::calls_started), 5u);
  EXPECT_EQ(Sum(after, &ConnectionSnapshot::calls_succeeded), 3u);
  EXPECT_EQ(Sum(after, &ConnectionSnapshot::calls_failed), 1u);
  EXPECT_EQ(Sum(after, &ConnectionSnapshot::messages_received), 5u);
  EXPECT_EQ(Sum(after, &ConnectionSnapshot::messages_sent), 4u);  // "fail" sent none

  // The held call cancelled: its stream goes, and it counts as failed once closed.
  held->Cancel();
  ServerSnapshot closed = WaitForSnapshot<ServerSnapshot>(
      [&] { return servers_->Snapshot(); },
      [](const ServerSnapshot& x) { return Sum(x, &ConnectionSnapshot::calls_failed) == 2; });
  EXPECT_EQ(Sum(closed, &ConnectionSnapshot::calls_failed), 2u) << ToText(closed);
  EXPECT_EQ(closed.active_calls, 0u);
  for (const ConnectionSnapshot& c : closed.connections) EXPECT_TRUE(c.streams.empty());
}

// A channel after one failed and one succeeded call: its counters, its LB policy and its READY
// subchannel with the connection's windows; an open call shows on the client side with its
// path. Taken from another thread and from the loop thread itself.
TEST_F(ChannelzTest, ChannelShowsCallsSubchannelAndOpenStream) {
  std::shared_ptr<Channel> channel = NewChannel();
  ChannelSnapshot idle = channel->Snapshot();
  EXPECT_EQ(idle.calls_started, 0u);
  EXPECT_FALSE(idle.last_call_started.has_value());

  Threads::Stub stub(channel);
  EXPECT_FALSE(stub.UnaryBlocking(MakeMsg("fail")).ok());
  EXPECT_TRUE(stub.UnaryBlocking(MakeMsg("ok")).ok());

  ChannelSnapshot s = channel->Snapshot();
  EXPECT_EQ(s.calls_started, 2u);
  EXPECT_EQ(s.calls_succeeded, 1u);
  EXPECT_EQ(s.calls_failed, 1u);
  EXPECT_TRUE(s.last_call_started.has_value());
  EXPECT_EQ(s.state, ConnectivityState::kReady);
  EXPECT_EQ(s.lb_policy, "pick_first");
  ASSERT_EQ(s.subchannels.size(), 1u) << ToText(s);
  EXPECT_EQ(s.subchannels[0].state, ConnectivityState::kReady);
  ASSERT_TRUE(s.subchannels[0].connection.has_value());
  const ConnectionSnapshot& c = *s.subchannels[0].connection;
  EXPECT_EQ(c.peer, "127.0.0.1:" + std::to_string(servers_->port()));
  // The client's end is the server's peer.
  ServerSnapshot server_side = servers_->Snapshot();
  ASSERT_EQ(server_side.connections.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(c.local, "127.0.0.1:")) << c.local;
  EXPECT_EQ(c.local, server_side.connections[0].peer);
  EXPECT_EQ(c.state, ConnectionState::kReady);
  EXPECT_GT(c.flow.localWindowSize, 0);
  EXPECT_GT(c.flow.remoteWindowSize, 0);
  EXPECT_TRUE(c.streams.empty());

  auto held = stub.ExpandBlocking(MakeMsg("hold", 1));
  Msg m;
  ASSERT_TRUE(held->Read(&m));
  // On the loop thread: read directly (a post-and-wait there would deadlock).
  std::optional<ChannelSnapshot> on_loop =
      CallOnLoop(io_.loop(), [&] { return channel->Snapshot(); });
  ASSERT_TRUE(on_loop.has_value());
  ASSERT_EQ(on_loop->subchannels.size(), 1u);
  ASSERT_TRUE(on_loop->subchannels[0].connection.has_value());
  const std::vector<StreamSnapshot>& streams = on_loop->subchannels[0].connection->streams;
  ASSERT_EQ(streams.size(), 1u) << ToText(*on_loop);
  EXPECT_EQ(streams[0].method, kExpand);
  EXPECT_TRUE(streams[0].local_close);  // the client half-closed after its request
  EXPECT_FALSE(streams[0].remote_close);
  EXPECT_GT(streams[0].local_window_size, 0);
  EXPECT_EQ(on_loop->calls_started, 3u);

  const std::string json = ToJson(*on_loop);
  EXPECT_TRUE(ParsesAsJson(json)) << json;
  EXPECT_NE(json.find("\"calls_failed\":1"), std::string::npos) << json;
  EXPECT_NE(ToText(*on_loop).find("lb_policy=pick_first"), std::string::npos);
  held->Cancel();
  EXPECT_EQ(channel->Snapshot().calls_failed, 2u);  // Cancel() returned once done on the loop
}

// Snapshots of the server and of the channel from several threads while other threads make
// calls on both loops: consistent counts and no data race (run under --config=tsan).
TEST_F(ChannelzTest, SnapshotsFromOtherThreadsWhileCallsRun) {
  std::shared_ptr<Channel> channel = NewChannel();
  constexpr int kCallers = 3;
  constexpr int kCalls = 40;
  std::atomic<bool> stop{false};
  std::atomic<int> snapshots{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kCallers; ++t) {
    threads.emplace_back([&, t] {
      Threads::Stub stub(channel);
      for (int i = 0; i < kCalls; ++i) {
        EXPECT_TRUE(stub.UnaryBlocking(MakeMsg(std::to_string(t) + "." + std::to_string(i))).ok());
      }
    });
  }
  std::vector<std::thread> watchers;
  for (int w = 0; w < 2; ++w) {
    watchers.emplace_back([&] {
      while (!stop.load()) {
        ServerSnapshot s = servers_->Snapshot();
        ChannelSnapshot c = channel->Snapshot();
        EXPECT_LE(Sum(s, &ConnectionSnapshot::calls_succeeded) +
                      Sum(s, &ConnectionSnapshot::calls_failed),
                  Sum(s, &ConnectionSnapshot::calls_started));
        EXPECT_LE(c.calls_succeeded + c.calls_failed, c.calls_started);
        EXPECT_FALSE(ToJson(s).empty());
        EXPECT_FALSE(ToText(c).empty());
        ++snapshots;
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  for (auto& th : watchers) th.join();
  EXPECT_GT(snapshots.load(), 0);
  ChannelSnapshot c = channel->Snapshot();
  EXPECT_EQ(c.calls_started, static_cast<uint64_t>(kCallers * kCalls));
  EXPECT_EQ(c.calls_succeeded, static_cast<uint64_t>(kCallers * kCalls));
  ServerSnapshot s = WaitForSnapshot<ServerSnapshot>(
      [&] { return servers_->Snapshot(); },
      [&](const ServerSnapshot& x) {
        return Sum(x, &ConnectionSnapshot::calls_succeeded) == kCallers * kCalls;
      });
  EXPECT_EQ(Sum(s, &ConnectionSnapshot::calls_started), static_cast<uint64_t>(kCallers * kCalls));
  EXPECT_EQ(Sum(s, &ConnectionSnapshot::calls_succeeded),
            static_cast<uint64_t>(kCallers * kCalls));
}

// A server shutting down: its connection shows the GOAWAY it sent and drains while a call
// goes on.
TEST_F(ChannelzTest, ServerGoawayShowsAsDraining) {
  transport::UvLoopThread server_loop;
  std::unique_ptr<Server> server;
  ASSERT_TRUE(CallOnLoop(server_loop.loop(), [&] {
                server = std::make_unique<Server>(server_loop.loop());
                server->RegisterService(&impl_);
                return server->Listen("127.0.0.1", 0).ok();
              }).value_or(false));
  const uint16_t port = *CallOnLoop(server_loop.loop(), [&] { return server->port(); });
  std::shared_ptr<Channel> channel =
      Channel::Create(io_.loop(), "127.0.0.1:" + std::to_string(port));
  Threads::Stub stub(channel);
  auto held = stub.ExpandBlocking(MakeMsg("hold", 1));
  Msg m;
  ASSERT_TRUE(held->Read(&m));
  EXPECT_FALSE(server->Snapshot().connections.at(0).goaway_sent);

  std::promise<void> closed;
  ASSERT_TRUE(CallOnLoop(server_loop.loop(), [&] {
                server->Shutdown(absl::Seconds(30), [&] { closed.set_value(); });
                return true;
              }).value_or(false));
  ServerSnapshot s = WaitForSnapshot<ServerSnapshot>(
      [&] { return server->Snapshot(); },
      [](const ServerSnapshot& x) {
        return x.connections.size() == 1 && x.connections[0].goaway_sent;
      });
  ASSERT_EQ(s.connections.size(), 1u);
  EXPECT_TRUE(s.connections[0].goaway_sent) << ToText(s);
  EXPECT_EQ(s.connections[0].state, ConnectionState::kDraining);
  EXPECT_EQ(s.connections[0].streams.size(), 1u);  // the held call goes on
  EXPECT_NE(ToText(s).find("state=draining goaway_sent"), std::string::npos) << ToText(s);

  held->Cancel();
  held.reset();
  channel.reset();
  ASSERT_EQ(closed.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_TRUE(server->Snapshot().connections.empty());
  (void)CallOnLoop(server_loop.loop(), [&] {
    server.reset();
    return true;
  });
}

TEST(ChannelzJson, EscapesStringsAndWritesNullForMissingTimes) {
  ChannelSnapshot s;
  s.target = "dns:///a\"b\\c\n\x01";
  s.lb_policy = "round_robin";
  SubchannelSnapshot sub;
  sub.address = "127.0.0.1:1";
  sub.state = ConnectivityState::kTransientFailure;
  sub.last_error = "UNAVAILABLE: \"refused\"";
  s.subchannels.push_back(sub);
  const std::string json = ToJson(s);
  // Valid JSON (protobuf's parser agrees), with the escapes JSON needs. (The values are
  // checked as text: protobuf's Map lookups crash in TSan builds against Debian's libprotobuf.)
  EXPECT_TRUE(ParsesAsJson(json)) << json;
  EXPECT_NE(json.find(R"("target":"dns:///a\"b\\c\n\u0001")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("last_error":"UNAVAILABLE: \"refused\"")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("last_call_started":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("connection":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("state":"TRANSIENT_FAILURE")"), std::string::npos) << json;
  EXPECT_FALSE(ParsesAsJson(json.substr(0, json.size() - 1)));  // the check can fail
}

}  // namespace
}  // namespace h2rpc::rpc
