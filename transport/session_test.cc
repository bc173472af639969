// Http2Session / Http2Stream over an in-memory socket pair and a manual clock: every scenario
// runs deterministically, with real nghttp2 framing on both sides.
#include "transport/session.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/testing/received_buffers.h"
#include "transport/testing/session_pair.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;

using Pair = SessionPair;

// Everything a client stream reports, in order.
struct Recorder {
  explicit Recorder(ClientHttp2Stream& s) {
    s.onResponse([this](const Headers& h, uint8_t) {
      events.push_back("response");
      response = h;
    });
    s.onHeaders([this](const Headers& h, uint8_t) {
      events.push_back("headers " + h.get(":status").value_or("?"));
    });
    s.onData([this](std::string_view d) { body += d; });
    s.onTrailers([this](const Headers& h, uint8_t) {
      events.push_back("trailers");
      trailers = h;
    });
    s.onEnd([this] { events.push_back("end"); });
    s.onAborted([this] { events.push_back("aborted"); });
    s.onError([this](const absl::Status& e) {
      events.push_back("error");
      error = e;
    });
    s.onClose([this] { events.push_back("close"); });
  }
  std::vector<std::string> events;
  Headers response, trailers;
  std::string body;
  absl::Status error;
};

TEST(SessionTest, RequestResponseWithBodiesAndTrailers) {
  Pair p;
  std::string server_body;
  bool server_end = false;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    s->onData([&](std::string_view d) { server_body += d; });
    s->onEnd([&, s] {
      server_end = true;
      ASSERT_TRUE(s->respond({{":status", "200"}, {"content-type", "text/plain"}},
                             {.waitForTrailers = true})
                      .ok());
      s->onWantTrailers([s] { ASSERT_TRUE(s->sendTrailers({{"x-checksum", "42"}}).ok()); });
      s->write("hello ");
      s->end("world");
    });
  };
  auto req = p.client->request({{":method", "POST"}, {":path", "/echo"}, {"x-id", "7"}});
  ASSERT_TRUE(req.ok()) << req.status();
  Recorder r(**req);
  (*req)->write("ping");
  (*req)->end(" pong");
  p.run();

  ASSERT_EQ(p.request_headers.size(), 1u);
  const Headers& h = p.request_headers[0];
  EXPECT_EQ(h.get(":method"), "POST");
  EXPECT_EQ(h.get(":path"), "/echo");
  EXPECT_EQ(h.get(":scheme"), "http");
  EXPECT_EQ(h.get(":authority"), "localhost:8080");
  EXPECT_EQ(h.get("x-id"), "7");
  EXPECT_EQ(server_body, "ping pong");
  EXPECT_TRUE(server_end);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.response.get(":status"), "200");
  EXPECT_EQ(r.response.get("content-type"), "text/plain");
  EXPECT_TRUE(r.response.has("date"));  // Node adds `date` to every response
  EXPECT_EQ(r.trailers.get("x-checksum"), "42");
  EXPECT_THAT(r.events, ElementsAre("response", "trailers", "end", "close"));
  EXPECT_EQ((*req)->rstCode(), 0u);
  EXPECT_TRUE((*req)->destroyed());
  EXPECT_EQ(p.client->streamCount(), 0u);
  EXPECT_EQ(p.server->streamCount(), 0u);
  EXPECT_EQ(p.streams[0]->sentTrailers()->get("x-checksum"), "42");
}

// respondStatic()/sendStaticTrailers() (rpc/'s fixed blocks) put the same frames on the wire
// as respond()/sendTrailers() with the same fields, and keep their stream-state errors.
TEST(SessionTest, StaticBlocksSendWhatRespondAndSendTrailersWould) {
  static constexpr StaticHeaderField kHeaders[] = {
      {":status", "200"}, {"content-type", "application/grpc"}, {"grpc-accept-encoding", "gzip"}};
  static constexpr StaticHeaderField kTrailers[] = {{"grpc-status", "0"}};
  Pair p;
  std::map<bool, std::vector<absl::Status>> errors_of;  // by `fixed`
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    const bool fixed = h.get(":path") == "/static";
    std::vector<absl::Status>& errors = errors_of[fixed];
    // Before 'wantTrailers': not ready.
    errors.push_back(fixed ? s->sendStaticTrailers(kTrailers)
                           : s->sendTrailers({{"grpc-status", "0"}}));
    absl::Status st =
        fixed ? s->respondStatic(kHeaders, {.waitForTrailers = true, .sendDate = false})
              : s->respond({{":status", "200"},
                            {"content-type", "application/grpc"},
                            {"grpc-accept-encoding", "gzip"}},
                           {.waitForTrailers = true, .sendDate = false});
    ASSERT_TRUE(st.ok()) << st;
    errors.push_back(fixed ? s->respondStatic(kHeaders, {.sendDate = false})
                           : s->respond({}, {.sendDate = false}));
    s->onWantTrailers([&errors, s, fixed] {
      ASSERT_TRUE((fixed ? s->sendStaticTrailers(kTrailers)
                         : s->sendTrailers({{"grpc-status", "0"}}))
                      .ok());
      errors.push_back(fixed ? s->sendStaticTrailers(kTrailers)
                             : s->sendTrailers({{"grpc-status", "0"}}));
    });
    s->end("body");
  };
  auto general = p.client->request({{":method", "POST"}, {":path", "/general"}});
  auto fixed = p.client->request({{":method", "POST"}, {":path", "/static"}});
  ASSERT_TRUE(general.ok() && fixed.ok());
  Recorder rg(**general), rf(**fixed);
  (*general)->end();
  (*fixed)->end();
  p.run();
  ASSERT_EQ(p.streams.size(), 2u);
  EXPECT_THAT(rf.events, ElementsAre("response", "trailers", "end", "close"));
  EXPECT_EQ(rf.events, rg.events);
  EXPECT_EQ(rf.response, rg.response);
  EXPECT_EQ(rf.response.raw(), (HeaderFields{{":status", "200"},
                                             {"content-type", "application/grpc"},
                                             {"grpc-accept-encoding", "gzip"}}));
  EXPECT_EQ(rf.trailers, rg.trailers);
  EXPECT_EQ(rf.trailers.get("grpc-status"), "0");
  EXPECT_EQ(rf.body, "body");
  EXPECT_EQ(p.streams[1]->sentHeaders(), p.streams[0]->sentHeaders());
  EXPECT_EQ(p.streams[1]->sentTrailers(), p.streams[0]->sentTrailers());
  for (bool f : {false, true}) {
    const std::vector<absl::Status>& errors = errors_of[f];
    ASSERT_EQ(errors.size(), 3u);
    EXPECT_EQ(nodeErrorCode(errors[0]), "ERR_HTTP2_TRAILERS_NOT_READY");
    EXPECT_EQ(nodeErrorCode(errors[1]), "ERR_HTTP2_HEADERS_SENT");
    EXPECT_EQ(nodeErrorCode(errors[2]), "ERR_HTTP2_TRAILERS_ALREADY_SENT");
  }
}

// requestPrevalidated() (rpc/'s request block, without Node's per-call checks) puts the same
// request on the wire as request() with the same fields, copies the strings (they may change right
// after the call), keeps sentHeaders(), and fails like request() on a closed session.
TEST(SessionTest, PrevalidatedRequestMatchesRequest) {
  Pair p;
  std::vector<Headers> seen;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    seen.push_back(h);
    ASSERT_TRUE(s->respond({}, {.sendDate = false}).ok());
    s->end();
  };
  std::string path = "/pkg.Svc/Method";
  const HeaderFieldView fields[] = {{":method", "POST"},
                                    {":scheme", "http"},
                                    {":path", path},
                                    {":authority", "example.com:80"},
                                    {"te", "trailers"},
                                    {"content-type", "application/grpc"},
                                    {"user-agent", "ua/1.0 \xc3\xa9\t(test)"}};
  Headers general;
  for (const HeaderFieldView& f : fields) general.add(f.name, f.value);
  // More fields than the fast path takes at once: it falls back to the general path.
  std::vector<HeaderFieldView> many(std::begin(fields), std::end(fields));
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) names.push_back("x-field-" + std::to_string(i));
  for (const std::string& name : names) many.push_back({name, "v"});
  Headers general_many = general;
  for (const std::string& name : names) general_many.add(name, "v");

  auto a = p.client->request(general, {.endStream = true});
  auto b = p.client->requestPrevalidated(fields, {.endStream = true});
  auto c = p.client->request(general_many, {.endStream = true});
  auto d = p.client->requestPrevalidated(many, {.endStream = true});
  path.assign("/overwritten/now");  // nghttp2 copied it: the frames are not sent yet
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok())
      << a.status() << b.status() << c.status() << d.status();
  Recorder ra(**a), rb(**b);
  p.run();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].raw(), seen[0].raw());
  EXPECT_EQ(seen[1].get(":path"), "/pkg.Svc/Method");
  EXPECT_EQ(seen[3].raw(), seen[2].raw());
  EXPECT_EQ((*b)->sentHeaders(), (*a)->sentHeaders());
  EXPECT_EQ((*d)->sentHeaders(), (*c)->sentHeaders());
  EXPECT_EQ(rb.events, ra.events);
  EXPECT_THAT(rb.events, ElementsAre("response", "end", "close"));

  p.client->close();
  auto e = p.client->requestPrevalidated(fields);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(nodeErrorCode(e.status()), "ERR_HTTP2_GOAWAY_SESSION");
}

