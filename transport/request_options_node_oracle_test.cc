// request()'s priority options and signal, and Http2Stream::priority(), against Node 20 at test
// time: the same sequence of calls (testdata/request_options_oracle.js) must put the same
// HEADERS, PRIORITY and RST_STREAM frames on the wire, stream ids included (a request whose
// signal was aborted already uses no id).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "transport/abort.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/node_oracle.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

// A raw peer that records what the client session writes.
struct Tap : Socket::Handler {
  Tap() {
    auto [a, b] = MemorySocket::pair(&loop);
    peer = std::move(a);
    peer->setHandler(this);
    client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost:80");
  }
  void onSocketConnect() override {}
  void onSocketData(std::string_view d) override { bytes += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override {}

  // The oracle's lines for our frames.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    size_t off = 24;
    auto u = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
    while (bytes.size() >= off + 9) {
      const size_t len = (u(off) << 16) | (u(off + 1) << 8) | u(off + 2);
      if (bytes.size() < off + 9 + len) break;
      const uint8_t type = u(off + 3), flags = u(off + 4);
      const uint32_t id =
          ((u(off + 5) & 0x7fu) << 24) | (u(off + 6) << 16) | (u(off + 7) << 8) | u(off + 8);
      const std::string payload = bytes.substr(off + 9, len);
      off += 9 + len;
      if (type < 1 || type > 3) continue;
      std::string shown = "-";
      if (type != 1) {
        shown = testing::toHex(payload);
      } else if (flags & 0x20) {
        shown = testing::toHex(payload.substr(0, 5));
      }
      char flags_hex[3];
      std::snprintf(flags_hex, sizeof(flags_hex), "%02x", flags);
      out.push_back(std::to_string(type) + " " + std::to_string(id) + " " + flags_hex + " " +
                    shown);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  ManualLoop loop;
  std::unique_ptr<MemorySocket> peer;
  std::shared_ptr<ClientHttp2Session> client;
  std::string bytes;
};

TEST(RequestOptionsNodeOracleTest, SameFramesAsNode20) {
  auto node = testing::runNodeScript("transport/testdata/request_options_oracle.js");
  ASSERT_TRUE(node.ok()) << node.status();

  Tap tap;
  auto r1 = *tap.client->request({});
  ASSERT_TRUE(r1->priority({.weight = 10}).ok());
  ASSERT_TRUE(r1->priority({.parent = 0, .weight = 300, .exclusive = true}).ok());
  ASSERT_TRUE(tap.client->request({}, {.parent = 1, .weight = 42, .exclusive = true}).ok());
  ASSERT_TRUE(tap.client->request({}, {.weight = 1000}).ok());
  ASSERT_TRUE(tap.client->request({}, {.weight = 0}).ok());
  ASSERT_TRUE(tap.client->request({}, {.signal = AbortSignal::abort()}).ok());
  AbortController controller;
  auto r9 = *tap.client->request({}, {.signal = controller.signal()});
  tap.loop.runUntilIdle();  // its HEADERS out, as Node's 'ready' + setImmediate
  controller.abort();
  tap.loop.runUntilIdle();

  EXPECT_EQ(absl::StrJoin(tap.lines(), "\n") + "\n", *node);
}

}  // namespace
}  // namespace h2rpc::transport
