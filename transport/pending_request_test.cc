// Requests made while the client session's socket connects (Node's requestOnConnect), sans-I/O:
// the client's MemorySocket holds its 'connect' (holdConnect) until the test lets it go. Such a
// request is pending (id 0) and nothing reaches nghttp2 until 'connect'; then the requests are
// submitted in the order made, with what was called on them meanwhile (priority(): see
// StreamPriorityTest.PriorityMadeWhilePendingIsSentForItsId). The same scenarios run
// against Node 20 in pending_request_node_oracle_test.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;

struct ConnectingPair {
  ConnectingPair() {
    auto [a, b] = MemorySocket::pair(&loop);
    client_socket = b.get();
    client_socket->holdConnect();
    server = *ServerHttp2Session::create(&loop, std::move(a));
    client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost:8080");
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> s, const Headers& h, uint8_t) {
      paths.push_back(h.get(":path").value_or(""));
      auto body = std::make_shared<std::string>();
      s->onData([body](std::string_view d) { body->append(d); });
      s->onEnd([this, s, body] {
        bodies.push_back(*body);
        (void)s->respond({{":status", "200"}}, {.endStream = true});
      });
    });
  }
  void run() { loop.runUntilIdle(); }

  ManualLoop loop;
  MemorySocket* client_socket;
  std::shared_ptr<ServerHttp2Session> server;
  std::shared_ptr<ClientHttp2Session> client;
  std::vector<std::string> paths, bodies;
};

TEST(PendingRequestTest, IdAndPendingMatchNodeWhileConnecting) {
  ConnectingPair p;
  ASSERT_TRUE(p.client->connecting());
  auto a = p.client->request({{":path", "/a"}});
  auto b = p.client->request({{":path", "/b"}});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE((*a)->pending());
  EXPECT_EQ((*a)->id(), 0);  // Node's undefined
  EXPECT_EQ((*a)->session(), p.client.get());
  p.run();  // the socket still connects: nothing is submitted, nothing sent
  EXPECT_TRUE((*a)->pending());
  EXPECT_TRUE((*b)->pending());
  EXPECT_TRUE(p.paths.empty());
  p.client_socket->finishConnect();
  p.run();
  EXPECT_FALSE((*a)->pending());
  EXPECT_EQ((*a)->id(), 1);
  EXPECT_EQ((*b)->id(), 3);
  EXPECT_THAT(p.paths, ElementsAre("/a", "/b"));
}

// Node: 'ready' when the id is assigned, after the 'connect' listeners registered before the
// request (requestOnConnect is a 'connect' listener added by the first pending request).
TEST(PendingRequestTest, ReadyWhenTheIdIsAssignedAtConnect) {
  ConnectingPair p;
  std::vector<std::string> events;
  auto a = p.client->request({{":path", "/a"}});
  ASSERT_TRUE(a.ok());
  std::shared_ptr<ClientHttp2Stream> req = *a;
  p.client->onConnect([&] { events.push_back("connect id=" + std::to_string(req->id())); });
  req->onReady([&] { events.push_back("ready id=" + std::to_string(req->id())); });
  p.run();
  EXPECT_TRUE(events.empty());
  p.client_socket->finishConnect();
  p.run();
  // This 'connect' listener came after the request: the id is there already, as in Node.
  EXPECT_THAT(events, ElementsAre("connect id=1", "ready id=1"));
}

TEST(PendingRequestTest, WritesEndAndPriorityMadeWhilePendingApplyInOrder) {
  ConnectingPair p;
  auto a = p.client->request({{":path", "/a"}, {":method", "POST"}});
  ASSERT_TRUE(a.ok());
  bool finished = false;
  (*a)->onFinish([&] { finished = true; });
  EXPECT_TRUE((*a)->write("xy"));
  (*a)->end("z");
  EXPECT_TRUE((*a)->priority({.weight = 42}).ok());
  EXPECT_EQ((*a)->priority({.parent = -1}).code(), absl::StatusCode::kOutOfRange);  // at once
  p.run();
  EXPECT_FALSE(finished);  // Node: the writable side finishes once the stream is ready
  p.client_socket->finishConnect();
  p.run();
  EXPECT_TRUE(finished);
  EXPECT_THAT(p.bodies, ElementsAre("xyz"));
  EXPECT_EQ((*a)->rstCode(), constants::NGHTTP2_NO_ERROR);
}

TEST(PendingRequestTest, DestroyedWhilePendingIsNeverSentAndUsesNoId) {
  ConnectingPair p;
  auto a = p.client->request({{":path", "/a"}});
  auto b = p.client->request({{":path", "/b"}});
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<std::string> events;
  (*a)->onError([&](const absl::Status& e) { events.push_back(nodeErrorCode(e)); });
  (*a)->onClose([&] { events.push_back("close"); });
  (*a)->destroy();
  p.client_socket->finishConnect();
  p.run();
  EXPECT_THAT(events, ElementsAre("close"));
  EXPECT_EQ((*a)->rstCode(), constants::NGHTTP2_NO_ERROR);
  EXPECT_EQ((*a)->id(), 0);
  EXPECT_EQ((*b)->id(), 1);
  EXPECT_THAT(p.paths, ElementsAre("/b"));
}

// Node: close(code) on a pending stream ends its readable side at once; at 'connect' the
// HEADERS go out, then RST_STREAM with the code.
TEST(PendingRequestTest, CloseWhilePendingSendsTheHeadersThenTheCode) {
  ConnectingPair p;
  std::vector<uint32_t> server_codes;
  p.server->onStream([&](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    s->onClose([&server_codes, s] { server_codes.push_back(s->rstCode().value_or(99)); });
  });
  auto a = p.client->request({{":path", "/a"}, {":method", "POST"}});
  ASSERT_TRUE(a.ok());
  std::vector<std::string> events;
  (*a)->onAborted([&] { events.push_back("aborted"); });
  (*a)->onData([](std::string_view) {});
  (*a)->onEnd([&] { events.push_back("end"); });
  (*a)->onReady([&] { events.push_back("ready"); });
  (*a)->onClose([&] { events.push_back("close"); });
  (*a)->close(constants::NGHTTP2_REFUSED_STREAM);
  p.run();
  EXPECT_THAT(events, ElementsAre("aborted", "end"));
  p.client_socket->finishConnect();
  p.run();
  EXPECT_THAT(events, ElementsAre("aborted", "end", "ready", "close"));
  EXPECT_EQ((*a)->rstCode(), constants::NGHTTP2_REFUSED_STREAM);
  EXPECT_THAT(p.paths, ElementsAre("/a"));
  EXPECT_THAT(server_codes, ElementsAre(constants::NGHTTP2_REFUSED_STREAM));
}

TEST(PendingRequestTest, SessionDestroyedWhilePendingCancelsThemWithTheCause) {
  ConnectingPair p;
  auto a = p.client->request({{":path", "/a"}});
  ASSERT_TRUE(a.ok());
  absl::Status error;
  (*a)->onError([&](const absl::Status& e) { error = e; });
  p.client->destroy(absl::UnavailableError("boom"));
  p.run();
  EXPECT_EQ(nodeErrorCode(error), "ERR_HTTP2_STREAM_CANCEL");
  EXPECT_EQ(nodeErrorMessage(error), "The pending stream has been canceled (caused by: boom)");
  EXPECT_EQ(error.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(errorCause(error).find("boom"), std::string::npos);
  EXPECT_EQ((*a)->rstCode(), constants::NGHTTP2_INTERNAL_ERROR);
  EXPECT_TRUE((*a)->destroyed());
}

}  // namespace
}  // namespace h2rpc::transport