#ifndef NDEBUG
// Debug builds check a prevalidated block against Node's checks: a caller that breaks the promise
// stops there instead of sending what request() would have refused.
TEST(SessionDeathTest, PrevalidatedRequestIsCheckedInDebugBuilds) {
  const HeaderFieldView bad[] = {{":method", "POST"},
                                 {":scheme", "http"},
                                 {":path", "/"},
                                 {":authority", "a"},
                                 {"Upper-Case", "x"}};
  EXPECT_DEATH(
      {
        Pair p;
        (void)p.client->requestPrevalidated(bad);
      },
      "invalid static header block");
}
#endif

// Without :status a static block gets respond()'s 200 (first); 204 ends the stream as in respond().
TEST(SessionTest, StaticResponseDefaultsStatusAndKeepsEndOfStreamRules) {
  static constexpr StaticHeaderField kNoStatus[] = {{"content-type", "text/plain"}};
  static constexpr StaticHeaderField kNoContent[] = {{":status", "204"}};
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    if (h.get(":path") == "/204") {
      ASSERT_TRUE(s->respondStatic(kNoContent, {.sendDate = false}).ok());
    } else {
      ASSERT_TRUE(s->respondStatic(kNoStatus, {.sendDate = false}).ok());
      s->end();
    }
  };
  auto a = p.client->request({{":path", "/"}});
  auto b = p.client->request({{":path", "/204"}});
  ASSERT_TRUE(a.ok() && b.ok());
  Recorder ra(**a), rb(**b);
  p.run();
  EXPECT_EQ(ra.response.raw(),
            (HeaderFields{{":status", "200"}, {"content-type", "text/plain"}}));
  EXPECT_EQ(p.streams[0]->sentHeaders()->raw(), ra.response.raw());
  EXPECT_EQ(rb.response.get(":status"), "204");
  EXPECT_THAT(rb.events, ElementsAre("response", "end", "close"));
  EXPECT_TRUE(p.streams[1]->writableEnded());
}

#ifndef NDEBUG
// Debug builds check that a static block is one respond() would have sent unchanged.
TEST(SessionDeathTest, InvalidStaticBlockAbortsInDebugBuilds) {
  static constexpr StaticHeaderField kBad[] = {{"connection", "close"}};
  EXPECT_DEATH(
      {
        Pair p;
        p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
          (void)s->respondStatic(kBad, {.sendDate = false});
        };
        auto a = p.client->request({{":path", "/"}});
        p.run();
      },
      "invalid static header block");
}
#endif

// The 'stream' event's headers are the stream's requestHeaders(), kept for its lifetime.
TEST(SessionTest, RequestHeadersStayWithTheStream) {
  Pair p;
  const Headers* seen = nullptr;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    seen = &h;
    EXPECT_EQ(&s->requestHeaders(), &h);  // the same object, not a copy
  };
  auto req = p.client->request({{":path", "/kept"}, {"x-id", "7"}});
  ASSERT_TRUE(req.ok());
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(p.streams[0]->requestHeaders().get(":path"), "/kept");
  EXPECT_EQ(p.streams[0]->requestHeaders().get("x-id"), "7");
  EXPECT_EQ(p.streams[0]->requestHeaders(), p.request_headers[0]);
}

TEST(SessionTest, NoWantTrailersListenerSendsEmptyTrailers) {
  Pair p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respond({}, {.waitForTrailers = true}).ok());
    s->end("body");
  };
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  EXPECT_EQ(r.body, "body");
  // Node ends the stream with an empty DATA frame: no 'trailers' event.
  EXPECT_THAT(r.events, ElementsAre("response", "end", "close"));
}

TEST(SessionTest, GetEndsTheRequestAndHeadImpliesNoBody) {
  Pair p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    EXPECT_TRUE(s->endAfterHeaders());
    EXPECT_EQ(s->headRequest(), h.get(":method") == "HEAD");
    ASSERT_TRUE(s->respond({{"content-length", "4"}}).ok());
    if (!s->headRequest()) s->end("body");
  };
  auto get = p.client->request({{":path", "/"}});
  auto head = p.client->request({{":method", "HEAD"}, {":path", "/"}});
  ASSERT_TRUE(get.ok() && head.ok());
  Recorder rg(**get), rh(**head);
  p.run();
  EXPECT_EQ(rg.body, "body");
  EXPECT_THAT(rh.events, ElementsAre("response", "end", "close"));
  EXPECT_EQ(rh.body, "");
}

TEST(SessionTest, ApiMisuseGetsNodeErrors) {
  Pair p;
  std::shared_ptr<ServerHttp2Stream> s;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> st, const Headers&) { s = st; };
  auto req = p.client->request({{":path", "/"}}, {.endStream = false});
  ASSERT_TRUE(req.ok());
  p.run();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(nodeErrorCode(s->sendTrailers({})), "ERR_HTTP2_TRAILERS_NOT_READY");
  EXPECT_EQ(nodeErrorCode(s->respond({{":status", "99"}})), "ERR_HTTP2_STATUS_INVALID");
  ASSERT_TRUE(s->respond().ok());
  EXPECT_EQ(nodeErrorCode(s->respond()), "ERR_HTTP2_HEADERS_SENT");
  EXPECT_EQ(nodeErrorCode(s->additionalHeaders({{":status", "103"}})),
            "ERR_HTTP2_HEADERS_AFTER_RESPOND");
  s->end();
  absl::Status write_error;
  EXPECT_FALSE(s->write("late", [&](absl::Status st) { write_error = st; }));
  p.run();
  EXPECT_EQ(nodeErrorCode(write_error), "ERR_STREAM_WRITE_AFTER_END");
  EXPECT_EQ(nodeErrorCode(p.client->request({{"bad name", "x"}}).status()),
            "ERR_INVALID_HTTP_TOKEN");
  EXPECT_EQ(nodeErrorCode(p.client->request({{"connection", "close"}}).status()),
            "ERR_HTTP2_INVALID_CONNECTION_HEADERS");
}

TEST(SessionTest, InformationalHeadersBeforeResponse) {
  Pair p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->additionalHeaders({{":status", "103"}, {"link", "</a.css>"}}).ok());
    EXPECT_EQ(nodeErrorCode(s->additionalHeaders({{":status", "101"}})), "ERR_HTTP2_STATUS_101");
    ASSERT_TRUE(s->respond({}, {.endStream = true}).ok());
    EXPECT_EQ(s->sentInfoHeaders().size(), 1u);
  };
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  EXPECT_THAT(r.events, ElementsAre("headers 103", "response", "end", "close"));
}

