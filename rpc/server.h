// rpc/server.h — Server: serves registered gRPC services over HTTP/2 (h2c or TLS) on a libuv
// loop. It validates each request (method, content-type, path, grpc-timeout, grpc-encoding,
// metadata), answers early errors in Trailers-Only, and runs the method's handler. The same
// handlers answer gRPC-Web (application/grpc-web[-text]; rpc/wire_protocol.h) and Connect
// (application/proto|json, application/connect+…; rpc/connect_protocol.h), over HTTP/2 and,
// with ServerOptions::allow_http1, over HTTP/1.1 on the same port (ServerOptions::protocols
// turns each off).
//
//   transport::UvLoop loop;
//   rpc::Server server(&loop);
//   GreeterImpl greeter;               // derives from the generated helloworld::Greeter::Service
//   server.RegisterService(&greeter);
//   server.Listen("127.0.0.1", 50051);
//   loop.run();
//
// Threading: the loop's thread only (other threads post to it: transport::LoopExecutor). Its
// handlers run on that thread; to serve on several threads, rpc::ServerPool (server_pool.h)
// runs one Server per loop on one port. Lifetime: services must outlive the server; destroy the
// server after Shutdown() has called back (or when tearing the loop down).
#ifndef H2RPC_RPC_SERVER_H_
#define H2RPC_RPC_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rpc/channelz.h"
#include "rpc/keepalive.h"
#include "rpc/metadata_limits.h"
#include "rpc/server_call.h"
#include "rpc/server_interceptor.h"
#include "rpc/service.h"
#include "rpc/target.h"
#include "transport/compat/compat_server.h"
#include "transport/compat/server_request.h"
#include "transport/compat/server_response.h"
#include "transport/http1/http1_server.h"
#include "transport/server.h"
#include "transport/session_timeouts.h"
#include "transport/tls.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {

class GenericService;    // rpc/generic.h
struct ConnectGetQuery;  // rpc/connect_protocol.h

// Cross-origin calls from web pages (CORS, the Fetch standard), for gRPC-Web: browsers ask before
// a call with custom headers (a preflight OPTIONS request) and show a page only the response
// headers the server exposes. Off while allowed_origins is empty.
struct CorsOptions {
  // Origins whose pages may call ("https://app.example.com", exact, as the browser sends its
  // `origin`); "*" allows every origin. The response names the caller's origin (with
  // `vary: origin`), never "*", so that allow_credentials works with any of them.
  std::vector<std::string> allowed_origins;
  // How long a browser may reuse a preflight's answer (access-control-max-age; browsers cap it:
  // Chromium at 2 h).
  absl::Duration max_age = absl::Hours(2);
  // A preflight's access-control-allow-headers echoes the headers the browser asks for
  // (access-control-request-headers); these are listed as well.
  std::vector<std::string> allowed_headers;
  // Response headers a page may read besides grpc-status, grpc-message and
  // grpc-status-details-bin (always exposed): e.g. the names of your response metadata.
  std::vector<std::string> exposed_headers;
  // access-control-allow-credentials: true (cookies, HTTP auth, client certificates).
  bool allow_credentials = false;
  bool enabled() const { return !allowed_origins.empty(); }
};

// The wire protocols a server answers (rpc/wire_protocol.h), each picked per call by the
// request's content-type. A request in a protocol turned off gets HTTP 415.
struct ProtocolOptions {
  bool grpc = true;      // application/grpc[+codec]
  bool grpc_web = true;  // application/grpc-web[-text][+codec]
  bool connect = true;   // application/proto|json, application/connect+proto|+json
};

