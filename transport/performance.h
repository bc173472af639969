// transport/performance.h — perf_hooks' 'http2' performance entries: what Node's
// PerformanceObserver with entryTypes ['http2'] receives, one entry per Http2Stream when it is
// destroyed and one per Http2Session when it closes (bytes, frames, durations, times to first
// byte/header, ping round trip).
//
//   auto obs = PerformanceObserver::create(loop, [](const std::vector<PerformanceEntry>& list,
//                                                   PerformanceObserver&) { ... });
//   obs->observe({.entryTypes = {"http2"}});
//
// Entries are delivered as Node delivers them: asynchronously, in batches, from the loop (a
// posted callback, never inside a call you make). Nothing is timed or queued while no observer
// of the loop observes 'http2': sessions and streams only count (plain increments), and a
// stream is timed only if it was created while the loop was observed (Node times every stream;
// see transport/README.md for this and the other deviations).
//
// Times are milliseconds on the loop's clock (EventLoop::now()): startTime is that clock's value
// when the session or stream started — its origin is the loop's (libuv's monotonic clock for
// UvLoop, 0 for ManualLoop), where Node's is performance.timeOrigin — and durations and
// timeToFirst* are differences of two readings of it, so their resolution is the loop's (1 ms).
//
// Threading: observers belong to one loop (≈ a Node isolate); create, observe and disconnect
// them on its thread, where their callbacks also run. Lifetime: observers are shared_ptr;
// destroying one disconnects it. The loop must outlive its observers.
#ifndef H2RPC_TRANSPORT_PERFORMANCE_H_
#define H2RPC_TRANSPORT_PERFORMANCE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "transport/event_loop.h"

namespace h2rpc::transport {

// entry.detail of an 'Http2Session' entry (Node's names and meanings).
struct Http2SessionPerformanceDetail {
  uint64_t bytesRead = 0;       // bytes read from the socket
  uint64_t bytesWritten = 0;    // bytes handed to the socket
  uint64_t framesReceived = 0;  // frames nghttp2 delivered (on_frame_recv)
  uint64_t framesSent = 0;      // frames nghttp2 sent (on_frame_send)
  uint64_t maxConcurrentStreams = 0;  // most streams open at once
  // Round trip of the last acknowledged PING, in ms (Node 20: in nanoseconds; 0 when none).
  double pingRTT = 0;
  // Mean duration (ms) of the session's streams that were timed (Node 20: the last stream's
  // duration divided by streamCount).
  double streamAverageDuration = 0;
  uint64_t streamCount = 0;  // streams the session had
  std::string type;          // "server" or "client"
};

// entry.detail of an 'Http2Stream' entry. timeToFirst*: ms from the stream's startTime;
// nullopt when it never happened (Node 20 reports a meaningless huge number then).
struct Http2StreamPerformanceDetail {
  int32_t id = 0;
  uint64_t bytesRead = 0;     // DATA payload received
  uint64_t bytesWritten = 0;  // DATA payload sent
  std::optional<double> timeToFirstByte;      // first DATA received (never set by Node 20)
  std::optional<double> timeToFirstByteSent;  // nghttp2 first asked the stream for DATA
  std::optional<double> timeToFirstHeader;    // first header block received
};

// Node's PerformanceEntry of entryType 'http2'.
struct PerformanceEntry {
  std::string name;                 // "Http2Session" or "Http2Stream"
  std::string entryType = "http2";
  double startTime = 0;             // ms, loop clock (see above)
  double duration = 0;              // ms
  std::variant<Http2SessionPerformanceDetail, Http2StreamPerformanceDetail> detail;
};

// JSON.stringify(entry) as Node writes it: {"name", "entryType", "startTime", "duration",
// "detail"}, the detail's fields in Node's order; a timeToFirst* that never happened is null.
std::string toJSON(const PerformanceEntry& entry);

// observe()'s options, Node's names: either entryTypes or type.
struct PerformanceObserverOptions {
  std::vector<std::string> entryTypes = {};
  std::optional<std::string> type = std::nullopt;
};

class PerformanceObserver : public std::enable_shared_from_this<PerformanceObserver> {
 public:
  // Node's callback(list, observer): the entries buffered since the last call, oldest first.
  using Callback =
      std::function<void(const std::vector<PerformanceEntry>& entries, PerformanceObserver&)>;

  static std::shared_ptr<PerformanceObserver> create(EventLoop* loop, Callback callback);
  PerformanceObserver(const PerformanceObserver&) = delete;
  PerformanceObserver& operator=(const PerformanceObserver&) = delete;
  ~PerformanceObserver();

  // Node's observe(): starts (or changes) what is observed. Entry types other than 'http2'
  // are accepted and ignored, as Node ignores types it does not support; with no 'http2'
  // among them the observer observes nothing (is disconnected). Errors (Node's):
  // ERR_MISSING_ARGS with neither entryTypes nor type, ERR_INVALID_ARG_VALUE with both.
  absl::Status observe(const PerformanceObserverOptions& options);
  // Stops observing and drops the entries not delivered yet.
  void disconnect();
  // The entries buffered and not delivered yet; they will not be delivered.
  std::vector<PerformanceEntry> takeRecords();
  bool observing() const { return observing_; }
  // Node's PerformanceObserver.supportedEntryTypes, as far as transport/ produces them.
  static std::vector<std::string> supportedEntryTypes() { return {"http2"}; }

 private:
  friend class internal::PerformanceRegistry;
  PerformanceObserver(EventLoop* loop, Callback callback);

  const std::shared_ptr<internal::PerformanceRegistry> registry_;
  Callback callback_;
  bool observing_ = false;
  bool pending_ = false;  // a delivery of buffer_ is scheduled
  std::vector<PerformanceEntry> buffer_;
};

namespace internal {

// The observers of one loop and the delivery of their entries (owned by the loop, see
// EventLoop::performanceRegistry()). Sessions and streams ask observing() before timing.
class PerformanceRegistry : public std::enable_shared_from_this<PerformanceRegistry> {
 public:
  explicit PerformanceRegistry(EventLoop* loop) : loop_(loop) {}
  bool observing() const { return !observers_.empty(); }
  // Buffers `entry` for every observer and schedules one delivery for all of them.
  void enqueue(PerformanceEntry entry);

 private:
  friend class transport::PerformanceObserver;
  void add(PerformanceObserver* observer);
  void remove(PerformanceObserver* observer);
  void deliver();

  EventLoop* const loop_;
  std::vector<PerformanceObserver*> observers_;  // observing 'http2'
  std::vector<std::weak_ptr<PerformanceObserver>> pending_;
  bool delivery_posted_ = false;
};

}  // namespace internal

// Whether 'http2' entries of `loop` are observed now: what sessions and streams check (two
// loads) before reading the clock or building an entry.
inline internal::PerformanceRegistry* http2Observed(const EventLoop* loop) {
  internal::PerformanceRegistry* registry = loop->performanceRegistry();
  return registry != nullptr && registry->observing() ? registry : nullptr;
}

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_PERFORMANCE_H_
