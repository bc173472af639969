// transport/connect.h — node:http2's connect(): a ClientHttp2Session to an authority URL,
// "http://host:port" (h2c, prior knowledge) or "https://host:port" (TLS, ALPN h2).
//
// Threading: the loop's thread only. Lifetime: the session is shared_ptr (see session.h); it is
// usable at once — requests made before the connection is up are sent when it is ('connect').
#ifndef H2RPC_TRANSPORT_CONNECT_H_
#define H2RPC_TRANSPORT_CONNECT_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "transport/authority.h"
#include "transport/session.h"
#include "transport/socket_address.h"
#include "transport/tls.h"
#include "transport/uv_loop.h"

namespace h2rpc::transport {

struct ConnectOptions : SessionOptions {
  // TLS settings for https:// (ca/caFile to verify the server, rejectUnauthorized=false to skip
  // verification in tests). servername defaults to the host.
  TlsOptions tls;
  // net.connect()'s options, which Node's http2.connect() passes on:
  // `path`: connect to this Unix domain socket instead of the authority's host and port (which
  // still give :authority and the TLS servername); '\0' first for an abstract name (Linux).
  std::string path;
  // `lookup`: resolves the authority's host to the addresses to try, in order (default:
  // dnsLookup(), every address getaddrinfo gives). A refused address falls to the next one.
  LookupFunction lookup;
  // `family`: 4 or 6 keeps only that family's addresses from the lookup (0: both, the default);
  // an IP literal host is taken as it is (as net.connect()). No address left: getaddrinfo
  // ENOTFOUND. Another value: ERR_INVALID_ARG_VALUE.
  int family = 0;
  // `localAddress`, `localPort`: the local end to bind before connecting (an IP, else
  // ERR_INVALID_IP_ADDRESS; a failed bind is the session's 'error', "bind EADDRNOTAVAIL ...").
  std::string localAddress;
  uint16_t localPort = 0;
  // Node's `protocol` ('http:' or 'https:', the trailing colon optional): the scheme of an
  // Authority given without one (connect(loop, Authority, ...)); default 'https:'. Unused when
  // the authority has its scheme (always so for a URL string, as in Node).
  std::string protocol;
  // Node's `createConnection(authority, options)`: makes the connection instead of connect()
  // (a socket from elsewhere: a proxy tunnel, a socketpair, a MemorySocket in tests). It gets
  // the parsed authority and these options; the socket it returns is used as it is (no TLS
  // layer is added even for https://: return a TlsSocket for that); `path` and `lookup` are then
  // unused. An error it returns is connect()'s.
  std::function<absl::StatusOr<std::unique_ptr<Socket>>(const Authority& authority,
                                                        const ConnectOptions& options)>
      createConnection;
};

// Errors: parseAuthority()'s (ERR_INVALID_URL, ERR_HTTP2_UNSUPPORTED_PROTOCOL); a bad TLS setup;
// kInvalidArgument for a bad `path`. Connection failures arrive as the session's 'error': the
// socket's systemError() (getaddrinfo ENOTFOUND host, connect ECONNREFUSED 127.0.0.1:1; see
// socket_address.h) or the TLS engine's; requests made meanwhile (still pending) fail first,
// as in Node, with ERR_HTTP2_STREAM_CANCEL "(caused by: <that error>)", its absl code kept.
absl::StatusOr<std::shared_ptr<ClientHttp2Session>> connect(UvLoop* loop,
                                                           std::string_view authority,
                                                           ConnectOptions options = {});
// Node's connect() with an authority object (a URL's parts) instead of a string. An empty
// `scheme` takes options.protocol (default https); an empty host is "localhost" and port 0
// the scheme's default port (80, 443) — where Node 20 fails with ERR_SOCKET_BAD_PORT for
// an object without a port. ERR_HTTP2_UNSUPPORTED_PROTOCOL for another scheme.
absl::StatusOr<std::shared_ptr<ClientHttp2Session>> connect(UvLoop* loop, Authority authority,
                                                           ConnectOptions options = {});

// Node's connect(authority, options, listener): `listener` runs once at the session's 'connect'
// (registered before anything can happen, as Node's once('connect')).
absl::StatusOr<std::shared_ptr<ClientHttp2Session>> connect(
    UvLoop* loop, std::string_view authority, ConnectOptions options,
    std::function<void(std::shared_ptr<ClientHttp2Session>)> listener);

// Authority, parseAuthority() and defaultAuthority(): see authority.h.

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_CONNECT_H_