struct ServerOptions {
  CallLimits limits;
  // Which protocols the handlers answer (all by default).
  ProtocolOptions protocols;
  // Interceptors of every call (rpc/server_interceptor.h), the first one outermost. Each
  // factory makes one per call.
  std::vector<ServerInterceptorFactory> interceptors;
  // HTTP/2 flow control (see kDefaultInitialWindowSize): the stream window each connection
  // advertises (an explicit http2.settings.initialWindowSize wins) and its connection window.
  // 0 keeps the transport's (Node's 65535).
  uint32_t initial_window_size = kDefaultInitialWindowSize;
  uint32_t connection_window_size = kDefaultConnectionWindowSize;
  // SETTINGS_MAX_FRAME_SIZE each connection advertises (see kDefaultMaxFrameSize); an explicit
  // http2.settings.maxFrameSize wins, 0 keeps HTTP/2's 16 KiB.
  uint32_t max_frame_size = kDefaultMaxFrameSize;
  // Memory budget in megabytes (10^6 bytes): what one connection, and all connections together,
  // may make the server hold (partial and unread messages, responses their windows hold back;
  // rpc/README.md, "Memory budget"). Over it, the stream holding the most is reset
  // (ENHANCE_YOUR_CALM; the client sees RESOURCE_EXHAUSTED). 32 MB per connection lets one
  // client run gRPC's interop concurrent_large_unary (120 calls of ~270 KB at once); 40 MB in
  // all keeps a hostile crowd under 64 MiB of RSS (tests/hardening). They set
  // http2.maxSessionMemory and http2.maxServerMemory; 0 keeps those.
  uint32_t max_connection_memory_mb = 32;
  uint32_t max_server_memory_mb = 40;
  // glibc raises its mmap threshold (up to 32 MiB) each time it frees a large block; from then
  // on freed message buffers stay in the heap, and a peer that churns large partial messages
  // leaves the process at its high-water mark (tests/hardening: +70 MB of RSS against +38 MB
  // for the same budget). When true, the first Server fixes the threshold at 256 KiB for the
  // process (what MALLOC_MMAP_THRESHOLD_=262144 does): larger blocks are mmapped and go back to
  // the kernel when freed. Smaller ones, and the transport's cached buffers, are unaffected.
  bool fix_malloc_mmap_threshold = true;
  // gRPC's limits on request metadata (rpc/metadata_limits.h; grpc.max_metadata_size and
  // grpc.absolute_max_metadata_size): over the soft limit a call is refused with
  // RESOURCE_EXHAUSTED with a probability rising linearly to 1 at the hard limit. 0 = gRPC's
  // default (8 KiB soft, 16 KiB hard) or derived from the other. The hard limit is advertised as
  // SETTINGS_MAX_HEADER_LIST_SIZE (an explicit http2.settings.maxHeaderListSize wins) and
  // http2.maxHeaderListPairs is raised to the most fields that fit in it: size decides, not
  // the count of fields (as in gRPC).
  uint32_t max_metadata_size = 0;
  uint32_t absolute_max_metadata_size = 0;
  // HTTP/2 settings and limits of each connection (Node's names; see transport/session.h).
  transport::ServerOptions http2;
  // SO_REUSEPORT on the listening socket, so several Servers (one per event loop and thread) can
  // listen on one port and the kernel spreads connections over them. All of them must set it.
  bool reuse_port = false;
  // gRPC's connection management (gRFC A9; gRPC C++'s GRPC_ARG_MAX_CONNECTION_IDLE_MS,
  // GRPC_ARG_MAX_CONNECTION_AGE_MS, GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS), with gRPC's defaults:
  // infinite, i.e. off. (The transport's own http2.handshakeTimeout and
  // http2.sessionIdleTimeout apply as well; see transport/server.h.)
  //
  // A connection without an outstanding call for this long gets GOAWAY(NO_ERROR) and closes;
  // PINGs do not count as activity. Frees what idle clients hold.
  absl::Duration max_connection_idle = absl::InfiniteDuration();
  // A connection this old (±10% random jitter, so that clients connected together do not all
  // reconnect together) gets GOAWAY(NO_ERROR): no new calls, running ones go on. Lets load
  // balancers rebalance long-lived clients.
  absl::Duration max_connection_age = absl::InfiniteDuration();
  // After max_connection_age's GOAWAY, the calls still running have this long; then the
  // connection is closed and they fail (UNAVAILABLE at the client). Infinite: they may finish.
  absl::Duration max_connection_age_grace = absl::InfiniteDuration();
  // Every GOAWAY this server sends to close gracefully (Shutdown(), max_connection_age,
  // max_connection_idle) is gRPC's two-phase one (rpc/README.md, "Shutdown"): GOAWAY with last
  // stream id 2^31-1 and a PING, then, on the PING's ACK or after this long, the final GOAWAY
  // with the last stream id processed. Calls that cross the first GOAWAY are served.
  absl::Duration goaway_ping_timeout = absl::Seconds(1);

