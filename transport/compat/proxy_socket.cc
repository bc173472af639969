// ProxySocket: the connection facts come from the exchange's socket (see the header).
#include "transport/compat/proxy_socket.h"

#include "transport/session.h"
#include "transport/tls_socket.h"

namespace h2rpc::transport {

std::string ProxySocket::localAddress() const {
  const Socket* s = stream_->socket();
  return s ? s->localAddress() : "";
}

uint16_t ProxySocket::localPort() const {
  const Socket* s = stream_->socket();
  return s ? s->localPort() : 0;
}

std::optional<PeerCertificate> ProxySocket::getPeerCertificate() const {
  const auto* tls = dynamic_cast<const TlsSocket*>(stream_->socket());
  if (tls == nullptr) return std::nullopt;
  return tls->getPeerCertificate();
}

void ProxySocket::setTimeout(uint64_t ms, std::function<void()> callback) {
  if (std::shared_ptr<ServerHttp2Stream> h2 = stream_->http2Stream()) {
    if (Http2Session* session = h2->session()) session->setTimeout(ms, std::move(callback));
    return;
  }
  if (stream_->closed() || stream_->destroyed()) return;
  if (callback && ms > 0) {
    // Once, as Node's socket.setTimeout(ms, cb) (a once('timeout') listener).
    auto pending = std::make_shared<std::function<void()>>(std::move(callback));
    stream_->onTimeout([pending] {
      if (!*pending) return;
      auto run = std::move(*pending);
      *pending = nullptr;
      run();
    });
  }
  stream_->setTimeout(ms);
}

}  // namespace h2rpc::transport
