#include "rpc/server.h"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rpc/connect_protocol.h"
#include "rpc/generic.h"
#include "rpc/on_loop.h"
#include "rpc/status_util.h"
#include "rpc/timeout.h"
#include "rpc/wire_protocol.h"
#include "transport/block_pool.h"
#include "transport/constants.h"

namespace h2rpc::rpc {

namespace {

using transport::Headers;
using transport::MakePooledShared;

// See ServerOptions::fix_malloc_mmap_threshold.
void FixMallocMmapThreshold() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] { mallopt(M_MMAP_THRESHOLD, 256 * 1024); });
#endif
}

// Where an early error goes: the HTTP/2 stream or the HTTP/1.1 exchange (one is set).
struct EarlyReply {
  transport::ServerHttp2Stream* stream = nullptr;
  transport::CompatStream* exchange = nullptr;
};

// An early error: one HEADERS frame with END_STREAM carrying the status (Trailers-Only), in the
// request's protocol (gRPC-Web takes Trailers-Only in headers too; only its content-type differs).
void RespondTrailersOnly(EarlyReply to, const absl::Status& status,
                         const char* http_status = "200",
                         const RequestContentType* type = nullptr,
                         const Headers* extra = nullptr) {
  if (type != nullptr && IsConnect(type->protocol)) {
    // Connect: unary errors as an HTTP status and the error JSON; streaming ones as a 200
    // whose end-stream message holds the error.
    Headers h;
    std::string body;
    if (type->protocol == WireProtocol::kConnect) {
      ConnectUnaryError(status, "", h, body);
      if (std::string_view(http_status) != "200") {
        // An HTTP status of its own (an unknown path: 404, as connect-go's mux answers).
        Headers fixed{{":status", http_status}};
        for (const transport::HeaderField& f : h) {
          if (f.name != ":status") fixed.add(f.name, f.value);
        }
        h = std::move(fixed);
      }
    } else {
      h.add(":status", "200");
      h.add("content-type", ResponseContentType(*type));
      ConnectStatusParts parts;
      parts.code = status.code();
      parts.message = std::string(status.message());
      body = ConnectEnvelope(kConnectEndStreamFlag, ConnectEndStreamJson(parts));
    }
    if (extra != nullptr) {
      for (const transport::HeaderField& f : *extra) h.add(f.name, f.value);
    }
    if (to.stream != nullptr) {
      (void)to.stream->respond(h, {.endStream = false, .sendDate = false});
      (void)to.stream->write(transport::SharedBuffer(std::move(body)));
      to.stream->end();
    } else {
      (void)to.exchange->respond(h, {.endStream = false, .sendDate = false});
      (void)to.exchange->write(std::move(body), nullptr);
      to.exchange->end();
    }
    return;
  }
  Headers h{{":status", http_status},
            {"content-type", type ? ResponseContentType(*type) : std::string("application/grpc")}};
  h.add("grpc-accept-encoding", AcceptEncodingHeader(CompressionSet::All()));
  if (extra != nullptr) {
    for (const transport::HeaderField& f : *extra) h.add(f.name, f.value);
  }
  h.add("grpc-status", absl::StrCat(static_cast<int>(status.code())));
  if (!status.message().empty()) h.add("grpc-message", PercentEncodeGrpcMessage(status.message()));
  if (to.stream != nullptr) {
    (void)to.stream->respond(h, {.endStream = true, .sendDate = false});
  } else {
    (void)to.exchange->respond(h, {.endStream = true, .sendDate = false});
  }
}

// --- CORS (ServerOptions::cors) ---

