#include "transport/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <utility>

#include "absl/strings/str_cat.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/internal/prefixed_socket.h"
#include "transport/session_timeouts.h"
#include "transport/tls_socket.h"
#include "transport/socket_address.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {

namespace {

// What Node writes to a TLS client that did not negotiate h2 when nobody handles
// 'unknownProtocol' (lib/internal/http2/core.js connectionListener).
constexpr char kMissingAlpn[] =
    "HTTP/1.0 403 Forbidden\r\nContent-Type: text/plain\r\n\r\n"
    "Missing ALPN Protocol, expected `h2` to be available.\n"
    "If this is a HTTP request: The server was not configured with the `allowHTTP1` option or a "
    "listener for the `unknownProtocol` event.\n";

}  // namespace

// Holds a TLS connection until its handshake says which protocol it speaks.
class PendingTls : public Socket::Handler {
 public:
  PendingTls(Http2Server* server, std::unique_ptr<TlsSocket> socket, std::weak_ptr<bool> alive,
             std::function<void(PendingTls*, bool h2)> done)
      : socket_(std::move(socket)), done_(std::move(done)) {
    socket_->setHandler(this);
  }
  std::unique_ptr<TlsSocket> release() {
    socket_->setHandler(nullptr);
    return std::move(socket_);
  }
  TlsSocket* socket() { return socket_.get(); }

  void onSocketConnect() override {
    // Hold what arrives after the handshake until the session takes over the socket.
    socket_->pauseReading();
    done_(this, socket_->alpnProtocol() == "h2");
  }
  void onSocketData(std::string_view) override {}
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override {
    socket_->setHandler(nullptr);
    closed_ = true;
    done_(this, false);
  }
  bool closed() const { return closed_; }
  std::unique_ptr<Timer> timer;
  uint64_t accepted_at = 0;
  // Handshake done but not h2 and not HTTP/1: held until unknownProtocolTimeout.
  bool rejected = false;

 private:
  std::unique_ptr<TlsSocket> socket_;
  std::function<void(PendingTls*, bool)> done_;
  bool closed_ = false;
};

// The first bytes of a cleartext connection, to tell HTTP/2 (its client preface) from HTTP/1
// when the server has an HTTP/1 hook (allowHTTP1).
class PendingPlain : public Socket::Handler {
 public:
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  PendingPlain(std::unique_ptr<Socket> socket, std::function<void(PendingPlain*)> done)
      : socket_(std::move(socket)), done_(std::move(done)) {
    socket_->setHandler(this);
  }
  std::unique_ptr<Socket> release() {
    socket_->setHandler(nullptr);
    socket_->pauseReading();
    return std::move(socket_);
  }
  void onSocketConnect() override {}
  void onSocketData(std::string_view data) override {
    if (decided_) return;
    read_.append(data);
    const size_t n = std::min(read_.size(), kPreface.size());
    if (read_.compare(0, n, kPreface.substr(0, n)) != 0) {
      http2_ = false;
    } else if (n < kPreface.size()) {
      return;  // a prefix of the preface so far
    }
    decided_ = true;
    socket_->pauseReading();
    done_(this);
  }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override {
    socket_->setHandler(nullptr);
    closed_ = true;
    decided_ = true;
    done_(this);
  }
  bool closed() const { return closed_; }
  bool http2() const { return http2_; }
  std::string takeRead() { return std::move(read_); }
  std::unique_ptr<Timer> timer;
  uint64_t accepted_at = 0;

 private:
  std::unique_ptr<Socket> socket_;
  std::function<void(PendingPlain*)> done_;
  std::string read_;
  bool http2_ = true;
  bool decided_ = false;
  bool closed_ = false;
};

Http2Server::Http2Server(UvLoop* loop, ServerOptions options, std::shared_ptr<TlsContext> tls)
    : loop_(loop), options_(std::move(options)), tls_(std::move(tls)) {
  if (!options_.memoryQuota && options_.maxServerMemory > 0) {
    options_.memoryQuota =
        std::make_shared<MemoryQuota>(static_cast<size_t>(options_.maxServerMemory) * 1000000);
  }
}

