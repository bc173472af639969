// rpc/testing/memory_sessions.h — for tests that drive an rpc::Server sans I/O: a server session
// and a client session on the two ends of a MemorySocket pair on a ManualLoop, the server one
// served by Server::ServeSession (as on a listened connection).
//
//   auto sessions = rpc::testing::ServeOverMemory(loop_, server_);
//   ASSERT_TRUE(sessions.ok()) << sessions.status();
//   ... sessions->client->request(...); loop_.runUntilIdle(); ...
//   sessions->Destroy(loop_);
//
// Threading: all on the loop's thread. Lifetime: the loop and the server outlive the sessions;
// Destroy() destroys both and runs the loop until idle.
#ifndef H2RPC_RPC_TESTING_MEMORY_SESSIONS_H_
#define H2RPC_RPC_TESTING_MEMORY_SESSIONS_H_

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "rpc/server.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::rpc::testing {

struct MemorySessions {
  std::shared_ptr<transport::ServerHttp2Session> server;
  std::shared_ptr<transport::ClientHttp2Session> client;

  void Destroy(transport::ManualLoop& loop) {
    client->destroy();
    server->destroy();
    loop.runUntilIdle();
  }
};

// Connects a client session ("http", "localhost") to a server session that `server` serves.
inline absl::StatusOr<MemorySessions> ServeOverMemory(transport::ManualLoop& loop, Server& server) {
  auto [server_end, client_end] = transport::MemorySocket::pair(&loop);
  auto server_session = transport::ServerHttp2Session::create(&loop, std::move(server_end));
  if (!server_session.ok()) return server_session.status();
  server.ServeSession(**server_session);
  auto client =
      transport::ClientHttp2Session::create(&loop, std::move(client_end), "http", "localhost");
  if (!client.ok()) return client.status();
  return MemorySessions{*server_session, *client};
}

}  // namespace h2rpc::rpc::testing

#endif  // H2RPC_RPC_TESTING_MEMORY_SESSIONS_H_
