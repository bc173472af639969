#include "rpc/health/health_service.h"

#include <coroutine>
#include <mutex>
#include <utility>

#include "transport/uv_loop.h"

namespace h2rpc::rpc {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

namespace health_internal {

// One Watch call's wake-up: any thread says "something changed" (Wake), the call's coroutine
// waits for it (Changed) on its loop. The waiter is always resumed from a callback posted to
// that loop, never inline on the thread that called SetServingStatus.
// TODO(issue 15 item 8): this is a private stand-in for the coroutine toolkit's Event; move to it.
class Watcher {
 public:
  explicit Watcher(transport::EventLoop* loop) : loop_(loop) {
    // A UvLoop may be woken from any thread through its executor; other loops (ManualLoop in
    // sans-I/O tests) are single-threaded and take post() from their own thread.
    if (auto* uv = dynamic_cast<transport::UvLoop*>(loop)) executor_ = uv->executor();
  }

  // Any thread.
  void Wake() {
    std::shared_ptr<Awaitable<bool>::State> waiter;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiter = std::move(waiter_);
      waiter_ = nullptr;
      if (!waiter) dirty_ = true;  // the next Changed() returns at once
    }
    if (!waiter) return;
    auto resume = [waiter] { waiter->Complete(true); };
    if (executor_) {
      executor_->post(std::move(resume));  // false once the loop is gone: the call is gone too
    } else {
      loop_->post(std::move(resume));
    }
  }

  // The loop's thread: completes after the next Wake (at once if one came since the last call).
  Awaitable<bool> Changed() {
    std::lock_guard<std::mutex> lock(mu_);
    if (dirty_) {
      dirty_ = false;
      return Awaitable<bool>::Ready(true);
    }
    Awaitable<bool> changed;
    waiter_ = changed.state();
    return changed;
  }

 private:
  transport::EventLoop* loop_;
  std::shared_ptr<transport::LoopExecutor> executor_;
  std::mutex mu_;
  std::shared_ptr<Awaitable<bool>::State> waiter_;  // guarded by mu_
  bool dirty_ = false;  // guarded by mu_
};

}  // namespace health_internal

HealthService::HealthService() { statuses_[""] = kServing; }

HealthService::~HealthService() = default;

void HealthService::SetServingStatus(const std::string& service, ServingStatus status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return;
  UpdateLocked(service, status);
}

void HealthService::SetServingStatusAll(ServingStatus status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return;
  for (auto& [service, current] : statuses_) {
    if (current != status) UpdateLocked(service, status);
  }
}

void HealthService::ClearServingStatus(const std::string& service) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return;
  UpdateLocked(service, std::nullopt);
}

std::optional<HealthService::ServingStatus> HealthService::GetServingStatus(
    const std::string& service) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = statuses_.find(service);
  if (it == statuses_.end()) return std::nullopt;
  return it->second;
}

void HealthService::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& [service, status] : statuses_) status = kNotServing;
  // Every watcher, of a known service or not: its call ends now.
  for (auto& [service, watcher] : watchers_) watcher->Wake();
}

size_t HealthService::watchers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

void HealthService::UpdateLocked(const std::string& service, std::optional<ServingStatus> status) {
  if (status) {
    statuses_[service] = *status;
  } else {
    statuses_.erase(service);
  }
  auto [begin, end] = watchers_.equal_range(service);
  for (auto it = begin; it != end; ++it) it->second->Wake();
}

HealthCheckResponse::ServingStatus HealthService::WatchedLocked(const std::string& service) const {
  auto it = statuses_.find(service);
  if (it != statuses_.end()) return it->second;
  return shut_down_ ? kNotServing : HealthCheckResponse::SERVICE_UNKNOWN;
}

Task<absl::StatusOr<HealthCheckResponse>> HealthService::Check(ServerContext& context,
                                                              const HealthCheckRequest& request) {
  (void)context;
  std::optional<ServingStatus> status = GetServingStatus(request.service());
  if (!status) co_return absl::NotFoundError("unknown service");  // gRPC's words
  HealthCheckResponse response;
  response.set_status(*status);
  co_return response;
}

Task<absl::Status> HealthService::Watch(ServerContext& context, const HealthCheckRequest& request,
                                        ServerWriter<HealthCheckResponse>& writer) {
  auto watcher = std::make_shared<health_internal::Watcher>(context.loop());
  std::multimap<std::string, std::shared_ptr<health_internal::Watcher>>::iterator registered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    registered = watchers_.emplace(request.service(), watcher);
  }
  context.OnCancel([watcher] { watcher->Wake(); });
  std::optional<ServingStatus> sent;
  while (!context.IsCancelled()) {
    ServingStatus now;
    bool shut_down;
    {
      std::lock_guard<std::mutex> lock(mu_);
      now = WatchedLocked(request.service());
      shut_down = shut_down_;
    }
    if (sent != now) {
      HealthCheckResponse response;
      response.set_status(now);
      if (!co_await writer.Write(response)) break;  // the call is over
      sent = now;
    }
    if (shut_down) break;  // told NOT_SERVING: end the call, the server is going away
    co_await watcher->Changed();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    watchers_.erase(registered);
  }
  co_return absl::OkStatus();
}

}  // namespace h2rpc::rpc