TEST(SessionTest, CloseWithCodeResetsThePeerStream) {
  Pair p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    s->close(constants::NGHTTP2_ENHANCE_YOUR_CALM);
    EXPECT_TRUE(s->closed());
    EXPECT_EQ(s->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
  };
  auto req = p.client->request({{":method", "POST"}, {":path", "/"}});
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  EXPECT_EQ((*req)->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_TRUE((*req)->aborted());  // our writable side was still open
  EXPECT_THAT(r.events, ElementsAre("aborted", "error", "close"));
  EXPECT_EQ(nodeErrorCode(r.error), "ERR_HTTP2_STREAM_ERROR");
  EXPECT_THAT(std::string(r.error.message()), ::testing::HasSubstr("NGHTTP2_ENHANCE_YOUR_CALM"));
}

TEST(SessionTest, CancelIsNotAnError) {
  Pair p;
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  (*req)->close(constants::NGHTTP2_CANCEL);
  p.run();
  EXPECT_THAT(r.events, ElementsAre("close"));  // GET: writable already ended, so no 'aborted'
  ASSERT_EQ(p.streams.size(), 1u);
  EXPECT_TRUE(p.streams[0]->destroyed());
  EXPECT_EQ(p.streams[0]->rstCode(), constants::NGHTTP2_CANCEL);
  EXPECT_TRUE(p.streams[0]->aborted());
}

TEST(SessionTest, WriteReportsBackpressureAndDrains) {
  Pair p;
  std::shared_ptr<ServerHttp2Stream> s;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> st, const Headers&) { s = st; };
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  std::string body;
  (*req)->onData([&](std::string_view d) { body += d; });
  p.run();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->respond().ok());
  EXPECT_TRUE(s->write(std::string(10000, 'a')));
  EXPECT_FALSE(s->write(std::string(10000, 'b')));  // 20000 >= 16384: wait for 'drain'
  EXPECT_EQ(s->bufferSize(), 20000u);
  int drains = 0;
  s->onDrain([&] { ++drains; });
  p.run();
  EXPECT_EQ(drains, 1);
  EXPECT_EQ(s->bufferSize(), 0u);
  EXPECT_EQ(body.size(), 20000u);
}

// The application not reading means no WINDOW_UPDATE: the sender stops at the window and
// memory stays bounded by it; reading again lets everything through.
TEST(SessionTest, PausedReaderStopsThePeerThroughFlowControl) {
  Pair p;
  std::shared_ptr<ServerHttp2Stream> s;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> st, const Headers&) { s = st; };
  auto req = p.client->request({{":path", "/big"}});
  ASSERT_TRUE(req.ok());
  size_t received = 0;
  bool ended = false;
  (*req)->onData([&](std::string_view d) { received += d.size(); });
  (*req)->onEnd([&] { ended = true; });
  (*req)->pause();
  p.run();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->respond().ok());
  const size_t total = 1 << 20;
  for (size_t i = 0; i < total / 16384; ++i) s->write(std::string(16384, 'x'));
  s->end();
  p.run();
  EXPECT_EQ(received, 0u);
  EXPECT_EQ((*req)->readableLength(), 65535u);          // exactly one stream window
  EXPECT_EQ(s->bufferSize(), total - 65535u);             // the rest waits at the sender
  EXPECT_EQ((*req)->state().localWindowSize, 0);  // the stream's window is used up
  (*req)->resume();
  p.run();
  EXPECT_EQ(received, total);
  EXPECT_TRUE(ended);
  EXPECT_EQ(s->bufferSize(), 0u);
}

TEST(SessionTest, PingRoundTrip) {
  Pair p;
  std::vector<std::string> pings_seen;
  p.server->onPing([&](std::string_view payload) { pings_seen.emplace_back(payload); });
  absl::Status result = absl::UnknownError("not called");
  std::string echoed;
  p.run();
  ASSERT_TRUE(p.client->ping("abcdefgh", [&](const absl::Status& st, double ms, std::string_view pl) {
                         result = st;
                         echoed = std::string(pl);
                         EXPECT_GE(ms, 0);
                       })
                  .ok());
  p.run();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(echoed, "abcdefgh");
  EXPECT_THAT(pings_seen, ElementsAre("abcdefgh"));
  EXPECT_EQ(nodeErrorCode(p.client->ping("short", nullptr)), "ERR_HTTP2_PING_LENGTH");
}

TEST(SessionTest, TooManyOutstandingPingsAreRefused) {
  SessionOptions options;
  options.maxOutstandingPings = 2;
  Pair p({}, options);
  p.run();
  EXPECT_TRUE(p.client->ping("", nullptr).ok());
  EXPECT_TRUE(p.client->ping("", nullptr).ok());
  EXPECT_EQ(nodeErrorCode(p.client->ping("", nullptr)), "ERR_HTTP2_PING_CANCEL");
  p.run();  // acknowledged: room again
  EXPECT_TRUE(p.client->ping("", nullptr).ok());
}

TEST(SessionTest, SettingsAreAcknowledgedAndSeenByThePeer) {
  Pair p;
  int local_events = 0;
  p.client->onLocalSettings([&](const Settings&) { ++local_events; });
  std::optional<Settings> remote;
  p.server->onRemoteSettings([&](const Settings& s) { remote = s; });
  p.run();
  EXPECT_EQ(local_events, 1);  // the initial SETTINGS were acknowledged
  EXPECT_FALSE(p.client->pendingSettingsAck());
  Settings update;
  update.initialWindowSize = 100000;
  update.maxConcurrentStreams = 7;
  std::optional<Settings> acked;
  ASSERT_TRUE(p.client->settings(update, [&](const absl::Status& st, const Settings& s, double) {
                         ASSERT_TRUE(st.ok());
                         acked = s;
                       })
                  .ok());
  EXPECT_TRUE(p.client->pendingSettingsAck());
  p.run();
  EXPECT_FALSE(p.client->pendingSettingsAck());
  ASSERT_TRUE(acked);
  EXPECT_EQ(acked->initialWindowSize, 100000u);
  EXPECT_EQ(p.client->localSettings().maxConcurrentStreams, 7u);
  ASSERT_TRUE(remote);
  EXPECT_EQ(remote->initialWindowSize, 100000u);
  EXPECT_EQ(p.server->remoteSettings().maxConcurrentStreams, 7u);
  EXPECT_EQ(local_events, 2);
  Settings bad;
  bad.maxFrameSize = 100;
  EXPECT_EQ(nodeErrorCode(p.client->settings(bad)), "ERR_HTTP2_INVALID_SETTING_VALUE");
}

TEST(SessionTest, GoawayStopsNewRequestsAndLetsOpenOnesFinish) {
  Pair p;
  std::shared_ptr<ServerHttp2Stream> s;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> st, const Headers&) { s = st; };
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  std::vector<uint32_t> goaway;
  std::vector<std::string> goaway_data;
  p.client->onGoaway([&](uint32_t code, int32_t last, std::string_view data) {
    if (goaway.empty()) goaway = {code, static_cast<uint32_t>(last)};
    goaway_data.emplace_back(data);
  });
  ASSERT_TRUE(p.server->goaway(constants::NGHTTP2_NO_ERROR, 0, "bye").ok());
  p.run();
  EXPECT_THAT(goaway, ElementsAre(0u, 1u));
  // The client answers with its own GOAWAY (Node's close()), and the server with another.
  ASSERT_FALSE(goaway_data.empty());
  EXPECT_EQ(goaway_data[0], "bye");
  EXPECT_TRUE(p.client->closed());
  EXPECT_EQ(nodeErrorCode(p.client->request({{":path", "/"}}).status()),
            "ERR_HTTP2_GOAWAY_SESSION");
  // The open stream still completes.
  ASSERT_TRUE(s->respond().ok());
  s->end("done");
  bool client_closed = false;
  p.client->onClose([&] { client_closed = true; });
  p.run();
  EXPECT_EQ(r.body, "done");
  EXPECT_TRUE(client_closed);
  EXPECT_TRUE(p.client->destroyed());
}

TEST(SessionTest, GracefulCloseWaitsForStreams) {
  Pair p;
  std::shared_ptr<ServerHttp2Stream> s;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> st, const Headers&) { s = st; };
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  bool server_closed = false;
  p.server->close([&] { server_closed = true; });
  p.run();
  EXPECT_FALSE(server_closed);
  EXPECT_FALSE(p.server->destroyed());
  ASSERT_TRUE(s->respond().ok());
  s->end("last");
  p.run();
  EXPECT_TRUE(server_closed);
  EXPECT_EQ(r.body, "last");
  EXPECT_THAT(r.events, ElementsAre("response", "end", "close"));
}

