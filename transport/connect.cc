#include "transport/connect.h"

#include <sys/socket.h>
#include <uv.h>

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "transport/errors.h"
#include "transport/tls_socket.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {

std::string defaultAuthority(const Authority& parsed, std::string_view servername) {
  // Node: `${options.servername || host}:${port}`. Unlike Node, an IPv6 host keeps its brackets
  // ("[::1]:443"; Node sends "::1:443", which no peer can read as host and port).
  if (!servername.empty()) return absl::StrCat(std::string(servername), ":", parsed.port);
  return parsed.hostPort();
}

namespace {

// Keeps the addresses of `family` (4 or 6) from what `lookup` (or dnsLookup) gives; an IP
// literal host skips the filter, as net.connect() does not look it up.
LookupFunction familyFilter(UvLoop* loop, LookupFunction lookup, int family) {
  return [loop, lookup = std::move(lookup), family](const std::string& host, uint16_t port,
                                                    LookupCallback cb) {
    const bool literal = SocketAddress::fromIp(host, port).ok();
    auto filter = [literal, family, host, cb = std::move(cb)](
                      absl::StatusOr<std::vector<SocketAddress>> addresses) {
      if (!addresses.ok() || literal) return cb(std::move(addresses));
      std::vector<SocketAddress> kept;
      const int af = family == 4 ? AF_INET : AF_INET6;
      for (SocketAddress& a : *addresses) {
        if (a.family() == af) kept.push_back(std::move(a));
      }
      if (kept.empty()) return cb(systemError("getaddrinfo", UV_EAI_NONAME, host));
      cb(std::move(kept));
    };
    if (lookup) {
      lookup(host, port, std::move(filter));
    } else {
      dnsLookup(loop, host, port, std::move(filter));
    }
  };
}

absl::StatusOr<std::shared_ptr<ClientHttp2Session>> connectParsed(UvLoop* loop,
                                                                 const Authority& parsed,
                                                                 ConnectOptions options) {
  if (options.family != 0 && options.family != 4 && options.family != 6) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_ARG_VALUE",
                     absl::StrCat("The property 'options.family' must be one of: 0, 4, 6. "
                                  "Received ",
                                  options.family));
  }
  if (!options.localAddress.empty() && !SocketAddress::fromIp(options.localAddress, 0).ok()) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_IP_ADDRESS",
                     absl::StrCat("Invalid IP address: ", options.localAddress));
  }
  std::unique_ptr<Socket> socket;
  if (options.createConnection) {
    auto made = options.createConnection(parsed, options);
    if (!made.ok()) return made.status();
    if (*made == nullptr) {
      return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_RETURN_VALUE",
                       "createConnection returned no socket");
    }
    std::string host_header = defaultAuthority(parsed, options.tls.servername);
    return ClientHttp2Session::create(loop, std::move(*made), parsed.scheme,
                                      std::move(host_header), std::move(options));
  }
  if (!options.path.empty()) {
    auto address = SocketAddress::fromPath(options.path);
    if (!address.ok()) return address.status();
    socket = UvSocket::connect(loop, std::vector<SocketAddress>{*address});
  } else {
    UvSocket::TcpConnectOptions tcp;
    tcp.lookup = options.family == 0 ? options.lookup
                                     : familyFilter(loop, options.lookup, options.family);
    tcp.localAddress = options.localAddress;
    tcp.localPort = options.localPort;
    socket = UvSocket::connect(loop, parsed.host, parsed.port, std::move(tcp));
  }
  if (parsed.scheme == "https") {
    TlsOptions tls = options.tls;
    if (tls.servername.empty()) tls.servername = parsed.host;
    auto ctx = TlsContext::createClient(tls);
    if (!ctx.ok()) return ctx.status();
    auto tls_socket = TlsSocket::create(loop, std::move(socket), *ctx, /*isServer=*/false,
                                        tls.servername);
    if (!tls_socket.ok()) return tls_socket.status();
    socket = std::move(*tls_socket);
  }
  std::string host_header = defaultAuthority(parsed, options.tls.servername);
  return ClientHttp2Session::create(loop, std::move(socket), parsed.scheme,
                                    std::move(host_header), std::move(options));
}

}  // namespace

absl::StatusOr<std::shared_ptr<ClientHttp2Session>> connect(UvLoop* loop,
                                                           std::string_view authority,
                                                           ConnectOptions options) {
  auto parsed = parseAuthority(authority);
  if (!parsed.ok()) return parsed.status();
  return connectParsed(loop, *parsed, std::move(options));
}

absl::StatusOr<std::shared_ptr<ClientHttp2Session>> connect(UvLoop* loop, Authority authority,
                                                           ConnectOptions options) {
  if (authority.scheme.empty()) {
    std::string protocol = options.protocol.empty() ? std::string("https:") : options.protocol;
    if (!protocol.empty() && protocol.back() == ':') protocol.pop_back();
    authority.scheme = std::move(protocol);
  }
  if (authority.scheme != "http" && authority.scheme != "https") {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_UNSUPPORTED_PROTOCOL",
                     absl::StrCat("protocol \"", authority.scheme, ":\" is unsupported."));
  }
  if (authority.host.empty()) authority.host = "localhost";
  if (authority.port == 0) authority.port = authority.scheme == "http" ? 80 : 443;
  return connectParsed(loop, authority, std::move(options));
}

absl::StatusOr<std::shared_ptr<ClientHttp2Session>> connect(
    UvLoop* loop, std::string_view authority, ConnectOptions options,
    std::function<void(std::shared_ptr<ClientHttp2Session>)> listener) {
  auto session = connect(loop, authority, std::move(options));
  if (!session.ok() || !listener) return session;
  // once('connect'): the listener takes itself off before it runs. The session holds the
  // listener, so it holds the session weakly.
  auto id = std::make_shared<ListenerId>();
  std::weak_ptr<ClientHttp2Session> weak = *session;
  *id = (*session)->onConnect([weak, id, listener = std::move(listener)] {
    auto s = weak.lock();
    if (!s) return;
    s->off(*id);
    listener(s);
  });
  return session;
}

}  // namespace h2rpc::transport
