// transport/testing/session_pair.h — test-only: a server and a client session joined by a
// MemorySocket pair on a ManualLoop, recording the streams (and their request headers) the
// server receives. The fixture the sans-I/O session tests share.
//
// Threading: the test's thread (ManualLoop). Lifetime: owns its loop and both sessions.
#ifndef H2RPC_TRANSPORT_TESTING_SESSION_PAIR_H_
#define H2RPC_TRANSPORT_TESTING_SESSION_PAIR_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "transport/headers.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::transport {

struct SessionPair {
  explicit SessionPair(SessionOptions server_options = {}, SessionOptions client_options = {}) {
    auto [a, b] = MemorySocket::pair(&loop);
    server_socket = a.get();
    client_socket = b.get();
    server = *ServerHttp2Session::create(&loop, std::move(a), server_options);
    client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost:8080",
                                         client_options);
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> s, const Headers& h, uint8_t) {
      streams.push_back(s);
      request_headers.push_back(h);
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
  std::vector<Headers> request_headers;
  std::function<void(std::shared_ptr<ServerHttp2Stream>, const Headers&)> on_stream;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_TESTING_SESSION_PAIR_H_