TEST(SessionTest, DestroyWithErrorEmitsErrorThenCloseAndResetsStreams) {
  Pair p;
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  std::vector<std::string> events;
  p.client->onError([&](const absl::Status& e) { events.push_back(std::string(e.message())); });
  p.client->onClose([&] { events.push_back("close"); });
  p.client->destroy(absl::InternalError("boom"));
  uint32_t server_goaway = 99;
  p.server->onGoaway([&](uint32_t code, int32_t, std::string_view) { server_goaway = code; });
  p.run();
  EXPECT_THAT(events, ElementsAre("boom", "close"));
  EXPECT_TRUE((*req)->destroyed());
  EXPECT_THAT(r.events, ElementsAre("error", "close"));
  EXPECT_EQ(server_goaway, constants::NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(nodeErrorCode(p.client->ping("", nullptr)), "ERR_HTTP2_INVALID_SESSION");
}

TEST(SessionTest, PeerDisconnectCancelsStreams) {
  Pair p;
  auto req = p.client->request({{":method", "POST"}, {":path", "/"}});
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  bool server_closed = false;
  p.server->onClose([&] { server_closed = true; });
  p.client_socket->destroy();  // the connection drops
  p.run();
  EXPECT_TRUE(server_closed);
  EXPECT_TRUE(p.streams[0]->destroyed());
  EXPECT_EQ(p.streams[0]->rstCode(), constants::NGHTTP2_CANCEL);
  EXPECT_TRUE(p.streams[0]->aborted());
}

TEST(SessionTest, InactivityTimeouts) {
  Pair p;
  int session_timeouts = 0, stream_timeouts = 0;
  p.server->setTimeout(1000, [&] { ++session_timeouts; });
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  p.streams[0]->setTimeout(500, [&] { ++stream_timeouts; });
  p.loop.advance(499);
  EXPECT_EQ(stream_timeouts, 0);
  p.loop.advance(1);
  EXPECT_EQ(stream_timeouts, 1);
  EXPECT_EQ(session_timeouts, 0);
  p.loop.advance(600);
  EXPECT_EQ(session_timeouts, 1);
}

TEST(SessionTest, TooManyConcurrentStreamsAreRefused) {
  SessionOptions server_options;
  server_options.settings.maxConcurrentStreams = 2;
  SessionOptions client_options;
  client_options.peerMaxConcurrentStreams = 100;
  Pair p(server_options, client_options);
  // Before the server's SETTINGS arrive the client believes 100 streams are fine.
  std::vector<std::unique_ptr<Recorder>> recs;
  std::vector<std::shared_ptr<ClientHttp2Stream>> reqs;
  for (int i = 0; i < 3; ++i) {
    auto r = p.client->request({{":method", "POST"}, {":path", "/"}});
    ASSERT_TRUE(r.ok());
    recs.push_back(std::make_unique<Recorder>(**r));
    reqs.push_back(*r);
  }
  p.run();
  EXPECT_EQ(p.streams.size(), 2u);
  // nghttp2 refuses it first (as in Node): REFUSED_STREAM tells the client it may retry.
  EXPECT_EQ(reqs[2]->rstCode(), constants::NGHTTP2_REFUSED_STREAM);
  EXPECT_FALSE(reqs[0]->destroyed());
}

TEST(SessionTest, TooManyHeaderPairsResetTheStream) {
  SessionOptions server_options;
  server_options.maxHeaderListPairs = 8;
  Pair p(server_options);
  Headers h{{":path", "/"}};
  for (int i = 0; i < 10; ++i) h.add("x-h" + std::to_string(i), "v");
  auto req = p.client->request(h);
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  EXPECT_TRUE(p.streams.empty());
  EXPECT_EQ((*req)->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
}

// RFC 9113 §6.5.2's size of a header list, as Node counts it against maxHeaderListSize.
size_t listSize(const Headers& h) {
  size_t n = 0;
  for (const HeaderField& f : h) n += f.name.size() + f.value.size() + 32;
  return n;
}

TEST(SessionTest, MaxHeaderListSizeCountsNameValueAnd32PerField) {
  SessionOptions server_options;
  server_options.settings.maxHeaderListSize = 1000;
  Pair p(server_options);
  p.run();  // the client acknowledges our SETTINGS: from now on the limit applies (as Node)
  ASSERT_EQ(p.server->localSettings().maxHeaderListSize, 1000u);
  auto probe = p.client->request({{":path", "/"}, {"x-f", ""}});
  ASSERT_TRUE(probe.ok());
  p.run();
  ASSERT_EQ(p.request_headers.size(), 1u);
  const size_t base = listSize(p.request_headers[0]);
  ASSERT_LT(base, 1000u);
  // Exactly 1000 bytes (name + value + 32 per field) passes; one byte more is reset, as in Node.
  auto at = p.client->request({{":path", "/"}, {"x-f", std::string(1000 - base, 'f')}});
  auto over = p.client->request({{":path", "/"}, {"x-f", std::string(1001 - base, 'f')}});
  ASSERT_TRUE(at.ok() && over.ok());
  p.run();
  ASSERT_EQ(p.request_headers.size(), 2u);
  EXPECT_EQ(listSize(p.request_headers[1]), 1000u);
  EXPECT_FALSE((*at)->rstCode().has_value());
  EXPECT_EQ((*over)->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST(SessionTest, ClientAppliesItsMaxHeaderListSizeToResponses) {
  SessionOptions client_options;
  client_options.settings.maxHeaderListSize = 600;
  Pair p({}, client_options);
  size_t base = 0;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    // The first request learns the size of a response with an empty x-f; the next ones ask
    // for a list of exactly `x-size` bytes.
    const size_t want = std::stoul(h.get("x-size").value_or("0"));
    const std::string filler = want ? std::string(want - base, 'f') : "";
    ASSERT_TRUE(s->respond({{":status", "200"}, {"x-f", filler}},
                           {.endStream = true, .sendDate = false})
                    .ok());
  };
  p.run();
  auto probe = p.client->request({{":path", "/"}});
  ASSERT_TRUE(probe.ok());
  Recorder probed(**probe);
  p.run();
  ASSERT_EQ(probed.events.front(), "response");
  base = listSize(probed.response);
  auto at = p.client->request({{":path", "/"}, {"x-size", "600"}});
  auto over = p.client->request({{":path", "/"}, {"x-size", "601"}});
  ASSERT_TRUE(at.ok() && over.ok());
  Recorder at_r(**at), over_r(**over);
  p.run();
  ASSERT_FALSE(at_r.events.empty());
  EXPECT_EQ(at_r.events.front(), "response");
  EXPECT_EQ(listSize(at_r.response), 600u);
  EXPECT_EQ(std::count(over_r.events.begin(), over_r.events.end(), "response"), 0);
  EXPECT_EQ((*over)->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST(SessionTest, SensitiveHeadersAreSentNeverIndexed) {
  Pair p;
  Headers h{{":path", "/"}, {"authorization", "secret-token-value-long-enough"}};
  h.setSensitive("authorization");
  auto req = p.client->request(h);
  ASSERT_TRUE(req.ok());
  p.run();
  ASSERT_EQ(p.request_headers.size(), 1u);
  EXPECT_TRUE(p.request_headers[0].isSensitive("authorization"));
  EXPECT_FALSE(p.request_headers[0].isSensitive(":path"));
}


TEST(SessionTest, MaxSessionMemoryRefusesNewStreamsWhileOver) {
  SessionOptions server_options;
  server_options.maxSessionMemory = 1;  // 1 MB
  Pair p(server_options);
  std::shared_ptr<ServerHttp2Stream> first;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    if (!first) first = s;
  };
  auto req1 = p.client->request({{":path", "/big"}});
  ASSERT_TRUE(req1.ok());
  (*req1)->pause();  // the client does not read: the server's data stays queued
  p.run();
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->respond().ok());
  for (int i = 0; i < 128; ++i) first->write(std::string(16384, 'm'));  // 2 MiB
  p.run();
  EXPECT_GT(p.server->memoryInUse(), 1000000u);
  auto req2 = p.client->request({{":path", "/more"}});
  ASSERT_TRUE(req2.ok());
  p.run();
  EXPECT_EQ((*req2)->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(p.streams.size(), 1u);
  // The open stream goes on (a credit limit), and once drained new streams are welcome again.
  size_t got = 0;
  (*req1)->onData([&](std::string_view d) { got += d.size(); });
  (*req1)->resume();  // explicitly paused: a new 'data' listener alone does not resume (Node)
  first->end();
  p.run();
  EXPECT_EQ(got, 128u * 16384u);
  auto req3 = p.client->request({{":path", "/again"}});
  ASSERT_TRUE(req3.ok());
  p.run();
  EXPECT_EQ(p.streams.size(), 2u);
}

// memoryInUse() keeps a running total of what the streams buffer (it is checked for every new
// stream, so it must not walk them all; debug builds cross-check the total against a walk).
// Received-but-unread and written-but-unsent bytes count while they wait, and stop counting once
// read, sent, or dropped with their stream.
TEST(SessionTest, MemoryInUseFollowsWhatStreamsBuffer) {
  Pair p;
  auto req = p.client->request({{":method", "POST"}, {":path", "/upload"}});
  ASSERT_TRUE(req.ok());
  (*req)->pause();  // the client does not read what the server sends
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  std::shared_ptr<ServerHttp2Stream> s = p.streams[0];
  const size_t base = p.server->memoryInUse();

  // Unread on the server: no 'data' listener yet, so the stream is not flowing.
  (*req)->write(std::string(3000, 'u'));
  p.run();
  EXPECT_GE(p.server->memoryInUse(), base + 3000);
  EXPECT_LT(p.server->memoryInUse(), base + 3000 + 1000);
  size_t read = 0;
  s->onData([&](std::string_view d) { read += d.size(); });
  p.run();
  EXPECT_EQ(read, 3000u);
  EXPECT_LT(p.server->memoryInUse(), base + 1000);

  // Unsent on the server: 100,000 bytes against the client's 65,535-byte window.
  ASSERT_TRUE(s->respond().ok());
  s->write(std::string(100000, 'd'));
  p.run();
  EXPECT_EQ(s->bufferSize(), 100000u - 65535u);
  EXPECT_GE(p.server->memoryInUse(), base + s->bufferSize());

  // A second stream with unread data, then both go: the total drops back to where it was.
  auto req2 = p.client->request({{":method", "POST"}, {":path", "/second"}});
  ASSERT_TRUE(req2.ok());
  (*req2)->write(std::string(5000, 'v'));
  p.run();
  ASSERT_EQ(p.streams.size(), 2u);
  EXPECT_GE(p.server->memoryInUse(), base + s->bufferSize() + 5000);
  s->close(constants::NGHTTP2_CANCEL);
  p.run();
  EXPECT_GE(p.server->memoryInUse(), base + 5000);
  EXPECT_LT(p.server->memoryInUse(), base + 5000 + 2000);
  p.streams[1]->close(constants::NGHTTP2_CANCEL);
  p.run();
  EXPECT_EQ(p.server->streamCount(), 0u);
  EXPECT_LT(p.server->memoryInUse(), base);  // less: no stream at all now

  // The session goes with a stream still holding unread data; the stream outlives it.
  auto req3 = p.client->request({{":method", "POST"}, {":path", "/third"}});
  ASSERT_TRUE(req3.ok());
  (*req3)->write(std::string(2000, 'w'));
  p.run();
  ASSERT_EQ(p.streams.size(), 3u);
  EXPECT_GE(p.server->memoryInUse(), base + 2000 - sizeof(Http2Stream));
  p.server->destroy();
  p.run();
  EXPECT_EQ(p.server->streamCount(), 0u);
  EXPECT_LT(p.server->memoryInUse(), base);
  p.streams[2]->write(std::string(10, 'x'));  // a destroyed stream: counts nowhere
  p.run();
  EXPECT_LT(p.server->memoryInUse(), base);
}

// With Node's unlimited SETTINGS_MAX_CONCURRENT_STREAMS, nghttp2 used to keep every closed stream
// and count it against maxSessionMemory (~250 B each): a 1 MB session refused all streams after
// ~4,000. Node 20 serves any number of streams on one connection; so must we.
TEST(SessionTest, ClosedStreamsDoNotAccumulateOnALongLivedConnection) {
  SessionOptions server_options;
  server_options.maxSessionMemory = 1;  // 1 MB
  Pair p(server_options);
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respond({{":status", "200"}}, {.endStream = true}).ok());
  };
  constexpr int kBatches = 200, kPerBatch = 100;  // 20,000 streams
  int ok = 0, refused = 0;
  size_t peak_memory = 0;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<std::shared_ptr<ClientHttp2Stream>> reqs;
    for (int i = 0; i < kPerBatch; ++i) {
      auto r = p.client->request({{":path", "/"}}, {.endStream = true});
      ASSERT_TRUE(r.ok()) << r.status();
      (*r)->onResponse([&](const Headers& h, uint8_t) { ok += h.get(":status") == "200"; });
      reqs.push_back(*r);
    }
    p.run();
    for (auto& r : reqs) refused += r->rstCode() != constants::NGHTTP2_NO_ERROR;
    p.streams.clear();
    p.request_headers.clear();
    peak_memory = std::max(peak_memory, p.server->memoryInUse());
  }
  EXPECT_EQ(ok, kBatches * kPerBatch);
  EXPECT_EQ(refused, 0);
  EXPECT_FALSE(p.server->destroyed());
  EXPECT_LT(peak_memory, 500000u);
}

// A server that sends GOAWAY and hangs up at once: the client reads the GOAWAY and the EOF in one
// go. A stream above the GOAWAY's last stream id must still report REFUSED_STREAM (safe to retry,
// the server never saw it), not the CANCEL of a dropped connection.
TEST(SessionTest, StreamRefusedByGoawayKeepsItsCodeWhenTheConnectionDropsRightAfter) {
  Pair p;
  auto first = p.client->request({{":path", "/1"}});
  auto second = p.client->request({{":path", "/2"}});
  ASSERT_TRUE(first.ok() && second.ok());
  p.run();
  ASSERT_EQ(p.streams.size(), 2u);
  ASSERT_TRUE(p.server->goaway(constants::NGHTTP2_NO_ERROR, 1).ok());
  p.server->destroy();  // writes what is pending, then closes the socket
  p.run();
  EXPECT_TRUE(p.client->destroyed());
  EXPECT_EQ((*second)->rstCode(), constants::NGHTTP2_REFUSED_STREAM);
  EXPECT_EQ((*first)->rstCode(), constants::NGHTTP2_CANCEL);  // it was admitted, then cut off
}

TEST(SessionTest, PaddingStrategyMaxPadsFrames) {
  auto bytesFor = [](int strategy) {
    SessionOptions server_options;
    server_options.paddingStrategy = strategy;
    Pair p(server_options);
    p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
      ASSERT_TRUE(s->respond().ok());
      s->end("x");
    };
    auto req = p.client->request({{":path", "/"}});
    std::string body;
    (*req)->onData([&](std::string_view d) { body += d; });
    p.run();
    EXPECT_EQ(body, "x");  // padding never reaches the application
    return p.server_socket->bytesWritten();
  };
  const size_t none = bytesFor(constants::PADDING_STRATEGY_NONE);
  const size_t aligned = bytesFor(constants::PADDING_STRATEGY_ALIGNED);
  const size_t max = bytesFor(constants::PADDING_STRATEGY_MAX);
  // ALIGNED adds at most 7 bytes a frame; MAX pads HEADERS and DATA as far as nghttp2 lets it
  // (256 bytes of padding a frame at most).
  EXPECT_GT(aligned, none);
  EXPECT_LT(aligned, none + 7 * 4);
  EXPECT_GT(max, aligned + 400);
}

