// transport/compat/server_request.h — Http2ServerRequest: node:http2's compatibility-API request
// (lib/internal/http2/compat.js), the `req` of a 'request' event, over one exchange: an HTTP/2
// stream, or an HTTP/1.1 request when the server allows HTTP/1 (transport/http1/).
// It renders the HTTP/1 IncomingMessage shape: headers, method, url, body as 'data'/'end'.
//
// Threading: the stream's loop thread only. Lifetime: shared_ptr; the stream's listeners keep
// the request alive until the stream's 'close'; afterwards it stays valid while you hold it
// (properties keep their last values, stream operations do nothing).
#ifndef H2RPC_TRANSPORT_COMPAT_SERVER_REQUEST_H_
#define H2RPC_TRANSPORT_COMPAT_SERVER_REQUEST_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "transport/compat/compat_stream.h"
#include "transport/compat/proxy_socket.h"
#include "transport/event.h"
#include "transport/event_loop.h"
#include "transport/headers.h"
#include "transport/session.h"
#include "transport/stream.h"

namespace h2rpc::transport {

class Http2ServerRequest : public std::enable_shared_from_this<Http2ServerRequest> {
 public:
  // Wraps `stream` whose request headers are `headers` (the 'stream' event's). Normally made by
  // RequestEvents (compat_server.h) for each stream.
  static std::shared_ptr<Http2ServerRequest> create(std::shared_ptr<ServerHttp2Stream> stream,
                                                    const Headers& headers);
  // The request line of an exchange whose headers have no pseudo-headers (HTTP/1).
  struct RequestLine {
    std::string method, url, scheme, authority;
  };
  // Any exchange. Without `line`, the request line comes from the pseudo-headers (HTTP/2).
  static std::shared_ptr<Http2ServerRequest> create(std::shared_ptr<CompatStream> stream,
                                                    const Headers& headers,
                                                    std::optional<RequestLine> line);

  // --- properties (Node's names) ---
  const Headers& headers() const { return headers_; }
  // Node's rawHeaders: the fields in order (pairs instead of a flat array).
  const HeaderFields& rawHeaders() const { return headers_.raw(); }
  // Trailers received so far (complete after 'end').
  const Headers& trailers() const { return trailers_; }
  const HeaderFields& rawTrailers() const { return trailers_.raw(); }
  // :method, :path (Node's url; "" for CONNECT, which has none), :scheme; "" when absent.
  // For HTTP/1: the request line's, and "http"/"https".
  const std::string& method() const { return line_.method; }
  const std::string& url() const { return line_.url; }
  const std::string& scheme() const { return line_.scheme; }
  // :authority, or `host` without it (Node's getAuthority).
  const std::string& authority() const { return line_.authority; }
  // Node lets a router rewrite these; for HTTP/2 they change headers() too.
  void setUrl(std::string_view url);
  void setMethod(std::string_view method);
  // "2.0", or "1.1" / "1.0" for HTTP/1.
  std::string httpVersion() const { return stream_->httpVersion(); }
  int httpVersionMajor() const { return httpVersion()[0] - '0'; }
  int httpVersionMinor() const { return httpVersion()[2] - '0'; }
  bool aborted() const { return aborted_; }
  // Node's `complete`: aborted, ended, or the stream closed.
  bool complete() const { return aborted_ || ended_ || closed_ || stream_->destroyed(); }
  // Node's req.stream: the HTTP/2 stream; nullptr for HTTP/1.
  std::shared_ptr<ServerHttp2Stream> stream() const { return stream_->http2Stream(); }
  const std::shared_ptr<CompatStream>& exchange() const { return stream_; }
  // Node's req.socket and req.connection: a view of the connection (see proxy_socket.h), valid
  // for the request's whole life (unlike res.socket).
  ProxySocket socket() const { return ProxySocket(stream_); }
  ProxySocket connection() const { return socket(); }
  // Shortcuts of socket()'s: "" / 0 when unknown (in-memory sockets) or once the session is gone.
  std::string remoteAddress() const { return stream_->remoteAddress(); }
  uint16_t remotePort() const { return stream_->remotePort(); }
  bool encrypted() const { return stream_->encrypted(); }
  // The connection's ALPN protocol ("h2", "h2c" in cleartext, "http/1.1"), "" once it is gone.
  std::string alpnProtocol() const { return stream_->alpnProtocol(); }

  // --- readable side: the request body ---
  // The stream starts paused; the first onData() starts the flow (as Node's req.on('data')).
  ListenerId onData(std::function<void(std::string_view)> fn);
  ListenerId onEnd(std::function<void()> fn) { return end_event_.on(std::move(fn)); }
  void pause() { stream_->pause(); }
  void resume() { stream_->resume(); }

  // --- events ---
  // The peer reset the stream before it ended (not after the request closed).
  ListenerId onAborted(std::function<void()> fn) { return aborted_event_.on(std::move(fn)); }
  ListenerId onClose(std::function<void()> fn) { return close_event_.on(std::move(fn)); }
  ListenerId onTimeout(std::function<void()> fn) { return timeout_event_.on(std::move(fn)); }
  void off(ListenerId id);

  // Node's documented req.destroy([error]): destroys the exchange (HTTP/2: RST_STREAM,
  // INTERNAL_ERROR with an error, and 'close' for request and response; HTTP/1: the connection
  // closes). Node 20's own Http2ServerRequest only destroys its Readable and leaves the stream
  // open (the client then waits for ever): see transport/README.md. No-op once closed.
  void destroy(absl::Status error = absl::OkStatus());

  // Node's req.setTimeout(ms, cb): the stream's timeout; `callback` joins 'timeout'. No-op once
  // closed.
  void setTimeout(uint64_t ms, std::function<void()> callback = nullptr);

 private:
  Http2ServerRequest(std::shared_ptr<CompatStream> stream, const Headers& headers)
      : stream_(std::move(stream)), loop_(stream_->loop()), headers_(headers) {}
  void attach();

  std::shared_ptr<CompatStream> stream_;
  EventLoop* loop_;
  Headers headers_;
  RequestLine line_;
  Headers trailers_;
  bool aborted_ = false;
  bool ended_ = false;
  bool closed_ = false;
  bool reading_ = false;  // the stream's 'data' is forwarded (first onData)

  Event<std::string_view> data_event_;
  Event<> end_event_, aborted_event_, close_event_, timeout_event_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_COMPAT_SERVER_REQUEST_H_
