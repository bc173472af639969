// rpc/target.h — channel targets and server listen addresses, per gRPC's naming doc
// (https://github.com/grpc/grpc/blob/master/doc/naming.md):
//
//   dns:[//authority/]host[:port]   resolved by DNS (every address); port 443 when absent
//   host[:port], [v6]:port          the same (no scheme, or an unknown one, means dns)
//   unix:path, unix:///abs/path     a Unix domain socket (relative or absolute path)
//   unix-abstract:name              a socket in Linux's abstract namespace
//   ipv4:addr[:port][,addr[:port]]  fixed IPv4 addresses (port 443 when absent)
//   ipv6:[addr]:port[,...]          fixed IPv6 addresses (brackets when a port is given)
//
// See rpc/README.md, "Targets", for the :authority each form sends.
//
// Threading: plain values and pure functions, any thread. Lifetime: values own their data.
#ifndef H2RPC_RPC_TARGET_H_
#define H2RPC_RPC_TARGET_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "transport/socket_address.h"

namespace h2rpc::rpc {

struct Target {
  enum class Scheme { kDns, kUnix, kUnixAbstract, kIpv4, kIpv6 };
  Scheme scheme = Scheme::kDns;
  std::string text;           // the target as given
  std::string dns_authority;  // dns://authority/...: the DNS server (not supported yet)
  std::string host;           // dns: the name or IP literal (no brackets)
  uint16_t port = 0;          // dns: the port (443 when absent)
  std::string endpoint;       // dns: host[:port] as written (the default :authority)
  // unix, unix-abstract, ipv4, ipv6: the addresses, known without resolving.
  std::vector<transport::SocketAddress> addresses;

  // The :authority calls send unless ChannelOptions::authority says otherwise, as gRPC C++ and
  // grpcio send it (tests/interop/grpc/naming_interop_test.sh): dns: host[:port] as written;
  // unix and unix-abstract: "localhost"; ipv4/ipv6: the address list as written.
  std::string DefaultAuthority() const;
};

inline constexpr uint16_t kDefaultTargetPort = 443;

// Errors: kInvalidArgument "invalid target '<target>': <why>".
absl::StatusOr<Target> ParseTarget(std::string_view target);

// Where a server listens: "host:port" (host an IP address, "localhost" for 127.0.0.1, "" or
// "[::]" / "0.0.0.0" for every interface), "ipv4:addr:port", "ipv6:[addr]:port", "unix:path",
// "unix:///abs/path" or "unix-abstract:name". The port is required (0 picks a free one).
struct ListenAddress {
  std::string host;  // for TCP ("" = every interface)
  uint16_t port = 0;
  std::string path;  // for Unix; '\0' first for an abstract name
  bool is_unix() const { return !path.empty(); }
};
// Errors: kInvalidArgument "invalid listen address '<address>': <why>".
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view address);

// "ipv4:127.0.0.1:1", "ipv6:[::1]:1", "unix:/run/x.sock", "unix-abstract:name": gRPC's way to
// name one address in messages.
std::string AddressUri(const transport::SocketAddress& address);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_TARGET_H_
