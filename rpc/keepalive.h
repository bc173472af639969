// rpc/keepalive.h — gRPC keepalive on one HTTP/2 connection (gRFC A8, grpc/doc/keepalive.md):
//   - KeepalivePinger: PING after `time` without a frame received; no ACK (and nothing else
//     read) within `timeout` and the connection is destroyed. Clients use it (ChannelOptions),
//     servers too, to find dead clients (ServerOptions, 2 h / 20 s by default).
//   - PingPolicy: a server's enforcement of its clients' pings, counted as grpc-go's
//     handlePing and gRPC C++'s ping abuse policy do: a PING less than `min_time` after the
//     previous one (2 h when no call is open and pings without calls are not permitted) is a
//     strike; the third strike gets GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") and the
//     connection is closed. Once the server has sent HEADERS or DATA, the next PING is always
//     allowed and clears the strikes (grpc-go; gRPC C++ also counts WINDOW_UPDATEs it writes):
//     BDP and latency pings follow data.
//
// Sans-I/O: both work on a transport::Http2Session through its public API (ping(), 'ping'
// events, lastFrameReceived(), streamFramesSent(), streamCount()) and take time from its loop
// (ManualLoop in tests).
//
// Threading: the session's loop thread.
// Lifetime rule: the handle KeepalivePinger::Attach() returns OWNS the pinger's timer, as
// transport::SessionTimeouts' handle owns its timers (the same rule, see there): it pings while
// the handle lives; Stop(), or dropping the handle, stops it for good; Attach() adds no 'close'
// listener, so the owner calls Stop() from the 'close' listener it has anyway (rpc::Server's per
// connection, the channel's per connection). The pinger never keeps the session alive. A handle
// kept past 'close' without Stop() keeps its timer armed until it fires once, finds the session
// destroyed and stops; the pinger's failure() stays readable as long as the handle lives.
// PingPolicy has no timer: its 'ping' listener holds it until the session's 'close', and the
// handle Attach() returns only lets its owner look.
// Timers are unref'd: they never keep a UvLoop running.
#ifndef H2RPC_RPC_KEEPALIVE_H_
#define H2RPC_RPC_KEEPALIVE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "transport/event_loop.h"
#include "transport/session.h"

namespace h2rpc::rpc {

// gRPC C++'s defaults for the server's own pings (GRPC_ARG_KEEPALIVE_TIME_MS/_TIMEOUT_MS).
inline constexpr absl::Duration kServerKeepaliveTime = absl::Hours(2);
inline constexpr absl::Duration kKeepaliveTimeout = absl::Seconds(20);
// gRPC C++'s GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS and max ping strikes.
inline constexpr absl::Duration kDefaultKeepaliveMinTime = absl::Minutes(5);
inline constexpr int kMaxPingStrikes = 2;
// What a PING without a call must wait for when such pings are not permitted (grpc-go's
// defaultPingTimeout, gRPC C++'s 2 h).
inline constexpr absl::Duration kPingIntervalWithoutCalls = absl::Hours(2);

struct KeepaliveOptions {
  absl::Duration time = absl::InfiniteDuration();  // infinite: no pings
  absl::Duration timeout = kKeepaliveTimeout;
  // Ping also while no call is open (servers: always true).
  bool permit_without_calls = false;
};

class KeepalivePinger : public std::enable_shared_from_this<KeepalivePinger> {
 public:
  // Starts pinging `session` and returns the pinger's owner (see the lifetime rule above);
  // nullptr if options.time is infinite or the session is closed.
  static std::shared_ptr<KeepalivePinger> Attach(
      const std::shared_ptr<transport::Http2Session>& session, KeepaliveOptions options);
  KeepalivePinger(const KeepalivePinger&) = delete;
  KeepalivePinger& operator=(const KeepalivePinger&) = delete;

  // A call started: a pinger that slept for want of calls wakes, and pings at once if the
  // connection has been silent for `time` already (A8).
  void OnCallStarted();
  // Why the pinger destroyed the connection (UNAVAILABLE naming the keepalive timeout), if it
  // did: what calls that were on it report.
  const std::optional<absl::Status>& failure() const { return failure_; }
  uint64_t pings_sent() const { return pings_sent_; }
  // No more pings; frees the timer. The owner calls it from its 'close' listener.
  void Stop();

 private:
  KeepalivePinger(const std::shared_ptr<transport::Http2Session>& session,
                  KeepaliveOptions options);
  void Arm(uint64_t ms);
  void OnTimer();
  void OnAck(uint64_t ping);

  std::weak_ptr<transport::Http2Session> session_;
  transport::EventLoop* loop_;
  uint64_t time_ms_;
  uint64_t timeout_ms_;
  bool permit_without_calls_;
  enum class State { kWaiting, kPinging, kDormant, kStopped };
  State state_ = State::kWaiting;
  uint64_t ping_sent_at_ = 0;
  uint64_t pings_sent_ = 0;
  std::unique_ptr<transport::Timer> timer_;
  std::optional<absl::Status> failure_;
};

struct PingPolicyOptions {
  absl::Duration min_time = kDefaultKeepaliveMinTime;
  bool permit_without_calls = false;
  int max_strikes = kMaxPingStrikes;
};

class PingPolicy : public std::enable_shared_from_this<PingPolicy> {
 public:
  // Watches the PINGs `session` receives. `on_too_many_pings` (optional) runs when the policy
  // sends its GOAWAY, before the connection is closed.
  static std::shared_ptr<PingPolicy> Attach(
      const std::shared_ptr<transport::Http2Session>& session, PingPolicyOptions options,
      std::function<void()> on_too_many_pings = nullptr);
  PingPolicy(const PingPolicy&) = delete;
  PingPolicy& operator=(const PingPolicy&) = delete;

  int strikes() const { return strikes_; }

 private:
  PingPolicy(const std::shared_ptr<transport::Http2Session>& session, PingPolicyOptions options,
             std::function<void()> on_too_many_pings);
  void OnPing();

  std::weak_ptr<transport::Http2Session> session_;
  transport::EventLoop* loop_;
  uint64_t min_time_ms_;
  bool permit_without_calls_;
  int max_strikes_;
  std::function<void()> on_too_many_pings_;
  std::optional<uint64_t> last_ping_at_;
  uint64_t frames_sent_at_last_ping_ = 0;
  int strikes_ = 0;
  bool gone_away_ = false;
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_KEEPALIVE_H_