bool OriginAllowed(const CorsOptions& cors, std::string_view origin) {
  if (origin.empty()) return false;
  for (const std::string& allowed : cors.allowed_origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

// What every response to an allowed origin carries.
Headers CorsResponseHeaders(const CorsOptions& cors, std::string_view origin) {
  Headers h{{"access-control-allow-origin", std::string(origin)}, {"vary", "origin"}};
  if (cors.allow_credentials) h.add("access-control-allow-credentials", "true");
  // connect-es's `cors.exposedHeaders`: gRPC-Web's status fields, and Connect's compression
  // fields (content-encoding is not CORS-safelisted; a page's fetch() would not see it).
  std::string exposed =
      "grpc-status, grpc-message, grpc-status-details-bin, content-encoding, "
      "connect-content-encoding";
  for (const std::string& name : cors.exposed_headers) absl::StrAppend(&exposed, ", ", name);
  h.add("access-control-expose-headers", exposed);
  return h;
}

// The CORS fields of a response to `request` (nullopt: CORS off, no origin, or one not allowed).
std::optional<Headers> CorsFor(const CorsOptions& cors, const Headers& request) {
  if (!cors.enabled()) return std::nullopt;
  auto origin = request.get("origin");
  if (!origin || !OriginAllowed(cors, *origin)) return std::nullopt;
  return CorsResponseHeaders(cors, *origin);
}

// `extra` and then `more`.
Headers Joined(const std::optional<Headers>& extra, Headers more) {
  Headers out = extra ? *extra : Headers{};
  for (const transport::HeaderField& f : more) out.add(f.name, f.value);
  return out;
}

// An OPTIONS request: the browser's preflight before a cross-origin call.
void RespondPreflight(EarlyReply to, const CorsOptions& cors, const Headers& request) {
  const std::string origin = request.get("origin").value_or("");
  Headers h;
  if (!OriginAllowed(cors, origin) || !request.get("access-control-request-method")) {
    // Not a preflight we allow: no CORS fields, and the browser refuses the call.
    h.add(":status", "403");
  } else {
    h.add(":status", "204");
    h.add("access-control-allow-origin", origin);
    h.add("vary", "origin");
    if (cors.allow_credentials) h.add("access-control-allow-credentials", "true");
    h.add("access-control-allow-methods", "POST, GET");
    std::string headers = request.get("access-control-request-headers").value_or("");
    for (const std::string& name : cors.allowed_headers) {
      absl::StrAppend(&headers, headers.empty() ? "" : ", ", name);
    }
    if (!headers.empty()) h.add("access-control-allow-headers", headers);
    h.add("access-control-max-age",
          absl::StrCat(std::max<int64_t>(0, absl::ToInt64Seconds(cors.max_age))));
  }
  if (to.stream != nullptr) {
    (void)to.stream->respond(h, {.endStream = true, .sendDate = false});
  } else {
    (void)to.exchange->respond(h, {.endStream = true, .sendDate = false});
  }
}

// Whole milliseconds, at least 1 for any positive duration; 0 for infinite (off).
uint64_t TimeoutMs(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return 0;
  if (d <= absl::ZeroDuration()) return 1;
  return static_cast<uint64_t>(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

}  // namespace

transport::SessionTimeoutOptions ConnectionTimeouts(const ServerOptions& options, double jitter) {
  transport::SessionTimeoutOptions t;
  t.idleTimeout = TimeoutMs(options.max_connection_idle);
  t.idleCountsFrames = false;  // gRPC: idle means no outstanding call, whatever the pings
  if (options.max_connection_age != absl::InfiniteDuration()) {
    jitter = std::clamp(jitter, -1.0, 1.0);
    t.maxAge = TimeoutMs(options.max_connection_age * (1.0 + 0.1 * jitter));
    // Grace 0 (gRPC: close right after the GOAWAY) becomes 1 ms: 0 means "wait forever" there.
    t.maxAgeGrace = TimeoutMs(options.max_connection_age_grace);
  }
  // gRPC's GOAWAYs for these (grpc-go's and gRPC C++'s debug data).
  t.twoPhaseGoaway = true;
  t.goawayPingTimeout = TimeoutMs(options.goaway_ping_timeout);
  t.idleDebugData = "max_idle";
  t.ageDebugData = "max_age";
  return t;
}

Server::Server(transport::UvLoop* loop, ServerOptions options)
    : loop_(loop), options_(std::move(options)) {
  // A finite SETTINGS_MAX_CONCURRENT_STREAMS by default: nghttp2 keeps closed streams up to
  // that many, and with "unlimited" they piled up until maxSessionMemory refused every new
  // stream (~40k calls on one connection; found by bench/).
  if (!options_.http2.settings.maxConcurrentStreams) {
    options_.http2.settings.maxConcurrentStreams = 1000;
  }
  if (options_.fix_malloc_mmap_threshold) FixMallocMmapThreshold();
  if (options_.allow_http1) options_.http2.allowHTTP1 = true;
  if (options_.max_connection_memory_mb > 0) {
    options_.http2.maxSessionMemory = options_.max_connection_memory_mb;
  }
  if (options_.max_server_memory_mb > 0) {
    options_.http2.maxServerMemory = options_.max_server_memory_mb;
  }
  if (!options_.http2.settings.initialWindowSize && options_.initial_window_size > 0) {
    options_.http2.settings.initialWindowSize = options_.initial_window_size;
  }
  if (!options_.http2.settings.maxFrameSize && options_.max_frame_size > 0) {
    options_.http2.settings.maxFrameSize = options_.max_frame_size;
  }
  // Request metadata is limited by size as in gRPC, which also advertises its hard limit. Node's
  // 128 fields would refuse calls gRPC takes (~125 small entries): allow as many as fit.
  metadata_limits_ = ResolveMetadataSizeLimits(
      {options_.max_metadata_size, options_.absolute_max_metadata_size});
  if (!options_.http2.settings.maxHeaderListSize && !options_.http2.settings.maxHeaderSize) {
    options_.http2.settings.maxHeaderListSize = metadata_limits_.hard;
  }
  options_.http2.maxHeaderListPairs =
      std::max(options_.http2.maxHeaderListPairs, MaxFieldsWithin(metadata_limits_));
  // A client can make a call hold a stream window of real bytes: reserving a message's buffer up
  // to that much before its bytes arrive costs no more, and saves copies as it fills.
  if (options_.limits.preallocate_message_up_to == 0) {
    options_.limits.preallocate_message_up_to =
        options_.http2.settings.initialWindowSize.value_or(65535);
  }
}

Server::~Server() { *alive_ = false; }

void internal::KeepGeneratedDescriptors(const void* descriptor_table) { (void)descriptor_table; }

void Server::RegisterService(Service* service) {
  services_.insert(service->name());
  // Services about the server (health, reflection) learn what it serves, in any order.
  registered_.push_back(service);
  for (Service* s : registered_) {
    s->OnServiceRegistered(service->name());
    if (s != service) service->OnServiceRegistered(s->name());
  }
  for (const auto& [path, handler] : service->methods()) methods_[path] = handler;
}

void Server::RegisterGenericService(GenericService* service) {
  generic_ = internal::GenericMethodHandler(service);
}

absl::Status Server::Listen(const std::string& host, uint16_t port) {
  auto http2 = transport::Http2Server::createServer(loop_, options_.http2);
  if (!http2.ok()) return http2.status();
  return Start(std::move(*http2), ListenAddress{host, port, ""});
}

absl::Status Server::ListenTls(const std::string& host, uint16_t port,
                               const transport::TlsOptions& tls) {
  auto http2 = transport::Http2Server::createSecureServer(loop_, tls, options_.http2);
  if (!http2.ok()) return http2.status();
  absl::Status started = Start(std::move(*http2), ListenAddress{host, port, ""});
  if (started.ok()) listen_tls_ = tls;
  return started;
}

absl::Status Server::Listen(std::string_view address) {
  auto parsed = ParseListenAddress(address);
  if (!parsed.ok()) return parsed.status();
  auto http2 = transport::Http2Server::createServer(loop_, options_.http2);
  if (!http2.ok()) return http2.status();
  return Start(std::move(*http2), *parsed);
}

absl::Status Server::ListenTls(std::string_view address, const transport::TlsOptions& tls) {
  auto parsed = ParseListenAddress(address);
  if (!parsed.ok()) return parsed.status();
  auto http2 = transport::Http2Server::createSecureServer(loop_, tls, options_.http2);
  if (!http2.ok()) return http2.status();
  absl::Status started = Start(std::move(*http2), *parsed);
  if (started.ok()) listen_tls_ = tls;
  return started;
}

transport::TlsOptions Server::KeepListenOptions(transport::TlsOptions tls,
                                                const transport::TlsOptions& listened) {
  tls.requestCert = listened.requestCert;
  tls.rejectUnauthorized = listened.rejectUnauthorized;
  tls.ALPNProtocols = listened.ALPNProtocols;
  return tls;
}

absl::Status Server::UpdateTlsOptions(const transport::TlsOptions& tls) {
  if (!listen_tls_) {
    return absl::FailedPreconditionError("UpdateTlsOptions(): the server does not listen with TLS");
  }
  auto context = transport::TlsContext::createServer(KeepListenOptions(tls, *listen_tls_));
  if (!context.ok()) return context.status();
  return UpdateTlsContext(*std::move(context));
}

absl::Status Server::UpdateTlsContext(std::shared_ptr<transport::TlsContext> context) {
  if (!listen_tls_) {
    return absl::FailedPreconditionError("UpdateTlsContext(): the server does not listen with TLS");
  }
  std::optional<absl::Status> swapped = CallOnLoop(loop_, [this, &context]() -> absl::Status {
    if (!http2_) return absl::FailedPreconditionError("UpdateTlsContext(): the server is closed");
    return http2_->setSecureContext(std::move(context));
  });
  return swapped ? *swapped : LoopGoneError();
}

std::string Server::path() const { return http2_ ? http2_->path() : std::string(); }

namespace {

// gRPC C++ unlinks a Unix socket file before binding its path (a server that crashed leaves
// one, and bind() would then fail with EADDRINUSE). Only a socket: a regular file at the path
// is a mistake the listen error should show, not something to delete.
void RemoveStaleSocket(const std::string& path) {
  if (path.empty() || path.front() == '\0') return;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
}

}  // namespace

absl::Status Server::Start(std::unique_ptr<transport::Http2Server> http2,
                           const ListenAddress& address) {
  if (http2_) return absl::FailedPreconditionError("the server is already listening");
  std::weak_ptr<bool> alive = alive_;
  http2->onSession([this, alive](std::shared_ptr<transport::ServerHttp2Session> session) {
    if (alive.expired()) return;
    const transport::Http2Session* key = session.get();
    // The connection's timers, owned by its entries (the lifetime rule of rpc/keepalive.h and
    // transport/session_timeouts.h) and stopped by our 'close' listener below.
    if (options_.max_connection_idle != absl::InfiniteDuration() ||
        options_.max_connection_age != absl::InfiniteDuration()) {
      static thread_local std::minstd_rand random(std::random_device{}());
      const double jitter = std::uniform_real_distribution<double>(-1.0, 1.0)(random);
      connection_timeouts_.insert_or_assign(
          key, transport::SessionTimeouts::attach(session, ConnectionTimeouts(options_, jitter)));
    }
    std::shared_ptr<KeepalivePinger> keepalive =
        KeepalivePinger::Attach(session, {.time = options_.keepalive_time,
                                          .timeout = options_.keepalive_timeout,
                                          .permit_without_calls = true});
    connections_.insert_or_assign(key, Connection{session, nullptr, std::move(keepalive)});
    if (options_.connection_window_size > 0) {
      (void)session->setLocalWindowSize(static_cast<int32_t>(
          std::min<uint32_t>(options_.connection_window_size, INT32_MAX)));
    }
    session->onClose([this, alive, key] {
      if (alive.expired()) return;
      if (auto found = connections_.find(key); found != connections_.end()) {
        if (found->second.keepalive) found->second.keepalive->Stop();
        connections_.erase(found);
      }
      if (auto found = connection_timeouts_.find(key); found != connection_timeouts_.end()) {
        if (found->second) found->second->stop();
        connection_timeouts_.erase(found);
      }
    });
    PingPolicy::Attach(session,
                       {.min_time = options_.keepalive_min_time,
                        .permit_without_calls = options_.keepalive_permit_without_calls},
                       [count = too_many_pings_] { ++*count; });
    if (grace_over_) {
      session->destroy(absl::OkStatus(), transport::constants::NGHTTP2_NO_ERROR);
    } else if (draining_) {
      // Accepted before Shutdown() closed the listener, or its TLS handshake ended after: its
      // client may have sent a call already, which must be served like those of the others.
      transport::closeGracefully(session, DrainOptions());
    }
  });
  http2->onStream([this, alive](std::shared_ptr<transport::ServerHttp2Stream> stream,
                                const Headers& headers, uint8_t) {
    if (!alive.expired()) OnStream(std::move(stream), headers);
  });
  if (options_.allow_http1) {
    // HTTP/1.1 connections' requests come here; HTTP/2 streams keep going to OnStream.
    http1_events_ = transport::RequestEvents::create();
    http1_events_->onRequest([this, alive](std::shared_ptr<transport::Http2ServerRequest> req,
                                           std::shared_ptr<transport::Http2ServerResponse> res) {
      if (!alive.expired()) ServeHttp1Request(std::move(req), std::move(res));
    });
    http1_ = transport::Http1Server::attach(*http2, http1_events_);
  }
  absl::Status listened;
  if (address.is_unix()) {
    RemoveStaleSocket(address.path);
    listened = http2->listenPath(address.path);
  } else {
    listened = http2->listen(address.port, address.host, {.reusePort = options_.reuse_port});
  }
  if (!listened.ok()) return listened;
  http2_ = std::move(http2);
  return absl::OkStatus();
}

uint16_t Server::port() const { return http2_ ? http2_->port() : 0; }

void Server::ServeSession(transport::ServerHttp2Session& session) {
  std::weak_ptr<bool> alive = alive_;
  session.onStream([this, alive](std::shared_ptr<transport::ServerHttp2Stream> stream,
                                 const Headers& headers, uint8_t) {
    if (!alive.expired()) OnStream(std::move(stream), headers);
  });
}

void Server::OnStream(std::shared_ptr<transport::ServerHttp2Stream> stream,
                      const Headers& headers) {
  StartCall(std::move(stream), nullptr, headers);
}

void Server::ServeHttp1Request(std::shared_ptr<transport::Http2ServerRequest> req,
                               std::shared_ptr<transport::Http2ServerResponse> res) {
  // A call answers on the exchange itself, as on an HTTP/2 stream; `res` is http_fallback's.
  // The request line as HTTP/2's pseudo-headers, so one validation serves both.
  Headers headers{{":method", req->method()}, {":path", req->url()}};
  for (const transport::HeaderField& field : req->headers()) headers.add(field.name, field.value);
  std::shared_ptr<transport::CompatStream> exchange = req->exchange();
  if (draining_) {
    // Shutdown() has begun: no new call. A request gets here on a connection accepted before
    // the listener closed whose first bytes came after. 503 (UNAVAILABLE, which clients retry
    // elsewhere) and the connection goes after it.
    const EarlyReply to{nullptr, exchange.get()};
    if (http1_) {
      for (const std::shared_ptr<transport::Http1Connection>& c : http1_->connections()) {
        if (c->socket() == exchange->socket()) c->close();  // after this response: says so
      }
    }
    const std::optional<Headers> extra = CorsFor(options_.cors, headers);
    std::optional<RequestContentType> type =
        ParseRequestContentType(headers.get("content-type").value_or(""));
    if (type && IsConnect(type->protocol)) type->protocol = WireProtocol::kConnect;  // its 503
    RespondTrailersOnly(to, absl::UnavailableError("The server is shutting down"), "503",
                        type && type->protocol != WireProtocol::kGrpc ? &*type : nullptr,
                        extra ? &*extra : nullptr);
    return;
  }
  const Http1Request http1{std::move(req), std::move(res)};
  StartCall(nullptr, std::move(exchange), headers, &http1);
}

std::shared_ptr<internal::ConnectionCounters> Server::Http1Counters(
    const transport::CompatStream& exchange) {
  const transport::Socket* socket = exchange.socket();
  if (!http1_ || socket == nullptr) return nullptr;
  auto [it, inserted] = http1_counters_.try_emplace(socket);
  if (!inserted) return it->second;
  // A new connection: its counters go with it (a later connection may get the same address).
  for (const std::shared_ptr<transport::Http1Connection>& c : http1_->connections()) {
    if (c->socket() != socket || c->closed()) continue;
    it->second = std::make_shared<internal::ConnectionCounters>();
    std::weak_ptr<bool> alive = alive_;
    c->onClose([this, alive, socket] {
      if (!alive.expired()) http1_counters_.erase(socket);
    });
    return it->second;
  }
  http1_counters_.erase(it);  // not one of ours
  return nullptr;
}

void Server::Fallback(std::shared_ptr<transport::ServerHttp2Stream> stream,
                      const Http1Request* http1, const Headers& headers) {
  if (!fallback_events_) {
    fallback_events_ = transport::RequestEvents::create();
    fallback_events_->onRequest(options_.http_fallback);
  }
  if (stream) {
    fallback_events_->handleStream(std::move(stream), headers);
  } else if (http1 != nullptr) {
    fallback_events_->handleRequest(http1->req, http1->res);
  }
}

void Server::StartCall(std::shared_ptr<transport::ServerHttp2Stream> stream,
                       std::shared_ptr<transport::CompatStream> exchange, const Headers& headers,
                       const Http1Request* http1) {
  const EarlyReply to{stream.get(), exchange.get()};
  // One pass over the fields for everything the server reads (a get() per name was a pass
  // each): views of the first field of each name; a name that came more than once is read
  // with get(), which joins or picks as Node does. Names are stored lower-case.
  enum Field { kMethod, kContentType, kPath, kTimeout, kEncoding, kAcceptEncoding, kFields };
  static constexpr std::string_view kNames[kFields] = {
      ":method", "content-type", ":path", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding"};
  const std::string* first[kFields] = {};
  bool repeated[kFields] = {};
  bool has_binary = false;  // a -bin field (see below)
  size_t metadata_size = 0;  // RFC 9113's header list size, as gRPC's limits count it
  for (const transport::HeaderField& field : headers) {
    metadata_size += field.name.size() + field.value.size() + 32;
    for (int i = 0; i < kFields; ++i) {
      if (field.name != kNames[i]) continue;
      if (first[i] != nullptr) {
        repeated[i] = true;
      } else {
        first[i] = &field.value;
      }
      break;
    }
    const std::string& n = field.name;  // lower-case: ends with "-bin"?
    if (n.size() >= 4 && n.compare(n.size() - 4, 4, "-bin") == 0) has_binary = true;
  }
  std::string joined[kFields];  // values get() had to build
  // Absl's string_view is not std's on Debian: converted here, where absl functions take them.
  auto value = [&](Field f) -> std::optional<absl::string_view> {
    if (first[f] == nullptr) return std::nullopt;
    std::string_view v = *first[f];
    if (repeated[f]) v = *headers.get(kNames[f], joined[f]);
    return absl::string_view(v.data(), v.size());
  };
  // First, as gRPC's HPACK parser does. The transport enforces the hard limit while receiving
  // only once the client has acknowledged our SETTINGS (as Node); this covers the rest.
  if (absl::Status st = CheckMetadataSize(metadata_size, metadata_limits_); !st.ok()) {
    const std::optional<Headers> cors = CorsFor(options_.cors, headers);
    RespondTrailersOnly(to, st, "200", nullptr, cors ? &*cors : nullptr);
    return;
  }
  const std::string method(value(kMethod).value_or(""));
  // http_fallback takes what is no call (see ServerOptions), if the request came with a way to
  // answer it (a stream, or an HTTP/1.1 request's `res`).
  const bool fallback = options_.http_fallback && (stream || http1 != nullptr);
  if (method == "GET" && options_.protocols.connect) {
    // Connect's GET carries its message in the query; without one it is not Connect's.
    const absl::string_view target = value(kPath).value_or("");
    if (const size_t q = target.find('?'); q != absl::string_view::npos) {
      const absl::string_view path = target.substr(0, q);
      if (!fallback || generic_ || methods_.count(std::string(path))) {
        StartConnectGet(std::move(stream), std::move(exchange), headers, path,
                        target.substr(q + 1));
        return;
      }
    }
  }
  if (method != "POST") {
    if (method == "OPTIONS" && options_.cors.enabled()) {
      RespondPreflight(to, options_.cors, headers);
      return;
    }
    if (fallback) {
      Fallback(std::move(stream), http1, headers);
      return;
    }
    // An early error a page of an allowed origin must be able to read (without the CORS fields
    // the browser hides it). Looked up only on the error paths: a call pays nothing for it.
    const std::optional<Headers> cors = CorsFor(options_.cors, headers);
    const std::optional<RequestContentType> connect =
        ParseRequestContentType(value(kContentType).value_or(""));
    if (connect && IsConnect(connect->protocol) && options_.protocols.connect) {
      // A Connect client's: 405 with allow and the error JSON (as connect-go), for streaming
      // types too (a verb error is an HTTP error, not an end-stream message).
      const RequestContentType unary{WireProtocol::kConnect, connect->codec};
      const Headers allow = Joined(cors, {{"allow", "POST"}});
      RespondTrailersOnly(to, absl::UnimplementedError(absl::StrCat("Method not allowed: ", method)),
                          "405", &unary, &allow);
      return;
    }
    RespondTrailersOnly(to, absl::InternalError(absl::StrCat("Method not allowed: ", method)),
                        "405", nullptr, cors ? &*cors : nullptr);
    return;
  }
  const absl::string_view content_type = value(kContentType).value_or("");
  // The protocol (gRPC, gRPC-Web, gRPC-Web-text) is the content-type's, matched exactly.
  std::optional<RequestContentType> type = ParseRequestContentType(content_type);
  if (!type && fallback) {
    Fallback(std::move(stream), http1, headers);
    return;
  }
  if (!type) {
    const std::optional<Headers> cors = CorsFor(options_.cors, headers);
    RespondTrailersOnly(
        to,
        absl::InvalidArgumentError(absl::StrCat("Unsupported content-type: '", content_type, "'")),
        "415", nullptr, cors ? &*cors : nullptr);
    return;
  }
  const bool enabled = type->protocol == WireProtocol::kGrpc ? options_.protocols.grpc
                       : IsConnect(type->protocol)           ? options_.protocols.connect
                                                             : options_.protocols.grpc_web;
  if (!enabled) {
    const std::optional<Headers> cors = CorsFor(options_.cors, headers);
    RespondTrailersOnly(to,
                        absl::InvalidArgumentError(absl::StrCat(
                            "This server does not speak ", WireProtocolName(type->protocol),
                            " (content-type '", content_type, "')")),
                        "415", nullptr, cors ? &*cors : nullptr);
    return;
  }
  const RequestContentType* web = type->protocol == WireProtocol::kGrpc ? nullptr : &*type;
  // CORS fields for a web call from an allowed origin's page (looked up only then: gRPC's
  // calls pay nothing for them).
  std::optional<Headers> cors;
  if (web != nullptr) cors = CorsFor(options_.cors, headers);
  const Headers* extra = cors ? &*cors : nullptr;
  if (exchange && web == nullptr) {
    cors = CorsFor(options_.cors, headers);  // a browser's fetch() may try this one
    RespondTrailersOnly(to,
                        absl::InternalError("gRPC requires HTTP/2; over HTTP/1.1 use gRPC-Web "
                                            "(content-type application/grpc-web+proto)"),
                        "505", nullptr, cors ? &*cors : nullptr);
    return;
  }
  const absl::string_view path_value = value(kPath).value_or("");
  const std::string_view path_view(path_value.data(), path_value.size());
  auto it = methods_.find(path_view);
  const MethodHandler* handler = it != methods_.end() ? &it->second : nullptr;
  if (handler == nullptr && generic_) handler = &*generic_;
  if (handler == nullptr) {
    const std::string path(path_view);
    // Tell "no such service" from "no such method", as gRPC does.
    const std::string service = path.size() > 1 ? path.substr(1, path.rfind('/') - 1) : "";
    RespondTrailersOnly(to, services_.count(service)
                                     ? absl::UnimplementedError(absl::StrCat(
                                           "Method not found: ", path))
                                     : absl::UnimplementedError(absl::StrCat(
                                           "Service not found: ", service)),
                        type->protocol == WireProtocol::kConnect ? "404" : "200", web, extra);
    return;
  }
  const bool connect = IsConnect(type->protocol);
  if (connect) {
    StartConnectCall(std::move(stream), std::move(exchange), headers, *type,
                     std::string(path_view), it == methods_.end(), *handler, extra);
    return;
  }
  std::optional<absl::Time> deadline;
  if (auto timeout = value(kTimeout)) {
    auto d = DecodeGrpcTimeout(*timeout);
    if (!d.ok()) {
      RespondTrailersOnly(to, d.status(), "200", web, extra);
      return;
    }
    deadline = absl::Now() + *d;
  }
  Compression request_compression = Compression::kIdentity;
  if (auto encoding = value(kEncoding)) {
    std::optional<Compression> c = CompressionFromName(*encoding);
    if (!c) {
      RespondTrailersOnly(to,
                          absl::UnimplementedError(
                              absl::StrCat("Unsupported grpc-encoding: ", *encoding)),
                          "200", web, extra);
      return;
    }
    request_compression = *c;
  }
  CompressionSet accepts = ParseAcceptEncoding(value(kAcceptEncoding).value_or(""));
  // Client metadata is parsed when the handler first asks for it (most never do). Only -bin
  // values can make it fail, and that must fail the call now: with one, parse it now.
  std::optional<Metadata> metadata;
  if (has_binary) {
    auto parsed = Metadata::FromHeaderFields(headers, /*skip_reserved=*/true);
    if (!parsed.ok()) {
      RespondTrailersOnly(to, absl::InternalError(parsed.status().message()), "200", web, extra);
      return;
    }
    metadata = std::move(*parsed);
  }
  std::shared_ptr<ServerCall> call;
  if (stream && first[kPath] != nullptr && !repeated[kPath] &&
      &headers == &stream->requestHeaders()) {
    // The method is the stream's own :path field, which lives as long as the call's stream:
    // referred to, not copied.
    call = MakePooledShared<ServerCall>(stream, first[kPath], std::move(metadata),
                                        options_.limits, request_compression, accepts);
  } else if (stream) {
    call = MakePooledShared<ServerCall>(stream, std::string(path_view), std::move(metadata),
                                        options_.limits, request_compression, accepts);
  } else {
    call = MakePooledShared<ServerCall>(exchange, headers, std::string(path_view),
                                        std::move(metadata), options_.limits,
                                        request_compression, accepts);
  }
  if (web != nullptr) {
    std::unique_ptr<CallProtocol> protocol = MakeCallProtocol(*web);
    if (cors) protocol->set_extra_headers(std::move(*cors));
    call->SetProtocol(std::move(protocol));
  }
  LaunchCall(std::move(call), stream.get(), it == methods_.end(), *handler, deadline);
}

void Server::LaunchCall(std::shared_ptr<ServerCall> call, transport::ServerHttp2Stream* stream,
                        bool generic, const MethodHandler& handler,
                        std::optional<absl::Time> deadline) {
  if (generic) call->MarkGeneric();  // before the interceptors see it
  call->CountActive(active_calls_);  // until its stream closes (no listener of our own)
  call->Start(deadline);
  if (auto found = stream ? connections_.find(stream->session()) : connections_.end();
      found != connections_.end()) {
    // A listened connection's call (rpc/channelz.h); its first makes the counters.
    std::shared_ptr<internal::ConnectionCounters>& counters = found->second.counters;
    if (!counters) counters = std::make_shared<internal::ConnectionCounters>();
    call->CountIn(counters);
  } else if (stream == nullptr && call->http1_exchange() != nullptr) {
    call->CountIn(Http1Counters(*call->http1_exchange()));  // null: not a listened one
  }
  if (!options_.interceptors.empty()) {
    std::vector<std::unique_ptr<ServerInterceptor>> chain;
    chain.reserve(options_.interceptors.size());
    for (const ServerInterceptorFactory& make : options_.interceptors) {
      if (make) chain.push_back(make(*call));
    }
    call->SetInterceptors(std::move(chain));
    if (call->intercepted()) {
      call->StartIntercepted(handler.start);  // OnStart hooks, then the handler
      return;
    }
  }
  handler.start(call);
}

void Server::StartConnectCall(std::shared_ptr<transport::ServerHttp2Stream> stream,
                              std::shared_ptr<transport::CompatStream> exchange,
                              const Headers& headers, const RequestContentType& type,
                              std::string path, bool generic, const MethodHandler& handler,
                              const Headers* extra, ConnectGetQuery* get) {
  // Connect renames gRPC's request fields (connectrpc.com/docs/protocol): read here, apart from
  // gRPC's one pass, so that gRPC's calls pay nothing for them.
  const EarlyReply to{stream.get(), exchange.get()};
  auto fail = [&](const absl::Status& status) {
    RespondTrailersOnly(to, status, "200", &type, extra);
  };
  const bool unary = type.protocol == WireProtocol::kConnect;
  if (auto version = headers.get("connect-protocol-version"); version && *version != "1") {
    fail(absl::InvalidArgumentError(
        absl::StrCat("Unsupported connect-protocol-version: '", *version, "' (want 1)")));
    return;
  }
  std::optional<absl::Time> deadline;
  if (auto timeout = headers.get("connect-timeout-ms")) {
    absl::StatusOr<absl::Duration> d = ParseConnectTimeout(*timeout);
    if (!d.ok()) {
      fail(d.status());
      return;
    }
    deadline = absl::Now() + *d;
  }
  Compression request_compression = Compression::kIdentity;
  if (get != nullptr && !get->compression.empty()) {
    std::optional<Compression> c = CompressionFromName(get->compression);
    if (!c) {
      fail(absl::UnimplementedError(absl::StrCat("Unsupported compression: ", get->compression)));
      return;
    }
    request_compression = *c;
  } else if (auto encoding = get != nullptr ? std::nullopt
                                            : headers.get(unary ? "content-encoding"
                                                                : "connect-content-encoding")) {
    std::optional<Compression> c = CompressionFromName(*encoding);
    if (!c) {
      fail(absl::UnimplementedError(absl::StrCat("Unsupported ",
                                                 unary ? "content-encoding" : "connect-content-encoding",
                                                 ": ", *encoding)));
      return;
    }
    request_compression = *c;
  }
  CompressionSet accepts = ParseAcceptEncoding(
      headers.get(unary ? "accept-encoding" : "connect-accept-encoding").value_or(""));
  // Connect's own request fields are the protocol's, not the application's metadata (connect-go
  // leaves them out of the handler's headers too).
  Headers application;
  for (const transport::HeaderField& f : headers) {
    const absl::string_view n(f.name.data(), f.name.size());
    if (absl::StartsWith(n, "connect-") || n == "content-encoding" || n == "accept-encoding") {
      continue;
    }
    application.add(f.name, f.value);
  }
  auto metadata = Metadata::FromHeaderFields(application, /*skip_reserved=*/true);
  if (!metadata.ok()) {
    fail(absl::InvalidArgumentError(metadata.status().message()));
    return;
  }
  ConnectCallOptions connect;
  connect.type = type;
  if (type.codec == "json") connect.method = FindGeneratedMethod(path);
  connect.max_request_bytes = options_.limits.max_receive_message_size;
  connect.request_compression = request_compression;
  if (get != nullptr) connect.get_message = std::move(get->message);
  absl::StatusOr<std::unique_ptr<CallProtocol>> protocol = MakeConnectProtocol(connect);
  if (!protocol.ok()) {
    fail(protocol.status());
    return;
  }
  if (extra != nullptr) (*protocol)->set_extra_headers(*extra);
  std::shared_ptr<ServerCall> call =
      stream ? MakePooledShared<ServerCall>(stream, std::move(path), std::move(*metadata),
                                            options_.limits, request_compression, accepts)
             : MakePooledShared<ServerCall>(exchange, headers, std::move(path),
                                            std::move(*metadata), options_.limits,
                                            request_compression, accepts);
  call->SetProtocol(std::move(*protocol));
  LaunchCall(std::move(call), stream.get(), generic, handler, deadline);
}

void Server::StartConnectGet(std::shared_ptr<transport::ServerHttp2Stream> stream,
                             std::shared_ptr<transport::CompatStream> exchange,
                             const Headers& headers, absl::string_view target,
                             absl::string_view query) {
  const EarlyReply to{stream.get(), exchange.get()};
  const std::optional<Headers> cors = CorsFor(options_.cors, headers);
  const Headers* extra = cors ? &*cors : nullptr;
  RequestContentType type{WireProtocol::kConnect, "json"};  // until the query names its codec
  absl::StatusOr<ConnectGetQuery> get = ParseConnectGetQuery(query);
  if (!get.ok()) {
    RespondTrailersOnly(to, get.status(), "200", &type, extra);
    return;
  }
  type.codec = get->codec;
  std::string path(target);
  auto it = methods_.find(path);
  const MethodHandler* handler = it != methods_.end() ? &it->second : nullptr;
  if (handler == nullptr && generic_) handler = &*generic_;
  if (handler == nullptr) {
    RespondTrailersOnly(to, absl::UnimplementedError(absl::StrCat("Method not found: ", path)),
                        "404", &type, extra);
    return;
  }
  if (!ConnectGetAllowed(FindGeneratedMethod(path))) {
    // As connect-go: a method with side effects (or one without a descriptor) is POST only.
    const Headers allow = Joined(cors, {{"allow", "POST"}});
    RespondTrailersOnly(to,
                        absl::UnimplementedError(absl::StrCat(
                            "GET is only for methods declared idempotency_level = "
                            "NO_SIDE_EFFECTS; call ", path, " with POST")),
                        "405", &type, &allow);
    return;
  }
  if (get->message.size() > options_.limits.max_receive_message_size) {
    RespondTrailersOnly(to,
                        absl::ResourceExhaustedError(absl::StrCat(
                            "Request message larger than max (", get->message.size(), " vs. ",
                            options_.limits.max_receive_message_size, ")")),
                        "200", &type, extra);
    return;
  }
  StartConnectCall(std::move(stream), std::move(exchange), headers, type, std::move(path),
                   it == methods_.end(), *handler, extra, &*get);
}

void Server::Shutdown(absl::Duration grace, std::function<void()> done) {
  // First, so that a health service tells its watchers NOT_SERVING before the GOAWAY.
  for (Service* s : registered_) s->OnServerShutdown();
  if (!http2_) {
    if (done) loop_->post(std::move(done));
    return;
  }
  draining_ = true;
  // `done` once every connection closed: the HTTP/2 ones (http2_'s close) and the HTTP/1.1 ones.
  auto left = std::make_shared<size_t>(1);
  auto one_closed = [left, done = std::make_shared<std::function<void()>>(std::move(done))] {
    if (--*left == 0 && *done) (*done)();
  };
  if (http1_) {
    for (const auto& c : http1_->connections()) {
      if (c->closed()) continue;
      ++*left;
      c->onClose(one_closed);
    }
  }
  http2_->close(one_closed);  // stops listening
  // HTTP/1.1: idle (keep-alive) connections close now, the others after their response.
  if (http1_) http1_->closeAll();
  // Two-phase GOAWAY on each: running calls, and those already on their way, may finish.
  for (const auto& s : OpenSessions()) transport::closeGracefully(s, DrainOptions());
  grace_timer_ = loop_->createTimer();
  std::weak_ptr<bool> alive = alive_;
  grace_timer_->start(static_cast<uint64_t>(absl::ToInt64Milliseconds(grace)), [this, alive] {
    if (alive.expired()) return;
    grace_over_ = true;
    // Grace is over: connections still in their TLS handshake go, and what still runs is
    // cancelled (streams reset with CANCEL, connections closed).
    if (http2_) http2_->closePendingConnections();
    for (const auto& s : OpenSessions()) {
      s->destroy(absl::OkStatus(), transport::constants::NGHTTP2_NO_ERROR);
    }
    // HTTP/1.1 has no RST_STREAM: a call still running is cancelled by closing its connection.
    if (http1_) {
      auto open = http1_->connections();
      for (const auto& c : open) c->destroy();
    }
  });
  grace_timer_->unref();
}

std::vector<std::shared_ptr<transport::ServerHttp2Session>> Server::OpenSessions() const {
  std::vector<std::shared_ptr<transport::ServerHttp2Session>> open;
  open.reserve(connections_.size());
  for (const auto& [key, connection] : connections_) {
    if (auto s = connection.session.lock()) open.push_back(std::move(s));
  }
  return open;
}

transport::GracefulCloseOptions Server::DrainOptions() const {
  transport::GracefulCloseOptions close;
  close.pingTimeout = TimeoutMs(options_.goaway_ping_timeout);
  return close;
}

ServerSnapshot Server::Snapshot() {
  if (loop_ == nullptr) return SnapshotOnLoop();  // a server of ServeSession() only
  std::optional<ServerSnapshot> snapshot =
      CallOnLoop(loop_, [this] { return SnapshotOnLoop(); });
  return snapshot ? std::move(*snapshot) : ServerSnapshot{};
}

ServerSnapshot Server::SnapshotOnLoop() const {
  ServerSnapshot snapshot;
  snapshot.active_calls = *active_calls_;
  snapshot.too_many_pings = *too_many_pings_;
  const uint64_t now_ms = loop_ ? loop_->now() : 0;
  for (const auto& [key, connection] : connections_) {
    std::shared_ptr<transport::ServerHttp2Session> session = connection.session.lock();
    if (!session) continue;
    static const internal::ConnectionCounters kNoCallYet;
    ConnectionSnapshot c = internal::SnapshotSession(*session);
    internal::AddCounters(connection.counters ? *connection.counters : kNoCallYet, now_ms, c);
    if (connection.keepalive) c.keepalive_pings_sent = connection.keepalive->pings_sent();
    snapshot.connections.push_back(std::move(c));
  }
  if (http1_) {
    for (const std::shared_ptr<transport::Http1Connection>& connection : http1_->connections()) {
      ConnectionSnapshot c;
      c.http_version = "1.1";
      if (const transport::Socket* socket = connection->socket()) {
        const std::string address = socket->remoteAddress();
        if (!address.empty()) c.peer = absl::StrCat(address, ":", socket->remotePort());
        const std::string local = socket->localAddress();
        if (!local.empty()) c.local = absl::StrCat(local, ":", socket->localPort());
        if (auto found = http1_counters_.find(socket); found != http1_counters_.end()) {
          for (const auto& [id, call] : found->second->calls) {
            StreamSnapshot s;
            s.id = id;
            s.state_name = "open";
            c.streams.push_back(std::move(s));
          }
          c.streams_active = c.streams.size();
          internal::AddCounters(*found->second, now_ms, c);
        }
      }
      c.state = connection->closed() ? ConnectionState::kClosed
                : draining_           ? ConnectionState::kDraining
                                      : ConnectionState::kReady;
      snapshot.connections.push_back(std::move(c));
    }
  }
  return snapshot;
}

}  // namespace h2rpc::rpc
