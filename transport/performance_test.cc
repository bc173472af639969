// perf_hooks' 'http2' entries (performance.h) over a MemorySocket pair on a ManualLoop: exact
// times from the loop's clock, counters, batched delivery from the loop, entries for streams
// cut short, and no clock read nor entry while nobody observes.
#include "transport/performance.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"
#include "transport/testing/session_pair.h"

namespace h2rpc::transport {
namespace {

const Http2StreamPerformanceDetail& streamDetail(const PerformanceEntry& e) {
  return std::get<Http2StreamPerformanceDetail>(e.detail);
}
const Http2SessionPerformanceDetail& sessionDetail(const PerformanceEntry& e) {
  return std::get<Http2SessionPerformanceDetail>(e.detail);
}

// Everything an observer received, in order, and how many callbacks brought it.
struct Recorder {
  std::vector<PerformanceEntry> entries;
  int batches = 0;
  std::vector<size_t> batch_sizes;
  std::shared_ptr<PerformanceObserver> observer;
  explicit Recorder(EventLoop* loop) {
    observer = PerformanceObserver::create(
        loop, [this](const std::vector<PerformanceEntry>& list, PerformanceObserver&) {
          ++batches;
          batch_sizes.push_back(list.size());
          entries.insert(entries.end(), list.begin(), list.end());
        });
  }
  const PerformanceEntry* find(const std::string& name, const std::string& type_or_id) const {
    for (const PerformanceEntry& e : entries) {
      if (e.name != name) continue;
      if (name == "Http2Session" && sessionDetail(e).type == type_or_id) return &e;
      if (name == "Http2Stream" && std::to_string(streamDetail(e).id) == type_or_id) return &e;
    }
    return nullptr;
  }
};

TEST(PerformanceTest, ExactTimesBytesAndFramesOnTheLoopClock) {
  SessionPair pair;
  Recorder rec(&pair.loop);
  ASSERT_TRUE(rec.observer->observe({.entryTypes = {"http2"}}).ok());
  pair.run();  // SETTINGS exchanged at t=0
  pair.loop.advance(5);
  auto req = *pair.client->request({{":method", "POST"}, {":path", "/echo"}});  // t=5
  req->resume();
  pair.run();
  ASSERT_EQ(pair.streams.size(), 1u);
  auto server_stream = pair.streams[0];
  server_stream->resume();
  pair.loop.advance(10);
  req->end("hello");  // t=15
  pair.run();
  pair.loop.advance(7);
  ASSERT_TRUE(server_stream->respond({{":status", "200"}}, {.sendDate = false}).ok());  // t=22
  server_stream->end("world!");
  pair.run();
  ASSERT_TRUE(req->destroyed());
  ASSERT_TRUE(server_stream->destroyed());
  pair.server_socket->pauseReading();  // the PING waits for the server until t=25
  ASSERT_TRUE(pair.client->ping({}, [](auto&&...) {}).ok());  // t=22
  pair.run();
  pair.loop.advance(3);
  pair.server_socket->resumeReading();
  pair.run();
  pair.client->close();  // t=25
  pair.run();
  ASSERT_TRUE(pair.client->destroyed());
  ASSERT_TRUE(pair.server->destroyed());

  ASSERT_EQ(rec.entries.size(), 4u);
  for (const PerformanceEntry& e : rec.entries) EXPECT_EQ(e.entryType, "http2");
  // Tell the two streams apart by what they wrote.
  const PerformanceEntry* client_stream = nullptr;
  const PerformanceEntry* server_entry = nullptr;
  for (const PerformanceEntry& e : rec.entries) {
    if (e.name != "Http2Stream") continue;
    (streamDetail(e).bytesWritten == 5 ? client_stream : server_entry) = &e;
  }
  ASSERT_NE(client_stream, nullptr);
  ASSERT_NE(server_entry, nullptr);

  const auto& c = streamDetail(*client_stream);
  EXPECT_EQ(c.id, 1);
  EXPECT_EQ(client_stream->startTime, 5);
  EXPECT_EQ(client_stream->duration, 17);
  EXPECT_EQ(c.bytesWritten, 5u);
  EXPECT_EQ(c.bytesRead, 6u);
  EXPECT_EQ(c.timeToFirstHeader, 17);     // the response, at t=22
  EXPECT_EQ(c.timeToFirstByte, 17);       // its DATA, at t=22
  EXPECT_EQ(c.timeToFirstByteSent, 0);    // nghttp2 asked for DATA right after the HEADERS

  const auto& s = streamDetail(*server_entry);
  EXPECT_EQ(s.id, 1);
  EXPECT_EQ(server_entry->startTime, 5);
  EXPECT_EQ(server_entry->duration, 17);
  EXPECT_EQ(s.bytesRead, 5u);
  EXPECT_EQ(s.bytesWritten, 6u);
  EXPECT_EQ(s.timeToFirstHeader, 0);      // the request headers created it
  EXPECT_EQ(s.timeToFirstByte, 10);       // "hello" at t=15
  EXPECT_EQ(s.timeToFirstByteSent, 17);   // respond() at t=22

  const PerformanceEntry* cs = rec.find("Http2Session", "client");
  const PerformanceEntry* ss = rec.find("Http2Session", "server");
  ASSERT_NE(cs, nullptr);
  ASSERT_NE(ss, nullptr);
  EXPECT_EQ(cs->startTime, 0);
  EXPECT_EQ(cs->duration, 25);
  EXPECT_EQ(ss->startTime, 0);
  EXPECT_EQ(ss->duration, 25);
  const auto& cd = sessionDetail(*cs);
  const auto& sd = sessionDetail(*ss);
  EXPECT_EQ(cd.pingRTT, 3);
  EXPECT_EQ(sd.pingRTT, 0);
  EXPECT_EQ(cd.streamCount, 1u);
  EXPECT_EQ(sd.streamCount, 1u);
  EXPECT_EQ(cd.maxConcurrentStreams, 1u);
  EXPECT_EQ(sd.maxConcurrentStreams, 1u);
  EXPECT_EQ(cd.streamAverageDuration, 17);
  EXPECT_EQ(sd.streamAverageDuration, 17);
  // The client closed first: everything it sent was read, frame for frame, byte for byte.
  EXPECT_EQ(cd.framesSent, sd.framesReceived);
  EXPECT_EQ(cd.bytesWritten, sd.bytesRead);
  // Client: SETTINGS, SETTINGS ACK, HEADERS, DATA(hello, END_STREAM), PING, GOAWAY, plus the
  // WINDOW_UPDATEs crediting what it read; no fewer than those six.
  EXPECT_GE(cd.framesSent, 6u);
  // What the server sent after the client's GOAWAY (its own GOAWAY: 17 bytes a frame) is all
  // the client did not read.
  EXPECT_EQ(sd.bytesWritten - cd.bytesRead, 17 * (sd.framesSent - cd.framesReceived));
  EXPECT_EQ(pair.client->performanceDetail().framesSent, cd.framesSent);
  // Socket bytes, as the sockets counted them.
  EXPECT_EQ(cd.bytesWritten, pair.client_socket->bytesWritten());
  EXPECT_EQ(sd.bytesWritten, pair.server_socket->bytesWritten());
  EXPECT_EQ(cd.bytesRead, pair.client_socket->bytesRead());
  EXPECT_EQ(sd.bytesRead, pair.server_socket->bytesRead());
}

TEST(PerformanceTest, DeliveredLaterFromTheLoopInOneBatch) {
  SessionPair pair;
  Recorder rec(&pair.loop);
  ASSERT_TRUE(rec.observer->observe({.type = "http2"}).ok());
  pair.run();
  auto a = *pair.client->request({{":path", "/a"}});
  auto b = *pair.client->request({{":path", "/b"}});
  pair.run();
  ASSERT_EQ(pair.streams.size(), 2u);
  // Two streams cut off and the session: three entries, none inside the call.
  pair.client->destroy();
  EXPECT_EQ(rec.batches, 0);
  EXPECT_TRUE(rec.entries.empty());
  pair.run();
  ASSERT_GE(rec.batches, 1);
  ASSERT_GE(rec.entries.size(), 3u);
  // The client's three came together, the streams before their session.
  EXPECT_EQ(rec.entries[0].name, "Http2Stream");
  EXPECT_EQ(rec.entries[1].name, "Http2Stream");
  EXPECT_EQ(rec.entries[2].name, "Http2Session");
  EXPECT_EQ(sessionDetail(rec.entries[2]).type, "client");
  EXPECT_EQ(sessionDetail(rec.entries[2]).maxConcurrentStreams, 2u);
  EXPECT_EQ(sessionDetail(rec.entries[2]).streamCount, 2u);
  // Cut off before any response: nothing happened, and nothing is made up.
  for (int i : {0, 1}) {
    const auto& d = streamDetail(rec.entries[i]);
    EXPECT_EQ(d.bytesRead, 0u);
    EXPECT_EQ(d.bytesWritten, 0u);
    EXPECT_FALSE(d.timeToFirstHeader.has_value());
    EXPECT_FALSE(d.timeToFirstByte.has_value());
    EXPECT_FALSE(d.timeToFirstByteSent.has_value());  // GET: no DATA to ask for
  }
  // The three came in one callback: everything enqueued before the loop got to it.
  EXPECT_GE(rec.batch_sizes[0], 3u);
}

TEST(PerformanceTest, StreamsResetEarlyAndStreamsOfADestroyedSessionAreReported) {
  SessionPair pair;
  pair.run();
  auto before = *pair.client->request({{":path", "/before"}});  // not observed: never timed
  Recorder rec(&pair.loop);
  ASSERT_TRUE(rec.observer->observe({.entryTypes = {"mark", "http2"}}).ok());
  auto reset = *pair.client->request({{":path", "/reset"}});
  pair.run();
  pair.loop.advance(4);
  reset->close(constants::NGHTTP2_CANCEL);  // t=4: reset before any answer
  pair.run();
  auto cut = *pair.client->request({{":path", "/cut"}});
  pair.run();
  pair.loop.advance(6);
  pair.server->destroy();  // t=10: the server's streams go with it
  pair.run();

  // Both sides report /reset (id 3) and /cut (id 5), each at the same loop times; /before
  // (id 1) only once: the server's stream was created observed, the client's was not.
  std::map<int32_t, std::vector<const PerformanceEntry*>> by_id;
  for (const PerformanceEntry& e : rec.entries) {
    if (e.name == "Http2Stream") by_id[streamDetail(e).id].push_back(&e);
  }
  ASSERT_EQ(by_id[1].size(), 1u);
  EXPECT_EQ(streamDetail(*by_id[1][0]).timeToFirstHeader, 0);  // the server's: its request
  EXPECT_EQ(by_id[1][0]->duration, 10);
  ASSERT_EQ(by_id[3].size(), 2u);
  ASSERT_EQ(by_id[5].size(), 2u);
  for (const PerformanceEntry* e : by_id[3]) {
    EXPECT_EQ(e->startTime, 0);
    EXPECT_EQ(e->duration, 4);
    EXPECT_FALSE(streamDetail(*e).timeToFirstByte.has_value());
    EXPECT_EQ(streamDetail(*e).bytesRead, 0u);
  }
  for (const PerformanceEntry* e : by_id[5]) {
    EXPECT_EQ(e->startTime, 4);
    EXPECT_EQ(e->duration, 6);
  }
  EXPECT_TRUE(before->destroyed());
  // The sessions count every stream, timed or not; the average is over the timed ones.
  const PerformanceEntry* cs = rec.find("Http2Session", "client");
  const PerformanceEntry* ss = rec.find("Http2Session", "server");
  ASSERT_NE(cs, nullptr);
  ASSERT_NE(ss, nullptr);
  EXPECT_EQ(sessionDetail(*cs).streamCount, 3u);
  EXPECT_EQ(sessionDetail(*cs).maxConcurrentStreams, 2u);  // /reset went before /cut came
  EXPECT_EQ(sessionDetail(*cs).streamAverageDuration, (4.0 + 6.0) / 2);
  EXPECT_EQ(sessionDetail(*ss).streamCount, 3u);
  EXPECT_EQ(sessionDetail(*ss).streamAverageDuration, (10.0 + 4.0 + 6.0) / 3);
  EXPECT_EQ(ss->duration, 10);
}

// A loop that counts its clock reads.
class CountingLoop : public ManualLoop {
 public:
  uint64_t now() const override {
    ++reads;
    return ManualLoop::now();
  }
  mutable uint64_t reads = 0;
};

enum class Watch { kNever, kDisconnected, kObserving };

// One request with a body each way and a ping, then close: the clock reads it took and the
// entries delivered.
std::pair<uint64_t, size_t> clockReadsOfOneExchange(Watch watch) {
  CountingLoop loop;
  std::vector<PerformanceEntry> got;
  std::shared_ptr<PerformanceObserver> observer;
  if (watch != Watch::kNever) {
    observer = PerformanceObserver::create(
        &loop, [&got](const std::vector<PerformanceEntry>& list, PerformanceObserver&) {
          got.insert(got.end(), list.begin(), list.end());
        });
    EXPECT_TRUE(observer->observe({.entryTypes = {"http2"}}).ok());
    if (watch == Watch::kDisconnected) observer->disconnect();
  }
  const uint64_t reads_before = loop.reads;
  {
    auto [a, b] = MemorySocket::pair(&loop);
    auto server = *ServerHttp2Session::create(&loop, std::move(a));
    auto client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost:80");
    server->onStream([](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
      s->resume();
      (void)s->respond({{":status", "200"}}, {.sendDate = false});
      s->end("answer");
    });
    auto req = *client->request({{":method", "POST"}});
    req->resume();
    req->end("question");
    loop.runUntilIdle();
    EXPECT_TRUE(client->ping({}, nullptr).ok());
    loop.runUntilIdle();
    client->close();
    loop.runUntilIdle();
    EXPECT_TRUE(server->destroyed());
  }
  loop.runUntilIdle();
  return {loop.reads - reads_before, got.size()};
}

TEST(PerformanceTest, NoEntryAndNoClockReadWithoutAnObserver) {
  const auto [never_reads, never_entries] = clockReadsOfOneExchange(Watch::kNever);
  const auto [off_reads, off_entries] = clockReadsOfOneExchange(Watch::kDisconnected);
  const auto [on_reads, on_entries] = clockReadsOfOneExchange(Watch::kObserving);
  EXPECT_EQ(never_entries, 0u);
  EXPECT_EQ(off_entries, 0u);
  EXPECT_EQ(on_entries, 4u);  // two streams, two sessions
  // A disconnected observer costs nothing: the same clock reads as never observing.
  EXPECT_EQ(off_reads, never_reads);
  // Observing costs exactly what is timed, so none of it is read unobserved: per stream
  // (each side's, both sending and receiving a body) its start, first header, first byte,
  // first byte sent and end; per session its close.
  constexpr uint64_t kReadsPerStream = 5;
  EXPECT_EQ(on_reads - never_reads, 2 * kReadsPerStream + 2);
}

TEST(PerformanceTest, ObserveOptionsAsNode) {
  ManualLoop loop;
  auto observer = PerformanceObserver::create(&loop, nullptr);
  absl::Status st = observer->observe({});
  EXPECT_EQ(nodeErrorCode(st), "ERR_MISSING_ARGS");
  st = observer->observe({.entryTypes = {"http2"}, .type = "http2"});
  EXPECT_EQ(nodeErrorCode(st), "ERR_INVALID_ARG_VALUE");
  EXPECT_FALSE(observer->observing());
  // Types we never produce are accepted and observe nothing.
  EXPECT_TRUE(observer->observe({.entryTypes = {"mark", "gc"}}).ok());
  EXPECT_FALSE(observer->observing());
  EXPECT_EQ(http2Observed(&loop), nullptr);
  EXPECT_TRUE(observer->observe({.type = "http2"}).ok());
  EXPECT_TRUE(observer->observing());
  EXPECT_NE(http2Observed(&loop), nullptr);
  observer.reset();  // destroying an observer disconnects it
  EXPECT_EQ(http2Observed(&loop), nullptr);
  EXPECT_EQ(PerformanceObserver::supportedEntryTypes(), std::vector<std::string>{"http2"});
}

TEST(PerformanceTest, TakeRecordsAndDisconnectWithdrawPendingEntries) {
  SessionPair pair;
  int calls = 0;
  auto count = [&calls](const std::vector<PerformanceEntry>&, PerformanceObserver&) { ++calls; };
  auto taker = PerformanceObserver::create(&pair.loop, count);
  auto dropper = PerformanceObserver::create(&pair.loop, count);
  ASSERT_TRUE(taker->observe({.entryTypes = {"http2"}}).ok());
  ASSERT_TRUE(dropper->observe({.entryTypes = {"http2"}}).ok());
  pair.run();
  auto req = *pair.client->request({{":path", "/"}});
  pair.run();
  pair.client->destroy();  // entries enqueued, delivery posted
  std::vector<PerformanceEntry> taken = taker->takeRecords();
  dropper->disconnect();
  EXPECT_FALSE(taken.empty());
  pair.run();
  // The server's entries (after the client's went) reach nobody: the taker still observes.
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(taker->takeRecords().empty());
}

}  // namespace
}  // namespace h2rpc::transport
