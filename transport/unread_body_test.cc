// A server that sends its complete response before the request has ended resets the stream
// with RST_STREAM(NO_ERROR) right after the frame carrying its END_STREAM (RFC 9113 §8.1), as
// Node 20 does; a request that has ended closes normally, with no RST_STREAM.
//
// Node 20, checked by hand with nghttp -v uploading 200 KB to a server that answers without
// reading: HEADERS, DATA(END_STREAM) [or trailing HEADERS(END_STREAM), or HEADERS(END_STREAM)
// alone], then RST_STREAM(NO_ERROR); with a 6-byte body sent with END_STREAM (unread): no
// RST_STREAM. The response's END_STREAM delayed by 200 ms delays the RST_STREAM with it.
//
// Sans I/O: the server session runs on one end of a MemorySocket pair over a ManualLoop; the
// test is either a raw peer that parses every frame (to see what goes on the wire, in order) or
// a ClientHttp2Session (to see that an uploader stuck at the flow-control window finishes).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kSettings = 0x4;
constexpr uint8_t kEndStream = 0x1, kEndHeaders = 0x4, kAck = 0x1;

std::string U32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  const size_t n = payload.size();
  std::string f = {static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n),
                   static_cast<char>(type), static_cast<char>(flags)};
  return f + U32(stream) + std::string(payload);
}

// HPACK literal without indexing, new name, no Huffman (RFC 7541 §6.2.2); short strings only.
std::string Literal(std::string_view name, std::string_view value) {
  return std::string(1, '\0') + static_cast<char>(name.size()) + std::string(name) +
         static_cast<char>(value.size()) + std::string(value);
}

std::string PostHeaders(uint32_t stream, bool end_stream) {
  const std::string block = Literal(":method", "POST") + Literal(":scheme", "http") +
                            Literal(":path", "/upload") + Literal(":authority", "localhost");
  return Frame(kHeaders, kEndHeaders | (end_stream ? kEndStream : 0), stream, block);
}

struct ParsedFrame {
  uint8_t type;
  uint8_t flags;
  uint32_t stream;
  std::string payload;
};

// A raw HTTP/2 client on one end of the pair; the server session on the other.
struct RawPeer {
  RawPeer() {
    auto [a, b] = MemorySocket::pair(&loop);
    peer = std::move(b);
    peer->setHandler(&handler);
    server = *ServerHttp2Session::create(&loop, std::move(a));
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
      streams.push_back(s);
      if (on_stream) on_stream(s);
    });
    peer->write(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + Frame(kSettings, 0, 0, "") +
                Frame(kSettings, kAck, 0, ""));
    loop.runUntilIdle();
  }
  ~RawPeer() { peer->setHandler(nullptr); }

  // Frames the server sent since the last call (SETTINGS, WINDOW_UPDATE and PING left out).
  std::vector<ParsedFrame> take() {
    loop.runUntilIdle();
    std::vector<ParsedFrame> out;
    size_t pos = 0;
    while (handler.bytes.size() - pos >= 9) {
      const auto* p = reinterpret_cast<const uint8_t*>(handler.bytes.data() + pos);
      const size_t len = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
      if (handler.bytes.size() - pos < 9 + len) break;
      ParsedFrame f{p[3], p[4],
                    ((uint32_t{p[5]} << 24) | (uint32_t{p[6]} << 16) | (uint32_t{p[7]} << 8) |
                     p[8]) & 0x7fffffff,
                    handler.bytes.substr(pos + 9, len)};
      if (f.type == kData || f.type == kHeaders || f.type == kRstStream) out.push_back(f);
      pos += 9 + len;
    }
    handler.bytes.erase(0, pos);
    return out;
  }

  struct Handler : Socket::Handler {
    void onSocketConnect() override {}
    void onSocketData(std::string_view data) override { bytes.append(data); }
    void onSocketDrain() override {}
    void onSocketClose(absl::Status) override {}
    std::string bytes;
  };

  ManualLoop loop;
  Handler handler;
  std::unique_ptr<MemorySocket> peer;
  std::shared_ptr<ServerHttp2Session> server;
  std::vector<std::shared_ptr<ServerHttp2Stream>> streams;
  std::function<void(std::shared_ptr<ServerHttp2Stream>)> on_stream;
};

// "HEADERS", "DATA+END", "RST 0"...: a frame list readable in test failures.
std::vector<std::string> Describe(const std::vector<ParsedFrame>& frames) {
  std::vector<std::string> out;
  for (const ParsedFrame& f : frames) {
    std::string s = f.type == kData ? "DATA" : f.type == kHeaders ? "HEADERS" : "RST";
    if (f.type == kRstStream) {
      const auto* p = reinterpret_cast<const uint8_t*>(f.payload.data());
      s += " " + std::to_string((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                                (uint32_t{p[2]} << 8) | p[3]);
    } else if (f.flags & kEndStream) {
      s += "+END";
    }
    out.push_back(s + " @" + std::to_string(f.stream));
  }
  return out;
}

using V = std::vector<std::string>;

TEST(UnreadBodyTest, CompleteResponseToAnOpenRequestIsFollowedByRstNoError) {
  RawPeer p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s) {
    ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
    s->end("done");  // the body is never read
  };
  p.peer->write(PostHeaders(1, false) + Frame(kData, 0, 1, std::string(1000, 'x')));
  EXPECT_EQ(Describe(p.take()), (V{"HEADERS @1", "DATA+END @1", "RST 0 @1"}));
  ASSERT_EQ(p.streams.size(), 1u);
  EXPECT_TRUE(p.streams[0]->destroyed());
  EXPECT_EQ(p.streams[0]->rstCode(), 0u);
  EXPECT_EQ(p.server->streamCount(), 0u);
}

