// ClientHttp2Session::request()'s `signal` (AbortController / AbortSignal) and RFC 7540
// priority options (parent, weight, exclusive), each as Node 20 behaves (checked by hand with
// Node 20.20: RST_STREAM CANCEL for an abort, HEADERS never sent for a signal aborted already,
// the PRIORITY flag and fields in the HEADERS frame, weight clamped to 1..256).
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/abort.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"
#include "transport/testing/session_pair.h"

namespace h2rpc::transport {
namespace {

TEST(AbortSignalTest, AbortRunsEachListenerOnceAndKeepsTheReason) {
  AbortController controller;
  auto signal = controller.signal();
  EXPECT_FALSE(signal->aborted());
  EXPECT_TRUE(signal->reason().ok());
  int a = 0, b = 0;
  signal->onAbort([&] { ++a; });
  ListenerId removed = signal->onAbort([&] { ++b; });
  signal->off(removed);
  controller.abort(absl::DeadlineExceededError("too slow"));
  controller.abort(absl::InternalError("again"));  // once only
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
  EXPECT_TRUE(signal->aborted());
  EXPECT_EQ(signal->reason(), absl::DeadlineExceededError("too slow"));
  EXPECT_EQ(signal->listenerCount(), 0u);
  int late = 0;
  signal->onAbort([&] { ++late; });  // after the fact: never runs (as Node)
  controller.abort();
  EXPECT_EQ(late, 0);
}

TEST(AbortSignalTest, DefaultReasonAndStaticAbort) {
  auto signal = AbortSignal::abort();
  EXPECT_TRUE(signal->aborted());
  EXPECT_EQ(signal->reason().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(signal->reason().message(), "This operation was aborted");
  absl::Status err = abortError(absl::NotFoundError("why"));
  EXPECT_EQ(nodeErrorCode(err), "ABORT_ERR");
  EXPECT_EQ(nodeErrorMessage(err), "The operation was aborted");
  EXPECT_TRUE(isAbortError(err));
  EXPECT_NE(abortCause(err).find("why"), std::string::npos);
  EXPECT_FALSE(isAbortError(absl::CancelledError("other")));
}

TEST(RequestSignalTest, AbortDestroysTheStreamWithAbortErrorAndCancel) {
  SessionPair p;
  AbortController controller;
  auto req = *p.client->request({{":method", "POST"}}, {.signal = controller.signal()});
  std::vector<absl::Status> errors;
  bool closed = false;
  req->onError([&](const absl::Status& e) { errors.push_back(e); });
  req->onClose([&] { closed = true; });
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  std::optional<uint32_t> server_rst;
  p.streams[0]->onClose([&, s = p.streams[0].get()] { server_rst = s->rstCode(); });
  EXPECT_EQ(controller.signal()->listenerCount(), 1u);
  controller.abort(absl::DeadlineExceededError("user gave up"));
  EXPECT_TRUE(req->destroyed());  // destroyed inside abort(), as Node
  EXPECT_TRUE(errors.empty());    // its events come from the loop
  EXPECT_FALSE(closed);
  p.run();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(nodeErrorCode(errors[0]), "ABORT_ERR");
  EXPECT_NE(abortCause(errors[0]).find("user gave up"), std::string::npos);
  EXPECT_TRUE(closed);
  EXPECT_EQ(req->rstCode(), constants::NGHTTP2_CANCEL);
  ASSERT_TRUE(server_rst.has_value());
  EXPECT_EQ(*server_rst, constants::NGHTTP2_CANCEL);  // RST_STREAM(CANCEL) on the wire
}

TEST(RequestSignalTest, AlreadyAbortedSignalNeverSendsTheRequest) {
  SessionPair p;
  auto req = *p.client->request({{":path", "/x"}}, {.signal = AbortSignal::abort()});
  EXPECT_TRUE(req->destroyed());
  std::vector<absl::Status> errors;
  bool closed = false;
  req->onError([&](const absl::Status& e) { errors.push_back(e); });
  req->onClose([&] { closed = true; });
  p.run();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(nodeErrorCode(errors[0]), "ABORT_ERR");
  EXPECT_TRUE(closed);
  EXPECT_EQ(req->rstCode(), constants::NGHTTP2_CANCEL);
  EXPECT_TRUE(p.streams.empty());  // the server never saw it
  EXPECT_EQ(req->id(), 0);          // no stream id used (Node: id undefined)
  // The session is fine: the next request goes through.
  auto next = *p.client->request({{":path", "/y"}});
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  EXPECT_EQ(p.request_headers[0].get(":path"), "/y");
  EXPECT_EQ(next->id(), 1);  // the aborted request took no id
}

TEST(RequestSignalTest, ListenerIsRemovedWhenTheStreamCloses) {
  SessionPair p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    (void)s->respond({{":status", "200"}}, {.endStream = true});
  };
  AbortController controller;
  auto req = *p.client->request({}, {.signal = controller.signal()});
  bool closed = false;
  req->onClose([&] { closed = true; });
  p.run();
  ASSERT_TRUE(closed);
  EXPECT_EQ(req->rstCode(), constants::NGHTTP2_NO_ERROR);
  EXPECT_EQ(controller.signal()->listenerCount(), 0u);
  controller.abort();  // nothing left to abort
  p.run();
  EXPECT_EQ(req->rstCode(), constants::NGHTTP2_NO_ERROR);
}

// Spec "Note on :authority and host": a request may carry host instead of :authority; request()
// then adds no :authority (Node 20 checks `!headers[HTTP2_HEADER_AUTHORITY] && !headers.host`).
TEST(RequestAuthorityTest, HostHeaderReplacesTheDefaultAuthority) {
  SessionPair p;
  ASSERT_TRUE(p.client->request({{"host", "example.org"}}).ok());
  ASSERT_TRUE(p.client->request({}).ok());
  p.run();
  ASSERT_EQ(p.request_headers.size(), 2u);
  EXPECT_FALSE(p.request_headers[0].has(":authority"));
  EXPECT_EQ(p.request_headers[0].get("host"), "example.org");
  EXPECT_EQ(p.request_headers[1].get(":authority"), "localhost:8080");
  EXPECT_FALSE(p.request_headers[1].has("host"));
}

// The client's frames as a raw peer reads them.
struct FrameTap : Socket::Handler {
  // hold_connect: the client's socket still connects until client_socket->finishConnect().
  explicit FrameTap(bool hold_connect = false) {
    auto [a, b] = MemorySocket::pair(&loop);
    peer = std::move(a);
    peer->setHandler(this);
    client_socket = b.get();
    if (hold_connect) client_socket->holdConnect();
    client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost:80");
  }
  void onSocketConnect() override {}
  void onSocketData(std::string_view d) override { bytes += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override {}
  struct Frame {
    uint8_t type, flags;
    uint32_t stream;
    std::string payload;
  };
  std::vector<Frame> headersFrames() const {
    std::vector<Frame> out;
    size_t off = 24;  // the client preface
    while (bytes.size() >= off + 9) {
      auto u = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
      const size_t len = (u(off) << 16) | (u(off + 1) << 8) | u(off + 2);
      if (bytes.size() < off + 9 + len) break;
      Frame f{u(off + 3), u(off + 4),
              ((u(off + 5) & 0x7fu) << 24) | (u(off + 6) << 16) | (u(off + 7) << 8) | u(off + 8),
              bytes.substr(off + 9, len)};
      if (f.type == 1) out.push_back(std::move(f));
      off += 9 + len;
    }
    return out;
  }
  ManualLoop loop;
  std::unique_ptr<MemorySocket> peer;
  MemorySocket* client_socket = nullptr;
  std::shared_ptr<ClientHttp2Session> client;
  std::string bytes;
};

std::string Hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

TEST(RequestPriorityTest, HeadersCarryPriorityAsNode20SendsIt) {
  FrameTap tap;
  ASSERT_TRUE(tap.client->request({}).ok());                     // defaults: no PRIORITY
  RequestOptions exclusive;
  exclusive.weight = 42;
  exclusive.exclusive = true;
  exclusive.parent = 1;
  ASSERT_TRUE(tap.client->request({}, exclusive).ok());          // E=1, dep 1, weight 42
  ASSERT_TRUE(tap.client->request({}, {.weight = 1000}).ok());  // clamped to 256
  ASSERT_TRUE(tap.client->request({}, {.weight = 0}).ok());     // clamped to 1
  tap.loop.runUntilIdle();
  auto frames = tap.headersFrames();
  ASSERT_EQ(frames.size(), 4u);
  // What Node 20.20 sent for the same four requests (flags 0x05, then 0x25 with 5 bytes).
  EXPECT_EQ(frames[0].flags, 0x05);
  EXPECT_EQ(frames[1].flags, 0x25);
  EXPECT_EQ(Hex(frames[1].payload.substr(0, 5)), "8000000129");
  EXPECT_EQ(frames[2].flags, 0x25);
  EXPECT_EQ(Hex(frames[2].payload.substr(0, 5)), "00000000ff");
  EXPECT_EQ(frames[3].flags, 0x25);
  EXPECT_EQ(Hex(frames[3].payload.substr(0, 5)), "0000000000");
}

TEST(RequestPriorityTest, NegativeParentIsOutOfRange) {
  FrameTap tap;
  auto req = tap.client->request({}, {.parent = -5});
  EXPECT_EQ(nodeErrorCode(req.status()), "ERR_OUT_OF_RANGE");
  EXPECT_EQ(nodeErrorMessage(req.status()),
            "The value of \"options.parent\" is out of range. It must be >= 0. Received -5");
  HeaderFieldView block[] = {{":method", "GET"}, {":scheme", "http"}, {":path", "/"},
                             {":authority", "localhost:80"}};
  EXPECT_EQ(nodeErrorCode(tap.client->requestPrevalidated(block, {.parent = -1}).status()),
            "ERR_OUT_OF_RANGE");
}

// Frames of any type on `stream`, as (type, payload) pairs.
std::vector<FrameTap::Frame> FramesOf(const std::string& bytes, uint32_t stream) {
  std::vector<FrameTap::Frame> out;
  size_t off = 24;
  while (bytes.size() >= off + 9) {
    auto u = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
    const size_t len = (u(off) << 16) | (u(off + 1) << 8) | u(off + 2);
    if (bytes.size() < off + 9 + len) break;
    FrameTap::Frame f{u(off + 3), u(off + 4),
                      ((u(off + 5) & 0x7fu) << 24) | (u(off + 6) << 16) | (u(off + 7) << 8) |
                          u(off + 8),
                      bytes.substr(off + 9, len)};
    if (f.stream == stream) out.push_back(std::move(f));
    off += 9 + len;
  }
  return out;
}

int CountType(const std::vector<FrameTap::Frame>& frames, uint8_t type) {
  int n = 0;
  for (const auto& f : frames) n += f.type == type;
  return n;
}

TEST(StreamPriorityTest, SendsAPriorityFrameAsNode20) {
  FrameTap tap;
  auto req = *tap.client->request({});
  tap.loop.runUntilIdle();
  // Node 20.20: req.priority({weight: 10}) sends PRIORITY (type 2) 00000000 09.
  ASSERT_TRUE(req->priority({.weight = 10}).ok());
  tap.loop.runUntilIdle();
  auto frames = FramesOf(tap.bytes, 1);
  ASSERT_EQ(CountType(frames, 2), 1);
  for (const auto& f : frames) {
    if (f.type == 2) {
      EXPECT_EQ(Hex(f.payload), "0000000009");
    }
  }
  ASSERT_TRUE(req->priority({.parent = 0, .weight = 300, .exclusive = true}).ok());
  tap.loop.runUntilIdle();
  frames = FramesOf(tap.bytes, 1);
  ASSERT_EQ(CountType(frames, 2), 2);
  EXPECT_EQ(Hex(frames.back().payload), "80000000ff");
}

// Node: priority() on a pending stream (its session still connecting) waits for 'ready', when
// the stream has its id: nothing is sent before the connection, then HEADERS and PRIORITY for
// stream 1 (nghttp2 queues PRIORITY ahead of HEADERS; Node submits both in the same turn too).
TEST(StreamPriorityTest, PriorityMadeWhilePendingIsSentForItsId) {
  FrameTap tap(/*hold_connect=*/true);
  auto req = *tap.client->request({});
  ASSERT_TRUE(req->pending());
  ASSERT_TRUE(req->priority({.weight = 10}).ok());
  tap.loop.runUntilIdle();
  EXPECT_TRUE(tap.bytes.empty());
  tap.client_socket->finishConnect();
  tap.loop.runUntilIdle();
  auto frames = FramesOf(tap.bytes, 1);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(CountType(frames, 1), 1);  // HEADERS
  ASSERT_EQ(CountType(frames, 2), 1);  // PRIORITY
  for (const auto& f : frames) {
    if (f.type == 2) {
      EXPECT_EQ(Hex(f.payload), "0000000009");
    }
  }
}

TEST(StreamPriorityTest, SilentSelfParentAndErrorsSendNothing) {
  FrameTap tap;
  auto req = *tap.client->request({});
  tap.loop.runUntilIdle();
  ASSERT_TRUE(req->priority({.weight = 10, .silent = true}).ok());  // local tree only
  ASSERT_TRUE(req->priority({.parent = req->id()}).ok());           // itself: ignored
  EXPECT_EQ(nodeErrorCode(req->priority({.parent = -1})), "ERR_OUT_OF_RANGE");
  tap.loop.runUntilIdle();
  EXPECT_EQ(CountType(FramesOf(tap.bytes, 1), 2), 0);
  req->destroy();
  EXPECT_EQ(nodeErrorCode(req->priority({})), "ERR_HTTP2_INVALID_STREAM");
}

}  // namespace
}  // namespace h2rpc::transport
