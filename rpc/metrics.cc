#include "rpc/metrics.h"

#include <charconv>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "rpc/client_interceptor.h"

namespace h2rpc::rpc {

namespace {

constexpr char kServerStarted[] = "grpc.server.call.started";
constexpr char kServerDuration[] = "grpc.server.call.duration";
constexpr char kServerSent[] = "grpc.server.call.sent_total_compressed_message_size";
constexpr char kServerRcvd[] = "grpc.server.call.rcvd_total_compressed_message_size";
constexpr char kAttemptStarted[] = "grpc.client.attempt.started";
constexpr char kAttemptDuration[] = "grpc.client.attempt.duration";
constexpr char kAttemptSent[] = "grpc.client.attempt.sent_total_compressed_message_size";
constexpr char kAttemptRcvd[] = "grpc.client.attempt.rcvd_total_compressed_message_size";
constexpr char kCallDuration[] = "grpc.client.call.duration";

// A66 records "pkg.Service/Method": the path without its leading slash.
std::string MethodLabel(const std::string& path) {
  return absl::StartsWith(path, "/") ? path.substr(1) : path;
}

std::string StatusLabel(const absl::Status& status) {
  return absl::StatusCodeToString(status.code());
}

// The shortest text that reads back as `v` (Prometheus parses Go's float syntax: 1e-05 is fine).
std::string FormatNumber(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

// The Prometheus name of an A66 instrument (OpenTelemetry's Prometheus exporter's rule).
std::string PrometheusName(const std::string& name, bool histogram) {
  std::string out = absl::StrReplaceAll(name, {{".", "_"}});
  if (!histogram) return out + "_total";
  return out + (absl::StrContains(name, "duration") ? "_seconds" : "_bytes");
}

// Label values escaped as the text format asks: backslash, double quote, newline.
std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string& le = "") {
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, absl::StrReplaceAll(names[i], {{".", "_"}}), "=\"",
                    absl::StrReplaceAll(values[i], {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}),
                    "\"");
  }
  if (!le.empty()) absl::StrAppend(&out, names.empty() ? "" : ",", "le=\"", le, "\"");
  return out + "}";
}

class ServerMetricsInterceptor : public ServerInterceptor {
 public:
  // OnFinish only: the byte counts come from the call, whose messages go the plain way.
  ServerMetricsInterceptor(CallMetrics* metrics, const ServerCall& call)
      : ServerInterceptor(kNoAsyncHooks),
        metrics_(metrics),
        method_(call.generic() ? "other" : MethodLabel(call.method())),
        start_(absl::Now()) {
    metrics_->Add(kServerStarted, {method_});
  }
  void OnFinish(ServerCall& call, absl::Status& status) override {
    const std::vector<std::string> labels = {method_, StatusLabel(status)};
    metrics_->Record(kServerDuration, labels, absl::ToDoubleSeconds(absl::Now() - start_));
    metrics_->Record(kServerSent, labels, static_cast<double>(call.message_bytes_sent()));
    metrics_->Record(kServerRcvd, labels, static_cast<double>(call.message_bytes_received()));
  }

 private:
  CallMetrics* metrics_;
  std::string method_;
  absl::Time start_;
};

class ClientMetricsInterceptor : public ClientInterceptor {
 public:
  ClientMetricsInterceptor(CallMetrics* metrics, const ClientCall& call)
      : ClientInterceptor(kNoAsyncHooks),  // (byte counts come from the attempts)
        metrics_(metrics),
        method_(call.generic_method() ? "other" : MethodLabel(call.method())),
        target_(CanonicalTarget(*call.channel())),
        call_start_(absl::Now()) {}
  // A66's attempt instruments, per attempt (retries, hedges and transparent retries each
  // count); the call's duration once.
  void OnAttemptStarted(ClientCall&, const CallAttempt&) override {
    metrics_->Add(kAttemptStarted, {method_, target_});
  }
  void OnAttemptFinished(ClientCall&, const CallAttempt& attempt,
                         const absl::Status& status) override {
    const std::vector<std::string> labels = {method_, target_, StatusLabel(status)};
    metrics_->Record(kAttemptDuration, labels, absl::ToDoubleSeconds(absl::Now() - attempt.start));
    metrics_->Record(kAttemptSent, labels, static_cast<double>(attempt.message_bytes_sent));
    metrics_->Record(kAttemptRcvd, labels, static_cast<double>(attempt.message_bytes_received));
  }
  void OnFinish(ClientCall&, absl::Status& status) override {
    const std::vector<std::string> labels = {method_, target_, StatusLabel(status)};
    metrics_->Record(kCallDuration, labels, absl::ToDoubleSeconds(absl::Now() - call_start_));
  }

 private:
  CallMetrics* metrics_;
  std::string method_;
  std::string target_;
  absl::Time call_start_;
};

}  // namespace

std::string CanonicalTarget(const Channel& channel) {
  const std::string& target = channel.target();
  if (channel.target_status().ok() && channel.parsed_target().scheme == Target::Scheme::kDns &&
      !absl::StartsWith(target, "dns:")) {
    return "dns:///" + target;
  }
  return target;
}

