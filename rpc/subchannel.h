// rpc/subchannel.h — Subchannel: one connection to ONE resolved address, with gRPC's
// connectivity states and its connection backoff (rpc/backoff.h). A load-balancing policy
// (rpc/lb_policy.h) owns one per address and picks among the READY ones.
//
//   IDLE --RequestConnection()--> CONNECTING --connected--> READY
//   CONNECTING --failed or connect timeout--> TRANSIENT_FAILURE --backoff--> CONNECTING
//   READY --connection lost, or GOAWAY (draining: no new calls)--> IDLE
//   any --Shutdown()--> SHUTDOWN
//
// The connection itself is made by a Connector (the channel's: a ClientHttp2Session to that
// address; tests pass fakes), so the state machine, the backoff schedule and the connect
// timeout run on any transport::EventLoop: a ManualLoop in tests gives exact times.
//
// SubchannelInterface is what a policy sees: policies are tested on fake subchannels.
//
// Threading: the loop's thread. Lifetime: shared_ptr; timers and connection events refer to
// the subchannel weakly, and events of an abandoned attempt are ignored.
#ifndef H2RPC_RPC_SUBCHANNEL_H_
#define H2RPC_RPC_SUBCHANNEL_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "rpc/backoff.h"
#include "rpc/connectivity.h"
#include "transport/event_loop.h"
#include "transport/session.h"
#include "transport/socket_address.h"

namespace h2rpc::rpc {

class KeepalivePinger;  // rpc/keepalive.h

// What calls on a READY subchannel need: its connection (null in tests with fake connectors),
// the connection's keepalive pinger, and whether it connected (for ConnectFailure()).
struct SubchannelConnection {
  std::shared_ptr<transport::ClientHttp2Session> session;
  std::shared_ptr<KeepalivePinger> keepalive;
  std::shared_ptr<bool> connected;
  // Abandons the connection (connect timeout, Shutdown()): closes it gracefully.
  std::function<void()> close;
};

class SubchannelInterface {
 public:
  virtual ~SubchannelInterface() = default;
  virtual ConnectivityState state() const = 0;
  // IDLE: starts connecting. Otherwise nothing (an attempt in backoff keeps its schedule).
  virtual void RequestConnection() = 0;
  virtual void Shutdown() = 0;
  virtual const transport::SocketAddress& address() const = 0;
  // Why the last attempt failed or the last connection was lost (OK if none).
  virtual const absl::Status& last_error() const = 0;
  // The connection of a READY subchannel.
  virtual const SubchannelConnection* connection() const = 0;
  // The connection being made (CONNECTING) or used (READY), if any.
  virtual const SubchannelConnection* attempt() const { return nullptr; }
  // Called after every state change (set by the owning policy).
  void set_watcher(std::function<void()> watcher) { watcher_ = std::move(watcher); }

 protected:
  void NotifyWatcher() {
    if (watcher_) {
      auto w = watcher_;  // the watcher may replace itself
      w();
    }
  }

 private:
  std::function<void()> watcher_;
};

// How a subchannel's connection reports back. Each attempt gets its own; calling one of an
// attempt the subchannel gave up is harmless.
struct ConnectionEvents {
  std::function<void()> on_ready;
  // Before on_ready: the attempt failed; after: the connection was lost.
  std::function<void(absl::Status)> on_closed;
  // The server sent GOAWAY: the connection takes no new calls (those in flight finish).
  std::function<void()> on_goaway;
};

using Connector =
    std::function<SubchannelConnection(const transport::SocketAddress&, ConnectionEvents)>;

struct SubchannelOptions {
  BackoffOptions backoff;
  uint64_t backoff_seed = 1;  // the jitter's generator
};

class Subchannel : public SubchannelInterface,
                   public std::enable_shared_from_this<Subchannel> {
 public:
  static std::shared_ptr<Subchannel> Create(transport::EventLoop* loop,
                                            transport::SocketAddress address,
                                            Connector connector, SubchannelOptions options = {});
  ~Subchannel() override;

  ConnectivityState state() const override { return state_; }
  void RequestConnection() override;
  void Shutdown() override;
  const transport::SocketAddress& address() const override { return address_; }
  const absl::Status& last_error() const override { return last_error_; }
  const SubchannelConnection* connection() const override {
    return state_ == ConnectivityState::kReady ? &connection_ : nullptr;
  }
  const SubchannelConnection* attempt() const override {
    return state_ == ConnectivityState::kConnecting || state_ == ConnectivityState::kReady
               ? &connection_
               : nullptr;
  }
  // Connection attempts started (each reconnect counts).
  int attempts() const { return attempts_; }
  // The loop's now() when the last attempt started.
  uint64_t last_attempt_at() const { return last_attempt_at_; }
  const ConnectionBackoff& backoff() const { return backoff_; }

 private:
  Subchannel(transport::EventLoop* loop, transport::SocketAddress address, Connector connector,
             SubchannelOptions options);
  absl::Time Now() const;
  void StartAttempt(ConnectionBackoff::Attempt attempt);
  void OnReady(uint64_t attempt);
  void OnClosed(uint64_t attempt, absl::Status status);
  void OnGoaway(uint64_t attempt);
  void Fail(absl::Status status);
  void SetState(ConnectivityState s);
  // Gives the current connection up (no more events from it).
  void Abandon();

  transport::EventLoop* loop_;
  transport::SocketAddress address_;
  Connector connector_;
  ConnectionBackoff backoff_;
  ConnectivityState state_ = ConnectivityState::kIdle;
  absl::Status last_error_;
  SubchannelConnection connection_;
  uint64_t attempt_id_ = 0;  // events carry it: an older attempt's are stale
  int attempts_ = 0;
  uint64_t last_attempt_at_ = 0;
  bool backoff_started_ = false;
  std::unique_ptr<transport::Timer> connect_timer_;  // the attempt's deadline
  std::unique_ptr<transport::Timer> backoff_timer_;  // TRANSIENT_FAILURE until the next attempt
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SUBCHANNEL_H_
