// UvSocket against a plain kernel socket: what write corking promises.
#include "transport/uv_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
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
  // The peer sends one byte; true once the loop has turned until the client received it.
  bool receiveOneFromPeer() {
    const size_t total = handler.received.size() + 1;
    if (send(peer, "x", 1, 0) != 1) return false;
    for (int turns = 0; turns < 50'000'000 && handler.received.size() < total; ++turns) {
      loop.runOnce();
    }
    return handler.received.size() >= total;
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

// ---------------------------------------------------------------------------------------------
// Lingering close: end() never closes with unread input (the kernel would send a TCP RST, and a
// peer that gets one may lose what it had not read yet, our last frames included).

UvLoopOptions Linger(uint32_t ms, size_t max_bytes = 1 << 20) {
  UvLoopOptions o;
  o.lingerMillis = ms;
  o.lingerMaxBytes = max_bytes;
  return o;
}

// What the raw peer reads until EOF or an error; sends `more` bytes now and then meanwhile.
struct PeerRead {
  std::string data;
  bool eof = false;
  int error = 0;  // errno of a failed recv (ECONNRESET: the peer got a TCP RST)
};

PeerRead ReadUntilEof(Pair& p, size_t more) {
  PeerRead r;
  const std::string chunk(4096, 'z');
  for (int i = 0; i < 200000 && !r.eof && r.error == 0; ++i) {
    uv_run(p.loop.uv(), UV_RUN_NOWAIT);
    if (more > 0 && send(p.peer, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
      more -= std::min(more, chunk.size());
    }
    char buf[4096];
    ssize_t n = recv(p.peer, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) r.data.append(buf, static_cast<size_t>(n));
    if (n == 0) r.eof = true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) r.error = errno;
  }
  return r;
}

// Sends `n` bytes from the peer that the socket will not have read: its handler is about to go.
void SendUnread(Pair& p, size_t n) {
  const std::string junk(n, 'j');
  ASSERT_EQ(send(p.peer, junk.data(), junk.size(), 0), static_cast<ssize_t>(n));
}

// As a session ends: last frames, no handler, end(), then the socket object goes (destroy()).
void EndLikeASession(Pair& p, const std::string& last) {
  p.client->write(last);
  p.client->setHandler(nullptr);
  p.client->end();
  p.client.reset();
}

// Unread input when we end, and more input after our FIN: the peer still reads our last bytes and
// then a FIN, not a RST; the socket stays open (reading and dropping) until the peer's FIN.
TEST(UvSocketTest, EndWithUnreadInputLingersAndThePeerSeesFinNotReset) {
  Pair p(Linger(60000));
  SendUnread(p, 32 * 1024);
  EndLikeASession(p, "GOAWAY");
  EXPECT_EQ(p.loop.adoptedCount(), 1u);  // the close in progress outlives the UvSocket
  PeerRead r = ReadUntilEof(p, 64 * 1024);
  EXPECT_EQ(r.data, "GOAWAY");
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.error, 0) << strerror(r.error);
  // Still lingering: the peer may keep writing, and nothing resets it.
  const std::string more(8192, 'm');
  EXPECT_EQ(send(p.peer, more.data(), more.size(), MSG_NOSIGNAL), 8192);
  for (int i = 0; i < 1000; ++i) uv_run(p.loop.uv(), UV_RUN_NOWAIT);
  EXPECT_EQ(p.loop.adoptedCount(), 1u);
  // The peer's FIN ends it at once, cleanly.
  ASSERT_EQ(shutdown(p.peer, SHUT_WR), 0);
  for (int i = 0; i < 100000 && p.loop.adoptedCount() > 0; ++i) uv_run(p.loop.uv(), UV_RUN_NOWAIT);
  EXPECT_EQ(p.loop.adoptedCount(), 0u);
  char buf[16];
  EXPECT_EQ(recv(p.peer, buf, sizeof(buf), 0), 0) << strerror(errno);  // no RST after the FIN
}

// A peer that never closes holds the socket for lingerMillis at most.
TEST(UvSocketTest, LingeringEndsAfterLingerMillis) {
  Pair p(Linger(50));
  SendUnread(p, 1024);
  EndLikeASession(p, "bye");
  for (int i = 0; i < 1000 && p.loop.adoptedCount() > 0; ++i) {
    uv_run(p.loop.uv(), UV_RUN_ONCE);  // sleeps until the timer at the latest
  }
  EXPECT_EQ(p.loop.adoptedCount(), 0u);
  EXPECT_EQ(p.readSome(), "bye");
}

