// transport/socket_address.h — SocketAddress: one place a socket connects to or listens on: an
// IPv4/IPv6 address and port (Node's net.SocketAddress), or a Unix domain socket path (Node's
// `path` option of net.connect()/server.listen(); a path starting with '\0' is in Linux's
// abstract namespace, as in Node). dnsLookup() turns a host name into a list of them (Node's
// dns.lookup(host, {all: true})), and systemError() is the Status of a failed system call
// (Node's SystemError: code, syscall, address).
//
// Threading: SocketAddress is a value, usable from any thread; dnsLookup() runs on the loop's
// thread and calls back there. Lifetime: dnsLookup()'s callback may run after its caller is gone
// (hold what it needs by shared_ptr/weak_ptr).
#ifndef H2RPC_TRANSPORT_SOCKET_ADDRESS_H_
#define H2RPC_TRANSPORT_SOCKET_ADDRESS_H_

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "transport/uv_loop.h"

namespace h2rpc::transport {

class SocketAddress {
 public:
  // An IP literal ("127.0.0.1", "::1", "[::1]" also accepted). kInvalidArgument otherwise.
  static absl::StatusOr<SocketAddress> fromIp(std::string_view ip, uint16_t port);
  // A Unix domain socket path; '\0' first for an abstract name. kInvalidArgument if empty or
  // longer than sockaddr_un can hold (107 bytes).
  static absl::StatusOr<SocketAddress> fromPath(std::string_view path);
  // A copy of a sockaddr of family AF_INET, AF_INET6 or AF_UNIX (`length` bytes of it).
  static SocketAddress fromSockaddr(const sockaddr* addr, socklen_t length);

  int family() const { return storage_.ss_family; }  // AF_INET, AF_INET6 or AF_UNIX
  bool isUnix() const { return family() == AF_UNIX; }
  bool isAbstract() const;
  // The IP address as text ("::1", no brackets), or the path ('\0' first if abstract).
  std::string address() const;
  uint16_t port() const;  // 0 for Unix
  // "127.0.0.1:50051", "[::1]:50051", "/run/x.sock", "@name" (abstract): for messages.
  std::string toString() const;

  const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }

  bool operator==(const SocketAddress& other) const;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

using LookupCallback = std::function<void(absl::StatusOr<std::vector<SocketAddress>>)>;
// Node's `lookup` option of net.connect(): resolves `hostname` (without brackets) to the
// addresses to try, in order, with `port` in each. Must call back exactly once, from the loop,
// never from inside the call.
using LookupFunction =
    std::function<void(const std::string& hostname, uint16_t port, LookupCallback callback)>;

// Node's dns.lookup(hostname, {all: true}) with the order getaddrinfo gives (Node's
// "verbatim"): every address, deduplicated. An IP literal is returned as is without a query;
// "localhost" and names under it are 127.0.0.1 and ::1 without asking DNS (RFC 6761 §6.3: a
// minimal system may have no /etc/hosts entry); names under ".invalid" fail at once with
// ENOTFOUND (RFC 6761 §6.4: never sent to a DNS server, so the failure is fast and offline).
// Errors: systemError("getaddrinfo", ...) with Node's code (ENOTFOUND for EAI_NONAME/NODATA,
// EAI_AGAIN, ...) and hostname as the address; kUnavailable.
void dnsLookup(UvLoop* loop, const std::string& hostname, uint16_t port, LookupCallback callback);

// Node's SystemError for a failed `syscall` with libuv error `uvError` (negative): message
// "connect ECONNREFUSED 127.0.0.1:1" (Node's), kUnavailable. Payloads: Node's code
// (kNodeCodePayloadUrl, "ECONNREFUSED"), and the fields below.
absl::Status systemError(std::string_view syscall, int uvError, std::string_view address);

// What a systemError() says, for callers that word their own messages (rpc/).
struct SystemErrorInfo {
  std::string code;         // "ECONNREFUSED", "ENOTFOUND"
  std::string syscall;      // "connect", "getaddrinfo"
  std::string address;      // "127.0.0.1:1", "/run/x.sock", or the host name for getaddrinfo
  std::string description;  // strerror's text: "Connection refused", "Name or service not known"
};
// Empty fields when `status` is not a systemError().
SystemErrorInfo systemErrorInfo(const absl::Status& status);

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_SOCKET_ADDRESS_H_
