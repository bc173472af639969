// transport/server.h — Http2Server: node:http2's createServer() (h2c with prior knowledge) and
// createSecureServer() (TLS with ALPN h2) on a libuv loop. Each accepted connection becomes a
// ServerHttp2Session ('session' event); its streams are forwarded as the server's 'stream'.
//
// Threading: the loop's thread only. Lifetime: the server must outlive none of its sessions
// (they hold no pointer to it); destroy it after close() has called back, or at any time when
// the loop is being torn down.
#ifndef H2RPC_TRANSPORT_SERVER_H_
#define H2RPC_TRANSPORT_SERVER_H_

#include <uv.h>

#include <functional>
#include <memory>
#include <map>
#include <set>
#include <vector>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "transport/event.h"
#include "transport/session.h"
#include "transport/socket_address.h"
#include "transport/tls.h"
#include "transport/uv_loop.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {

class PendingTls;
class PendingPlain;
class SessionTimeouts;  // transport/session_timeouts.h

// createServer() options: the session options plus the server's own.
struct ServerOptions : SessionOptions {
  // Inactivity timeout of each session in ms (Node's server.timeout); 0 = none.
  uint64_t timeout = 0;
  // Megabytes (10^6 bytes, like maxSessionMemory) that all the server's sessions together may
  // hold for their peers (a MemoryQuota; not in Node). Over it, the session holding the most
  // resets its largest stream (ENHANCE_YOUR_CALM), and new streams that still do not fit are
  // refused (REFUSED_STREAM). It bounds what peers make us hold (unread data, partial
  // messages, responses their windows hold back), not throughput: clients that read what they
  // ask for cost little of it. 0: no server-wide limit. Ignored when memoryQuota is set.
  uint32_t maxServerMemory = kDefaultMaxServerMemory;
  static constexpr uint32_t kDefaultMaxServerMemory = 32;
  // Not in Node's http2 (which has neither and holds such connections forever); both are
  // 0 = none. See session_timeouts.h.
  //
  // ms from accept until the connection has finished its TLS handshake (secure servers) and
  // sent its HTTP/2 preface and first SETTINGS; a preface trickled byte by byte does not push
  // the deadline back. Past it the connection is dropped: during TLS, silently (as Node's
  // unknownProtocolTimeout); after, the session reports 'sessionError'
  // ERR_HTTP2_HANDSHAKE_TIMEOUT. The name is Node's tls.createServer() option, whose default is
  // 120 s (gRPC C++'s server handshake timeout too); 10 s, like unknownProtocolTimeout, because
  // a legitimate client on any network finishes both well within it while every held
  // connection costs a socket and a session.
  uint64_t handshakeTimeout = 10000;
  // ms a session may stay with no open stream and no frame either way; then it is closed
  // gracefully (GOAWAY NO_ERROR; clients reconnect when they need to). 3 min as nghttpx's
  // frontend HTTP/2 idle timeout and nginx's former http2_idle_timeout; Envoy's idle_timeout is
  // 1 h, gRPC's max_connection_idle off (rpc::ServerOptions has it). Node's HTTP/1
  // keepAliveTimeout is the same idea (5 s there). Clients that ping keep their connection.
  uint64_t sessionIdleTimeout = 180000;
  // Node's allowHTTP1: a secure server also offers ALPN "http/1.1". The HTTP/1 connections (TLS
  // with ALPN http/1.1 or none; cleartext whose first bytes are not the HTTP/2 preface) go to
  // the server's HTTP/1 handler (setHttp1Handler; transport/http1/ sets it) when there is one.
  bool allowHTTP1 = false;
};

// server.listen() options beyond host and port (Node's listen({...}) object).
struct ListenOptions {
  // SO_REUSEPORT (Node >= 22.12's `reusePort`): several servers, typically one per event loop and
  // thread, may listen on the same port and the kernel spreads new connections over them. Every
  // socket bound to the port must set it.
  bool reusePort = false;
  int backlog = 511;  // Node's default
};

class Http2Server {
 public:
  // Node's http2.createServer(): cleartext HTTP/2 (prior knowledge).
  static absl::StatusOr<std::unique_ptr<Http2Server>> createServer(UvLoop* loop,
                                                                   ServerOptions options = {});
  // Node's http2.createSecureServer(): TLS with ALPN "h2". A client that does not negotiate h2
  // gets 'unknownProtocol' and is disconnected after options.unknownProtocolTimeout.
  static absl::StatusOr<std::unique_ptr<Http2Server>> createSecureServer(
      UvLoop* loop, const TlsOptions& tls, ServerOptions options = {});
  ~Http2Server();