Http2Server::~Http2Server() {
  *alive_ = false;
  if (listener_) {
    closeListener();
  }
  for (auto& [session, timeouts] : sessions_) session->destroy();
  pending_tls_.clear();
  pending_plain_.clear();
}

absl::StatusOr<std::unique_ptr<Http2Server>> Http2Server::createServer(UvLoop* loop,
                                                                       ServerOptions options) {
  if (absl::Status st = validateSettings(options.settings); !st.ok()) return st;
  return std::unique_ptr<Http2Server>(new Http2Server(loop, std::move(options), nullptr));
}

absl::StatusOr<std::unique_ptr<Http2Server>> Http2Server::createSecureServer(
    UvLoop* loop, const TlsOptions& tls, ServerOptions options) {
  if (absl::Status st = validateSettings(options.settings); !st.ok()) return st;
  TlsOptions offered = tls;
  if (options.allowHTTP1 && std::find(offered.ALPNProtocols.begin(), offered.ALPNProtocols.end(),
                                      "http/1.1") == offered.ALPNProtocols.end()) {
    offered.ALPNProtocols.push_back("http/1.1");  // as Node: ['h2', 'http/1.1']
  }
  auto ctx = TlsContext::createServer(offered);
  if (!ctx.ok()) return ctx.status();
  return std::unique_ptr<Http2Server>(new Http2Server(loop, std::move(options), *ctx));
}

absl::Status Http2Server::setSecureContext(const TlsOptions& options) {
  if (!tls_) return absl::FailedPreconditionError("setSecureContext() on a cleartext server");
  TlsOptions merged = options;
  merged.requestCert = tls_->options().requestCert;
  merged.rejectUnauthorized = tls_->options().rejectUnauthorized;
  merged.ALPNProtocols = tls_->options().ALPNProtocols;
  // As Node's server.setSecureContext(): SNICallback is the server's; sessionTimeout and
  // ticketKeys stay the server's unless given (sessions issued before then stay resumable when
  // the ticket keys were set).
  merged.SNICallback = tls_->options().SNICallback;
  if (merged.sessionTimeout == 0) merged.sessionTimeout = tls_->options().sessionTimeout;
  if (merged.ticketKeys.empty()) merged.ticketKeys = tls_->options().ticketKeys;
  auto ctx = TlsContext::createServer(merged);
  if (!ctx.ok()) return ctx.status();
  return setSecureContext(*std::move(ctx));
}

absl::Status Http2Server::setSecureContext(std::shared_ptr<TlsContext> context) {
  if (!tls_) return absl::FailedPreconditionError("setSecureContext() on a cleartext server");
  if (!context || !context->isServer()) {
    return absl::InvalidArgumentError("setSecureContext(): a server TlsContext is required");
  }
  // Connections hold their own reference (TlsEngine): swapping ours only affects new ones.
  tls_ = std::move(context);
  return absl::OkStatus();
}

namespace {

// The listening handle: TCP or a pipe (Unix domain socket).
union ListenHandle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
};

void freeListenHandle(uv_handle_t* h) { delete reinterpret_cast<ListenHandle*>(h); }

}  // namespace

void Http2Server::closeListener() {
  if (!listener_) return;
  uv_close(reinterpret_cast<uv_handle_t*>(listener_), &freeListenHandle);
  listener_ = nullptr;
  // As libuv does for the pipes it binds (and so Node): the socket file goes with the server.
  if (!path_.empty() && path_.front() != '\0') ::unlink(path_.c_str());
}

absl::Status Http2Server::startListening(uv_stream_t* stream, int backlog,
                                         const std::string& where) {
  stream->data = this;
  int rv = uv_listen(stream, backlog, [](uv_stream_t* s, int status) {
    auto* server = static_cast<Http2Server*>(s->data);
    server->loop_->noteIo();
    if (status >= 0) server->onAccept();
  });
  if (rv != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(stream), &freeListenHandle);
    return absl::UnavailableError(
        absl::StrCat("listen ", uv_err_name(rv), ": ", uv_strerror(rv), " ", where));
  }
  listener_ = stream;
  listening_ = true;
  closing_ = false;
  return absl::OkStatus();
}

