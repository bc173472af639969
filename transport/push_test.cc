// Server push (push.cc) over an in-memory socket pair: pushStream()/pushAllowed on the server,
// the client session's 'stream' and the pushed stream's 'push', with real nghttp2 framing.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/testing/session_pair.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;

using Pair = SessionPair;

// What the client sees of one pushed stream, in order.
struct Pushed {
  std::shared_ptr<ClientHttp2Stream> stream;
  Headers request, response;
  std::string body;
  std::vector<std::string> events;
};

// Pushes `path` with `body` from `s`, answering it at once.
void push(const std::shared_ptr<ServerHttp2Stream>& s, const std::string& path,
          const std::string& body, std::vector<std::string>* log) {
  absl::Status st = s->pushStream(
      {{":path", path}}, {},
      [path, body, log](const absl::Status& err, std::shared_ptr<ServerHttp2Stream> pushed,
                        const Headers& headers) {
        ASSERT_TRUE(err.ok()) << err;
        log->push_back("pushed " + headers.get(":path").value_or("?"));
        EXPECT_EQ(pushed->id() % 2, 0);
        EXPECT_EQ(pushed->sentHeaders()->get(":path"), path);
        ASSERT_TRUE(pushed->respond({{":status", "200"}, {"content-type", "text/css"}}).ok());
        pushed->end(body);
      });
  ASSERT_TRUE(st.ok()) << st;
}

TEST(PushTest, ServerPushesTwoStreamsClientSeesHeadersAndBodies) {
  Pair p;
  std::vector<std::string> server_log;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    EXPECT_TRUE(s->pushAllowed());
    push(s, "/a.css", "body{}", &server_log);
    push(s, "/b.js", "alert(1)", &server_log);
    ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
    s->end("<html>");
  };
  std::vector<Pushed> pushed;
  p.client->onStream([&](std::shared_ptr<ClientHttp2Stream> s, const Headers& h, uint8_t) {
    pushed.push_back({.stream = s, .request = h, .response = {}, .body = {}, .events = {}});
    size_t i = pushed.size() - 1;
    s->onPush([&, i](const Headers& h, uint8_t) {
      pushed[i].events.push_back("push");
      pushed[i].response = h;
    });
    s->onData([&, i](std::string_view d) { pushed[i].body += d; });
    s->onEnd([&, i] { pushed[i].events.push_back("end"); });
    s->onClose([&, i] { pushed[i].events.push_back("close"); });
  });
  auto req = p.client->request({{":path", "/index.html"}});
  ASSERT_TRUE(req.ok()) << req.status();
  std::string page;
  (*req)->onData([&](std::string_view d) { page += d; });
  p.run();

  EXPECT_THAT(server_log, ElementsAre("pushed /a.css", "pushed /b.js"));
  EXPECT_EQ(page, "<html>");
  ASSERT_EQ(pushed.size(), 2u);
  EXPECT_EQ(pushed[0].request.get(":path"), "/a.css");
  EXPECT_EQ(pushed[0].request.get(":method"), "GET");
  EXPECT_EQ(pushed[0].request.get(":authority"), "localhost:8080");  // the request's
  EXPECT_EQ(pushed[0].request.get(":scheme"), "http");
  EXPECT_EQ(pushed[1].request.get(":path"), "/b.js");
  EXPECT_EQ(pushed[0].response.get(":status"), "200");
  EXPECT_EQ(pushed[0].response.get("content-type"), "text/css");
  EXPECT_EQ(pushed[0].body, "body{}");
  EXPECT_EQ(pushed[1].body, "alert(1)");
  EXPECT_THAT(pushed[0].events, ElementsAre("push", "end", "close"));
  EXPECT_THAT(pushed[1].events, ElementsAre("push", "end", "close"));
  EXPECT_EQ(pushed[0].stream->id(), 2);
  EXPECT_EQ(pushed[1].stream->id(), 4);
  EXPECT_EQ(pushed[0].stream->rstCode(), 0u);
  EXPECT_EQ(p.client->streamCount(), 0u);
  EXPECT_EQ(p.server->streamCount(), 0u);
}

