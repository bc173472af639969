#include "transport/performance.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
    : registry_(registryOf(loop)), callback_(std::move(callback)) {}

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

namespace {

// A JSON number as JavaScript prints it for the values we produce: integers without a
// fraction, others with the digits needed.
std::string number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v > -9e15 && v < 9e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrFormat("%.17g", v);
}

std::string number(const std::optional<double>& v) { return v ? number(*v) : "null"; }

}  // namespace

std::string toJSON(const PerformanceEntry& entry) {
  std::string detail;
  if (const auto* s = std::get_if<Http2SessionPerformanceDetail>(&entry.detail)) {
    detail = absl::StrCat(
        "{\"bytesWritten\":", s->bytesWritten, ",\"bytesRead\":", s->bytesRead,
        ",\"framesReceived\":", s->framesReceived, ",\"framesSent\":", s->framesSent,
        ",\"maxConcurrentStreams\":", s->maxConcurrentStreams,
        ",\"pingRTT\":", number(s->pingRTT),
        ",\"streamAverageDuration\":", number(s->streamAverageDuration),
        ",\"streamCount\":", s->streamCount, ",\"type\":\"", s->type, "\"}");
  } else {
    const auto& d = std::get<Http2StreamPerformanceDetail>(entry.detail);
    detail = absl::StrCat("{\"bytesRead\":", d.bytesRead, ",\"bytesWritten\":", d.bytesWritten,
                          ",\"id\":", d.id, ",\"timeToFirstByte\":", number(d.timeToFirstByte),
                          ",\"timeToFirstByteSent\":", number(d.timeToFirstByteSent),
                          ",\"timeToFirstHeader\":", number(d.timeToFirstHeader), "}");
  }
  return absl::StrCat("{\"name\":\"", entry.name, "\",\"entryType\":\"", entry.entryType,
                      "\",\"startTime\":", number(entry.startTime),
                      ",\"duration\":", number(entry.duration), ",\"detail\":", detail, "}");
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
