// rpc/lb_policy.h — load-balancing policies: which subchannel (rpc/subchannel.h) a call goes
// to, and the channel's connectivity state aggregated from the subchannels', as gRPC's
// (doc/load-balancing.md, doc/connectivity-semantics-and-api.md):
//   pick_first (the default): connects to the addresses in order, one at a time, and keeps
//     the first that connects for every call (sticky); when it is lost the channel goes IDLE
//     and asks for re-resolution, and the next call starts over from the first address.
//   round_robin: connects to every address and spreads the calls over the READY subchannels
//     in turn; a lost or failed subchannel reconnects (with its backoff) and the target is
//     re-resolved.
// A subchannel whose server sent GOAWAY leaves READY at once: no new call goes to it.
//
// Channel state: READY if a subchannel is (pick_first: the selected one); TRANSIENT_FAILURE
// when every address failed, until one connects (sticky, as gRPC); CONNECTING otherwise while
// there are addresses; IDLE before the first connection (and, for pick_first, after losing it).
//
// ParseLbPolicyFromServiceConfig() reads gRPC's service config JSON for its
// "loadBalancingConfig" (ServiceConfig::lb_policy(); the channel uses its parsed config).
//
// Threading: the loop's thread. Lifetime: owned by the channel (unique_ptr); the subchannels
// are shut down with it. The helper's callbacks may be called from any policy method.
#ifndef H2RPC_RPC_LB_POLICY_H_
#define H2RPC_RPC_LB_POLICY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rpc/connectivity.h"
#include "rpc/subchannel.h"
#include "transport/socket_address.h"

namespace h2rpc::rpc {

struct LbHelper {
  std::function<std::shared_ptr<SubchannelInterface>(const transport::SocketAddress&)>
      create_subchannel;
  // The channel's state changed (`error`: why, for TRANSIENT_FAILURE).
  std::function<void(ConnectivityState, const absl::Status& error)> update_state;
  // Resolve the target again and call UpdateAddresses().
  std::function<void()> request_reresolution;
};

// The payload (any value) of a connection failure that reached the server (a TLS or ALPN
// failure, not a refused address): the policies report it rather than a later refusal.
inline constexpr char kReachedServerPayload[] = "h2rpc.reached_server";

class LbPolicy {
 public:
  // "pick_first" or "round_robin"; INVALID_ARGUMENT for any other name.
  static absl::StatusOr<std::unique_ptr<LbPolicy>> Create(absl::string_view name,
                                                          LbHelper helper);
  virtual ~LbPolicy();

  // The resolver's (new) addresses. Subchannels of addresses still listed are kept.
  virtual void UpdateAddresses(std::vector<transport::SocketAddress> addresses) = 0;
  // The resolver failed: without subchannels the channel is in TRANSIENT_FAILURE.
  void ResolverError(const absl::Status& error);
  // The subchannel for a new call: a READY one, or null (the call waits or fails by state()).
  virtual SubchannelInterface* Pick() = 0;
  // Leaves IDLE: (re)connects.
  virtual void ExitIdle() = 0;
  ConnectivityState state() const { return state_; }
  // Why the channel is in TRANSIENT_FAILURE (the last subchannel or resolver error).
  const absl::Status& error() const { return error_; }
  void Shutdown();
  const std::vector<std::shared_ptr<SubchannelInterface>>& subchannels() const {
    return subchannels_;
  }

 protected:
  explicit LbPolicy(LbHelper helper) : helper_(std::move(helper)) {}
  // Replaces the subchannel list, keeping those whose address is still there (in the new
  // order), shutting down the others; each new one is watched by OnSubchannelChange().
  void SetAddresses(const std::vector<transport::SocketAddress>& addresses);
  virtual void OnSubchannelChange(SubchannelInterface* subchannel) = 0;
  // A subchannel for `address`, watched by OnSubchannelChange().
  std::shared_ptr<SubchannelInterface> NewSubchannel(const transport::SocketAddress& address);
  void SetState(ConnectivityState s, absl::Status error = absl::OkStatus());

  LbHelper helper_;
  std::vector<std::shared_ptr<SubchannelInterface>> subchannels_;
  ConnectivityState state_ = ConnectivityState::kIdle;
  absl::Status error_;
  absl::Status last_failure_;  // the most recent subchannel failure (see NewSubchannel())
  bool last_failure_reached_server_ = false;
  bool shut_down_ = false;
};

// The policy named by a service config's "loadBalancingConfig" (the first entry we know), or
// "" if it names none; INVALID_ARGUMENT for JSON we cannot read or an invalid config.
absl::StatusOr<std::string> ParseLbPolicyFromServiceConfig(absl::string_view json);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_LB_POLICY_H_
