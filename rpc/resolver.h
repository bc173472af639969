// rpc/resolver.h — Resolver: a channel target's addresses, asked for afresh each time the
// channel resolves (first use, and each re-resolution: a DNS change is seen on reconnect). dns targets are looked up with
// transport::dnsLookup() (libuv's getaddrinfo on its thread pool; every address, in the order
// getaddrinfo gives); unix, unix-abstract, ipv4 and ipv6 targets have their addresses already.
// The result is the whole list: the channel's load-balancing policy (rpc/lb_policy.h) keeps
// one subchannel per address, and asks for a new resolution when they fail or are lost.
// A ResolveFunction of your own (ChannelOptions::resolve) replaces all of that for every
// scheme, and may also give a service config (gRPC's resolver result): the channel applies it
// (rpc/README.md, "Retries and service config"). The built-in DNS resolver gives one only when
// asked (DnsTxtOptions::enabled, ChannelOptions::dns_txt_service_config): gRFC A2's TXT record
// _grpc_config.<host> (rpc/dns_service_config.h), looked up alongside the addresses; a
// malformed record or a failed lookup gives no config (txt_error() keeps why), never a failed
// resolution.
//
// ConnectFailure() words why a connection failed the gRPC way: UNAVAILABLE naming the target,
// the address and the cause.
//
// Threading: the loop's thread. Lifetime: shared_ptr; a pending Resolve() holds the resolver.
#ifndef H2RPC_RPC_RESOLVER_H_
#define H2RPC_RPC_RESOLVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rpc/dns_service_config.h"
#include "rpc/target.h"
#include "transport/socket_address.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {

// What one resolution gives.
struct ResolverResult {
  std::vector<transport::SocketAddress> addresses;
  // The service config JSON the name system publishes for the target, if any.
  std::optional<std::string> service_config;
};
using ResolverResultCallback = std::function<void(absl::StatusOr<ResolverResult>)>;
// A resolver of your own: called on the loop for each resolution; calls `done` once (on the
// loop; later or at once) with the result or an error.
using ResolveFunction = std::function<void(const Target& target, ResolverResultCallback done)>;

// gRFC A2's service config in DNS, for dns: targets.
struct DnsTxtOptions {
  // Off by default, as in gRPC C++ 1.51 (see rpc/dns_service_config.h).
  bool enabled = false;
  // Replaces res_query() (tests: no real DNS).
  TxtLookupFunction lookup;
  // What the choice depends on: "" is LocalHostname(); an empty random_percent draws uniformly
  // in [0, 99].
  std::string hostname;
  std::function<int()> random_percent;
};

class Resolver : public std::enable_shared_from_this<Resolver> {
 public:
  // kInvalidArgument for a target this resolver cannot serve (a dns://authority/ DNS server).
  // `lookup`, if set, replaces DNS for dns: targets (ChannelOptions::lookup); `resolve`, if
  // set, replaces every built-in resolver (ChannelOptions::resolve).
  static absl::StatusOr<std::shared_ptr<Resolver>> Create(transport::UvLoop* loop, Target target,
                                                          transport::LookupFunction lookup = {},
                                                          ResolveFunction resolve = {},
                                                          DnsTxtOptions txt = {});

  // Calls back once, from the loop (never inside this call), with the addresses or
  // UNAVAILABLE "DNS resolution failed for <host:port> ...".
  void Resolve(transport::LookupCallback callback);
  // The same with the whole result (the addresses and a service config, if any). With
  // DnsTxtOptions::enabled, a dns: target's TXT record is looked up at the same time, and the
  // callback comes once both have answered.
  void ResolveWithConfig(ResolverResultCallback callback);
  // Why the last TXT lookup gave no config (a failed query, a malformed record); OK otherwise.
  const absl::Status& txt_error() const { return txt_error_; }
  // True when a ResolveFunction of the user's answers (no address is known without it).
  bool custom() const { return static_cast<bool>(resolve_); }
  const Target& target() const { return target_; }
  // How many times Resolve() was called (one per connection the channel made).
  int resolutions() const { return resolutions_; }

 private:
  Resolver(transport::UvLoop* loop, Target target, transport::LookupFunction lookup,
           ResolveFunction resolve, DnsTxtOptions txt)
      : loop_(loop),
        target_(std::move(target)),
        lookup_(std::move(lookup)),
        resolve_(std::move(resolve)),
        txt_(std::move(txt)) {}
  void ResolveWithTxt(ResolverResultCallback callback);
  transport::UvLoop* loop_;
  Target target_;
  transport::LookupFunction lookup_;
  ResolveFunction resolve_;
  DnsTxtOptions txt_;
  absl::Status txt_error_;
  int resolutions_ = 0;
};

// The status of a call whose connection failed before it was up. `error` is what the
// transport reported (a transport::systemError(), a TLS error, ...); `tls` whether the channel
// uses TLS. UNAVAILABLE, e.g.
//   failed to connect to all addresses of 'localhost:1'; last error: ipv4:127.0.0.1:1:
//   Connection refused (connect ECONNREFUSED 127.0.0.1:1)
//   DNS resolution failed for 'nonexistent.invalid:443': Name or service not known
//   (getaddrinfo ENOTFOUND nonexistent.invalid)
//   failed to connect to 'localhost:8443': TLS handshake failed: <OpenSSL's reason>
absl::Status ConnectFailure(const Target& target, const absl::Status& error, bool tls);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_RESOLVER_H_