  // Keepalive (gRFC A8, grpc/doc/keepalive.md; rpc/README.md, "Keepalive"), with gRPC C++'s
  // defaults. The server's own pings find dead clients: a PING after keepalive_time without a
  // frame from the client, and the connection is closed (its calls cancelled) if no ACK comes
  // within keepalive_timeout (GRPC_ARG_KEEPALIVE_TIME_MS / _TIMEOUT_MS). Infinite: no pings.
  absl::Duration keepalive_time = kServerKeepaliveTime;
  absl::Duration keepalive_timeout = kKeepaliveTimeout;
  // Enforcement of the clients' pings (GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
  // GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS): a PING sooner than keepalive_min_time after the
  // previous one — or than 2 h while no call is open, unless keepalive_permit_without_calls —
  // is a strike, unless the server sent HEADERS or DATA in between; after 2 strikes the next
  // one gets GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") and the connection is closed.
  absl::Duration keepalive_min_time = kDefaultKeepaliveMinTime;
  bool keepalive_permit_without_calls = false;

  // HTTP/1.1 on the same port (transport's allowHTTP1: a cleartext connection that does not
  // open with the HTTP/2 preface, a TLS one that negotiates ALPN http/1.1), for gRPC-Web clients
  // that cannot speak HTTP/2 (browsers over cleartext, curl, proxies). gRPC itself needs HTTP/2:
  // over HTTP/1.1 it is refused (HTTP 505, grpc-status INTERNAL saying so). Sets
  // http2.allowHTTP1.
  bool allow_http1 = false;
  // CORS for gRPC-Web calls from web pages (see CorsOptions); off by default. With it, an
  // OPTIONS preflight from an allowed origin gets 204 (methods POST, GET), from another origin
  // 403; gRPC-Web responses to an allowed origin carry access-control-allow-origin and
  // access-control-expose-headers. Plain gRPC responses never do (no browser speaks it).
  CorsOptions cors;
  // What answers the requests that are no call, as node:http2's compat 'request' listener
  // (transport/compat/compat_server.h), over HTTP/2 and, with allow_http1, HTTP/1.1: so one port
  // serves a web app's page beside its calls. No call is: a method other than POST (but an
  // OPTIONS preflight while cors is on, and a Connect GET of a served method), or a POST whose
  // content-type is no protocol's (rpc/wire_protocol.h). Unset, they are answered as a gRPC
  // server does: 405, or 415 for the content-type.
  transport::RequestEvents::RequestListener http_fallback;
};

// The per-connection timeouts `options` asks for (the max_connection_* fields), for
// transport::SessionTimeouts. `jitter` in [-1, 1] picks max_connection_age within its ±10%.
// Exposed for tests; the server draws a jitter per connection.
transport::SessionTimeoutOptions ConnectionTimeouts(const ServerOptions& options, double jitter);

