// rpc/server_pool.h — ServerPool: one server spread over N event loops, each on a thread of its
// own with its own listening socket on the same port (SO_REUSEPORT: the kernel spreads the
// connections). A connection, and every call on it, stays on the loop that accepted it: a
// handler runs on that loop's thread, so handlers of different connections run in parallel.
//
//   rpc::ServerPool pool({.num_threads = 4});
//   pool.RegisterService(&greeter);   // its handlers run on all 4 threads at once
//   pool.Listen("0.0.0.0", 50051);
//   ...                               // serves until
//   pool.Shutdown(absl::Seconds(5));
//
// Threading: construct, register, listen, shut down and destroy from one thread that is not one
// of the pool's (main(), say). The handlers of one Service object run concurrently on the pool's
// threads: state they share needs a lock (as with gRPC C++'s synchronous server). Blocking work
// still belongs in rpc::Offload (thread_pool.h): a blocked handler stalls its loop's other
// connections. Lifetime: services outlive the pool; the destructor shuts down (no grace) and
// joins the threads.
#ifndef H2RPC_RPC_SERVER_POOL_H_
#define H2RPC_RPC_SERVER_POOL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rpc/server.h"
#include "rpc/service.h"
#include "transport/tls.h"
#include "transport/uv_loop.h"
#include "transport/uv_loop_thread.h"

namespace h2rpc::rpc {

struct ServerPoolOptions {
  // Event loops (and threads) serving; at least 1. SO_REUSEPORT is set when more than one.
  int num_threads = 1;
  // What each loop's Server gets (its limits are per loop: max_server_memory_mb counts each
  // loop's connections separately).
  ServerOptions server;
  transport::UvLoopOptions loop;
};

class ServerPool {
 public:
  explicit ServerPool(ServerPoolOptions options = {});
  ~ServerPool();
  ServerPool(const ServerPool&) = delete;
  ServerPool& operator=(const ServerPool&) = delete;

  // Before Listen; `service` must outlive the pool.
  void RegisterService(Service* service);
  // Server::RegisterGenericService on every loop (its Handle runs on all of them at once).
  void RegisterGenericService(GenericService* service);
  // Every loop listens on host:port (port 0: the first picks a free port, the others take it).
  // On failure nothing listens.
  absl::Status Listen(const std::string& host, uint16_t port);
  absl::Status ListenTls(const std::string& host, uint16_t port, const transport::TlsOptions& tls);
  // Server::UpdateTlsOptions on every loop (one context, made on the calling thread, shared):
  // new connections on any loop get the new certificate. Any thread, after ListenTls.
  absl::Status UpdateTlsOptions(const transport::TlsOptions& tls);
  uint16_t port() const { return port_; }
  int num_threads() const { return static_cast<int>(threads_.size()); }
  // The loops, for tests and for code that wants to post to them.
  transport::UvLoop* loop(int i) const { return threads_[static_cast<size_t>(i)]->loop(); }
  std::thread::id thread_id(int i) const { return threads_[static_cast<size_t>(i)]->threadId(); }
  // Server::Shutdown(grace) on every loop, waits until all their connections are closed, then
  // destroys the servers and stops the threads. Idempotent.
  void Shutdown(absl::Duration grace);
  // Every loop's Server::Snapshot() (each taken on its loop), merged: the connections of all
  // loops, active calls and too_many_pings summed. Any thread but the pool's own loops, while
  // the pool is not being shut down (the thread that calls Shutdown() must not call this at
  // the same time); empty after Shutdown().
  ServerSnapshot Snapshot();

 private:
  absl::Status Start(const std::string& host, uint16_t port, const transport::TlsOptions* tls);
  void DestroyServers();

  ServerPoolOptions options_;
  std::vector<Service*> services_;
  GenericService* generic_ = nullptr;
  std::vector<std::unique_ptr<transport::UvLoopThread>> threads_;
  std::vector<std::unique_ptr<Server>> servers_;  // servers_[i] lives on threads_[i]'s loop
  uint16_t port_ = 0;
  bool stopped_ = false;
  std::optional<transport::TlsOptions> listen_tls_;  // set by ListenTls
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SERVER_POOL_H_