absl::Status Http2Server::listen(uint16_t port, const std::string& host,
                                 const ListenOptions& options) {
  if (listening_) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_SERVER_ALREADY_LISTEN",
                     "Listen method has been called more than once without closing.");
  }
  if (host.empty()) {
    // Node: the unspecified IPv6 address (dual stack: IPv4 clients too), or the IPv4 one where
    // the system has no IPv6.
    absl::Status st = listen(port, "::", options);
    if (st.ok() || (st.message().find("EAFNOSUPPORT") == absl::string_view::npos &&
                    st.message().find("EADDRNOTAVAIL") == absl::string_view::npos)) {
      return st;
    }
    return listen(port, "0.0.0.0", options);
  }
  auto address = SocketAddress::fromIp(host, port);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("listen: not an IP address: '", host, "'"));
  }
  auto* tcp = &(new ListenHandle)->tcp;
  // With a family, libuv creates the socket now, so options can be set before bind(). (libuv
  // 1.44 has no UV_TCP_REUSEPORT; it came in 1.49.)
  int rv = uv_tcp_init_ex(loop_->uv(), tcp, address->family());
  if (rv != 0) {
    delete reinterpret_cast<ListenHandle*>(tcp);
    return absl::UnavailableError(
        absl::StrCat("listen ", uv_err_name(rv), ": ", uv_strerror(rv), " ", host, ":", port));
  }
  if (options.reusePort) {
    uv_os_fd_t fd;
    const int one = 1;
    rv = uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd);
    if (rv == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      rv = uv_translate_sys_error(errno);
    }
  }
  if (rv == 0) rv = uv_tcp_bind(tcp, address->sockaddrPtr(), 0);
  if (rv != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), &freeListenHandle);
    return absl::UnavailableError(
        absl::StrCat("listen ", uv_err_name(rv), ": ", uv_strerror(rv), " ", host, ":", port));
  }
  if (absl::Status st = startListening(reinterpret_cast<uv_stream_t*>(tcp), options.backlog,
                                       absl::StrCat(host, ":", port));
      !st.ok()) {
    return st;
  }
  sockaddr_storage bound;
  int len = sizeof(bound);
  uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&bound), &len);
  formatAddress(reinterpret_cast<sockaddr*>(&bound), &port_);
  address_ = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&bound),
                                         static_cast<socklen_t>(len));
  path_.clear();
  return absl::OkStatus();
}

absl::Status Http2Server::listenPath(const std::string& path, const ListenOptions& options) {
  if (listening_) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_SERVER_ALREADY_LISTEN",
                     "Listen method has been called more than once without closing.");
  }
  auto address = SocketAddress::fromPath(path);
  if (!address.ok()) return address.status();
  const std::string where = address->toString();
  // libuv 1.44's uv_pipe_bind() takes a C string (no abstract names): bind here, then hand the
  // socket to a pipe handle.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rv = 0;
  if (fd < 0) {
    rv = uv_translate_sys_error(errno);
  } else if (::bind(fd, address->sockaddrPtr(), address->length()) != 0) {
    rv = uv_translate_sys_error(errno);
    ::close(fd);
  }
  if (rv != 0) {
    return absl::UnavailableError(
        absl::StrCat("listen ", uv_err_name(rv), ": ", uv_strerror(rv), " ", where));
  }
  auto* pipe = &(new ListenHandle)->pipe;
  uv_pipe_init(loop_->uv(), pipe, 0);
  if (rv = uv_pipe_open(pipe, fd); rv != 0) {
    ::close(fd);
    uv_close(reinterpret_cast<uv_handle_t*>(pipe), &freeListenHandle);
    return absl::UnavailableError(
        absl::StrCat("listen ", uv_err_name(rv), ": ", uv_strerror(rv), " ", where));
  }
  path_ = path;
  if (absl::Status st =
          startListening(reinterpret_cast<uv_stream_t*>(pipe), options.backlog, where);
      !st.ok()) {
    if (path_.front() != '\0') ::unlink(path_.c_str());
    path_.clear();
    return st;
  }
  port_ = 0;
  address_ = *address;
  return absl::OkStatus();
}

