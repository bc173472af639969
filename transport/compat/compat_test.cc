// The compatibility API over an in-memory socket pair and a manual clock: a RequestEvents on a
// server session, our HTTP/2 client on the other side, real nghttp2 framing both ways. Each
// expectation is Node 20's behaviour (lib/internal/http2/compat.js).
#include "transport/compat/compat_server.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;

using ReqPtr = std::shared_ptr<Http2ServerRequest>;
using ResPtr = std::shared_ptr<Http2ServerResponse>;

struct Pair {
  explicit Pair(SessionOptions client_options = {}) {
    auto [a, b] = MemorySocket::pair(&loop);
    server = *ServerHttp2Session::create(&loop, std::move(a));
    client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost:8080",
                                         client_options);
    server->onStream([this](std::shared_ptr<ServerHttp2Stream>, const Headers&, uint8_t) {
      ++streams;
    });
    events = RequestEvents::attach(*server);
  }
  // Sets the 'request' listener and records the (req, res) it gets.
  void onRequest(std::function<void(ReqPtr, ResPtr)> fn = nullptr) {
    events->onRequest([this, fn](ReqPtr req, ResPtr res) {
      reqs.push_back(req);
      ress.push_back(res);
      if (fn) fn(req, res);
    });
  }
  void run() { loop.runUntilIdle(); }

  ManualLoop loop;
  std::shared_ptr<ServerHttp2Session> server;
  std::shared_ptr<ClientHttp2Session> client;
  std::shared_ptr<RequestEvents> events;
  int streams = 0;
  std::vector<ReqPtr> reqs;
  std::vector<ResPtr> ress;
};

// What the client stream sees.
struct Seen {
  explicit Seen(ClientHttp2Stream& s) {
    s.onResponse([this](const Headers& h, uint8_t) {
      events.push_back("response " + h.get(":status").value_or("?"));
      response = h;
    });
    s.onContinue([this] { events.push_back("continue"); });
    s.onHeaders([this](const Headers& h, uint8_t) {
      if (h.get(":status") == "100") return;  // 'continue' above
      events.push_back("headers " + h.get(":status").value_or("?"));
      informational.push_back(h);
    });
    s.onData([this](std::string_view d) { body += d; });
    s.onTrailers([this](const Headers& h, uint8_t) {
      events.push_back("trailers");
      trailers = h;
    });
    s.onEnd([this] { events.push_back("end"); });
    s.onClose([this] { events.push_back("close"); });
  }
  std::vector<std::string> events;
  std::vector<Headers> informational;  // 1xx
  Headers response, trailers;
  std::string body;
};

TEST(CompatTest, RequestPropertiesBodyAndResponse) {
  Pair p;
  std::string body;
  std::vector<std::string> order;
  p.onRequest([&](ReqPtr req, ResPtr res) {
    req->onData([&](std::string_view d) { body += d; });
    req->onEnd([&, res] {
      order.push_back("req end");
      EXPECT_TRUE(res->setHeader("Content-Type ", "text/plain").ok());
      res->write("got ");
      res->end(body, [&] { order.push_back("end cb"); });
      EXPECT_TRUE(res->finished());
      EXPECT_TRUE(res->writableEnded());
    });
    req->onClose([&] { order.push_back("req close"); });
    res->onFinish([&] { order.push_back("res finish"); });
    res->onClose([&] { order.push_back("res close"); });
  });
  auto creq = *p.client->request(
      {{":method", "POST"}, {":path", "/echo?x=1"}, {"x-id", "7"}, {"x-id", "8"}});
  Seen seen(*creq);
  creq->end("ping");
  p.run();

  ASSERT_EQ(p.reqs.size(), 1u);
  const ReqPtr& req = p.reqs[0];
  EXPECT_EQ(req->method(), "POST");
  EXPECT_EQ(req->url(), "/echo?x=1");
  EXPECT_EQ(req->authority(), "localhost:8080");
  EXPECT_EQ(req->scheme(), "http");
  EXPECT_EQ(req->httpVersion(), "2.0");
  EXPECT_EQ(req->httpVersionMajor(), 2);
  EXPECT_EQ(req->headers().get("x-id"), "7, 8");
  EXPECT_EQ(req->rawHeaders().size(), 6u);
  EXPECT_TRUE(req->complete());
  EXPECT_FALSE(req->aborted());
  EXPECT_EQ(body, "ping");
  EXPECT_THAT(order, ElementsAre("req end", "end cb", "req close", "res finish", "res close"));
  EXPECT_THAT(seen.events, ElementsAre("response 200", "end", "close"));
  EXPECT_EQ(seen.body, "got ping");
  EXPECT_EQ(seen.response.get("content-type"), "text/plain");
  EXPECT_TRUE(seen.response.has("date"));  // sendDate
  EXPECT_EQ(p.streams, 1);                 // 'stream' still fires
}