// DATA payloads go from the writer's SharedBuffer to the socket's writev() as references
// (NGHTTP2_DATA_FLAG_NO_COPY), frame by frame, never copied into nghttp2's frame buffer.
TEST(SessionTest, SharedBufferPayloadsReachTheSocketUncopied) {
  constexpr size_t kSize = 40000;  // three DATA frames (16 KiB max), within the 64 KiB window
  SharedBuffer payload = SharedBuffer::ForOverwrite(kSize);
  for (size_t i = 0; i < kSize; ++i) payload.mutable_data()[i] = static_cast<char>('a' + i % 26);
  const std::string expected(payload.view());
  const auto begin = reinterpret_cast<uintptr_t>(payload.data());
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respond().ok());
    s->write(payload);
    s->end();
  };
  auto req = p.client->request({{":path", "/"}});
  std::string body;
  (*req)->onData([&](std::string_view d) { body += d; });
  p.run();
  EXPECT_EQ(body, expected);
  size_t referenced = 0;
  int slices = 0;
  for (const auto& [address, size] : p.server_socket->writevBuffers()) {
    if (address >= begin && address + size <= begin + kSize) {
      referenced += size;
      ++slices;
    }
  }
  EXPECT_EQ(referenced, kSize);
  EXPECT_EQ(slices, 3);
}

