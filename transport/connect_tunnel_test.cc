// CONNECT (RFC 9113 §8.5) and extended CONNECT (RFC 8441) over an in-memory socket pair: the
// request HEADERS open a stream that the server answers with 200 and then carries bytes both ways
// as a tunnel, each side ending its half with END_STREAM.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/testing/session_pair.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;

using Pair = SessionPair;

// The server side of a tunnel: answers 200, then echoes every byte back upper-cased (so the test
// sees both directions), and ends its half when the client ends its own.
void upperCaseTunnel(std::shared_ptr<ServerHttp2Stream> s, std::string* received) {
  ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
  s->onData([s, received](std::string_view d) {
    *received += d;
    std::string up(d);
    for (char& c : up) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    s->write(std::move(up));
  });
  s->onEnd([s] { s->end(); });
}

struct ClientSide {
  explicit ClientSide(ClientHttp2Stream& s) {
    s.onResponse([this](const Headers& h, uint8_t flags) {
      events.push_back("response " + h.get(":status").value_or("?"));
      response_flags = flags;
    });
    s.onData([this](std::string_view d) { body += d; });
    s.onEnd([this] { events.push_back("end"); });
    s.onError([this](const absl::Status& e) {
      events.push_back("error");
      error = e;
    });
    s.onClose([this] { events.push_back("close"); });
  }
  std::vector<std::string> events;
  uint8_t response_flags = 0;
  std::string body;
  absl::Status error;
};

TEST(ConnectTunnelTest, PlainConnectCarriesBytesBothWaysThenCloses) {
  Pair p;
  std::string server_got;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    upperCaseTunnel(s, &server_got);
  };
  auto req = p.client->request({{":method", "CONNECT"}, {":authority", "example.com:443"}});
  ASSERT_TRUE(req.ok()) << req.status();
  ClientSide c(**req);
  p.run();
  ASSERT_EQ(p.request_headers.size(), 1u);
  // §8.5: only :method and :authority; request() adds no :scheme or :path to a CONNECT.
  EXPECT_EQ(p.request_headers[0].get(":method"), "CONNECT");
  EXPECT_EQ(p.request_headers[0].get(":authority"), "example.com:443");
  EXPECT_FALSE(p.request_headers[0].has(":scheme"));
  EXPECT_FALSE(p.request_headers[0].has(":path"));
  // The tunnel is open: the 200 did not end the stream, the client has not ended its half.
  EXPECT_THAT(c.events, ElementsAre("response 200"));
  EXPECT_EQ(c.response_flags & NGHTTP2_FLAG_END_STREAM, 0);
  (*req)->write("hello ");
  p.run();
  EXPECT_EQ(server_got, "hello ");
  EXPECT_EQ(c.body, "HELLO ");
  (*req)->write(std::string(100000, 'x'));
  (*req)->end("tunnel");
  p.run();
  EXPECT_EQ(server_got, "hello " + std::string(100000, 'x') + "tunnel");
  EXPECT_EQ(c.body, "HELLO " + std::string(100000, 'X') + "TUNNEL");
  EXPECT_THAT(c.events, ElementsAre("response 200", "end", "close"));
  EXPECT_EQ((*req)->rstCode(), 0u);
  EXPECT_EQ(p.server->streamCount(), 0u);
}

TEST(ConnectTunnelTest, ServerClosingTheTunnelResetsIt) {
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respond({{":status", "200"}}).ok());
    s->write("bye");
    // RFC 9113 §8.5: a TCP error on the proxied connection is signalled with CONNECT_ERROR.
    s->close(NGHTTP2_CONNECT_ERROR);
  };
  auto req = p.client->request({{":method", "CONNECT"}, {":authority", "example.com:443"}});
  ASSERT_TRUE(req.ok());
  ClientSide c(**req);
  p.run();
  EXPECT_EQ((*req)->rstCode(), uint32_t{NGHTTP2_CONNECT_ERROR});
  EXPECT_EQ(nodeErrorCode(c.error), "ERR_HTTP2_STREAM_ERROR");
}

TEST(ConnectTunnelTest, ExtendedConnectWhenTheServerEnablesIt) {
  SessionOptions server_options;
  server_options.settings.enableConnectProtocol = true;
  Pair p(server_options);
  p.run();  // the server's SETTINGS arrive
  EXPECT_EQ(p.client->remoteSettings().enableConnectProtocol, true);
  std::string server_got;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    upperCaseTunnel(s, &server_got);
  };
  auto req = p.client->request(
      {{":method", "CONNECT"}, {":protocol", "websocket"}, {":path", "/chat"}});
  ASSERT_TRUE(req.ok()) << req.status();
  ClientSide c(**req);
  (*req)->end("frame");
  p.run();
  ASSERT_EQ(p.request_headers.size(), 1u);
  // RFC 8441 §4: :scheme and :path are present, defaults from the session as Node.
  const Headers& h = p.request_headers[0];
  EXPECT_EQ(h.get(":method"), "CONNECT");
  EXPECT_EQ(h.get(":protocol"), "websocket");
  EXPECT_EQ(h.get(":path"), "/chat");
  EXPECT_EQ(h.get(":scheme"), "http");
  EXPECT_EQ(h.get(":authority"), "localhost:8080");
  EXPECT_EQ(server_got, "frame");
  EXPECT_EQ(c.body, "FRAME");
  EXPECT_THAT(c.events, ElementsAre("response 200", "end", "close"));
}

TEST(ConnectTunnelTest, ExtendedConnectWithoutTheServersSettingIsReset) {
  // As Node 20: the request goes out, the server (nghttp2) resets it with PROTOCOL_ERROR.
  Pair p;
  p.run();
  EXPECT_NE(p.client->remoteSettings().enableConnectProtocol, true);
  auto req = p.client->request(
      {{":method", "CONNECT"}, {":protocol", "websocket"}, {":path", "/chat"}});
  ASSERT_TRUE(req.ok()) << req.status();
  ClientSide c(**req);
  p.run();
  EXPECT_TRUE(p.streams.empty());
  EXPECT_EQ((*req)->rstCode(), uint32_t{NGHTTP2_PROTOCOL_ERROR});
  EXPECT_EQ(nodeErrorCode(c.error), "ERR_HTTP2_STREAM_ERROR");
  EXPECT_THAT(c.events, ElementsAre("error", "close"));
}

}  // namespace
}  // namespace h2rpc::transport