const std::vector<double>& CallMetrics::LatencyBuckets() {
  static const auto* const buckets = new std::vector<double>{
      0,     0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004,
      0.005, 0.006,   0.008,   0.01,   0.013,  0.016,  0.02,   0.025, 0.03,  0.04,  0.05,
      0.065, 0.08,    0.1,     0.13,   0.16,   0.2,    0.25,   0.3,   0.4,   0.5,   0.65,
      0.8,   1,       2,       5,      10,     20,     50,     100};
  return *buckets;
}

const std::vector<double>& CallMetrics::SizeBuckets() {
  static const auto* const buckets = new std::vector<double>{
      0,       1024,     2048,      4096,      16384,      65536,      262144,
      1048576, 4194304, 16777216, 67108864, 268435456, 1073741824, 4294967296};
  return *buckets;
}

CallMetrics::CallMetrics() {
  const std::vector<std::string> server = {"grpc.method"};
  const std::vector<std::string> server_end = {"grpc.method", "grpc.status"};
  const std::vector<std::string> client = {"grpc.method", "grpc.target"};
  const std::vector<std::string> client_end = {"grpc.method", "grpc.target", "grpc.status"};
  const auto* latency = &LatencyBuckets();
  const auto* size = &SizeBuckets();
  // A66's descriptions.
  instruments_ = {
      {kServerStarted, "The total number of RPCs started, including those that have not completed.",
       false, server, nullptr, {}, {}},
      {kServerDuration, "End-to-end time taken to complete a call from server transport's perspective.",
       true, server_end, latency, {}, {}},
      {kServerSent, "Compressed message bytes sent per server call", true, server_end, size, {}, {}},
      {kServerRcvd, "Compressed message bytes received per server call", true, server_end, size, {},
       {}},
      {kAttemptStarted, "Number of client call attempts started", false, client, nullptr, {}, {}},
      {kAttemptDuration, "Time taken to complete a client call attempt", true, client_end, latency,
       {}, {}},
      {kAttemptSent, "Compressed message bytes sent per client call attempt", true, client_end, size,
       {}, {}},
      {kAttemptRcvd, "Compressed message bytes received per call attempt", true, client_end, size,
       {}, {}},
      {kCallDuration, "Time taken by gRPC to complete an RPC from application's perspective", true,
       client_end, latency, {}, {}},
  };
}

ServerInterceptorFactory CallMetrics::ServerInterceptor() {
  return [this](ServerCall& call) { return std::make_unique<ServerMetricsInterceptor>(this, call); };
}

ClientInterceptorFactory CallMetrics::ClientInterceptor() {
  return [this](ClientCall& call) { return std::make_unique<ClientMetricsInterceptor>(this, call); };
}

const CallMetrics::Instrument* CallMetrics::Find(const std::string& name) const {
  for (const Instrument& i : instruments_) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

void CallMetrics::Add(const std::string& name, const std::vector<std::string>& labels,
                      uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  Instrument* i = Find(name);
  if (i == nullptr || i->histogram || labels.size() != i->label_names.size()) return;
  i->counters[labels] += n;
}

void CallMetrics::Record(const std::string& name, const std::vector<std::string>& labels,
                         double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Instrument* i = Find(name);
  if (i == nullptr || !i->histogram || labels.size() != i->label_names.size()) return;
  Histogram& h = i->histograms[labels];
  if (h.counts.empty()) h.counts.assign(i->buckets->size() + 1, 0);
  // Prometheus's buckets are "less than or equal": the first bound >= value.
  size_t b = 0;
  while (b < i->buckets->size() && value > (*i->buckets)[b]) ++b;
  ++h.counts[b];
  h.sum += value;
  ++h.count;
}

uint64_t CallMetrics::CounterValue(const std::string& name,
                                   const std::vector<std::string>& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Instrument* i = Find(name);
  if (i == nullptr) return 0;
  auto it = i->counters.find(labels);
  return it == i->counters.end() ? 0 : it->second;
}

CallMetrics::Histogram CallMetrics::HistogramValue(const std::string& name,
                                                   const std::vector<std::string>& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Instrument* i = Find(name);
  if (i == nullptr) return {};
  auto it = i->histograms.find(labels);
  return it == i->histograms.end() ? Histogram{} : it->second;
}

std::string CallMetrics::PrometheusText() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const Instrument& i : instruments_) {
    const std::string name = PrometheusName(i.name, i.histogram);
    absl::StrAppend(&out, "# HELP ", name, " ", i.help, "\n# TYPE ", name,
                    i.histogram ? " histogram\n" : " counter\n");
    if (!i.histogram) {
      for (const auto& [labels, value] : i.counters) {
        absl::StrAppend(&out, name, Labels(i.label_names, labels), " ", value, "\n");
      }
      continue;
    }
    for (const auto& [labels, h] : i.histograms) {
      // Buckets are cumulative in the exposition.
      uint64_t cumulative = 0;
      for (size_t b = 0; b <= i.buckets->size(); ++b) {
        cumulative += h.counts[b];
        const std::string le = b < i.buckets->size() ? FormatNumber((*i.buckets)[b]) : "+Inf";
        absl::StrAppend(&out, name, "_bucket", Labels(i.label_names, labels, le), " ", cumulative,
                        "\n");
      }
      absl::StrAppend(&out, name, "_sum", Labels(i.label_names, labels), " ", FormatNumber(h.sum),
                      "\n");
      absl::StrAppend(&out, name, "_count", Labels(i.label_names, labels), " ", h.count, "\n");
    }
  }
  return out;
}

}  // namespace h2rpc::rpc