  // Listens on host:port (port 0 picks a free one; see port()). `host` is an IP address; without
  // one the server listens on every interface, as Node's server.listen(port) does: "::" (dual
  // stack, so IPv4 clients too), or "0.0.0.0" where the system has no IPv6. Tests pass
  // "127.0.0.1" to stay on loopback. Errors: EADDRINUSE etc.
  absl::Status listen(uint16_t port, const std::string& host = "",
                      const ListenOptions& options = {});
  // Node's server.listen(path): a Unix domain socket; '\0' first for an abstract name (Linux).
  // The socket file is removed when the server closes (libuv and so Node do the same); one
  // already there is EADDRINUSE (rpc::Server removes a stale one first, as gRPC does).
  // reusePort does not apply.
  absl::Status listenPath(const std::string& path, const ListenOptions& options = {});
  uint16_t port() const { return port_; }
  // The path listened on by listenPath() (empty otherwise): Node's server.address() for a pipe.
  const std::string& path() const { return path_; }
  // Node's server.address(): the bound address ("::" port 8080 after listen(8080)), or the
  // Unix path.
  const SocketAddress& address() const { return address_; }
  bool listening() const { return listening_; }

  // Stops accepting connections. `callback` runs once every session has closed. Sessions are
  // not closed by this (as Node); closeAllSessions() sends them GOAWAY and closes them
  // gracefully. Connections the kernel had queued for accept are accepted first, and those in
  // their TLS handshake (or being sniffed for HTTP/1) finish it: both become sessions as usual
  // (their client may have sent a request already) and `callback` waits for them too.
  void close(std::function<void()> callback = nullptr);
  void closeAllSessions();
  // Closes at once the connections that are not sessions yet (in their TLS handshake, or while
  // their first bytes tell HTTP/2 from HTTP/1): for the end of a shutdown's grace.
  void closePendingConnections();
  // Inactivity timeout applied to each new session ('timeout' on the server).
  void setTimeout(uint64_t ms, std::function<void(std::shared_ptr<ServerHttp2Session>)> cb = nullptr);
  // Settings for sessions created from now on.
  absl::Status updateSettings(const Settings& settings);
  // Node's server.setSecureContext(options): connections accepted from now on use a context made
  // from `options` (a rotated certificate, new CAs); open connections, and those already in
  // their handshake, keep theirs. As in Node, requestCert and rejectUnauthorized stay the
  // server's (from createSecureServer()); ALPNProtocols and SNICallback too (HTTP/2 needs "h2"),
  // and sessionTimeout / ticketKeys unless `options` sets them. Errors: those of
  // TlsContext::createServer (the current context is kept), kFailedPrecondition on a cleartext
  // server.
  absl::Status setSecureContext(const TlsOptions& options);
  // The same with a context already made (TlsContext::createServer), e.g. on another thread:
  // a TlsContext may be shared between threads, and this call is cheap. Taken as it is.
  absl::Status setSecureContext(std::shared_ptr<TlsContext> context);
  // The context new connections get (null on a cleartext server).
  const std::shared_ptr<TlsContext>& secureContext() const { return tls_; }
  size_t sessionCount() const { return sessions_.size(); }
  UvLoop* loop() const { return loop_; }
  // The allowHTTP1 hook (transport/http1/'s Http1Server::attach sets it): takes each connection
  // that is not HTTP/2, with the bytes already read from it; only with ServerOptions::allowHTTP1
  // (without it, connections are handled as before). Once set, a cleartext server reads
  // the first bytes of each connection to tell (24 bytes at most: the HTTP/2 preface), within
  // handshakeTimeout; a secure server hands it TLS connections that negotiated http/1.1 or no
  // ALPN (allowHTTP1 makes the server offer http/1.1).
  using Http1Handler = std::function<void(std::unique_ptr<Socket> socket, std::string prefix)>;
  void setHttp1Handler(Http1Handler handler) { http1_handler_ = std::move(handler); }
  // The budget the sessions share (maxServerMemory), or nullptr if there is none.
  const std::shared_ptr<MemoryQuota>& memoryQuota() const { return options_.memoryQuota; }