TEST(UnreadBodyTest, ReadingTheBodyDoesNotChangeItWhileTheRequestIsOpen) {
  // Node decides on the HTTP/2 state, not on what the application consumed.
  RawPeer p;
  std::string got;
  p.on_stream = [&got](std::shared_ptr<ServerHttp2Stream> s) {
    s->onData([&got, s](std::string_view d) {
      got += d;
      ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
      s->end("done");
    });
  };
  p.peer->write(PostHeaders(1, false) + Frame(kData, 0, 1, "abc"));
  EXPECT_EQ(Describe(p.take()), (V{"HEADERS @1", "DATA+END @1", "RST 0 @1"}));
  EXPECT_EQ(got, "abc");
}

TEST(UnreadBodyTest, HeadersOnlyResponseAndTrailersAreFollowedByRstToo) {
  RawPeer p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s) {
    if (s->id() == 1) {
      ASSERT_TRUE(s->respond({{":status", "204"}}, {.endStream = true}).ok());
      return;
    }
    ASSERT_TRUE(s->respond({{":status", "200"}}, {.waitForTrailers = true}).ok());
    s->onWantTrailers([s] { ASSERT_TRUE(s->sendTrailers({{"x-t", "1"}}).ok()); });
    s->end("hi");
  };
  p.peer->write(PostHeaders(1, false));
  EXPECT_EQ(Describe(p.take()), (V{"HEADERS+END @1", "RST 0 @1"}));
  p.peer->write(PostHeaders(3, false));
  EXPECT_EQ(Describe(p.take()), (V{"HEADERS @3", "DATA @3", "HEADERS+END @3", "RST 0 @3"}));
}

TEST(UnreadBodyTest, EndedRequestClosesWithoutRstEvenIfUnread) {
  RawPeer p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s) {
    ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
    s->end("done");
  };
  p.peer->write(PostHeaders(1, false) + Frame(kData, kEndStream, 1, "small"));
  EXPECT_EQ(Describe(p.take()), (V{"HEADERS @1", "DATA+END @1"}));
  p.peer->write(PostHeaders(3, true));  // no body at all
  EXPECT_EQ(Describe(p.take()), (V{"HEADERS @3", "DATA+END @3"}));
  EXPECT_EQ(p.server->streamCount(), 0u);
}

TEST(UnreadBodyTest, NoRstUntilTheResponseEnds) {
  RawPeer p;
  std::shared_ptr<ServerHttp2Stream> stream;
  p.on_stream = [&stream](std::shared_ptr<ServerHttp2Stream> s) {
    stream = s;
    ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
    s->write("part");
  };
  p.peer->write(PostHeaders(1, false) + Frame(kData, 0, 1, "x"));
  EXPECT_EQ(Describe(p.take()), (V{"HEADERS @1", "DATA @1"}));
  p.loop.advance(1000);
  EXPECT_EQ(Describe(p.take()), V{});
  ASSERT_NE(stream, nullptr);
  stream->end("last");
  EXPECT_EQ(Describe(p.take()), (V{"DATA+END @1", "RST 0 @1"}));
}

TEST(UnreadBodyTest, UploaderBlockedAtTheWindowFinishesWithTheResponse) {
  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  auto server = *ServerHttp2Session::create(&loop, std::move(a));
  auto client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost");
  server->onStream([](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
    s->end("ok");
  });
  auto req = client->request({{":method", "POST"}, {":path", "/upload"}});
  ASSERT_TRUE(req.ok());
  std::string body;
  bool ended = false, closed = false, aborted = false;
  (*req)->onData([&](std::string_view d) { body += d; });
  (*req)->onEnd([&] { ended = true; });
  (*req)->onClose([&] { closed = true; });
  (*req)->onAborted([&] { aborted = true; });
  (*req)->end(std::string(200 * 1024, 'u'));  // > the 64 KiB window the server never opens
  loop.runUntilIdle();
  EXPECT_EQ(body, "ok");
  EXPECT_TRUE(ended);
  EXPECT_TRUE(closed);  // without the RST_STREAM the upload waits for window forever
  EXPECT_FALSE(aborted);
  EXPECT_EQ((*req)->rstCode(), 0u);
  EXPECT_EQ(client->streamCount(), 0u);
  EXPECT_EQ(server->streamCount(), 0u);
}

}  // namespace
}  // namespace h2rpc::transport
