#include "rpc/server_pool.h"

#include <condition_variable>
#include <mutex>
#include <utility>

#include "rpc/on_loop.h"

namespace h2rpc::rpc {

ServerPool::ServerPool(ServerPoolOptions options) : options_(std::move(options)) {
  const int n = options_.num_threads < 1 ? 1 : options_.num_threads;
  if (n > 1) options_.server.reuse_port = true;
  for (int i = 0; i < n; ++i) {
    threads_.push_back(std::make_unique<transport::UvLoopThread>(options_.loop));
  }
  servers_.resize(threads_.size());
}

ServerPool::~ServerPool() { Shutdown(absl::ZeroDuration()); }

void ServerPool::RegisterService(Service* service) { services_.push_back(service); }

void ServerPool::RegisterGenericService(GenericService* service) { generic_ = service; }

absl::Status ServerPool::Listen(const std::string& host, uint16_t port) {
  return Start(host, port, nullptr);
}

absl::Status ServerPool::ListenTls(const std::string& host, uint16_t port,
                                   const transport::TlsOptions& tls) {
  absl::Status started = Start(host, port, &tls);
  if (started.ok()) listen_tls_ = tls;
  return started;
}

absl::Status ServerPool::UpdateTlsOptions(const transport::TlsOptions& tls) {
  if (!listen_tls_ || stopped_) {
    return absl::FailedPreconditionError("UpdateTlsOptions(): the pool does not listen with TLS");
  }
  auto context = transport::TlsContext::createServer(Server::KeepListenOptions(tls, *listen_tls_));
  if (!context.ok()) return context.status();
  for (auto& server : servers_) {
    if (absl::Status st = server->UpdateTlsContext(*context); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status ServerPool::Start(const std::string& host, uint16_t port,
                               const transport::TlsOptions* tls) {
  if (stopped_) return absl::FailedPreconditionError("The server pool was shut down");
  if (servers_[0]) return absl::FailedPreconditionError("The server pool is already listening");
  for (size_t i = 0; i < threads_.size(); ++i) {
    transport::UvLoop* loop = threads_[i]->loop();
    const uint16_t this_port = i == 0 ? port : port_;
    // Made, registered and listening on its own loop's thread.
    std::optional<absl::Status> st = CallOnLoop(loop, [&]() -> absl::Status {
      servers_[i] = std::make_unique<Server>(loop, options_.server);
      for (Service* s : services_) servers_[i]->RegisterService(s);
      if (generic_ != nullptr) servers_[i]->RegisterGenericService(generic_);
      absl::Status listened = tls ? servers_[i]->ListenTls(host, this_port, *tls)
                                  : servers_[i]->Listen(host, this_port);
      if (listened.ok() && i == 0) port_ = servers_[i]->port();
      return listened;
    });
    if (!st || !st->ok()) {
      DestroyServers();
      return st ? *st : LoopGoneError();
    }
  }
  return absl::OkStatus();
}

void ServerPool::Shutdown(absl::Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  std::mutex mu;
  std::condition_variable cv;
  size_t closed = 0;
  size_t started = 0;
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (!servers_[i]) continue;
    ++started;
    (void)CallOnLoop(threads_[i]->loop(), [&, i] {
      servers_[i]->Shutdown(grace, [&] {
        std::lock_guard<std::mutex> lock(mu);
        ++closed;
        cv.notify_all();
      });
      return true;
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return closed == started; });
  }
  DestroyServers();
  for (auto& t : threads_) t->stop();
}

void ServerPool::DestroyServers() {
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (!servers_[i]) continue;
    (void)CallOnLoop(threads_[i]->loop(), [&, i] {
      servers_[i].reset();
      return true;
    });
  }
}

ServerSnapshot ServerPool::Snapshot() {
  ServerSnapshot all;
  if (stopped_) return all;
  for (size_t i = 0; i < threads_.size(); ++i) {
    if (!servers_[i]) continue;
    ServerSnapshot one = servers_[i]->Snapshot();  // on loop i (posted and waited for)
    all.active_calls += one.active_calls;
    all.too_many_pings += one.too_many_pings;
    for (ConnectionSnapshot& c : one.connections) all.connections.push_back(std::move(c));
  }
  return all;
}

}  // namespace h2rpc::rpc