// onDataBuffer hands each received chunk over as a SharedBuffer that owns the bytes (after the
// onData listeners of the same chunk), so a reader can keep them without copying.
TEST(SessionTest, DataBufferListenersGetOwnedChunks) {
  std::string sent(40000, '\0');
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('A' + i % 26);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respond().ok());
    s->end(sent);
  };
  auto req = p.client->request({{":path", "/"}});
  std::string viewed;
  std::vector<SharedBuffer> kept;
  std::vector<std::string> order;
  (*req)->onData([&](std::string_view d) {
    viewed += d;
    order.push_back("data");
  });
  (*req)->onDataBuffer([&](const SharedBuffer& b) {
    kept.push_back(b);
    order.push_back("buffer");
  });
  p.run();
  EXPECT_EQ(viewed, sent);
  std::string joined;
  for (const SharedBuffer& b : kept) joined += b.view();  // still valid: the buffers own them
  EXPECT_EQ(joined, sent);
  ASSERT_FALSE(order.empty());
  for (size_t i = 0; i + 1 < order.size(); i += 2) {
    EXPECT_EQ(order[i], "data");
    EXPECT_EQ(order[i + 1], "buffer");
  }
}

// A DATA payload that fills most of what the socket delivered is kept as a slice of that
// buffer (no copy); small payloads are copied, so that a kept slice never pins much more than
// it counts.
TEST(SessionTest, LargeReceivedPayloadsAreSlicesOfTheSocketBuffer) {
  SessionOptions client_options;
  client_options.settings.maxFrameSize = 65536;  // 40000 bytes: one DATA frame
  Pair p({}, client_options);
  const std::string big(40000, 'L');
  RespondWithBody(p, [&](const Headers& h) {
    return h.get(":path") == "/big" ? big : std::string("tiny");
  });
  for (const std::string path : {"/big", "/tiny"}) {
    auto req = p.client->request({{":path", path}});
    ReceivedBuffers received(**req);
    p.run();
    const std::vector<SharedBuffer>& chunks = received.chunks;
    ASSERT_EQ(chunks.size(), 1u) << path;
    if (path == "/big") {
      EXPECT_EQ(chunks[0].view(), big);
      EXPECT_TRUE(DeliveredBufferHolding(*p.client_socket, chunks[0].data(), chunks[0].size()));
    } else {
      EXPECT_EQ(chunks[0].view(), "tiny");
      // Copied into a block of its own. (Not an address check: the copy may take a block one
      // of the earlier reads had, freed since, and from the thread's BlockPool it often does.)
      EXPECT_EQ(chunks[0].block_size(), chunks[0].size());
    }
  }
}

// A message sent in DATA frames of the default 16 KiB (grpc-go and gRPC C++ servers do) arrives
// as several payloads of one stream back to back in one socket read: each is under half of it,
// together they fill it, so they are kept as slices too (each used to be copied).
TEST(SessionTest, RunsOfDataFramesOfOneStreamAreSlicesOfTheSocketBuffer) {
  Pair p;  // the client allows the default 16 KiB frames
  const std::string body(60000, 'R');  // 3 frames of 16,384 bytes and one of 10,848
  RespondWithBody(p, body);
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok()) << req.status();
  ReceivedBuffers received(**req);
  p.run();
  const std::vector<SharedBuffer>& chunks = received.chunks;
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(received.joined(), body);
  // Slices of one delivered buffer: each payload sits 9 bytes (a frame header) after the last.
  EXPECT_TRUE(DeliveredBufferHolding(*p.client_socket, chunks[0].data(), body.size()));
  for (size_t i = 1; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].data(), chunks[i - 1].data() + chunks[i - 1].size() + 9) << i;
  }
}

// Frames of two streams taking turns in one read: a stream keeps slices of a delivered buffer
// only when they fill at least half of it, so that what it holds stays within twice what it
// counts, whatever order nghttp2 sends the frames in.
TEST(SessionTest, InterleavedStreamsKeepSlicesOnlyOfBuffersTheyHalfFill) {
  SessionOptions client_options;
  client_options.settings.initialWindowSize = 1 << 20;
  Pair p({}, client_options);
  const std::string body(40000, 'I');
  RespondWithBody(p, body);
  std::vector<std::unique_ptr<ReceivedBuffers>> received;
  for (int i = 0; i < 2; ++i) {
    auto req = p.client->request({{":path", "/"}});
    ASSERT_TRUE(req.ok()) << req.status();
    received.push_back(std::make_unique<ReceivedBuffers>(**req));
  }
  p.run();
  for (const auto& r : received) {
    std::map<uintptr_t, size_t> held;  // bytes of each delivered buffer this stream keeps
    for (const SharedBuffer& b : r->chunks) {
      if (auto buffer = DeliveredBufferHolding(*p.client_socket, b.data(), b.size())) {
        held[buffer->first] += b.size();
      }
    }
    EXPECT_EQ(r->joined(), body);
    for (const auto& [a, n] : p.client_socket->deliveredBuffers()) {
      if (held.count(a)) {
        EXPECT_GE(2 * held[a], n) << held[a] << " of " << n;
      }
    }
  }
}

// A short read is a slice of the socket's 64 KiB read block: a small payload that fills half of
// what was read must still be copied, or each such frame would keep a whole block alive while
// the stream counts only its payload (a peer sending one small DATA frame per read could make
// us hold 64 KiB per few bytes counted).
TEST(SessionTest, SmallPayloadOfAShortReadIsCopiedOutOfTheReadBlock) {
  Pair p;
  p.client_socket->setReadBlock(64 * 1024);
  const std::string body(100, 'S');
  RespondWithBody(p, body);
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok()) << req.status();
  ReceivedBuffers received(**req);
  p.run();
  const std::vector<SharedBuffer>& chunks = received.chunks;
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].view(), body);
  EXPECT_LT(chunks[0].block_size(), size_t{64 * 1024});
  // Its first byte in no delivered buffer.
  auto buffer = DeliveredBufferHolding(*p.client_socket, chunks[0].data(), 1);
  EXPECT_FALSE(buffer) << "kept as a slice of a " << buffer->second << "-byte read";
}

TEST(SessionTest, RemoteCustomSettingsAreReported) {
  SessionOptions server_options;
  server_options.remoteCustomSettings = {0x1234};
  SessionOptions client_options;
  client_options.settings.customSettings[0x1234] = 77;
  client_options.settings.customSettings[0x2345] = 5;  // not asked for: not reported
  Pair p(server_options, client_options);
  p.run();
  Settings remote = p.server->remoteSettings();
  ASSERT_EQ(remote.customSettings.size(), 1u);
  EXPECT_EQ(remote.customSettings[0x1234], 77u);
  EXPECT_EQ(p.client->localSettings().customSettings[0x1234], 77u);
}

TEST(SessionTest, SetLocalWindowSizeAndState) {
  Pair p;
  p.run();
  EXPECT_EQ(p.client->type(), Http2Session::Type::kClient);
  EXPECT_EQ(p.server->type(), Http2Session::Type::kServer);
  EXPECT_EQ(p.client->alpnProtocol(), "h2c");
  EXPECT_FALSE(p.client->encrypted());
  EXPECT_FALSE(p.client->connecting());
  EXPECT_EQ(p.client->state().localWindowSize, 65535);
  EXPECT_EQ(p.client->state().nextStreamID, 1);
  ASSERT_TRUE(p.client->setLocalWindowSize(1 << 20).ok());
  p.run();
  EXPECT_EQ(p.client->state().localWindowSize, 1 << 20);
  EXPECT_EQ(p.server->state().remoteWindowSize, 1 << 20);
  EXPECT_EQ(nodeErrorCode(p.client->setLocalWindowSize(-1)), "ERR_OUT_OF_RANGE");
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  EXPECT_EQ((*req)->id(), 1);
  EXPECT_EQ(p.client->state().nextStreamID, 3);
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  StreamState st = p.streams[0]->state();
  EXPECT_EQ(st.localWindowSize, 65535);
  EXPECT_TRUE(st.remoteClose);  // a GET ends with its HEADERS
  EXPECT_FALSE(st.localClose);
}