// ... and reads at most lingerMaxBytes of it.
TEST(UvSocketTest, LingeringEndsAfterLingerMaxBytes) {
  Pair p(Linger(600000, 16 * 1024));
  EndLikeASession(p, "bye");
  const std::string chunk(4096, 'z');
  for (int i = 0; i < 200000 && p.loop.adoptedCount() > 0; ++i) {
    (void)send(p.peer, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    uv_run(p.loop.uv(), UV_RUN_NOWAIT);
  }
  EXPECT_EQ(p.loop.adoptedCount(), 0u);
  EXPECT_EQ(p.readSome(), "bye");
}

// end() while still flushing, the handler kept (as TlsSocket keeps its lower socket's): the
// handler still gets the input, then onSocketClose at the peer's FIN.
TEST(UvSocketTest, EndKeepsDeliveringInputToAHandlerUntilThePeersFin) {
  Pair p(Linger(60000));
  p.client->write("last");
  p.client->end();
  const std::string hello = "after our FIN";
  for (int i = 0; i < 1000; ++i) uv_run(p.loop.uv(), UV_RUN_NOWAIT);
  EXPECT_EQ(p.readSome(), "last");
  EXPECT_EQ(p.readSome(), "");  // our FIN
  ASSERT_EQ(send(p.peer, hello.data(), hello.size(), 0), static_cast<ssize_t>(hello.size()));
  ASSERT_EQ(shutdown(p.peer, SHUT_WR), 0);
  for (int i = 0; i < 100000 && !p.handler.closed; ++i) uv_run(p.loop.uv(), UV_RUN_NOWAIT);
  EXPECT_EQ(p.handler.received, hello);
  EXPECT_TRUE(p.handler.closed);
}

// The loop may go first: the lingering socket is closed then (no leak, no hang; ASan checks).
TEST(UvSocketTest, ALoopDestroyedWhileASocketLingersClosesIt) {
  auto p = std::make_unique<Pair>(Linger(600000));
  SendUnread(*p, 1024);
  EndLikeASession(*p, "bye");
  EXPECT_EQ(p->loop.adoptedCount(), 1u);
  p.reset();
}

// destroy() without end() still closes at once (an abort).
TEST(UvSocketTest, DestroyWithoutEndDoesNotLinger) {
  Pair p(Linger(600000));
  p.client->destroy();
  EXPECT_EQ(p.loop.adoptedCount(), 0u);
  for (int i = 0; i < 100; ++i) uv_run(p.loop.uv(), UV_RUN_NOWAIT);
  EXPECT_EQ(p.readSome(), "");
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
//
// Robust on a loaded machine: each wait for the byte sent is bounded (a loop that polls turns
// fast, so the bound is in turns, generous), and the last check — many turns while a 20 ms timer
// runs — is retried after another burst (at most 10 times): a thread preempted between the
// burst and the check for longer than the window (a few ms) sleeps through it, which says
// nothing about the window.
TEST(UvSocketTest, AdaptivePollingLoopLearnsToPollFromTheGapsBetweenData) {
  Pair p(UvLoopOptions{.adaptivePollMaxMicros = 60'000'000});
  auto sendAndReceive = [&p](size_t total) {
    if (send(p.peer, "x", 1, 0) != 1) return false;
    for (int turns = 0; turns < 50'000'000 && p.handler.received.size() < total; ++turns) {
      p.loop.runOnce();
    }
    return p.handler.received.size() >= total;
  };
  ASSERT_TRUE(sendAndReceive(1));
  EXPECT_EQ(p.loop.idlePollWindowNs(), 0u);  // one burst teaches nothing
  size_t sent = 1;
  for (; sent < 12; ++sent) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the gap (the input, not a wait)
    ASSERT_TRUE(sendAndReceive(sent + 1));
  }
  EXPECT_GE(p.loop.idlePollWindowNs(), uint64_t{2'000'000});
  // The loop answers (it polls only while it waits for an answer to what it wrote).
  p.client->write("y");
  int turns = TurnsUntilTimer(p.loop, 20);
  for (int attempt = 0; attempt < 10 && turns <= 50; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a gap the window covers
    ASSERT_TRUE(sendAndReceive(++sent));
    p.client->write("y");
    turns = TurnsUntilTimer(p.loop, 20);
  }
  EXPECT_GT(turns, 50);  // it polled for milliseconds before sleeping
}


// Turns with I/O 2 ms apart, as a peer answering a little later than the window: the window
// grows to at least 2 ms (the maximum is a minute: a slow machine cannot make a gap too long).
void LearnToPoll(UvLoop& loop, const std::function<void()>& io_turn) {
  io_turn();
  for (int i = 0; i < 12; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the gap (the input, not a wait)
    io_turn();
  }
}

// LearnToPoll with the pair's peer sending a byte a turn; then the window is learned.
void LearnToPollFromPeer(Pair& p) {
  LearnToPoll(p.loop, [&] { ASSERT_TRUE(p.receiveOneFromPeer()); });
  ASSERT_GE(p.loop.idlePollWindowNs(), uint64_t{2'000'000});
}

// A turn whose read filled the whole read buffer (a stream, not an answer): the loop sleeps
// after it though its window would have it poll, and the window stays as it was.
TEST(UvSocketTest, AdaptivePollingLoopSleepsAfterABulkRead) {
  UvLoop loop(UvLoopOptions{.adaptivePollMaxMicros = 60'000'000});
  auto io_turn = [&loop](bool bulk) {
    loop.post([&loop, bulk] { loop.noteIo(bulk); });
    loop.runOnce();
  };
  LearnToPoll(loop, [&] { io_turn(false); });
  const uint64_t window = loop.idlePollWindowNs();
  ASSERT_GE(window, uint64_t{2'000'000});
  io_turn(true);
  loop.noteWrite();  // and answered: still no polling after a bulk read
  EXPECT_LE(TurnsUntilTimer(loop, 20), 3);  // slept
  EXPECT_EQ(loop.idlePollWindowNs(), window);
}

// While a socket's bytes wait for it to become writable (the peer does not read), data that
// arrives does not make the loop poll: it sleeps until epoll reports the socket. Once the peer
// has read everything, the count of waiting sockets is back to 0.
TEST(UvSocketTest, AdaptivePollingLoopSleepsWhileWritesWaitForTheSocket) {
  Pair p(UvLoopOptions{.adaptivePollMaxMicros = 60'000'000});
  ASSERT_NO_FATAL_FAILURE(LearnToPollFromPeer(p));
  ASSERT_EQ(p.loop.socketsWaitingToWrite(), 0u);

  const size_t big = 16 << 20;  // more than both sockets' buffers hold
  p.client->write(std::string(big, 'w'));
  // Not runOnce(): once the bytes wait, a turn that sleeps would wait for a peer that does not
  // read.
  for (int i = 0; i < 100 && p.loop.socketsWaitingToWrite() == 0; ++i) {
    uv_run(p.loop.uv(), UV_RUN_NOWAIT);  // the kernel takes part of it, the rest waits
  }
  ASSERT_EQ(p.loop.socketsWaitingToWrite(), 1u);
  ASSERT_TRUE(p.receiveOneFromPeer());
  p.client->write("y");  // an answer, queued behind the waiting bytes
  EXPECT_LE(TurnsUntilTimer(p.loop, 20), 3);  // slept though data has just arrived

  size_t got = 0;
  std::thread reader([&] {
    std::vector<char> buf(1 << 20);
    while (got < big + 1) {  // and the answer
      ssize_t n = recv(p.peer, buf.data(), buf.size(), 0);
      if (n <= 0) {  // SO_RCVTIMEO: the write fails, the loop below ends, the test fails
        shutdown(p.peer, SHUT_RDWR);
        return;
      }
      got += static_cast<size_t>(n);
    }
  });
  while (p.loop.socketsWaitingToWrite() != 0) p.loop.runOnce();
  reader.join();
  EXPECT_EQ(got, big + 1);
  EXPECT_EQ(p.client->writeQueueSize(), 0u);
}

// A loop that receives data and writes nothing (a streaming client between WINDOW_UPDATEs)
// sleeps after it though its window is learned: it waits for no answer.
TEST(UvSocketTest, AdaptivePollingLoopThatOnlyReceivesSleeps) {
  Pair p(UvLoopOptions{.adaptivePollMaxMicros = 60'000'000});
  ASSERT_NO_FATAL_FAILURE(LearnToPollFromPeer(p));
  ASSERT_TRUE(p.receiveOneFromPeer());
  EXPECT_LE(TurnsUntilTimer(p.loop, 20), 3);
}

// A socket destroyed with writes waiting does not leave the loop thinking it still waits.
TEST(UvSocketTest, DestroyedSocketNoLongerWaitsToWrite) {
  Pair p(UvLoopOptions{.adaptivePollMaxMicros = 100});
  p.client->write(std::string(16 << 20, 'w'));
  for (int i = 0; i < 100 && p.loop.socketsWaitingToWrite() == 0; ++i) {
    uv_run(p.loop.uv(), UV_RUN_NOWAIT);
  }
  ASSERT_EQ(p.loop.socketsWaitingToWrite(), 1u);
  p.client->destroy();
  for (int i = 0; i < 100 && p.loop.socketsWaitingToWrite() != 0; ++i) {
    uv_run(p.loop.uv(), UV_RUN_NOWAIT);  // the cancelled write's callback
  }
  EXPECT_EQ(p.loop.socketsWaitingToWrite(), 0u);
}

}  // namespace
}  // namespace h2rpc::transport