void Http2Server::off(ListenerId id) {
  stream_event_.off(id);
  session_event_.off(id);
  timeout_event_.off(id);
  session_error_event_.off(id);
  unknown_protocol_event_.off(id);
  close_event_.off(id);
  connection_event_.off(id);
}

void Http2Server::onAccept() {
  auto accepted = UvSocket::accept(loop_, listener_);
  if (!accepted.ok()) return;
  takeConnection(*std::move(accepted));
}

void Http2Server::acceptQueued() {
  if (!listener_) return;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(listener_), &fd) != 0) return;
  const int family = listener_->type == UV_NAMED_PIPE ? AF_UNIX : AF_INET;
  std::weak_ptr<bool> alive = alive_;
  // Bounded by the backlog the kernel holds; a 'connection' listener may destroy the server.
  for (int i = 0; i < 4096 && !alive.expired(); ++i) {
    const int accepted = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (accepted < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: the queue is empty (or an error: nothing more to take)
    }
    auto socket = UvSocket::adopt(loop_, accepted, family);
    if (socket.ok()) takeConnection(*std::move(socket));
  }
}

void Http2Server::takeConnection(std::unique_ptr<UvSocket> accepted) {
  // Node's 'connection'. A listener may destroy the socket: then there is no session.
  std::weak_ptr<bool> alive = alive_;
  connection_event_.emit(*accepted);
  if (alive.expired()) return;  // a listener destroyed the server
  if (accepted->destroyed()) return;
  const uint64_t accepted_at = loop_->now();
  if (!tls_) {
    if (options_.allowHTTP1 && http1_handler_) {
      sniff(std::move(accepted), accepted_at);
    } else {
      addSession(std::move(accepted), accepted_at);
    }
    return;
  }
  auto tls = TlsSocket::create(loop_, std::move(accepted), tls_, /*isServer=*/true);
  if (!tls.ok()) return;
  auto pending = std::make_unique<PendingTls>(
      this, std::move(*tls), alive, [this, alive](PendingTls* p, bool h2) {
        if (alive.expired()) return;
        // Not on the TLS socket's stack: we may destroy it.
        loop_->post([this, alive, p, h2] {
          if (alive.expired()) return;
          auto it = pending_tls_.find(p);
          if (it == pending_tls_.end()) return;
          if (h2) {
            const uint64_t p_accepted_at = p->accepted_at;
            std::unique_ptr<TlsSocket> socket = p->release();
            pending_tls_.erase(it);
            TlsSocket* raw = socket.get();
            if (addSession(std::move(socket), p_accepted_at)) {
              raw->resumeReading();  // the session reads now
            }
            maybeFinishClose();
            return;
          }
          if (p->closed()) {
            pending_tls_.erase(it);
            maybeFinishClose();
            return;
          }
          // allowHTTP1: ALPN http/1.1, or none (Node serves such a client as HTTP/1 too).
          const std::string alpn = p->socket()->alpnProtocol();
          if (options_.allowHTTP1 && http1_handler_ && (alpn == "http/1.1" || alpn.empty())) {
            std::unique_ptr<TlsSocket> socket = p->release();
            pending_tls_.erase(it);
            http1_handler_(std::move(socket), "");
            maybeFinishClose();
            return;
          }
          // Node: 'unknownProtocol', or a 403 in plain text when nobody listens; either way
          // the socket is destroyed after unknownProtocolTimeout.
          std::vector<std::string> offered = p->socket()->clientAlpnProtocols();
          if (!unknown_protocol_event_.emit(offered)) {
            p->socket()->write(kMissingAlpn);
            p->socket()->end();
          }
          p->rejected = true;
          p->timer = loop_->createTimer();
          p->timer->start(options_.unknownProtocolTimeout, [this, alive, p] {
            if (alive.expired()) return;
            pending_tls_.erase(p);
            maybeFinishClose();
          });
          p->timer->unref();  // as Node: it never keeps the process alive
          maybeFinishClose();  // a closing server does not wait for it
        });
      });
  PendingTls* key = pending.get();
  pending->accepted_at = accepted_at;
  if (options_.handshakeTimeout > 0) {
    // The TLS handshake counts against handshakeTimeout; the session gets what is left.
    pending->timer = loop_->createTimer();
    pending->timer->start(options_.handshakeTimeout, [this, alive, key] {
      if (alive.expired()) return;
      pending_tls_.erase(key);
      maybeFinishClose();
    });
    pending->timer->unref();
  }
  pending_tls_[key] = std::move(pending);
}