TEST(SessionTest, EventListenersCanBeRemoved) {
  Pair p;
  int pings = 0;
  ListenerId id = p.server->onPing([&](std::string_view) { ++pings; });
  p.run();
  ASSERT_TRUE(p.client->ping("", nullptr).ok());
  p.run();
  p.server->off(id);
  ASSERT_TRUE(p.client->ping("", nullptr).ok());
  p.run();
  EXPECT_EQ(pings, 1);
}

// A raw HTTP/2 peer: the test writes bytes and reads what the session answers.
struct RawPeer : Socket::Handler {
  explicit RawPeer(SessionOptions options = {}) {
    auto [a, b] = MemorySocket::pair(&loop);
    peer = std::move(b);
    peer->setHandler(this);
    server = *ServerHttp2Session::create(&loop, std::move(a), options);
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> st, const Headers&, uint8_t) {
      ++streams;
      (void)st->respond({}, {.endStream = true});
    });
    server->onClose([this] { server_closed = true; });
  }
  void onSocketConnect() override {}
  void onSocketData(std::string_view d) override { received += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { peer_closed = true; }

  static std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
    std::string f;
    f += static_cast<char>(payload.size() >> 16);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size());
    f += static_cast<char>(type);
    f += static_cast<char>(flags);
    for (int i = 3; i >= 0; --i) f += static_cast<char>(stream >> (8 * i));
    return f + std::string(payload);
  }
  // HEADERS for GET / with one extra literal field (HPACK literal without indexing).
  static std::string getWith(uint32_t stream, std::string_view name, std::string_view value) {
    std::string block = "\x82\x84\x86\x41\x09localhost";  // :method GET, :path /, :scheme http
    block += '\0';
    block += static_cast<char>(name.size());
    block += name;
    block += static_cast<char>(value.size());
    block += value;
    return frame(1, 0x05, stream, block);  // END_STREAM | END_HEADERS
  }
  void send(const std::string& bytes) {
    peer->write(bytes);
    loop.runUntilIdle();
  }
  // GOAWAY error code the session sent, or -1.
  int goawayCode() const {
    for (size_t i = 0; i + 9 <= received.size();) {
      const size_t len = (uint8_t(received[i]) << 16) | (uint8_t(received[i + 1]) << 8) |
                         uint8_t(received[i + 2]);
      if (received[i + 3] == 7 && i + 9 + len <= received.size()) {
        const std::string_view p(received.data() + i + 9, len);
        return (uint8_t(p[4]) << 24) | (uint8_t(p[5]) << 16) | (uint8_t(p[6]) << 8) |
               uint8_t(p[7]);
      }
      i += 9 + len;
    }
    return -1;
  }

  ManualLoop loop;
  std::unique_ptr<MemorySocket> peer;
  std::shared_ptr<ServerHttp2Session> server;
  std::string received;
  int streams = 0;
  bool server_closed = false, peer_closed = false;
};

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

TEST(SessionTest, MaxSessionInvalidFramesDestroysTheSession) {
  SessionOptions options;
  options.maxSessionInvalidFrames = 3;
  RawPeer raw(options);
  raw.send(std::string(kPreface) + RawPeer::frame(4, 0, 0, ""));
  // Uppercase field names make a request malformed: each one is an invalid frame (stream error).
  for (uint32_t id = 1; id <= 7; id += 2) raw.send(RawPeer::getWith(id, "X-Bad", "1"));
  EXPECT_FALSE(raw.server->destroyed());  // 4 invalid frames: still within 3 (+ the one over)
  raw.send(RawPeer::getWith(9, "X-Bad", "1"));
  EXPECT_TRUE(raw.server->destroyed());
  EXPECT_TRUE(raw.server_closed);
  EXPECT_EQ(raw.streams, 0);
  EXPECT_EQ(raw.goawayCode(), static_cast<int>(constants::NGHTTP2_PROTOCOL_ERROR));
}

TEST(SessionTest, ValidRequestsAfterStreamErrorsStillWork) {
  RawPeer raw;
  raw.send(std::string(kPreface) + RawPeer::frame(4, 0, 0, ""));
  raw.send(RawPeer::getWith(1, "X-Bad", "1"));
  raw.send(RawPeer::getWith(3, "x-good", "1"));
  EXPECT_EQ(raw.streams, 1);
  EXPECT_FALSE(raw.server->destroyed());
}

TEST(SessionTest, MaxSendHeaderBlockLengthGivesFrameError) {
  SessionOptions client_options;
  client_options.maxSendHeaderBlockLength = 200;
  Pair p({}, client_options);
  auto req = p.client->request({{":path", "/"}, {"x-big", std::string(500, 'b')}});
  ASSERT_TRUE(req.ok());
  std::vector<int> frame_error;
  (*req)->onFrameError([&](uint8_t type, int code, int32_t id) {
    frame_error = {type, code, id};
  });
  bool closed = false;
  (*req)->onClose([&] { closed = true; });
  p.run();
  ASSERT_EQ(frame_error.size(), 3u);
  EXPECT_EQ(frame_error[0], 1);  // HEADERS
  EXPECT_EQ(frame_error[1], NGHTTP2_FRAME_SIZE_ERROR);  // as Node 20 (not nghttp2's -522)
  EXPECT_EQ(frame_error[2], 1);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(p.streams.empty());
}

// The connection window is credited as data arrives (as Node): a stream nobody reads holds back
// only its own sender, never the other streams of the connection.
TEST(SessionTest, PausedStreamDoesNotBlockOtherStreams) {
  Pair p;
  std::vector<std::shared_ptr<ServerHttp2Stream>> s;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> st, const Headers&) { s.push_back(st); };
  auto slow = p.client->request({{":path", "/slow"}});
  auto fast = p.client->request({{":path", "/fast"}});
  ASSERT_TRUE(slow.ok() && fast.ok());
  (*slow)->pause();
  size_t fast_bytes = 0;
  (*fast)->onData([&](std::string_view d) { fast_bytes += d.size(); });
  p.run();
  ASSERT_EQ(s.size(), 2u);
  ASSERT_TRUE(s[0]->respond().ok() && s[1]->respond().ok());
  // More than the 65535-byte connection window on the paused stream first, then the other.
  for (int i = 0; i < 8; ++i) s[0]->write(std::string(16384, 's'));
  p.run();
  for (int i = 0; i < 8; ++i) s[1]->write(std::string(16384, 'f'));
  s[1]->end();
  p.run();
  EXPECT_EQ((*slow)->readableLength(), 65535u);  // the slow one stops at its stream window
  EXPECT_EQ(fast_bytes, 8u * 16384u);            // the fast one is not held back
}

TEST(SessionTest, ContinueEventFor100) {
  Pair p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->additionalHeaders({{":status", "100"}}).ok());
    ASSERT_TRUE(s->respond({}, {.endStream = true}).ok());
  };
  auto req = p.client->request({{":method", "POST"}, {":path", "/"}, {"expect", "100-continue"}});
  ASSERT_TRUE(req.ok());
  std::vector<std::string> events;
  (*req)->onContinue([&] { events.push_back("continue"); });
  (*req)->onHeaders([&](const Headers& h, uint8_t) { events.push_back("headers " + *h.get(":status")); });
  (*req)->onResponse([&](const Headers& h, uint8_t) { events.push_back("response " + *h.get(":status")); });
  (*req)->end();
  p.run();
  EXPECT_THAT(events, ElementsAre("continue", "headers 100", "response 200"));
}

TEST(SessionTest, MaxDeflateDynamicTableSizeZeroStopsHeaderIndexing) {
  // The same custom header on five requests: with a dynamic table it is sent once in full, then
  // as a one-byte index; with maxDeflateDynamicTableSize 0 it is sent in full every time.
  auto bytesFor = [](uint32_t table) {
    SessionOptions client_options;
    client_options.maxDeflateDynamicTableSize = table;
    Pair p({}, client_options);
    p.run();
    const size_t before = p.client_socket->bytesWritten();
    for (int i = 0; i < 5; ++i) {
      (void)p.client->request({{":path", "/"}, {"x-long-header", std::string(200, 'h')}});
    }
    p.run();
    return p.client_socket->bytesWritten() - before;
  };
  const size_t indexed = bytesFor(4096);
  const size_t literal = bytesFor(0);
  EXPECT_GT(literal, indexed + 4 * 150);
}

