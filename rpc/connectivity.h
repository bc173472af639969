// rpc/connectivity.h — gRPC's connectivity states (doc/connectivity-semantics-and-api.md), of
// a subchannel (one connection to one address) and of a channel (aggregated by its
// load-balancing policy: rpc/lb_policy.h).
//
// Threading: plain values. Lifetime: none.
#ifndef H2RPC_RPC_CONNECTIVITY_H_
#define H2RPC_RPC_CONNECTIVITY_H_

#include "absl/strings/string_view.h"

namespace h2rpc::rpc {

enum class ConnectivityState {
  kIdle,              // no connection and none wanted yet
  kConnecting,        // an attempt is under way
  kReady,             // connected: calls go out
  kTransientFailure,  // the attempts failed; the next one waits for its backoff
  kShutdown,          // closed for good
};

// gRPC's spelling: "IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN".
inline absl::string_view ConnectivityStateName(ConnectivityState s) {
  switch (s) {
    case ConnectivityState::kIdle: return "IDLE";
    case ConnectivityState::kConnecting: return "CONNECTING";
    case ConnectivityState::kReady: return "READY";
    case ConnectivityState::kTransientFailure: return "TRANSIENT_FAILURE";
    case ConnectivityState::kShutdown: return "SHUTDOWN";
  }
  return "UNKNOWN";
}

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CONNECTIVITY_H_