void Http2Server::sniff(std::unique_ptr<Socket> socket, uint64_t accepted_at) {
  std::weak_ptr<bool> alive = alive_;
  auto pending = std::make_unique<PendingPlain>(std::move(socket), [this, alive](PendingPlain* p) {
    if (alive.expired()) return;
    // Not on the socket's stack: we may destroy it.
    loop_->post([this, alive, p] {
      if (alive.expired()) return;
      auto it = pending_plain_.find(p);
      if (it == pending_plain_.end()) return;
      if (p->closed()) {
        pending_plain_.erase(it);
        maybeFinishClose();
        return;
      }
      const bool http2 = p->http2();
      const uint64_t p_accepted_at = p->accepted_at;
      std::string read = p->takeRead();
      std::unique_ptr<Socket> socket = p->release();
      pending_plain_.erase(it);
      if (http2 || !http1_handler_) {
        auto prefixed = std::make_unique<PrefixedSocket>(loop_, std::move(socket), std::move(read));
        PrefixedSocket* raw = prefixed.get();
        if (addSession(std::move(prefixed), p_accepted_at)) raw->resumeReading();
      } else {
        http1_handler_(std::move(socket), std::move(read));
      }
      maybeFinishClose();
    });
  });
  PendingPlain* key = pending.get();
  pending->accepted_at = accepted_at;
  if (options_.handshakeTimeout > 0) {
    pending->timer = loop_->createTimer();
    pending->timer->start(options_.handshakeTimeout, [this, alive, key] {
      if (alive.expired()) return;
      pending_plain_.erase(key);
      maybeFinishClose();
    });
    pending->timer->unref();
  }
  pending_plain_[key] = std::move(pending);
}

bool Http2Server::addSession(std::unique_ptr<Socket> socket, uint64_t accepted_at) {
  auto created = ServerHttp2Session::create(loop_, std::move(socket), options_);
  if (!created.ok()) return false;
  std::shared_ptr<ServerHttp2Session> session = *created;
  SessionTimeoutOptions timeouts;
  if (options_.handshakeTimeout > 0) {
    const uint64_t spent = loop_->now() - accepted_at;
    // At least 1 ms: 0 would mean "none".
    timeouts.handshakeTimeout =
        spent < options_.handshakeTimeout ? options_.handshakeTimeout - spent : 1;
  }
  timeouts.idleTimeout = options_.sessionIdleTimeout;
  // The entry owns the timeouts; our 'close' listener below stops them.
  sessions_.emplace(session, SessionTimeouts::attach(session, std::move(timeouts)));
  std::weak_ptr<bool> alive = alive_;
  std::weak_ptr<ServerHttp2Session> weak = session;
  session->onStream([this, alive](std::shared_ptr<ServerHttp2Stream> stream, const Headers& h,
                                  uint8_t flags) {
    if (alive.expired()) return;
    if (!stream_event_.emit(stream, h, flags)) {
      stream->close(constants::NGHTTP2_REFUSED_STREAM);
    }
  });
  session->onError([this, alive, weak](const absl::Status& err) {
    if (alive.expired()) return;
    if (auto s = weak.lock()) session_error_event_.emit(err, s);
  });
  session->onClose([this, alive, weak] {
    if (alive.expired()) return;
    if (auto s = weak.lock()) {
      if (auto found = sessions_.find(s); found != sessions_.end()) {
        if (found->second) found->second->stop();
        sessions_.erase(found);
      }
    }
    maybeFinishClose();
  });
  if (options_.timeout > 0) {
    session->setTimeout(options_.timeout, [this, alive, weak] {
      if (alive.expired()) return;
      auto s = weak.lock();
      if (!s) return;
      // Node: with no 'timeout' listener on the server, the session is destroyed.
      if (!timeout_event_.emit(s)) s->destroy();
    });
  }
  session_event_.emit(session);
  return true;
}