class Server {
 public:
  explicit Server(transport::UvLoop* loop, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves `service`'s methods. Call before Listen; `service` must outlive the server.
  void RegisterService(Service* service);
  // Serves every method that no registered service has with `service` (rpc/generic.h): the
  // base of proxies. Without one such calls end UNIMPLEMENTED. Call before Listen; `service`
  // must outlive the server. A second call replaces the first.
  void RegisterGenericService(GenericService* service);
  // Cleartext HTTP/2 (prior knowledge). Port 0 picks a free port: see port(). `host` is an IP
  // address; "" listens on every interface (transport::Http2Server::listen).
  absl::Status Listen(const std::string& host, uint16_t port);
  // TLS with ALPN h2.
  absl::Status ListenTls(const std::string& host, uint16_t port, const transport::TlsOptions& tls);
  // The same with gRPC's address forms (rpc/target.h, ParseListenAddress): "127.0.0.1:50051",
  // "[::]:50051" (every interface), "unix:/run/x.sock", "unix:///abs/x.sock",
  // "unix-abstract:name". A socket file already at a unix path is removed first, as gRPC
  // C++ does, so that a crashed server's file does not block its successor (a live server there
  // loses its name; anything but a socket is left alone and the listen fails with EADDRINUSE);
  // the file is removed when the server closes. INVALID_ARGUMENT for a bad
  // address.
  absl::Status Listen(std::string_view address);
  absl::Status ListenTls(std::string_view address, const transport::TlsOptions& tls);
  // Certificate reload without a restart (transport's setSecureContext()): connections accepted
  // from now on use `tls` (its cert/key, CAs, ciphers, versions...); open connections keep
  // theirs. requestCert, rejectUnauthorized and ALPNProtocols stay those given to ListenTls.
  // Any thread, after ListenTls returned: the context (and its files) are made on the calling
  // thread, then swapped in on the loop (this waits for that when another thread runs the loop).
  // Errors: the context's (the current one stays), FAILED_PRECONDITION without ListenTls,
  // UNAVAILABLE when the loop is gone.
  absl::Status UpdateTlsOptions(const transport::TlsOptions& tls);
  // The same with a context already made (transport::TlsContext::createServer), taken as is.
  absl::Status UpdateTlsContext(std::shared_ptr<transport::TlsContext> context);
  // What UpdateTlsOptions(tls) would build: `tls` with the ListenTls options it keeps.
  static transport::TlsOptions KeepListenOptions(transport::TlsOptions tls,
                                                 const transport::TlsOptions& listened);
  uint16_t port() const;
  // The Unix socket path listened on ('\0' first if abstract), or "" for TCP.
  std::string path() const;
  // Serves the streams of a connection made elsewhere, e.g. a session over a
  // transport::MemorySocket on a ManualLoop (sans-I/O tests, tests/fuzz): the same request
  // validation and handlers as a listened connection's streams. Only the streams are taken:
  // the owner keeps the session, its windows and its closing (Shutdown() does not see it).
  // A server that only serves such sessions never listens and may be made with a null loop.
  void ServeSession(transport::ServerHttp2Session& session);
  // The same for one HTTP/1.1 request of a connection served elsewhere (a transport::Http1Server
  // of your own: sans-I/O tests, or a compat server that routes some paths here): `req` and
  // `res` as its RequestEvents gives them. Listened servers do this themselves with
  // allow_http1. Only gRPC-Web is served over HTTP/1.1.
  void ServeHttp1Request(std::shared_ptr<transport::Http2ServerRequest> req,
                         std::shared_ptr<transport::Http2ServerResponse> res);

  // Graceful stop: GOAWAY to every connection, no new calls; running calls have `grace` to
  // finish, then are cancelled. `done` runs once every connection is closed.
  // The GOAWAY is gRPC's two-phase one (see ServerOptions::goaway_ping_timeout): a call that
  // reaches the server before the final GOAWAY is served, one after it is never processed
  // (the client retries it elsewhere), none is refused.
  void Shutdown(absl::Duration grace, std::function<void()> done = nullptr);
  size_t active_calls() const { return *active_calls_; }
  // Connections closed with GOAWAY "too_many_pings" (see ServerOptions::keepalive_min_time).
  uint64_t too_many_pings() const { return *too_many_pings_; }
  // A channelz-like snapshot of the listened connections (rpc/channelz.h): peers, states,
  // counters, flow-control windows, open streams. Any thread: read directly on the loop
  // thread, else posted there and waited for. Sessions given to ServeSession() are not listed.
  // An empty snapshot if the loop is gone.
  ServerSnapshot Snapshot();

 private:
  absl::Status Start(std::unique_ptr<transport::Http2Server> http2, const ListenAddress& address);
  void OnStream(std::shared_ptr<transport::ServerHttp2Stream> stream,
                const transport::Headers& headers);
  // OnStream's work for either exchange: `stream` (HTTP/2) or `exchange` (HTTP/1.1, whose
  // `headers` then carry :method and :path too), exactly one set.
  // An HTTP/1.1 request as RequestEvents gave it, for http_fallback.
  struct Http1Request {
    std::shared_ptr<transport::Http2ServerRequest> req;
    std::shared_ptr<transport::Http2ServerResponse> res;
  };
  void StartCall(std::shared_ptr<transport::ServerHttp2Stream> stream,
                 std::shared_ptr<transport::CompatStream> exchange,
                 const transport::Headers& headers, const Http1Request* http1 = nullptr);
  // Hands a request that is no call to options_.http_fallback: `stream` (HTTP/2) or `http1`.
  void Fallback(std::shared_ptr<transport::ServerHttp2Stream> stream, const Http1Request* http1,
                const transport::Headers& headers);

  // The same for a Connect request (rpc/connect_protocol.h), from the point its handler is
  // known; `extra` the CORS fields (or null).
  void StartConnectCall(std::shared_ptr<transport::ServerHttp2Stream> stream,
                        std::shared_ptr<transport::CompatStream> exchange,
                        const transport::Headers& headers, const RequestContentType& type,
                        std::string path, bool generic, const MethodHandler& handler,
                        const transport::Headers* extra, ConnectGetQuery* get = nullptr);
  // A Connect GET (`target` the path before "?", `query` after it): for NO_SIDE_EFFECTS
  // methods only, 405 for others.
  void StartConnectGet(std::shared_ptr<transport::ServerHttp2Stream> stream,
                       std::shared_ptr<transport::CompatStream> exchange,
                       const transport::Headers& headers, absl::string_view target,
                       absl::string_view query);
  // A call made and validated: counted, started, handed to the interceptors and its handler.
  void LaunchCall(std::shared_ptr<ServerCall> call, transport::ServerHttp2Stream* stream,
                  bool generic, const MethodHandler& handler, std::optional<absl::Time> deadline);
  // The counters of the listened HTTP/1.1 connection `exchange` is on (made at its first
  // request, dropped when it closes); null for an Http1Server of the caller's own.
  std::shared_ptr<internal::ConnectionCounters> Http1Counters(
      const transport::CompatStream& exchange);

  transport::UvLoop* loop_;
  ServerOptions options_;
  MetadataSizeLimits metadata_limits_;
  std::map<std::string, MethodHandler, std::less<>> methods_;  // found by a view of :path
  std::optional<MethodHandler> generic_;  // RegisterGenericService
  std::set<std::string> services_;
  std::vector<Service*> registered_;  // for the Service hooks (OnServiceRegistered, ...)
  std::unique_ptr<transport::Http2Server> http2_;
  // allow_http1: the HTTP/1.1 connections' requests, and the server of those connections.
  std::shared_ptr<transport::RequestEvents> http1_events_;
  std::shared_ptr<transport::Http1Server> http1_;
  // http_fallback's (req, res) maker for HTTP/2 streams; null without one.
  std::shared_ptr<transport::RequestEvents> fallback_events_;
  std::optional<transport::TlsOptions> listen_tls_;  // set by ListenTls, then read-only
  ServerSnapshot SnapshotOnLoop() const;
  // Shutdown()'s two-phase GOAWAY (ServerOptions::goaway_ping_timeout).
  transport::GracefulCloseOptions DrainOptions() const;
  // Each open listened HTTP/2 connection, by its session: one entry, found with one hash lookup
  // per call (no reference counting). The session is weak (a connection keeps itself); its
  // counters (rpc/channelz.h) are made at its first call, so that an idle connection holds
  // none; its keepalive pinger is owned here and stopped by our 'close' listener.
  struct Connection {
    std::weak_ptr<transport::ServerHttp2Session> session;
    std::shared_ptr<internal::ConnectionCounters> counters;
    std::shared_ptr<KeepalivePinger> keepalive;
  };
  std::unordered_map<const transport::Http2Session*, Connection> connections_;
  // max_connection_idle / max_connection_age: each connection's SessionTimeouts, owned here and
  // stopped by the same 'close' listener. Not a field of Connection: a server without them
  // (the default) would pay 16 bytes per connection (its 64-byte node would become 80).
  std::unordered_map<const transport::Http2Session*, std::shared_ptr<transport::SessionTimeouts>>
      connection_timeouts_;
  // connections_' sessions that are still there, locked (Shutdown() closes them).
  std::vector<std::shared_ptr<transport::ServerHttp2Session>> OpenSessions() const;
  // allow_http1: each open HTTP/1.1 connection's counters, by its socket (what its exchanges
  // show); listed by Snapshot() beside the HTTP/2 ones.
  std::unordered_map<const transport::Socket*, std::shared_ptr<internal::ConnectionCounters>>
      http1_counters_;
  std::unique_ptr<transport::Timer> grace_timer_;
  // Shutdown() has begun / its grace is over: a connection that becomes a session from then on
  // (accepted just before, or done with its TLS handshake) is drained / closed at once.
  bool draining_ = false;
  bool grace_over_ = false;
  // Shared with each connection's PingPolicy: its callback holds this pointer alone, which
  // std::function stores inline (a callback holding `this` and `alive_` took an allocation per
  // connection), and which outlives the server as long as a policy may run.
  std::shared_ptr<uint64_t> too_many_pings_ = std::make_shared<uint64_t>(0);
  // Shared with the calls, which count themselves out when their stream closes.
  std::shared_ptr<size_t> active_calls_ = std::make_shared<size_t>(0);
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SERVER_H_