TEST(CompatTest, NoRequestListenerLeavesTheStreamAlone) {
  Pair p;
  auto creq = *p.client->request({{":path", "/"}});
  Seen seen(*creq);
  p.run();
  EXPECT_EQ(p.streams, 1);
  EXPECT_TRUE(seen.events.empty());  // nobody answered: no 405, no 200
}

TEST(CompatTest, WriteHeadMergesHeadersAsNode) {
  Pair p;
  p.onRequest([&](ReqPtr, ResPtr res) {
    ASSERT_TRUE(res->setHeader("x-a", "1").ok());
    ASSERT_TRUE(res->setHeader("x-b", "2").ok());
    ASSERT_TRUE(res->appendHeader("x-b", "2b").ok());
    ASSERT_TRUE(res->writeHead(201, {{"X-A", "3"}, {"x-c", "4"}, {"x-c", "5"}}).ok());
    EXPECT_TRUE(res->headersSent());
    EXPECT_EQ(res->statusCode(), 201);
    EXPECT_EQ(res->getHeader(":status"), "201");  // Node's getHeaders() shows it too
    EXPECT_EQ(nodeErrorCode(res->writeHead(200)), "ERR_HTTP2_HEADERS_SENT");
    EXPECT_EQ(nodeErrorCode(res->setHeader("x-d", "1")), "ERR_HTTP2_HEADERS_SENT");
    EXPECT_EQ(nodeErrorCode(res->removeHeader("x-a")), "ERR_HTTP2_HEADERS_SENT");
    res->end();
  });
  auto creq = *p.client->request({{":path", "/"}});
  Seen seen(*creq);
  p.run();
  EXPECT_EQ(seen.response.get(":status"), "201");
  EXPECT_THAT(seen.response.getAll("x-a"), ElementsAre("3"));
  EXPECT_THAT(seen.response.getAll("x-b"), ElementsAre("2", "2b"));
  EXPECT_THAT(seen.response.getAll("x-c"), ElementsAre("4", "5"));
}

