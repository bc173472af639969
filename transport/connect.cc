#include "transport/connect.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "transport/errors.h"
#include "transport/tls_socket.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {

std::string Authority::hostPort() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

absl::StatusOr<Authority> parseAuthority(std::string_view url) {
  auto invalid = [&] {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_URL",
                     absl::StrCat("Invalid URL: ", std::string(url)));
  };
  Authority a;
  std::string_view rest = url;
  if (rest.substr(0, 7) == "http://") {
    a.scheme = "http";
    a.port = 80;
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    a.scheme = "https";
    a.port = 443;
    rest.remove_prefix(8);
  } else {
    return invalid();
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  if (rest.empty()) return invalid();
  std::string_view port_text;
  if (rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return invalid();
    a.host = std::string(rest.substr(1, close - 1));
    if (a.host.find('[') != std::string::npos) return invalid();
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid();
      port_text = after.substr(1);
    }
  } else {
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      a.host = std::string(rest.substr(0, colon));
      port_text = rest.substr(colon + 1);
    } else {
      a.host = std::string(rest);
    }
  }
  if (a.host.empty()) return invalid();
  // Outside brackets a host has no '[', ']' or ':' (an IPv6 address needs its brackets), as
  // Node's URL parser says: "http://::1]:80", "http://a:b:80" and "http://a[b" are invalid.
  if (rest.front() != '[' && a.host.find_first_of("[]:") != std::string::npos) return invalid();
  if (!port_text.empty()) {
    uint32_t port;
    if (!absl::SimpleAtoi(std::string(port_text), &port) || port == 0 || port > 65535) {
      return invalid();
    }
    a.port = static_cast<uint16_t>(port);
  }
  return a;
}

absl::StatusOr<std::shared_ptr<ClientHttp2Session>> connect(UvLoop* loop,
                                                           std::string_view authority,
                                                           ConnectOptions options) {
  auto parsed = parseAuthority(authority);
  if (!parsed.ok()) return parsed.status();
  std::unique_ptr<Socket> socket;
  if (!options.path.empty()) {
    auto address = SocketAddress::fromPath(options.path);
    if (!address.ok()) return address.status();
    socket = UvSocket::connect(loop, std::vector<SocketAddress>{*address});
  } else {
    socket = UvSocket::connect(loop, parsed->host, parsed->port, options.lookup);
  }
  if (parsed->scheme == "https") {
    TlsOptions tls = options.tls;
    if (tls.servername.empty()) tls.servername = parsed->host;
    auto ctx = TlsContext::createClient(tls);
    if (!ctx.ok()) return ctx.status();
    auto tls_socket = TlsSocket::create(loop, std::move(socket), *ctx, /*isServer=*/false,
                                        tls.servername);
    if (!tls_socket.ok()) return tls_socket.status();
    socket = std::move(*tls_socket);
  }
  // Node's default :authority omits the scheme's default port.
  const bool default_port = (parsed->scheme == "http" && parsed->port == 80) ||
                            (parsed->scheme == "https" && parsed->port == 443);
  std::string host_header = default_port ? (parsed->host.find(':') != std::string::npos
                                                ? absl::StrCat("[", parsed->host, "]")
                                                : parsed->host)
                                         : parsed->hostPort();
  return ClientHttp2Session::create(loop, std::move(socket), parsed->scheme,
                                    std::move(host_header), std::move(options));
}

}  // namespace h2rpc::transport
