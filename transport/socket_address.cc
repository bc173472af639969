#include "transport/socket_address.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <sys/un.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "transport/errors.h"

namespace h2rpc::transport {

namespace {

absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

constexpr std::string_view kSyscallUrl = "h2rpc/syscall";
constexpr std::string_view kAddressUrl = "h2rpc/address";
constexpr std::string_view kDescriptionUrl = "h2rpc/description";

std::string payload(const absl::Status& status, std::string_view url) {
  absl::optional<absl::Cord> p = status.GetPayload(AbslView(url));
  return p ? std::string(*p) : std::string();
}

// strerror's wording ("Connection refused"), as gRPC prints it, rather than libuv's.
std::string describe(int uvError) {
  switch (uvError) {
    case UV_EAI_NONAME:
      return gai_strerror(EAI_NONAME);
    case UV_EAI_NODATA:
      return gai_strerror(EAI_NODATA);
    case UV_EAI_AGAIN:
      return gai_strerror(EAI_AGAIN);
    case UV_EAI_FAIL:
      return gai_strerror(EAI_FAIL);
    default:
      break;
  }
  if (uvError < 0 && uvError > -4096) return std::strerror(-uvError);
  return uv_strerror(uvError);
}

}  // namespace

absl::StatusOr<SocketAddress> SocketAddress::fromIp(std::string_view ip, uint16_t port) {
  std::string bare(ip);
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  SocketAddress a;
  if (uv_ip4_addr(bare.c_str(), port, reinterpret_cast<sockaddr_in*>(&a.storage_)) == 0) {
    a.length_ = sizeof(sockaddr_in);
    return a;
  }
  a.storage_ = {};
  // A zone ("fe80::1%eth0", "fe80::1%2"): libuv maps a name with if_nametoindex and silently
  // drops one it does not know, and does not read a number at all; a scope id lost that way
  // dials another interface, so both forms are read here and an unknown interface is refused.
  std::string zone;
  const size_t percent = bare.find('%');
  if (percent != std::string::npos) {
    zone = bare.substr(percent + 1);
    bare.resize(percent);
  }
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (bare.find('\0') == std::string::npos && uv_ip6_addr(bare.c_str(), port, a6) == 0) {
    if (percent != std::string::npos) {
      uint32_t scope = 0;
      if (zone.empty()) {
        // "fe80::1%" names no interface: refused below.
      } else if (std::all_of(zone.begin(), zone.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (zone.size() > 10 || std::stoull(zone) > UINT32_MAX) {
          return absl::InvalidArgumentError(
              absl::StrCat("bad IPv6 zone '", zone, "' in '", std::string(ip), "'"));
        }
        scope = static_cast<uint32_t>(std::stoull(zone));
      } else if (zone.find('\0') == std::string::npos) {
        scope = if_nametoindex(zone.c_str());
      }
      if (scope == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown network interface '", zone, "' in '", std::string(ip), "'"));
      }
      a6->sin6_scope_id = scope;
    }
    a.length_ = sizeof(sockaddr_in6);
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("not an IP address: '", std::string(ip), "'"));
}

absl::StatusOr<SocketAddress> SocketAddress::fromPath(std::string_view path) {
  sockaddr_un un{};
  // A filesystem path needs its terminating NUL inside sun_path; an abstract name does not.
  const bool abstract = !path.empty() && path.front() == '\0';
  if (path.empty() || (abstract && path.size() < 2) ||
      path.size() > sizeof(un.sun_path) - (abstract ? 0 : 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Unix socket path (1 to ", sizeof(un.sun_path) - 1, " bytes): '",
                     absl::CHexEscape(AbslView(path)), "'"));
  }
  if (!abstract && path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("invalid Unix socket path: it contains a NUL byte");
  }
  SocketAddress a;
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path.data(), path.size());
  std::memcpy(&a.storage_, &un, sizeof(un));
  // The abstract name is exactly the bytes given (no NUL padding counted in).
  a.length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                     (abstract ? 0 : 1));
  return a;
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr* addr, socklen_t length) {
  SocketAddress a;
  a.length_ = std::min<socklen_t>(length, sizeof(a.storage_));
  std::memcpy(&a.storage_, addr, a.length_);
  return a;
}

bool SocketAddress::isAbstract() const {
  if (!isUnix()) return false;
  auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
  return length_ > offsetof(sockaddr_un, sun_path) && un->sun_path[0] == '\0';
}

