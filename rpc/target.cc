#include "rpc/target.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace h2rpc::rpc {

namespace {

using transport::SocketAddress;

absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "host[:port]" or "[v6]:port" split as gRPC's SplitHostPort does: an unbracketed text with
// more than one ':' is an IPv6 address without a port.
struct HostPort {
  std::string host;
  std::string port;  // empty when absent
  bool has_port = false;
  bool bracketed = false;
};

absl::StatusOr<HostPort> SplitHostPort(std::string_view text) {
  HostPort hp;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("missing ']'");
    hp.host = std::string(text.substr(1, close - 1));
    hp.bracketed = true;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return absl::InvalidArgumentError("junk after ']'");
      hp.port = std::string(rest.substr(1));
      hp.has_port = true;
    }
    return hp;
  }
  const size_t first = text.find(':');
  if (first != std::string_view::npos && text.find(':', first + 1) == std::string_view::npos) {
    hp.host = std::string(text.substr(0, first));
    hp.port = std::string(text.substr(first + 1));
    hp.has_port = true;
  } else {
    hp.host = std::string(text);
  }
  return hp;
}

absl::StatusOr<uint16_t> ParsePort(const HostPort& hp, uint16_t default_port, bool allow_zero) {
  if (!hp.has_port) return default_port;
  uint32_t port = 0;
  if (hp.port.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(hp.port[0])) ||
      !absl::SimpleAtoi(AbslView(hp.port), &port) || port > 65535 || (port == 0 && !allow_zero)) {
    return absl::InvalidArgumentError(absl::StrCat("bad port '", hp.port, "'"));
  }
  return static_cast<uint16_t>(port);
}

// A DNS name (letters, digits, '-', '_', '.') or an IP literal.
bool ValidHost(const HostPort& hp) {
  if (hp.host.empty()) return false;
  if (hp.bracketed || hp.host.find(':') != std::string::npos) {
    return SocketAddress::fromIp(hp.host, 0).ok();
  }
  for (char c : hp.host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

absl::Status ParseAddressList(std::string_view list, int family, Target* out) {
  if (list.empty()) return absl::InvalidArgumentError("no address");
  for (absl::string_view item : absl::StrSplit(AbslView(list), ',')) {
    std::string_view entry(item.data(), item.size());
    HostPort hp;
    if (family == AF_INET) {
      auto split = SplitHostPort(entry);
      if (!split.ok()) return split.status();
      hp = *split;
    } else if (!entry.empty() && entry.front() == '[') {
      auto split = SplitHostPort(entry);
      if (!split.ok()) return split.status();
      hp = *split;
    } else {
      hp.host = std::string(entry);  // an IPv6 address without brackets has no port
    }
    auto port = ParsePort(hp, kDefaultTargetPort, /*allow_zero=*/false);
    if (!port.ok()) return port.status();
    auto address = SocketAddress::fromIp(hp.host, *port);
    if (!address.ok() || address->family() != family) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", std::string(entry), "' is not an ", family == AF_INET ? "IPv4" : "IPv6",
          " address[:port]"));
    }
    out->addresses.push_back(*address);
  }
  return absl::OkStatus();
}

absl::Status ParseDns(std::string_view rest, Target* out) {
  // dns:[//authority/]host[:port]
  if (StartsWith(rest, "//")) {
    rest.remove_prefix(2);
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      return absl::InvalidArgumentError("dns://authority must be followed by /host");
    }
    out->dns_authority = std::string(rest.substr(0, slash));
    rest.remove_prefix(slash + 1);
  }
  if (rest.empty()) return absl::InvalidArgumentError("no host");
  auto hp = SplitHostPort(rest);
  if (!hp.ok()) return hp.status();
  if (!ValidHost(*hp)) {
    return absl::InvalidArgumentError(absl::StrCat("bad host '", hp->host, "'"));
  }
  auto port = ParsePort(*hp, kDefaultTargetPort, /*allow_zero=*/false);
  if (!port.ok()) return port.status();
  out->scheme = Target::Scheme::kDns;
  out->host = hp->host;
  out->port = *port;
  out->endpoint = std::string(rest);
  return absl::OkStatus();
}

absl::Status ParseUnix(std::string_view rest, Target* out) {
  // unix:path, or unix://absolute_path (no authority: "unix://host/path" is refused, as gRPC).
  if (StartsWith(rest, "//")) {
    rest.remove_prefix(2);
    if (rest.empty() || rest.front() != '/') {
      return absl::InvalidArgumentError("unix:// needs an absolute path (unix:///path)");
    }
  }
  if (rest.empty()) return absl::InvalidArgumentError("no path");
  auto address = SocketAddress::fromPath(rest);
  if (!address.ok()) return address.status();
  out->scheme = Target::Scheme::kUnix;
  out->addresses = {*address};
  return absl::OkStatus();
}

