// UvSocket against a plain kernel socket: what write corking promises.
#include "transport/uv_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "transport/uv_loop.h"

namespace h2rpc::transport {
namespace {

struct Recorder : Socket::Handler {
  void onSocketConnect() override { connected = true; }
  void onSocketData(std::string_view data) override { received += data; }
  void onSocketDrain() override { ++drains; }
  void onSocketClose(absl::Status) override { closed = true; }
  bool connected = false, closed = false;
  int drains = 0;
  std::string received;
};

// How many turns runOnce() takes while a `ms` timer runs out: a loop that sleeps in epoll_wait
// takes one or two, a busy-polling one many.
int TurnsUntilTimer(UvLoop& loop, uint64_t ms) {
  bool fired = false;
  auto timer = loop.createTimer();
  timer->start(ms, [&] { fired = true; });
  int turns = 0;
  while (!fired && turns < 100'000'000) {
    loop.runOnce();
    ++turns;
  }
  return turns;
}

// A loopback listener and the client UvSocket connected to it; `peer` is the accepted fd.
struct Pair {
  explicit Pair(UvLoopOptions options = {}) : loop(options) {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(listener, 1), 0);
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    client = UvSocket::connect(&loop, "127.0.0.1", ntohs(addr.sin_port));
    client->setHandler(&handler);
    for (int i = 0; i < 10000 && !handler.connected; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
    EXPECT_TRUE(handler.connected);
    peer = accept(listener, nullptr, nullptr);  // the kernel finished the handshake already
    timeval tv = {5, 0};  // bounded: a missing write fails the test instead of hanging it
    setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Pair() {
    client.reset();
    close(peer);
    close(listener);
  }
  std::string readSome() {
    char buf[256];
    ssize_t n = recv(peer, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

  UvLoop loop;
  Recorder handler;
  std::unique_ptr<UvSocket> client;
  int listener = -1, peer = -1;
};

// Nothing reaches the kernel while the loop turn goes on; then all of it leaves in one writev.
TEST(UvSocketTest, WritesOfOneTurnAreCorkedThenSentTogether) {
  Pair p;
  p.client->write("a");
  p.client->writev({SharedBuffer(std::string("b")), SharedBuffer(), SharedBuffer(std::string("cd"))});
  EXPECT_EQ(p.client->writeQueueSize(), 4u);  // corked bytes count for backpressure
  char buf[8];
  EXPECT_EQ(recv(p.peer, buf, sizeof(buf), MSG_DONTWAIT), -1);  // not written yet
  EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
  for (int i = 0; i < 10000 && p.handler.drains == 0; ++i) uv_run(p.loop.uv(), UV_RUN_NOWAIT);
  EXPECT_EQ(p.handler.drains, 1);
  EXPECT_EQ(p.client->writeQueueSize(), 0u);
  EXPECT_EQ(p.readSome(), "abcd");  // one writev: one segment on loopback
}

// A socket destroyed right after a write (a GOAWAY, then destroy()) still sends what the kernel
// takes, as an uncorked write would have.
TEST(UvSocketTest, CorkedWritesGoOutWhenTheSocketIsDestroyed) {
  Pair p;
  p.client->write("bye");
  p.client->destroy();
  EXPECT_EQ(p.readSome(), "bye");
  for (int i = 0; i < 100; ++i) uv_run(p.loop.uv(), UV_RUN_NOWAIT);  // the close completes
  EXPECT_EQ(p.readSome(), "");  // EOF
}

// end() after corked writes: the bytes first, then FIN.
TEST(UvSocketTest, EndSendsCorkedWritesThenFin) {
  Pair p;
  p.client->write("last words");
  p.client->end();
  for (int i = 0; i < 1000; ++i) uv_run(p.loop.uv(), UV_RUN_NOWAIT);
  EXPECT_EQ(p.readSome(), "last words");
  EXPECT_EQ(p.readSome(), "");  // EOF
}

}  // namespace
}  // namespace h2rpc::transport

namespace h2rpc::transport {
namespace {

// Fixed busy polling: once data has arrived the loop polls without sleeping for busyPollMicros;
// a loop that has seen no I/O yet sleeps in epoll_wait.
TEST(UvSocketTest, BusyPollingLoopSpinsAfterDataArrives) {
  Pair p(UvLoopOptions{.busyPollMicros = 60'000'000});
  EXPECT_LE(TurnsUntilTimer(p.loop, 20), 3);  // no I/O yet: sleeps
  ASSERT_EQ(send(p.peer, "x", 1, 0), 1);
  while (p.handler.received.empty()) p.loop.runOnce();
  EXPECT_GT(TurnsUntilTimer(p.loop, 20), 50);  // thousands in practice
}

// With idle polling off (Node's loop) the loop sleeps even right after data.
TEST(UvSocketTest, LoopWithoutIdlePollingSleepsAfterDataArrives) {
  Pair p(UvLoopOptions{.adaptivePollMaxMicros = 0});
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(send(p.peer, "x", 1, 0), 1);
    while (p.handler.received.size() <= static_cast<size_t>(i)) p.loop.runOnce();
  }
  EXPECT_EQ(p.loop.idlePollWindowNs(), 0u);
  EXPECT_LE(TurnsUntilTimer(p.loop, 20), 3);
}

// Adaptive idle polling learns from the data the socket receives: bursts that come a little
// later than the window (2 ms apart here; the maximum is a minute, so that a slow machine cannot
// make a gap too long) grow it, doubling from 25 µs, until it covers them; then the loop polls
// after data instead of sleeping.
TEST(UvSocketTest, AdaptivePollingLoopLearnsToPollFromTheGapsBetweenData) {
  Pair p(UvLoopOptions{.adaptivePollMaxMicros = 60'000'000});
  ASSERT_EQ(send(p.peer, "x", 1, 0), 1);
  while (p.handler.received.empty()) p.loop.runOnce();
  EXPECT_EQ(p.loop.idlePollWindowNs(), 0u);  // one burst teaches nothing
  for (size_t i = 1; i < 12; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the gap (the input, not a wait)
    ASSERT_EQ(send(p.peer, "x", 1, 0), 1);
    while (p.handler.received.size() <= i) p.loop.runOnce();
  }
  EXPECT_GE(p.loop.idlePollWindowNs(), uint64_t{2'000'000});
  EXPECT_GT(TurnsUntilTimer(p.loop, 20), 50);  // it polled for milliseconds before sleeping
}

}  // namespace
}  // namespace h2rpc::transport
