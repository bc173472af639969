#include "transport/connect.h"

#include <utility>

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

absl::StatusOr<std::shared_ptr<ClientHttp2Session>> connect(UvLoop* loop,
                                                           std::string_view authority,
                                                           ConnectOptions options) {
  auto parsed = parseAuthority(authority);
  if (!parsed.ok()) return parsed.status();
  std::unique_ptr<Socket> socket;
  if (options.createConnection) {
    auto made = options.createConnection(*parsed, options);
    if (!made.ok()) return made.status();
    if (*made == nullptr) {
      return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_RETURN_VALUE",
                       "createConnection returned no socket");
    }
    std::string host_header = defaultAuthority(*parsed, options.tls.servername);
    return ClientHttp2Session::create(loop, std::move(*made), parsed->scheme,
                                      std::move(host_header), std::move(options));
  }
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
  std::string host_header = defaultAuthority(*parsed, options.tls.servername);
  return ClientHttp2Session::create(loop, std::move(socket), parsed->scheme,
                                    std::move(host_header), std::move(options));
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
