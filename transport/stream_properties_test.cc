// Properties of node:http2 the other suites use without checking them on their own, named by
// transport/README.md's table (//transport:api_table_test): a stream's pending, id, session and
// state, and the session option maxOutstandingSettings.
#include <memory>

#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/settings.h"
#include "transport/testing/session_pair.h"

namespace h2rpc::transport {
namespace {

// pending() is true only before the stream has an id: over a socket that is already connected
// (a MemorySocket here), as in Node, request() submits the stream at once and it has its id;
// while the socket connects it waits (pending_request_test). session() is the owner; 'ready'
// comes once, from the loop.
TEST(StreamPropertiesTest, ARequestHasItsIdAtOnceAndSessionIsItsOwner) {
  SessionPair p;
  ASSERT_TRUE(p.client->connecting());
  auto req = p.client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  EXPECT_FALSE((*req)->pending());
  EXPECT_EQ((*req)->id(), 1);
  EXPECT_EQ((*req)->session(), p.client.get());
  int ready = 0;
  (*req)->onReady([&] { ++ready; });
  EXPECT_EQ(ready, 0);  // 'ready' is an event: never inside request()
  p.run();
  EXPECT_EQ(ready, 1);
  ASSERT_EQ(p.streams.size(), 1u);
  EXPECT_FALSE(p.streams[0]->pending());
  EXPECT_EQ(p.streams[0]->id(), 1);
  EXPECT_EQ(p.streams[0]->session(), p.server.get());
}

// Node's http2stream.state: nghttp2's stream state and which sides are closed, as the stream
// goes from open to half-closed.
TEST(StreamPropertiesTest, StateFollowsTheHalfCloses) {
  SessionPair p;
  auto req = p.client->request({{":path", "/"}, {":method", "POST"}});
  ASSERT_TRUE(req.ok());
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  StreamState open = p.streams[0]->state();
  EXPECT_EQ(open.state, constants::NGHTTP2_STREAM_STATE_OPEN);
  EXPECT_FALSE(open.localClose);
  EXPECT_FALSE(open.remoteClose);
  EXPECT_GT(open.localWindowSize, 0);
  (*req)->end();
  p.run();
  StreamState half = p.streams[0]->state();
  EXPECT_EQ(half.state, constants::NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE);
  EXPECT_FALSE(half.localClose);
  EXPECT_TRUE(half.remoteClose);
  EXPECT_TRUE((*req)->state().localClose);
}

// maxOutstandingSettings: a settings() call beyond that many unacknowledged SETTINGS frames
// (the initial one included) is ERR_HTTP2_MAX_PENDING_SETTINGS_ACK and ends the session, as Node.
TEST(StreamPropertiesTest, MaxOutstandingSettingsEndsTheSessionPastTheLimit) {
  SessionOptions client_options;
  client_options.maxOutstandingSettings = 2;
  SessionPair p({}, client_options);
  p.run();  // the initial SETTINGS acknowledged
  Settings update;
  update.maxConcurrentStreams = 7;
  ASSERT_TRUE(p.client->settings(update).ok());
  ASSERT_TRUE(p.client->settings(update).ok());
  absl::Status third = p.client->settings(update);
  EXPECT_EQ(nodeErrorCode(third), "ERR_HTTP2_MAX_PENDING_SETTINGS_ACK");
  EXPECT_TRUE(p.client->destroyed());
}

}  // namespace
}  // namespace h2rpc::transport
