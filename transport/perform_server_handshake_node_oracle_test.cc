// performServerHandshake() with Node 20's client (replayed bytes): the session it makes over a
// socket of our own serves Node's request, and Node's client reads the answer.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/node_oracle.h"
#include "transport/server.h"

namespace h2rpc::transport {
namespace {

struct Recorder : Socket::Handler {
  void onSocketConnect() override {}
  void onSocketData(std::string_view d) override { bytes += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override {}
  std::string bytes;
};

TEST(PerformServerHandshakeNodeOracleTest, NodeClientIsServed) {
  auto node_bytes = testing::runNodeScript("transport/testdata/perform_server_handshake_oracle.js",
                                           {"client-bytes"});
  ASSERT_TRUE(node_bytes.ok()) << node_bytes.status();
  const std::string request = testing::fromHex(testing::splitLines(*node_bytes).at(0));

  ManualLoop loop;
  auto [ours, theirs] = MemorySocket::pair(&loop);
  Recorder recorder;
  theirs->setHandler(&recorder);
  auto session = performServerHandshake(&loop, std::move(ours));
  ASSERT_TRUE(session.ok()) << session.status();
  std::string path;
  (*session)->onStream([&](std::shared_ptr<ServerHttp2Stream> stream, const Headers& h,
                           uint8_t) {
    path = std::string(h.get(":path").value_or(""));
    (void)stream->respond({{":status", "200"}}, {});
    (void)stream->end("hello from performServerHandshake");
  });
  theirs->write(request);
  loop.runUntilIdle();
  EXPECT_EQ(path, "/hello");

  std::string file = testing::writeTempFile("server_bytes.hex", testing::toHex(recorder.bytes));
  auto node = testing::runNodeScript("transport/testdata/perform_server_handshake_oracle.js",
                                     {"client-replay", file});
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(testing::splitLines(*node),
            (std::vector<std::string>{"status 200", "body hello from performServerHandshake"}));
}

}  // namespace
}  // namespace h2rpc::transport