TEST(PushTest, RefusedWhenClientDisablesPush) {
  SessionOptions client_options;
  client_options.settings.enablePush = false;
  Pair p({}, client_options);
  absl::Status st;
  bool allowed = true;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    allowed = s->pushAllowed();
    st = s->pushStream({{":path", "/a.css"}}, {}, [](auto&&...) { ADD_FAILURE(); });
    ASSERT_TRUE(s->respond({{":status", "200"}}, {.endStream = true}).ok());
  };
  int client_streams = 0;
  p.client->onStream([&](auto&&...) { ++client_streams; });
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  EXPECT_FALSE(allowed);
  EXPECT_EQ(nodeErrorCode(st), "ERR_HTTP2_PUSH_DISABLED");
  EXPECT_EQ(client_streams, 0);
  EXPECT_FALSE(p.client->destroyed());  // no PUSH_PROMISE was sent: no protocol error
  EXPECT_EQ(p.client->localSettings().enablePush, false);
}

TEST(PushTest, NestedPushAndPushAfterCloseAreErrors) {
  Pair p;
  absl::Status nested, after_close;
  std::shared_ptr<ServerHttp2Stream> request;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    request = s;
    ASSERT_TRUE(s->pushStream({{":path", "/a"}}, {},
                              [&](const absl::Status& err, std::shared_ptr<ServerHttp2Stream> ps,
                                  const Headers&) {
                                ASSERT_TRUE(err.ok());
                                EXPECT_TRUE(ps->pushAllowed());
                                nested = ps->pushStream({{":path", "/b"}}, {}, nullptr);
                                ASSERT_TRUE(ps->respond({}, {.endStream = true}).ok());
                              })
                    .ok());
    ASSERT_TRUE(s->respond({}, {.endStream = true}).ok());
  };
  p.client->onStream([](std::shared_ptr<ClientHttp2Stream> s, const Headers&, uint8_t) {
    s->resume();
  });
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  EXPECT_EQ(nodeErrorCode(nested), "ERR_HTTP2_NESTED_PUSH");
  ASSERT_TRUE(request);
  EXPECT_TRUE(request->destroyed());
  EXPECT_FALSE(request->pushAllowed());
  after_close = request->pushStream({{":path", "/c"}}, {}, nullptr);
  EXPECT_EQ(nodeErrorCode(after_close), "ERR_HTTP2_PUSH_DISABLED");  // as Node
}

TEST(PushTest, InvalidPushHeadersAreRefused) {
  Pair p;
  absl::Status st;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    st = s->pushStream({{":path", "/a"}, {"connection", "close"}}, {}, nullptr);
    ASSERT_TRUE(s->respond({}, {.endStream = true}).ok());
  };
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  EXPECT_EQ(nodeErrorCode(st), "ERR_HTTP2_INVALID_CONNECTION_HEADERS");
}

TEST(PushTest, UnwantedPushIsCancelled) {
  Pair p;
  std::shared_ptr<ServerHttp2Stream> pushed;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->pushStream({{":path", "/a"}}, {},
                              [&](const absl::Status& err, std::shared_ptr<ServerHttp2Stream> ps,
                                  const Headers&) {
                                ASSERT_TRUE(err.ok());
                                pushed = ps;
                                ASSERT_TRUE(ps->respond().ok());
                                ps->write(std::string(1000, 'x'));
                              })
                    .ok());
    ASSERT_TRUE(s->respond({}, {.endStream = true}).ok());
  };
  // No client 'stream' listener.
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  ASSERT_TRUE(pushed);
  EXPECT_TRUE(pushed->destroyed());
  EXPECT_EQ(pushed->rstCode(), constants::NGHTTP2_CANCEL);
  EXPECT_EQ(p.client->streamCount(), 0u);
}