absl::StatusOr<std::shared_ptr<ServerHttp2Session>> performServerHandshake(
    EventLoop* loop, std::unique_ptr<Socket> socket, const SessionOptions& options) {
  if (socket == nullptr) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_ARG_TYPE",
                     "The \"socket\" argument must be a Socket");
  }
  return ServerHttp2Session::create(loop, std::move(socket), options);
}

void Http2Server::close(std::function<void()> callback) {
  if (callback) close_event_.once(std::move(callback));
  closing_ = true;
  // Connections the kernel completed but we have not accepted yet would be reset when the
  // listener closes, though their client may have sent a request already: take them first,
  // like those accepted before.
  acceptQueued();
  if (listener_) {
    closeListener();
  }
  listening_ = false;
  // Connections in their TLS handshake stay (as in Node): with TLS 1.3 the client may have sent
  // its request with its Finished, so dropping one would reset a request in flight. They become
  // sessions, or go at handshakeTimeout (or closePendingConnections()); close() calls back
  // after them. Those already rejected for their protocol go now.
  for (auto it = pending_tls_.begin(); it != pending_tls_.end();) {
    it = it->second->rejected ? pending_tls_.erase(it) : std::next(it);
  }
  maybeFinishClose();
}

void Http2Server::closePendingConnections() {
  pending_tls_.clear();
  pending_plain_.clear();
  maybeFinishClose();
}

void Http2Server::closeAllSessions() {
  std::vector<std::shared_ptr<ServerHttp2Session>> sessions;
  sessions.reserve(sessions_.size());
  for (const auto& [session, timeouts] : sessions_) sessions.push_back(session);
  for (auto& s : sessions) s->close();
}

void Http2Server::maybeFinishClose() {
  if (!closing_ || !sessions_.empty()) return;
  for (const auto& [p, pending] : pending_tls_) {
    if (!pending->rejected) return;  // still in its handshake: may become a session
  }
  if (!pending_plain_.empty()) return;
  closing_ = false;
  std::weak_ptr<bool> alive = alive_;
  loop_->post([this, alive] {
    if (!alive.expired()) close_event_.emit();
  });
}

void Http2Server::setTimeout(uint64_t ms,
                             std::function<void(std::shared_ptr<ServerHttp2Session>)> cb) {
  options_.timeout = ms;
  if (cb) timeout_event_.on(std::move(cb));
}

absl::Status Http2Server::updateSettings(const Settings& settings) {
  if (absl::Status st = validateSettings(settings); !st.ok()) return st;
  Settings& s = options_.settings;
  if (settings.headerTableSize) s.headerTableSize = settings.headerTableSize;
  if (settings.enablePush) s.enablePush = settings.enablePush;
  if (settings.initialWindowSize) s.initialWindowSize = settings.initialWindowSize;
  if (settings.maxFrameSize) s.maxFrameSize = settings.maxFrameSize;
  if (settings.maxConcurrentStreams) s.maxConcurrentStreams = settings.maxConcurrentStreams;
  if (settings.maxHeaderListSize) s.maxHeaderListSize = settings.maxHeaderListSize;
  if (settings.maxHeaderSize) s.maxHeaderSize = settings.maxHeaderSize;
  if (settings.enableConnectProtocol) s.enableConnectProtocol = settings.enableConnectProtocol;
  for (const auto& [id, v] : settings.customSettings) s.customSettings[id] = v;
  return absl::OkStatus();
}

}  // namespace h2rpc::transport
