// rpc/testing/memory_http1.h — for tests that drive an rpc::Server's HTTP/1.1 path sans I/O: an
// Http1Server whose requests the server serves (Server::ServeHttp1Request, as allow_http1 wires
// it), and raw clients on MemorySocket pairs that write bytes and collect what comes back.
//
//   auto http1 = rpc::testing::ServeHttp1(loop_, server_);
//   rpc::testing::RawSocketClient client;
//   auto socket = rpc::testing::ConnectRaw(loop_, *http1, client);
//   socket->write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
//   loop_.runUntilIdle();  ... client.received ...
//
// Threading: all on the loop's thread. Lifetime: the loop and the server outlive the Http1Server;
// a client outlives its socket's handler (setHandler(nullptr) or destroy the socket first).
#ifndef H2RPC_RPC_TESTING_MEMORY_HTTP1_H_
#define H2RPC_RPC_TESTING_MEMORY_HTTP1_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "rpc/server.h"
#include "transport/compat/compat_server.h"
#include "transport/http1/http1_server.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"

namespace h2rpc::rpc::testing {

// The raw client's end: all bytes received, and whether the socket closed.
struct RawSocketClient : transport::Socket::Handler {
  void onSocketConnect() override {}
  void onSocketData(std::string_view data) override { received.append(data); }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { closed = true; }
  std::string received;
  bool closed = false;
};

// An Http1Server (no Http2Server, no listener) whose requests `server` serves.
inline std::shared_ptr<transport::Http1Server> ServeHttp1(transport::ManualLoop& loop,
                                                          Server& server) {
  auto events = transport::RequestEvents::create();
  events->onRequest([&server](std::shared_ptr<transport::Http2ServerRequest> req,
                              std::shared_ptr<transport::Http2ServerResponse> res) {
    server.ServeHttp1Request(std::move(req), std::move(res));
  });
  return transport::Http1Server::create(&loop, std::move(events));
}

// One more connection to `http1`: returns the client's end, whose data goes to `client`.
inline std::unique_ptr<transport::MemorySocket> ConnectRaw(transport::ManualLoop& loop,
                                                           transport::Http1Server& http1,
                                                           RawSocketClient& client) {
  auto [server_end, client_end] = transport::MemorySocket::pair(&loop);
  client_end->setHandler(&client);
  http1.serve(std::move(server_end));
  return std::move(client_end);
}

}  // namespace h2rpc::rpc::testing

#endif  // H2RPC_RPC_TESTING_MEMORY_HTTP1_H_