TEST(CompatTest, HeaderAccessorsAndChecks) {
  Pair p;
  p.onRequest([&](ReqPtr, ResPtr res) {
    EXPECT_TRUE(res->setHeader(" X-Foo ", "bar").ok());
    EXPECT_EQ(res->getHeader("x-foo"), "bar");
    EXPECT_EQ(res->getHeader("X-FOO"), "bar");
    EXPECT_TRUE(res->hasHeader("x-foo"));
    EXPECT_FALSE(res->hasHeader("x-none"));
    EXPECT_EQ(res->getHeader("x-none"), std::nullopt);
    EXPECT_TRUE(res->setHeader("set-cookie", std::vector<std::string>{"a=1", "b=2"}).ok());
    EXPECT_THAT(res->getHeaderNames(), ElementsAre("x-foo", "set-cookie"));
    EXPECT_EQ(res->getHeaders().getAll("set-cookie").size(), 2u);
    EXPECT_TRUE(res->removeHeader("x-foo").ok());
    EXPECT_FALSE(res->hasHeader("x-foo"));

    EXPECT_EQ(nodeErrorCode(res->setHeader(":status", "200")),
              "ERR_HTTP2_PSEUDOHEADER_NOT_ALLOWED");
    EXPECT_EQ(nodeErrorCode(res->setHeader(":foo", "1")), "ERR_HTTP2_INVALID_PSEUDOHEADER");
    EXPECT_EQ(nodeErrorCode(res->setHeader("", "1")), "ERR_INVALID_HTTP_TOKEN");
    EXPECT_EQ(nodeErrorCode(res->setHeader("a b", "1")), "ERR_INVALID_HTTP_TOKEN");
    EXPECT_EQ(nodeErrorCode(res->setHeader("a(b", "1")), "ERR_INVALID_HTTP_TOKEN");
    EXPECT_EQ(nodeErrorCode(res->setHeader("x-bad", "a\r\nb")), "ERR_INVALID_CHAR");
    // Node drops connection headers (forbidden in HTTP/2) instead of failing.
    EXPECT_TRUE(res->setHeader("connection", "keep-alive").ok());
    EXPECT_FALSE(res->hasHeader("connection"));

    EXPECT_EQ(nodeErrorCode(res->setStatusCode(100)), "ERR_HTTP2_INFO_STATUS_NOT_ALLOWED");
    EXPECT_EQ(nodeErrorCode(res->setStatusCode(99)), "ERR_HTTP2_STATUS_INVALID");
    EXPECT_EQ(nodeErrorCode(res->setStatusCode(600)), "ERR_HTTP2_STATUS_INVALID");
    EXPECT_TRUE(res->setStatusCode(404).ok());
    res->setStatusMessage("Not Here");
    EXPECT_EQ(res->statusMessage(), "");  // HTTP/2 has no reason phrase
    res->end("missing");
  });
  auto creq = *p.client->request({{":path", "/"}});
  Seen seen(*creq);
  p.run();
  EXPECT_EQ(seen.response.get(":status"), "404");
  EXPECT_FALSE(seen.response.has("x-foo"));
  EXPECT_FALSE(seen.response.has("connection"));
  EXPECT_THAT(seen.response.getAll("set-cookie"), ElementsAre("a=1", "b=2"));
  EXPECT_EQ(seen.body, "missing");
}

TEST(CompatTest, WriteHeadRefusesABadStatus) {
  Pair p;
  p.onRequest([&](ReqPtr, ResPtr res) {
    EXPECT_EQ(nodeErrorCode(res->writeHead(700)), "ERR_HTTP2_STATUS_INVALID");
    EXPECT_FALSE(res->headersSent());
    EXPECT_TRUE(res->writeHead(503).ok());
    res->end();
  });
  auto creq = *p.client->request({{":path", "/"}});
  Seen seen(*creq);
  p.run();
  EXPECT_EQ(seen.response.get(":status"), "503");
}

