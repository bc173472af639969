// rpc/health/health_service.h — HealthService: gRPC's health checking protocol
// (grpc.health.v1.Health, Check and Watch; grpc/doc/health-checking.md), ready to register:
//
//   rpc::HealthService health;          // "" (the whole server) starts SERVING
//   server.RegisterService(&health);
//   health.SetServingStatus("helloworld.Greeter", rpc::HealthService::kServing);
//
// As gRPC C++'s default health service: Check of a service never given a status is NOT_FOUND;
// Watch of one reports SERVICE_UNKNOWN (and reports its status once it gets one). Watch sends
// the current status first, then every change. When a server the service is registered with
// shuts down, every service becomes NOT_SERVING for good (later SetServingStatus calls are
// ignored): the watchers are told, then their calls end (OK) so that the shutdown's grace is
// not spent waiting for them.
//
// Threading: SetServingStatus, ClearServingStatus and GetServingStatus from any thread (a pool
// of loops, rpc/server_pool.h, included); a watcher is woken on its own call's loop. Lifetime:
// outlives the servers it is registered with.
#ifndef H2RPC_RPC_HEALTH_HEALTH_SERVICE_H_
#define H2RPC_RPC_HEALTH_HEALTH_SERVICE_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "grpc/health/v1/health.h2rpc.h"

namespace h2rpc::rpc {

namespace health_internal {
class Watcher;
}

class HealthService : public ::grpc::health::v1::Health::Service {
 public:
  using ServingStatus = ::grpc::health::v1::HealthCheckResponse::ServingStatus;
  static constexpr ServingStatus kServing = ::grpc::health::v1::HealthCheckResponse::SERVING;
  static constexpr ServingStatus kNotServing =
      ::grpc::health::v1::HealthCheckResponse::NOT_SERVING;

  HealthService();
  ~HealthService() override;

  // The status of `service` ("" = the whole server). Watchers of it are told. Ignored after
  // shutdown (everything stays NOT_SERVING).
  void SetServingStatus(const std::string& service, ServingStatus status);
  // Every service known to this health service, "" included.
  void SetServingStatusAll(ServingStatus status);
  // Forgets `service`: Check answers NOT_FOUND again, watchers get SERVICE_UNKNOWN.
  void ClearServingStatus(const std::string& service);
  // nullopt if `service` has no status.
  std::optional<ServingStatus> GetServingStatus(const std::string& service) const;
  // Every service NOT_SERVING, for good (what a server's Shutdown does).
  void Shutdown();
  // Watch calls running now (for tests and metrics).
  size_t watchers() const;

  ::h2rpc::rpc::Task<absl::StatusOr<::grpc::health::v1::HealthCheckResponse>> Check(
      ServerContext& context, const ::grpc::health::v1::HealthCheckRequest& request) override;
  ::h2rpc::rpc::Task<absl::Status> Watch(
      ServerContext& context, const ::grpc::health::v1::HealthCheckRequest& request,
      ServerWriter<::grpc::health::v1::HealthCheckResponse>& writer) override;

 protected:
  void OnServerShutdown() override { Shutdown(); }

 private:
  // Sets (or clears, nullopt) a status and wakes its watchers; mu_ held.
  void UpdateLocked(const std::string& service, std::optional<ServingStatus> status);
  // What a watcher of `service` is told now; mu_ held.
  ::grpc::health::v1::HealthCheckResponse::ServingStatus WatchedLocked(
      const std::string& service) const;

  // std::mutex, not absl::Mutex: Debian's absl is not TSan-instrumented (threads_test).
  mutable std::mutex mu_;
  // All guarded by mu_.
  std::map<std::string, ServingStatus> statuses_;
  std::multimap<std::string, std::shared_ptr<health_internal::Watcher>> watchers_;
  bool shut_down_ = false;
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_HEALTH_HEALTH_SERVICE_H_
