// transport/testing/ok_tls_server.h — test-only: a secure Http2Server answering every request
// 200 "ok" on its own UvLoopThread (listening on 127.0.0.1, an ephemeral port), for tests that
// point real TLS clients (curl, Node, openssl s_client) at it; and OnLoop, which runs a function
// on that loop thread and waits for it.
//
// Threading: construct and destroy from the test thread; the server lives on `io`'s thread.
// Lifetime: the server is closed, its sessions closed and the thread stopped by the destructor.
#ifndef H2RPC_TRANSPORT_TESTING_OK_TLS_SERVER_H_
#define H2RPC_TRANSPORT_TESTING_OK_TLS_SERVER_H_

#include <cstdint>
#include <functional>
#include <future>
#include <memory>

#include "gtest/gtest.h"
#include "transport/server.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::transport::testing {

// Runs `fn` on the loop thread and waits for it.
template <typename F>
void OnLoop(UvLoopThread& io, F fn) {
  std::promise<void> done;
  ASSERT_TRUE(io.loop()->executor()->post([&] {
    fn();
    done.set_value();
  }));
  done.get_future().wait();
}

struct OkTlsServer {
  explicit OkTlsServer(const TlsOptions& tls) { start(tls); }
  // `make` gives the TLS options from the server's loop (e.g. an SNICallback capturing it).
  explicit OkTlsServer(const std::function<TlsOptions(UvLoop*)>& make) { start(make(io.loop())); }
  ~OkTlsServer() {
    OnLoop(io, [&] {
      if (server == nullptr) return;
      server->close();
      server->closeAllSessions();
      server.reset();
    });
    io.stop();
  }

  UvLoopThread io;
  std::unique_ptr<Http2Server> server;
  uint16_t port = 0;

 private:
  void start(const TlsOptions& tls) {
    OnLoop(io, [&] {
      ServerOptions options;
      options.handshakeTimeout = 0;
      options.sessionIdleTimeout = 0;
      auto created = Http2Server::createSecureServer(io.loop(), tls, options);
      ASSERT_TRUE(created.ok()) << created.status();
      server = *std::move(created);
      server->onStream([](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
        (void)s->respond({{":status", "200"}});
        (void)s->end("ok");
      });
      ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
      port = server->port();
    });
  }
};

}  // namespace h2rpc::transport::testing

#endif  // H2RPC_TRANSPORT_TESTING_OK_TLS_SERVER_H_
