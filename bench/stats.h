// bench/stats.h — what both benchmark clients (ours and gRPC C++'s) share: a latency histogram,
// the request payload recipe and the one-line JSON report. Header-only and free of either RPC
// library, so it can go into both binaries (which must stay separate: each library's generated
// code defines classes named grpc::testing::BenchmarkService).
//
// Threading: plain values; one thread each. Lifetime: nothing held.
#ifndef H2RPC_BENCH_STATS_H_
#define H2RPC_BENCH_STATS_H_

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include <sys/resource.h>

namespace h2rpc::bench {

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time this process has used (user + system, all threads), in seconds.
inline double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Log-linear histogram of nanosecond values (HdrHistogram's layout): 128 linear sub-buckets per
// power of two, so a percentile is within 1/128 (< 0.8 %) of the true value; 0 ns .. 2^40 ns
// (~18 min). Record is a few instructions and allocates nothing.
class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMaxExp = 40;

  void Record(int64_t ns) {
    if (ns < 0) ns = 0;
    ++counts_[Index(static_cast<uint64_t>(ns))];
    ++count_;
  }
  void Reset() {
    counts_.fill(0);
    count_ = 0;
  }
  uint64_t count() const { return count_; }
  // The value at quantile q (0..1): the upper edge of the bucket holding it, in microseconds.
  double PercentileUs(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_));
    if (rank >= count_) rank = count_ - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) return static_cast<double>(UpperEdge(i)) / 1000.0;
    }
    return static_cast<double>(UpperEdge(counts_.size() - 1)) / 1000.0;
  }

 private:
  static size_t Index(uint64_t v) {
    if (v < static_cast<uint64_t>(kSub)) return static_cast<size_t>(v);
    const int msb = 63 - std::countl_zero(v);  // >= kSubBits
    int exp = msb - kSubBits + 1;              // 1 ..
    if (exp > kMaxExp) return kBuckets - 1;
    const uint64_t sub = (v >> (exp - 1)) - kSub;  // 0 .. kSub-1
    return static_cast<size_t>(exp) * kSub + static_cast<size_t>(sub);
  }
  static uint64_t UpperEdge(size_t index) {
    const size_t exp = index / kSub, sub = index % kSub;
    if (exp == 0) return sub;
    return ((kSub + sub + 1) << (exp - 1)) - 1;
  }
  static constexpr size_t kBuckets = static_cast<size_t>(kMaxExp + 1) * kSub;
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
};

// What a closed-loop client measured, and its JSON line.
struct Report {
  std::string impl;  // "h2rpc" or "grpcpp"
  std::string mode;
  int channels = 0;
  int outstanding = 0;
  int req_size = 0;
  int resp_size = 0;
  double duration_s = 0;  // measured time (after warm-up)
  uint64_t ops = 0;       // completed operations in the measured time (see README.md)
  uint64_t bytes = 0;     // payload bytes of those operations (request + response)
  uint64_t errors = 0;
  double cpu_s = 0;  // the client's CPU time in the measured time
  const Histogram* latency = nullptr;

  std::string Json() const {
    const double secs = duration_s > 0 ? duration_s : 1;
    char buf[1024];
    std::snprintf(buf, sizeof(buf),
                  "{\"impl\":\"%s\",\"mode\":\"%s\",\"channels\":%d,\"outstanding\":%d,"
                  "\"req_size\":%d,\"resp_size\":%d,\"duration_s\":%.3f,\"ops\":%llu,"
                  "\"ops_per_s\":%.1f,\"mb_per_s\":%.3f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
                  "\"p99_us\":%.1f,\"p99_9_us\":%.1f,\"errors\":%llu,"
                  "\"client_cpu_us_per_op\":%.3f}",
                  impl.c_str(), mode.c_str(), channels, outstanding, req_size, resp_size,
                  duration_s, static_cast<unsigned long long>(ops),
                  static_cast<double>(ops) / secs, static_cast<double>(bytes) / secs / 1e6,
                  latency ? latency->PercentileUs(0.50) : 0.0,
                  latency ? latency->PercentileUs(0.90) : 0.0,
                  latency ? latency->PercentileUs(0.99) : 0.0,
                  latency ? latency->PercentileUs(0.999) : 0.0,
                  static_cast<unsigned long long>(errors),
                  ops > 0 ? cpu_s * 1e6 / static_cast<double>(ops) : 0.0);
    return buf;
  }
};

// The client modes, by their --mode name. Each measures one BenchmarkService method:
//   unary            UnaryCall: one op = one call
//   pingpong         StreamingCall: one op = one request/response round trip on a long stream
//   server_streaming StreamingFromServer: one op = one response message received
//   client_streaming StreamingFromClient: one op = one request message sent (taken by the
//                    transport); the stream is ended and restarted every kClientStreamBatch
//   both_streaming   StreamingBothWays: one op = one response message received while requests flow
enum class Mode { kUnary, kPingPong, kServerStreaming, kClientStreaming, kBothStreaming };
inline constexpr int kClientStreamBatch = 1000;

inline bool ParseMode(const std::string& s, Mode* m) {
  if (s == "unary") *m = Mode::kUnary;
  else if (s == "pingpong") *m = Mode::kPingPong;
  else if (s == "server_streaming") *m = Mode::kServerStreaming;
  else if (s == "client_streaming") *m = Mode::kClientStreaming;
  else if (s == "both_streaming") *m = Mode::kBothStreaming;
  else return false;
  return true;
}

}  // namespace h2rpc::bench

#endif  // H2RPC_BENCH_STATS_H_
