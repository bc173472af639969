// rpc/server.h — Server: serves registered gRPC services over HTTP/2 (h2c or TLS) on a libuv
// loop. It validates each request (method, content-type, path, grpc-timeout, grpc-encoding,
// metadata), answers early errors in Trailers-Only, and runs the method's handler.
//
//   transport::UvLoop loop;
//   rpc::Server server(&loop);
//   GreeterImpl greeter;               // derives from the generated helloworld::Greeter::Service
//   server.RegisterService(&greeter);
//   server.Listen("127.0.0.1", 50051);
//   loop.run();
//
// Threading: the loop's thread only. Lifetime: services must outlive the server; destroy the
// server after Shutdown() has called back (or when tearing the loop down).
#ifndef H2RPC_RPC_SERVER_H_
#define H2RPC_RPC_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rpc/server_call.h"
#include "rpc/service.h"
#include "transport/server.h"
#include "transport/tls.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {

struct ServerOptions {
  CallLimits limits;
  // HTTP/2 flow control (see kDefaultInitialWindowSize): the stream window each connection
  // advertises (an explicit http2.settings.initialWindowSize wins) and its connection window.
  // 0 keeps the transport's (Node's 65535).
  uint32_t initial_window_size = kDefaultInitialWindowSize;
  uint32_t connection_window_size = kDefaultConnectionWindowSize;
  // SETTINGS_MAX_FRAME_SIZE each connection advertises (see kDefaultMaxFrameSize); an explicit
  // http2.settings.maxFrameSize wins, 0 keeps HTTP/2's 16 KiB.
  uint32_t max_frame_size = kDefaultMaxFrameSize;
  // HTTP/2 settings and limits of each connection (Node's names; see transport/session.h).
  transport::ServerOptions http2;
  // SO_REUSEPORT on the listening socket, so several Servers (one per event loop and thread) can
  // listen on one port and the kernel spreads connections over them. All of them must set it.
  bool reuse_port = false;
};

class Server {
 public:
  explicit Server(transport::UvLoop* loop, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves `service`'s methods. Call before Listen; `service` must outlive the server.
  void RegisterService(Service* service);
  // Cleartext HTTP/2 (prior knowledge). Port 0 picks a free port: see port().
  absl::Status Listen(const std::string& host, uint16_t port);
  // TLS with ALPN h2.
  absl::Status ListenTls(const std::string& host, uint16_t port, const transport::TlsOptions& tls);
  uint16_t port() const;
  // Serves the streams of a connection made elsewhere, e.g. a session over a
  // transport::MemorySocket on a ManualLoop (sans-I/O tests, tests/fuzz): the same request
  // validation and handlers as a listened connection's streams. Only the streams are taken:
  // the owner keeps the session, its windows and its closing (Shutdown() does not see it).
  // A server that only serves such sessions never listens and may be made with a null loop.
  void ServeSession(transport::ServerHttp2Session& session);

  // Graceful stop: GOAWAY to every connection, no new calls; running calls have `grace` to
  // finish, then are cancelled. `done` runs once every connection is closed.
  void Shutdown(absl::Duration grace, std::function<void()> done = nullptr);
  size_t active_calls() const { return *active_calls_; }

 private:
  absl::Status Start(std::unique_ptr<transport::Http2Server> http2, const std::string& host,
                     uint16_t port);
  void OnStream(std::shared_ptr<transport::ServerHttp2Stream> stream,
                const transport::Headers& headers);

  transport::UvLoop* loop_;
  ServerOptions options_;
  std::map<std::string, MethodHandler> methods_;
  std::set<std::string> services_;
  std::unique_ptr<transport::Http2Server> http2_;
  std::set<std::weak_ptr<transport::ServerHttp2Session>,
           std::owner_less<std::weak_ptr<transport::ServerHttp2Session>>>
      sessions_;
  std::unique_ptr<transport::Timer> grace_timer_;
  // Shared with the calls, which count themselves out when their stream closes.
  std::shared_ptr<size_t> active_calls_ = std::make_shared<size_t>(0);
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SERVER_H_
