#include "transport/performance.h"

#include <algorithm>
#include <utility>

#include "transport/errors.h"

namespace h2rpc::transport {

std::shared_ptr<PerformanceObserver> PerformanceObserver::create(EventLoop* loop,
                                                                 Callback callback) {
  return std::shared_ptr<PerformanceObserver>(new PerformanceObserver(loop, std::move(callback)));
}

namespace {

std::shared_ptr<internal::PerformanceRegistry> registryOf(EventLoop* loop) {
  auto& slot = loop->performanceRegistrySlot();
  if (!slot) slot = std::make_shared<internal::PerformanceRegistry>(loop);
  return slot;
}

}  // namespace

PerformanceObserver::PerformanceObserver(EventLoop* loop, Callback callback)
    : loop_(loop), registry_(registryOf(loop)), callback_(std::move(callback)) {}

PerformanceObserver::~PerformanceObserver() { registry_->remove(this); }

absl::Status PerformanceObserver::observe(const PerformanceObserverOptions& options) {
  if (options.entryTypes.empty() && !options.type) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_MISSING_ARGS",
                     "The \"options.entryTypes\" or \"options.type\" argument must be specified");
  }
  if (!options.entryTypes.empty() && options.type) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_ARG_VALUE",
                     "The property 'options.entryTypes' options.entryTypes can not set with "
                     "options.type together.");
  }
  const std::vector<std::string> types =
      options.type ? std::vector<std::string>{*options.type} : options.entryTypes;
  if (std::find(types.begin(), types.end(), "http2") == types.end()) {
    disconnect();  // nothing we produce is asked for (Node: no supported type left)
    return absl::OkStatus();
  }
  if (!observing_) {
    observing_ = true;
    registry_->add(this);
  }
  return absl::OkStatus();
}

void PerformanceObserver::disconnect() {
  if (observing_) {
    observing_ = false;
    registry_->remove(this);
  }
  buffer_.clear();
}

std::vector<PerformanceEntry> PerformanceObserver::takeRecords() {
  std::vector<PerformanceEntry> records = std::move(buffer_);
  buffer_.clear();
  return records;
}

namespace internal {

void PerformanceRegistry::add(PerformanceObserver* observer) { observers_.push_back(observer); }

void PerformanceRegistry::remove(PerformanceObserver* observer) {
  std::erase(observers_, observer);
}

void PerformanceRegistry::enqueue(PerformanceEntry entry) {
  for (size_t i = 0; i < observers_.size(); ++i) {
    PerformanceObserver* observer = observers_[i];
    if (i + 1 == observers_.size()) {
      observer->buffer_.push_back(std::move(entry));
    } else {
      observer->buffer_.push_back(entry);
    }
    if (!observer->pending_) {
      observer->pending_ = true;
      pending_.push_back(observer->weak_from_this());
    }
  }
  if (delivery_posted_ || pending_.empty()) return;
  delivery_posted_ = true;
  // One delivery for every entry enqueued until it runs (Node batches them the same way, one
  // setImmediate for all observers).
  std::weak_ptr<PerformanceRegistry> weak = weak_from_this();
  loop_->post([weak] {
    if (auto self = weak.lock()) self->deliver();
  });
}

void PerformanceRegistry::deliver() {
  delivery_posted_ = false;
  std::vector<std::weak_ptr<PerformanceObserver>> pending = std::move(pending_);
  pending_.clear();
  for (const auto& weak : pending) {
    std::shared_ptr<PerformanceObserver> observer = weak.lock();
    if (!observer) continue;
    observer->pending_ = false;
    std::vector<PerformanceEntry> entries = observer->takeRecords();
    // Disconnected meanwhile, or takeRecords() took them: nothing to deliver.
    if (entries.empty() || !observer->callback_) continue;
    observer->callback_(entries, *observer);
  }
}

}  // namespace internal
}  // namespace h2rpc::transport