TEST(CompatTest, DateHeaderFollowsSendDate) {
  Pair p;
  int n = 0;
  p.onRequest([&](ReqPtr, ResPtr res) {
    if (n == 1) res->setSendDate(false);
    if (n == 2) {
      EXPECT_TRUE(res->removeHeader("date").ok());
    }
    if (n == 3) {
      EXPECT_TRUE(res->setHeader("date", "Thu, 01 Jan 1970 00:00:00 GMT").ok());
    }
    ++n;
    res->end();
  });
  std::vector<std::unique_ptr<Seen>> seen;
  for (int i = 0; i < 4; ++i) {
    auto creq = *p.client->request({{":path", "/"}});
    seen.push_back(std::make_unique<Seen>(*creq));
    p.run();
  }
  EXPECT_TRUE(seen[0]->response.has("date"));
  EXPECT_FALSE(seen[1]->response.has("date"));
  EXPECT_FALSE(seen[2]->response.has("date"));
  EXPECT_EQ(seen[3]->response.get("date"), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(CompatTest, TrailersBothWays) {
  Pair p;
  p.onRequest([&](ReqPtr req, ResPtr res) {
    req->onData([](std::string_view) {});
    req->onEnd([req, res] {
      EXPECT_EQ(req->trailers().get("x-req-sum"), "9");
      EXPECT_EQ(req->rawTrailers().size(), 1u);
      EXPECT_TRUE(res->addTrailers({{"X-Checksum", "42"}}).ok());
      EXPECT_EQ(nodeErrorCode(res->setTrailer(":status", "1")),
                "ERR_HTTP2_PSEUDOHEADER_NOT_ALLOWED");
      res->write("body");
      EXPECT_TRUE(res->setTrailer("x-late", "yes").ok());  // trailers go out at the end
      res->end();
    });
  });
  auto creq = *p.client->request({{":method", "POST"}, {":path", "/"}}, {.waitForTrailers = true});
  creq->onWantTrailers([&] { ASSERT_TRUE(creq->sendTrailers({{"x-req-sum", "9"}}).ok()); });
  Seen seen(*creq);
  creq->end("data");
  p.run();
  EXPECT_THAT(seen.events, ElementsAre("response 200", "trailers", "end", "close"));
  EXPECT_EQ(seen.body, "body");
  EXPECT_EQ(seen.trailers.get("x-checksum"), "42");
  EXPECT_EQ(seen.trailers.get("x-late"), "yes");
}

TEST(CompatTest, WriteBackpressureAndDrain) {
  Pair p;
  std::vector<bool> returns;
  int drains = 0;
  ResPtr response;
  p.onRequest([&](ReqPtr, ResPtr res) {
    response = res;
    res->onDrain([&] { ++drains; });
    returns.push_back(res->write(std::string(10000, 'a')));
    returns.push_back(res->write(std::string(10000, 'b')));  // 20000 > 16 KiB high-water mark
  });
  auto creq = *p.client->request({{":path", "/"}});
  Seen seen(*creq);
  p.run();
  ASSERT_EQ(returns.size(), 2u);
  EXPECT_TRUE(returns[0]);
  EXPECT_FALSE(returns[1]);
  EXPECT_EQ(drains, 1);  // the client read it all: the buffer emptied
  EXPECT_EQ(seen.body.size(), 20000u);
  EXPECT_TRUE(response->headersSent());  // write() sent the headers (statusCode 200)
  response->end();
  p.run();
  EXPECT_THAT(seen.events, ElementsAre("response 200", "end", "close"));
}

TEST(CompatTest, EndTwiceStillCallsBack) {
  Pair p;
  std::vector<std::string> order;
  p.onRequest([&](ReqPtr, ResPtr res) {
    res->end("done", [&] { order.push_back("first"); });
    res->end("ignored", [&] { order.push_back("second"); });  // Node: runs, sends nothing
  });
  auto creq = *p.client->request({{":path", "/"}});
  Seen seen(*creq);
  p.run();
  EXPECT_THAT(order, ElementsAre("second", "first"));  // next tick, then 'finish'
  EXPECT_EQ(seen.body, "done");
  EXPECT_THAT(seen.events, ElementsAre("response 200", "end", "close"));
}

TEST(CompatTest, WriteAfterEndFailsAndDestroysTheStream) {
  Pair p;
  absl::Status write_error;
  bool write_returned = true;
  p.onRequest([&](ReqPtr, ResPtr res) {
    res->end("done");
    write_returned = res->write("late", [&](absl::Status s) { write_error = s; });
  });
  auto creq = *p.client->request({{":path", "/"}});
  p.run();
  EXPECT_FALSE(write_returned);
  EXPECT_EQ(nodeErrorCode(write_error), "ERR_STREAM_WRITE_AFTER_END");
  ASSERT_EQ(p.ress.size(), 1u);
  EXPECT_TRUE(p.ress[0]->stream()->destroyed());
}

TEST(CompatTest, WriteAfterCloseIsInvalidStream) {
  Pair p;
  p.onRequest();
  auto creq = *p.client->request({{":path", "/"}});
  p.run();
  ASSERT_EQ(p.ress.size(), 1u);
  creq->close(8);  // CANCEL
  p.run();
  absl::Status error;
  EXPECT_FALSE(p.ress[0]->write("x", [&](absl::Status s) { error = s; }));
  p.run();
  EXPECT_EQ(nodeErrorCode(error), "ERR_HTTP2_INVALID_STREAM");
  EXPECT_TRUE(p.ress[0]->writeHead(200).ok());  // a no-op once closed, as Node
}

TEST(CompatTest, AbortedRequest) {
  Pair p;
  std::vector<std::string> order;
  p.onRequest([&](ReqPtr req, ResPtr res) {
    req->onAborted([&] { order.push_back("aborted"); });
    req->onClose([&] { order.push_back("close"); });
    req->onEnd([&] { order.push_back("end"); });
    res->onFinish([&] { order.push_back("res finish"); });
    res->onClose([&] { order.push_back("res close"); });
  });
  auto creq = *p.client->request({{":method", "POST"}, {":path", "/"}});
  creq->write("abc");
  p.run();
  creq->close(8);
  p.run();
  // Node 20 prints this order for a request nobody read (see compat.js onStreamCloseRequest).
  EXPECT_THAT(order, ElementsAre("aborted", "close", "res finish", "res close", "end"));
  ASSERT_EQ(p.reqs.size(), 1u);
  EXPECT_TRUE(p.reqs[0]->aborted());
  EXPECT_TRUE(p.reqs[0]->complete());
}

TEST(CompatTest, ExpectContinueWithoutListenerSends100ThenRequest) {
  Pair p;
  p.onRequest([&](ReqPtr, ResPtr res) { res->end("ok"); });
  auto creq = *p.client->request(
      {{":method", "POST"}, {":path", "/"}, {"expect", "100-continue"}});
  Seen seen(*creq);
  creq->end("body");
  p.run();
  EXPECT_THAT(seen.events, ElementsAre("continue", "response 200", "end", "close"));
}

TEST(CompatTest, CheckContinueListenerDecides) {
  Pair p;
  p.onRequest();
  int check = 0;
  p.events->onCheckContinue([&](ReqPtr, ResPtr res) {
    ++check;
    if (check == 1) {
      EXPECT_TRUE(res->writeContinue());
      res->end("accepted");
    } else {
      ASSERT_TRUE(res->setStatusCode(413).ok());
      res->end();
      EXPECT_FALSE(res->writeContinue());
    }
  });
  std::vector<std::unique_ptr<Seen>> seen;
  for (int i = 0; i < 2; ++i) {
    auto creq = *p.client->request(
        {{":method", "POST"}, {":path", "/"}, {"expect", "100-continue"}});
    seen.push_back(std::make_unique<Seen>(*creq));
    p.run();
  }
  EXPECT_EQ(check, 2);
  EXPECT_TRUE(p.reqs.empty());  // 'request' was not emitted
  EXPECT_THAT(seen[0]->events, ElementsAre("continue", "response 200", "end", "close"));
  EXPECT_EQ(seen[0]->body, "accepted");
  EXPECT_EQ(seen[1]->events.front(), "response 413");
}

TEST(CompatTest, OtherExpectationIs417AndConnectIs405) {
  Pair p;
  p.onRequest();
  auto creq = *p.client->request({{":path", "/"}, {"expect", "teapot"}});
  Seen seen(*creq);
  auto connect = *p.client->request({{":method", "CONNECT"}, {":authority", "example.com:443"}});
  Seen seen_connect(*connect);
  p.run();
  EXPECT_TRUE(p.reqs.empty());
  EXPECT_EQ(seen.response.get(":status"), "417");
  EXPECT_EQ(seen_connect.response.get(":status"), "405");
}

TEST(CompatTest, HeadRequestSendsNoBody) {
  Pair p;
  p.onRequest([&](ReqPtr, ResPtr res) { res->end("not sent"); });
  auto creq = *p.client->request({{":method", "HEAD"}, {":path", "/"}});
  Seen seen(*creq);
  p.run();
  EXPECT_EQ(seen.response.get(":status"), "200");
  EXPECT_EQ(seen.body, "");
}

TEST(CompatTest, SetTimeoutOnRequestAndResponse) {
  Pair p;
  int req_timeouts = 0, res_timeouts = 0;
  p.onRequest([&](ReqPtr req, ResPtr res) {
    req->setTimeout(100, [&] { ++req_timeouts; });
    res->onTimeout([&] { ++res_timeouts; });
  });
  auto creq = *p.client->request({{":path", "/"}});
  p.run();
  p.loop.advance(50);
  EXPECT_EQ(req_timeouts, 0);
  p.loop.advance(60);
  EXPECT_EQ(req_timeouts, 1);
  EXPECT_EQ(res_timeouts, 1);  // the stream's 'timeout' reaches both, as Node
  p.ress[0]->end();  // the stream closes: it and (req, res) let go of each other
  p.run();
}

// What the client sees of the streams the server pushed.
struct PushedSeen {
  explicit PushedSeen(ClientHttp2Session& client) {
    client.onStream([this](std::shared_ptr<ClientHttp2Stream> s, const Headers& h, uint8_t) {
      const std::string path = h.get(":path").value_or("?");
      paths.push_back(path);
      s->onPush([this, path](const Headers& r, uint8_t) {
        statuses.push_back(path + " " + r.get(":status").value_or("?") + " " +
                           r.get("content-type").value_or("-"));
      });
      s->onData([this, path](std::string_view d) { bodies[path] += d; });
      streams.push_back(s);
    });
  }
  std::vector<std::string> paths, statuses;
  std::map<std::string, std::string> bodies;
  std::vector<std::shared_ptr<ClientHttp2Stream>> streams;
};

TEST(CompatTest, CreatePushResponseAnswersThePushedStream) {
  Pair p;
  PushedSeen pushed(*p.client);
  std::vector<std::string> log;
  p.onRequest([&](ReqPtr, ResPtr res) {
    absl::Status st = res->createPushResponse(
        {{":path", "/style.css"}}, [&, res](const absl::Status& err, ResPtr push) {
          ASSERT_TRUE(err.ok()) << err;
          ASSERT_NE(push, nullptr);
          log.push_back("pushed");
          EXPECT_EQ(push->req(), nullptr);  // a pushed response has no request object
          EXPECT_EQ(push->stream()->sentHeaders()->get(":path"), "/style.css");
          ASSERT_TRUE(push->setHeader("content-type", "text/css").ok());
          push->onFinish([&] { log.push_back("push finish"); });
          push->end("body{}");
          res->end("<link rel=stylesheet href=/style.css>");
        });
    EXPECT_TRUE(st.ok()) << st;
    log.push_back("asked");  // the callback never runs inside the call
  });
  auto creq = *p.client->request({{":path", "/"}});
  Seen seen(*creq);
  p.run();
  EXPECT_THAT(log, ElementsAre("asked", "pushed", "push finish"));
  EXPECT_THAT(pushed.paths, ElementsAre("/style.css"));
  EXPECT_THAT(pushed.statuses, ElementsAre("/style.css 200 text/css"));
  EXPECT_EQ(pushed.bodies["/style.css"], "body{}");
  ASSERT_EQ(pushed.streams.size(), 1u);
  EXPECT_EQ(pushed.streams[0]->id() % 2, 0);  // a server-initiated stream
  EXPECT_EQ(seen.body, "<link rel=stylesheet href=/style.css>");
}

TEST(CompatTest, CreatePushResponseErrors) {
  SessionOptions no_push;
  no_push.settings.enablePush = false;
  Pair p(no_push);
  std::vector<std::string> log;
  ResPtr kept;
  p.onRequest([&](ReqPtr, ResPtr res) {
    EXPECT_EQ(nodeErrorCode(res->createPushResponse({{":path", "/a"}}, nullptr)),
              "ERR_INVALID_ARG_TYPE");
    // The client's SETTINGS_ENABLE_PUSH 0: refused at once, the callback never runs.
    EXPECT_EQ(nodeErrorCode(res->createPushResponse(
                  {{":path", "/a"}}, [&](const absl::Status&, ResPtr) { log.push_back("cb"); })),
              "ERR_HTTP2_PUSH_DISABLED");
    res->end("done");
    kept = res;
  });
  auto creq = *p.client->request({{":path", "/"}});
  p.run();
  ASSERT_NE(kept, nullptr);
  EXPECT_TRUE(log.empty());
  // Once the response is closed: ERR_HTTP2_INVALID_STREAM to the callback, from the loop.
  absl::Status got = absl::OkStatus();
  ResPtr got_res = kept;
  EXPECT_TRUE(kept->createPushResponse({{":path", "/a"}}, [&](const absl::Status& e, ResPtr r) {
                    got = e;
                    got_res = r;
                  }).ok());
  EXPECT_TRUE(got.ok());
  p.run();
  EXPECT_EQ(nodeErrorCode(got), "ERR_HTTP2_INVALID_STREAM");
  EXPECT_EQ(got_res, nullptr);
}

TEST(CompatTest, CreatePushResponseFromAPushedResponseIsNested) {
  Pair p;
  PushedSeen pushed(*p.client);
  absl::Status nested;
  p.onRequest([&](ReqPtr, ResPtr res) {
    ASSERT_TRUE(res->createPushResponse({{":path", "/a.js"}}, [&, res](const absl::Status& err,
                                                                        ResPtr push) {
      ASSERT_TRUE(err.ok()) << err;
      nested = push->createPushResponse({{":path", "/b.js"}}, [](const absl::Status&, ResPtr) {
        ADD_FAILURE() << "a nested push went out";
      });
      push->end("a");
      res->end("page");
    }).ok());
  });
  auto creq = *p.client->request({{":path", "/"}});
  p.run();
  EXPECT_EQ(nodeErrorCode(nested), "ERR_HTTP2_NESTED_PUSH");
  EXPECT_THAT(pushed.paths, ElementsAre("/a.js"));
}

TEST(CompatTest, WriteEarlyHintsSends103BeforeTheResponse) {
  Pair p;
  p.onRequest([&](ReqPtr, ResPtr res) {
    absl::StatusOr<bool> sent = res->writeEarlyHints({{"Link", "</styles.css>; rel=preload; as=style"},
                                                      {"link", "</app.js>; rel=preload; as=script"},
                                                      {"x-trace-id", "id-1"}});
    ASSERT_TRUE(sent.ok()) << sent.status();
    EXPECT_TRUE(*sent);
    res->end("page");
    // After the response HEADERS: nothing more is sent.
    sent = res->writeEarlyHints({{"link", "</late.css>; rel=preload"}});
    ASSERT_TRUE(sent.ok());
    EXPECT_FALSE(*sent);
  });
  auto creq = *p.client->request({{":path", "/"}});
  Seen seen(*creq);
  p.run();
  EXPECT_THAT(seen.events, ElementsAre("headers 103", "response 200", "end", "close"));
  ASSERT_EQ(seen.informational.size(), 1u);
  EXPECT_EQ(seen.informational[0].get("link"),
            "</styles.css>; rel=preload; as=style, </app.js>; rel=preload; as=script");
  EXPECT_EQ(seen.informational[0].get("x-trace-id"), "id-1");
  EXPECT_EQ(seen.body, "page");
}

TEST(CompatTest, WriteEarlyHintsRefusesABadLinkAndSendsNothing) {
  Pair p;
  p.onRequest([&](ReqPtr, ResPtr res) {
    // Node's HTTP/2 compat: no link is an invalid `hints.link` (undefined).
    EXPECT_EQ(nodeErrorCode(res->writeEarlyHints({{"x-a", "1"}}).status()),
              "ERR_INVALID_ARG_VALUE");
    EXPECT_EQ(nodeErrorCode(res->writeEarlyHints({{"link", "/styles.css"}}).status()),
              "ERR_INVALID_ARG_VALUE");
    // One bad value among several refuses them all.
    EXPECT_EQ(nodeErrorCode(res->writeEarlyHints({{"link", "</a.css>; rel=preload"},
                                                  {"link", "</b.css>; rel=\"x"}})
                                .status()),
              "ERR_INVALID_ARG_VALUE");
    // A bad extra field: additionalHeaders()'s check.
    EXPECT_FALSE(res->writeEarlyHints({{"link", "</a.css>"}, {"x-bad", "a\r\nb"}}).ok());
    res->end();
  });
  auto creq = *p.client->request({{":path", "/"}});
  Seen seen(*creq);
  p.run();
  EXPECT_TRUE(seen.informational.empty());
  EXPECT_EQ(seen.response.get(":status"), "200");
}

// Node's link format (validateLinkHeaderFormat's regular expression); each expectation was
// checked against Node 20's res.writeEarlyHints().
TEST(CompatTest, WriteEarlyHintsLinkFormat) {
  Pair p;
  std::vector<std::string> accepted, refused;
  const std::vector<std::string> values = {
      "</a.css>", "<>", "</a.css>; rel=preload", "</a.css>;rel=preload;as=style",
      "</a b.css>; rel=\"preload\"", "</a.css>  ;  rel=preload", "</a.css>; crossorigin",
      "</a.css>; a=b=\"c\"", "</a.css>; rel=",
      // refused
      "", "/a.css", "</a.css", "</a.css> rel=preload", "</a.css>;", "</a.css>; rel=preload ",
      "</a.css>; rel=\"pre load\"", "</a.css>; =\"x\"", "</a.css>; rel=\"x", "</a.css>; rel=x\"",
      "</a.css>; \"rel\"", "</a.css>>", "</a.css>; rel=preload;",
  };
  p.onRequest([&](ReqPtr, ResPtr res) {
    for (const std::string& v : values) {
      absl::StatusOr<bool> r = res->writeEarlyHints({{"link", v}});
      (r.ok() ? accepted : refused).push_back(v);
    }
    res->end();
  });
  auto creq = *p.client->request({{":path", "/"}});
  p.run();
  EXPECT_THAT(accepted, ElementsAre("</a.css>", "<>", "</a.css>; rel=preload",
                                    "</a.css>;rel=preload;as=style", "</a b.css>; rel=\"preload\"",
                                    "</a.css>  ;  rel=preload", "</a.css>; crossorigin",
                                    "</a.css>; a=b=\"c\"", "</a.css>; rel="));
  EXPECT_EQ(refused.size(), 13u);
}

TEST(CompatTest, RequestDestroyResetsTheStream) {
  for (bool with_error : {false, true}) {
    Pair p;
    std::vector<std::string> order;
    p.onRequest([&](ReqPtr req, ResPtr res) {
      req->onClose([&] { order.push_back("req close"); });
      res->onClose([&] { order.push_back("res close"); });
      req->destroy(with_error ? absl::InternalError("boom") : absl::OkStatus());
      order.push_back("destroyed");
      EXPECT_TRUE(req->complete());
      req->destroy();  // again: nothing more
    });
    auto creq = *p.client->request({{":path", "/"}});
    Seen seen(*creq);
    p.run();
    EXPECT_THAT(order, ElementsAre("destroyed", "req close", "res close"));
    EXPECT_EQ(creq->rstCode(), with_error ? constants::NGHTTP2_INTERNAL_ERROR
                                          : constants::NGHTTP2_NO_ERROR);
    EXPECT_TRUE(seen.response.empty());  // no response, only RST_STREAM
    EXPECT_EQ(seen.events.back(), "close");
  }
}

TEST(CompatTest, SocketViewOfTheConnection) {
  Pair p;
  int session_timeouts = 0, callback_runs = 0;
  p.onRequest([&](ReqPtr req, ResPtr res) {
    ProxySocket socket = req->socket();
    EXPECT_EQ(socket.remoteAddress(), "memory");  // MemorySocket's
    EXPECT_EQ(req->connection().remoteAddress(), "memory");
    EXPECT_FALSE(socket.encrypted());
    EXPECT_EQ(socket.alpnProtocol(), "h2c");
    EXPECT_FALSE(socket.getPeerCertificate().has_value());  // not TLS
    ASSERT_TRUE(res->socket().has_value());
    EXPECT_FALSE(res->connection()->destroyed());
    // Node's proxy: setTimeout is the *session's*.
    p.server->onTimeout([&] { ++session_timeouts; });
    socket.setTimeout(1000, [&] { ++callback_runs; });
    res->end("ok");
  });
  auto creq = *p.client->request({{":path", "/"}});
  p.run();
  ASSERT_EQ(p.ress.size(), 1u);
  EXPECT_EQ(p.ress[0]->socket(), std::nullopt);  // closed: Node's res.socket is undefined
  EXPECT_TRUE(p.reqs[0]->socket().destroyed());  // the request's view stays
  p.loop.advance(1100);
  EXPECT_EQ(session_timeouts, 1);
  EXPECT_EQ(callback_runs, 1);
  // Activity re-arms the session's timer; the callback has run its once.
  ASSERT_TRUE(p.client->ping("12345678", nullptr).ok());
  p.run();
  p.loop.advance(1100);
  EXPECT_EQ(session_timeouts, 2);
  EXPECT_EQ(callback_runs, 1);
}

TEST(CompatTest, SocketViewDestroyDestroysTheStreamOnly) {
  Pair p;
  p.onRequest([&](ReqPtr req, ResPtr) { req->socket().destroy(); });
  auto creq = *p.client->request({{":path", "/"}});
  auto creq2 = *p.client->request({{":path", "/2"}});
  p.run();
  EXPECT_EQ(creq->rstCode(), constants::NGHTTP2_NO_ERROR);
  EXPECT_TRUE(creq2->closed());
  EXPECT_FALSE(p.server->destroyed());  // the session lives on
  EXPECT_FALSE(p.client->destroyed());
}

}  // namespace
}  // namespace h2rpc::transport
