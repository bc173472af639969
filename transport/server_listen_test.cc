// Where servers listen (every interface by default, Unix domain sockets) and what a client's
// requests hear when the connection cannot be made.
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "transport/connect.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/server.h"
#include "transport/socket_address.h"
#include "transport/testing/run_until.h"
#include "transport/uv_loop.h"

namespace h2rpc::transport {
namespace {

// Serves 200 with the request's :authority in a header.
void AnswerAll(Http2Server& server) {
  server.onStream([](std::shared_ptr<ServerHttp2Stream> s, const Headers& h, uint8_t) {
    (void)s->respond({{":status", "200"}, {"x-authority", h.get(":authority").value_or("")}},
                     {.endStream = true});
  });
}

// One GET over `client`; the response's x-authority, or nullopt if it never came.
std::optional<std::string> Get(UvLoop& loop, std::shared_ptr<ClientHttp2Session> client) {
  auto req = client->request({{":path", "/"}}, {.endStream = true});
  if (!req.ok()) return std::nullopt;
  std::optional<std::string> authority;
  (*req)->onResponse([&](const Headers& h, uint8_t) {
    authority = h.get("x-authority").value_or("");
  });
  RunUntil(loop, [&] { return authority.has_value(); });
  return authority;
}

std::string TempSocketPath(const char* name) {
  return std::string("/tmp/h2rpc-") + name + "." + std::to_string(getpid()) + ".sock";
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

TEST(ServerListenTest, WithoutHostListensOnEveryInterfaceAsNode) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  AnswerAll(*server);
  ASSERT_TRUE(server->listen(0).ok());
  const std::string bound = server->address().address();
  EXPECT_TRUE(bound == "::" || bound == "0.0.0.0") << bound;
  // Dual stack: an IPv4 client reaches the "::" socket.
  auto client = *connect(&loop, "http://127.0.0.1:" + std::to_string(server->port()));
  EXPECT_EQ(Get(loop, client), "127.0.0.1:" + std::to_string(server->port()));
  client->close();
  server->close();
}

TEST(ServerListenTest, ExplicitHostStaysThere) {
  UvLoop loop;
  auto server = *Http2Server::createServer(&loop);
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  EXPECT_EQ(server->address().toString(), "127.0.0.1:" + std::to_string(server->port()));
  server->close();
}

TEST(ServerListenTest, UnixPathServesAndIsRemovedOnClose) {
  UvLoop loop;
  const std::string path = TempSocketPath("listen");
  ::unlink(path.c_str());
  auto server = *Http2Server::createServer(&loop);
  AnswerAll(*server);
  ASSERT_TRUE(server->listenPath(path).ok());
  EXPECT_EQ(server->path(), path);
  EXPECT_EQ(server->port(), 0);
  EXPECT_TRUE(Exists(path));
  ConnectOptions options;
  options.path = path;
  auto client = connect(&loop, "http://localhost", options);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(Get(loop, *client), "localhost:80");  // Node keeps the port, even the default
  (*client)->close();
  server->close();
  EXPECT_FALSE(Exists(path));
}

TEST(ServerListenTest, AbstractUnixName) {
  UvLoop loop;
  const std::string name = std::string(1, '\0') + "h2rpc-listen-" + std::to_string(getpid());
  auto server = *Http2Server::createServer(&loop);
  AnswerAll(*server);
  ASSERT_TRUE(server->listenPath(name).ok());
  EXPECT_TRUE(server->address().isAbstract());
  ConnectOptions options;
  options.path = name;
  auto client = *connect(&loop, "http://localhost", options);
  EXPECT_EQ(Get(loop, client), "localhost:80");
  client->close();
  server->close();
}

TEST(ServerListenTest, TakenPathIsEADDRINUSE) {
  UvLoop loop;
  const std::string path = TempSocketPath("taken");
  ::unlink(path.c_str());
  auto a = *Http2Server::createServer(&loop);
  ASSERT_TRUE(a->listenPath(path).ok());
  auto b = *Http2Server::createServer(&loop);
  absl::Status st = b->listenPath(path);
  EXPECT_NE(st.message().find("EADDRINUSE"), absl::string_view::npos) << st;
  EXPECT_TRUE(Exists(path));  // b's failure leaves a's socket alone
  a->close();
  EXPECT_FALSE(Exists(path));
}

// Node: a socket error before the connection is up destroys the session's streams with it, so
// each request's 'error' says why (here ECONNREFUSED, from the last address tried).
TEST(ServerListenTest, RequestsOfARefusedConnectionGetItsError) {
  UvLoop loop;
  auto probe = *Http2Server::createServer(&loop);
  ASSERT_TRUE(probe->listen(0, "127.0.0.1").ok());
  const uint16_t port = probe->port();
  probe->close();
  auto client = *connect(&loop, "http://127.0.0.1:" + std::to_string(port));
  absl::Status session_error;
  client->onError([&](const absl::Status& st) { session_error = st; });
  auto req = client->request({{":path", "/"}}, {.endStream = true});
  ASSERT_TRUE(req.ok());
  absl::Status error;
  bool closed = false;
  (*req)->onError([&](const absl::Status& st) { error = st; });
  (*req)->onClose([&] { closed = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return closed; }));
  // As Node 20: the request was still pending, so it is cancelled, caused by the socket's error
  // (checked against Node by PendingRequestNodeOracleTest); the session gets the error itself.
  const std::string address = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(nodeErrorCode(error), "ERR_HTTP2_STREAM_CANCEL") << error;
  EXPECT_EQ(nodeErrorMessage(error),
            "The pending stream has been canceled (caused by: connect ECONNREFUSED " + address +
                ")");
  EXPECT_EQ(error.code(), absl::StatusCode::kUnavailable) << error;
  EXPECT_EQ((*req)->rstCode(), constants::NGHTTP2_INTERNAL_ERROR);
  ASSERT_TRUE(RunUntil(loop, [&] { return !session_error.ok(); }));
  EXPECT_EQ(nodeErrorCode(session_error), "ECONNREFUSED") << session_error;
  EXPECT_EQ(systemErrorInfo(session_error).address, address);
}

}  // namespace
}  // namespace h2rpc::transport
