// Deterministic reproductions of the Node differences that node_scenarios_test shows only under
// some timings (in-memory sockets and a manual clock, public transport API only). Each expected
// value is what Node 20 does, as observed by node_scenarios_test's Node x Node baseline; the
// comment on each test says why Node behaves that way.
//
// The trick: MemorySocket delivers everything queued for a paused reader in ONE onSocketData
// call (followed by the close, if the peer ended), as a TCP read does when frames arrive together.
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

struct Pair {
  Pair() {
    auto [a, b] = MemorySocket::pair(&loop);
    server_socket = a.get();
    client_socket = b.get();
    server = *ServerHttp2Session::create(&loop, std::move(a));
    client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost:8080");
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> s, const Headers& h, uint8_t) {
      streams.push_back(s);
      if (on_stream) on_stream(s, h);
    });
  }
  void run() { loop.runUntilIdle(); }

  ManualLoop loop;
  MemorySocket* server_socket;
  MemorySocket* client_socket;
  std::shared_ptr<ServerHttp2Session> server;
  std::shared_ptr<ClientHttp2Session> client;
  std::vector<std::shared_ptr<ServerHttp2Stream>> streams;
  std::function<void(std::shared_ptr<ServerHttp2Stream>, const Headers&)> on_stream;
};

// Scenario (c) of node_scenarios_test. The last DATA frame and the trailing HEADERS (END_STREAM)
// reach the client in one read. Node: 'trailers' is emitted while the frame is processed
// (onSessionHeaders), 'end' only later (push(null) is delivered asynchronously), so the order is
// always trailers -> end; a gRPC client depends on it (the status is in the trailers).
TEST(NodeParityRepro, TrailersBeforeEndWhenDataAndTrailersArriveInOneRead) {
  Pair p;
  std::shared_ptr<ServerHttp2Stream> s;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> st, const Headers&) { s = st; };
  auto req = p.client->request({{":path", "/trailers"}});
  ASSERT_TRUE(req.ok());
  std::vector<std::string> events;
  (*req)->onResponse([&](const Headers&, uint8_t) { events.push_back("response"); });
  (*req)->onData([&](std::string_view d) { events.push_back("data " + std::string(d)); });
  (*req)->onTrailers([&](const Headers& h, uint8_t) {
    events.push_back("trailers " + h.get("x-checksum").value_or("?"));
  });
  (*req)->onEnd([&] { events.push_back("end"); });
  (*req)->onClose([&] { events.push_back("close"); });
  p.run();
  ASSERT_TRUE(s);

  p.client_socket->pauseReading();  // hold HEADERS, DATA and trailers: one read later
  ASSERT_TRUE(s->respond({}, {.waitForTrailers = true}).ok());
  s->onWantTrailers([&] { ASSERT_TRUE(s->sendTrailers({{"x-checksum", "42"}}).ok()); });
  s->end("body");
  p.run();
  p.client_socket->resumeReading();
  p.run();
  EXPECT_THAT(events, ElementsAre("response", "data body", "trailers 42", "end", "close"));
}

// Scenarios (a)-(e) of node_scenarios_test with Node's client: its SETTINGS ACK, GOAWAY and FIN
// reach our server in one read. Node emits 'remoteSettings' / 'localSettings' (and calls the
// settings() callback) while the frames are processed, before the socket's close is handled, so
// none of them is lost. Here the posted events check destroyed() and are dropped, and the
// settings() callback is never called at all (neither success nor ERR_HTTP2_SETTINGS_CANCEL).
TEST(NodeParityRepro, SettingsEventsAndCallbackSurviveACloseInTheSameRead) {
  Pair p;
  std::vector<std::string> server_events;
  p.server->onRemoteSettings([&](const Settings&) { server_events.push_back("remoteSettings"); });
  p.server->onLocalSettings([&](const Settings&) { server_events.push_back("localSettings"); });
  p.server->onClose([&] { server_events.push_back("close"); });
  int settings_callbacks = 0;
  absl::Status settings_result = absl::UnknownError("settings() callback never called");
  Settings update;
  update.initialWindowSize = 100000;
  ASSERT_TRUE(p.server
                  ->settings(update,
                             [&](const absl::Status& st, const Settings&, double) {
                               ++settings_callbacks;
                               settings_result = st;
                             })
                  .ok());

  // The server reads nothing until the client's preface, SETTINGS and both ACKs are queued, then
  // gets them in one read, followed by the client's FIN.
  p.server_socket->pauseReading();
  p.run();
  p.client_socket->end();
  p.server_socket->resumeReading();
  p.run();

  // Node: remoteSettings, localSettings (initial SETTINGS acked), localSettings (update acked),
  // close — and the callback called once with success.
  EXPECT_THAT(server_events,
              ElementsAre("remoteSettings", "localSettings", "localSettings", "close"));
  EXPECT_EQ(settings_callbacks, 1);
  EXPECT_TRUE(settings_result.ok()) << settings_result;
}

// Scenario (e) of node_scenarios_test, server side. The server closes a GET stream (whose
// readable side has already ended) with ENHANCE_YOUR_CALM in its 'stream' handler. Node's
// closeStream() emits 'aborted' synchronously inside close(), before the readable 'end' that is
// still pending, so its order is aborted -> end -> error -> close.
TEST(NodeParityRepro, ServerCloseEmitsAbortedBeforeThePendingEnd) {
  Pair p;
  std::vector<std::string> events;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ServerHttp2Stream* raw = s.get();
    s->onData([&](std::string_view) { events.push_back("data"); });
    s->onEnd([&] { events.push_back("end"); });
    s->onAborted([&] { events.push_back("aborted"); });
    s->onError([&](const absl::Status& e) { events.push_back("error " + nodeErrorCode(e)); });
    s->onClose([&events, raw] {
      events.push_back("close rst=" + std::to_string(raw->rstCode().value_or(99)));
    });
    s->close(constants::NGHTTP2_ENHANCE_YOUR_CALM);
  };
  auto req = p.client->request({{":path", "/rst"}});
  ASSERT_TRUE(req.ok());
  p.run();
  EXPECT_THAT(events,
              ElementsAre("aborted", "end", "error ERR_HTTP2_STREAM_ERROR", "close rst=11"));
}

}  // namespace
}  // namespace h2rpc::transport
