// ALTSVC and ORIGIN on the wire, both ways, against Node 20 (testdata/altsvc_origin_oracle.js,
// run at test time over TLS on loopback):
//  - the bytes a Node server sends for session.altsvc()/origin() reach our client, whose
//    'altsvc'/'origin' events and originSet must read them as Node's client reads them;
//  - the bytes our server sends for the same calls, written to Node's client, must give the
//    events Node's client gives for Node's own server.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "transport/manual_loop.h"
#include "transport/node_oracle.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

// A socket that keeps what is written and reports itself as TLS to "localhost" (ORIGIN and
// originSet exist only on encrypted sessions). Bytes from the peer are fed with receive().
class CaptureSocket : public Socket {
 public:
  void setHandler(Handler* handler) override { handler_ = handler; }
  void write(std::string data) override { written += data; }
  size_t writeQueueSize() const override { return 0; }
  void pauseReading() override {}
  void resumeReading() override {}
  void end() override {}
  void destroy() override {}
  bool connecting() const override { return false; }
  bool encrypted() const override { return true; }
  std::string alpnProtocol() const override { return "h2"; }
  std::string servername() const override { return "localhost"; }
  std::string written;

 private:
  Handler* handler_ = nullptr;
};

// The calls both servers make (see the oracle script's node-server mode).
absl::Status serverCalls(ServerHttp2Session& s) {
  if (auto st = s.altsvc("h2=\":8000\"; ma=60", "https://Example.ORG:443/x"); !st.ok()) return st;
  if (auto st = s.altsvc("h2=\"alt.example:443\"", "http://example.org:8080"); !st.ok()) {
    return st;
  }
  return s.origin({"https://a.example", "https://b.example:8443"});
}

std::vector<std::string> nodeClientEvents(const std::string& server_bytes) {
  std::string file = testing::writeTempFile("server_bytes.hex", testing::toHex(server_bytes));
  auto out = testing::runNodeScript("transport/testdata/altsvc_origin_oracle.js",
                                    {"node-client", file, "3"});
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? testing::splitLines(*out) : std::vector<std::string>{};
}

std::string nodeServerBytes() {
  auto out = testing::runNodeScript("transport/testdata/altsvc_origin_oracle.js", {"node-server"});
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? testing::fromHex(testing::splitLines(*out).at(0)) : std::string();
}

TEST(AltsvcOriginNodeOracleTest, OurClientReadsNodeServerFramesAsNodeClientDoes) {
  const std::string bytes = nodeServerBytes();
  ASSERT_FALSE(bytes.empty());
  const std::vector<std::string> node = nodeClientEvents(bytes);
  ASSERT_EQ(node.size(), 4u) << absl::StrJoin(node, "\n");

  ManualLoop loop;
  auto socket = std::make_unique<CaptureSocket>();
  auto client = *ClientHttp2Session::create(&loop, std::move(socket), "https", "localhost:443");
  std::vector<std::string> ours;
  client->onAltsvc([&](std::string_view alt, std::string_view origin, int32_t stream) {
    ours.push_back(absl::StrCat("altsvc ", std::string(alt), "|", std::string(origin), "|", stream));
  });
  client->onOrigin([&](const std::vector<std::string>& origins) {
    ours.push_back("origin " + absl::StrJoin(origins, ","));
    std::vector<std::string> set = *client->originSet();
    ours.push_back("originSet " +
                   absl::StrJoin(std::vector<std::string>(set.begin() + 1, set.end()), ","));
  });
  loop.runUntilIdle();
  client->receive(bytes);
  loop.runUntilIdle();
  EXPECT_EQ(absl::StrJoin(ours, "\n"), absl::StrJoin(node, "\n"));
  EXPECT_FALSE(client->destroyed());
}

TEST(AltsvcOriginNodeOracleTest, NodeClientReadsOurServerFramesAsNodeServers) {
  const std::vector<std::string> from_node_server = nodeClientEvents(nodeServerBytes());
  ASSERT_EQ(from_node_server.size(), 4u);

  ManualLoop loop;
  auto socket = std::make_unique<CaptureSocket>();
  CaptureSocket* raw = socket.get();
  auto server = *ServerHttp2Session::create(&loop, std::move(socket));
  ASSERT_TRUE(serverCalls(*server).ok());
  loop.runUntilIdle();
  ASSERT_FALSE(raw->written.empty());
  EXPECT_EQ(absl::StrJoin(nodeClientEvents(raw->written), "\n"),
            absl::StrJoin(from_node_server, "\n"));
}

}  // namespace
}  // namespace h2rpc::transport