absl::Status ParseUnixAbstract(std::string_view rest, Target* out) {
  if (rest.empty()) return absl::InvalidArgumentError("no name");
  auto address = SocketAddress::fromPath(absl::StrCat(std::string(1, '\0'), AbslView(rest)));
  if (!address.ok()) return address.status();
  out->scheme = Target::Scheme::kUnixAbstract;
  out->addresses = {*address};
  return absl::OkStatus();
}

}  // namespace

std::string Target::DefaultAuthority() const {
  switch (scheme) {
    case Scheme::kDns:
      return endpoint;
    case Scheme::kUnix:
    case Scheme::kUnixAbstract:
      return "localhost";
    case Scheme::kIpv4:
    case Scheme::kIpv6: {
      // gRPC sends the whole address list as written ("ipv4:10.0.0.1:1,10.0.0.2" gives
      // "10.0.0.1:1,10.0.0.2"), percent-encoding what an authority cannot hold (an IPv6
      // zone's '%').
      std::string authority;
      for (char c : std::string_view(text).substr(5)) {
        if (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
            std::string_view("-._~!$&'()*+,;=:[]@").find(c) != std::string_view::npos) {
          authority.push_back(c);
        } else {
          absl::StrAppend(&authority, "%", absl::Hex(static_cast<unsigned char>(c),
                                                     absl::kZeroPad2));
        }
      }
      return authority;
    }
  }
  return "";
}

absl::StatusOr<Target> ParseTarget(std::string_view target) {
  Target t;
  t.text = std::string(target);
  absl::Status st;
  if (target.empty()) {
    st = absl::InvalidArgumentError("empty");
  } else if (StartsWith(target, "dns:")) {
    st = ParseDns(target.substr(4), &t);
  } else if (StartsWith(target, "unix:")) {
    st = ParseUnix(target.substr(5), &t);
  } else if (StartsWith(target, "unix-abstract:")) {
    st = ParseUnixAbstract(target.substr(14), &t);
  } else if (StartsWith(target, "ipv4:")) {
    t.scheme = Target::Scheme::kIpv4;
    st = ParseAddressList(target.substr(5), AF_INET, &t);
  } else if (StartsWith(target, "ipv6:")) {
    t.scheme = Target::Scheme::kIpv6;
    st = ParseAddressList(target.substr(5), AF_INET6, &t);
  } else {
    // No scheme, or one gRPC does not know: the whole text is a dns name ("localhost:50051").
    // A "scheme://..." we do not support is named as such rather than as a bad host.
    const size_t colon = target.find(':');
    if (colon != std::string_view::npos && target.substr(colon + 1, 2) == "//") {
      st = absl::InvalidArgumentError(absl::StrCat(
          "unsupported scheme '", std::string(target.substr(0, colon)),
          "' (dns, unix, unix-abstract, ipv4 and ipv6 are)"));
    } else {
      st = ParseDns(target, &t);
    }
  }
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid target '", std::string(target),
                                                   "': ", st.message()));
  }
  return t;
}

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view address) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid listen address '", std::string(address), "': ", why));
  };
  ListenAddress out;
  if (StartsWith(address, "unix:") || StartsWith(address, "unix-abstract:")) {
    auto target = ParseTarget(address);
    if (!target.ok()) return invalid(target.status().message());
    out.path = target->addresses.front().address();
    return out;
  }
  std::string_view rest = address;
  if (StartsWith(rest, "ipv4:") || StartsWith(rest, "ipv6:")) rest.remove_prefix(5);
  if (StartsWith(rest, "dns:///")) rest.remove_prefix(7);
  auto hp = SplitHostPort(rest);
  if (!hp.ok()) return invalid(hp.status().message());
  if (!hp->has_port) return invalid("no port (host:port; 0 picks a free one)");
  auto port = ParsePort(*hp, 0, /*allow_zero=*/true);
  if (!port.ok()) return invalid(port.status().message());
  out.port = *port;
  const std::string lower = absl::AsciiStrToLower(hp->host);
  if (lower.empty() || lower == "::" || lower == "*") {
    out.host = "";
  } else if (lower == "localhost") {
    out.host = "127.0.0.1";
  } else if (SocketAddress::fromIp(hp->host, 0).ok()) {
    out.host = hp->host;
  } else {
    return invalid("the host must be an IP address, localhost or empty");
  }
  return out;
}

std::string AddressUri(const SocketAddress& address) {
  switch (address.family()) {
    case AF_INET:
      return absl::StrCat("ipv4:", address.toString());
    case AF_INET6:
      return absl::StrCat("ipv6:", address.toString());
    case AF_UNIX:
      if (address.isAbstract()) {
        return absl::StrCat("unix-abstract:", address.address().substr(1));
      }
      // "unix://" starts an absolute path after it, so a path that itself starts with "//"
      // is written "unix:////..." to parse back the same.
      return absl::StrCat(absl::StartsWith(address.address(), "//") ? "unix://" : "unix:",
                          address.address());
    default:
      return "";
  }
}

}  // namespace h2rpc::rpc
