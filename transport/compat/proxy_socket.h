// transport/compat/proxy_socket.h — ProxySocket: what node:http2's compatibility API gives as
// req.socket, res.socket and their `connection` alias (compat.js's proxySocketHandler), as one
// small view of the connection under an exchange: addresses and ports, TLS facts, the
// connection's timeout and the exchange's destroy(). Node forwards every other property to the
// session's net.Socket and throws ERR_HTTP2_NO_SOCKET_MANIPULATION for write/read/pause/resume;
// this view simply has no such members (the bytes of an HTTP/2 session are not the
// application's).
//
// Threading: the loop thread only. Lifetime: a copyable value holding the exchange
// (shared_ptr); it never keeps the connection alive: once the session or HTTP/1 connection is
// gone, addresses are "" / 0, getPeerCertificate() is nullopt and setTimeout() does nothing.
#ifndef H2RPC_TRANSPORT_COMPAT_PROXY_SOCKET_H_
#define H2RPC_TRANSPORT_COMPAT_PROXY_SOCKET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "transport/compat/compat_stream.h"
#include "transport/tls.h"

namespace h2rpc::transport {

class ProxySocket {
 public:
  explicit ProxySocket(std::shared_ptr<CompatStream> stream) : stream_(std::move(stream)) {}

  // The peer's and our end of the connection (net.Socket's names).
  std::string remoteAddress() const { return stream_->remoteAddress(); }
  uint16_t remotePort() const { return stream_->remotePort(); }
  std::string localAddress() const;
  uint16_t localPort() const;
  // tls.TLSSocket's: whether the connection is TLS, its ALPN protocol ("h2", "http/1.1"; "h2c"
  // for cleartext HTTP/2 and "" for cleartext HTTP/1, as the exchange reports it), and the
  // certificate the peer presented (nullopt without TLS or without one).
  bool encrypted() const { return stream_->encrypted(); }
  std::string alpnProtocol() const { return stream_->alpnProtocol(); }
  std::optional<PeerCertificate> getPeerCertificate() const;

  // Node's proxy: the *session's* setTimeout (HTTP/2: 'timeout' after `ms` without frames on
  // the connection; `callback` runs once, at the next one); for HTTP/1 the exchange's idle
  // timeout, which is what the connection's socket timeout is there.
  void setTimeout(uint64_t ms, std::function<void()> callback = nullptr);
  // Node's proxy binds destroy to the *stream*: the exchange is destroyed (HTTP/2: RST_STREAM,
  // INTERNAL_ERROR with an error), not the whole connection.
  void destroy(absl::Status error = absl::OkStatus()) { stream_->destroy(std::move(error)); }
  bool destroyed() const { return stream_->destroyed(); }

 private:
  std::shared_ptr<CompatStream> stream_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_COMPAT_PROXY_SOCKET_H_