TEST(PushTest, ClientMaxReservedRemoteStreamsIsHonoured) {
  SessionOptions client_options;
  client_options.maxReservedRemoteStreams = 1;
  Pair p({}, client_options);
  std::vector<std::shared_ptr<ServerHttp2Stream>> pushed;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    for (const char* path : {"/a", "/b"}) {
      ASSERT_TRUE(s->pushStream({{":path", path}}, {},
                                [&](const absl::Status& err,
                                    std::shared_ptr<ServerHttp2Stream> ps, const Headers&) {
                                  ASSERT_TRUE(err.ok());
                                  pushed.push_back(ps);  // not answered: stays reserved
                                })
                      .ok());
    }
  };
  int client_streams = 0;
  p.client->onStream([&](auto&&...) { ++client_streams; });
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  EXPECT_EQ(client_streams, 1);
  ASSERT_EQ(pushed.size(), 2u);
  EXPECT_FALSE(pushed[0]->destroyed());
  EXPECT_TRUE(pushed[1]->destroyed());
  EXPECT_EQ(pushed[1]->rstCode(), constants::NGHTTP2_CANCEL);
}

TEST(PushTest, EndStreamPushIsAnsweredWithoutBody) {
  Pair p;
  std::shared_ptr<ServerHttp2Stream> pushed;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    for (auto [path, method] : {std::pair<const char*, const char*>{"/a", "GET"}, {"/b", "HEAD"}}) {
      ASSERT_TRUE(s->pushStream({{":path", path}, {":method", method}},
                                {.endStream = std::string(method) == "GET"},
                                [&](const absl::Status& err, std::shared_ptr<ServerHttp2Stream> ps,
                                    const Headers&) {
                                  ASSERT_TRUE(err.ok());
                                  EXPECT_TRUE(ps->headRequest());
                                  ASSERT_TRUE(ps->respond().ok());  // ends the stream
                                })
                      .ok());
    }
    ASSERT_TRUE(s->respond({}, {.endStream = true}).ok());
  };
  std::vector<std::string> events;
  p.client->onStream([&](std::shared_ptr<ClientHttp2Stream> s, const Headers& h, uint8_t) {
    const std::string path = h.get(":path").value_or("");
    s->onPush([&, path](const Headers&, uint8_t flags) {
      events.push_back(path + (flags & NGHTTP2_FLAG_END_STREAM ? " push+end_stream" : " push"));
    });
    s->onEnd([&, path] { events.push_back(path + " end"); });
    s->resume();
  });
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  p.run();
  EXPECT_THAT(events, ElementsAre("/a push+end_stream", "/b push+end_stream", "/a end", "/b end"));
}

TEST(PushTest, OversizedPushPromiseResetsOnlyThePromisedStream) {
  SessionOptions client_options;
  client_options.maxHeaderListPairs = 6;
  Pair p({}, client_options);
  std::shared_ptr<ServerHttp2Stream> pushed;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    Headers big{{":path", "/a"}};
    for (int i = 0; i < 10; ++i) big.add("x-h" + std::to_string(i), "v");
    ASSERT_TRUE(s->pushStream(big, {},
                              [&](const absl::Status& err, std::shared_ptr<ServerHttp2Stream> ps,
                                  const Headers&) {
                                ASSERT_TRUE(err.ok());
                                pushed = ps;
                              })
                    .ok());
    ASSERT_TRUE(s->respond().ok());
    s->end("page");
  };
  int client_streams = 0;
  p.client->onStream([&](auto&&...) { ++client_streams; });
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  std::string page;
  (*req)->onData([&](std::string_view d) { page += d; });
  p.run();
  EXPECT_EQ(page, "page");
  EXPECT_EQ((*req)->rstCode(), 0u);
  EXPECT_EQ(client_streams, 0);
  ASSERT_TRUE(pushed);
  EXPECT_EQ(pushed->rstCode(), constants::NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_FALSE(p.client->destroyed());
}

}  // namespace
}  // namespace h2rpc::transport
