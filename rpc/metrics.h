// rpc/metrics.h — CallMetrics: per-call statistics with gRPC's metric names (gRFC A66,
// "OpenTelemetry Metrics"), recorded by an interceptor pair, and their Prometheus text
// exposition, which a program serves itself (examples/interceptors serves it on GET /metrics).
//
//   rpc::CallMetrics metrics;
//   server_options.interceptors.push_back(metrics.ServerInterceptor());
//   channel_options.interceptors.push_back(metrics.ClientInterceptor());
//   ...
//   std::string text = metrics.PrometheusText();  // "text/plain; version=0.0.4"
//
// Instruments (A66's, their default histogram buckets; labels grpc.method, grpc.status,
// grpc.target as A66 lists them per instrument):
//   server: grpc.server.call.started, grpc.server.call.duration,
//           grpc.server.call.sent_total_compressed_message_size,
//           grpc.server.call.rcvd_total_compressed_message_size
//   client: grpc.client.attempt.started, grpc.client.attempt.duration,
//           grpc.client.attempt.sent_total_compressed_message_size,
//           grpc.client.attempt.rcvd_total_compressed_message_size, grpc.client.call.duration
// In Prometheus they are named as OpenTelemetry's Prometheus exporter names them: dots become
// underscores, the unit is a suffix (_seconds, _bytes), counters end in _total; e.g.
// grpc_server_call_duration_seconds_bucket{grpc_method="pkg.Svc/M",grpc_status="OK",le="0.1"}.
//
// Where this differs from A66, and why:
// - Attempts are the call's (ClientInterceptor::OnAttemptStarted / OnAttemptFinished): the
//   first one, each retry or hedge of the service config's policy and each transparent retry
//   (A66 counts them all). An attempt starts after every interceptor's OnStart, before its
//   connection is picked; its status is its own (a retried one's failure, CANCELLED for a
//   hedge that lost); its bytes are those handed to its stream (replays included) and
//   received on it. A call an interceptor ends before its first attempt (EndLocally, an
//   OnStart error) records call.duration only. call.duration starts when the call was created.
// - Server calls start when the server has validated the request headers and found the
//   method: calls refused before (unknown method, bad headers) are not counted. grpc.method is
//   a registered method, or A66's "other" for the calls of a GenericService (server) and of a
//   GenericStub (client; rpc/generic.h), whose paths would otherwise make unbounded labels.
// - Client targets are recorded as given, with "dns:///" in front when the target names no
//   scheme (A66's canonical form).
//
// Threading: any thread (a mutex guards the series): one CallMetrics may serve several servers
// (rpc::ServerPool) and channels on several loops. Lifetime: must outlive the servers and
// channels whose interceptors it made, and their calls.
#ifndef H2RPC_RPC_METRICS_H_
#define H2RPC_RPC_METRICS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "rpc/client_call.h"
#include "rpc/server_interceptor.h"

namespace h2rpc::rpc {

class CallMetrics {
 public:
  // A66's default buckets.
  static const std::vector<double>& LatencyBuckets();  // seconds
  static const std::vector<double>& SizeBuckets();     // bytes

  CallMetrics();
  CallMetrics(const CallMetrics&) = delete;
  CallMetrics& operator=(const CallMetrics&) = delete;

  // Factories for ServerOptions::interceptors and ChannelOptions (or CallOptions)::interceptors.
  // Put them first to measure the calls as the application sees them.
  ServerInterceptorFactory ServerInterceptor();
  ClientInterceptorFactory ClientInterceptor();

  // The Prometheus text exposition format (version 0.0.4) of every instrument: # HELP and
  // # TYPE lines, then the series sorted by their labels. Serve it as
  // "text/plain; version=0.0.4; charset=utf-8".
  std::string PrometheusText() const;

  // What a histogram series holds (for tests and other exporters).
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket (upper bounds from the instrument), then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  // A counter's value, 0 if the series does not exist. `labels` in the instrument's order.
  uint64_t CounterValue(const std::string& name, const std::vector<std::string>& labels) const;
  // A histogram series, empty (count 0) if it does not exist.
  Histogram HistogramValue(const std::string& name, const std::vector<std::string>& labels) const;

  // Recording, by the interceptors (public for exporters of other sources). Unknown names and
  // wrong label counts are ignored.
  void Add(const std::string& name, const std::vector<std::string>& labels, uint64_t n = 1);
  void Record(const std::string& name, const std::vector<std::string>& labels, double value);

 private:
  struct Instrument {
    std::string name;  // A66's
    std::string help;
    bool histogram;
    std::vector<std::string> label_names;  // A66's (grpc.method, ...)
    const std::vector<double>* buckets;    // histograms
    std::map<std::vector<std::string>, uint64_t> counters;
    std::map<std::vector<std::string>, Histogram> histograms;
  };
  const Instrument* Find(const std::string& name) const;
  Instrument* Find(const std::string& name) { return const_cast<Instrument*>(std::as_const(*this).Find(name)); }

  // std::mutex rather than absl::Mutex: TSan sees through it (Debian's Abseil is not built for
  // TSan, whose reports on absl::Mutex are false).
  mutable std::mutex mu_;
  std::vector<Instrument> instruments_;  // guarded by mu_ (the series; the list is fixed)
};

// A66's canonical target: `target` with "dns:///" in front when it names no scheme.
std::string CanonicalTarget(const Channel& channel);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_METRICS_H_