TEST(SessionTest, PeerMaxConcurrentStreamsHoldsRequestsBeforeTheServerSettings) {
  // Until the server's SETTINGS arrive the client assumes peerMaxConcurrentStreams: with 1, the
  // second request waits (nghttp2 queues it) instead of being refused.
  SessionOptions client_options;
  client_options.peerMaxConcurrentStreams = 1;
  SessionOptions server_options;
  server_options.settings.maxConcurrentStreams = 1;
  Pair p(server_options, client_options);
  std::vector<std::shared_ptr<ServerHttp2Stream>> seen;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) { seen.push_back(s); };
  auto a = p.client->request({{":path", "/a"}});
  auto b = p.client->request({{":path", "/b"}});
  ASSERT_TRUE(a.ok() && b.ok());
  p.run();
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_TRUE(seen[0]->respond({}, {.endStream = true}).ok());
  p.run();
  ASSERT_EQ(seen.size(), 2u);  // sent once the first finished
  EXPECT_FALSE((*b)->rstCode().has_value());
}

TEST(SessionTest, MaxSettingsExceededEndsTheSession) {
  SessionOptions options;
  options.maxSettings = 2;
  RawPeer raw(options);
  std::string entries;
  for (uint16_t id = 0x10; id < 0x15; ++id) {  // five (unknown, harmless) entries
    entries += static_cast<char>(id >> 8);
    entries += static_cast<char>(id & 0xff);
    entries += std::string("\0\0\0\1", 4);
  }
  raw.send(std::string(kPreface) + RawPeer::frame(4, 0, 0, entries));
  EXPECT_TRUE(raw.server->destroyed());
  EXPECT_EQ(raw.goawayCode(), static_cast<int>(constants::NGHTTP2_ENHANCE_YOUR_CALM));
}

// Node's onStreamClose reads 0 bytes: a stream that closed cleanly with nothing left to read ends
// (and closes) even if nobody ever read it.
TEST(SessionTest, UnreadStreamWithNothingBufferedClosesAfterReset) {
  Pair p;
  p.on_stream = [](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respond({}, {.endStream = true}).ok());
    s->close(constants::NGHTTP2_NO_ERROR);  // the client is still sending: stop it
  };
  auto req = p.client->request({{":method", "POST"}, {":path", "/"}}, {.endStream = false});
  ASSERT_TRUE(req.ok());
  std::vector<std::string> events;
  (*req)->onResponse([&](const Headers& h, uint8_t) { events.push_back("response"); });
  (*req)->onEnd([&] { events.push_back("end"); });
  (*req)->onClose([&] { events.push_back("close"); });
  p.run();  // nobody calls onData/resume on the request
  EXPECT_THAT(events, ElementsAre("response", "end", "close"));
  EXPECT_EQ((*req)->rstCode(), constants::NGHTTP2_NO_ERROR);
}

}  // namespace
}  // namespace h2rpc::transport

namespace h2rpc::transport {
namespace {

// A client session against a raw HTTP/2 server peer: RFC 9113 §5.1 closed-stream checks apply
// to clients too (transport/internal/closed_streams.h).
struct RawServer : Socket::Handler {
  RawServer() {
    auto [a, b] = MemorySocket::pair(&loop);
    peer = std::move(b);
    peer->setHandler(this);
    client = *ClientHttp2Session::create(&loop, std::move(a), "http", "localhost", {});
    client->onClose([this] { client_closed = true; });
    client->onError([this](const absl::Status&) { ++client_errors; });
    loop.runUntilIdle();
    send(RawPeer::frame(4, 0, 0, "") + RawPeer::frame(4, 1, 0, ""));  // SETTINGS, ACK
  }
  void onSocketConnect() override {}
  void onSocketData(std::string_view d) override { received += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { peer_closed = true; }
  void send(const std::string& bytes) {
    peer->write(bytes);
    loop.runUntilIdle();
  }
  // Frames the client sent (after its 24-byte preface), as {type, stream, first 4 payload bytes
  // of RST_STREAM or the code of a GOAWAY}.
  std::vector<std::tuple<int, uint32_t, uint32_t>> frames() const {
    std::vector<std::tuple<int, uint32_t, uint32_t>> out;
    for (size_t i = 24; i + 9 <= received.size();) {
      const size_t len = (uint8_t(received[i]) << 16) | (uint8_t(received[i + 1]) << 8) |
                         uint8_t(received[i + 2]);
      if (i + 9 + len > received.size()) break;
      const int type = received[i + 3];
      const uint32_t stream = (uint32_t(uint8_t(received[i + 5]) & 0x7f) << 24) |
                              (uint32_t(uint8_t(received[i + 6])) << 16) |
                              (uint32_t(uint8_t(received[i + 7])) << 8) | uint8_t(received[i + 8]);
      const size_t at = type == 7 ? 4 : 0;  // GOAWAY: the code follows the last-stream-id
      uint32_t code = 0;
      if ((type == 3 || type == 7) && len >= at + 4) {
        for (size_t k = 0; k < 4; ++k) code = (code << 8) | uint8_t(received[i + 9 + at + k]);
      }
      out.emplace_back(type, stream, code);
      i += 9 + len;
    }
    return out;
  }
  bool sent(int type, uint32_t code) const {
    for (const auto& [t, s, c] : frames()) {
      if (t == type && c == code) return true;
    }
    return false;
  }

  ManualLoop loop;
  std::unique_ptr<MemorySocket> peer;
  std::shared_ptr<ClientHttp2Session> client;
  std::string received;
  bool client_closed = false, peer_closed = false;
  int client_errors = 0;
};

constexpr int kRstStream = 3, kGoaway = 7;

TEST(SessionTest, ClientTreatsDataAfterTheServersEndStreamAsAConnectionErrorStreamClosed) {
  RawServer s;
  auto req = s.client->request({{":path", "/"}}, {.endStream = true});
  ASSERT_TRUE(req.ok());
  s.loop.runUntilIdle();
  s.send(RawPeer::frame(1, 0x05, 1, "\x88"));  // :status 200, END_STREAM: stream 1 closed
  EXPECT_FALSE(s.sent(kGoaway, constants::NGHTTP2_STREAM_CLOSED));
  s.send(RawPeer::frame(0, 0x01, 1, "late"));
  EXPECT_TRUE(s.sent(kGoaway, constants::NGHTTP2_STREAM_CLOSED));
  EXPECT_TRUE(s.client->destroyed());
  EXPECT_TRUE(s.client_closed);
  EXPECT_EQ(s.client_errors, 1);
}

TEST(SessionTest, ClientAnswersDataAfterTheServersRstStreamWithRstStreamClosed) {
  RawServer s;
  auto req = s.client->request({{":path", "/"}}, {.endStream = false});
  ASSERT_TRUE(req.ok());
  s.loop.runUntilIdle();
  s.send(RawPeer::frame(3, 0, 1, std::string("\0\0\0\x08", 4)));  // RST_STREAM CANCEL
  s.send(RawPeer::frame(0, 0, 1, "late"));
  EXPECT_TRUE(s.sent(kRstStream, constants::NGHTTP2_STREAM_CLOSED));
  EXPECT_FALSE(s.sent(kGoaway, constants::NGHTTP2_STREAM_CLOSED));
  EXPECT_FALSE(s.client->destroyed());
  EXPECT_EQ(s.client_errors, 0);
}

TEST(SessionTest, ClientIgnoresFramesAfterItsOwnRstStream) {
  RawServer s;
  auto req = s.client->request({{":path", "/"}}, {.endStream = false});
  ASSERT_TRUE(req.ok());
  s.loop.runUntilIdle();
  (*req)->close(constants::NGHTTP2_CANCEL);
  s.loop.runUntilIdle();
  ASSERT_TRUE(s.sent(kRstStream, constants::NGHTTP2_CANCEL));
  // The server's answer crossed our RST_STREAM: it "MUST" be ignored (§5.1).
  s.send(RawPeer::frame(1, 0x04, 1, "\x88") + RawPeer::frame(0, 0x01, 1, "late"));
  for (const auto& [t, stream, c] : s.frames()) {
    EXPECT_NE(t, kGoaway);
    if (t == kRstStream) {
      EXPECT_EQ(c, constants::NGHTTP2_CANCEL);
    }
  }
  EXPECT_FALSE(s.client->destroyed());
  EXPECT_EQ(s.client_errors, 0);
}

}  // namespace
}  // namespace h2rpc::transport