std::string SocketAddress::address() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&storage_), buf, sizeof(buf));
      return buf;
    case AF_INET6: {
      auto* a6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
      uv_ip6_name(a6, buf, sizeof(buf));
      if (a6->sin6_scope_id == 0) return buf;
      // The zone, as Node's remoteAddress shows it: the interface's name, else its number.
      char name[IF_NAMESIZE + 1] = {};
      size_t size = sizeof(name);
      if (uv_if_indextoname(a6->sin6_scope_id, name, &size) == 0) {
        return absl::StrCat(buf, "%", name);
      }
      return absl::StrCat(buf, "%", a6->sin6_scope_id);
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
      const size_t n = length_ - offsetof(sockaddr_un, sun_path);
      if (isAbstract()) return std::string(un->sun_path, n);
      return std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    default:
      return "";
  }
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::toString() const {
  switch (family()) {
    case AF_INET:
      return absl::StrCat(address(), ":", port());
    case AF_INET6:
      return absl::StrCat("[", address(), "]:", port());
    case AF_UNIX:
      return isAbstract() ? absl::StrCat("@", address().substr(1)) : address();
    default:
      return "";
  }
}

bool SocketAddress::operator==(const SocketAddress& other) const {
  return length_ == other.length_ && std::memcmp(&storage_, &other.storage_, length_) == 0;
}

absl::Status systemError(std::string_view syscall, int uvError, std::string_view address) {
  // Node's dns errors say ENOTFOUND for "no such name" (lib/internal/errors.js dnsException).
  std::string code = uv_err_name(uvError);
  if (uvError == UV_EAI_NONAME || uvError == UV_EAI_NODATA) code = "ENOTFOUND";
  std::string message = absl::StrCat(AbslView(syscall), " ", code);
  if (!address.empty()) absl::StrAppend(&message, " ", AbslView(address));
  absl::Status status = absl::UnavailableError(message);
  status.SetPayload(AbslView(kNodeCodePayloadUrl), absl::Cord(code));
  status.SetPayload(AbslView(kSyscallUrl), absl::Cord(AbslView(syscall)));
  status.SetPayload(AbslView(kAddressUrl), absl::Cord(AbslView(address)));
  status.SetPayload(AbslView(kDescriptionUrl), absl::Cord(describe(uvError)));
  return status;
}

SystemErrorInfo systemErrorInfo(const absl::Status& status) {
  SystemErrorInfo info;
  info.syscall = payload(status, kSyscallUrl);
  if (info.syscall.empty()) return info;
  info.code = nodeErrorCode(status);
  info.address = payload(status, kAddressUrl);
  info.description = payload(status, kDescriptionUrl);
  return info;
}

void dnsLookup(UvLoop* loop, const std::string& hostname, uint16_t port, LookupCallback callback) {
  auto fail = [&](int err) {
    loop->post([callback = std::move(callback), err, hostname] {
      callback(systemError("getaddrinfo", err, hostname));
    });
  };
  if (auto literal = SocketAddress::fromIp(hostname, port); literal.ok()) {
    loop->post([callback = std::move(callback), a = *literal] {
      callback(std::vector<SocketAddress>{a});
    });
    return;
  }
  const std::string lower = absl::AsciiStrToLower(hostname);
  absl::string_view name = lower;
  if (absl::EndsWith(name, ".")) name.remove_suffix(1);  // the root label
  if (name == "localhost" || absl::EndsWith(name, ".localhost")) {
    std::vector<SocketAddress> both = {*SocketAddress::fromIp("127.0.0.1", port),
                                       *SocketAddress::fromIp("::1", port)};
    loop->post([callback = std::move(callback), both] { callback(both); });
    return;
  }
  if (name.empty() || name == "invalid" || absl::EndsWith(name, ".invalid")) {
    fail(UV_EAI_NONAME);
    return;
  }
  struct Request {
    uv_getaddrinfo_t req;
    LookupCallback callback;
    std::string hostname;
    uint16_t port;
  };
  auto* r = new Request{{}, std::move(callback), hostname, port};
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rv = uv_getaddrinfo(
      loop->uv(), &r->req,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        std::unique_ptr<Request> r(reinterpret_cast<Request*>(req));
        if (status < 0 || res == nullptr) {
          if (res) uv_freeaddrinfo(res);
          r->callback(systemError("getaddrinfo", status < 0 ? status : UV_EAI_NONAME,
                                  r->hostname));
          return;
        }
        std::vector<SocketAddress> out;
        for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
          if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
          SocketAddress a = SocketAddress::fromSockaddr(ai->ai_addr, ai->ai_addrlen);
          auto with_port = SocketAddress::fromIp(a.address(), r->port);
          if (with_port.ok() &&
              std::find(out.begin(), out.end(), *with_port) == out.end()) {
            out.push_back(*with_port);
          }
        }
        uv_freeaddrinfo(res);
        if (out.empty()) {
          r->callback(systemError("getaddrinfo", UV_EAI_NODATA, r->hostname));
          return;
        }
        r->callback(std::move(out));
      },
      hostname.c_str(), nullptr, &hints);
  if (rv < 0) {
    callback = std::move(r->callback);
    delete r;
    fail(rv);
  }
}

}  // namespace h2rpc::transport