  using StreamListener = ServerHttp2Session::StreamListener;
  ListenerId onStream(StreamListener fn) { return stream_event_.on(std::move(fn)); }
  ListenerId onSession(std::function<void(std::shared_ptr<ServerHttp2Session>)> fn) {
    return session_event_.on(std::move(fn));
  }
  // An error on a session (it then closes): Node's 'sessionError'.
  ListenerId onSessionError(
      std::function<void(const absl::Status&, std::shared_ptr<ServerHttp2Session>)> fn) {
    return session_error_event_.on(std::move(fn));
  }
  ListenerId onTimeout(std::function<void(std::shared_ptr<ServerHttp2Session>)> fn) {
    return timeout_event_.on(std::move(fn));
  }
  // TLS client without ALPN h2 (only secure servers): (offered protocols).
  ListenerId onUnknownProtocol(std::function<void(const std::vector<std::string>&)> fn) {
    return unknown_protocol_event_.on(std::move(fn));
  }
  ListenerId onClose(std::function<void()> fn) { return close_event_.on(std::move(fn)); }
  // Node's 'connection' (net.Server's): each accepted connection, before anything is read from
  // it (before TLS on a secure server) and before its session exists. The socket is the server's
  // (the TCP or Unix one, never the TLS layer); listeners may read its addresses or destroy()
  // it, which drops the connection (no session, no 'session'). Emitted from the accept
  // callback, as net.Server emits it.
  ListenerId onConnection(std::function<void(Socket&)> fn) {
    return connection_event_.on(std::move(fn));
  }
  void off(ListenerId id);

 private:
  friend class PendingTls;
  friend class PendingPlain;
  // A cleartext connection while its first bytes tell HTTP/2 from HTTP/1 (with an HTTP/1 hook).
  void sniff(std::unique_ptr<Socket> socket, uint64_t accepted_at);
  Http2Server(UvLoop* loop, ServerOptions options, std::shared_ptr<TlsContext> tls);
  // The listener's accept callback (the public onConnection() is Node's 'connection' event).
  void onAccept();
  // Accepts, without waiting for the loop, what the kernel has queued on the listener.
  void acceptQueued();
  // An accepted connection: 'connection', then TLS, sniffing or a session.
  void takeConnection(std::unique_ptr<UvSocket> socket);
  // False if no session could be made (the socket is then gone).
  // `accepted_at`: loop time of the accept, from which handshakeTimeout counts.
  bool addSession(std::unique_ptr<Socket> socket, uint64_t accepted_at);
  void maybeFinishClose();
  void closeListener();
  absl::Status startListening(uv_stream_t* stream, int backlog, const std::string& where);

  UvLoop* loop_;
  ServerOptions options_;
  std::shared_ptr<TlsContext> tls_;
  uv_stream_t* listener_ = nullptr;  // TCP or pipe
  uint16_t port_ = 0;
  std::string path_;
  SocketAddress address_;
  bool listening_ = false;
  bool closing_ = false;
  // Each session with its timeouts (handshake, idle), which our 'close' listener stops: they
  // need no listener of their own.
  std::map<std::shared_ptr<ServerHttp2Session>, std::shared_ptr<SessionTimeouts>> sessions_;
  // TLS connections whose handshake is not done yet.
  std::map<PendingTls*, std::unique_ptr<PendingTls>> pending_tls_;
  std::map<PendingPlain*, std::unique_ptr<PendingPlain>> pending_plain_;
  Http1Handler http1_handler_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  Event<std::shared_ptr<ServerHttp2Stream>, const Headers&, uint8_t> stream_event_;
  Event<std::shared_ptr<ServerHttp2Session>> session_event_, timeout_event_;
  Event<const absl::Status&, std::shared_ptr<ServerHttp2Session>> session_error_event_;
  Event<const std::vector<std::string>&> unknown_protocol_event_;
  Event<> close_event_;
  Event<Socket&> connection_event_;
};

// Node's http2.performServerHandshake(socket[, options]): a ServerHttp2Session over a connection
// obtained some other way (accepted by your own listener, a socketpair, a MemorySocket), with
// no Http2Server around it: nothing forwards its streams or errors, listen to the session itself.
// Options are those of createServer() that concern a session (ServerOptions' server-level
// fields — timeout, handshakeTimeout, sessionIdleTimeout, maxServerMemory, allowHTTP1 — are
// not applied: as in Node, they belong to the server). A TLS connection must have negotiated h2
// already. Errors: ServerHttp2Session::create's (invalid options).
absl::StatusOr<std::shared_ptr<ServerHttp2Session>> performServerHandshake(
    EventLoop* loop, std::unique_ptr<Socket> socket, const SessionOptions& options = {});

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_SERVER_H_
